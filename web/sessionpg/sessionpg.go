// Package sessionpg keeps the legal console's sessions in PostgreSQL, for
// cluster mode: every serve process of a cluster sees the same sessions, so
// a load balancer needs no sticky routing and a restart signs nobody out.
//
// A row is keyed by the SHA-256 of the session cookie's value (32 random
// bytes): the value itself is stored nowhere, so reading the table (or a
// backup of it) gives nothing that signs in. The rest of the row is the
// console's own record of the session (who, its CSRF token), opaque here,
// and its creation and last-seen times, which expire it as in memory.
package sessionpg

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Store is a web.SessionBackend on PostgreSQL.
type Store struct {
	pool *pgxpool.Pool
}

const schema = `CREATE TABLE IF NOT EXISTS console_sessions (
	key     bytea PRIMARY KEY,
	rec     bytea NOT NULL,
	created timestamptz NOT NULL,
	seen    timestamptz NOT NULL
)`

// schemaLock serialises schema creation when processes start together
// (CREATE TABLE IF NOT EXISTS is not safe against a concurrent twin).
const schemaLock = 0x637a2d73657373 // "cz-sess"

// Open connects to the database dsn and creates the sessions table if it
// is missing.
func Open(ctx context.Context, dsn string) (*Store, error) {
	pc, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("sessionpg: database DSN: %w", err)
	}
	pc.MaxConns = 4 // a handful of legal users
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("sessionpg: connecting to the database: %w", err)
	}
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", int64(schemaLock)); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, schema)
		return err
	})
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("sessionpg: creating the sessions table: %w", err)
	}
	return &Store{pool: pool}, nil
}

// Close closes the connections.
func (s *Store) Close() { s.pool.Close() }

// Create stores a new session, then drops the expired ones (seen or
// created before idleBefore or createdBefore) and, beyond max, those idle
// longest: the table holds live sessions only, and never more than max.
func (s *Store) Create(ctx context.Context, key [32]byte, rec []byte, now, idleBefore, createdBefore time.Time, max int) error {
	var pb pgx.Batch
	pb.Queue("INSERT INTO console_sessions (key, rec, created, seen) VALUES ($1, $2, $3, $3)", key[:], rec, now)
	pb.Queue("DELETE FROM console_sessions WHERE seen < $1 OR created < $2", idleBefore, createdBefore)
	pb.Queue(`DELETE FROM console_sessions WHERE key IN (
		SELECT key FROM console_sessions ORDER BY seen DESC, key OFFSET $1)`, max)
	// One implicit transaction up to the batch's Sync: all or nothing.
	if err := s.pool.SendBatch(ctx, &pb).Close(); err != nil {
		return fmt.Errorf("database: storing a console session: %w", err)
	}
	return nil
}

// Touch returns the record of session key if it is live (seen at or after
// idleBefore and created at or after createdBefore) and marks it seen at now, in
// one statement.
func (s *Store) Touch(ctx context.Context, key [32]byte, now, idleBefore, createdBefore time.Time) (rec []byte, created time.Time, ok bool, err error) {
	err = s.pool.QueryRow(ctx, `UPDATE console_sessions SET seen = greatest(seen, $2)
		WHERE key = $1 AND seen >= $3 AND created >= $4 RETURNING rec, created`,
		key[:], now, idleBefore, createdBefore).Scan(&rec, &created)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, time.Time{}, false, nil
	}
	if err != nil {
		return nil, time.Time{}, false, fmt.Errorf("database: reading a console session: %w", err)
	}
	return rec, created, true, nil
}

// Delete removes session key (sign-out).
func (s *Store) Delete(ctx context.Context, key [32]byte) error {
	if _, err := s.pool.Exec(ctx, "DELETE FROM console_sessions WHERE key = $1", key[:]); err != nil {
		return fmt.Errorf("database: removing a console session: %w", err)
	}
	return nil
}
