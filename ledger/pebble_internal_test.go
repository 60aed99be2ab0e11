package ledger

import (
	"context"
	"fmt"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"golang.org/x/mod/sumdb/tlog"
)

// TestBlockCacheBesideMemtables guards the cache sizing: Pebble reserves
// each memtable's size in the block cache, and a cache no larger than the
// memtables held no block at all, so every dedup lookup reread the bloom
// filters from disk.
func TestBlockCacheBesideMemtables(t *testing.T) {
	ctx := context.Background()
	st, err := OpenPebbleStore("store", PebbleOptions{FS: vfs.NewMem(), CacheSize: 4 << 20, MemTableSize: 4 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	// Pebble starts with small memtables and doubles them up to
	// MemTableSize: write enough for full-sized ones.
	var hashes []tlog.Hash
	pad := make([]byte, 1000)
	for b := range 10 {
		var leaves [][]byte
		var hs []tlog.Hash
		for i := range 2000 {
			leaf := fmt.Appendf(nil, "leaf %d %s", b*2000+i, pad)
			leaves = append(leaves, leaf)
			hs = append(hs, tlog.RecordHash(leaf))
		}
		start := uint64(len(hashes))
		hashes = append(hashes, hs...)
		if err := st.Commit(ctx, &Batch{Start: start, Leaves: leaves, Hashes: hs, State: State{Size: uint64(len(hashes))}}); err != nil {
			t.Fatal(err)
		}
	}
	// Settle the tables, so that no compaction replaces them meanwhile.
	if err := rawDB(t, st).Compact(ctx, []byte{0}, []byte{0xff}, false); err != nil {
		t.Fatal(err)
	}
	var absent []tlog.Hash
	for i := range 200 {
		absent = append(absent, tlog.RecordHash(fmt.Appendf(nil, "absent %d", i)))
	}
	lookup := func() {
		found, err := st.LookupLeaves(ctx, append(absent, hashes[:200]...))
		if err != nil {
			t.Fatal(err)
		}
		if len(found) != 200 {
			t.Fatalf("found %d of 200 stored hashes", len(found))
		}
	}
	lookup() // fills the cache
	before := rawDB(t, st).Metrics().BlockCache
	lookup()
	lookup()
	after := rawDB(t, st).Metrics().BlockCache
	if after.Misses != before.Misses {
		t.Errorf("repeated lookups missed the block cache %d times (cache holds %d bytes)", after.Misses-before.Misses, after.Size)
	}
	if after.Hits <= before.Hits {
		t.Errorf("repeated lookups made no cache hits")
	}
}

// TestTablesInSeparateFiles checks that no sstable mixes two key tables,
// or two tile levels of the node table (see splitTables).
func TestTablesInSeparateFiles(t *testing.T) {
	ctx := context.Background()
	l := openTestLog(t, vfs.NewMem(), "log", nil)
	defer l.Close()
	for b := range 20 {
		var leaves [][]byte
		for i := range 500 {
			leaves = append(leaves, fmt.Appendf(nil, "leaf %d %d", b, i))
		}
		if _, err := l.AppendAll(ctx, leaves); err != nil {
			t.Fatal(err)
		}
	}
	db := rawDB(t, l.store.(*PebbleStore))
	if err := db.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := db.Compact(ctx, []byte{0}, []byte{0xff}, false); err != nil {
		t.Fatal(err)
	}
	levels, err := db.SSTables()
	if err != nil {
		t.Fatal(err)
	}
	region := func(k []byte) string {
		if k[0] == tagNode {
			return string(k[:2])
		}
		return string(k[:1])
	}
	files := 0
	for level, tables := range levels {
		for _, tb := range tables {
			files++
			lo, hi := tb.Smallest.UserKey, tb.Largest.UserKey
			if region(lo) != region(hi) {
				t.Errorf("L%d table %d holds keys from %x to %x", level, tb.FileNum, lo, hi)
			}
		}
	}
	if files < 4 {
		t.Errorf("only %d sstables; want leaves, hash index and two node levels apart", files)
	}
}

// Only leaves go to blob files; hashes, nodes and checkpoints stay inline.
func TestOnlyLeavesSeparated(t *testing.T) {
	for _, start := range [][]byte{{}, {tagState}, {tagLeaf}, {tagLeaf, 0, 0, 0, 0, 0, 0, 0, 7}, {tagHashIndex, 1}, {tagNode, 0}, {tagCheckpoint}, {tagCosig}, {tagToken}, {0xff}} {
		policy, _, err := splitTables(start)
		if err != nil {
			t.Fatal(err)
		}
		separate := policy.ValueStoragePolicy != pebble.ValueStorageLowReadLatency
		if want := len(start) > 0 && start[0] == tagLeaf; separate != want {
			t.Errorf("%x: separate values %v, want %v", start, separate, want)
		}
	}
}

// rawDB returns the store's Pebble database for inspection, holding a
// reference until the test ends.
func rawDB(t *testing.T, st *PebbleStore) *pebble.DB {
	t.Helper()
	h, err := st.db.Acquire()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Release)
	return h.DB()
}
