package ledger

import (
	"context"
	"errors"
	"fmt"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/cunzheng/cunzheng/ledger/tlogfmt"
)

// CopyReport is what CopyLog copied and proved.
type CopyReport struct {
	Leaves       uint64
	Checkpoints  int
	Cosignatures int
	Timestamps   int
	// Proved is the number of checkpoints whose root was recomputed twice
	// and found unchanged: from the copied leaves as they were committed,
	// and afterwards from the node hashes the destination stores.
	Proved int
}

// CopyLog copies the log in from into to, which must be empty: every leaf
// in order (in batches that end at every checkpoint's size), every
// checkpoint as signed, with its cosignatures and timestamps. It proves
// each checkpoint's root unchanged twice: the tree grown over the copied
// leaves has that root when it reaches the checkpoint's size, and the
// destination's stored nodes fold to it afterwards. It stops at the first
// difference. The destination may need to be prepared for writing first
// (a SharedStore must hold its lease).
func CopyLog(ctx context.Context, from, to Store, progress func(done, total uint64)) (CopyReport, error) {
	var rep CopyReport
	src, err := from.LoadState(ctx)
	if err != nil {
		return rep, err
	}
	dst, err := to.LoadState(ctx)
	if err != nil {
		return rep, err
	}
	if dst.Size != 0 {
		return rep, fmt.Errorf("ledger: the destination already holds %d leaves", dst.Size)
	}
	if _, err := to.LatestCheckpoint(ctx); !errors.Is(err, ErrNotFound) {
		return rep, fmt.Errorf("ledger: the destination already holds checkpoints (%v)", err)
	}
	var cps []StoredCheckpoint
	for after := uint64(0); ; {
		page, err := from.ListCheckpoints(ctx, after, 1000)
		if err != nil {
			return rep, err
		}
		if len(page) == 0 {
			break
		}
		cps = append(cps, page...)
		after = page[len(page)-1].Size
	}
	if c, err := from.GetCheckpoint(ctx, 0); err == nil {
		cps = append([]StoredCheckpoint{c}, cps...)
	}
	hasher := rfc6962.DefaultHasher
	f := &compact.RangeFactory{Hash: hasher.HashChildren}
	rng := f.NewEmptyRange(0)
	root := func() (tlog.Hash, error) {
		var h tlog.Hash
		if rng.End() == 0 {
			copy(h[:], hasher.EmptyRoot())
			return h, nil
		}
		r, err := rng.GetRootHash(nil)
		copy(h[:], r)
		return h, err
	}
	next := 0 // next checkpoint to prove
	proveAtEnd := func() error {
		for next < len(cps) && cps[next].Size == rng.End() {
			r, err := root()
			if err != nil {
				return err
			}
			if r != cps[next].Root {
				return fmt.Errorf("ledger: checkpoint %d has root %x, the copied leaves give %x", cps[next].Size, cps[next].Root, r)
			}
			next++
		}
		return nil
	}
	if err := proveAtEnd(); err != nil {
		return rep, err
	}
	const maxBatch = DefaultMaxBatchLeaves
	for rng.End() < src.Size {
		end := min(rng.End()+maxBatch, src.Size)
		if next < len(cps) && cps[next].Size < end {
			end = cps[next].Size
		}
		leaves, err := from.ReadLeaves(ctx, rng.End(), int(end-rng.End()))
		if err != nil {
			return rep, fmt.Errorf("ledger: reading leaves at %d: %w", rng.End(), err)
		}
		b := &Batch{Start: rng.End(), Leaves: leaves, Hashes: make([]tlog.Hash, len(leaves))}
		visit := func(id compact.NodeID, h []byte) {
			b.Nodes = append(b.Nodes, Node{Level: uint8(id.Level), Index: id.Index, Hash: tlog.Hash(h)})
		}
		for i, leaf := range leaves {
			b.Hashes[i] = tlog.RecordHash(leaf)
			if err := rng.Append(b.Hashes[i][:], visit); err != nil {
				return rep, err
			}
		}
		b.State = State{Size: rng.End(), Hashes: rng.Hashes()}
		if err := to.Commit(ctx, b); err != nil {
			return rep, fmt.Errorf("ledger: copying leaves at %d: %w", b.Start, err)
		}
		rep.Leaves = rng.End()
		if progress != nil {
			progress(rep.Leaves, src.Size)
		}
		if err := proveAtEnd(); err != nil {
			return rep, err
		}
	}
	if next != len(cps) {
		return rep, fmt.Errorf("ledger: checkpoint %d is beyond the source's %d leaves", cps[next].Size, src.Size)
	}
	for _, c := range cps {
		if err := to.PutCheckpoint(ctx, c); err != nil {
			return rep, fmt.Errorf("ledger: copying checkpoint %d: %w", c.Size, err)
		}
		rep.Checkpoints++
		cosigs, tokens, err := from.Attachments(ctx, c.Size)
		if err != nil {
			return rep, err
		}
		for _, line := range cosigs {
			sig, err := tlogfmt.ParseSignatureLine(line)
			if err != nil {
				return rep, fmt.Errorf("ledger: cosignature of checkpoint %d: %w", c.Size, err)
			}
			if err := to.PutCosignature(ctx, c.Size, sig.Name, sig.Hash, line); err != nil {
				return rep, err
			}
			rep.Cosignatures++
		}
		for _, tok := range tokens {
			if err := to.PutTimestamp(ctx, c.Size, tok); err != nil {
				return rep, err
			}
			rep.Timestamps++
		}
		got, err := RootAt(ctx, to, c.Size)
		if err != nil {
			return rep, fmt.Errorf("ledger: recomputing root %d in the destination: %w", c.Size, err)
		}
		if got != c.Root {
			return rep, fmt.Errorf("ledger: checkpoint %d has root %x, the destination's nodes give %x", c.Size, c.Root, got)
		}
		rep.Proved++
	}
	return rep, nil
}

// RootAt returns the RFC 6962 root of the first size leaves from the node
// hashes r stores: the perfect subtrees of [0, size), largest first, folded
// from the right (RFC 6962 section 2.1).
func RootAt(ctx context.Context, r TreeReader, size uint64) (tlog.Hash, error) {
	if size == 0 {
		return tlog.Hash(rfc6962.DefaultHasher.EmptyRoot()), nil
	}
	return rootFromNodes(ctx, size, r.ReadNodes)
}
