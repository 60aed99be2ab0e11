package ledger

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/cockroachdb/pebble/v2/sstable/block"
	"github.com/cockroachdb/pebble/v2/vfs"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/cunzheng/cunzheng/ledger/pebbledb"
)

// Key layout of the Pebble store. Every key starts with a one-byte table tag;
// integers are big-endian so that keys of one table sort by index.
//
//	'S'                          -> state: size(8) || compact range hashes (32 each)
//	'e' || index(8)              -> leaf bytes
//	'h' || leaf hash(32)         -> index(8)                 (dedup, lookup by hash)
//	'n' || L(1) || N(8) || s(1) || off(1) -> node hash(32), every complete subtree
//	'c' || size(8)               -> time(8, unix ms) || root(32) || signed note
//	'k' || size(8) || name || 0 || key ID(4) -> cosignature line
//	't' || size(8) || SHA-256(token)[:8]      -> RFC 3161 token
//
// Storing every node (about two hashes per leaf) rather than only tile rows
// makes each proof hash a read without rehashing. Nodes are clustered by
// tile: the node at tree level t and index i lives in tile L = t/8,
// N = i >> (8 - t%8), at sublevel s = t%8 and offset off = i mod (256 >> s).
// All 511 nodes of one tile's subtree are then contiguous (about 20 KiB), so
// an inclusion proof touches one key region per tile level instead of one
// random point per tree level, and a served tile is the sublevel-0 run of its
// region. The rejected alternative, rewriting whole partial tiles per batch,
// costs up to 8 KiB per level per batch and still needs in-tile hashing for
// proofs.
const (
	tagState      = 'S'
	tagLeaf       = 'e'
	tagHashIndex  = 'h'
	tagNode       = 'n'
	tagCheckpoint = 'c'
	tagCosig      = 'k'
	tagToken      = 't'
)

// PebbleOptions tunes the embedded store. The zero value is the default.
type PebbleOptions struct {
	// FS is the filesystem; the default is the OS filesystem. Tests pass
	// vfs.NewMem() or an errorfs wrapper.
	FS vfs.FS
	// CacheSize is the block cache size in bytes, beyond the memtables.
	// The default is 64 MiB.
	CacheSize int64
	// MemTableSize is the memtable size in bytes. The default is 32 MiB.
	// The leaf-hash index has random keys, so every compaction out of L0
	// rewrites the whole index below it: a flush carries four times as
	// many new hashes as at 8 MiB, and the index is rewritten a quarter as
	// often. At 1M events, bench ingest used 5-11% less CPU per event
	// (three interleaved pairs; none at 200k) and bench ledger appended
	// 4% faster with the same proof rate, for about 60 MiB more peak RSS.
	// Smaller skiplists apply a commit faster (115 µs for 32 leaves at
	// 8 MiB, 190 µs at 32 MiB), which no longer shows in appends/s.
	MemTableSize uint64
	// Logger receives Pebble's errors and the store's storage faults. The
	// default discards them.
	Logger *slog.Logger
	// MinFree is the free space, beyond the WAL to replay, that opening
	// the store writable needs; with less it opens read-only and resumes
	// writes when the disk has room. The default is 16 MiB.
	MinFree uint64
}

// DefaultPebbleCacheSize is the default block cache size.
const DefaultPebbleCacheSize = 64 << 20

// PebbleStore is the embedded Store: one Pebble directory. When a write
// fails (a full disk) it refuses further writes, keeps serving reads, and
// Recover reopens it in place once the disk takes writes again (see
// ledger/pebbledb).
type PebbleStore struct {
	db *pebbledb.DB
	// size is the committed tree size; only the Log's committer touches it
	// after Open.
	size uint64
}

var _ Store = (*PebbleStore)(nil)

// OpenPebbleStore opens (creating if needed) a Pebble store in dir. On a
// disk too full to open it writable it opens read-only: reads work, Health
// reports the fault, and Recover resumes writes once the disk has room.
func OpenPebbleStore(dir string, o PebbleOptions) (*PebbleStore, error) {
	if o.CacheSize == 0 {
		o.CacheSize = DefaultPebbleCacheSize
	}
	if o.MemTableSize == 0 {
		o.MemTableSize = 32 << 20
	}
	db, err := pebbledb.Open(pebbledb.Config{
		Name:    "ledger",
		Dir:     dir,
		FS:      o.FS,
		Options: func() *pebble.Options { return pebbleOptions(o) },
		Logger:  o.Logger,
		MinFree: o.MinFree,
	})
	if err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	s := &PebbleStore{db: db}
	st, err := s.LoadState(context.Background())
	if err != nil {
		db.Close()
		return nil, err
	}
	s.size = st.Size
	return s, nil
}

// pebbleOptions returns the options of one opening of the store.
func pebbleOptions(o PebbleOptions) *pebble.Options {
	// Pebble reserves each memtable's size in the block cache, so a cache of
	// CacheSize alone held no blocks at all once two 32 MiB memtables
	// existed: every dedup lookup reread and checksummed the bloom filter
	// blocks from disk. The memtables get their own share on top.
	const memTables = 2 // Pebble's default MemTableStopWritesThreshold
	opts := &pebble.Options{
		Cache:                       pebble.NewCache(o.CacheSize + memTables*int64(o.MemTableSize)),
		MemTableSize:                o.MemTableSize,
		MemTableStopWritesThreshold: memTables,
	}
	// Bloom filters make the dedup lookup of a new (absent) leaf hash cheap.
	// Hashes, most of what is stored, do not compress: compression would
	// only cost CPU on every read and compaction. A bottom tile's nodes
	// (about 20 KiB, see the key layout) span five 4 KiB blocks, most of
	// which an inclusion proof reads; with 16 KiB blocks a proof reads one
	// or two. At 10M leaves that took proofs from 16.9k to 22.0k/s, appends
	// from 26.9k to 28.6k/s and peak RSS from 275 to 249 MiB.
	for i := range opts.Levels {
		opts.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
		opts.Levels[i].Compression = func() *block.CompressionProfile { return block.NoCompression }
		opts.Levels[i].BlockSize = 16 << 10
	}
	opts.Experimental.SpanPolicyFunc = splitTables
	// Leaves are most of the bytes and never change: value separation
	// writes each to a blob file once, at flush, and compactions carry a
	// reference instead of copying the leaf down the levels (splitTables
	// keeps every other table's values inline).
	opts.FormatMajorVersion = pebble.FormatValueSeparation
	opts.Experimental.ValueSeparationPolicy = func() pebble.ValueSeparationPolicy {
		return pebble.ValueSeparationPolicy{
			Enabled:               true,
			MinimumSize:           64,
			MaxBlobReferenceDepth: 10,
			RewriteMinimumAge:     time.Hour,
			TargetGarbageRatio:    0.2,
		}
	}
	opts.EnsureDefaults()
	return opts
}

// Health implements Recoverer: nil while the store takes writes, else a
// *pebbledb.Fault saying why not (errors.Is ErrNoSpace for a full disk).
func (s *PebbleStore) Health() error { return s.db.Health() }

// Recover implements Recoverer: once the disk takes writes again it
// reopens the database in place; it returns nil when writes are taken.
// The caller (the Log's committer side) must not commit meanwhile, and
// must reload the state afterwards: a batch whose commit failed may have
// become durable after all.
func (s *PebbleStore) Recover(ctx context.Context) error {
	if err := s.db.Recover(); err != nil {
		return err
	}
	st, err := s.LoadState(ctx)
	if err != nil {
		return err
	}
	s.size = st.Size
	return nil
}

// splitTables ends every sstable a flush or compaction writes at the end of
// its key table, and node tables also at the end of each tile level. The
// leaf, node and hash-index tables then live in separate files. New leaves
// and nodes sort after all stored ones, so their files can move down the
// LSM without being rewritten; mixed into files with the random hash-index
// keys, every one overlapped everything below it and no file ever moved.
// The upper tile levels, which every proof reads, also get small files of
// their own. Paired runs of bench ledger at 2M entries: proofs 26-27k ->
// 37-38k/s, appends unchanged, and 8% fewer bytes written by compactions.
// It also keeps every table's values but the leaves' inline (see the value
// separation in OpenPebbleStore).
func splitTables(start []byte) (pebble.SpanPolicy, []byte, error) {
	inline := pebble.SpanPolicy{ValueStoragePolicy: pebble.ValueStorageLowReadLatency}
	if len(start) == 0 {
		return inline, []byte{0}, nil
	}
	if start[0] == tagNode && len(start) > 1 && start[1] < 0xff {
		return inline, []byte{tagNode, start[1] + 1}, nil
	}
	if start[0] == 0xff {
		return inline, nil, nil
	}
	if start[0] == tagLeaf {
		return pebble.SpanPolicy{}, []byte{start[0] + 1}, nil
	}
	return inline, []byte{start[0] + 1}, nil
}

// Close closes the Pebble database.
func (s *PebbleStore) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("ledger: closing pebble store: %w", err)
	}
	return nil
}

// set writes one key with Sync.
func (s *PebbleStore) set(key, value []byte) error {
	return storageErr(s.db.Write(func(db *pebble.DB) error { return db.Set(key, value, pebble.Sync) }))
}

// storageErr marks a failed write as ErrStorage, keeping its cause.
func storageErr(err error) error {
	if err == nil || errors.Is(err, ErrStorage) {
		return err
	}
	return &StorageError{Err: err}
}

func (s *PebbleStore) get(key []byte) ([]byte, error) {
	h, err := s.db.Acquire()
	if err != nil {
		return nil, err
	}
	defer h.Release()
	v, closer, err := h.DB().Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	out := bytes.Clone(v)
	closer.Close()
	return out, nil
}

// LoadState implements Store.
func (s *PebbleStore) LoadState(ctx context.Context) (State, error) {
	v, err := s.get([]byte{tagState})
	if errors.Is(err, ErrNotFound) {
		return State{}, nil
	}
	if err != nil {
		return State{}, fmt.Errorf("ledger: reading state: %w", err)
	}
	if len(v) < 8 || (len(v)-8)%32 != 0 {
		return State{}, fmt.Errorf("ledger: corrupt state record of %d bytes", len(v))
	}
	st := State{Size: binary.BigEndian.Uint64(v)}
	for p := v[8:]; len(p) > 0; p = p[32:] {
		st.Hashes = append(st.Hashes, p[:32:32])
	}
	return st, nil
}

func encodeState(st State) []byte {
	v := make([]byte, 8, 8+32*len(st.Hashes))
	binary.BigEndian.PutUint64(v, st.Size)
	for _, h := range st.Hashes {
		v = append(v, h...)
	}
	return v
}

func leafKey(i uint64) []byte {
	k := make([]byte, 9)
	k[0] = tagLeaf
	binary.BigEndian.PutUint64(k[1:], i)
	return k
}

func nodeKey(level uint8, i uint64) []byte {
	return appendNodeKey(make([]byte, 0, 12), level, i)
}

func appendNodeKey(k []byte, level uint8, i uint64) []byte {
	s := level % TileHeight
	k = append(k, tagNode, level/TileHeight)
	k = binary.BigEndian.AppendUint64(k, i>>(TileHeight-s))
	return append(k, s, byte(i&(tileWidth>>s-1)))
}

func hashIndexKey(h tlog.Hash) []byte {
	k := make([]byte, 33)
	k[0] = tagHashIndex
	copy(k[1:], h[:])
	return k
}

func sizeKey(tag byte, size uint64) []byte {
	k := make([]byte, 9)
	k[0] = tag
	binary.BigEndian.PutUint64(k[1:], size)
	return k
}

// Commit implements Store. The whole batch, including the new state record,
// is one Pebble batch committed with Sync.
func (s *PebbleStore) Commit(ctx context.Context, b *Batch) error {
	if s.size != b.Start {
		return fmt.Errorf("ledger: batch starts at %d but the store holds %d leaves", b.Start, s.size)
	}
	var fillErr error
	err := s.db.Write(func(db *pebble.DB) error {
		pb := db.NewBatch()
		defer pb.Close()
		if fillErr = fillBatch(pb, b); fillErr != nil {
			return nil
		}
		return pb.Commit(pebble.Sync)
	})
	if fillErr != nil {
		return fillErr
	}
	if err != nil {
		return storageErr(fmt.Errorf("ledger: committing batch at %d: %w", b.Start, err))
	}
	s.size = b.State.Size
	return nil
}

// fillBatch puts b's keys into pb in key order, table by table: Pebble
// inserts them into its memtable skiplist starting from the previous key's
// position, so sorted keys land next to each other instead of each
// searching from the top.
func fillBatch(pb *pebble.Batch, b *Batch) error {
	if err := pb.Set([]byte{tagState}, encodeState(b.State), nil); err != nil {
		return fmt.Errorf("ledger: batching state: %w", err)
	}
	for i, leaf := range b.Leaves {
		n := b.Start + uint64(i)
		if err := pb.Set(leafKey(n), leaf, nil); err != nil {
			return fmt.Errorf("ledger: batching leaf %d: %w", n, err)
		}
	}
	order := make([]int, len(b.Hashes))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(x, y int) int { return bytes.Compare(b.Hashes[x][:], b.Hashes[y][:]) })
	var idx [8]byte
	for _, i := range order {
		n := b.Start + uint64(i)
		binary.BigEndian.PutUint64(idx[:], n)
		if err := pb.Set(hashIndexKey(b.Hashes[i]), idx[:], nil); err != nil {
			return fmt.Errorf("ledger: batching hash index %d: %w", n, err)
		}
	}
	keys := make([]byte, 0, 12*len(b.Nodes))
	order = order[:0]
	for i, nd := range b.Nodes {
		keys = appendNodeKey(keys, nd.Level, nd.Index)
		order = append(order, i)
	}
	nodeKeyAt := func(i int) []byte { return keys[12*i : 12*i+12] }
	slices.SortFunc(order, func(x, y int) int { return bytes.Compare(nodeKeyAt(x), nodeKeyAt(y)) })
	for _, i := range order {
		if err := pb.Set(nodeKeyAt(i), b.Nodes[i].Hash[:], nil); err != nil {
			return fmt.Errorf("ledger: batching node %d/%d: %w", b.Nodes[i].Level, b.Nodes[i].Index, err)
		}
	}
	return nil
}

// LookupLeaves implements Store. Most looked-up hashes are new, so the
// lookup must be cheap for absent keys: a prefix seek consults the bloom
// filters of every level, including the last one (UseL6Filters), which a
// plain Get skips and pays for with a data block read per new leaf.
func (s *PebbleStore) LookupLeaves(ctx context.Context, hs []tlog.Hash) (map[tlog.Hash]uint64, error) {
	found := make(map[tlog.Hash]uint64)
	if len(hs) == 0 {
		return found, nil
	}
	sorted := slices.Clone(hs)
	slices.SortFunc(sorted, func(a, b tlog.Hash) int { return bytes.Compare(a[:], b[:]) })
	h, err := s.db.Acquire()
	if err != nil {
		return nil, fmt.Errorf("ledger: looking up leaf hashes: %w", err)
	}
	defer h.Release()
	it, err := h.DB().NewIter(&pebble.IterOptions{
		LowerBound:   []byte{tagHashIndex},
		UpperBound:   []byte{tagHashIndex + 1},
		UseL6Filters: true,
	})
	if err != nil {
		return nil, fmt.Errorf("ledger: looking up leaf hashes: %w", err)
	}
	defer it.Close()
	for _, h := range sorted {
		k := hashIndexKey(h)
		if !it.SeekPrefixGE(k) || !bytes.Equal(it.Key(), k) {
			if err := it.Error(); err != nil {
				return nil, fmt.Errorf("ledger: looking up leaf hash: %w", err)
			}
			continue
		}
		v, err := it.ValueAndErr()
		if err != nil {
			return nil, fmt.Errorf("ledger: looking up leaf hash: %w", err)
		}
		if len(v) != 8 {
			return nil, fmt.Errorf("ledger: corrupt hash index entry")
		}
		found[h] = binary.BigEndian.Uint64(v)
	}
	return found, nil
}

// scan calls fn for each of the n consecutive keys [from, from+n) of one
// table, failing with ErrNotFound if any is missing.
func (s *PebbleStore) scan(lower, upper []byte, n int, fn func(i int, v []byte) error) error {
	h, err := s.db.Acquire()
	if err != nil {
		return err
	}
	defer h.Release()
	it, err := h.DB().NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return err
	}
	defer it.Close()
	i := 0
	for valid := it.First(); valid; valid = it.Next() {
		if i >= n {
			break
		}
		v, err := it.ValueAndErr()
		if err != nil {
			return err
		}
		if err := fn(i, v); err != nil {
			return err
		}
		i++
	}
	if err := it.Error(); err != nil {
		return err
	}
	if i != n {
		return ErrNotFound
	}
	return nil
}

// ReadLeaves implements TreeReader.
func (s *PebbleStore) ReadLeaves(ctx context.Context, start uint64, n int) ([][]byte, error) {
	out := make([][]byte, n)
	err := s.scan(leafKey(start), leafKey(start+uint64(n)), n, func(i int, v []byte) error {
		out[i] = bytes.Clone(v)
		return nil
	})
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, err
		}
		return nil, fmt.Errorf("ledger: reading leaves [%d, %d): %w", start, start+uint64(n), err)
	}
	return out, nil
}

// ReadLevel implements TreeReader. Consecutive nodes of one level are
// contiguous within a tile's key region; the read goes region by region.
func (s *PebbleStore) ReadLevel(ctx context.Context, level uint8, start uint64, n int) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, n)
	per := uint64(tileWidth >> (level % TileHeight)) // nodes of this level per tile region
	var err error
	for done := 0; done < n && err == nil; {
		i := start + uint64(done)
		run := int(min(uint64(n-done), per-i%per))
		lower := nodeKey(level, i)
		upper := append(nodeKey(level, i+uint64(run)-1), 0) // just past the run's last key
		base := done
		err = s.scan(lower, upper, run, func(j int, v []byte) error {
			if len(v) != 32 {
				return fmt.Errorf("corrupt node of %d bytes", len(v))
			}
			copy(out[base+j][:], v)
			return nil
		})
		done += run
	}
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, err
		}
		return nil, fmt.Errorf("ledger: reading level %d [%d, %d): %w", level, start, start+uint64(n), err)
	}
	return out, nil
}

// ReadNodes implements TreeReader. One iterator seeks forward through the
// sorted keys: the nodes of a proof cluster in a few tile regions, and
// increasing seeks let Pebble step from the blocks already positioned. A Get
// per node measured three times slower (a fresh lookup through every level
// each time), prefix seeks no faster.
func (s *PebbleStore) ReadNodes(ctx context.Context, ids []NodeID) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	keys := make([][]byte, len(ids))
	order := make([]int, len(ids))
	buf := make([]byte, 0, 12*len(ids))
	for i, id := range ids {
		buf = appendNodeKey(buf, id.Level, id.Index)
		keys[i] = buf[len(buf)-12:]
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return bytes.Compare(keys[a], keys[b]) })
	h, err := s.db.Acquire()
	if err != nil {
		return nil, fmt.Errorf("ledger: reading nodes: %w", err)
	}
	defer h.Release()
	it, err := h.DB().NewIter(&pebble.IterOptions{LowerBound: keys[order[0]], UpperBound: append(bytes.Clone(keys[order[len(order)-1]]), 0)})
	if err != nil {
		return nil, fmt.Errorf("ledger: reading nodes: %w", err)
	}
	defer it.Close()
	for _, i := range order {
		if !it.SeekGE(keys[i]) || !bytes.Equal(it.Key(), keys[i]) {
			if err := it.Error(); err != nil {
				return nil, fmt.Errorf("ledger: reading node %d/%d: %w", ids[i].Level, ids[i].Index, err)
			}
			return nil, fmt.Errorf("ledger: node %d/%d: %w", ids[i].Level, ids[i].Index, ErrNotFound)
		}
		v, err := it.ValueAndErr()
		if err != nil {
			return nil, fmt.Errorf("ledger: reading node %d/%d: %w", ids[i].Level, ids[i].Index, err)
		}
		if len(v) != 32 {
			return nil, fmt.Errorf("ledger: corrupt node %d/%d", ids[i].Level, ids[i].Index)
		}
		copy(out[i][:], v)
	}
	return out, nil
}

func encodeCheckpoint(c StoredCheckpoint) []byte {
	v := make([]byte, 40, 40+len(c.Note))
	binary.BigEndian.PutUint64(v, uint64(c.Time.UnixMilli()))
	copy(v[8:], c.Root[:])
	return append(v, c.Note...)
}

func decodeCheckpoint(size uint64, v []byte) (StoredCheckpoint, error) {
	if len(v) < 40 {
		return StoredCheckpoint{}, fmt.Errorf("ledger: corrupt checkpoint record %d", size)
	}
	c := StoredCheckpoint{
		Size: size,
		Time: time.UnixMilli(int64(binary.BigEndian.Uint64(v))).UTC(),
		Note: bytes.Clone(v[40:]),
	}
	copy(c.Root[:], v[8:40])
	return c, nil
}

// PutCheckpoint implements CheckpointStore.
func (s *PebbleStore) PutCheckpoint(ctx context.Context, c StoredCheckpoint) error {
	old, err := s.GetCheckpoint(ctx, c.Size)
	switch {
	case err == nil:
		if old.Root != c.Root {
			return fmt.Errorf("ledger: refusing a second checkpoint for size %d with a different root", c.Size)
		}
		return nil
	case !errors.Is(err, ErrNotFound):
		return err
	}
	if err := s.set(sizeKey(tagCheckpoint, c.Size), encodeCheckpoint(c)); err != nil {
		return fmt.Errorf("ledger: storing checkpoint %d: %w", c.Size, err)
	}
	return nil
}

// GetCheckpoint implements CheckpointStore.
func (s *PebbleStore) GetCheckpoint(ctx context.Context, size uint64) (StoredCheckpoint, error) {
	v, err := s.get(sizeKey(tagCheckpoint, size))
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return StoredCheckpoint{}, fmt.Errorf("ledger: checkpoint %d: %w", size, err)
		}
		return StoredCheckpoint{}, fmt.Errorf("ledger: reading checkpoint %d: %w", size, err)
	}
	return decodeCheckpoint(size, v)
}

// LatestCheckpoint implements CheckpointStore.
func (s *PebbleStore) LatestCheckpoint(ctx context.Context) (StoredCheckpoint, error) {
	h, err := s.db.Acquire()
	if err != nil {
		return StoredCheckpoint{}, fmt.Errorf("ledger: reading latest checkpoint: %w", err)
	}
	defer h.Release()
	it, err := h.DB().NewIter(&pebble.IterOptions{LowerBound: []byte{tagCheckpoint}, UpperBound: []byte{tagCheckpoint + 1}})
	if err != nil {
		return StoredCheckpoint{}, fmt.Errorf("ledger: reading latest checkpoint: %w", err)
	}
	defer it.Close()
	if !it.Last() {
		if err := it.Error(); err != nil {
			return StoredCheckpoint{}, fmt.Errorf("ledger: reading latest checkpoint: %w", err)
		}
		return StoredCheckpoint{}, fmt.Errorf("ledger: no checkpoint yet: %w", ErrNotFound)
	}
	v, err := it.ValueAndErr()
	if err != nil {
		return StoredCheckpoint{}, fmt.Errorf("ledger: reading latest checkpoint: %w", err)
	}
	return decodeCheckpoint(binary.BigEndian.Uint64(it.Key()[1:]), v)
}

// ListCheckpoints implements CheckpointStore.
func (s *PebbleStore) ListCheckpoints(ctx context.Context, after uint64, limit int) ([]StoredCheckpoint, error) {
	h, err := s.db.Acquire()
	if err != nil {
		return nil, fmt.Errorf("ledger: listing checkpoints: %w", err)
	}
	defer h.Release()
	it, err := h.DB().NewIter(&pebble.IterOptions{LowerBound: sizeKey(tagCheckpoint, after+1), UpperBound: []byte{tagCheckpoint + 1}})
	if err != nil {
		return nil, fmt.Errorf("ledger: listing checkpoints: %w", err)
	}
	defer it.Close()
	var out []StoredCheckpoint
	for valid := it.First(); valid && len(out) < limit; valid = it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			return nil, fmt.Errorf("ledger: listing checkpoints: %w", err)
		}
		c, err := decodeCheckpoint(binary.BigEndian.Uint64(it.Key()[1:]), v)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	if err := it.Error(); err != nil {
		return nil, fmt.Errorf("ledger: listing checkpoints: %w", err)
	}
	return out, nil
}

// PutCosignature implements CheckpointStore.
func (s *PebbleStore) PutCosignature(ctx context.Context, size uint64, keyName string, keyID uint32, line []byte) error {
	k := append(sizeKey(tagCosig, size), keyName...)
	k = append(k, 0)
	k = binary.BigEndian.AppendUint32(k, keyID)
	if err := s.set(k, line); err != nil {
		return fmt.Errorf("ledger: storing cosignature for %d: %w", size, err)
	}
	return nil
}

// PutTimestamp implements CheckpointStore.
func (s *PebbleStore) PutTimestamp(ctx context.Context, size uint64, token []byte) error {
	sum := sha256.Sum256(token)
	k := append(sizeKey(tagToken, size), sum[:8]...)
	if err := s.set(k, token); err != nil {
		return fmt.Errorf("ledger: storing timestamp for %d: %w", size, err)
	}
	return nil
}

// Attachments implements CheckpointStore.
func (s *PebbleStore) Attachments(ctx context.Context, size uint64) (cosigs, tokens [][]byte, err error) {
	h, err := s.db.Acquire()
	if err != nil {
		return nil, nil, fmt.Errorf("ledger: reading attachments of %d: %w", size, err)
	}
	defer h.Release()
	collect := func(tag byte) ([][]byte, error) {
		it, err := h.DB().NewIter(&pebble.IterOptions{LowerBound: sizeKey(tag, size), UpperBound: sizeKey(tag, size+1)})
		if err != nil {
			return nil, err
		}
		defer it.Close()
		var out [][]byte
		for valid := it.First(); valid; valid = it.Next() {
			v, err := it.ValueAndErr()
			if err != nil {
				return nil, err
			}
			out = append(out, bytes.Clone(v))
		}
		return out, it.Error()
	}
	if cosigs, err = collect(tagCosig); err != nil {
		return nil, nil, fmt.Errorf("ledger: reading cosignatures of %d: %w", size, err)
	}
	if tokens, err = collect(tagToken); err != nil {
		return nil, nil, fmt.Errorf("ledger: reading timestamps of %d: %w", size, err)
	}
	return cosigs, tokens, nil
}
