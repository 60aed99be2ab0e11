package cluster_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/cunzheng/cunzheng/ledger"
	"github.com/cunzheng/cunzheng/ledger/cluster"
	"github.com/cunzheng/cunzheng/ledger/cluster/clustertest"
	"github.com/cunzheng/cunzheng/ledger/storetest"
)

// servers starts one PostgreSQL and one S3 server for a test; each store
// then gets its own database and bucket.
type servers struct {
	pg *clustertest.PG
	s3 *clustertest.S3Server
}

func startServers(t *testing.T) *servers {
	for _, kv := range clustertest.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	return &servers{pg: clustertest.StartPostgres(t), s3: clustertest.StartS3(t)}
}

// fresh returns the DSN and objects URL of a new, empty cluster.
func (s *servers) fresh(t *testing.T) (dsn, objects string) {
	return s.pg.NewDatabase(t), fmt.Sprintf("s3://%s?endpoint=%s&region=%s", s.s3.NewBucket(t), s.s3.Endpoint, clustertest.Region)
}

func openStore(t *testing.T, dsn, objects string) *cluster.Store {
	t.Helper()
	ctx := context.Background()
	obj, err := cluster.OpenObjects(ctx, objects)
	if err != nil {
		t.Fatal(err)
	}
	st, err := cluster.Open(ctx, dsn, obj, cluster.Options{MaxConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestClusterStoreConformance(t *testing.T) {
	srv := startServers(t)
	storetest.RunShared(t, func(t *testing.T) func() ledger.SharedStore {
		dsn, objects := srv.fresh(t)
		return func() ledger.SharedStore { return openStore(t, dsn, objects) }
	})
}

// TestLeaseTakeoverPastStuckHolder: a lapsed holder whose session still
// holds the lease row while active (paused mid-statement, where the idle
// timeout does not apply) must not block the takeover.
func TestLeaseTakeoverPastStuckHolder(t *testing.T) {
	ctx := context.Background()
	srv := startServers(t)
	dsn, objects := srv.fresh(t)
	a, b := openStore(t, dsn, objects), openStore(t, dsn, objects)
	defer a.Close()
	defer b.Close()
	tokA, ok, err := a.Lease(ctx, "a", time.Second)
	if err != nil || !ok {
		t.Fatalf("first lease: %v %v", ok, err)
	}
	// The stuck session: the fence's row lock, then a statement that keeps
	// the session active.
	x, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close(context.Background())
	tx, err := x.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "SELECT 1 FROM ledger_lease WHERE id = 1 FOR SHARE"); err != nil {
		t.Fatal(err)
	}
	stuck := make(chan error, 1)
	go func() {
		_, err := tx.Exec(ctx, "SELECT pg_sleep(60)")
		stuck <- err
	}()
	time.Sleep(1200 * time.Millisecond) // a's lease lapses

	lctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	start := time.Now()
	tokB, ok, err := b.Lease(lctx, "b", time.Second)
	if err != nil || !ok || tokB <= tokA {
		t.Fatalf("takeover past a stuck session: ok %v, token %d (was %d), %v after %v", ok, tokB, tokA, err, time.Since(start))
	}
	t.Logf("taken over in %v", time.Since(start).Round(time.Millisecond))
	select {
	case err := <-stuck:
		if err == nil {
			t.Error("the stuck session's statement finished normally")
		}
	case <-time.After(10 * time.Second):
		t.Error("the stuck session was not ended")
	}
	// The lapsed holder's fenced writes are refused.
	if err := a.CheckLease(ctx); !errors.Is(err, ledger.ErrFenced) {
		t.Errorf("old holder's fence: %v, want ErrFenced", err)
	}
}

// TestOpenConvertsLeafRows: a database written by a cunzheng that kept one
// row per leaf (ledger_leaves) is converted to batch rows at Open, with
// the same indexes, hashes and bytes, and sequencing continues after it
// with exact dedup against the converted leaves.
func TestOpenConvertsLeafRows(t *testing.T) {
	ctx := context.Background()
	srv := startServers(t)
	dsn, objects := srv.fresh(t)
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	const n = 5000 // more than one converted batch of 4,096
	if _, err := conn.Exec(ctx, `
CREATE TABLE ledger_leaves (idx bigint PRIMARY KEY, leaf_hash bytea NOT NULL UNIQUE, leaf bytea NOT NULL);
CREATE TABLE ledger_counter (id int PRIMARY KEY CHECK (id = 1), next bigint NOT NULL);
INSERT INTO ledger_counter VALUES (1, 5000);
CREATE FUNCTION ledger_sequence(hs bytea[], ls bytea[], OUT first_new bigint, OUT indexes bigint[]) LANGUAGE sql AS $$ SELECT 0::bigint, NULL::bigint[] $$;
INSERT INTO ledger_leaves SELECT i, sha256(('leaf ' || i)::bytea), ('leaf ' || i)::bytea FROM generate_series(0, 4999) AS i;`); err != nil {
		t.Fatal(err)
	}
	st := openStore(t, dsn, objects)
	defer st.Close()
	leaves, hashes, err := st.ReadSequenced(ctx, 4090, 20)
	if err != nil || len(leaves) != 20 {
		t.Fatalf("ReadSequenced(4090, 20) = %d leaves, %v", len(leaves), err)
	}
	for i := range leaves {
		want := fmt.Sprintf("leaf %d", 4090+i)
		if string(leaves[i]) != want || hashes[i] != sha256.Sum256([]byte(want)) {
			t.Fatalf("leaf %d = %q, want %q", 4090+i, leaves[i], want)
		}
	}
	if got, _, _ := st.ReadSequenced(ctx, n-3, 10); len(got) != 3 {
		t.Errorf("ReadSequenced at the end = %d leaves, want 3", len(got))
	}
	lvl, err := st.ReadLevel(ctx, 0, 4095, 2)
	if err != nil || lvl[1] != sha256.Sum256([]byte("leaf 4096")) {
		t.Errorf("ReadLevel(0, 4095, 2) = %x, %v", lvl, err)
	}
	// A known leaf is a duplicate at its old index; a new one follows.
	known := []byte("leaf 4321")
	idx, dup, err := st.Sequence(ctx, [][]byte{[]byte("new leaf"), known}, []tlog.Hash{sha256.Sum256([]byte("new leaf")), sha256.Sum256(known)})
	if err != nil || idx[0] != n || dup[0] || idx[1] != 4321 || !dup[1] {
		t.Fatalf("Sequence after conversion = %v %v %v, want [5000 4321] [false true]", idx, dup, err)
	}
	var old *string
	if err := conn.QueryRow(ctx, "SELECT to_regclass('ledger_leaves')::text").Scan(&old); err != nil || old != nil {
		t.Errorf("ledger_leaves still there (%v, %v)", old, err)
	}
}

// TestOpenConvertsNodeRows: a database written by a cunzheng that kept one
// row per node (ledger_nodes) is converted at Open into rows of 4,096
// leaves' nodes, and every node reads back as it was, across the rows'
// bounds, by ReadNodes and by ReadLevel.
func TestOpenConvertsNodeRows(t *testing.T) {
	ctx := context.Background()
	srv := startServers(t)
	dsn, objects := srv.fresh(t)
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	const n = 5000 // the last row holds a partial range
	levels := [][]tlog.Hash{make([]tlog.Hash, n)}
	for i := range levels[0] {
		levels[0][i] = tlog.RecordHash(fmt.Appendf(nil, "leaf %d", i))
	}
	for lv := 1; len(levels[lv-1]) >= 2; lv++ {
		below := levels[lv-1]
		up := make([]tlog.Hash, len(below)/2)
		for i := range up {
			up[i] = tlog.NodeHash(below[2*i], below[2*i+1])
		}
		levels = append(levels, up)
	}
	if _, err := conn.Exec(ctx, `
CREATE TABLE ledger_tree (id int PRIMARY KEY CHECK (id = 1), size bigint NOT NULL, hashes bytea NOT NULL);
INSERT INTO ledger_tree VALUES (1, 5000, '');
CREATE TABLE ledger_nodes (level smallint NOT NULL, idx bigint NOT NULL, hash bytea NOT NULL, PRIMARY KEY (level, idx));
CREATE FUNCTION ledger_integrate(p_holder text, p_token bigint, p_start bigint, p_size bigint, p_hashes bytea,
	lv smallint[], ix bigint[], nh bytea[]) RETURNS int LANGUAGE sql AS $$ SELECT 0 $$;`); err != nil {
		t.Fatal(err)
	}
	var rows [][]any
	for lv := 1; lv < len(levels); lv++ {
		for i, h := range levels[lv] {
			rows = append(rows, []any{int16(lv), int64(i), h[:]})
		}
	}
	if _, err := conn.CopyFrom(ctx, pgx.Identifier{"ledger_nodes"}, []string{"level", "idx", "hash"}, pgx.CopyFromRows(rows)); err != nil {
		t.Fatal(err)
	}
	st := openStore(t, dsn, objects)
	defer st.Close()
	var ids []ledger.NodeID
	var want []tlog.Hash
	for lv := 1; lv < len(levels); lv++ {
		for i := range levels[lv] {
			if i%7 == 0 || i == len(levels[lv])-1 {
				ids = append(ids, ledger.NodeID{Level: uint8(lv), Index: uint64(i)})
				want = append(want, levels[lv][i])
			}
		}
		// Whole levels, and a slice across the 4,096-leaf bound.
		got, err := st.ReadLevel(ctx, uint8(lv), 0, len(levels[lv]))
		if err != nil || fmt.Sprint(got) != fmt.Sprint(levels[lv]) {
			t.Fatalf("ReadLevel(%d, 0, %d) = %v, want the level as it was", lv, len(levels[lv]), err)
		}
	}
	got, err := st.ReadNodes(ctx, ids)
	if err != nil || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("ReadNodes = %v, want the nodes as they were", err)
	}
	if got, err := st.ReadLevel(ctx, 1, 2040, 20); err != nil || fmt.Sprint(got) != fmt.Sprint(levels[1][2040:2060]) {
		t.Fatalf("ReadLevel(1, 2040, 20) = %v", err)
	}
	if _, err := st.ReadNodes(ctx, []ledger.NodeID{{Level: 1, Index: n / 2}}); !errors.Is(err, ledger.ErrNotFound) {
		t.Fatalf("a node past the tree: %v, want ErrNotFound", err)
	}
	var old *string
	if err := conn.QueryRow(ctx, "SELECT to_regclass('ledger_nodes')::text").Scan(&old); err != nil || old != nil {
		t.Errorf("ledger_nodes still there (%v, %v)", old, err)
	}
	var fns int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_proc WHERE proname = 'ledger_integrate'").Scan(&fns); err != nil || fns != 1 {
		t.Errorf("%d ledger_integrate functions (%v), want the new one only", fns, err)
	}
}

// TestReadSequencedFlushes: what ReadSequenced returns is flushed to the
// WAL when it returns, although its sequencing committed without waiting
// for the flush. The check reads the flush position right after the read;
// the WAL writer flushes asynchronous commits on its own within a few
// hundred milliseconds, so a wrong read passes this only by chance (it
// failed 20 of 20 rounds before the read wrote its flush row).
func TestReadSequencedFlushes(t *testing.T) {
	ctx := context.Background()
	srv := startServers(t)
	dsn, objects := srv.fresh(t)
	st := openStore(t, dsn, objects)
	defer st.Close()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for i := range 20 {
		leaf := []byte(fmt.Sprintf("leaf %d", i))
		if _, _, err := st.Sequence(ctx, [][]byte{leaf}, []tlog.Hash{sha256.Sum256(leaf)}); err != nil {
			t.Fatal(err)
		}
		var inserted string
		if err := conn.QueryRow(ctx, "SELECT pg_current_wal_insert_lsn()::text").Scan(&inserted); err != nil {
			t.Fatal(err)
		}
		if got, _, err := st.ReadSequenced(ctx, uint64(i), 10); err != nil || len(got) != 1 {
			t.Fatalf("ReadSequenced(%d) = %d leaves, %v", i, len(got), err)
		}
		var flushedOK bool
		if err := conn.QueryRow(ctx, "SELECT pg_current_wal_flush_lsn() >= $1::pg_lsn", inserted).Scan(&flushedOK); err != nil {
			t.Fatal(err)
		}
		if !flushedOK {
			t.Fatalf("round %d: the WAL is not flushed past the sequencing commit (%s) when ReadSequenced returns", i, inserted)
		}
	}
}

// TestIdleReadSequencedWritesNothing: the integrator polls ReadSequenced;
// a read that finds nothing new must not commit a transaction id (whose
// commit record would be written and flushed on every poll of an idle
// cluster). Only a read that returns leaves makes them durable.
func TestIdleReadSequencedWritesNothing(t *testing.T) {
	ctx := context.Background()
	srv := startServers(t)
	dsn, objects := srv.fresh(t)
	st := openStore(t, dsn, objects)
	defer st.Close()
	leaf := []byte("leaf")
	if _, _, err := st.Sequence(ctx, [][]byte{leaf}, []tlog.Hash{sha256.Sum256(leaf)}); err != nil {
		t.Fatal(err)
	}
	if got, _, err := st.ReadSequenced(ctx, 0, 10); err != nil || len(got) != 1 {
		t.Fatalf("ReadSequenced(0) = %d leaves, %v", len(got), err)
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var before, after string
	if err := conn.QueryRow(ctx, "SELECT pg_current_wal_insert_lsn()::text").Scan(&before); err != nil {
		t.Fatal(err)
	}
	for range 20 {
		if got, _, err := st.ReadSequenced(ctx, 1, 10); err != nil || len(got) != 0 {
			t.Fatalf("ReadSequenced(1) = %d leaves, %v", len(got), err)
		}
	}
	if err := conn.QueryRow(ctx, "SELECT pg_current_wal_insert_lsn()::text").Scan(&after); err != nil {
		t.Fatal(err)
	}
	if before != after {
		t.Errorf("20 idle reads moved the WAL from %s to %s", before, after)
	}
}

// TestReadSequencedOwnLeaves: the lease holder's integrator gets the bytes
// of the leaves it sequenced itself from memory (the database sends their
// hashes only), the others' from the database, and a batch the database
// holds at one of its starts with other hashes (its own batch lost in a
// crash, the start given to another) from the database too.
func TestReadSequencedOwnLeaves(t *testing.T) {
	ctx := context.Background()
	srv := startServers(t)
	dsn, objects := srv.fresh(t)
	st := openStore(t, dsn, objects)
	defer st.Close()
	other := openStore(t, dsn, objects)
	defer other.Close()
	if _, held, err := st.Lease(ctx, "a", time.Minute); err != nil || !held {
		t.Fatalf("lease: %v %v", held, err)
	}
	seq := func(s *cluster.Store, leaves ...string) {
		t.Helper()
		var ls [][]byte
		var hs []tlog.Hash
		for _, l := range leaves {
			ls, hs = append(ls, []byte(l)), append(hs, tlog.RecordHash([]byte(l)))
		}
		if _, _, err := s.Sequence(ctx, ls, hs); err != nil {
			t.Fatal(err)
		}
	}
	check := func(start uint64, want ...string) {
		t.Helper()
		leaves, hashes, err := st.ReadSequenced(ctx, start, 100)
		if err != nil || len(leaves) != len(want) {
			t.Fatalf("ReadSequenced(%d) = %d leaves, %v; want %d", start, len(leaves), err, len(want))
		}
		for i, w := range want {
			if string(leaves[i]) != w || hashes[i] != tlog.RecordHash([]byte(w)) {
				t.Fatalf("leaf %d = %q, want %q", start+uint64(i), leaves[i], w)
			}
		}
	}
	seq(st, "own 0", "own 1", "own 2")
	seq(other, "other 3", "other 4")
	// The stored bytes of the holder's batch are not what it reads: the
	// same hashes, other bytes, and it still gets its own.
	if _, err := st.Pool().Exec(ctx, "UPDATE ledger_batches SET leaves = array['x', 'y', 'z']::bytea[] WHERE start = 0"); err != nil {
		t.Fatal(err)
	}
	check(0, "own 0", "own 1", "own 2", "other 3", "other 4")
	seq(st, "own 5", "own 6")
	// As after a crash that lost the holder's batch at 5: another batch
	// there now.
	if _, err := st.Pool().Exec(ctx, "UPDATE ledger_batches SET hashes = $1, leaves = $2 WHERE start = 5",
		[][]byte{hashOf("else 5"), hashOf("else 6")}, [][]byte{[]byte("else 5"), []byte("else 6")}); err != nil {
		t.Fatal(err)
	}
	check(5, "else 5", "else 6")
}

func hashOf(leaf string) []byte {
	h := tlog.RecordHash([]byte(leaf))
	return h[:]
}
