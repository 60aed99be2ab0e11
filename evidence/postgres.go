package evidence

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// OpenPostgres connects to the PostgreSQL database dsn (a postgres:// URL
// or key=value string as pgx takes it) and returns the Store of cluster
// mode: one table, evidence_kv, with a bytea primary key (bytea compares
// bytewise, the order the key layout relies on), created if missing. Every
// process of a cluster opens the same database; pass the store as
// Config.Store. The database may be the ledger's (`serve --cluster-db`): the
// table names do not overlap.
//
// It holds everything the embedded store holds: tenants and their wrapped
// keys, sealed records, subject keys, claims, the contract index and the
// stored documents (encrypted; they stay in the table rather than the
// object store). A batch is one transaction, so acknowledged writes are
// exactly the committed ones; the receipts of finalize are committed with
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
		_, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS evidence_kv (k bytea PRIMARY KEY, v bytea NOT NULL)`)
		return err
	})
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("evidence: creating the evidence table: %w", err)
	}
	return &pgStore{pool: pool}, nil
}

// pgStore is the PostgreSQL Store.
type pgStore struct {
	pool *pgxpool.Pool
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
		return nil, false, err
	}
	if v == nil {
		v = []byte{}
	}
	return v, true, nil
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
			if err != nil || !more {
				return err
			}
		}
		if len(page) < scanPage {
			return nil
		}
		lower = append(slices.Clone(page[len(page)-1].k), 0)
	}
}

func (p *pgStore) scan(ctx context.Context, lower, upper []byte, fn func(k, v []byte) (bool, error)) error {
	return pgScan(ctx, p.pool, lower, upper, fn)
}

// apply queues b's checks and writes on tx in one round trip and reads
// their results; errConflict when a precondition fails.
func pgApply(ctx context.Context, tx pgx.Tx, b *batch) error {
	if !b.sync {
		// See OpenPostgres: these writes are replayable.
		if _, err := tx.Exec(ctx, "SET LOCAL synchronous_commit = off"); err != nil {
			return err
		}
	}
	var pb pgx.Batch
	type check struct {
		insert bool
		v      []byte
	}
	var checks []check
	for _, e := range b.expects {
		pb.Queue(`SELECT v FROM evidence_kv WHERE k = $1 FOR SHARE`, e.k)
		checks = append(checks, check{v: e.v})
	}
	for _, o := range b.ops {
		switch o.kind {
		case opSet:
			pb.Queue(`INSERT INTO evidence_kv (k, v) VALUES ($1, $2) ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v`, o.k, o.v)
		case opInsert:
			// Absent, or holding exactly v already: one row comes back.
			pb.Queue(`INSERT INTO evidence_kv AS t (k, v) VALUES ($1, $2) ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v WHERE t.v = EXCLUDED.v RETURNING 1`, o.k, o.v)
			checks = append(checks, check{insert: true})
		case opDelete:
			pb.Queue(`DELETE FROM evidence_kv WHERE k = $1`, o.k)
		case opDeleteRange:
			pb.Queue(`DELETE FROM evidence_kv WHERE k >= $1 AND k < $2`, o.k, o.v)
		}
		if o.kind != opInsert {
			checks = append(checks, check{})
		}
	}
	// The expects come first in checks, then one entry per op.
	br := tx.SendBatch(ctx, &pb)
	conflict := false
	for i, c := range checks {
		switch {
		case i < len(b.expects):
			var v []byte
			err := br.QueryRow().Scan(&v)
			if errors.Is(err, pgx.ErrNoRows) || err == nil && string(v) != string(c.v) {
				conflict = true
			} else if err != nil {
				br.Close()
				return err
			}
		case c.insert:
			var one int
			err := br.QueryRow().Scan(&one)
			if errors.Is(err, pgx.ErrNoRows) {
				conflict = true
			} else if err != nil {
				br.Close()
				return err
			}
		default:
			if _, err := br.Exec(); err != nil {
				br.Close()
				return err
			}
		}
	}
	if err := br.Close(); err != nil {
		return err
	}
	if conflict {
		return errConflict
	}
	return nil
}

// retryable reports whether a transaction failed only because it lost a
// race PostgreSQL resolved by aborting it: a deadlock, a serialisation
// failure, or two inserts of one new key.
func retryable(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "40P01", "40001":
			return true
		case "23505":
			return true
		}
	}
	return false
}

func (p *pgStore) commit(ctx context.Context, b *batch) error {
	if b.empty() {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, pgTimeout)
	defer cancel()
	err := pgx.BeginFunc(ctx, p.pool, func(tx pgx.Tx) error { return pgApply(ctx, tx, b) })
	if retryable(err) {
		// A unique violation here is an insert racing another insert of
		// the same key; the loser re-reads like any other conflict.
		return errConflict
	}
	return err
}

type pgTxn struct {
	ctx context.Context
	tx  pgx.Tx
	b   batch
}

func (t *pgTxn) lock(keys [][]byte) (map[string][]byte, error) {
	out := make(map[string][]byte, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	// Locking in key order: two transactions locking overlapping sets
	// then wait for each other instead of deadlocking.
	rows, err := t.tx.Query(t.ctx, `SELECT k, v FROM evidence_kv WHERE k = ANY($1) ORDER BY k FOR UPDATE`, keys)
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
	return out, rows.Err()
}

func (t *pgTxn) mutex(name string) error {
	_, err := t.tx.Exec(t.ctx, "SELECT pg_advisory_xact_lock($1)", lockID(name))
	return err
}

func (t *pgTxn) scan(lower, upper []byte, fn func(k, v []byte) (bool, error)) error {
	return pgScan(t.ctx, t.tx, lower, upper, fn)
}

func (t *pgTxn) batch() *batch { return &t.b }

// maxTxnAttempts bounds the retries of an update that keeps losing races.
const maxTxnAttempts = 8

func (p *pgStore) update(ctx context.Context, fn func(tx txn) error) error {
	var err error
	for range maxTxnAttempts {
		err = func() error {
			ctx, cancel := context.WithTimeout(ctx, pgTimeout)
			defer cancel()
			return pgx.BeginFunc(ctx, p.pool, func(tx pgx.Tx) error {
				t := &pgTxn{ctx: ctx, tx: tx}
				if err := fn(t); err != nil {
					return err
				}
				if t.b.empty() {
					return nil
				}
				return pgApply(ctx, tx, &t.b)
			})
		}()
		// A failed precondition (a record another process created first)
		// is retried like a lost deadlock: fn reads again.
		if !retryable(err) && !errors.Is(err, errConflict) {
			return err
		}
	}
	return fmt.Errorf("evidence: transaction kept conflicting: %w", err)
}
