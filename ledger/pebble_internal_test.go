package ledger

import (
	"context"
	"fmt"
	"testing"

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
	if err := st.db.Compact(ctx, []byte{0}, []byte{0xff}, false); err != nil {
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
	before := st.db.Metrics().BlockCache
	lookup()
	lookup()
	after := st.db.Metrics().BlockCache
	if after.Misses != before.Misses {
		t.Errorf("repeated lookups missed the block cache %d times (cache holds %d bytes)", after.Misses-before.Misses, after.Size)
	}
	if after.Hits <= before.Hits {
		t.Errorf("repeated lookups made no cache hits")
	}
}
