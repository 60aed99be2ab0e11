package evidence

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/jackc/pgx/v5"

	"github.com/cunzheng/cunzheng/ledger/cluster/clustertest"
)

// TestQueueBatchStatements: a batch of interleaved writes to distinct keys
// is one statement per kind, not one per run; a repeated key and a range
// deletion are what cut it.
func TestQueueBatchStatements(t *testing.T) {
	k := func(i int) []byte { return fmt.Appendf(nil, "k%03d", i) }
	tests := []struct {
		name  string
		build func(b *batch)
		want  int
	}{
		{"a hundred pending claims: the mark is in the claim's row", func(b *batch) {
			for i := range 100 {
				b.insertPending(append([]byte("i"), k(i)...), []byte("claim"))
			}
		}, 1},
		{"a hundred claims done and their index rows", func(b *batch) {
			for i := range 100 {
				b.setDone(append([]byte("i"), k(i)...), []byte("done"))
				b.set(append([]byte("e"), k(i)...), []byte("entry"))
			}
		}, 2},
		{"a hundred keys and their marks, as separate writes", func(b *batch) {
			for i := range 100 {
				b.insert(append([]byte("i"), k(i)...), []byte("claim"))
				b.set(append([]byte("p"), k(i)...), nil)
			}
		}, 2},
		{"a key set again: the last value replaces the first", func(b *batch) {
			b.set(k(1), []byte("a"))
			b.set(k(2), []byte("b"))
			b.set(k(1), []byte("c"))
		}, 1},
		{"a key inserted, then set", func(b *batch) {
			b.insert(k(1), []byte("a"))
			b.set(k(2), []byte("b"))
			b.set(k(1), []byte("c"))
		}, 3},
		{"a key deleted, then set", func(b *batch) {
			b.set(k(1), []byte("a"))
			b.delete(k(1))
			b.set(k(1), []byte("c"))
		}, 3},
		{"a range deletion between writes", func(b *batch) {
			b.set(k(1), []byte("a"))
			b.deleteRange(k(0), k(9))
			b.set(k(2), []byte("b"))
			b.delete(k(3))
		}, 4},
		{"preconditions first", func(b *batch) {
			b.expect(k(1), []byte("x"))
			b.expect(k(1), []byte("x"))
			b.set(k(1), []byte("y"))
		}, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var b batch
			tc.build(&b)
			var pb pgx.Batch
			queueBatch(&pb, &b, false)
			if pb.Len() != tc.want {
				t.Errorf("%d statements, want %d", pb.Len(), tc.want)
			}
		})
	}
}

// TestQueueBatchKeepsMeaning: random batches of sets, inserts, deletes and
// range deletions over few keys (so that keys repeat and ranges cover
// earlier and later writes), and of claims written pending and then done,
// leave PostgreSQL exactly as applying them one by one, in order, leaves a
// map, and so does the embedded store: the same keys and values, and the
// same claims pending (scanPending), though PostgreSQL keeps the mark in
// the claim's row and Pebble as a key of its own. PostgreSQL is written
// twice, by commit (sets as INSERT ... ON CONFLICT) and by update (every
// write a MERGE), each into a database of its own.
func TestQueueBatchKeepsMeaning(t *testing.T) {
	if testing.Short() {
		t.Skip("runs PostgreSQL")
	}
	ctx := context.Background()
	pg := clustertest.StartPostgres(t)
	st, err := OpenPostgres(ctx, pg.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	stu, err := OpenPostgres(ctx, pg.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	defer stu.Close()
	pe, err := openPebble(t.TempDir(), vfs.Default, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer pe.Close()
	type writer struct {
		name  string
		s     Store
		write func(b *batch) error
	}
	byCommit := func(s Store) func(b *batch) error {
		return func(b *batch) error { return s.commit(ctx, b) }
	}
	stores := []writer{
		{"postgres commit", st, byCommit(st)},
		{"postgres update", stu, func(b *batch) error {
			return stu.update(ctx, func(tx txn) error {
				*tx.batch() = *b
				return nil
			})
		}},
		{"pebble", pe, byCommit(pe)},
	}
	rng := rand.New(rand.NewPCG(1, 2))
	model := map[string][]byte{}
	pending := map[string]bool{}
	key := func() []byte { return fmt.Appendf(nil, "k%02d", rng.IntN(24)) }
	// Claims have keys of their own, never deleted, as the service's are.
	claimKey := func() []byte { return fmt.Appendf(nil, "i/%02d", rng.IntN(12)) }
	for round := range 60 {
		var b batch
		next := maps.Clone(model)
		nextPending := maps.Clone(pending)
		written := map[string]bool{}
		for range 1 + rng.IntN(40) {
			k := key()
			if len(b.ops) > 0 {
				if o := b.ops[len(b.ops)-1]; o.kind != opDelete && o.kind != opDeleteRange {
					written[string(o.k)] = true
				}
			}
			switch n := rng.IntN(12); {
			case n < 4:
				v := fmt.Appendf(nil, "v%d", rng.IntN(3))
				b.set(k, v)
				next[string(k)] = v
			case n < 7:
				// An insert must find the key absent or equal; keep it so
				// (a conflicting one fails the whole batch, tested
				// elsewhere): as it was before the batch, which Pebble
				// checks, and where the batch set it, as PostgreSQL does.
				if written[string(k)] {
					continue
				}
				v, ok := model[string(k)]
				if !ok {
					v = fmt.Appendf(nil, "v%d", rng.IntN(3))
				}
				b.insert(k, v)
				next[string(k)] = v
			case n < 9:
				b.delete(k)
				delete(next, string(k))
			case n < 10:
				k := claimKey()
				if written[string(k)] {
					continue
				}
				v, ok := model[string(k)]
				if !ok {
					v = fmt.Appendf(nil, "pending%d", rng.IntN(3))
				}
				b.insertPending(k, v)
				next[string(k)], nextPending[string(k)] = v, true
			case n < 11:
				k := claimKey()
				v := fmt.Appendf(nil, "done%d", rng.IntN(3))
				b.setDone(k, v)
				next[string(k)] = v
				delete(nextPending, string(k))
			default:
				lo, hi := key(), key()
				if bytes.Compare(lo, hi) > 0 {
					lo, hi = hi, lo
				}
				b.deleteRange(lo, hi)
				for k := range next {
					if k >= string(lo) && k < string(hi) {
						delete(next, k)
					}
				}
			}
		}
		model, pending = next, nextPending
		for _, w := range stores {
			s := w.s
			if err := w.write(&b); err != nil {
				t.Fatalf("%s round %d: %v", w.name, round, err)
			}
			got := map[string][]byte{}
			if err := s.scan(ctx, nil, nil, func(k, v []byte) (bool, error) {
				if k[0] != 'p' { // Pebble's marks: compared below
					got[string(k)] = bytes.Clone(v)
				}
				return true, nil
			}); err != nil {
				t.Fatal(err)
			}
			if len(got) != len(model) {
				t.Fatalf("%s round %d: %d keys, want %d (%q vs %q)", w.name, round, len(got), len(model), got, model)
			}
			for k, v := range model {
				if !bytes.Equal(got[k], v) {
					t.Fatalf("%s round %d: %s = %q, want %q", w.name, round, k, got[k], v)
				}
			}
			var gotPending []string
			if err := s.scanPending(ctx, func(k []byte) (bool, error) {
				gotPending = append(gotPending, string(k))
				return true, nil
			}); err != nil {
				t.Fatal(err)
			}
			if want := slices.Sorted(maps.Keys(pending)); !slices.Equal(gotPending, want) {
				t.Fatalf("%s round %d: pending %q, want %q", w.name, round, gotPending, want)
			}
		}
	}
}

// TestOpenPostgresConvertsPendingRows: a table of the build that kept a
// claim's pending mark as a row of its own (p/<tenant>/<id>) is converted
// at open: the marks move onto their claims' rows, which recovery then
// finds, and the p/ rows are gone. Opening again changes nothing.
func TestOpenPostgresConvertsPendingRows(t *testing.T) {
	if testing.Short() {
		t.Skip("runs PostgreSQL")
	}
	ctx := context.Background()
	dsn := clustertest.Postgres(t)
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	old := []struct{ k, v string }{
		{"i/t1/a", "pending a"},
		{"i/t1/b", "done b"},
		{"i/t2/\x00erase/s/k", "pending erasure"},
		{"p/t1/a", ""},
		{"p/t2/\x00erase/s/k", ""},
		{"e/t1/c/0001", "entry"},
	}
	if _, err := conn.Exec(ctx, `CREATE TABLE evidence_kv (k bytea PRIMARY KEY, v bytea NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	for _, r := range old {
		if _, err := conn.Exec(ctx, `INSERT INTO evidence_kv VALUES ($1, $2)`, []byte(r.k), []byte(r.v)); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 {
		st, err := OpenPostgres(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		var pending []string
		if err := st.scanPending(ctx, func(k []byte) (bool, error) {
			pending = append(pending, string(k))
			return true, nil
		}); err != nil {
			t.Fatal(err)
		}
		if want := []string{"i/t1/a", "i/t2/\x00erase/s/k"}; !slices.Equal(pending, want) {
			t.Errorf("pending %q, want %q", pending, want)
		}
		var keys []string
		if err := st.scan(ctx, nil, nil, func(k, _ []byte) (bool, error) {
			keys = append(keys, string(k))
			return true, nil
		}); err != nil {
			t.Fatal(err)
		}
		if want := []string{"e/t1/c/0001", "i/t1/a", "i/t1/b", "i/t2/\x00erase/s/k"}; !slices.Equal(keys, want) {
			t.Errorf("keys %q, want %q", keys, want)
		}
		st.Close()
	}
}

// TestCommitQueueGroups: batches committed while a transaction is in
// flight go in one transaction after it, and each still gets its own
// outcome: a lost race and a statement PostgreSQL refuses fail exactly
// their own batch, with nothing of it written, and the others commit; a
// batch whose precondition reads a key an earlier queued batch writes
// sees that write, as if committed alone after it.
func TestCommitQueueGroups(t *testing.T) {
	if testing.Short() {
		t.Skip("runs PostgreSQL")
	}
	ctx := context.Background()
	dsn := clustertest.Postgres(t)
	st, err := OpenPostgres(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	p := st.(*pgStore)
	b := &batch{}
	b.set([]byte("blk"), []byte("0"))
	b.set([]byte("taken"), []byte("first"))
	b.set([]byte("sk"), []byte("key"))
	if err := p.commit(ctx, b); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	// Asked on a connection of its own: a transaction sees one snapshot of
	// the server's activity.
	watch, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer watch.Close(ctx)
	rng := rand.New(rand.NewPCG(3, 4))
	queued := func() int {
		p.cq.mu.Lock()
		defer p.cq.mu.Unlock()
		return len(p.cq.waiting)
	}
	type queuedBatch struct {
		name string
		fill func(b *batch)
		want error // nil, errConflict, or errRefused
	}
	errRefused := errors.New("PostgreSQL's refusal")
	// round commits lead while a transaction elsewhere holds the row it
	// writes, queues the others one after the other behind it, lets it go
	// and checks each outcome.
	round := func(batches []queuedBatch) {
		t.Helper()
		blocker, err := conn.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := blocker.Exec(ctx, `SELECT 1 FROM evidence_kv WHERE k = 'blk' FOR UPDATE`); err != nil {
			t.Fatal(err)
		}
		lead := &batch{}
		lead.set([]byte("blk"), fmt.Appendf(nil, "%d", rng.Uint32()))
		leadErr := make(chan error, 1)
		go func() { leadErr <- p.commit(ctx, lead) }()
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
			var blocked bool
			if err := watch.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_stat_activity
				WHERE datname = current_database() AND wait_event_type = 'Lock')`).Scan(&blocked); err != nil {
				t.Fatal(err)
			}
			if blocked {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the first batch never waited for the locked row")
			}
		}
		errs := make([]chan error, len(batches))
		for i, qb := range batches {
			b := &batch{sync: true}
			qb.fill(b)
			errs[i] = make(chan error, 1)
			go func() { errs[i] <- p.commit(ctx, b) }()
			for deadline := time.Now().Add(10 * time.Second); queued() != i+1; time.Sleep(time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("%s: %d batches queued, want %d", qb.name, queued(), i+1)
				}
			}
		}
		if err := blocker.Rollback(ctx); err != nil {
			t.Fatal(err)
		}
		if err := <-leadErr; err != nil {
			t.Errorf("lead: %v", err)
		}
		for i, qb := range batches {
			err := <-errs[i]
			switch qb.want {
			case nil:
				if err != nil {
					t.Errorf("%s: %v", qb.name, err)
				}
			case errRefused:
				if err == nil || errors.Is(err, errConflict) {
					t.Errorf("%s: err = %v, want PostgreSQL's refusal", qb.name, err)
				}
			default:
				if !errors.Is(err, qb.want) {
					t.Errorf("%s: err = %v, want %v", qb.name, err, qb.want)
				}
			}
		}
	}
	round([]queuedBatch{
		{"race", func(b *batch) {
			b.set([]byte("race-side"), []byte("x"))
			b.insert([]byte("taken"), []byte("second"))
		}, errConflict},
		{"plain", func(b *batch) { b.insertPending([]byte("i/plain"), []byte("p")) }, nil},
		{"refused", func(b *batch) {
			b.set([]byte("refused-side"), []byte("x"))
			// Incompressible, and too long for a btree entry.
			long := make([]byte, 9000)
			for i := range long {
				long[i] = byte(rng.Uint32())
			}
			b.set(long, []byte("a key too long for the index"))
		}, errRefused},
		{"last", func(b *batch) { b.set([]byte("last"), []byte("x")) }, nil},
	})
	if p.cq.largest != 4 {
		t.Errorf("the most batches in one transaction: %d, want the 4 queued", p.cq.largest)
	}
	// Nothing in the way but the order: the erasure's successor reads
	// the key it deletes.
	round([]queuedBatch{
		{"erase", func(b *batch) { b.delete([]byte("sk")) }, nil},
		{"uses erased", func(b *batch) {
			b.expect([]byte("sk"), []byte("key"))
			b.set([]byte("uses-side"), []byte("x"))
		}, errConflict},
		{"after", func(b *batch) { b.set([]byte("after"), []byte("x")) }, nil},
	})
	got := map[string]string{}
	if err := p.scan(ctx, nil, nil, func(k, v []byte) (bool, error) {
		if string(k) != "blk" {
			got[string(k)] = string(v)
		}
		return true, nil
	}); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"taken": "first", "i/plain": "p", "last": "x", "after": "x"}
	if !maps.Equal(got, want) {
		t.Errorf("stored %d keys, want %q", len(got), want)
		for k, v := range got {
			if len(k) < 100 {
				t.Logf("%q = %q", k, v)
			}
		}
	}
	var pending []string
	p.scanPending(ctx, func(k []byte) (bool, error) { pending = append(pending, string(k)); return true, nil })
	if !slices.Equal(pending, []string{"i/plain"}) {
		t.Errorf("pending %q", pending)
	}
}
