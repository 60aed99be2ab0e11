package notary

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/cunzheng/cunzheng/evidence/event"
	"github.com/cunzheng/cunzheng/ledger/tlogfmt"
)

// maxBundleBytes bounds one entry bundle: 256 entries of at most 64 KiB
// each, with their 2-byte lengths (C2SP tlog-tiles).
const maxBundleBytes = tileWidth * (2 + 0xffff)

func documentKey(doc []byte, id [8]byte, index uint64) []byte {
	k := make([]byte, 0, 1+32+8+8)
	k = append(append(append(k, tagDocument), doc...), id[:]...)
	return binary.BigEndian.AppendUint64(k, index)
}

// indexEntryBundle checks the entries of bundle, the entry bundle whose
// first entry has index first, against the leaf hashes the office verified
// (leafHash(i) for index i), and stages in batch a document row for every
// document hash the public leaf of an entry in [from, to) names. An entry
// whose RFC 6962 leaf hash is not the verified one refuses the whole
// bundle, staging nothing: the office indexes only what it can prove. An
// entry that is not a cunzheng public leaf (another log's format) names no
// documents.
func indexEntryBundle(batch *pebble.Batch, id [8]byte, first uint64, bundle []byte, from, to uint64, leafHash func(uint64) []byte) error {
	type row struct{ key, val []byte }
	var rows []row
	idx := first
	for rest := bundle; len(rest) > 0; idx++ {
		if len(rest) < 2 {
			return fmt.Errorf("%w: entry bundle %d: truncated length", ErrMalformed, first/tileWidth)
		}
		n := int(binary.BigEndian.Uint16(rest))
		if len(rest) < 2+n {
			return fmt.Errorf("%w: entry bundle %d: entry %d truncated", ErrMalformed, first/tileWidth, idx)
		}
		entry := rest[2 : 2+n]
		rest = rest[2+n:]
		if idx < from || idx >= to {
			continue
		}
		want := leafHash(idx)
		got := tlog.RecordHash(entry) // SHA-256(0x00 || entry), as the log hashes it
		if !bytes.Equal(got[:], want) {
			return fmt.Errorf("%w: entry %d does not hash to the leaf hash the office verified", ErrBadProof, idx)
		}
		pr, err := event.ParseLeaf(entry)
		if err != nil {
			continue
		}
		for _, d := range pr.DocumentHashes() {
			doc, err := hex.DecodeString(d)
			if err != nil || len(doc) != 32 {
				continue
			}
			rows = append(rows, row{documentKey(doc, id, idx), want})
		}
	}
	if idx < to {
		return fmt.Errorf("%w: entry bundle %d holds entries up to %d, want %d", ErrMalformed, first/tileWidth, idx, to)
	}
	for _, r := range rows {
		_ = batch.Set(r.key, r.val, nil)
	}
	return nil
}

// indexEntries fetches the entry bundles of [start, end), one at a time so
// that at most one bundle is held, and stages the document rows of their
// entries in batch (see indexEntryBundle). hashes are the verified leaf
// hashes of [start, end). A log that serves no entry bundles (404) is
// followed by leaf hash only: indexEntries returns ErrNotFound.
func indexEntries(ctx context.Context, cfg PullConfig, batch *pebble.Batch, id [8]byte, start, end, treeSize uint64, hashes [][]byte) error {
	leafHash := func(i uint64) []byte { return hashes[i-start] }
	for t := start / tileWidth; t*tileWidth < end; t++ {
		w := min(tileWidth, treeSize-t*tileWidth)
		bundle, err := fetchEntryBundle(ctx, cfg, t, w)
		if err != nil {
			return err
		}
		if err := indexEntryBundle(batch, id, t*tileWidth, bundle, max(start, t*tileWidth), min(end, (t+1)*tileWidth), leafHash); err != nil {
			return err
		}
	}
	return nil
}

// fetchEntryBundle fetches entry bundle n of width w, reading a partial
// bundle that is gone from the full one as fetchTile does.
func fetchEntryBundle(ctx context.Context, cfg PullConfig, n, w uint64) ([]byte, error) {
	t := tlog.Tile{H: tileHeight, L: -1, N: int64(n), W: int(w)}
	data, err := fetch(ctx, cfg.Client, cfg.URL+"/"+tlogfmt.TilePathOf(t).String(), maxBundleBytes)
	if w < tileWidth && errors.Is(err, ErrNotFound) {
		t.W = tileWidth
		data, err = fetch(ctx, cfg.Client, cfg.URL+"/"+tlogfmt.TilePathOf(t).String(), maxBundleBytes)
	}
	return data, err
}

// documentHoldings finds the leaves of the office's copies that name doc,
// from its document rows, each confirmed against the copy's leaf hash at
// its index and proved like a leaf hash lookup. o.acquire must be held.
func (o *Office) documentHoldings(ctx context.Context, doc []byte) ([]Holding, error) {
	if len(doc) != 32 {
		return nil, nil
	}
	lower := append([]byte{tagDocument}, doc...)
	upper := append(bytes.Clone(lower), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)
	it, err := o.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return nil, fmt.Errorf("notary: reading document rows: %w", err)
	}
	type hit struct {
		id   [8]byte
		idx  uint64
		leaf []byte
	}
	var hits []hit
	for it.First(); it.Valid(); it.Next() {
		k := it.Key()
		if len(k) != 1+32+8+8 || len(it.Value()) != 32 {
			continue
		}
		hits = append(hits, hit{[8]byte(k[33:41]), binary.BigEndian.Uint64(k[41:]), bytes.Clone(it.Value())})
	}
	err = it.Error()
	it.Close()
	if err != nil {
		return nil, fmt.Errorf("notary: reading document rows: %w", err)
	}
	var out []Holding
	for _, h := range hits {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		l, ps, ok, err := o.verifiedLeaf(h.id, h.idx, h.leaf)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		hd, err := o.prove(*l, ps, h.idx, h.leaf)
		if err != nil {
			return nil, err
		}
		hd.LeafHash, hd.Match = h.leaf, MatchDocument
		out = append(out, hd)
	}
	return out, nil
}
