package evidence

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/cunzheng/cunzheng/ledger/pebbledb"
)

// Store is where the service keeps its state: an ordered key-value store
// (keys compare bytewise) with atomic batches, range scans and serialised
// read-modify-write transactions. There are two: the embedded Pebble store
// under Config.Dir (the default) and PostgreSQL (OpenPostgres), which
// several `cunzheng serve` processes share in cluster mode. Its methods are
// unexported: the service's correctness rests on each implementation's
// exact guarantees, documented on the methods below, and both live here.
//
// Rejected: a store interface per table (claims, sealed records, keys,
// contracts, ...). Every write of the service is a batch across several of
// those tables that must commit atomically, and the key layout (see key) is
// already the schema; one ordered KV with batches keeps the two
// implementations small and the service's logic in one place.
type Store interface {
	// get returns a copy of the value of k; found is false when absent.
	get(ctx context.Context, k []byte) (v []byte, found bool, err error)
	// getMany returns the values of the keys present, keyed by string(k).
	getMany(ctx context.Context, keys [][]byte) (map[string][]byte, error)
	// scan calls fn for every key in [lower, upper) in increasing order
	// (upper nil: no bound) until fn returns false or an error. fn must not
	// keep k or v, and may call get.
	scan(ctx context.Context, lower, upper []byte, fn func(k, v []byte) (bool, error)) error
	// scanPending calls fn with the key of every claim written pending
	// (batch.insertPending) and not yet marked done (batch.setDone), in
	// key order, until fn returns false or an error. fn must not keep k.
	scanPending(ctx context.Context, fn func(claimKey []byte) (bool, error)) error
	// commit applies b atomically: all of it or, on error, none. It fails
	// with errConflict, changing nothing, when a key b inserts holds another
	// value or a key b expects does not hold the expected one. With b.sync the batch is durable on
	// return.
	commit(ctx context.Context, b *batch) error
	// update runs fn and commits the batch it fills, atomically. Keys fn
	// reads with tx.lock, and mutexes it takes with tx.mutex, are held until
	// the commit against every other update, in every process sharing the
	// store; fn may run more than once (a transaction that lost a deadlock
	// is retried), so it must not have effects outside tx.
	update(ctx context.Context, fn func(tx txn) error) error
	// shared reports whether other processes may use the store at the same
	// time: the service then trusts no in-memory cache of stored state.
	shared() bool
	// Close releases the store.
	Close() error
}

// txn is an update in progress.
type txn interface {
	// lock reads keys, holding them until the transaction ends; absent keys
	// are missing from the map (keyed by string(k)). A claim still marked
	// pending reads as an empty value: finalize only needs to know that it
	// is not done, and on PostgreSQL its 2 KiB (leaf and sealed record) were
	// most of the bytes finalize read back.
	lock(keys [][]byte) (map[string][]byte, error)
	// mutex holds the named lock until the transaction ends.
	mutex(name string) error
	// scan is Store.scan within the transaction.
	scan(lower, upper []byte, fn func(k, v []byte) (bool, error)) error
	// batch is what the transaction writes when fn returns nil.
	batch() *batch
}

// errConflict means a batch's precondition failed: another request, maybe
// in another process, wrote one of its keys first. The service re-reads
// and tries again.
var errConflict = errors.New("evidence: concurrent write to the same key")

// opKind is what one batch operation does.
type opKind byte

const (
	opSet opKind = iota
	opInsert
	opDelete
	opDeleteRange
)

// mark is what a write does to the pending mark of the claim it writes.
type mark byte

const (
	markKeep    mark = iota // not a claim, or its mark unchanged
	markPending             // the claim is pending: recovery completes it
	markDone                // the claim is done: recovery skips it
)

type op struct {
	kind opKind
	k, v []byte // v is the end key of opDeleteRange
	mark mark   // opSet and opInsert of a claim
}

// batch is an ordered list of writes with preconditions.
type batch struct {
	ops     []op
	expects []op // key must hold exactly v
	sync    bool
	// prechecked says the caller read every key the batch inserts or
	// expects, and found it as the batch requires, after taking the locks
	// that serialise every writer of those keys in this process. A store
	// whose only writer is this process need not read them again: on
	// Pebble that second read was 4.6% of batched ingest's CPU.
	prechecked bool
}

func (b *batch) set(k, v []byte) { b.ops = append(b.ops, op{kind: opSet, k: k, v: notNil(v)}) }

// notNil makes an empty value an empty one rather than SQL NULL.
func notNil(v []byte) []byte {
	if v == nil {
		return []byte{}
	}
	return v
}

// insert sets k to v, failing the whole batch with errConflict if k holds
// another value (the same bytes again are no conflict).
func (b *batch) insert(k, v []byte) { b.ops = append(b.ops, op{kind: opInsert, k: k, v: notNil(v)}) }

// insertPending inserts the claim k (as insert does) and marks it pending,
// for Store.scanPending. Pebble keeps the mark as a key of its own
// (pendingKey); PostgreSQL as a column of the claim's row, which saves a
// row written and one deleted per event.
func (b *batch) insertPending(k, v []byte) {
	b.ops = append(b.ops, op{kind: opInsert, k: k, v: notNil(v), mark: markPending})
}

// setDone sets the claim k to v and clears its pending mark.
func (b *batch) setDone(k, v []byte) {
	b.ops = append(b.ops, op{kind: opSet, k: k, v: notNil(v), mark: markDone})
}

func (b *batch) delete(k []byte) { b.ops = append(b.ops, op{kind: opDelete, k: k}) }

func (b *batch) deleteRange(lo, hi []byte) {
	b.ops = append(b.ops, op{kind: opDeleteRange, k: lo, v: hi})
}

// expect makes the batch fail with errConflict unless k holds exactly v
// when it commits.
func (b *batch) expect(k, v []byte) { b.expects = append(b.expects, op{k: k, v: v}) }

func (b *batch) empty() bool { return len(b.ops) == 0 && len(b.expects) == 0 }

// pebbleStore is the embedded store: one process (Pebble locks its
// directory), whose callers serialise writers of a key themselves (the
// service's in-flight claims, eraseMu and update's mutex), so that checking
// a precondition with a read just before committing is race-free.
//
// A failed write (a full disk) pauses its writes and leaves reads working;
// Service.recoverLoop reopens it in place once the disk takes writes
// again (see ledger/pebbledb).
type pebbleStore struct {
	db *pebbledb.DB
	mu sync.Mutex // serialises update
}

var _ Store = (*pebbleStore)(nil)

func openPebble(dir string, fs vfs.FS, logger *slog.Logger) (*pebbleStore, error) {
	db, err := pebbledb.Open(pebbledb.Config{
		Name:    "evidence",
		Dir:     filepath.Join(dir, "db"),
		FS:      noRecycleFS{fs},
		Options: pebbleOptions,
		Logger:  logger,
	})
	if err != nil {
		return nil, fmt.Errorf("evidence: opening store: %w", err)
	}
	return &pebbleStore{db: db}, nil
}

// pebbleOptions returns the options of one opening of the store.
func pebbleOptions() *pebble.Options {
	// Pebble reserves each memtable's size in the block cache: a cache of
	// DefaultCacheSize next to two 32 MiB memtables held no block at all,
	// and every claim and index read went to disk. The memtables get their
	// share on top. 32 MiB rather than 16: twice the events per flushed L0
	// file, so half as many L0 compactions rewrite the random-keyed level
	// below (bench ingest used 5-18% less CPU per event in five
	// interleaved pairs), for about 40 MiB more peak RSS.
	const memTableSize = 32 << 20
	opts := &pebble.Options{
		MemTableStopWritesThreshold: memTableStopWritesThreshold,
		MemTableSize:                memTableSize,
		// Claims, subject keys and document hashes have random keys, so
		// every L0 compaction rewrites nearly all of the level below:
		// compacting four times as many L0 files at once rewrites it a
		// quarter as often (a 200,000-event bench wrote 1.6 GB in all
		// with Pebble's threshold of 4, 1.3 GB with 16). Reads pay little:
		// most are misses that the bloom filters answer.
		L0CompactionThreshold: 16,
		L0StopWritesThreshold: 64,
		Cache:                 pebble.NewCache(DefaultCacheSize + memTableStopWritesThreshold*memTableSize),
	}
	// Sealed records are half the bytes ingest writes, keyed by ledger
	// index, and never rewritten. Value separation writes each one to a
	// blob file once, at flush, and compactions then carry a reference
	// instead of copying it down every level. Only that table's values are
	// separated: a subject key must stay inline, where compacting its range
	// after an erasure removes it from disk (shred). The sealed table also
	// gets its own files and the cheapest compression: it is ciphertext.
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
	opts.Experimental.SpanPolicyFunc = sealedSpanPolicy
	// Most ingest reads are misses (a new id, a new subject, a new
	// contract): bloom filters answer those without reading blocks.
	for i := range opts.Levels {
		opts.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
	}
	return opts
}

// writeErr marks a failed write as ErrUnavailable, keeping its cause (a
// *pebbledb.Fault: errors.Is(err, ErrNoSpace) for a full disk).
func writeErr(err error) error {
	if err == nil || errors.Is(err, ErrUnavailable) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrUnavailable, err)
}

// health returns why the store takes no writes, or nil.
func (p *pebbleStore) health() error { return p.db.Health() }

// recoverWrites reopens the store once the disk takes writes again; nil
// when writes are taken.
func (p *pebbleStore) recoverWrites() error { return p.db.Recover() }

// sealedSpanPolicy separates the values of the sealed table (S/) and keeps
// every other table's values inline.
func sealedSpanPolicy(start []byte) (pebble.SpanPolicy, []byte, error) {
	lo, hi := sealedKeys[0], sealedKeys[1]
	inline := pebble.SpanPolicy{ValueStoragePolicy: pebble.ValueStorageLowReadLatency}
	switch {
	case bytes.Compare(start, lo) < 0:
		return inline, lo, nil
	case bytes.Compare(start, hi) < 0:
		return pebble.SpanPolicy{PreferFastCompression: true}, hi, nil
	default:
		return inline, nil, nil
	}
}

func (p *pebbleStore) shared() bool { return false }

func (p *pebbleStore) Close() error { return p.db.Close() }

// acquire returns the open database for one read; release it after.
func (p *pebbleStore) acquire() (pebbledb.Handle, error) {
	h, err := p.db.Acquire()
	if err != nil {
		return h, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return h, nil
}

// get and getMany look keys up with prefix seeks rather than Get: most
// ingest lookups are for absent keys (a new id, subject or contract), and
// a prefix seek consults the bloom filter of every level, the last one
// included (UseL6Filters), where a Get reads a data block to find nothing.
func (p *pebbleStore) get(ctx context.Context, k []byte) ([]byte, bool, error) {
	out, err := p.getMany(ctx, [][]byte{k})
	if err != nil {
		return nil, false, err
	}
	v, ok := out[string(k)]
	return v, ok, nil
}

func (p *pebbleStore) getMany(_ context.Context, keys [][]byte) (map[string][]byte, error) {
	out := make(map[string][]byte, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	sorted := slices.Clone(keys)
	slices.SortFunc(sorted, bytes.Compare)
	h, err := p.acquire()
	if err != nil {
		return nil, err
	}
	defer h.Release()
	it, err := h.DB().NewIter(&pebble.IterOptions{UseL6Filters: true})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	for _, k := range sorted {
		if !it.SeekPrefixGE(k) || !bytes.Equal(it.Key(), k) {
			if err := it.Error(); err != nil {
				return nil, err
			}
			continue
		}
		v, err := it.ValueAndErr()
		if err != nil {
			return nil, err
		}
		c := bytes.Clone(v)
		if c == nil {
			c = []byte{} // found, though empty
		}
		out[string(k)] = c
	}
	return out, nil
}

func (p *pebbleStore) scan(_ context.Context, lower, upper []byte, fn func(k, v []byte) (bool, error)) error {
	h, err := p.acquire()
	if err != nil {
		return err
	}
	defer h.Release()
	it, err := h.DB().NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return err
	}
	for ok := it.First(); ok; ok = it.Next() {
		more, err := fn(it.Key(), it.Value())
		if err != nil {
			it.Close()
			return err
		}
		if !more {
			break
		}
	}
	return it.Close()
}

func (p *pebbleStore) scanPending(ctx context.Context, fn func(claimKey []byte) (bool, error)) error {
	return p.scan(ctx, pendingKeys[0], pendingKeys[1], func(k, _ []byte) (bool, error) {
		return fn(claimKeyOf(k))
	})
}

func (p *pebbleStore) check(b *batch) error {
	var keys [][]byte
	for _, e := range b.expects {
		keys = append(keys, e.k)
	}
	for _, o := range b.ops {
		if o.kind == opInsert {
			keys = append(keys, o.k)
		}
	}
	stored, err := p.getMany(context.Background(), keys)
	if err != nil {
		return err
	}
	for _, e := range b.expects {
		if v, found := stored[string(e.k)]; !found || string(v) != string(e.v) {
			return errConflict
		}
	}
	for _, o := range b.ops {
		if o.kind != opInsert {
			continue
		}
		if v, found := stored[string(o.k)]; found && string(v) != string(o.v) {
			// The same bytes again is no conflict: a batch repeating a
			// subject key another batch of this process just stored.
			return errConflict
		}
	}
	return nil
}

func (p *pebbleStore) commit(_ context.Context, b *batch) error {
	if !b.prechecked {
		if err := p.check(b); err != nil {
			return err
		}
	}
	opt := pebble.NoSync
	if b.sync {
		opt = pebble.Sync
	}
	var buildErr error
	err := p.db.Write(func(db *pebble.DB) error {
		pb := db.NewBatch()
		defer pb.Close()
		for _, o := range b.ops {
			switch o.mark {
			case markPending:
				buildErr = pb.Set(pendingKeyOf(o.k), nil, nil)
			case markDone:
				buildErr = pb.Delete(pendingKeyOf(o.k), nil)
			}
			if buildErr != nil {
				return nil
			}
			switch o.kind {
			case opSet, opInsert:
				buildErr = pb.Set(o.k, o.v, nil)
			case opDelete:
				buildErr = pb.Delete(o.k, nil)
			case opDeleteRange:
				buildErr = pb.DeleteRange(o.k, o.v, nil)
			}
			if buildErr != nil {
				return nil
			}
		}
		return pb.Commit(opt)
	})
	if buildErr != nil {
		return buildErr
	}
	return writeErr(err)
}

type pebbleTxn struct {
	p *pebbleStore
	b batch
}

func (t *pebbleTxn) lock(keys [][]byte) (map[string][]byte, error) {
	// update holds p.mu. Claims' pending marks are read beside them.
	all := slices.Clone(keys)
	for _, k := range keys {
		if bytes.HasPrefix(k, []byte("i/")) {
			all = append(all, pendingKeyOf(k))
		}
	}
	m, err := t.p.getMany(context.Background(), all)
	if err != nil {
		return nil, err
	}
	for _, k := range keys {
		if !bytes.HasPrefix(k, []byte("i/")) {
			continue
		}
		if _, pending := m[string(pendingKeyOf(k))]; pending {
			if _, ok := m[string(k)]; ok {
				m[string(k)] = []byte{}
			}
		}
		delete(m, string(pendingKeyOf(k)))
	}
	return m, nil
}

func (t *pebbleTxn) mutex(string) error { return nil } // update holds p.mu

func (t *pebbleTxn) scan(lower, upper []byte, fn func(k, v []byte) (bool, error)) error {
	return t.p.scan(context.Background(), lower, upper, fn)
}

func (t *pebbleTxn) batch() *batch { return &t.b }

func (p *pebbleStore) update(ctx context.Context, fn func(tx txn) error) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	tx := &pebbleTxn{p: p}
	if err := fn(tx); err != nil {
		return err
	}
	if tx.b.empty() {
		return nil
	}
	return p.commit(ctx, &tx.b)
}

// shred pushes the deletion of keys through to the files on disk. A
// wrapped key sat in a WAL and maybe an SSTable: each flush retires the
// current WAL, and enough of them walk it out of Pebble's recycling list,
// whose files noRecycleFS deletes instead of reusing; compacting each key's
// range rewrites the SSTables without the value. The flushes are shared by
// all keys (the shredder passes every erasure queued), the compactions are
// one narrow range per key: after the first has merged L0, the others touch
// a few files each. What the filesystem does with freed blocks is beyond
// this: use an encrypting filesystem or disk if that matters.
func (p *pebbleStore) shred(ctx context.Context, keys [][]byte) error {
	slices.SortFunc(keys, bytes.Compare)
	ranges := make([][2][]byte, len(keys))
	for i, k := range keys {
		ranges[i] = [2][]byte{k, append(append([]byte(nil), k...), 0)}
	}
	return p.compactRanges(ctx, ranges)
}

// compactRanges retires every WAL written so far and rewrites the
// SSTables of the ranges [lo, hi), dropping what was deleted or
// overwritten there, then waits a while for Pebble to delete the old files.
func (p *pebbleStore) compactRanges(ctx context.Context, ranges [][2][]byte) error {
	err := p.db.Write(func(db *pebble.DB) error {
		for i := range memTableStopWritesThreshold + 2 {
			// Flushing an empty memtable may not rotate the WAL; write something.
			if err := db.Set(rotateKey, []byte{byte(i)}, pebble.NoSync); err != nil {
				return err
			}
			if err := db.Flush(); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return writeErr(err)
	}
	// Outside Write: a cancelled compaction is no storage failure (a
	// failed compaction write pauses writes through the guard filesystem).
	h, err := p.acquire()
	if err != nil {
		return err
	}
	defer h.Release()
	db := h.DB()
	for _, r := range ranges {
		if err := db.Compact(ctx, r[0], r[1], false); err != nil {
			return err
		}
	}
	// Pebble deletes the files it no longer needs in the background, and
	// keeps those an open iterator reads (zombies): wait for both, a while.
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		if m := db.Metrics(); m.Table.ObsoleteCount == 0 && m.Table.ZombieCount == 0 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	return nil
}
