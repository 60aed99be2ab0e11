package ledgerlog_test

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cunzheng/cunzheng/evidence"
	"github.com/cunzheng/cunzheng/evidence/ledgerlog"
	"github.com/cunzheng/cunzheng/ledger"
	"golang.org/x/mod/sumdb/tlog"
)

var t0 = time.Date(2026, 11, 24, 1, 0, 0, 0, time.UTC)

func demoBatch(t testing.TB) []byte {
	b, err := os.ReadFile("../testdata/demo_batch.json")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func event(i int) json.RawMessage { return benchEvent(int64(i)) }

func batch(evs ...json.RawMessage) []byte {
	b, _ := json.Marshal(map[string]any{"events": evs})
	return b
}

// openLedger opens the real ledger on an in-memory Pebble.
func openLedger(t testing.TB) *ledger.Log {
	t.Helper()
	store, err := ledger.OpenPebbleStore("ledger", ledger.PebbleOptions{FS: vfs.NewMem()})
	if err != nil {
		t.Fatal(err)
	}
	keys, err := ledger.LoadOrCreateKeys(filepath.Join(t.TempDir(), "keys"), "cunzheng.example/test")
	if err != nil {
		t.Fatal(err)
	}
	l, err := ledger.Open(context.Background(), ledger.Config{Store: store, Origin: keys.Name(), Signers: keys.Signers()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// TestWithRealLedger runs ingest, concurrency and erasure against
// ledger.Log and checks inclusion proofs with x/mod/sumdb/tlog.
func TestWithRealLedger(t *testing.T) {
	l := openLedger(t)
	dir := t.TempDir()
	master, _ := evidence.GenerateMasterKey()
	_, key, err := evidence.CreateTenant(dir, master, "伟伟集团", nil, t0)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := evidence.Open(context.Background(), evidence.Config{Dir: dir, Master: master, Log: ledgerlog.New(l), FS: vfs.NewMem()})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	p, err := svc.Authenticate(key)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	rs, err := svc.Ingest(ctx, p, demoBatch(t))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for c := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 20 {
				if _, err := svc.Ingest(ctx, p, batch(event(i), event(i+20))); err != nil {
					errs[c] = err
					return
				}
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if _, err := svc.Erase(ctx, p, "18501775544"); err != nil {
		t.Fatal(err)
	}
	if got, want := l.Size(), uint64(6+40+1); got != want {
		t.Fatalf("ledger size %d, want %d", got, want)
	}
	size := l.Size()
	root, err := tlog.TreeHash(int64(size), hashReader{ctx, l})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		leaf, err := l.Leaf(ctx, r.Index)
		if err != nil {
			t.Fatal(err)
		}
		if h := tlog.RecordHash(leaf); hex.EncodeToString(h[:]) != r.LeafHash {
			t.Errorf("leaf %d hash mismatch", r.Index)
		}
		pf, err := l.InclusionProof(ctx, r.Index, size)
		if err != nil {
			t.Fatal(err)
		}
		if err := tlog.CheckRecord(tlog.RecordProof(pf), int64(size), root, int64(r.Index), tlog.RecordHash(leaf)); err != nil {
			t.Errorf("leaf %d after erasure: %v", r.Index, err)
		}
	}
}

// hashReader reads stored hashes through leaves and proofs: it recomputes
// the tree from the ledger's leaves, independently of ledger's own code.
type hashReader struct {
	ctx context.Context
	l   *ledger.Log
}

func (h hashReader) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	n := h.l.Size()
	var stored []tlog.Hash
	for i := uint64(0); i < n; i++ {
		leaf, err := h.l.Leaf(h.ctx, i)
		if err != nil {
			return nil, err
		}
		hs, err := tlog.StoredHashes(int64(i), leaf, tlog.HashReaderFunc(func(ix []int64) ([]tlog.Hash, error) {
			out := make([]tlog.Hash, len(ix))
			for j, x := range ix {
				if x >= int64(len(stored)) {
					return nil, errors.New("index beyond")
				}
				out[j] = stored[x]
			}
			return out, nil
		}))
		if err != nil {
			return nil, err
		}
		stored = append(stored, hs...)
	}
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		if x >= int64(len(stored)) {
			return nil, fmt.Errorf("hash %d not stored", x)
		}
		out[i] = stored[x]
	}
	return out, nil
}
