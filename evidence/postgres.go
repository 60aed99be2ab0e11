package evidence

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// OpenPostgres connects to the PostgreSQL database dsn (a postgres:// URL
// or key=value string as pgx takes it) and returns the Store of cluster
// mode: one table, evidence_kv, with a bytea primary key (bytea compares
// bytewise, the order the key layout relies on) and a claim's pending mark
// as a column of its row, created if missing (or converted: createSchema). Every
// process of a cluster opens the same database; pass the store as
// Config.Store. The database may be the ledger's (`serve --cluster-db`): the
// table names do not overlap.
//
// It holds everything the embedded store holds: tenants and their wrapped
// keys, sealed records, subject keys, claims, the contract index and the
// stored documents' records (their ciphertext too, unless Config.Blobs
// puts it in an object store, as cluster mode does). A batch is one
// transaction, or part of one with the batches of concurrent requests
// (group commit, see commit), so acknowledged writes are exactly the
// committed ones; the receipts of finalize are committed with
// synchronous_commit off, as Pebble commits them without fsync, because the
// pending claims they replace were committed durably and recovery completes
// them.
//
// Erasure deletes the subject key's row; PostgreSQL frees the dead row at
// the next vacuum, and the row stays in WAL segments and backups until
// they are recycled. Run the cluster on encrypted storage and keep backups
// no longer than erasure requires.
func OpenPostgres(ctx context.Context, dsn string) (Store, error) {
	pc, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("evidence: database DSN: %w", err)
	}
	if pc.MaxConns < 16 {
		pc.MaxConns = 16
	}
	// The planner costs a MERGE of n rows at about 7n, so a group of
	// 15,000 writes passes jit_above_cost (100,000) and would be compiled
	// to machine code first, tens of milliseconds for a statement that
	// runs in a few. Unless the DSN says otherwise.
	if _, set := pc.ConnConfig.RuntimeParams["jit"]; !set {
		pc.ConnConfig.RuntimeParams["jit"] = "off"
	}
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("evidence: connecting to the database: %w", err)
	}
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		// Concurrent CREATE TABLE IF NOT EXISTS can fail on the catalog's
		// unique index: processes starting together take turns.
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", lockID("evidence schema")); err != nil {
			return err
		}
		return createSchema(ctx, tx)
	})
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("evidence: creating the evidence table: %w", err)
	}
	return &pgStore{pool: pool}, nil
}

// createSchema creates evidence_kv, or converts the table of an earlier
// build, which kept a claim's pending mark as a row of its own
// (p/<tenant>/<id>, as Pebble does): that was a row inserted and one
// deleted per event. The mark is now the pending column of the claim's
// row, with a partial index for recovery's scan. Converting leaves every
// row in place: the column is added (no table rewrite: its default is a
// constant), the marks set on their claims and the p/ rows deleted, in
// the transaction of OpenPostgres, under its lock. Processes of the
// earlier build must be stopped first (docs/deploy.md): a mark they write
// afterwards would be a row the new build never reads.
func createSchema(ctx context.Context, tx pgx.Tx) error {
	// toast_tuple_target: a pending claim carries its leaf and sealed
	// record, about 2 KiB, where PostgreSQL's default threshold has it try
	// to compress each (ciphertext, in vain) and move it out of line.
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS evidence_kv (
		k bytea PRIMARY KEY, v bytea NOT NULL, pending boolean NOT NULL DEFAULT false)
		WITH (toast_tuple_target = 8160)`); err != nil {
		return err
	}
	var hasPending, hasTarget bool
	if err := tx.QueryRow(ctx, `SELECT
		EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = 'evidence_kv'::regclass AND attname = 'pending' AND NOT attisdropped),
		EXISTS (SELECT 1 FROM pg_class WHERE oid = 'evidence_kv'::regclass AND 'toast_tuple_target=8160' = ANY(reloptions))`,
	).Scan(&hasPending, &hasTarget); err != nil {
		return err
	}
	if !hasTarget {
		if _, err := tx.Exec(ctx, `ALTER TABLE evidence_kv SET (toast_tuple_target = 8160)`); err != nil {
			return err
		}
	}
	if !hasPending {
		// Only when missing: ALTER TABLE takes the table's exclusive lock,
		// which would queue every other process's statements behind it.
		if _, err := tx.Exec(ctx, `ALTER TABLE evidence_kv ADD COLUMN pending boolean NOT NULL DEFAULT false`); err != nil {
			return err
		}
	}
	if _, err := tx.Exec(ctx, `CREATE INDEX IF NOT EXISTS evidence_kv_pending ON evidence_kv (k) WHERE pending`); err != nil {
		return err
	}
	lo, hi := pendingKeys[0], pendingKeys[1]
	if _, err := tx.Exec(ctx, `UPDATE evidence_kv c SET pending = true FROM evidence_kv p
		WHERE p.k >= $1 AND p.k < $2 AND c.k = $3::bytea || substring(p.k FROM 2)`, lo, hi, []byte("i")); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, `DELETE FROM evidence_kv WHERE k >= $1 AND k < $2`, lo, hi)
	return err
}

// pgStore is the PostgreSQL Store.
type pgStore struct {
	pool *pgxpool.Pool
	cq   commitQueue
}

var _ Store = (*pgStore)(nil)

// pgTimeout bounds every statement round trip, so that an unreachable
// database fails requests instead of hanging them.
const pgTimeout = 15 * time.Second

// scanPage is how many rows one scan query fetches.
const scanPage = 512

func (p *pgStore) shared() bool { return true }

func (p *pgStore) Close() error {
	p.pool.Close()
	return nil
}

func lockID(name string) int64 {
	h := fnv.New64a()
	h.Write([]byte("cunzheng evidence\x00" + name))
	return int64(h.Sum64())
}

type pgQuerier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

func (p *pgStore) get(ctx context.Context, k []byte) ([]byte, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, pgTimeout)
	defer cancel()
	var v []byte
	err := p.pool.QueryRow(ctx, `SELECT v FROM evidence_kv WHERE k = $1`, k).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, unavailable(err)
	}
	if v == nil {
		v = []byte{}
	}
	return v, true, nil
}

func (p *pgStore) getMany(ctx context.Context, keys [][]byte) (map[string][]byte, error) {
	out := make(map[string][]byte, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	ctx, cancel := context.WithTimeout(ctx, pgTimeout)
	defer cancel()
	rows, err := p.pool.Query(ctx, `SELECT k, v FROM evidence_kv WHERE k = ANY($1)`, keys)
	if err != nil {
		return nil, unavailable(err)
	}
	defer rows.Close()
	for rows.Next() {
		var k, v []byte
		if err := rows.Scan(&k, &v); err != nil {
			return nil, unavailable(err)
		}
		out[string(k)] = v
	}
	return out, unavailable(rows.Err())
}

// pgScan reads [lower, upper) a page at a time, so that no connection is
// held while fn runs (fn may query too).
func pgScan(ctx context.Context, q pgQuerier, lower, upper []byte, fn func(k, v []byte) (bool, error)) error {
	if lower == nil {
		lower = []byte{}
	}
	for {
		type row struct{ k, v []byte }
		var page []row
		err := func() error {
			ctx, cancel := context.WithTimeout(ctx, pgTimeout)
			defer cancel()
			var (
				rows pgx.Rows
				err  error
			)
			if upper == nil {
				rows, err = q.Query(ctx, `SELECT k, v FROM evidence_kv WHERE k >= $1 ORDER BY k LIMIT $2`, lower, scanPage)
			} else {
				rows, err = q.Query(ctx, `SELECT k, v FROM evidence_kv WHERE k >= $1 AND k < $2 ORDER BY k LIMIT $3`, lower, upper, scanPage)
			}
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				var r row
				if err := rows.Scan(&r.k, &r.v); err != nil {
					return err
				}
				page = append(page, r)
			}
			return rows.Err()
		}()
		if err != nil {
			return err
		}
		for _, r := range page {
			more, err := fn(r.k, r.v)
			if err != nil {
				return callerError{err}
			}
			if !more {
				return nil
			}
		}
		if len(page) < scanPage {
			return nil
		}
		lower = append(slices.Clone(page[len(page)-1].k), 0)
	}
}

func (p *pgStore) scan(ctx context.Context, lower, upper []byte, fn func(k, v []byte) (bool, error)) error {
	return unavailable(pgScan(ctx, p.pool, lower, upper, fn))
}

func (p *pgStore) scanPending(ctx context.Context, fn func(claimKey []byte) (bool, error)) error {
	lower := []byte{}
	for {
		var page [][]byte
		err := func() error {
			ctx, cancel := context.WithTimeout(ctx, pgTimeout)
			defer cancel()
			rows, err := p.pool.Query(ctx, `SELECT k FROM evidence_kv WHERE pending AND k >= $1 ORDER BY k LIMIT $2`, lower, scanPage)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				var k []byte
				if err := rows.Scan(&k); err != nil {
					return err
				}
				page = append(page, k)
			}
			return rows.Err()
		}()
		if err != nil {
			return unavailable(err)
		}
		for _, k := range page {
			more, err := fn(k)
			if err != nil || !more {
				return err
			}
		}
		if len(page) < scanPage {
			return nil
		}
		lower = append(slices.Clone(page[len(page)-1]), 0)
	}
}

// callerError carries an error of the caller's function through a store
// method unchanged.
type callerError struct{ err error }

func (e callerError) Error() string { return e.err.Error() }
func (e callerError) Unwrap() error { return e.err }

// unavailable marks what went wrong talking to PostgreSQL (connection
// lost, server down or refusing, timeouts) as ErrUnavailable, which the
// web layer answers with 503; a lost race stays errConflict and the
// caller's own errors pass through.
func unavailable(err error) error {
	var ce callerError
	switch {
	case err == nil, errors.Is(err, errConflict), errors.Is(err, ErrUnavailable):
		return err
	case errors.As(err, &ce):
		return ce.err
	}
	return fmt.Errorf("%w: %w", ErrUnavailable, err)
}

// Statements of a batch. Runs of one kind of operation go in one
// statement over arrays (unnest), so that a batch of a thousand events is a
// few dozen statements, not thousands. A failed precondition raises
// division_by_zero (SQLSTATE 22012), which aborts the transaction it runs in
// and reads back as errConflict, so that a whole batch can be sent in one
// round trip.
//
// Writes are MERGE, a join on the primary key, where they may fail when
// another transaction inserts one of their new keys at the same moment
// (unique_violation, also errConflict): INSERT ... ON CONFLICT inserts each
// row speculatively, with a pre-check of the index, a speculative token and
// a confirmation record in the WAL per row, and its DO UPDATE locks the row
// (another WAL record) before updating it: about a fifth more time per row
// than MERGE in loops of 20,000 (docs/deploy.md), and a sixth of the WAL
// records of batched ingest. Inserts are always MERGE: two
// processes inserting one new key conflict either way (their values
// differ: claims and keys are built from fresh randomness). Sets are MERGE
// in an update, which runs fn again on a conflict; a lone commit keeps
// ON CONFLICT for sets, whose callers expect the last write to win rather
// than a conflict.
const (
	// A value set again unchanged (an account's index key, written at
	// each of its events) writes no new row version.
	sqlSet = `INSERT INTO evidence_kv AS t (k, v) SELECT * FROM unnest($1::bytea[], $2::bytea[])
		ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v WHERE t.v <> EXCLUDED.v`
	sqlMergeSet = `MERGE INTO evidence_kv t USING unnest($1::bytea[], $2::bytea[]) AS x(k, v) ON t.k = x.k
		WHEN MATCHED AND t.v <> x.v THEN UPDATE SET v = x.v
		WHEN NOT MATCHED THEN INSERT (k, v) VALUES (x.k, x.v)`
	// Claims marked done (or pending): the mark is the pending column.
	sqlSetMarked = `INSERT INTO evidence_kv AS t (k, v, pending) SELECT * FROM unnest($1::bytea[], $2::bytea[], $3::bool[])
		ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v, pending = EXCLUDED.pending
		WHERE (t.v, t.pending) IS DISTINCT FROM (EXCLUDED.v, EXCLUDED.pending)`
	sqlMergeSetMarked = `MERGE INTO evidence_kv t USING unnest($1::bytea[], $2::bytea[], $3::bool[]) AS x(k, v, p) ON t.k = x.k
		WHEN MATCHED AND (t.v, t.pending) IS DISTINCT FROM (x.v, x.p) THEN UPDATE SET v = x.v, pending = x.p
		WHEN NOT MATCHED THEN INSERT (k, v, pending) VALUES (x.k, x.v, x.p)`
	// Absent, or holding exactly v already: another value divides by
	// zero. An insert marked pending marks the row pending either way; an
	// equal row already marked as asked is left as it is.
	sqlInsert = `MERGE INTO evidence_kv t USING unnest($1::bytea[], $2::bytea[], $3::bool[]) AS x(k, v, p) ON t.k = x.k
		WHEN MATCHED AND t.v <> x.v THEN UPDATE SET pending = 1 / (t.v = x.v)::int = 1
		WHEN MATCHED AND x.p AND NOT t.pending THEN UPDATE SET pending = true
		WHEN NOT MATCHED THEN INSERT (k, v, pending) VALUES (x.k, x.v, x.p)`
	sqlExpect = `SELECT 1 / (count(*) = $3)::int FROM (SELECT 1 FROM evidence_kv e
		JOIN unnest($1::bytea[], $2::bytea[]) AS x(k, v) ON e.k = x.k AND e.v = x.v FOR SHARE OF e) s`
	sqlDelete = `DELETE FROM evidence_kv WHERE k = ANY($1)`
	sqlDelRng = `DELETE FROM evidence_kv WHERE k >= $1 AND k < $2`
)

// queueBatch queues b's preconditions, then its writes, as few statements
// as the writes allow: one per kind of operation (set, insert, delete) and
// layer. Writes to different keys commute, so they need not keep the
// batch's order: an operation goes to the first layer after the last one
// that touched its key (one INSERT ... ON CONFLICT may not touch a row
// twice, and the later write must win), and a range deletion is a layer of
// its own, after everything before it and before everything after it. A
// batch of a hundred events, which writes each event's claim (insert) and
// its pending mark (set) in turn, is then two statements, not two hundred.
// A plain set of a key whose last write, since the last range deletion,
// was a plain set too replaces that one's value instead: finalize sets an
// account's index key at each of its events in the group, and each was a
// row version written and, worse, a layer of statements more. inUpdate
// says the batch is an update's, which runs again on errConflict: its sets
// are MERGE too (see sqlMergeSet).
func queueBatch(pb *pgx.Batch, b *batch, inUpdate bool) {
	if len(b.expects) > 0 {
		seen := map[string]bool{}
		var ks, vs [][]byte
		for _, e := range b.expects {
			id := string(e.k) + "\x00" + string(e.v)
			if !seen[id] {
				seen[id] = true
				ks, vs = append(ks, e.k), append(vs, e.v)
			}
		}
		pb.Queue(sqlExpect, ks, vs, len(ks))
	}
	type run struct {
		ks, vs  [][]byte
		pending []bool
	}
	type layer struct {
		runs       [opDelete + 1]run
		marked     run    // sets that mark a claim (setDone)
		rangeStart []byte // a range deletion's layer: [rangeStart, rangeEnd)
		rangeEnd   []byte
		isRange    bool
	}
	type write struct {
		layer, at int // its layer, and its place in a plain set run (-1: another kind)
	}
	var layers []*layer
	last := map[string]write{} // key -> its last write
	floor := 0                 // first layer after the last range deletion
	for _, o := range b.ops {
		if o.kind == opDeleteRange {
			layers = append(layers, &layer{isRange: true, rangeStart: o.k, rangeEnd: o.v})
			floor = len(layers)
			continue
		}
		plain := o.kind == opSet && o.mark == markKeep
		prev, seen := last[string(o.k)]
		if plain && seen && prev.at >= 0 && prev.layer >= floor {
			layers[prev.layer].runs[opSet].vs[prev.at] = o.v
			continue
		}
		l := floor
		if seen && prev.layer+1 > l {
			l = prev.layer + 1
		}
		for len(layers) <= l {
			layers = append(layers, &layer{})
		}
		if layers[l].isRange { // cannot happen: floor is past every range layer
			panic("evidence: write placed in a range deletion's layer")
		}
		r := &layers[l].runs[o.kind]
		if o.kind == opSet && !plain {
			r = &layers[l].marked
		}
		w := write{layer: l, at: -1}
		if plain {
			w.at = len(r.ks)
		}
		last[string(o.k)] = w
		r.ks = append(r.ks, o.k)
		if o.kind != opDelete {
			r.vs = append(r.vs, o.v)
			r.pending = append(r.pending, o.mark == markPending)
		}
	}
	for _, ly := range layers {
		if ly.isRange {
			pb.Queue(sqlDelRng, ly.rangeStart, ly.rangeEnd)
			continue
		}
		set, setMarked := sqlSet, sqlSetMarked
		if inUpdate {
			set, setMarked = sqlMergeSet, sqlMergeSetMarked
		}
		if r := ly.runs[opSet]; len(r.ks) > 0 {
			pb.Queue(set, r.ks, r.vs)
		}
		if r := ly.marked; len(r.ks) > 0 {
			pb.Queue(setMarked, r.ks, r.vs, r.pending)
		}
		if r := ly.runs[opInsert]; len(r.ks) > 0 {
			pb.Queue(sqlInsert, r.ks, r.vs, r.pending)
		}
		if r := ly.runs[opDelete]; len(r.ks) > 0 {
			pb.Queue(sqlDelete, r.ks)
		}
	}
}

// pgErr maps a failed statement: a precondition or a lost race to
// errConflict, anything else wrapped.
func pgErr(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && (pe.Code == "22012" || pe.Code == "23505") {
		// 23505: two inserts of one new key raced; the loser re-reads.
		return errConflict
	}
	return err
}

// retryable reports whether a transaction failed only because it lost a
// race PostgreSQL resolved by aborting it: a deadlock or a serialisation
// failure.
func retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40P01" || pe.Code == "40001")
}

// commit is group commit, as Pebble's commit pipeline does it for the
// embedded store: batches committed while a transaction is in flight
// queue, and the next transaction commits all of them at once (their
// writes merged, one statement per kind of write, see queueBatch), so
// that concurrent requests' claims and subject keys cost one transaction,
// not one each. The first batch of a queue leads: it commits its group,
// then hands the lead to the first batch queued meanwhile. A batch waits
// for its group's outcome even if its caller gives up: the group is one
// transaction, bounded by pgTimeout.
//
// A group is atomic: if it fails, nothing of it is written. A lost race
// or a statement PostgreSQL refused cannot be told apart from the batch
// that caused it, so each batch is then committed again alone, in order,
// and gets its own outcome; an unreachable database fails every batch of
// the group.
func (p *pgStore) commit(_ context.Context, b *batch) error {
	if b.empty() {
		return nil
	}
	q := &queuedCommit{b: b, wake: make(chan struct{}, 1)}
	c := &p.cq
	c.mu.Lock()
	c.waiting = append(c.waiting, q)
	if c.busy {
		c.mu.Unlock()
		<-q.wake
		if q.finished {
			return q.err
		}
		c.mu.Lock() // the lead came to q, first in the queue
	}
	c.busy = true
	group := c.takeGroup()
	c.mu.Unlock()
	p.commitGroup(q, group)
	c.mu.Lock()
	if len(c.waiting) > 0 {
		c.waiting[0].wake <- struct{}{} // busy stays set: it leads now
	} else {
		c.busy = false
	}
	c.mu.Unlock()
	return q.err
}

// commitQueue holds the batches waiting for the transaction in flight.
type commitQueue struct {
	mu      sync.Mutex
	waiting []*queuedCommit
	busy    bool // a leader is committing
	largest int  // the most batches one transaction held (for tests)
}

// queuedCommit is one batch in the queue and, once finished, its outcome.
type queuedCommit struct {
	b        *batch
	wake     chan struct{} // the outcome is in, or the lead is q's
	finished bool
	err      error
}

// maxGroupOps bounds the writes one group transaction merges.
const maxGroupOps = 20_000

// takeGroup removes the next group from the queue: batches in order while
// their writes stay under maxGroupOps, up to one whose preconditions read
// a key an earlier batch of the group writes (the merged transaction
// checks every precondition before any write).
func (c *commitQueue) takeGroup() []*queuedCommit {
	n, ops := 0, 0
	written := map[string]bool{}
	var ranges [][2][]byte
	for _, q := range c.waiting {
		if n > 0 && (ops+len(q.b.ops) > maxGroupOps || readsWritten(q.b, written, ranges)) {
			break
		}
		n++
		ops += len(q.b.ops)
		for _, o := range q.b.ops {
			if o.kind == opDeleteRange {
				ranges = append(ranges, [2][]byte{o.k, o.v})
			} else {
				written[string(o.k)] = true
			}
		}
	}
	group := slices.Clone(c.waiting[:n])
	c.waiting = slices.Delete(c.waiting, 0, n)
	c.largest = max(c.largest, n)
	return group
}

// readsWritten reports whether a precondition of b reads a key in written
// or in one of ranges.
func readsWritten(b *batch, written map[string]bool, ranges [][2][]byte) bool {
	for _, e := range b.expects {
		if written[string(e.k)] {
			return true
		}
		for _, r := range ranges {
			if bytes.Compare(e.k, r[0]) >= 0 && bytes.Compare(e.k, r[1]) < 0 {
				return true
			}
		}
	}
	return false
}

// commitGroup commits the group's batches in one transaction, gives each
// its outcome and wakes all but the leader's, which its caller reads.
func (p *pgStore) commitGroup(leader *queuedCommit, group []*queuedCommit) {
	ctx := context.Background() // one request's cancellation must not fail the others
	var err error
	if len(group) == 1 {
		err = p.commitOnce(ctx, group[0].b)
	} else {
		merged := &batch{}
		for _, q := range group {
			merged.ops = append(merged.ops, q.b.ops...)
			merged.expects = append(merged.expects, q.b.expects...)
		}
		err = p.commitOnce(ctx, merged)
	}
	alone := err != nil && len(group) > 1 && oneBatchFailed(err)
	for _, q := range group {
		if alone {
			q.err = p.commitOnce(ctx, q.b)
		} else {
			q.err = err
		}
		q.finished = true
	}
	for _, q := range group {
		if q != leader {
			q.wake <- struct{}{}
		}
	}
}

// oneBatchFailed reports whether a group's error may be one batch's doing
// (a lost race, a statement PostgreSQL refused) rather than the database's
// (a lost connection, a server shutting down or out of resources).
func oneBatchFailed(err error) bool {
	if errors.Is(err, errConflict) {
		return true
	}
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || len(pe.Code) < 2 {
		return false
	}
	switch pe.Code[:2] {
	case "08", "53", "57", "58": // connection, resources, operator intervention, system
		return false
	}
	return true
}

// commitOnce sends the whole batch in one round trip. Without BEGIN, the
// statements up to the pipeline's Sync run as one implicit transaction:
// all committed at the Sync, or all rolled back at the first error.
func (p *pgStore) commitOnce(ctx context.Context, b *batch) error {
	ctx, cancel := context.WithTimeout(ctx, pgTimeout)
	defer cancel()
	for range maxTxnAttempts {
		var pb pgx.Batch
		queueBatch(&pb, b, false)
		err := p.pool.SendBatch(ctx, &pb).Close()
		if !retryable(err) {
			return unavailable(pgErr(err))
		}
	}
	return errors.New("evidence: batch kept losing deadlocks")
}

// pgTxn is an explicit transaction on one connection. BEGIN travels with
// the transaction's first statement and COMMIT with its writes, so that a
// read-modify-write costs two round trips.
type pgTxn struct {
	ctx   context.Context
	conn  *pgxpool.Conn
	begun bool
	b     batch
}

// send runs the queued statements, prefixed with BEGIN on first use, and
// returns the results positioned after BEGIN.
func (t *pgTxn) send(pb *pgx.Batch) (pgx.BatchResults, error) {
	if t.begun {
		return t.conn.SendBatch(t.ctx, pb), nil
	}
	full := &pgx.Batch{}
	full.Queue("BEGIN")
	full.QueuedQueries = append(full.QueuedQueries, pb.QueuedQueries...)
	br := t.conn.SendBatch(t.ctx, full)
	t.begun = true
	if _, err := br.Exec(); err != nil {
		br.Close()
		return nil, err
	}
	return br, nil
}

func (t *pgTxn) lock(keys [][]byte) (map[string][]byte, error) {
	m, err := t.lockRows(keys)
	return m, unavailable(err)
}

func (t *pgTxn) lockRows(keys [][]byte) (map[string][]byte, error) {
	out := make(map[string][]byte, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	// Locking in key order: two transactions locking overlapping sets
	// then wait for each other instead of deadlocking.
	var pb pgx.Batch
	pb.Queue(`SELECT k, CASE WHEN pending THEN ''::bytea ELSE v END FROM evidence_kv
		WHERE k = ANY($1) ORDER BY k FOR UPDATE`, keys)
	br, err := t.send(&pb)
	if err != nil {
		return nil, err
	}
	defer br.Close()
	rows, err := br.Query()
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var k, v []byte
		if err := rows.Scan(&k, &v); err != nil {
			return nil, err
		}
		out[string(k)] = v
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows.Close()
	return out, br.Close()
}

func (t *pgTxn) mutex(name string) error { return unavailable(t.advisoryLock(name)) }

func (t *pgTxn) advisoryLock(name string) error {
	var pb pgx.Batch
	pb.Queue("SELECT pg_advisory_xact_lock($1)", lockID(name))
	br, err := t.send(&pb)
	if err != nil {
		return err
	}
	if _, err := br.Exec(); err != nil {
		br.Close()
		return err
	}
	return br.Close()
}

func (t *pgTxn) scan(lower, upper []byte, fn func(k, v []byte) (bool, error)) error {
	if !t.begun {
		br, err := t.send(&pgx.Batch{})
		if err != nil {
			return unavailable(err)
		}
		if err := br.Close(); err != nil {
			return unavailable(err)
		}
	}
	return unavailable(pgScan(t.ctx, t.conn, lower, upper, fn))
}

func (t *pgTxn) batch() *batch { return &t.b }

// maxTxnAttempts bounds the retries of an update that keeps losing races.
const maxTxnAttempts = 8

func (p *pgStore) update(ctx context.Context, fn func(tx txn) error) error {
	var err error
	for range maxTxnAttempts {
		err = p.updateOnce(ctx, fn)
		// A failed precondition (a record another process created first)
		// is retried like a lost deadlock: fn reads again.
		if !retryable(err) && !errors.Is(err, errConflict) {
			return unavailable(err)
		}
	}
	return fmt.Errorf("evidence: transaction kept conflicting: %w", err)
}

func (p *pgStore) updateOnce(ctx context.Context, fn func(tx txn) error) (err error) {
	ctx, cancel := context.WithTimeout(ctx, pgTimeout)
	defer cancel()
	conn, err := p.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	t := &pgTxn{ctx: ctx, conn: conn}
	committed := false
	defer func() {
		if t.begun && !committed {
			if _, rerr := conn.Exec(ctx, "ROLLBACK"); rerr != nil {
				// The pool drops a connection left inside a transaction.
				conn.Conn().Close(context.Background())
			}
		}
	}()
	if err := fn(t); err != nil {
		return callerError{err}
	}
	if t.b.empty() {
		if t.begun {
			_, err := conn.Exec(ctx, "COMMIT")
			committed = err == nil
			return err
		}
		return nil
	}
	var pb pgx.Batch
	if !t.b.sync {
		// See OpenPostgres: these writes are replayable.
		pb.Queue("SET LOCAL synchronous_commit = off")
	}
	queueBatch(&pb, &t.b, true)
	pb.Queue("COMMIT")
	br, err := t.send(&pb)
	if err != nil {
		return pgErr(err)
	}
	if err := br.Close(); err != nil {
		return pgErr(err)
	}
	committed = true
	return nil
}
