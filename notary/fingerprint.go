package notary

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/cockroachdb/pebble/v2"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/cunzheng/cunzheng/ledger/tlogfmt"
)

// Holding is a leaf hash the office holds in its own copy of a log, with
// the proof of it that the office computed from that copy alone.
type Holding struct {
	Origin string `json:"origin"`
	Index  uint64 `json:"index"`
	// LeafHash is the leaf held; Match says how the query found it: as
	// the leaf hash itself, or as a document SHA-256 the leaf names.
	LeafHash []byte `json:"leaf_hash"`
	Match    string `json:"match"`
	// SinceSize is the size of the first checkpoint the office cosigned
	// that contains the leaf; 0 when it cosigned none yet (the copy is
	// verified, the cosignature follows on the next round).
	SinceSize uint64 `json:"since_checkpoint_size,omitempty"`
	// Size, Root and Checkpoint are the signed checkpoint the copy reaches:
	// the proof is against its root.
	Size       uint64 `json:"checkpoint_size"`
	Root       []byte `json:"root"`
	Checkpoint string `json:"checkpoint"`
	// Proof is the RFC 6962 inclusion proof of the leaf in the tree of
	// Size, computed from the office's own copy of the leaf hashes, and
	// checked against Root before it is returned.
	Proof [][]byte `json:"inclusion_proof"`
}

// How a Holding matched the query.
const (
	MatchLeaf     = "leaf_hash"
	MatchDocument = "document_sha256"
)

// Lookup is the answer to a fingerprint lookup.
type Lookup struct {
	LeafHash []byte    `json:"leaf_hash"`
	Holdings []Holding `json:"holdings"`
	// Unheld lists the logs the office follows without a copy of their
	// leaves (push mode: the log sends checkpoints only), whose leaves it
	// cannot answer for.
	Unheld []string `json:"logs_without_leaves"`
}

// Lookup looks leafHash up in the office's own copies of the logs it
// pulls, as a leaf hash and as a document SHA-256 a leaf names, and proves each holding from the copy: the inclusion proof is
// computed from the stored leaf hashes and checked against the signed root
// the copy reaches, without asking the log. A leaf the office does not hold
// is a Lookup with no Holdings, not an error.
func (o *Office) Lookup(ctx context.Context, leafHash []byte) (Lookup, error) {
	out := Lookup{LeafHash: bytes.Clone(leafHash), Holdings: []Holding{}, Unheld: []string{}}
	fps, err := o.Fingerprints(ctx, leafHash)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return out, err
	}
	release, err := o.acquire()
	if err != nil {
		return out, err
	}
	defer release()
	for _, l := range o.sortedLogs() {
		ps, err := o.loadPull(l.id)
		if err != nil {
			return out, err
		}
		if ps.Size == 0 {
			out.Unheld = append(out.Unheld, l.Origin)
		}
	}
	for _, fp := range fps {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		l := o.logs[fp.Origin]
		ps, err := o.loadPull(l.id)
		if err != nil {
			return out, err
		}
		if fp.Index >= ps.Size {
			continue // the copy moved under us; the index is still outside it
		}
		hd, err := o.prove(l, ps, fp.Index, leafHash)
		if err != nil {
			return out, err
		}
		hd.LeafHash, hd.Match = bytes.Clone(leafHash), MatchLeaf
		out.Holdings = append(out.Holdings, hd)
	}
	// The same 32 bytes may be a document's SHA-256 that pulled leaves
	// name (indexed from the entry bundles at pull time).
	docs, err := o.documentHoldings(ctx, leafHash)
	if err != nil {
		return out, err
	}
	out.Holdings = append(out.Holdings, docs...)
	return out, nil
}

// prove computes and checks the inclusion proof of leaf index in the copy
// ps of log l, and finds the first cosigned checkpoint holding it.
func (o *Office) prove(l logEntry, ps pullState, index uint64, leafHash []byte) (Holding, error) {
	r := &copyReader{o: o, id: l.id, size: ps.Size, rows: map[uint64][]byte{}}
	proof, err := tlog.ProveRecord(int64(ps.Size), int64(index), r)
	if err != nil {
		return Holding{}, fmt.Errorf("notary: proving leaf %d of %s from the office's copy: %w", index, l.Origin, err)
	}
	var root, lh tlog.Hash
	if len(ps.Root) != len(root) {
		return Holding{}, fmt.Errorf("notary: stored pull root is %d bytes", len(ps.Root))
	}
	copy(root[:], ps.Root)
	copy(lh[:], leafHash)
	// A proof that does not check means the stored copy is damaged: say
	// so rather than show a holding the office cannot back.
	if err := tlogfmt.CheckInclusion(proof, index, ps.Size, lh, root); err != nil {
		return Holding{}, fmt.Errorf("notary: the office's copy of %s does not prove leaf %d against its signed root: %w", l.Origin, index, err)
	}
	hd := Holding{Origin: l.Origin, Index: index, Size: ps.Size, Root: bytes.Clone(ps.Root),
		Checkpoint: string(o.withoutOwnLines(ps.Note))}
	for _, p := range proof {
		hd.Proof = append(hd.Proof, bytes.Clone(p[:]))
	}
	since, err := o.firstCosignedAbove(l.id, index)
	if err != nil {
		return Holding{}, err
	}
	hd.SinceSize = since
	return hd, nil
}

// firstCosignedAbove returns the smallest size above index of a checkpoint
// the office cosigned for log id, or 0 when there is none.
func (o *Office) firstCosignedAbove(id [8]byte, index uint64) (uint64, error) {
	if index == math.MaxUint64 {
		return 0, nil
	}
	it, err := o.db.NewIter(&pebble.IterOptions{
		LowerBound: cosignatureKey(id, index+1),
		UpperBound: cosignatureKey(id, math.MaxUint64),
	})
	if err != nil {
		return 0, fmt.Errorf("notary: reading cosignatures: %w", err)
	}
	defer it.Close()
	if !it.First() {
		return 0, it.Error()
	}
	return binary.BigEndian.Uint64(it.Key()[1+len(id):]), nil
}

var _ tlog.HashReader = (*copyReader)(nil)

type tileRootKey struct {
	id   [8]byte
	tile uint64
}

// copyReader reads the hashes of a log's tree from the office's copy of its
// leaf hashes, computing interior hashes on demand. It serves one proof.
type copyReader struct {
	o    *Office
	id   [8]byte
	size uint64
	rows map[uint64][]byte // level-0 tile rows read so far
}

// ReadHashes returns the stored hashes of tlog's numbering.
func (r *copyReader) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		level, n := tlog.SplitStoredHashIndex(x)
		h, err := r.subtree(level, uint64(n))
		if err != nil {
			return nil, err
		}
		out[i] = h
	}
	return out, nil
}

// subtree returns the hash of the complete subtree of 2^level leaves
// starting at leaf n<<level.
func (r *copyReader) subtree(level int, n uint64) (tlog.Hash, error) {
	if level > 62 || (n+1)<<uint(level) > r.size {
		return tlog.Hash{}, fmt.Errorf("notary: subtree %d/%d is outside the copy of size %d", level, n, r.size)
	}
	if level > tileHeight {
		l, err := r.subtree(level-1, 2*n)
		if err != nil {
			return tlog.Hash{}, err
		}
		rt, err := r.subtree(level-1, 2*n+1)
		if err != nil {
			return tlog.Hash{}, err
		}
		return tlog.NodeHash(l, rt), nil
	}
	if level == tileHeight {
		k := tileRootKey{r.id, n}
		if h, ok := r.o.tileRoots.Load(k); ok {
			return h.(tlog.Hash), nil
		}
	}
	first := n << uint(level)
	t := first / tileWidth
	row, ok := r.rows[t]
	if !ok {
		var err error
		row, err = r.o.get(tileKey(r.id, t))
		if err != nil {
			return tlog.Hash{}, fmt.Errorf("notary: stored tile %d: %w", t, err)
		}
		r.rows[t] = row
	}
	off, count := (first%tileWidth)*sha256.Size, uint64(1)<<uint(level)
	if uint64(len(row)) < off+count*sha256.Size {
		return tlog.Hash{}, fmt.Errorf("notary: stored tile %d is short", t)
	}
	hashes := make([]tlog.Hash, count)
	for i := range hashes {
		copy(hashes[i][:], row[off+uint64(i)*sha256.Size:])
	}
	for len(hashes) > 1 {
		for i := 0; i < len(hashes)/2; i++ {
			hashes[i] = tlog.NodeHash(hashes[2*i], hashes[2*i+1])
		}
		hashes = hashes[:len(hashes)/2]
	}
	if level == tileHeight {
		r.o.tileRoots.Store(tileRootKey{r.id, n}, hashes[0])
	}
	return hashes[0], nil
}
