package ledger

import (
	"context"
	"encoding/binary"
	"fmt"

	"github.com/transparency-dev/merkle/proof"
	"golang.org/x/mod/sumdb/tlog"
)

// RangeError reports a request beyond what the log holds. It wraps
// ErrNotFound so callers that only care about absence need not look closer.
type RangeError struct {
	What string
	Size uint64 // the durable tree size at the time of the request
}

func (e *RangeError) Error() string {
	return fmt.Sprintf("ledger: %s is beyond the tree of size %d", e.What, e.Size)
}

func (e *RangeError) Unwrap() error { return ErrNotFound }

// InvalidRequestError reports a malformed read request (size 0, old > new).
type InvalidRequestError struct{ Reason string }

func (e *InvalidRequestError) Error() string { return "ledger: " + e.Reason }

// Leaf returns the leaf at index.
func (l *Log) Leaf(ctx context.Context, index uint64) ([]byte, error) {
	if size := l.Size(); index >= size {
		return nil, &RangeError{What: fmt.Sprintf("leaf %d", index), Size: size}
	}
	leaves, err := l.store.ReadLeaves(ctx, index, 1)
	if err != nil {
		return nil, err
	}
	return leaves[0], nil
}

// IndexOf returns the index of the leaf with RFC 6962 hash h, or ErrNotFound.
func (l *Log) IndexOf(ctx context.Context, h tlog.Hash) (uint64, error) {
	found, err := l.store.LookupLeaves(ctx, []tlog.Hash{h})
	if err != nil {
		return 0, err
	}
	idx, ok := found[h]
	if !ok {
		return 0, fmt.Errorf("ledger: leaf hash %s: %w", h, ErrNotFound)
	}
	// A leaf of a batch whose commit is not yet acknowledged is invisible
	// in Pebble anyway; the check keeps other stores honest too.
	if idx >= l.Size() {
		return 0, ErrNotFound
	}
	return idx, nil
}

// InclusionProof returns the RFC 6962 inclusion proof of leaf index in the
// tree of size, which may be any size up to the durable one (not only a
// checkpointed size).
func (l *Log) InclusionProof(ctx context.Context, index, size uint64) ([]tlog.Hash, error) {
	if cur := l.Size(); size > cur {
		return nil, &RangeError{What: fmt.Sprintf("tree size %d", size), Size: cur}
	}
	if index >= size {
		return nil, &InvalidRequestError{Reason: fmt.Sprintf("leaf index %d is not below tree size %d", index, size)}
	}
	nodes, err := proof.Inclusion(index, size)
	if err != nil {
		return nil, &InvalidRequestError{Reason: err.Error()}
	}
	return l.rehash(ctx, nodes)
}

// ConsistencyProof returns the RFC 6962 consistency proof between the trees
// of sizes old and size.
func (l *Log) ConsistencyProof(ctx context.Context, old, size uint64) ([]tlog.Hash, error) {
	if cur := l.Size(); size > cur {
		return nil, &RangeError{What: fmt.Sprintf("tree size %d", size), Size: cur}
	}
	if old > size {
		return nil, &InvalidRequestError{Reason: fmt.Sprintf("old size %d is larger than size %d", old, size)}
	}
	if old == 0 || old == size {
		return []tlog.Hash{}, nil
	}
	nodes, err := proof.Consistency(old, size)
	if err != nil {
		return nil, &InvalidRequestError{Reason: err.Error()}
	}
	return l.rehash(ctx, nodes)
}

// TreeHash returns the root hash of the tree of size (any size up to the
// durable one).
func (l *Log) TreeHash(ctx context.Context, size uint64) (tlog.Hash, error) {
	head := l.head.Load()
	if size > head.size {
		return tlog.Hash{}, &RangeError{What: fmt.Sprintf("tree size %d", size), Size: head.size}
	}
	if size == head.size {
		return head.root, nil
	}
	if size == 0 {
		var h tlog.Hash
		copy(h[:], l.hasher.EmptyRoot())
		return h, nil
	}
	return rootFromNodes(ctx, size, l.readNodes)
}

// rootFromNodes returns the root of the first size > 0 leaves from their
// perfect subtrees' hashes, read by read: RFC 6962 section 2.1 folds the
// perfect subtrees of [0, size), largest first, from the right.
func rootFromNodes(ctx context.Context, size uint64, read func(context.Context, []NodeID) ([]tlog.Hash, error)) (tlog.Hash, error) {
	var ids []NodeID
	for begin := uint64(0); begin < size; {
		level := largestPerfect(begin, size)
		ids = append(ids, NodeID{Level: uint8(level), Index: begin >> level})
		begin += 1 << level
	}
	hs, err := read(ctx, ids)
	if err != nil {
		return tlog.Hash{}, err
	}
	acc := hs[len(hs)-1]
	for i := len(hs) - 2; i >= 0; i-- {
		acc = tlog.NodeHash(hs[i], acc)
	}
	return acc, nil
}

// largestPerfect returns the level of the largest perfect subtree starting
// at begin (aligned) that fits in [begin, end).
func largestPerfect(begin, end uint64) uint {
	level := uint(0)
	for {
		next := level + 1
		if begin&((1<<next)-1) != 0 || begin+(1<<next) > end {
			return level
		}
		level = next
	}
}

func (l *Log) rehash(ctx context.Context, nodes proof.Nodes) ([]tlog.Hash, error) {
	ids := make([]NodeID, len(nodes.IDs))
	for i, id := range nodes.IDs {
		ids[i] = NodeID{Level: uint8(id.Level), Index: id.Index}
	}
	hs, err := l.readNodes(ctx, ids)
	if err != nil {
		return nil, err
	}
	raw := make([][]byte, len(hs))
	for i := range hs {
		raw[i] = hs[i][:]
	}
	raw, err = nodes.Rehash(raw, l.hasher.HashChildren)
	if err != nil {
		return nil, fmt.Errorf("ledger: rehashing proof: %w", err)
	}
	out := make([]tlog.Hash, len(raw))
	for i := range raw {
		copy(out[i][:], raw[i])
	}
	return out, nil
}

// TileHeight is the C2SP tlog-tiles tile height: 256 hashes a tile.
const TileHeight = 8

const tileWidth = 1 << TileHeight

// ReadTile returns the hash tile at level, index n, with width hashes
// (width 0 asks for a full tile of 256), as C2SP tlog-tiles serves it. Tiles
// are only served up to the durable size: a full tile exists only once all
// 256 of its hashes do.
func (l *Log) ReadTile(ctx context.Context, level uint8, n uint64, width int) ([]byte, error) {
	if level > 63/TileHeight {
		// Syntactically valid (levels 0-63), but no tree here is that tall.
		return nil, &RangeError{What: fmt.Sprintf("tile level %d", level), Size: l.Size()}
	}
	w := width
	if w == 0 {
		w = tileWidth
	}
	if w < 1 || w > tileWidth {
		return nil, &InvalidRequestError{Reason: fmt.Sprintf("tile width %d out of range", width)}
	}
	size := l.Size()
	treeLevel := uint8(level * TileHeight)
	avail := size >> treeLevel // complete nodes at this tree level
	if n > (1<<56) || n*tileWidth+uint64(w) > avail {
		return nil, &RangeError{What: fmt.Sprintf("tile %d/%d width %d", level, n, w), Size: size}
	}
	hs, err := l.store.ReadLevel(ctx, treeLevel, n*tileWidth, w)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, 32*w)
	for _, h := range hs {
		out = append(out, h[:]...)
	}
	return out, nil
}

// ReadEntryBundle returns the entry bundle n with width entries (0 for a
// full bundle of 256): each leaf as a big-endian uint16 length and its bytes.
func (l *Log) ReadEntryBundle(ctx context.Context, n uint64, width int) ([]byte, error) {
	w := width
	if w == 0 {
		w = tileWidth
	}
	if w < 1 || w > tileWidth {
		return nil, &InvalidRequestError{Reason: fmt.Sprintf("entry bundle width %d out of range", width)}
	}
	size := l.Size()
	if n > (1<<56) || n*tileWidth+uint64(w) > size {
		return nil, &RangeError{What: fmt.Sprintf("entry bundle %d width %d", n, w), Size: size}
	}
	leaves, err := l.store.ReadLeaves(ctx, n*tileWidth, w)
	if err != nil {
		return nil, err
	}
	total := 0
	for _, leaf := range leaves {
		total += 2 + len(leaf)
	}
	out := make([]byte, 0, total)
	for _, leaf := range leaves {
		out = binary.BigEndian.AppendUint16(out, uint16(len(leaf)))
		out = append(out, leaf...)
	}
	return out, nil
}
