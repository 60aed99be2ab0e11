package notary

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"

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

// docRow is a document row: its key (documentKey) and the leaf hash of the
// entry that names the document.
type docRow struct{ key, val []byte }

// namesDocuments is what every leaf that names a document holds: every
// document hash is the value of a "sha256" member (event.PublicRecord's
// DocumentHashes), and canonical JSON, the only form ParseLeaf accepts,
// spells that name so. Leaves without it (identity checks, intents) are
// not parsed at all.
var namesDocuments = []byte(`"sha256"`)

// entryBundleRows checks the entries of bundle, the entry bundle whose
// first entry has index first, against the leaf hashes the office verified
// (leafHash(i) for index i), and returns a document row for every document
// hash the public leaf of an entry in [from, to) names. An entry whose RFC
// 6962 leaf hash is not the verified one refuses the whole bundle: the
// office indexes only what it can prove. An entry that is not a cunzheng
// public leaf (another log's format) names no documents.
func entryBundleRows(id [8]byte, first uint64, bundle []byte, from, to uint64, leafHash func(uint64) []byte) ([]docRow, error) {
	var rows []docRow
	idx := first
	for rest := bundle; len(rest) > 0; idx++ {
		if len(rest) < 2 {
			return nil, fmt.Errorf("%w: entry bundle %d: truncated length", ErrMalformed, first/tileWidth)
		}
		n := int(binary.BigEndian.Uint16(rest))
		if len(rest) < 2+n {
			return nil, fmt.Errorf("%w: entry bundle %d: entry %d truncated", ErrMalformed, first/tileWidth, idx)
		}
		entry := rest[2 : 2+n]
		rest = rest[2+n:]
		if idx < from || idx >= to {
			continue
		}
		want := leafHash(idx)
		got := tlog.RecordHash(entry) // SHA-256(0x00 || entry), as the log hashes it
		if !bytes.Equal(got[:], want) {
			return nil, fmt.Errorf("%w: entry %d does not hash to the leaf hash the office verified", ErrBadProof, idx)
		}
		if !bytes.Contains(entry, namesDocuments) {
			continue
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
			rows = append(rows, docRow{documentKey(doc, id, idx), want})
		}
	}
	if idx < to {
		return nil, fmt.Errorf("%w: entry bundle %d holds entries up to %d, want %d", ErrMalformed, first/tileWidth, idx, to)
	}
	return rows, nil
}

// entryDocRows fetches the entry bundles of [start, end) and returns the
// document rows of their entries in index order (see entryBundleRows).
// hashes are the leaf hashes of [start, end) the office is verifying. The
// first error in index order ends the rest: a log that serves no entry
// bundles (404) is followed by leaf hash only, and entryDocRows returns
// ErrNotFound.
//
// Bundles are fetched cfg.Concurrency at a time, as tiles are, and
// checked and parsed one after the other, in order, by the caller (the
// pull's prefetch, while the chunk before is hashed and written). Fetched
// one at a time, each only after the one before was parsed, a pull spent a
// round trip per 256 leaves waiting: over a 5 ms link that alone capped it
// near 50k leaves/s. Parsing in cfg.Concurrency goroutines too was
// rejected: on the 2-core test box it cost 10-20% more CPU per leaf and
// was no faster, the parse (event.ParseLeaf, ~20 µs a leaf) being CPU
// bound. At most 2*cfg.Concurrency bundles are held (a few hundred KiB
// each for cunzheng's leaves, 16 MiB at worst).
func entryDocRows(ctx context.Context, cfg PullConfig, id [8]byte, start, end, treeSize uint64, hashes [][]byte) ([]docRow, error) {
	leafHash := func(i uint64) []byte { return hashes[i-start] }
	first, last := start/tileWidth, (end-1)/tileWidth
	n := int(last - first + 1)
	type fetched struct {
		bundle []byte
		err    error
		done   chan struct{}
	}
	slots := make([]fetched, n)
	for i := range slots {
		slots[i].done = make(chan struct{})
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	window := make(chan struct{}, 2*cfg.Concurrency) // bundles fetched or being fetched, not yet parsed
	next := make(chan int)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // feeds the fetchers, at most len(window) ahead of the parse
		defer wg.Done()
		defer close(next)
		for i := range n {
			select {
			case window <- struct{}{}:
			case <-ctx.Done():
				return
			}
			select {
			case next <- i:
			case <-ctx.Done():
				return
			}
		}
	}()
	for range min(cfg.Concurrency, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				t := first + uint64(i)
				slots[i].bundle, slots[i].err = fetchEntryBundle(ctx, cfg, t, min(tileWidth, treeSize-t*tileWidth))
				close(slots[i].done)
			}
		}()
	}
	var out []docRow
	var err error
	for i := range slots {
		select {
		case <-slots[i].done:
		case <-ctx.Done():
			err = ctx.Err()
		}
		if err == nil {
			err = slots[i].err
		}
		if err == nil {
			t := first + uint64(i)
			var rows []docRow
			rows, err = entryBundleRows(id, t*tileWidth, slots[i].bundle, max(start, t*tileWidth), min(end, (t+1)*tileWidth), leafHash)
			out = append(out, rows...)
		}
		if err != nil {
			break
		}
		slots[i].bundle = nil
		<-window
	}
	cancel()
	wg.Wait()
	if err != nil {
		return nil, err
	}
	return out, nil
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
