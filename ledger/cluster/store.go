// Package cluster is the ledger's cluster-mode storage: a ledger.SharedStore
// on PostgreSQL (what must be transactional: the sequence with its unique
// leaf hashes, the compact tree state, every node hash, checkpoints and
// what is attached to them, the integration lease) and an S3 bucket (what
// is immutable and read by the world: tiles, entry bundles and the latest
// checkpoint, at the C2SP tlog-tiles paths).
//
// Ordering, which is what makes a crash at any point harmless:
//
//  1. Sequence: one transaction claims the batch's leaf hashes (exact
//     dedup), then locks the counter row and inserts the new leaves as one
//     batch row at the next indexes. It commits without waiting for its
//     WAL flush.
//  2. ReadSequenced (lease holder only) reads the new leaves and flushes
//     the WAL in one round trip: only leaves whose sequencing is durable
//     are integrated, hence answered.
//  3. Commit (lease holder only): tiles and entry bundles covering the new
//     leaves are uploaded first, then one transaction checks the fencing
//     token, moves the tree state forward and inserts the node hashes. A
//     crash between the two leaves objects nobody points to yet; their
//     bytes are a function of the sequence alone, so the next holder
//     uploads the very same bytes again.
//  4. PutCheckpoint (lease holder only): fenced insert, primary key on the
//     size, so two different checkpoints for one size cannot both exist;
//     then the bucket's checkpoint object is overwritten.
//
// The node hashes are kept in PostgreSQL as well as in the bucket's tiles
// (those of level 0 are the leaf hashes in ledger_batches; the others are in
// ledger_node_batches, one row per integration batch): an inclusion proof is
// then one indexed query instead of several object GETs, and the bucket
// stays a pure publication copy.
package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/cunzheng/cunzheng/ledger"
)

// Store is a ledger.SharedStore on PostgreSQL and an S3 bucket.
type Store struct {
	pool   *pgxpool.Pool
	obj    *Objects
	logger *slog.Logger

	// lease is the holder and token of the last successful Lease; every
	// fenced write checks both against the lease row in its transaction.
	lease atomic.Pointer[leaseID]

	// edge is the right edge of the tree after the last batch whose tiles
	// were built (tiles.go).
	edgeMu sync.Mutex
	edge   *edge

	watchOnce sync.Once
	watch     *watcher // set by the first Changes call

	// own holds the leaves this process sequenced while it held the lease,
	// by hash, and the starts of their batches, until its integrator reads
	// them (ReadSequenced).
	own struct {
		mu     sync.Mutex
		leaves map[tlog.Hash][]byte
		starts map[int64]int64 // batch start -> its end
	}

	stats struct {
		sequenceTx, sequenceNs atomic.Int64
		commitTx, commitNs     atomic.Int64
		uploads, uploadNs      atomic.Int64
		uploadRounds           atomic.Int64
		uploadBytes            atomic.Int64
		flushes, flushNs       atomic.Int64
	}
}

// Stats counts where a Store's time went, for the cluster benchmark.
type Stats struct {
	SequenceTx   int64         // Sequence transactions committed
	SequenceTime time.Duration // their total wall time
	CommitTx     int64         // Commit transactions (fence, tree state, nodes)
	CommitTime   time.Duration // their total wall time, uploads excluded
	Uploads      int64         // tile and bundle objects put
	UploadRounds int64         // upload rounds (one per batch, objects in parallel)
	UploadTime   time.Duration // their total wall time
	UploadBytes  int64
	Flushes      int64         // durable reads of sequenced leaves (ReadSequenced: one per integration round)
	FlushTime    time.Duration // their total wall time
}

// Stats returns the counters since Open.
func (s *Store) Stats() Stats {
	return Stats{
		SequenceTx: s.stats.sequenceTx.Load(), SequenceTime: time.Duration(s.stats.sequenceNs.Load()),
		CommitTx: s.stats.commitTx.Load(), CommitTime: time.Duration(s.stats.commitNs.Load()),
		Uploads: s.stats.uploads.Load(), UploadRounds: s.stats.uploadRounds.Load(), UploadTime: time.Duration(s.stats.uploadNs.Load()),
		UploadBytes: s.stats.uploadBytes.Load(),
		Flushes:     s.stats.flushes.Load(), FlushTime: time.Duration(s.stats.flushNs.Load()),
	}
}

type leaseID struct {
	holder string
	token  int64
}

// Options configures Open.
type Options struct {
	// Logger receives warnings (a checkpoint object that could not be
	// uploaded). The default discards them.
	Logger *slog.Logger
	// MaxConns bounds the connection pool. The default is 16.
	MaxConns int32
}

var _ ledger.SharedStore = (*Store)(nil)

const schema = `
-- The sequence, one row per sequencing batch (as Tessera's MySQL and
-- Spanner backends keep it): its first index and its leaves' hashes and
-- bytes, in index order. id names the batch before it has a start (see
-- ledger_sequence). Stored out of line, uncompressed: leaf bytes are
-- mostly hashes and signatures, and compressing them costs CPU inside the
-- counter row's lock.
CREATE SEQUENCE IF NOT EXISTS ledger_batch_ids;
DO $mk$
BEGIN
	-- Only when creating it: ALTER TABLE would wait for (and deadlock
	-- with) the running processes' transactions.
	IF to_regclass('ledger_batches') IS NULL THEN
		CREATE TABLE ledger_batches (
			start  bigint PRIMARY KEY,
			id     bigint NOT NULL UNIQUE,
			hashes bytea[] NOT NULL,
			leaves bytea[] NOT NULL
		);
		ALTER TABLE ledger_batches ALTER COLUMN hashes SET STORAGE EXTERNAL, ALTER COLUMN leaves SET STORAGE EXTERNAL;
	END IF;
END
$mk$;
-- Exact dedup: every leaf hash ever sequenced, with the batch that holds
-- it (its index is that batch's start plus its position there).
CREATE TABLE IF NOT EXISTS ledger_dedup (
	leaf_hash bytea PRIMARY KEY,
	batch     bigint NOT NULL
);
CREATE TABLE IF NOT EXISTS ledger_counter (
	id   int PRIMARY KEY CHECK (id = 1),
	next bigint NOT NULL
);
INSERT INTO ledger_counter VALUES (1, 0) ON CONFLICT DO NOTHING;
-- The integrator's durable read (ReadSequenced) bumps this row: a
-- transaction that writes no WAL commits asynchronously even with an id
-- and synchronous_commit on, so the bump is what makes its commit wait for
-- the flush of every sequencing commit the read saw.
CREATE TABLE IF NOT EXISTS ledger_flush (
	id int PRIMARY KEY CHECK (id = 1),
	n  bigint NOT NULL
);
INSERT INTO ledger_flush VALUES (1, 0) ON CONFLICT DO NOTHING;
CREATE TABLE IF NOT EXISTS ledger_tree (
	id     int PRIMARY KEY CHECK (id = 1),
	size   bigint NOT NULL,
	hashes bytea NOT NULL
);
INSERT INTO ledger_tree VALUES (1, 0, '') ON CONFLICT DO NOTHING;
-- The node hashes above the leaves, one row per integration batch (one
-- row per node was half of the rows written per append): the batch of
-- leaves [start, size) creates, at each level L >= 1, the nodes
-- [start >> L, size >> L), each once its last leaf exists. hashes holds
-- them by level, then index, 32 bytes each (packNodes); node (L, I) is in
-- the row whose range holds leaf ((I + 1) << L) - 1. Stored uncompressed
-- out of line, so reading one node fetches only its chunk.
DO $mk$
BEGIN
	IF to_regclass('ledger_node_batches') IS NULL THEN
		CREATE TABLE ledger_node_batches (
			start  bigint PRIMARY KEY,
			size   bigint NOT NULL,
			hashes bytea NOT NULL
		);
		ALTER TABLE ledger_node_batches ALTER COLUMN hashes SET STORAGE EXTERNAL;
	END IF;
END
$mk$;
CREATE TABLE IF NOT EXISTS ledger_lease (
	id      int PRIMARY KEY CHECK (id = 1),
	holder  text NOT NULL,
	token   bigint NOT NULL,
	expires timestamptz NOT NULL
);
INSERT INTO ledger_lease VALUES (1, '', 0, '-infinity') ON CONFLICT DO NOTHING;
CREATE TABLE IF NOT EXISTS ledger_checkpoints (
	size  bigint PRIMARY KEY,
	root  bytea NOT NULL,
	time  timestamptz NOT NULL,
	note  bytea NOT NULL,
	token bigint NOT NULL
);
CREATE TABLE IF NOT EXISTS ledger_cosignatures (
	size     bigint NOT NULL REFERENCES ledger_checkpoints,
	key_name text NOT NULL,
	key_id   bigint NOT NULL,
	line     bytea NOT NULL,
	PRIMARY KEY (size, key_name, key_id)
);
CREATE TABLE IF NOT EXISTS ledger_timestamps (
	size  bigint NOT NULL REFERENCES ledger_checkpoints,
	seq   bigserial,
	token bytea NOT NULL,
	PRIMARY KEY (size, seq)
);
CREATE UNIQUE INDEX IF NOT EXISTS ledger_timestamps_once ON ledger_timestamps (size, md5(token));

-- A database written by an earlier cunzheng kept one row per leaf in
-- ledger_leaves: its leaves move into batches of 4,096 (same indexes, same
-- hashes), once, under the schema lock.
DO $mig$
BEGIN
	IF to_regclass('ledger_leaves') IS NOT NULL THEN
		INSERT INTO ledger_batches (start, id, hashes, leaves)
		SELECT g.start, nextval('ledger_batch_ids'), g.hashes, g.leaves FROM (
			SELECT min(idx) AS start, array_agg(leaf_hash ORDER BY idx) AS hashes, array_agg(leaf ORDER BY idx) AS leaves
			FROM ledger_leaves GROUP BY idx / 4096) g
		ORDER BY g.start;
		INSERT INTO ledger_dedup (leaf_hash, batch)
		SELECT x.leaf_hash, b.id FROM ledger_leaves x
		JOIN ledger_batches b ON b.start = x.idx / 4096 * 4096;
		DROP TABLE ledger_leaves;
	END IF;
	-- Its ledger_sequence returned other columns; CREATE OR REPLACE
	-- cannot change them.
	IF EXISTS (SELECT 1 FROM pg_proc WHERE proname = 'ledger_sequence' AND 'indexes' = ANY(proargnames)) THEN
		DROP FUNCTION ledger_sequence(bytea[], bytea[]);
	END IF;
	-- One row per node: into rows of 4,096 leaves' nodes each (any
	-- partition of the tree's leaves will do; the nodes a range creates
	-- are a function of its bounds), once, under the schema lock.
	IF to_regclass('ledger_nodes') IS NOT NULL THEN
		INSERT INTO ledger_node_batches (start, size, hashes)
		SELECT n.k * 4096, least((n.k + 1) * 4096, t.size), string_agg(n.hash, ''::bytea ORDER BY n.level, n.idx)
		FROM (SELECT level, idx, hash, (((idx + 1) << level) - 1) / 4096 AS k FROM ledger_nodes) n, ledger_tree t
		WHERE t.id = 1
		GROUP BY n.k, t.size;
		DROP TABLE ledger_nodes;
	END IF;
	DROP FUNCTION IF EXISTS ledger_integrate(text, bigint, bigint, bigint, bytea, smallint[], bigint[], bytea[]);
END
$mig$;

-- ledger_sequence is Sequence in one round trip, one row per batch.
--
--  1. Claim the hashes: insert them into ledger_dedup under a fresh batch
--     id, in hash order (two batches sharing hashes then wait for each
--     other in one order, never in a cycle), ON CONFLICT DO NOTHING. A
--     hash claimed by a batch still in flight makes this wait for that
--     batch's end: then it is known (committed) or free (rolled back).
--  2. Look up the indexes of the hashes already known.
--  3. Only now take the counter row, move it past the new leaves and
--     insert the batch as one row at the old value.
--
-- Only step 3 and the commit hold the counter row: its lock covers an
-- UPDATE and a one-row INSERT, whatever the batch size, so batches of all
-- processes pass it one after another, and their dedup work runs side by
-- side. Indexes stay gap-free: a batch that rolls back leaves the counter
-- unchanged. hs holds no duplicates (the caller folds them).
--
-- first_new is the batch's start (the counter when nothing is new); olds
-- holds the index of each known hash, -1 for a new one: the i-th new leaf
-- (in the order of hs) gets first_new + i.
CREATE OR REPLACE FUNCTION ledger_sequence(hs bytea[], ls bytea[], OUT first_new bigint, OUT olds bigint[])
LANGUAGE plpgsql AS $fn$
DECLARE
	bid bigint := nextval('ledger_batch_ids');
	fresh bool[];
	newh bytea[];
	newl bytea[];
	n int;
BEGIN
	-- No waiting for the WAL flush here: the integrator flushes once for
	-- all batches before it integrates them (Store.ReadSequenced), and no
	-- append is answered before it is integrated.
	PERFORM set_config('synchronous_commit', 'off', true);
	INSERT INTO ledger_dedup (leaf_hash, batch)
	SELECT u.h, bid FROM unnest(hs) AS u(h) ORDER BY u.h
	ON CONFLICT DO NOTHING;
	GET DIAGNOSTICS n = ROW_COUNT;
	IF n = cardinality(hs) THEN
		-- All new, the usual case: no statement more.
		newh := hs;
		newl := ls;
	ELSE
		-- This statement's snapshot is newer than the end of every
		-- transaction the insert waited for: a hash is new if and only if
		-- its claim is this batch's.
		SELECT array_agg(coalesce(d.batch = bid, false) ORDER BY u.ord) INTO fresh
		FROM unnest(hs) WITH ORDINALITY AS u(h, ord) LEFT JOIN ledger_dedup d ON d.leaf_hash = u.h;
		SELECT array_agg(u.h ORDER BY u.ord), array_agg(u.l ORDER BY u.ord) INTO newh, newl
		FROM unnest(hs, ls, fresh) WITH ORDINALITY AS u(h, l, f, ord) WHERE u.f;
		SELECT array_agg(CASE WHEN u.f THEN -1 ELSE (
			SELECT b.start + array_position(b.hashes, u.h) - 1
			FROM ledger_dedup d JOIN ledger_batches b ON b.id = d.batch WHERE d.leaf_hash = u.h) END ORDER BY u.ord)
		INTO olds FROM unnest(hs, fresh) WITH ORDINALITY AS u(h, f, ord);
		IF array_position(olds, NULL) IS NOT NULL THEN
			RAISE EXCEPTION 'ledger_dedup names a batch that does not hold the hash';
		END IF;
	END IF;
	IF n > 0 THEN
		UPDATE ledger_counter SET next = next + n WHERE id = 1 RETURNING next - n INTO first_new;
		INSERT INTO ledger_batches (start, id, hashes, leaves) VALUES (first_new, bid, newh, newl);
	ELSE
		SELECT c.next INTO first_new FROM ledger_counter c WHERE c.id = 1;
	END IF;
END
$fn$;

-- ledger_integrate is the fenced part of Commit in one round trip: check
-- the lease (FOR SHARE: a takeover waits for this transaction), move the
-- tree from p_start to p_size, insert the new nodes, and tell the other
-- processes (LISTEN cunzheng_ledger) at commit. 0: done; 1: fenced;
-- 2: the tree is not at p_start.
--
-- It commits without waiting for its WAL flush (synchronous_commit off for
-- this transaction only). What it writes is a function of the sequence,
-- which is durable already: if a crash loses it, the tree state is back at
-- an earlier size and the next holder integrates the same leaves into the
-- same nodes again. No checkpoint can outlive it either: a checkpoint's
-- commit is synchronous, and flushing the WAL up to that commit flushes
-- every earlier transaction with it.
CREATE OR REPLACE FUNCTION ledger_integrate(p_holder text, p_token bigint, p_start bigint, p_size bigint, p_hashes bytea,
	p_nodes bytea) RETURNS int
LANGUAGE plpgsql AS $fn$
BEGIN
	PERFORM set_config('synchronous_commit', 'off', true);
	PERFORM 1 FROM ledger_lease WHERE id = 1 AND holder = p_holder AND token = p_token AND expires > now() FOR SHARE;
	IF NOT FOUND THEN
		RETURN 1;
	END IF;
	UPDATE ledger_tree SET size = p_size, hashes = p_hashes WHERE id = 1 AND size = p_start;
	IF NOT FOUND THEN
		RETURN 2;
	END IF;
	IF length(p_nodes) > 0 THEN
		INSERT INTO ledger_node_batches (start, size, hashes) VALUES (p_start, p_size, p_nodes);
	END IF;
	PERFORM pg_notify('cunzheng_ledger', 'tree ' || p_size || ' ' || encode(p_hashes, 'hex'));
	RETURN 0;
END
$fn$;
`

// schemaLock is the advisory lock key serialising schema creation when
// several processes start at once (CREATE TABLE IF NOT EXISTS is not safe
// against a concurrent twin).
const schemaLock = 0x63756e7a68656e67 // "cunzheng"

// Open connects to PostgreSQL at dsn, creates the ledger's tables if they
// are missing, and writes public files to obj.
func Open(ctx context.Context, dsn string, obj *Objects, o Options) (*Store, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.MaxConns <= 0 {
		o.MaxConns = 16
	}
	pc, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("cluster: database DSN: %w", err)
	}
	pc.MaxConns = o.MaxConns
	if pc.ConnConfig.ConnectTimeout == 0 {
		pc.ConnConfig.ConnectTimeout = 5 * time.Second
	}
	// A process paused inside a transaction (SIGSTOP, a long GC pause, a
	// frozen VM) would keep its row locks, and a FOR SHARE lock on the
	// lease row blocks every takeover. The server ends such sessions.
	if _, ok := pc.ConnConfig.RuntimeParams["idle_in_transaction_session_timeout"]; !ok {
		pc.ConnConfig.RuntimeParams["idle_in_transaction_session_timeout"] = "2s"
	}
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("cluster: connecting to the database: %w", err)
	}
	s := &Store{pool: pool, obj: obj, logger: o.Logger}
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", int64(schemaLock)); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, schema)
		return err
	})
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("cluster: creating the ledger schema: %w", err)
	}
	return s, nil
}

// Close implements ledger.Store.
func (s *Store) Close() error {
	s.watchOnce.Do(func() {}) // no listening starts after Close
	if s.watch != nil {
		s.watch.cancel()
		<-s.watch.done
	}
	s.pool.Close()
	return nil
}

// Pool returns the connection pool, for tests and tools that inspect the
// tables.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// LoadState implements ledger.Store.
func (s *Store) LoadState(ctx context.Context) (ledger.State, error) {
	var size int64
	var flat []byte
	if err := s.pool.QueryRow(ctx, "SELECT size, hashes FROM ledger_tree WHERE id = 1").Scan(&size, &flat); err != nil {
		return ledger.State{}, fmt.Errorf("cluster: loading tree state: %w", err)
	}
	if len(flat)%32 != 0 {
		return ledger.State{}, fmt.Errorf("cluster: corrupt tree state of %d bytes", len(flat))
	}
	st := ledger.State{Size: uint64(size)}
	for i := 0; i < len(flat); i += 32 {
		st.Hashes = append(st.Hashes, flat[i:i+32:i+32])
	}
	return st, nil
}

// Sequence implements ledger.SharedStore. The counter row lock serialises
// sequencing transactions, so the dedup lookup (a statement after the lock,
// with a fresh snapshot) sees every leaf committed before, and indexes are
// gap-free: a transaction that rolls back leaves the counter unchanged.
func (s *Store) Sequence(ctx context.Context, leaves [][]byte, hashes []tlog.Hash) ([]uint64, []bool, error) {
	idx := make([]uint64, len(leaves))
	dup := make([]bool, len(leaves))
	// Fold repeats within the batch: the first occurrence is sequenced,
	// the others get its index as duplicates.
	pos := make([]int, len(hashes))
	first := make(map[tlog.Hash]int, len(hashes))
	var uh, ul [][]byte
	for i := range hashes {
		if j, ok := first[hashes[i]]; ok {
			pos[i], dup[i] = j, true
			continue
		}
		first[hashes[i]] = len(uh)
		pos[i] = len(uh)
		uh = append(uh, hashes[i][:])
		ul = append(ul, leaves[i])
	}
	t0 := time.Now()
	var firstNew int64
	var olds []int64
	err := s.pool.QueryRow(ctx, "SELECT first_new, olds FROM ledger_sequence($1, $2)", uh, ul).Scan(&firstNew, &olds)
	s.stats.sequenceTx.Add(1)
	s.stats.sequenceNs.Add(int64(time.Since(t0)))
	if err == nil && olds != nil && len(olds) != len(uh) {
		err = fmt.Errorf("%d indexes for %d leaves", len(olds), len(uh))
	}
	if err != nil {
		return nil, nil, fmt.Errorf("database: sequencing: %w", err)
	}
	got := make([]int64, len(uh))
	next := firstNew
	var nh, nl [][]byte
	for i := range got {
		if olds != nil && olds[i] >= 0 {
			got[i] = olds[i]
			continue
		}
		got[i] = next
		next++
		nh, nl = append(nh, uh[i]), append(nl, ul[i])
	}
	if len(nh) > 0 {
		s.keepOwn(firstNew, nh, nl)
	}
	for i := range hashes {
		j := got[pos[i]]
		idx[i] = uint64(j)
		dup[i] = dup[i] || j < firstNew
	}
	return idx, dup, nil
}

// ReadSequenced implements ledger.SharedStore. Sequencing commits without
// waiting for its WAL flush (ledger_sequence), so that the counter row is
// held for the assignment alone; the integrator reads what it integrates
// here, and the read makes it durable: the read runs in a transaction that
// writes (one row of ledger_flush) and commits synchronously, which flushes
// the WAL up to its own commit record, so every commit written before it
// (on a synchronous standby too), whichever process made it. (A
// transaction that is only given an id writes no WAL before its commit
// record, and PostgreSQL commits such a transaction asynchronously: that
// lost acknowledged appends when the database crashed.) The read and the flush are one
// round trip; one flush per integration round instead of one per
// sequencing batch of every process.
//
// The leaves of the batches this process sequenced while it held the lease
// are not sent back: their hashes are, durably, and the bytes come from
// memory by hash (own). A batch whose start the database gave to another
// batch after a crash has other hashes, not found there: its leaves are
// then read.
func (s *Store) ReadSequenced(ctx context.Context, start uint64, max int) ([][]byte, []tlog.Hash, error) {
	t0 := time.Now()
	raw, leaves, err := s.readRange(ctx, start, max, readDurable, s.ownStarts())
	if len(raw) > 0 {
		s.stats.flushes.Add(1)
		s.stats.flushNs.Add(int64(time.Since(t0)))
	}
	if err != nil {
		return nil, nil, fmt.Errorf("database: reading sequenced leaves: %w", err)
	}
	hashes := make([]tlog.Hash, len(raw))
	for i, h := range raw {
		copy(hashes[i][:], h)
	}
	lo, hi := -1, -1 // the leaves neither sent nor in memory
	s.own.mu.Lock()
	for i := range leaves {
		if leaves[i] != nil {
			continue
		}
		if l, ok := s.own.leaves[hashes[i]]; ok {
			leaves[i] = l
			continue
		}
		if lo < 0 {
			lo = i
		}
		hi = i + 1
	}
	for i := range hashes {
		delete(s.own.leaves, hashes[i])
	}
	end := int64(start) + int64(len(hashes))
	for st, e := range s.own.starts {
		if e <= end {
			delete(s.own.starts, st)
		}
	}
	s.own.mu.Unlock()
	if lo >= 0 {
		got, err := s.ReadLeaves(ctx, start+uint64(lo), hi-lo)
		if err != nil {
			return nil, nil, err
		}
		for i, l := range got {
			if leaves[lo+i] == nil {
				leaves[lo+i] = l
			}
		}
	}
	return leaves, hashes, nil
}

// ownLimit bounds the leaves kept in memory for the integrator: beyond it
// (an integrator far behind) they are read back from the database.
const ownLimit = 1 << 16

// keepOwn keeps the new leaves of a batch this process sequenced at start,
// for its own integrator (ReadSequenced), while it holds the lease.
func (s *Store) keepOwn(start int64, hashes [][]byte, leaves [][]byte) {
	if s.lease.Load() == nil {
		return
	}
	s.own.mu.Lock()
	defer s.own.mu.Unlock()
	if len(s.own.leaves)+len(leaves) > ownLimit {
		return
	}
	if s.own.leaves == nil {
		s.own.leaves = make(map[tlog.Hash][]byte)
		s.own.starts = make(map[int64]int64)
	}
	for i := range leaves {
		s.own.leaves[tlog.Hash(hashes[i])] = leaves[i]
	}
	s.own.starts[start] = start + int64(len(leaves))
}

// dropOwn forgets the kept leaves: the lease is gone, another process
// integrates them.
func (s *Store) dropOwn() {
	s.own.mu.Lock()
	defer s.own.mu.Unlock()
	s.own.leaves, s.own.starts = nil, nil
}

func (s *Store) ownStarts() []int64 {
	s.own.mu.Lock()
	defer s.own.mu.Unlock()
	out := make([]int64, 0, len(s.own.starts))
	for st := range s.own.starts {
		out = append(out, st)
	}
	return out
}

// What readRange reads.
const (
	readHashes  = iota // the hashes only
	readLeaves         // hashes and leaves
	readDurable        // hashes and leaves, in a transaction that flushes the WAL (ReadSequenced)
)

// readRange returns the leaf hashes (and leaves, unless mode is
// readHashes) sequenced at [start, start+n), or fewer: those up to the end
// of the sequence. The batches overlapping the range are cut to it by the
// server. The leaves of the batches starting at one of skip are not sent:
// they are nil in leaves.
//
// With readDurable the read is durable (see ReadSequenced).
func (s *Store) readRange(ctx context.Context, start uint64, n int, mode int, skip []int64) (hashes, leaves [][]byte, err error) {
	if n <= 0 {
		return nil, nil, nil
	}
	withLeaves := mode != readHashes
	cols := "b.hashes[lo:hi], NULL::bytea[]"
	if withLeaves {
		cols = "b.hashes[lo:hi], CASE WHEN b.start = ANY($3) THEN NULL ELSE b.leaves[lo:hi] END"
	}
	args := []any{int64(start), int64(start) + int64(n)}
	if withLeaves {
		if skip == nil {
			skip = []int64{}
		}
		args = append(args, skip)
	}
	var pb pgx.Batch
	pb.Queue(`
SELECT greatest(b.start, $1), `+cols+`
FROM ledger_batches b,
	LATERAL (SELECT greatest($1 - b.start, 0)::int + 1 AS lo, least($2 - b.start, cardinality(b.hashes))::int AS hi) AS c
WHERE b.start >= coalesce((SELECT max(start) FROM ledger_batches WHERE start <= $1), 0) AND b.start < $2
ORDER BY b.start`, args...)
	if mode == readDurable {
		// Statements of one pipelined batch up to its Sync are one
		// implicit transaction: this write makes its commit synchronous,
		// so it is flushed before Close returns, and with it every commit
		// the read above saw. Only when there was something to read (this
		// statement's snapshot is no older than the read's, and a batch row
		// commits with the counter that covers it): an idle integrator
		// polls, and must not write each time. Only the lease holder reads
		// here, so the row is not contended.
		pb.Queue("UPDATE ledger_flush SET n = n + 1 WHERE id = 1 AND EXISTS (SELECT 1 FROM ledger_counter WHERE id = 1 AND next > $1)", int64(start))
	}
	br := s.pool.SendBatch(ctx, &pb)
	defer br.Close()
	rows, err := br.Query()
	if err != nil {
		return nil, nil, err
	}
	var from int64
	var hs, ls [][]byte
	_, err = pgx.ForEachRow(rows, []any{&from, &hs, &ls}, func() error {
		// Gap-free by construction (Sequence); stop at a gap anyway rather
		// than return leaves at the wrong index.
		if uint64(from) != start+uint64(len(hashes)) {
			return fmt.Errorf("gap in the sequence at %d", start+uint64(len(hashes)))
		}
		if withLeaves && ls == nil {
			ls = make([][]byte, len(hs)) // skipped: the caller has them
		}
		if withLeaves && len(ls) != len(hs) {
			return fmt.Errorf("batch at %d: %d leaves for %d hashes", from, len(ls), len(hs))
		}
		hashes = append(hashes, hs...)
		leaves = append(leaves, ls...)
		hs, ls = nil, nil // the next row scans into fresh slices
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	if mode == readDurable {
		if _, err := br.Exec(); err != nil {
			return nil, nil, err
		}
	}
	// The commit: only once it succeeded is what was read durable.
	if err := br.Close(); err != nil {
		return nil, nil, err
	}
	return hashes, leaves, nil
}

// Lease implements ledger.SharedStore. The token changes when the lease
// changes hands and when it lapsed, even if the same holder takes it back:
// its writes from before the lapse must fail too.
func (s *Store) Lease(ctx context.Context, holder string, ttl time.Duration) (int64, bool, error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		s.lease.Store(nil)
		return 0, false, fmt.Errorf("database: lease: %w", err)
	}
	defer conn.Release()
	// The takeover waits for any transaction holding the lease row (a
	// fence's FOR SHARE). One of a paused holder is normally ended by
	// idle_in_transaction_session_timeout, but not when the pause caught it
	// mid-statement (say, halfway through sending a pipelined batch): the
	// server then counts the session as active and waits for it for ever.
	// While the takeover waits, sessions blocking it are ended if the lease
	// has lapsed: their transactions roll back, which is what the fence
	// would have demanded of them anyway.
	stop := make(chan struct{})
	defer close(stop)
	go s.endLapsedBlockers(ctx, conn.Conn().PgConn().PID(), holder, stop)
	var token int64
	err = conn.QueryRow(ctx, `
UPDATE ledger_lease SET
	token = CASE WHEN holder = $1 AND expires > now() THEN token ELSE token + 1 END,
	holder = $1,
	expires = now() + make_interval(secs => $2)
WHERE id = 1 AND (holder = $1 OR expires <= now())
RETURNING token`, holder, ttl.Seconds()).Scan(&token)
	if errors.Is(err, pgx.ErrNoRows) {
		s.lease.Store(nil)
		s.dropOwn()
		return 0, false, nil
	}
	if err != nil {
		s.lease.Store(nil)
		s.dropOwn()
		return 0, false, fmt.Errorf("database: lease: %w", err)
	}
	s.lease.Store(&leaseID{holder: holder, token: token})
	return token, true, nil
}

// blockerCheckInterval is how long a lease attempt waits on another
// session's lock before ending it, if the lease has lapsed.
const blockerCheckInterval = 500 * time.Millisecond

// endLapsedBlockers terminates, every blockerCheckInterval until stop, the
// sessions that block backend pid (a lease attempt by holder), provided the
// lease row has lapsed and is not holder's own.
func (s *Store) endLapsedBlockers(ctx context.Context, pid uint32, holder string, stop <-chan struct{}) {
	t := time.NewTicker(blockerCheckInterval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-ctx.Done():
			return
		case <-t.C:
		}
		var ended int
		err := s.pool.QueryRow(ctx, `
SELECT count(*) FILTER (WHERE pg_terminate_backend(b))
FROM unnest(pg_blocking_pids($1)) AS b
WHERE EXISTS (SELECT 1 FROM ledger_lease WHERE id = 1 AND expires <= now() AND holder <> $2)`, int32(pid), holder).Scan(&ended)
		if err != nil {
			if ctx.Err() == nil {
				s.logger.Warn("checking what blocks a lease attempt", "err", err)
			}
			continue
		}
		if ended > 0 {
			s.logger.Warn("ended database sessions of a lapsed lease holder that blocked the takeover", "sessions", ended)
		}
	}
}

// Release implements ledger.SharedStore.
func (s *Store) Release(ctx context.Context) error {
	l := s.lease.Swap(nil)
	s.dropOwn()
	if l == nil {
		return nil
	}
	_, err := s.pool.Exec(ctx, "UPDATE ledger_lease SET expires = '-infinity' WHERE id = 1 AND holder = $1 AND token = $2", l.holder, l.token)
	return err
}

// CheckLease implements ledger.SharedStore.
func (s *Store) CheckLease(ctx context.Context) error {
	return fence(ctx, s.pool, s.lease.Load())
}

type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// fence checks the lease row inside the caller's transaction; FOR SHARE
// keeps a takeover (an UPDATE of the row) waiting until that transaction
// ends, so the write it guards cannot interleave with one.
func fence(ctx context.Context, q querier, l *leaseID) error {
	if l == nil {
		return ledger.ErrFenced
	}
	var one int
	err := q.QueryRow(ctx, "SELECT 1 FROM ledger_lease WHERE id = 1 AND holder = $1 AND token = $2 AND expires > now() FOR SHARE", l.holder, l.token).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return ledger.ErrFenced
	}
	if err != nil {
		return fmt.Errorf("database: checking the lease: %w", err)
	}
	return nil
}

// Prepare implements ledger.Preparer: it uploads the tiles and entry
// bundles b creates or grows, the first half of Commit. The integrator
// calls it for batch k+1 while batch k's transaction commits, then Commits
// b with b.Prepared set.
func (s *Store) Prepare(ctx context.Context, b *ledger.Batch) error {
	if len(b.Leaves) != len(b.Hashes) || b.State.Size != b.Start+uint64(len(b.Leaves)) {
		return fmt.Errorf("cluster: malformed batch at %d", b.Start)
	}
	t0 := time.Now()
	err := s.uploadTiles(ctx, b)
	s.stats.uploadRounds.Add(1)
	s.stats.uploadNs.Add(int64(time.Since(t0)))
	return err
}

// Commit implements ledger.Store: objects first (unless b.Prepared), then
// the fenced transaction (see the package comment). Sequenced batches, the
// integrator's, take one round trip (ledger_integrate).
func (s *Store) Commit(ctx context.Context, b *ledger.Batch) error {
	if len(b.Leaves) != len(b.Hashes) || b.State.Size != b.Start+uint64(len(b.Leaves)) {
		return fmt.Errorf("cluster: malformed batch at %d", b.Start)
	}
	if !b.Sequenced {
		return s.commitLeaves(ctx, b)
	}
	l := s.lease.Load()
	if l == nil {
		return ledger.ErrFenced
	}
	if !b.Prepared {
		if err := s.Prepare(ctx, b); err != nil {
			return err
		}
	}
	t1 := time.Now()
	flat := make([]byte, 0, 32*len(b.State.Hashes))
	for _, h := range b.State.Hashes {
		flat = append(flat, h...)
	}
	nodes, err := packNodes(b.Start, b.State.Size, b.Nodes)
	if err != nil {
		return err
	}
	var code int32
	err = s.pool.QueryRow(ctx, "SELECT ledger_integrate($1, $2, $3, $4, $5, $6)",
		l.holder, l.token, int64(b.Start), int64(b.State.Size), flat, nodes).Scan(&code)
	s.stats.commitTx.Add(1)
	s.stats.commitNs.Add(int64(time.Since(t1)))
	switch {
	case err != nil:
		return fmt.Errorf("database: committing batch at %d: %w", b.Start, err)
	case code == 1:
		return ledger.ErrFenced
	case code != 0:
		return fmt.Errorf("cluster: batch starts at %d but the tree is elsewhere", b.Start)
	}
	return nil
}

// commitLeaves commits a batch whose leaves did not come through Sequence
// (a migration, or a store used as a plain ledger.Store): they extend the
// sequence too, which must end exactly where the tree does.
func (s *Store) commitLeaves(ctx context.Context, b *ledger.Batch) error {
	l := s.lease.Load()
	cur, err := s.LoadState(ctx)
	if err != nil {
		return err
	}
	if cur.Size != b.Start {
		return fmt.Errorf("cluster: batch starts at %d but the tree holds %d leaves", b.Start, cur.Size)
	}
	if err := s.CheckLease(ctx); err != nil {
		return err
	}
	if err := s.Prepare(ctx, b); err != nil {
		return err
	}
	t1 := time.Now()
	defer func() {
		s.stats.commitTx.Add(1)
		s.stats.commitNs.Add(int64(time.Since(t1)))
	}()
	flat := make([]byte, 0, 32*len(b.State.Hashes))
	for _, h := range b.State.Hashes {
		flat = append(flat, h...)
	}
	nodes, err := packNodes(b.Start, b.State.Size, b.Nodes)
	if err != nil {
		return err
	}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := fence(ctx, tx, l); err != nil {
			return err
		}
		var next int64
		if err := tx.QueryRow(ctx, "SELECT next FROM ledger_counter WHERE id = 1 FOR UPDATE").Scan(&next); err != nil {
			return err
		}
		if uint64(next) != b.Start {
			return fmt.Errorf("cluster: %d leaves are sequenced, the batch starts at %d", next, b.Start)
		}
		// One batch row, as Sequence writes; its hashes must be new.
		hs := make([][]byte, len(b.Hashes))
		for i := range b.Hashes {
			hs[i] = b.Hashes[i][:]
		}
		var bid int64
		if err := tx.QueryRow(ctx, "INSERT INTO ledger_batches (start, id, hashes, leaves) VALUES ($1, nextval('ledger_batch_ids'), $2, $3) RETURNING id",
			int64(b.Start), hs, b.Leaves).Scan(&bid); err != nil {
			return err
		}
		rows := make([][]any, len(hs))
		for i := range hs {
			rows[i] = []any{hs[i], bid}
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"ledger_dedup"}, []string{"leaf_hash", "batch"}, pgx.CopyFromRows(rows)); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "UPDATE ledger_counter SET next = $1 WHERE id = 1", int64(b.State.Size)); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, "UPDATE ledger_tree SET size = $1, hashes = $2 WHERE id = 1 AND size = $3", int64(b.State.Size), flat, int64(b.Start))
		if err != nil {
			return err
		}
		if tag.RowsAffected() != 1 {
			return fmt.Errorf("cluster: tree moved past %d during the commit", b.Start)
		}
		if len(nodes) > 0 {
			if _, err := tx.Exec(ctx, "INSERT INTO ledger_node_batches (start, size, hashes) VALUES ($1, $2, $3)", int64(b.Start), int64(b.State.Size), nodes); err != nil {
				return err
			}
		}
		_, err = tx.Exec(ctx, "SELECT pg_notify($1, $2)", notifyChannel, fmt.Sprintf("tree %d", b.State.Size))
		return err
	})
	if err != nil {
		if errors.Is(err, ledger.ErrFenced) {
			return err
		}
		return fmt.Errorf("database: committing batch at %d: %w", b.Start, err)
	}
	return nil
}

// LookupLeaves implements ledger.Store. Sequenced leaves not yet in the tree
// are found too; ledger.Log bounds what it reports by its tree size.
func (s *Store) LookupLeaves(ctx context.Context, hs []tlog.Hash) (map[tlog.Hash]uint64, error) {
	found := make(map[tlog.Hash]uint64)
	if len(hs) == 0 {
		return found, nil
	}
	raw := make([][]byte, len(hs))
	for i := range hs {
		raw[i] = hs[i][:]
	}
	rows, err := s.pool.Query(ctx, `
SELECT d.leaf_hash, b.start + array_position(b.hashes, d.leaf_hash) - 1
FROM ledger_dedup d JOIN ledger_batches b ON b.id = d.batch
WHERE d.leaf_hash = ANY($1)`, raw)
	if err != nil {
		return nil, fmt.Errorf("database: looking up leaves: %w", err)
	}
	var h []byte
	var i int64
	_, err = pgx.ForEachRow(rows, []any{&h, &i}, func() error {
		found[tlog.Hash(h)] = uint64(i)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("database: looking up leaves: %w", err)
	}
	return found, nil
}

// ReadLeaves implements ledger.TreeReader.
func (s *Store) ReadLeaves(ctx context.Context, start uint64, n int) ([][]byte, error) {
	_, out, err := s.readRange(ctx, start, n, readLeaves, nil)
	if err != nil {
		return nil, fmt.Errorf("database: reading leaves: %w", err)
	}
	if len(out) != n {
		return nil, fmt.Errorf("cluster: leaves [%d, %d): %w", start, start+uint64(n), ledger.ErrNotFound)
	}
	return out, nil
}

// ReadLevel implements ledger.TreeReader.
func (s *Store) ReadLevel(ctx context.Context, level uint8, start uint64, n int) ([]tlog.Hash, error) {
	var raw [][]byte
	var err error
	if level == 0 {
		raw, _, err = s.readRange(ctx, start, n, readHashes, nil)
	} else {
		raw, err = s.readNodeLevel(ctx, level, start, n)
	}
	if err != nil {
		return nil, fmt.Errorf("database: reading level %d: %w", level, err)
	}
	if len(raw) != n {
		return nil, fmt.Errorf("cluster: level %d [%d, %d): %w", level, start, start+uint64(n), ledger.ErrNotFound)
	}
	out := make([]tlog.Hash, n)
	for i, h := range raw {
		copy(out[i][:], h)
	}
	return out, nil
}

// readNodeLevel returns the hashes of nodes [start, start+n) at level (> 0),
// or fewer: those that exist, from the start. The rows holding them are the
// one holding the first node's last leaf and those after it, up to the one
// holding the last node's; each gives its slice, cut by the server.
func (s *Store) readNodeLevel(ctx context.Context, level uint8, start uint64, n int) ([][]byte, error) {
	if n <= 0 {
		return nil, nil
	}
	end := start + uint64(n)
	rows, err := s.pool.Query(ctx, `
SELECT c.lo, substring(nb.hashes FROM (o.off + c.lo - (nb.start >> $1))::int * 32 + 1 FOR (c.hi - c.lo)::int * 32)
FROM ledger_node_batches nb,
	LATERAL (SELECT greatest($2, nb.start >> $1) AS lo, least($3, nb.size >> $1) AS hi) AS c,
	LATERAL (SELECT coalesce(sum((nb.size >> l) - (nb.start >> l)), 0) AS off FROM generate_series(1, $1 - 1) AS l) AS o
WHERE nb.start >= coalesce((SELECT max(start) FROM ledger_node_batches WHERE start <= (($2 + 1) << $1) - 1), 0)
	AND nb.start <= ($3 << $1) - 1 AND c.hi > c.lo
ORDER BY nb.start`, int32(level), int64(start), int64(end))
	if err != nil {
		return nil, err
	}
	var out [][]byte
	var lo int64
	var flat []byte
	_, err = pgx.ForEachRow(rows, []any{&lo, &flat}, func() error {
		if uint64(lo) != start+uint64(len(out)) {
			return fmt.Errorf("gap at level %d index %d", level, start+uint64(len(out)))
		}
		for i := 0; i+32 <= len(flat); i += 32 {
			out = append(out, flat[i:i+32:i+32])
		}
		flat = nil // the next row scans into a fresh slice
		return nil
	})
	return out, err
}

// packNodes lays out the nodes above the leaves that the batch of leaves
// [start, end) creates, as ledger_node_batches holds them: by level, then
// index, 32 bytes each. It checks that nodes are exactly those.
func packNodes(start, end uint64, nodes []ledger.Node) ([]byte, error) {
	var total uint64
	for lv := uint8(1); lv < 64 && end>>lv > 0; lv++ {
		total += end>>lv - start>>lv
	}
	out := make([]byte, 32*total)
	var seen uint64
	for i := range nodes {
		n := &nodes[i]
		if n.Level == 0 {
			continue // the leaf hashes, in ledger_batches
		}
		off, count := levelSpan(start, end, n.Level)
		first := start >> n.Level
		if n.Index < first || n.Index-first >= count {
			return nil, fmt.Errorf("cluster: node %d/%d is not created by leaves [%d, %d)", n.Level, n.Index, start, end)
		}
		copy(out[32*(off+n.Index-first):], n.Hash[:])
		seen++
	}
	if seen != total {
		return nil, fmt.Errorf("cluster: %d nodes for leaves [%d, %d), want %d", seen, start, end, total)
	}
	return out, nil
}

// levelSpan returns where the nodes at level (>= 1) created by the leaves
// [start, end) begin in packNodes's layout, and how many there are.
func levelSpan(start, end uint64, level uint8) (off, count uint64) {
	for lv := uint8(1); lv < level; lv++ {
		off += end>>lv - start>>lv
	}
	return off, end>>level - start>>level
}

// ReadNodes implements ledger.TreeReader.
func (s *Store) ReadNodes(ctx context.Context, ids []ledger.NodeID) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	levels := make([]int16, len(ids))
	idxs := make([]int64, len(ids))
	pos := make(map[ledger.NodeID][]int, len(ids))
	for i, id := range ids {
		levels[i], idxs[i] = int16(id.Level), int64(id.Index)
		pos[id] = append(pos[id], i)
	}
	rows, err := s.pool.Query(ctx, `
SELECT q.level, q.idx, substring(nb.hashes FROM ((SELECT coalesce(sum((nb.size >> l) - (nb.start >> l)), 0) FROM generate_series(1, q.level - 1) AS l)
	+ q.idx - (nb.start >> q.level))::int * 32 + 1 FOR 32)
FROM unnest($1::smallint[], $2::bigint[]) AS q(level, idx),
	LATERAL (SELECT start, size, hashes FROM ledger_node_batches WHERE start <= ((q.idx + 1) << q.level) - 1 ORDER BY start DESC LIMIT 1) AS nb
WHERE q.level > 0 AND ((q.idx + 1) << q.level) - 1 < nb.size
UNION ALL
SELECT 0::smallint, q.idx, b.hashes[(q.idx - b.start + 1)::int]
FROM unnest($1::smallint[], $2::bigint[]) AS q(level, idx),
	LATERAL (SELECT start, hashes FROM ledger_batches WHERE start <= q.idx ORDER BY start DESC LIMIT 1) AS b
WHERE q.level = 0 AND q.idx < b.start + cardinality(b.hashes)`, levels, idxs)
	if err != nil {
		return nil, fmt.Errorf("database: reading nodes: %w", err)
	}
	var lv int16
	var ix int64
	var h []byte
	seen := 0
	_, err = pgx.ForEachRow(rows, []any{&lv, &ix, &h}, func() error {
		for _, i := range pos[ledger.NodeID{Level: uint8(lv), Index: uint64(ix)}] {
			copy(out[i][:], h)
			seen++
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("database: reading nodes: %w", err)
	}
	if seen != len(ids) {
		return nil, fmt.Errorf("cluster: %d of %d nodes: %w", len(ids)-seen, len(ids), ledger.ErrNotFound)
	}
	return out, nil
}

// PutCheckpoint implements ledger.CheckpointStore: a fenced insert, then the
// bucket's checkpoint object.
func (s *Store) PutCheckpoint(ctx context.Context, c ledger.StoredCheckpoint) error {
	l := s.lease.Load()
	// The partial tiles of its size first: once a checkpoint is stored,
	// every tile a client of the bucket reads for it is there. A log only
	// signs a tree it integrated; a checkpoint beyond the stored leaves
	// (a store used as a bare checkpoint store) has no tiles to upload.
	if err := s.uploadPartials(ctx, c.Size); errors.Is(err, ledger.ErrNotFound) {
		s.logger.Warn("checkpoint beyond the stored tree: no partial tiles uploaded", "size", c.Size, "err", err)
	} else if err != nil {
		return err
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := fence(ctx, tx, l); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, "INSERT INTO ledger_checkpoints (size, root, time, note, token) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (size) DO NOTHING",
			int64(c.Size), c.Root[:], c.Time, c.Note, l.token)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 1 {
			_, err := tx.Exec(ctx, "SELECT pg_notify($1, $2)", notifyChannel, fmt.Sprintf("checkpoint %d", c.Size))
			return err
		}
		var note []byte
		if err := tx.QueryRow(ctx, "SELECT note FROM ledger_checkpoints WHERE size = $1", int64(c.Size)).Scan(&note); err != nil {
			return err
		}
		if string(note) != string(c.Note) {
			return fmt.Errorf("cluster: a different checkpoint for size %d is already stored", c.Size)
		}
		return nil
	})
	if err != nil {
		if errors.Is(err, ledger.ErrFenced) {
			return err
		}
		return fmt.Errorf("database: storing checkpoint %d: %w", c.Size, err)
	}
	// Stored is what counts: the database holds every checkpoint and the
	// servers serve from it. The bucket's copy only lags if this upload
	// fails; the next checkpoint overwrites it. The newest stored one is
	// uploaded, not necessarily c: a holder paused between its insert and
	// this upload would otherwise put an older checkpoint over a newer one
	// written meanwhile by its successor.
	// Every checkpoint is also kept in the bucket, immutable, at
	// checkpoints/<size>: the log-signed note (cosignatures and tokens
	// arrive later and live in the database).
	if err := s.obj.Put(ctx, CheckpointHistoryKey(c.Size), c.Note, "public, max-age=31536000, immutable"); err != nil {
		s.logger.Warn("uploading checkpoint history object", "size", c.Size, "err", err)
	}
	latest, err := s.LatestCheckpoint(ctx)
	if err != nil {
		latest = c
	}
	if err := s.obj.Put(ctx, "checkpoint", latest.Note, "public, max-age=2, must-revalidate"); err != nil {
		s.logger.Warn("uploading checkpoint object", "size", latest.Size, "err", err)
	}
	return nil
}

// CheckpointHistoryKey is the bucket key of the checkpoint of a size.
func CheckpointHistoryKey(size uint64) string { return fmt.Sprintf("checkpoints/%d", size) }

const cpColumns = "size, root, time, note"

func scanCheckpoint(r pgx.Row) (ledger.StoredCheckpoint, error) {
	var c ledger.StoredCheckpoint
	var size int64
	var root []byte
	if err := r.Scan(&size, &root, &c.Time, &c.Note); err != nil {
		return c, err
	}
	c.Size = uint64(size)
	copy(c.Root[:], root)
	c.Time = c.Time.UTC()
	return c, nil
}

// GetCheckpoint implements ledger.CheckpointStore.
func (s *Store) GetCheckpoint(ctx context.Context, size uint64) (ledger.StoredCheckpoint, error) {
	c, err := scanCheckpoint(s.pool.QueryRow(ctx, "SELECT "+cpColumns+" FROM ledger_checkpoints WHERE size = $1", int64(size)))
	if errors.Is(err, pgx.ErrNoRows) {
		return c, fmt.Errorf("cluster: checkpoint %d: %w", size, ledger.ErrNotFound)
	}
	if err != nil {
		return c, fmt.Errorf("database: reading checkpoint %d: %w", size, err)
	}
	return c, nil
}

// LatestCheckpoint implements ledger.CheckpointStore.
func (s *Store) LatestCheckpoint(ctx context.Context) (ledger.StoredCheckpoint, error) {
	c, err := scanCheckpoint(s.pool.QueryRow(ctx, "SELECT "+cpColumns+" FROM ledger_checkpoints ORDER BY size DESC LIMIT 1"))
	if errors.Is(err, pgx.ErrNoRows) {
		return c, fmt.Errorf("cluster: no checkpoint: %w", ledger.ErrNotFound)
	}
	if err != nil {
		return c, fmt.Errorf("database: reading the latest checkpoint: %w", err)
	}
	return c, nil
}

// ListCheckpoints implements ledger.CheckpointStore.
func (s *Store) ListCheckpoints(ctx context.Context, after uint64, limit int) ([]ledger.StoredCheckpoint, error) {
	rows, err := s.pool.Query(ctx, "SELECT "+cpColumns+" FROM ledger_checkpoints WHERE size > $1 ORDER BY size LIMIT $2", int64(after), limit)
	if err != nil {
		return nil, fmt.Errorf("database: listing checkpoints: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (ledger.StoredCheckpoint, error) { return scanCheckpoint(r) })
	if err != nil {
		return nil, fmt.Errorf("database: listing checkpoints: %w", err)
	}
	return out, nil
}

// PutCosignature implements ledger.CheckpointStore. Any process may store
// one: a cosignature is checked by the caller and adds to a checkpoint
// without changing it.
func (s *Store) PutCosignature(ctx context.Context, size uint64, keyName string, keyID uint32, line []byte) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO ledger_cosignatures (size, key_name, key_id, line) VALUES ($1, $2, $3, $4)
ON CONFLICT (size, key_name, key_id) DO UPDATE SET line = EXCLUDED.line`, int64(size), keyName, int64(keyID), line)
	if err != nil {
		return mapMissing(fmt.Errorf("database: storing cosignature for %d: %w", size, err), size)
	}
	return nil
}

// PutTimestamp implements ledger.CheckpointStore.
func (s *Store) PutTimestamp(ctx context.Context, size uint64, token []byte) error {
	_, err := s.pool.Exec(ctx, "INSERT INTO ledger_timestamps (size, token) VALUES ($1, $2) ON CONFLICT (size, md5(token)) DO NOTHING", int64(size), token)
	if err != nil {
		return mapMissing(fmt.Errorf("database: storing timestamp for %d: %w", size, err), size)
	}
	return nil
}

// mapMissing turns a foreign-key violation (no checkpoint of that size)
// into ErrNotFound.
func mapMissing(err error, size uint64) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23503" {
		return fmt.Errorf("cluster: checkpoint %d: %w", size, ledger.ErrNotFound)
	}
	return err
}

// Attachments implements ledger.CheckpointStore.
func (s *Store) Attachments(ctx context.Context, size uint64) (cosigs, tokens [][]byte, err error) {
	var wg sync.WaitGroup
	var cerr, terr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		rows, err := s.pool.Query(ctx, "SELECT line FROM ledger_cosignatures WHERE size = $1 ORDER BY key_name, key_id", int64(size))
		if err == nil {
			cosigs, err = pgx.CollectRows(rows, pgx.RowTo[[]byte])
		}
		cerr = err
	}()
	rows, err := s.pool.Query(ctx, "SELECT token FROM ledger_timestamps WHERE size = $1 ORDER BY seq", int64(size))
	if err == nil {
		tokens, err = pgx.CollectRows(rows, pgx.RowTo[[]byte])
	}
	terr = err
	wg.Wait()
	if err := errors.Join(cerr, terr); err != nil {
		return nil, nil, fmt.Errorf("database: reading attachments of %d: %w", size, err)
	}
	return cosigs, tokens, nil
}
