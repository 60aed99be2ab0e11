// Package evidencetest provides an in-memory log for tests of evidence and
// its HTTP handlers: real RFC 6962 Merkle math (transparency-dev/merkle), the
// ledger's contract (atomic AppendAll, identical bytes deduplicated), and a
// failure hook. It is a fake for tests, not a ledger. It also says how
// tests look for personal values in what is served (Leaks, Shows).
package evidencetest

import (
	"context"
	"crypto/sha256"
	"errors"
	"sync"

	"github.com/cunzheng/cunzheng/evidence"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
)

// Log is an in-memory append-only log.
type Log struct {
	mu     sync.Mutex
	leaves [][]byte
	hashes [][]byte
	byHash map[[32]byte]uint64

	// Fail, when set, is called before each AppendAll (not under the
	// log's lock); a non-nil result fails the append with nothing appended.
	Fail func(leaves [][]byte) error
}

var _ evidence.Log = (*Log)(nil)

// NewLog returns an empty log.
func NewLog() *Log { return &Log{byHash: map[[32]byte]uint64{}} }

// AppendAll implements evidence.Log.
func (l *Log) AppendAll(ctx context.Context, leaves [][]byte) ([]evidence.LogReceipt, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// Outside the lock, so that a Fail that blocks holds up only its own
	// append, as a slow disk would.
	if l.Fail != nil {
		if err := l.Fail(leaves); err != nil {
			return nil, err
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]evidence.LogReceipt, len(leaves))
	for _, leaf := range leaves { // check all before appending any
		if len(leaf) > 65535 {
			return nil, errors.New("evidencetest: leaf too large")
		}
	}
	for i, leaf := range leaves {
		h := sha256.Sum256(append([]byte{0}, leaf...))
		idx, ok := l.byHash[h]
		if !ok {
			idx = uint64(len(l.leaves))
			l.leaves = append(l.leaves, append([]byte(nil), leaf...))
			l.hashes = append(l.hashes, h[:])
			l.byHash[h] = idx
		}
		out[i] = evidence.LogReceipt{Index: idx, Hash: h}
	}
	for i := range out {
		out[i].TreeSize = uint64(len(l.leaves))
	}
	return out, nil
}

// Size returns the number of leaves.
func (l *Log) Size() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return uint64(len(l.leaves))
}

// Leaves returns a copy of every leaf.
func (l *Log) Leaves() [][]byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([][]byte, len(l.leaves))
	for i, b := range l.leaves {
		out[i] = append([]byte(nil), b...)
	}
	return out
}

// rangeHash returns the hash of the subtree over leaves [begin, end), which
// the callers only ask for perfect subtrees (proof nodes) or prefixes.
func (l *Log) rangeHash(begin, end uint64) ([]byte, error) {
	if end-begin == 1 {
		return l.hashes[begin], nil
	}
	// Split at the largest power of two below end-begin (RFC 6962 MTH).
	k := uint64(1)
	for k<<1 < end-begin {
		k <<= 1
	}
	left, err := l.rangeHash(begin, begin+k)
	if err != nil {
		return nil, err
	}
	right, err := l.rangeHash(begin+k, end)
	if err != nil {
		return nil, err
	}
	return rfc6962.DefaultHasher.HashChildren(left, right), nil
}

// Root returns the root hash of the tree of the given size.
func (l *Log) Root(size uint64) ([]byte, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if size > uint64(len(l.leaves)) {
		return nil, errors.New("evidencetest: size beyond the log")
	}
	if size == 0 {
		return rfc6962.DefaultHasher.EmptyRoot(), nil
	}
	return l.rangeHash(0, size)
}

// InclusionProof returns the RFC 6962 inclusion proof of leaf index in the
// tree of the given size.
func (l *Log) InclusionProof(index, size uint64) ([][]byte, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if index >= size || size > uint64(len(l.leaves)) {
		return nil, errors.New("evidencetest: bad index or size")
	}
	nodes, err := proof.Inclusion(index, size)
	if err != nil {
		return nil, err
	}
	hashes := make([][]byte, len(nodes.IDs))
	for i, id := range nodes.IDs {
		b, e := id.Coverage()
		if hashes[i], err = l.rangeHash(b, e); err != nil {
			return nil, err
		}
	}
	return nodes.Rehash(hashes, rfc6962.DefaultHasher.HashChildren)
}
