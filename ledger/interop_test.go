package ledger

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/cunzheng/cunzheng/ledger/tlogfmt"
)

// tileReader serves our tiles to golang.org/x/mod/sumdb/tlog exactly as a
// remote client would fetch them, through the C2SP tile paths: the path is
// formatted and parsed again, so a disagreement between tlog's tile
// arithmetic and ours fails the test.
type tileReader struct {
	l *Log
}

func (r tileReader) Height() int { return TileHeight }

func (r tileReader) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, t := range tiles {
		p := tlogfmt.TilePathOf(t)
		parsed, err := tlogfmt.ParseTilePath(p.String())
		if err != nil {
			return nil, err
		}
		data, err := r.l.ReadTile(context.Background(), parsed.Level, parsed.Index, parsed.Width)
		if err != nil {
			return nil, fmt.Errorf("tile %s: %w", p, err)
		}
		out[i] = data
	}
	return out, nil
}

func (r tileReader) SaveTiles([]tlog.Tile, [][]byte) {}

// TestInteropWithSumdbTlog checks our checkpoints with sumdb/note and proofs
// built by sumdb/tlog from our served tiles: code we did not write must
// agree with ours.
func TestInteropWithSumdbTlog(t *testing.T) {
	ctx := context.Background()
	l := openTestLog(t, vfs.NewMem(), "log", nil)
	defer l.Close()
	var cps []Checkpoint
	for _, batch := range []int{1, 255, 1, 300, 65536 - 557, 1000} {
		leaves := make([][]byte, 0, batch)
		for i := 0; i < batch; i++ {
			leaves = append(leaves, leafN(int(l.Size())+i))
		}
		for len(leaves) > 0 {
			n := min(len(leaves), 4000)
			if _, err := l.AppendAll(ctx, leaves[:n]); err != nil {
				t.Fatal(err)
			}
			leaves = leaves[n:]
		}
		cp, err := l.WaitCheckpoint(ctx, l.Size()-1)
		if err != nil {
			t.Fatal(err)
		}
		cps = append(cps, cp)
	}
	edV, err := note.NewVerifier(testKeys().VerifierKeys()[0])
	if err != nil {
		t.Fatalf("sumdb/note cannot parse our Ed25519 verifier key: %v", err)
	}
	var trees []tlog.Tree
	for _, cp := range cps {
		n, err := note.Open(cp.Note, note.VerifierList(edV))
		if err != nil {
			t.Fatalf("sumdb/note rejects checkpoint %d: %v", cp.Size, err)
		}
		var origin string
		var tree tlog.Tree
		var root string
		if _, err := fmt.Sscanf(n.Text, "%s\n%d\n%s\n", &origin, &tree.N, &root); err != nil {
			t.Fatal(err)
		}
		if tree.Hash, err = tlog.ParseHash(root); err != nil {
			t.Fatal(err)
		}
		trees = append(trees, tree)
	}
	for _, tree := range trees {
		hr := tlog.TileHashReader(tree, tileReader{l})
		// TreeHash through tiles verifies the tiles against the signed root.
		th, err := tlog.TreeHash(tree.N, hr)
		if err != nil {
			t.Fatalf("tlog.TreeHash(%d) over our tiles: %v", tree.N, err)
		}
		if th != tree.Hash {
			t.Fatalf("tree %d: tlog computes %s, checkpoint says %s", tree.N, th, tree.Hash)
		}
		for _, idx := range []int64{0, tree.N / 3, tree.N - 1} {
			p, err := tlog.ProveRecord(tree.N, idx, hr)
			if err != nil {
				t.Fatalf("tlog.ProveRecord(%d, %d): %v", tree.N, idx, err)
			}
			leaf, err := l.Leaf(ctx, uint64(idx))
			if err != nil {
				t.Fatal(err)
			}
			if err := tlog.CheckRecord(p, tree.N, tree.Hash, idx, tlog.RecordHash(leaf)); err != nil {
				t.Fatalf("tlog.CheckRecord(%d in %d): %v", idx, tree.N, err)
			}
			ours, err := l.InclusionProof(ctx, uint64(idx), uint64(tree.N))
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(ours) != fmt.Sprint([]tlog.Hash(p)) {
				t.Fatalf("our inclusion proof for %d in %d differs from tlog's", idx, tree.N)
			}
		}
	}
	// Consistency between every pair of kept checkpoints, proven by tlog
	// from our tiles and by us.
	for i := range trees {
		for j := i + 1; j < len(trees); j++ {
			a, b := trees[i], trees[j]
			hr := tlog.TileHashReader(b, tileReader{l})
			p, err := tlog.ProveTree(b.N, a.N, hr)
			if err != nil {
				t.Fatal(err)
			}
			if err := tlog.CheckTree(p, b.N, b.Hash, a.N, a.Hash); err != nil {
				t.Fatalf("tlog.CheckTree %d -> %d: %v", a.N, b.N, err)
			}
			ours, err := l.ConsistencyProof(ctx, uint64(a.N), uint64(b.N))
			if err != nil {
				t.Fatal(err)
			}
			if err := tlog.CheckTree(tlog.TreeProof(ours), b.N, b.Hash, a.N, a.Hash); err != nil {
				t.Fatalf("tlog rejects our consistency proof %d -> %d: %v", a.N, b.N, err)
			}
		}
	}
	// Entry bundles hash to the level-0 tiles.
	size := l.Size()
	for _, n := range []uint64{0, size/256 - 1, size / 256} {
		w := 0
		if (n+1)*256 > size {
			w = int(size - n*256)
		}
		bundle, err := l.ReadEntryBundle(ctx, n, w)
		if err != nil {
			t.Fatal(err)
		}
		tile, err := l.ReadTile(ctx, 0, n, w)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; len(bundle) > 0; i++ {
			ln := int(bundle[0])<<8 | int(bundle[1])
			h := tlog.RecordHash(bundle[2 : 2+ln])
			if string(h[:]) != string(tile[32*i:32*i+32]) {
				t.Fatalf("bundle %d entry %d does not hash to its tile", n, i)
			}
			bundle = bundle[2+ln:]
		}
	}
	// A full tile that is not complete yet is absent.
	if _, err := l.ReadTile(ctx, 0, size/256, 0); !errors.Is(err, ErrNotFound) {
		t.Fatalf("incomplete full tile: got %v", err)
	}
	if _, err := l.ReadTile(ctx, 3, 0, 1); !errors.Is(err, ErrNotFound) {
		t.Fatalf("level 3 tile of a %d tree: got %v", size, err)
	}
}
