package notary

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/cunzheng/cunzheng/ledger/tlogfmt"
)

// Pull-mode defaults.
const (
	// DefaultPullInterval is how often a pulling office polls /checkpoint.
	DefaultPullInterval = time.Second
	// DefaultPullConcurrency is how many tiles are fetched at once.
	DefaultPullConcurrency = 8
	// DefaultFetchTimeout bounds one HTTP fetch of a checkpoint or tile.
	DefaultFetchTimeout = 5 * time.Second
)

const (
	tileHeight = 8   // C2SP tlog-tiles: tiles are 2^8 hashes wide
	tileWidth  = 256 // hashes in a full tile
	// pullChunkTiles is how many level-0 tiles are fetched, hashed into the
	// compact range and written in one Pebble batch (64 Ki leaves, 2 MiB
	// of hashes in memory).
	pullChunkTiles = 256
	maxTileBytes   = tileWidth * sha256.Size
	maxNoteBytes   = tlogfmt.MaxAddCheckpointBytes
)

// PullConfig configures pull-mode sync of one log.
type PullConfig struct {
	// URL is the log's tlog-tiles prefix; URL+"/checkpoint" is its
	// checkpoint. Required.
	URL string
	// Client makes the requests. The default is a client with
	// DefaultFetchTimeout.
	Client *http.Client
	// Interval is the polling period. The default is DefaultPullInterval.
	Interval time.Duration
	// Concurrency is the number of tiles fetched at once. The default is
	// DefaultPullConcurrency.
	Concurrency int
}

func (c *PullConfig) defaults() {
	c.URL = strings.TrimRight(c.URL, "/")
	if c.Client == nil {
		c.Client = &http.Client{Timeout: DefaultFetchTimeout}
	}
	if c.Interval <= 0 {
		c.Interval = DefaultPullInterval
	}
	if c.Concurrency <= 0 {
		c.Concurrency = DefaultPullConcurrency
	}
}

// pullState is how far the office has copied a log's leaf hashes.
type pullState struct {
	Size  uint64    `json:"size"`
	Root  []byte    `json:"root"`
	Range [][]byte  `json:"range"` // compact range [0, Size) right border
	Note  []byte    `json:"note"`  // the signed checkpoint the leaves hashed to
	Time  time.Time `json:"time"`
}

func (o *Office) loadPull(id [8]byte) (pullState, error) {
	var ps pullState
	err := o.getJSON(pullKey(id), "pull state", &ps)
	return ps, err
}

// Pull polls a log's checkpoint and tiles until ctx ends, keeping a copy of
// every leaf hash and cosigning each checkpoint whose leaves it verified
// itself. Errors of one round are logged and retried on the next; it
// returns nil when ctx ends and ErrClosed when the office is closed.
//
// Spec: https://c2sp.org/tlog-tiles
func (o *Office) Pull(ctx context.Context, cfg PullConfig) error {
	cfg.defaults()
	t := time.NewTicker(cfg.Interval)
	defer t.Stop()
	for {
		if _, err := o.SyncOnce(ctx, cfg); errors.Is(err, ErrClosed) {
			return err
		} else if err != nil && ctx.Err() == nil {
			o.logger.WarnContext(ctx, "pull sync failed", "url", cfg.URL, "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// SyncOnce fetches the log's current checkpoint, copies and hashes every
// leaf hash it does not hold yet, and checks that they hash to the signed
// root. On success the pull state advances and, when the checkpoint extends
// the one the office last cosigned, it becomes the new cosigned checkpoint.
// It returns the number of leaf hashes copied.
func (o *Office) SyncOnce(ctx context.Context, cfg PullConfig) (uint64, error) {
	release, err := o.acquire()
	if err != nil {
		return 0, err
	}
	defer release()
	o.pullMu.Lock()
	defer o.pullMu.Unlock()
	cfg.defaults()
	msg, err := fetch(ctx, cfg.Client, cfg.URL+"/checkpoint", maxNoteBytes)
	if err != nil {
		return 0, err
	}
	v, err := o.openCheckpoint(msg)
	if err != nil {
		return 0, fmt.Errorf("notary: pulled checkpoint: %w", err)
	}
	o.pullURLs.Store(v.log.Origin, cfg.URL)
	ps, err := o.loadPull(v.log.id)
	if err != nil {
		return 0, err
	}
	if v.cp.Size <= ps.Size {
		return 0, o.checkPulledOld(ctx, v, ps)
	}
	// Step through every checkpoint the log published since our copy, so
	// that each gets this office's cosignature, then to the newest.
	between, more, err := o.publishedBetween(ctx, cfg, v, ps.Size)
	if err != nil {
		return 0, err
	}
	var copied uint64
	for _, mid := range between {
		n, err := o.syncTo(ctx, cfg, mid)
		copied += n
		if err != nil {
			return copied, err
		}
	}
	if more {
		return copied, nil // the rest in the next round
	}
	n, err := o.syncTo(ctx, cfg, v)
	return copied + n, err
}

// maxPublishedPerRound bounds how many intermediate checkpoints one
// SyncOnce steps through, so that an office catching up after a long
// outage makes durable progress round by round.
const maxPublishedPerRound = 1000

// publishedBetween lists, oldest first, the checkpoints the log published
// with sizes strictly between after and newest's, from the log's
// GET /v1/log/checkpoints?after=S (a cunzheng extension of tlog-tiles). A log
// that does not serve the list (404) is followed at its /checkpoint only.
// more is set when the list was cut at maxPublishedPerRound.
func (o *Office) publishedBetween(ctx context.Context, cfg PullConfig, newest *verified, after uint64) (mids []*verified, more bool, err error) {
	for len(mids) < maxPublishedPerRound {
		u := fmt.Sprintf("%s/v1/log/checkpoints?after=%d&limit=%d", cfg.URL, after, min(maxPublishedPerRound-len(mids), 1000))
		body, err := fetch(ctx, cfg.Client, u, maxListBytes)
		if errors.Is(err, ErrNotFound) {
			return nil, false, nil
		}
		if err != nil {
			return nil, false, err
		}
		var list struct {
			Checkpoints []struct {
				Size uint64 `json:"size"`
				Note string `json:"note"`
			} `json:"checkpoints"`
		}
		if err := json.Unmarshal(body, &list); err != nil {
			return nil, false, fmt.Errorf("%w: %s: %v", ErrMalformed, u, err)
		}
		if len(list.Checkpoints) == 0 {
			return mids, false, nil
		}
		for _, c := range list.Checkpoints {
			if c.Size <= after {
				return nil, false, fmt.Errorf("%w: %s: sizes not increasing", ErrMalformed, u)
			}
			if c.Size >= newest.cp.Size {
				return mids, false, nil
			}
			v, err := o.openCheckpoint([]byte(c.Note))
			if err != nil {
				return nil, false, fmt.Errorf("notary: listed checkpoint %d: %w", c.Size, err)
			}
			if v.log.id != newest.log.id || v.cp.Size != c.Size {
				return nil, false, fmt.Errorf("%w: listed checkpoint %d is of another log or size", ErrMalformed, c.Size)
			}
			mids = append(mids, v)
			after = c.Size
		}
	}
	return mids, true, nil
}

// maxListBytes bounds one page of a log's checkpoint list.
const maxListBytes = 8 << 20

// syncTo copies the leaf hashes of v's tree the office does not hold yet,
// checks them against v's root and, when v extends the checkpoint last
// cosigned, cosigns it. o.pullMu must be held.
func (o *Office) syncTo(ctx context.Context, cfg PullConfig, v *verified) (uint64, error) {
	ps, err := o.loadPull(v.log.id)
	if err != nil {
		return 0, err
	}
	if v.cp.Size <= ps.Size {
		return 0, o.checkPulledOld(ctx, v, ps)
	}
	o.mu.Lock()
	st, err := o.loadState(v.log.id)
	o.mu.Unlock()
	if err != nil {
		return 0, err
	}

	rf := compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}
	rng, err := rf.NewRange(0, ps.Size, ps.Range)
	if err != nil {
		return 0, fmt.Errorf("notary: stored compact range: %w", err)
	}
	// rootAtCosigned is the root of our copy at the size last cosigned, when
	// that size lies inside the range being copied; it must equal the
	// cosigned root or the log showed two histories.
	var rootAtCosigned []byte
	checkCosigned := st.Exists && st.Size > ps.Size && st.Size <= v.cp.Size
	type fpRow struct {
		key []byte
		idx uint64
	}
	var fps []fpRow
	// Chunks are fetched one ahead of the one being hashed and written, so
	// that the network and the store work at the same time.
	type chunk struct {
		hashes [][]byte
		err    error
		// docs are the document rows of the chunk's entries, when asked
		// for; docErr is why there are none (see entryDocRows).
		docs   []docRow
		docErr error
	}
	// A fetch still running when SyncOnce returns early is cancelled.
	fctx, cancelFetch := context.WithCancel(ctx)
	defer cancelFetch()
	chunkEnd := func(start uint64) uint64 { return min(v.cp.Size, (start/tileWidth+pullChunkTiles)*tileWidth) }
	// The entry bundles are fetched, checked and parsed in the same step,
	// off the loop that hashes and writes.
	prefetch := func(start uint64, docs bool) <-chan chunk {
		ch := make(chan chunk, 1)
		go func() {
			end := chunkEnd(start)
			h, err := fetchLeafHashes(fctx, cfg, start, end, v.cp.Size)
			c := chunk{hashes: h, err: err}
			if err == nil && docs {
				c.docs, c.docErr = entryDocRows(fctx, cfg, v.log.id, start, end, v.cp.Size, h)
			}
			ch <- c
		}()
		return ch
	}
	docsServed := true
	next := prefetch(ps.Size, docsServed)
	var entryErr error // an entry bundle refused
	for start := ps.Size; start < v.cp.Size; {
		end := chunkEnd(start)
		c := <-next
		if c.err != nil {
			return 0, c.err
		}
		hashes := c.hashes
		// The document hashes the chunk's leaves name, from the log's
		// entry bundles checked against the leaf hashes above.
		if docsServed {
			if errors.Is(c.docErr, ErrNotFound) {
				docsServed = false
				o.logger.WarnContext(ctx, "log serves no entry bundles; its leaves are held by leaf hash only", "origin", v.log.Origin)
			} else if errors.Is(c.docErr, ErrBadProof) || errors.Is(c.docErr, ErrMalformed) {
				// Reported once the leaf hashes are checked against
				// the root: a tile that lies is the log's fork, an
				// alarm, before it is an entry that does not match.
				docsServed, entryErr = false, c.docErr
			} else if c.docErr != nil {
				return 0, fmt.Errorf("notary: indexing documents of %s: %w", v.log.Origin, c.docErr)
			}
		}
		if end < v.cp.Size {
			next = prefetch(end, docsServed)
		}
		// About 80 bytes a leaf: a fingerprint row and 32 bytes of tile row.
		batch := o.db.NewBatchWithSize(len(hashes) * 80)
		for i, h := range hashes {
			idx := start + uint64(i)
			if err := rng.Append(h, nil); err != nil {
				batch.Close()
				return 0, fmt.Errorf("notary: compact range: %w", err)
			}
			if checkCosigned && idx+1 == st.Size {
				if rootAtCosigned, err = rng.GetRootHash(nil); err != nil {
					batch.Close()
					return 0, fmt.Errorf("notary: compact range: %w", err)
				}
			}
			fps = append(fps, fpRow{fingerprintKey(h, v.log.id), idx})
		}
		// Sorted, the rows go into the memtable's skiplist along one
		// path instead of a random walk each (BenchmarkPullSync went from
		// ~120k to ~400k leaves/s on the shared 2-core box).
		slices.SortFunc(fps, func(a, b fpRow) int { return bytes.Compare(a.key, b.key) })
		for _, r := range fps {
			_ = batch.Set(r.key, binary.AppendUvarint(nil, r.idx), nil)
		}
		fps = fps[:0]
		// The leaf hashes themselves, one row per level-0 tile (a partial
		// tile's row is rewritten when it grows): lookups confirm a
		// fingerprint row against them.
		for t := start / tileWidth; t*tileWidth < end; t++ {
			lo := max(t*tileWidth, start)
			var row []byte
			if lo > t*tileWidth {
				prev, err := o.get(tileKey(v.log.id, t))
				if err != nil || uint64(len(prev)) < (lo-t*tileWidth)*sha256.Size {
					batch.Close()
					return 0, fmt.Errorf("notary: stored tile %d missing: %w", t, err)
				}
				row = prev[:(lo-t*tileWidth)*sha256.Size]
			}
			for idx := lo; idx < min(end, (t+1)*tileWidth); idx++ {
				row = append(row, hashes[idx-start]...)
			}
			_ = batch.Set(tileKey(v.log.id, t), row, nil)
		}
		if docsServed {
			for _, r := range c.docs {
				_ = batch.Set(r.key, r.val, nil)
			}
		}
		// Not synced: these rows count only once the pull state that
		// covers them is committed with Sync below (lookups check the
		// index against the pull state and the tile row).
		if err := o.commit(batch, pebble.NoSync); err != nil {
			batch.Close()
			return 0, fmt.Errorf("notary: writing fingerprints: %w", err)
		}
		batch.Close()
		o.metrics.pulledLeaves.Add(float64(len(hashes)))
		start = end
	}
	root, err := rng.GetRootHash(nil)
	if err != nil {
		return 0, fmt.Errorf("notary: compact range: %w", err)
	}

	o.mu.Lock()
	defer o.mu.Unlock()
	if !bytes.Equal(root, v.cp.Root[:]) {
		if err := o.recordAlarm(ctx, Alarm{Origin: v.log.Origin, Kind: AlarmInconsistent, Size: v.cp.Size, Held: ps.Note, Got: v.note,
			Detail: fmt.Sprintf("the log's leaf hashes from tiles do not hash to its signed root at size %d", v.cp.Size)}); err != nil {
			return 0, err
		}
		return 0, fmt.Errorf("%w: pulled leaves do not hash to the signed root at size %d", ErrBadProof, v.cp.Size)
	}
	if err := o.checkHistory(ctx, v, nil); errors.Is(err, errSplitView) {
		return 0, &ConflictError{Origin: v.log.Origin, Size: st.Size, Fork: true}
	} else if err != nil {
		return 0, err
	}
	if entryErr != nil {
		// The leaf hashes are the log's, but the entries it serves are
		// not: nothing of them is indexed and the copy does not advance.
		return 0, fmt.Errorf("notary: entry bundles of %s: %w", v.log.Origin, entryErr)
	}
	// Re-read the cosigned state: a push may have advanced it meanwhile.
	firstSize := st.Size
	st, err = o.loadState(v.log.id)
	if err != nil {
		return 0, err
	}
	// The roots of our own copy that we know, by tree size.
	known := map[uint64][]byte{0: rfc6962.DefaultHasher.EmptyRoot(), v.cp.Size: root}
	if ps.Size > 0 {
		known[ps.Size] = ps.Root
	}
	if rootAtCosigned != nil {
		known[firstSize] = rootAtCosigned
	}
	extends := !st.Exists
	if st.Exists && st.Size < v.cp.Size {
		if r, ok := known[st.Size]; ok {
			if !bytes.Equal(r, st.Root) {
				if err := o.recordAlarm(ctx, Alarm{Origin: v.log.Origin, Kind: AlarmInconsistent, Size: v.cp.Size, Held: st.Note, Got: v.note,
					Detail: fmt.Sprintf("the signed checkpoint of size %d is not an extension of the cosigned one of size %d", v.cp.Size, st.Size)}); err != nil {
					return 0, err
				}
				return 0, fmt.Errorf("%w: checkpoint %d does not extend cosigned %d", ErrBadProof, v.cp.Size, st.Size)
			}
			extends = true
		}
	}
	nps := pullState{Size: v.cp.Size, Root: root, Range: rng.Hashes(), Note: v.note, Time: time.Now().UTC()}
	b, err := json.Marshal(nps)
	if err != nil {
		return 0, fmt.Errorf("notary: encoding pull state: %w", err)
	}
	stagePull := func(b2 *pebble.Batch) error { return b2.Set(pullKey(v.log.id), b, nil) }
	if extends {
		if _, err := o.commitCosigned(v, stagePull); err != nil {
			return 0, err
		}
	} else {
		batch := o.db.NewBatch()
		defer batch.Close()
		if err := stagePull(batch); err != nil {
			return 0, fmt.Errorf("notary: staging pull state: %w", err)
		}
		if err := o.commit(batch, pebble.Sync); err != nil {
			return 0, fmt.Errorf("notary: committing pull state: %w", err)
		}
	}
	o.metrics.pulledSize.WithLabelValues(v.log.Origin).Set(float64(v.cp.Size))
	return v.cp.Size - ps.Size, nil
}

// fingerprintPrefix is how much of a leaf hash a fingerprint row's key
// holds: 16 bytes keep collisions (confirmed against the tile row anyway)
// out of reach while making the random-keyed table, which dominates the
// cost of compactions, a third smaller.
const fingerprintPrefix = 16

func fingerprintKey(h []byte, id [8]byte) []byte {
	k := make([]byte, 0, 1+fingerprintPrefix+8)
	k = append(append(k, tagFingerprint), h[:fingerprintPrefix]...)
	return append(k, id[:]...)
}

func tileKey(id [8]byte, tile uint64) []byte {
	k := make([]byte, 0, 17)
	k = append(append(k, tagLeaf), id[:]...)
	return binary.BigEndian.AppendUint64(k, tile)
}

// checkPulledOld handles a pulled checkpoint no larger than what the office
// already copied: the same size must carry the same root.
func (o *Office) checkPulledOld(ctx context.Context, v *verified, ps pullState) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if err := o.checkHistory(ctx, v, nil); errors.Is(err, errSplitView) {
		return fmt.Errorf("%w: pulled checkpoint of size %d differs from the cosigned one", ErrConflict, v.cp.Size)
	} else if err != nil {
		return err
	}
	if len(ps.Note) == 0 {
		// Nothing pulled yet, so no root held to compare with: a log's
		// checkpoint of size 0 must carry the empty tree's hash.
		if v.cp.Size == 0 && !bytes.Equal(v.cp.Root[:], rfc6962.DefaultHasher.EmptyRoot()) {
			return fmt.Errorf("%w: checkpoint of size 0 whose root is not the empty tree's", ErrBadProof)
		}
		return nil
	}
	if v.cp.Size == ps.Size && !bytes.Equal(v.cp.Root[:], ps.Root) {
		if err := o.recordAlarm(ctx, Alarm{Origin: v.log.Origin, Kind: AlarmFork, Size: v.cp.Size, Held: ps.Note, Got: v.note,
			Detail: fmt.Sprintf("two checkpoints of size %d with different roots, both signed by the log", v.cp.Size)}); err != nil {
			return err
		}
		return fmt.Errorf("%w: pulled checkpoint of size %d has a different root", ErrConflict, v.cp.Size)
	}
	return nil
}

// fetchLeafHashes returns the level-0 hashes (leaf hashes) [start, end) of
// a tree of size treeSize, fetching level-0 tiles concurrently.
func fetchLeafHashes(ctx context.Context, cfg PullConfig, start, end, treeSize uint64) ([][]byte, error) {
	first, last := start/tileWidth, (end-1)/tileWidth
	tiles := make([][]byte, last-first+1)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg      sync.WaitGroup
		errOnce sync.Once
		ferr    error
		next    = make(chan uint64)
	)
	for range min(cfg.Concurrency, len(tiles)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range next {
				w := min(tileWidth, treeSize-n*tileWidth)
				data, err := fetchTile(ctx, cfg, n, w)
				if err != nil {
					errOnce.Do(func() { ferr = err; cancel() })
					continue
				}
				tiles[n-first] = data
			}
		}()
	}
feed:
	for n := first; n <= last; n++ {
		select {
		case next <- n:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if ferr != nil {
		return nil, ferr
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out := make([][]byte, 0, end-start)
	for i, data := range tiles {
		base := (first + uint64(i)) * tileWidth
		for j := uint64(0); j < uint64(len(data))/sha256.Size; j++ {
			idx := base + j
			if idx >= start && idx < end {
				out = append(out, data[j*sha256.Size:(j+1)*sha256.Size])
			}
		}
	}
	if uint64(len(out)) != end-start {
		return nil, fmt.Errorf("notary: tiles gave %d leaf hashes, want %d", len(out), end-start)
	}
	return out, nil
}

// fetchTile fetches level-0 tile n of width w. A partial tile that is gone
// (404) is read from the full tile, which C2SP tlog-tiles allows a log to
// serve instead once the tile is complete.
func fetchTile(ctx context.Context, cfg PullConfig, n, w uint64) ([]byte, error) {
	t := tlog.Tile{H: tileHeight, L: 0, N: int64(n), W: int(w)}
	data, err := fetch(ctx, cfg.Client, cfg.URL+"/"+tlogfmt.TilePathOf(t).String(), maxTileBytes)
	if w < tileWidth && errors.Is(err, ErrNotFound) {
		t.W = tileWidth
		data, err = fetch(ctx, cfg.Client, cfg.URL+"/"+tlogfmt.TilePathOf(t).String(), maxTileBytes)
		if err == nil && len(data) == maxTileBytes {
			data = data[:w*sha256.Size]
		}
	}
	if err != nil {
		return nil, err
	}
	if uint64(len(data)) != w*sha256.Size {
		return nil, fmt.Errorf("notary: tile %s is %d bytes, want %d", tlogfmt.TilePathOf(t).String(), len(data), w*sha256.Size)
	}
	return data, nil
}

// fetch GETs url and returns at most limit bytes of its body. 404 wraps
// ErrNotFound.
func fetch(ctx context.Context, c *http.Client, url string, limit int64) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("notary: %w", err)
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("notary: fetching %s: %w", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("notary: reading %s: %w", url, err)
	}
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return nil, fmt.Errorf("notary: fetching %s: %w", url, ErrNotFound)
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("notary: fetching %s: status %s", url, resp.Status)
	case int64(len(body)) > limit:
		return nil, fmt.Errorf("notary: %s is larger than %d bytes", url, limit)
	}
	return body, nil
}

// Fingerprint is where the office holds a leaf hash in its own copy of a log.
type Fingerprint struct {
	Origin string `json:"origin"`
	Index  uint64 `json:"index"`
	// Size is the size of the verified checkpoint the copy reaches.
	Size uint64 `json:"checkpoint_size"`
}

// Fingerprints returns every log copy that holds leafHash, answering from the
// office's own store only. It returns ErrNotFound when none does.
func (o *Office) Fingerprints(ctx context.Context, leafHash []byte) ([]Fingerprint, error) {
	release, err := o.acquire()
	if err != nil {
		return nil, err
	}
	defer release()
	if len(leafHash) != sha256.Size {
		return nil, fmt.Errorf("%w: leaf hash must be 32 bytes", ErrMalformed)
	}
	lower := append([]byte{tagFingerprint}, leafHash[:fingerprintPrefix]...)
	upper := append(bytes.Clone(lower), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)
	it, err := o.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return nil, fmt.Errorf("notary: reading fingerprints: %w", err)
	}
	type hit struct {
		id  [8]byte
		idx uint64
	}
	var hits []hit
	for it.First(); it.Valid(); it.Next() {
		k := it.Key()
		idx, n := binary.Uvarint(it.Value())
		if len(k) != 1+fingerprintPrefix+8 || n <= 0 {
			continue
		}
		hits = append(hits, hit{[8]byte(k[1+fingerprintPrefix:]), idx})
	}
	err = it.Error()
	it.Close()
	if err != nil {
		return nil, fmt.Errorf("notary: reading fingerprints: %w", err)
	}
	var out []Fingerprint
	for _, h := range hits {
		l, ps, ok, err := o.verifiedLeaf(h.id, h.idx, leafHash)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		out = append(out, Fingerprint{Origin: l.Origin, Index: h.idx, Size: ps.Size})
	}
	if len(out) == 0 {
		return nil, ErrNotFound
	}
	return out, nil
}

// verifiedLeaf reports whether the office's copy of log id holds leafHash
// at idx, verified: the log is still followed, idx is below the size the
// copy verified, and the stored tile row has leafHash there (not another
// hash sharing an index prefix, nor a stale row of a copy that failed
// verification).
func (o *Office) verifiedLeaf(id [8]byte, idx uint64, leafHash []byte) (*logEntry, pullState, bool, error) {
	var l *logEntry
	for _, e := range o.logs {
		if e.id == id {
			l = &e
			break
		}
	}
	if l == nil {
		return nil, pullState{}, false, nil
	}
	ps, err := o.loadPull(id)
	if err != nil {
		return nil, pullState{}, false, err
	}
	if idx >= ps.Size {
		return nil, pullState{}, false, nil // copied but not yet verified
	}
	row, err := o.get(tileKey(id, idx/tileWidth))
	if err != nil && !errors.Is(err, ErrNotFound) {
		return nil, pullState{}, false, err
	}
	off := (idx % tileWidth) * sha256.Size
	if uint64(len(row)) < off+sha256.Size || !bytes.Equal(row[off:off+sha256.Size], leafHash) {
		return nil, pullState{}, false, nil
	}
	return l, ps, true, nil
}
