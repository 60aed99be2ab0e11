package ledger

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"golang.org/x/mod/sumdb/note"
)

// tamperedStore serves one leaf with a flipped byte.
type tamperedStore struct {
	Store
	index uint64
}

func (s tamperedStore) ReadLeaves(ctx context.Context, start uint64, n int) ([][]byte, error) {
	out, err := s.Store.ReadLeaves(ctx, start, n)
	if err == nil && s.index >= start && s.index < start+uint64(n) {
		leaf := bytes.Clone(out[s.index-start])
		leaf[0] ^= 1
		out[s.index-start] = leaf
	}
	return out, err
}

func TestCopyLog(t *testing.T) {
	ctx := context.Background()
	fs := vfs.NewMem()
	l := openTestLog(t, fs, "src", nil)
	for round, n := range []int{1, 300, 5000, 7} {
		leaves := make([][]byte, n)
		for i := range leaves {
			leaves[i] = leafN(int(l.Size()) + i)
		}
		for len(leaves) > 0 {
			k := min(len(leaves), DefaultMaxBatchLeaves)
			if _, err := l.AppendAll(ctx, leaves[:k]); err != nil {
				t.Fatal(err)
			}
			leaves = leaves[k:]
		}
		if _, err := l.WaitCheckpoint(ctx, l.Size()-1); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
	}
	cp, err := l.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	line := testCosignLine(t, cp)
	if err := l.AddCosignature(ctx, cp.Size, line); err != nil {
		t.Fatal(err)
	}
	if err := l.AddTimestamp(ctx, cp.Size, []byte("token")); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	open := func(dir string) Store {
		s, err := OpenPebbleStore(dir, PebbleOptions{FS: fs})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	src := open("src")
	dst := open("dst")
	rep, err := CopyLog(ctx, src, dst, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Leaves != cp.Size || rep.Checkpoints < 5 || rep.Proved != rep.Checkpoints || rep.Cosignatures != 1 || rep.Timestamps != 1 {
		t.Fatalf("report %+v", rep)
	}
	// Into a store that is not empty: refused.
	if _, err := CopyLog(ctx, src, dst, nil); err == nil || !strings.Contains(err.Error(), "already holds") {
		t.Fatalf("copy into a non-empty store: %v", err)
	}
	// A changed leaf changes a root: the copy stops there.
	_, err = CopyLog(ctx, tamperedStore{Store: src, index: 100}, open("dst2"), nil)
	if err == nil || !strings.Contains(err.Error(), "root") {
		t.Fatalf("copy of a tampered log: %v, want a root mismatch", err)
	}
}

// testCosignLine returns a notary's cosignature line over cp's body.
func testCosignLine(t *testing.T, cp Checkpoint) []byte {
	t.Helper()
	skey, _, _ := note.GenerateKey(nil, "notary.example/office")
	signer, _ := note.NewSigner(skey)
	n, err := note.Open(cp.Note, testVerifiers(t))
	if err != nil {
		t.Fatal(err)
	}
	cosigned, err := note.Sign(&note.Note{Text: n.Text}, signer)
	if err != nil {
		t.Fatal(err)
	}
	return cosigned[bytes.LastIndex(cosigned, []byte("\n\n"))+2:]
}
