// Package storetest is the conformance suite every ledger.Store must pass:
// the embedded Pebble store today, the cluster store (PostgreSQL and an
// object store) when it exists. Run it from the store's own tests.
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/cunzheng/cunzheng/ledger"
)

// Opener returns a new, empty store. The suite closes it.
type Opener func(t *testing.T) ledger.Store

// Run runs the conformance suite.
func Run(t *testing.T, open Opener) {
	t.Run("EmptyStore", func(t *testing.T) { testEmpty(t, open(t)) })
	t.Run("CommitAndRead", func(t *testing.T) { testCommitAndRead(t, open(t)) })
	t.Run("CommitRefusesGaps", func(t *testing.T) { testCommitRefusesGaps(t, open(t)) })
	t.Run("Checkpoints", func(t *testing.T) { testCheckpoints(t, open(t)) })
}

func testEmpty(t *testing.T, s ledger.Store) {
	defer s.Close()
	ctx := context.Background()
	st, err := s.LoadState(ctx)
	if err != nil || st.Size != 0 || len(st.Hashes) != 0 {
		t.Fatalf("LoadState of an empty store = %+v, %v", st, err)
	}
	if _, err := s.LatestCheckpoint(ctx); !errors.Is(err, ledger.ErrNotFound) {
		t.Fatalf("LatestCheckpoint of an empty store: %v, want ErrNotFound", err)
	}
	if _, err := s.ReadLeaves(ctx, 0, 1); !errors.Is(err, ledger.ErrNotFound) {
		t.Fatalf("ReadLeaves of an empty store: %v, want ErrNotFound", err)
	}
	found, err := s.LookupLeaves(ctx, []tlog.Hash{{1}})
	if err != nil || len(found) != 0 {
		t.Fatalf("LookupLeaves of an empty store = %v, %v", found, err)
	}
}

// batches builds consecutive batches of the given sizes the way the
// sequencer does, with real RFC 6962 hashing.
func batches(t *testing.T, sizes ...int) []*ledger.Batch {
	t.Helper()
	f := &compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}
	rng := f.NewEmptyRange(0)
	var out []*ledger.Batch
	n := 0
	for _, size := range sizes {
		b := &ledger.Batch{Start: uint64(n)}
		for i := 0; i < size; i++ {
			leaf := []byte(fmt.Sprintf("conformance leaf %d", n))
			h := tlog.RecordHash(leaf)
			b.Leaves = append(b.Leaves, leaf)
			b.Hashes = append(b.Hashes, h)
			err := rng.Append(h[:], func(id compact.NodeID, hash []byte) {
				var nh tlog.Hash
				copy(nh[:], hash)
				b.Nodes = append(b.Nodes, ledger.Node{Level: uint8(id.Level), Index: id.Index, Hash: nh})
			})
			if err != nil {
				t.Fatal(err)
			}
			n++
		}
		b.State = ledger.State{Size: uint64(n), Hashes: rng.Hashes()}
		out = append(out, b)
	}
	return out
}

func testCommitAndRead(t *testing.T, s ledger.Store) {
	defer s.Close()
	ctx := context.Background()
	bs := batches(t, 1, 255, 300, 70)
	for _, b := range bs {
		if err := s.Commit(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	last := bs[len(bs)-1]
	st, err := s.LoadState(ctx)
	if err != nil || st.Size != last.State.Size || len(st.Hashes) != len(last.State.Hashes) {
		t.Fatalf("LoadState = %+v, %v; want size %d", st, err, last.State.Size)
	}
	for i := range st.Hashes {
		if !bytes.Equal(st.Hashes[i], last.State.Hashes[i]) {
			t.Fatalf("compact range hash %d differs after reload", i)
		}
	}
	leaves, err := s.ReadLeaves(ctx, 250, 10)
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range leaves {
		if want := fmt.Sprintf("conformance leaf %d", 250+i); string(l) != want {
			t.Fatalf("leaf %d = %q, want %q", 250+i, l, want)
		}
	}
	if _, err := s.ReadLeaves(ctx, 620, 10); !errors.Is(err, ledger.ErrNotFound) {
		t.Fatalf("reading past the end: %v, want ErrNotFound", err)
	}
	// Level 0 holds the leaf hashes; level 8 the 256-leaf subtrees.
	l0, err := s.ReadLevel(ctx, 0, 250, 10)
	if err != nil {
		t.Fatal(err)
	}
	for i, h := range l0 {
		if h != tlog.RecordHash([]byte(fmt.Sprintf("conformance leaf %d", 250+i))) {
			t.Fatalf("level 0 hash %d wrong", 250+i)
		}
	}
	l8, err := s.ReadLevel(ctx, 8, 0, 2)
	if err != nil {
		t.Fatal(err)
	}
	nodes, err := s.ReadNodes(ctx, []ledger.NodeID{{Level: 8, Index: 1}, {Level: 0, Index: 3}, {Level: 8, Index: 0}})
	if err != nil {
		t.Fatal(err)
	}
	if nodes[0] != l8[1] || nodes[2] != l8[0] || nodes[1] != tlog.RecordHash([]byte("conformance leaf 3")) {
		t.Fatal("ReadNodes disagrees with ReadLevel")
	}
	if _, err := s.ReadNodes(ctx, []ledger.NodeID{{Level: 9, Index: 5}}); !errors.Is(err, ledger.ErrNotFound) {
		t.Fatalf("absent node: %v, want ErrNotFound", err)
	}
	want := map[tlog.Hash]uint64{bs[1].Hashes[3]: 4, bs[3].Hashes[0]: 556}
	found, err := s.LookupLeaves(ctx, []tlog.Hash{bs[1].Hashes[3], {9}, bs[3].Hashes[0]})
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 2 || found[bs[1].Hashes[3]] != want[bs[1].Hashes[3]] || found[bs[3].Hashes[0]] != 556 {
		t.Fatalf("LookupLeaves = %v, want %v", found, want)
	}
}

func testCommitRefusesGaps(t *testing.T, s ledger.Store) {
	defer s.Close()
	ctx := context.Background()
	bs := batches(t, 10, 10)
	if err := s.Commit(ctx, bs[1]); err == nil {
		t.Fatal("a batch starting at 10 was committed to an empty store")
	}
	if err := s.Commit(ctx, bs[0]); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(ctx, bs[0]); err == nil {
		t.Fatal("the same batch was committed twice")
	}
	st, _ := s.LoadState(ctx)
	if st.Size != 10 {
		t.Fatalf("size %d after refused commits, want 10", st.Size)
	}
}

func testCheckpoints(t *testing.T, s ledger.Store) {
	defer s.Close()
	ctx := context.Background()
	at := time.UnixMilli(1700000000123).UTC()
	for _, size := range []uint64{0, 5, 9} {
		c := ledger.StoredCheckpoint{Size: size, Root: tlog.Hash{byte(size)}, Time: at, Note: []byte(fmt.Sprintf("note %d\n", size))}
		if err := s.PutCheckpoint(ctx, c); err != nil {
			t.Fatal(err)
		}
		// Storing the same checkpoint again is harmless.
		if err := s.PutCheckpoint(ctx, c); err != nil {
			t.Fatalf("re-storing checkpoint %d: %v", size, err)
		}
	}
	if err := s.PutCheckpoint(ctx, ledger.StoredCheckpoint{Size: 5, Root: tlog.Hash{0xee}, Time: at, Note: []byte("fork\n")}); err == nil {
		t.Fatal("a second checkpoint for size 5 with another root was stored")
	}
	c, err := s.GetCheckpoint(ctx, 5)
	if err != nil || c.Root != (tlog.Hash{5}) || !c.Time.Equal(at) || string(c.Note) != "note 5\n" {
		t.Fatalf("GetCheckpoint(5) = %+v, %v", c, err)
	}
	if _, err := s.GetCheckpoint(ctx, 6); !errors.Is(err, ledger.ErrNotFound) {
		t.Fatalf("GetCheckpoint(6): %v, want ErrNotFound", err)
	}
	latest, err := s.LatestCheckpoint(ctx)
	if err != nil || latest.Size != 9 {
		t.Fatalf("LatestCheckpoint = %d, %v", latest.Size, err)
	}
	list, err := s.ListCheckpoints(ctx, 0, 10)
	if err != nil || len(list) != 2 || list[0].Size != 5 || list[1].Size != 9 {
		t.Fatalf("ListCheckpoints(after 0) = %v, %v", list, err)
	}
	if err := s.PutCosignature(ctx, 5, "notary.example/a", 7, []byte("— notary.example/a AAAA\n")); err != nil {
		t.Fatal(err)
	}
	if err := s.PutCosignature(ctx, 5, "notary.example/a", 7, []byte("— notary.example/a BBBB\n")); err != nil {
		t.Fatal(err)
	}
	if err := s.PutCosignature(ctx, 5, "notary.example/b", 7, []byte("— notary.example/b CCCC\n")); err != nil {
		t.Fatal(err)
	}
	if err := s.PutTimestamp(ctx, 5, []byte("token one")); err != nil {
		t.Fatal(err)
	}
	if err := s.PutTimestamp(ctx, 5, []byte("token one")); err != nil {
		t.Fatal(err)
	}
	cosigs, tokens, err := s.Attachments(ctx, 5)
	if err != nil {
		t.Fatal(err)
	}
	if len(cosigs) != 2 || string(cosigs[0]) != "— notary.example/a BBBB\n" || len(tokens) != 1 {
		t.Fatalf("Attachments(5) = %q, %q; want the newer line per key and one token", cosigs, tokens)
	}
	cosigs, tokens, err = s.Attachments(ctx, 9)
	if err != nil || len(cosigs) != 0 || len(tokens) != 0 {
		t.Fatalf("Attachments(9) = %q, %q, %v", cosigs, tokens, err)
	}
}
