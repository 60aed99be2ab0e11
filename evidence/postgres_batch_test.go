package evidence

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

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
		{"a hundred claims and marks", func(b *batch) {
			for i := range 100 {
				b.insert(append([]byte("i"), k(i)...), []byte("claim"))
				b.set(append([]byte("p"), k(i)...), nil)
			}
		}, 2},
		{"a repeated key", func(b *batch) {
			b.set(k(1), []byte("a"))
			b.set(k(2), []byte("b"))
			b.set(k(1), []byte("c"))
		}, 2},
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
			queueBatch(&pb, &b)
			if pb.Len() != tc.want {
				t.Errorf("%d statements, want %d", pb.Len(), tc.want)
			}
		})
	}
}

// TestQueueBatchKeepsMeaning: random batches of sets, inserts, deletes and
// range deletions over few keys (so that keys repeat and ranges cover
// earlier and later writes) leave PostgreSQL exactly as applying them one
// by one, in order, leaves a map.
func TestQueueBatchKeepsMeaning(t *testing.T) {
	if testing.Short() {
		t.Skip("runs PostgreSQL")
	}
	ctx := context.Background()
	st, err := OpenPostgres(ctx, clustertest.Postgres(t))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	p := st.(*pgStore)
	rng := rand.New(rand.NewPCG(1, 2))
	model := map[string][]byte{}
	key := func() []byte { return fmt.Appendf(nil, "k%02d", rng.IntN(24)) }
	for round := range 60 {
		var b batch
		next := map[string][]byte{}
		for k, v := range model {
			next[k] = v
		}
		for range 1 + rng.IntN(40) {
			k := key()
			switch n := rng.IntN(10); {
			case n < 4:
				v := fmt.Appendf(nil, "v%d", rng.IntN(3))
				b.set(k, v)
				next[string(k)] = v
			case n < 7:
				// An insert must find the key absent or equal; keep it so
				// (a conflicting one fails the whole batch, tested
				// elsewhere).
				v, ok := next[string(k)]
				if !ok {
					v = fmt.Appendf(nil, "v%d", rng.IntN(3))
				}
				b.insert(k, v)
				next[string(k)] = v
			case n < 9:
				b.delete(k)
				delete(next, string(k))
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
		if err := p.commit(ctx, &b); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		model = next
		got := map[string][]byte{}
		if err := p.scan(ctx, nil, nil, func(k, v []byte) (bool, error) {
			got[string(k)] = bytes.Clone(v)
			return true, nil
		}); err != nil {
			t.Fatal(err)
		}
		if len(got) != len(model) {
			t.Fatalf("round %d: %d keys, want %d (%q vs %q)", round, len(got), len(model), got, model)
		}
		for k, v := range model {
			if !bytes.Equal(got[k], v) {
				t.Fatalf("round %d: %s = %q, want %q", round, k, got[k], v)
			}
		}
	}
}
