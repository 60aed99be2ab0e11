package notary

import (
	"context"
	"fmt"
	"testing"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/cunzheng/cunzheng/ledger/tlogfmt"
)

// TestLookup: a pulling office proves every leaf it holds from its own copy
// (the proof checks against the log's signed root, and equals the log's
// own proof), names the first checkpoint it cosigned holding it, and says
// which logs it holds no leaves of (a push-only log).
func TestLookup(t *testing.T) {
	ctx := context.Background()
	pulled := newTestLog(t, "cunzheng.example/pulled")
	pushed := newTestLog(t, "cunzheng.example/pushed")
	srv := pulled.Server()
	o := newTestOffice(t, t.TempDir(), pulled.logKey(), pushed.logKey())
	defer o.Close()
	cfg := PullConfig{URL: srv.URL}

	pulled.Append(300)
	pulled.Publish()
	if _, err := o.SyncOnce(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	pulled.Append(1000 - 300)
	pulled.Publish()
	if _, err := o.SyncOnce(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	root := pulled.Root(1000)
	// The log's own tree, built apart from the office, to compare proofs.
	var stored storedHashes
	pulled.Mu.Lock()
	leaves := append([]tlog.Hash(nil), pulled.Leaves[:1000]...)
	pulled.Mu.Unlock()
	for _, h := range leaves {
		if err := stored.add(h); err != nil {
			t.Fatal(err)
		}
	}

	for _, tc := range []struct {
		index     uint64
		wantSince uint64
	}{{0, 300}, {255, 300}, {256, 300}, {299, 300}, {300, 1000}, {511, 1000}, {512, 1000}, {999, 1000}} {
		lu, err := o.Lookup(ctx, pulled.Leaves[tc.index][:])
		if err != nil {
			t.Fatalf("Lookup(leaf %d): %v", tc.index, err)
		}
		if len(lu.Holdings) != 1 {
			t.Fatalf("Lookup(leaf %d): %d holdings, want 1", tc.index, len(lu.Holdings))
		}
		hd := lu.Holdings[0]
		if hd.Index != tc.index || hd.Size != 1000 || hd.SinceSize != tc.wantSince {
			t.Errorf("leaf %d: index %d size %d since %d, want %d 1000 %d", tc.index, hd.Index, hd.Size, hd.SinceSize, tc.index, tc.wantSince)
		}
		p, err := tlogfmt.HashesFromBytes(hd.Proof)
		if err != nil {
			t.Fatal(err)
		}
		if err := tlog.CheckRecord(p, 1000, root, int64(tc.index), pulled.Leaves[tc.index]); err != nil {
			t.Errorf("leaf %d: proof does not check against the log's root: %v", tc.index, err)
		}
		want, err := tlog.ProveRecord(1000, int64(tc.index), tlog.HashReaderFunc(stored.read))
		if err != nil {
			t.Fatal(err)
		}
		if len(want) != len(p) {
			t.Fatalf("leaf %d: proof of %d hashes, the log's has %d", tc.index, len(p), len(want))
		}
		for i := range want {
			if want[i] != p[i] {
				t.Errorf("leaf %d: proof hash %d differs from the log's", tc.index, i)
			}
		}
		if len(lu.Unheld) != 1 || lu.Unheld[0] != "cunzheng.example/pushed" {
			t.Errorf("logs without leaves = %q, want the pushed log", lu.Unheld)
		}
	}

	t.Run("not held", func(t *testing.T) {
		h := tlog.RecordHash([]byte("never appended"))
		lu, err := o.Lookup(ctx, h[:])
		if err != nil || len(lu.Holdings) != 0 {
			t.Fatalf("Lookup(unknown) = %+v, %v; want no holdings", lu, err)
		}
	})
	t.Run("damaged copy is not claimed", func(t *testing.T) {
		// A tile row rewritten behind the office's back (disk damage):
		// the lookup refuses rather than show a proof that does not check.
		row, err := o.get(tileKey(o.logs["cunzheng.example/pulled"].id, 3))
		if err != nil {
			t.Fatal(err)
		}
		row[5] ^= 1
		if err := o.db.Set(tileKey(o.logs["cunzheng.example/pulled"].id, 3), row, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := o.Lookup(ctx, pulled.Leaves[999][:]); err == nil {
			t.Fatal("Lookup on a damaged copy succeeded")
		}
	})
}

// storedHashes is a tree in tlog's stored-hash numbering.
type storedHashes struct {
	hashes []tlog.Hash
	n      int64
}

func (s *storedHashes) read(idx []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(idx))
	for i, x := range idx {
		if x < 0 || x >= int64(len(s.hashes)) {
			return nil, fmt.Errorf("hash %d not stored", x)
		}
		out[i] = s.hashes[x]
	}
	return out, nil
}

func (s *storedHashes) add(h tlog.Hash) error {
	hs, err := tlog.StoredHashesForRecordHash(s.n, h, tlog.HashReaderFunc(s.read))
	if err != nil {
		return err
	}
	s.hashes, s.n = append(s.hashes, hs...), s.n+1
	return nil
}
