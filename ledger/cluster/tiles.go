package cluster

import (
	"context"
	"encoding/binary"
	"fmt"
	"sync"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/cunzheng/cunzheng/ledger"
	"github.com/cunzheng/cunzheng/ledger/tlogfmt"
)

// Cache headers of the published objects, as the server sends them
// (web/log.go): a full tile never changes, a partial one is superseded.
const (
	cacheImmutable = "public, max-age=31536000, immutable"
	cachePartial   = "public, max-age=10"
)

const tileWidth = 1 << ledger.TileHeight

type object struct {
	key   string
	data  []byte
	cache string
}

// edge is the right edge of the tree at size: the leaves of its partial
// entry bundle and, per tile level, the hashes of its partial tile. The
// integrator keeps the edge of the last batch it uploaded, so the next
// batch's tiles are built without reading the database, and before the
// last batch's transaction has committed (see Prepare).
type edge struct {
	size   uint64
	leaves [][]byte              // [size - size%256, size)
	tiles  map[uint8][]tlog.Hash // tile level -> its partial tile; absent: unknown
}

// tileObjects returns the entry bundles and hash tiles that b completes
// (all 256 of their entries exist) and keeps the partial ones that b creates
// or grows at the new edge, for the next batch and for uploadPartials. The
// entries of a tile that precede b come from the edge of the previous batch
// when it ends where b starts, else from the database. The content of every path
// is a function of the sequence alone, so uploading it twice (a retry, a
// takeover) writes the same bytes.
func (s *Store) tileObjects(ctx context.Context, b *ledger.Batch) ([]object, error) {
	start, end := b.Start, b.State.Size
	s.edgeMu.Lock()
	prev := s.edge
	s.edgeMu.Unlock()
	if prev != nil && prev.size != start {
		prev = nil
	}
	next := &edge{size: end, tiles: make(map[uint8][]tlog.Hash)}
	var objs []object
	// Entry bundles.
	for n := start / tileWidth; n*tileWidth < end; n++ {
		lo, hi := n*tileWidth, min((n+1)*tileWidth, end)
		var leaves [][]byte
		if lo < start {
			if prev != nil && uint64(len(prev.leaves)) == start-lo {
				leaves = append(leaves, prev.leaves...)
			} else {
				old, err := s.ReadLeaves(ctx, lo, int(start-lo))
				if err != nil {
					return nil, fmt.Errorf("cluster: leaves before batch %d: %w", start, err)
				}
				leaves = old
			}
		}
		leaves = append(leaves, b.Leaves[max(lo, start)-start:hi-start]...)
		if hi-lo < tileWidth {
			next.leaves = leaves // only the last bundle can be partial
			continue
		}
		key := tlogfmt.TilePath{Entries: true, Index: n}.String()
		objs = append(objs, object{key: key, cache: cacheImmutable, data: bundleData(leaves)})
	}
	// Hash tiles: tile level L holds the tree nodes of level 8L.
	byLevel := make(map[uint8]map[uint64]tlog.Hash)
	for _, nd := range b.Nodes {
		if nd.Level%ledger.TileHeight != 0 {
			continue
		}
		m := byLevel[nd.Level]
		if m == nil {
			m = make(map[uint64]tlog.Hash)
			byLevel[nd.Level] = m
		}
		m[nd.Index] = nd.Hash
	}
	for tl := uint8(0); ; tl++ {
		lvl := tl * ledger.TileHeight
		if lvl >= 64 {
			break
		}
		before, after := start>>lvl, end>>lvl
		if after == before {
			// No new node at this level, so none above: their partial
			// tiles stay as they were.
			if prev != nil {
				for l, h := range prev.tiles {
					if l >= tl {
						next.tiles[l] = h
					}
				}
			}
			break
		}
		for n := before / tileWidth; n*tileWidth < after; n++ {
			lo, hi := n*tileWidth, min((n+1)*tileWidth, after)
			var hs []tlog.Hash
			if lo < before {
				if old, ok := prev.tile(tl); ok && uint64(len(old)) == before-lo {
					hs = append(hs, old...)
				} else {
					old, err := s.ReadLevel(ctx, lvl, lo, int(before-lo))
					if err != nil {
						return nil, fmt.Errorf("cluster: level %d nodes before batch %d: %w", lvl, start, err)
					}
					hs = old
				}
			}
			for i := max(lo, before); i < hi; i++ {
				h, ok := byLevel[lvl][i]
				if !ok {
					return nil, fmt.Errorf("cluster: batch at %d lacks node %d/%d", start, lvl, i)
				}
				hs = append(hs, h)
			}
			if hi-lo == tileWidth {
				key := tlogfmt.TilePath{Level: tl, Index: n}.String()
				objs = append(objs, object{key: key, cache: cacheImmutable, data: tileData(hs)})
			}
			if hi == after {
				if hi-lo < tileWidth {
					next.tiles[tl] = hs
				} else {
					next.tiles[tl] = nil
				}
			}
		}
	}
	s.edgeMu.Lock()
	s.edge = next
	s.edgeMu.Unlock()
	return objs, nil
}

// tile returns the partial tile of level tl at the edge, if known.
func (e *edge) tile(tl uint8) ([]tlog.Hash, bool) {
	if e == nil {
		return nil, false
	}
	h, ok := e.tiles[tl]
	return h, ok
}

// uploadTiles puts the full tiles and bundles b completes into the bucket.
// Partial ones are uploaded only for the sizes that get a checkpoint
// (uploadPartials, from PutCheckpoint): a client of the bucket reads the
// tiles of its checkpoint's size, and the servers read the database. A
// partial tile and bundle per batch were most of the objects and bytes put,
// and of the object store's CPU.
func (s *Store) uploadTiles(ctx context.Context, b *ledger.Batch) error {
	objs, err := s.tileObjects(ctx, b)
	if err != nil {
		return err
	}
	return s.putObjects(ctx, objs)
}

// bundleData is the body of an entry bundle: each leaf after its length.
func bundleData(leaves [][]byte) []byte {
	var b []byte
	for _, leaf := range leaves {
		b = binary.BigEndian.AppendUint16(b, uint16(len(leaf)))
		b = append(b, leaf...)
	}
	return b
}

// tileData is the body of a hash tile: its hashes, one after the other.
func tileData(hs []tlog.Hash) []byte {
	b := make([]byte, 0, len(hs)*tlog.HashSize)
	for _, h := range hs {
		b = append(b, h[:]...)
	}
	return b
}

// uploadPartials puts the partial entry bundle and the partial hash tile of
// each level of the tree of size leaves: with the full tiles below them,
// uploaded as each batch was integrated, everything a client of the bucket
// reads for a checkpoint of that size. They come from the edge kept in
// memory when it is at size, else from the database.
func (s *Store) uploadPartials(ctx context.Context, size uint64) error {
	s.edgeMu.Lock()
	e := s.edge
	s.edgeMu.Unlock()
	if e != nil && e.size != size {
		e = nil
	}
	var objs []object
	if w := size % tileWidth; w != 0 {
		leaves := e.partialLeaves(w)
		if leaves == nil {
			var err error
			if leaves, err = s.ReadLeaves(ctx, size-w, int(w)); err != nil {
				return fmt.Errorf("cluster: the partial bundle at %d: %w", size, err)
			}
		}
		key := tlogfmt.TilePath{Entries: true, Index: size / tileWidth, Width: int(w)}.String()
		objs = append(objs, object{key: key, cache: cachePartial, data: bundleData(leaves)})
	}
	for tl := uint8(0); tl*ledger.TileHeight < 64; tl++ {
		lvl := tl * ledger.TileHeight
		after := size >> lvl
		if after == 0 {
			break
		}
		w := after % tileWidth
		if w == 0 {
			continue
		}
		hs, ok := e.tile(tl)
		if !ok || uint64(len(hs)) != w {
			var err error
			if hs, err = s.ReadLevel(ctx, lvl, after-w, int(w)); err != nil {
				return fmt.Errorf("cluster: the partial tile of level %d at %d: %w", tl, size, err)
			}
		}
		key := tlogfmt.TilePath{Level: tl, Index: after / tileWidth, Width: int(w)}.String()
		objs = append(objs, object{key: key, cache: cachePartial, data: tileData(hs)})
	}
	return s.putObjects(ctx, objs)
}

// partialLeaves returns the leaves of the edge's partial bundle if it holds
// w of them.
func (e *edge) partialLeaves(w uint64) [][]byte {
	if e == nil || uint64(len(e.leaves)) != w {
		return nil
	}
	return e.leaves
}

// putObjects puts objs into the bucket, a few at a time.
func (s *Store) putObjects(ctx context.Context, objs []object) error {
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	for _, o := range objs {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			s.stats.uploads.Add(1)
			s.stats.uploadBytes.Add(int64(len(o.data)))
			if err := s.obj.Put(ctx, o.key, o.data, o.cache); err != nil {
				mu.Lock()
				if first == nil {
					first = err
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return first
}
