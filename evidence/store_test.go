package evidence

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/cunzheng/cunzheng/ledger/cluster/clustertest"
)

// TestStores checks the contract of Store that the service relies on,
// against both implementations.
func TestStores(t *testing.T) {
	stores := []struct {
		name string
		open func(t *testing.T) Store
	}{
		{"pebble", func(t *testing.T) Store {
			st, err := openPebble(t.TempDir(), vfs.NewMem(), discardLogger())
			if err != nil {
				t.Fatal(err)
			}
			return st
		}},
		{"postgres", func(t *testing.T) Store {
			st, err := OpenPostgres(context.Background(), clustertest.Postgres(t))
			if err != nil {
				t.Fatal(err)
			}
			return st
		}},
	}
	for _, s := range stores {
		t.Run(s.name, func(t *testing.T) {
			st := s.open(t)
			defer st.Close()
			testStore(t, st)
		})
	}
}

func scanAll(t *testing.T, st Store, lo, hi []byte) []string {
	t.Helper()
	var out []string
	if err := st.scan(context.Background(), lo, hi, func(k, v []byte) (bool, error) {
		out = append(out, string(k)+"="+string(v))
		return true, nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func testStore(t *testing.T, st Store) {
	ctx := context.Background()
	// Bytewise order, including bytes >= 0x80 and a key that is a prefix
	// of another; more keys than one PostgreSQL scan page.
	b := &batch{sync: true}
	keys := []string{"x/a", "x/a\x00", "x/a/b", "x/\x7f", "x/\x80", "x/\xff\xff", "x/"}
	for _, k := range keys {
		b.set([]byte(k), []byte("v"+k))
	}
	for i := range scanPage + 10 {
		b.set(fmt.Appendf(nil, "y/%06d", i), []byte{})
	}
	if err := st.commit(ctx, b); err != nil {
		t.Fatal(err)
	}
	want := slices.Clone(keys)
	slices.Sort(want)
	var got []string
	st.scan(ctx, []byte("x/"), prefixEnd([]byte("x/")), func(k, _ []byte) (bool, error) {
		got = append(got, string(k))
		return true, nil
	})
	if !slices.Equal(got, want) {
		t.Errorf("scan order %q, want %q", got, want)
	}
	if n := len(scanAll(t, st, []byte("y/"), []byte("y0"))); n != scanPage+10 {
		t.Errorf("scan across pages: %d keys", n)
	}
	if n := len(scanAll(t, st, []byte("y/000100"), nil)); n != scanPage+10-100 {
		t.Errorf("scan without an upper bound: %d keys", n)
	}
	// Stop early.
	n := 0
	st.scan(ctx, []byte("y/"), nil, func(k, _ []byte) (bool, error) { n++; return n < 3, nil })
	if n != 3 {
		t.Errorf("scan did not stop: %d", n)
	}
	if v, found, err := st.get(ctx, []byte("x/\x80")); err != nil || !found || string(v) != "vx/\x80" {
		t.Errorf("get = %q %v %v", v, found, err)
	}
	if v, found, err := st.get(ctx, []byte("y/000001")); err != nil || !found || v == nil || len(v) != 0 {
		t.Errorf("empty value: %q %v %v", v, found, err)
	}
	if _, found, err := st.get(ctx, []byte("nope")); err != nil || found {
		t.Errorf("absent: %v %v", found, err)
	}
	if m, err := st.getMany(ctx, [][]byte{[]byte("x/a"), []byte("nope"), []byte("x/\xff\xff")}); err != nil || len(m) != 2 ||
		string(m["x/a"]) != "vx/a" || string(m["x/\xff\xff"]) != "vx/\xff\xff" {
		t.Errorf("getMany = %q %v", m, err)
	}

	// A failed precondition changes nothing, whatever its position.
	for _, tc := range []struct {
		name string
		fill func(b *batch)
	}{
		{"insert over another value", func(b *batch) {
			b.set([]byte("z/1"), []byte("1"))
			b.insert([]byte("x/a"), []byte("other"))
			b.set([]byte("z/2"), []byte("2"))
		}},
		{"expect wrong value", func(b *batch) {
			b.set([]byte("z/1"), []byte("1"))
			b.expect([]byte("x/a"), []byte("wrong"))
			b.delete([]byte("x/a/b"))
		}},
		{"expect absent key", func(b *batch) {
			b.expect([]byte("x/none"), []byte("v"))
			b.deleteRange([]byte("x/"), []byte("x0"))
		}},
	} {
		b := &batch{sync: true}
		tc.fill(b)
		if err := st.commit(ctx, b); !errors.Is(err, errConflict) {
			t.Errorf("%s: err = %v, want errConflict", tc.name, err)
		}
		if got := scanAll(t, st, []byte("z/"), []byte("z0")); len(got) != 0 {
			t.Errorf("%s: wrote %q", tc.name, got)
		}
		if got := len(scanAll(t, st, []byte("x/"), []byte("x0"))); got != len(keys) {
			t.Errorf("%s: x/ has %d keys", tc.name, got)
		}
	}
	// Inserting the same bytes again, expecting the right value: fine.
	b = &batch{sync: true}
	b.insert([]byte("x/a"), []byte("vx/a"))
	b.expect([]byte("x/a/b"), []byte("vx/a/b"))
	b.insert([]byte("z/new"), []byte("n"))
	b.deleteRange([]byte("y/"), []byte("y0"))
	b.delete([]byte("x/"))
	if err := st.commit(ctx, b); err != nil {
		t.Fatal(err)
	}
	if got := scanAll(t, st, []byte("y/"), []byte("y0")); len(got) != 0 {
		t.Errorf("deleteRange left %d keys", len(got))
	}
	if _, found, _ := st.get(ctx, []byte("x/")); found {
		t.Error("delete left the key")
	}

	// Pending marks: more than a scan page of claims written pending, in
	// key order; setDone clears a mark, in a commit or an update; a batch
	// that fails leaves no mark.
	pending := func() []string {
		t.Helper()
		var out []string
		if err := st.scanPending(ctx, func(k []byte) (bool, error) {
			out = append(out, string(k))
			return true, nil
		}); err != nil {
			t.Fatal(err)
		}
		return out
	}
	b = &batch{sync: true}
	var wantPending []string
	for i := range scanPage + 3 {
		k := fmt.Sprintf("i/t/%06d", i)
		b.insertPending([]byte(k), []byte("pending"))
		wantPending = append(wantPending, k)
	}
	if err := st.commit(ctx, b); err != nil {
		t.Fatal(err)
	}
	if got := pending(); !slices.Equal(got, wantPending) {
		t.Fatalf("pending: %d claims, want %d", len(got), len(wantPending))
	}
	b = &batch{sync: true}
	b.setDone([]byte("i/t/000000"), []byte("done"))
	if err := st.commit(ctx, b); err != nil {
		t.Fatal(err)
	}
	if err := st.update(ctx, func(tx txn) error {
		tx.batch().setDone([]byte("i/t/000001"), []byte("done"))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	b = &batch{sync: true}
	b.insertPending([]byte("i/t/new"), []byte("pending"))
	b.insert([]byte("x/a"), []byte("other")) // conflicts
	if err := st.commit(ctx, b); !errors.Is(err, errConflict) {
		t.Errorf("conflicting pending claim: err = %v", err)
	}
	if got := pending(); !slices.Equal(got, wantPending[2:]) {
		t.Errorf("pending after two done and a failed batch: %d claims, first %q", len(got), got[:1])
	}
	if v, _, _ := st.get(ctx, []byte("i/t/000001")); string(v) != "done" {
		t.Errorf("done claim = %q", v)
	}
	// lock reads a pending claim as empty, a done one as it is.
	if err := st.update(ctx, func(tx txn) error {
		m, err := tx.lock([][]byte{[]byte("i/t/000001"), []byte("i/t/000002"), []byte("i/t/absent"), []byte("x/a")})
		if err != nil {
			return err
		}
		want := map[string][]byte{"i/t/000001": []byte("done"), "i/t/000002": {}, "x/a": []byte("vx/a")}
		if len(m) != len(want) {
			t.Errorf("lock read %q, want %q", m, want)
		}
		for k, v := range want {
			if got, ok := m[k]; !ok || !bytes.Equal(got, v) {
				t.Errorf("lock read %s = %q (found %v), want %q", k, got, ok, v)
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	// update: concurrent read-modify-write of one counter, and of a record
	// that does not exist yet (inserted), loses nothing.
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- st.update(ctx, func(tx txn) error {
				m, err := tx.lock([][]byte{[]byte("c/count"), []byte("c/absent")})
				if err != nil {
					return err
				}
				n := 0
				if v, ok := m["c/count"]; ok {
					fmt.Sscan(string(v), &n)
				}
				b := tx.batch()
				b.set([]byte("c/count"), fmt.Appendf(nil, "%d", n+1))
				if _, ok := m["c/absent"]; !ok {
					b.insert([]byte("c/absent"), fmt.Appendf(nil, "first %d", i))
				}
				b.set(fmt.Appendf(nil, "c/by/%02d", i), []byte{})
				return nil
			})
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if v, _, _ := st.get(ctx, []byte("c/count")); string(v) != "20" {
		t.Errorf("counter = %q after 20 updates", v)
	}
	if got := scanAll(t, st, []byte("c/by/"), []byte("c/by0")); len(got) != 20 {
		t.Errorf("%d of 20 updates wrote", len(got))
	}
	// An update whose fn fails writes nothing.
	boom := errors.New("boom")
	if err := st.update(ctx, func(tx txn) error {
		tx.batch().set([]byte("c/never"), []byte{})
		return boom
	}); !errors.Is(err, boom) {
		t.Errorf("update err = %v", err)
	}
	if _, found, _ := st.get(ctx, []byte("c/never")); found {
		t.Error("failed update wrote")
	}
	// A mutex, a scan and a write in one update.
	if err := st.update(ctx, func(tx txn) error {
		if err := tx.mutex("test"); err != nil {
			return err
		}
		n := 0
		if err := tx.scan([]byte("c/by/"), []byte("c/by0"), func(_, _ []byte) (bool, error) { n++; return true, nil }); err != nil {
			return err
		}
		tx.batch().set([]byte("c/scanned"), fmt.Appendf(nil, "%d", n))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if v, _, _ := st.get(ctx, []byte("c/scanned")); string(v) != "20" {
		t.Errorf("scanned = %q", v)
	}
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// TestPebbleCacheBesideMemtables guards the cache sizing: Pebble reserves
// each memtable's size in the block cache, and a cache no larger than the
// memtables held no block at all, so that every read went to disk.
func TestPebbleCacheBesideMemtables(t *testing.T) {
	ctx := context.Background()
	st, err := openPebble(t.TempDir(), vfs.NewMem(), discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	// Pebble starts with small memtables and doubles them up to
	// MemTableSize: write enough for full-sized ones.
	pad := make([]byte, 2000)
	var present [][]byte
	for b := range 25 {
		var bt batch
		for i := range 1000 {
			k := key("i", "tenant", fmt.Sprint(b*1000+i))
			bt.set(k, pad)
			if i%5 == 0 {
				present = append(present, k)
			}
		}
		if err := st.commit(ctx, &bt); err != nil {
			t.Fatal(err)
		}
	}
	// Settle the tables, so that no compaction replaces them meanwhile.
	if err := rawDB(t, st).Compact(ctx, []byte{0}, []byte{0xff}, false); err != nil {
		t.Fatal(err)
	}
	keys := slices.Clone(present)
	for i := range 200 {
		keys = append(keys, key("i", "tenant", fmt.Sprint("absent", i)))
	}
	read := func() {
		got, err := st.getMany(ctx, keys)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(present) {
			t.Fatalf("found %d keys, want %d", len(got), len(present))
		}
	}
	read() // fills the cache
	before := rawDB(t, st).Metrics().BlockCache
	read()
	read()
	after := rawDB(t, st).Metrics().BlockCache
	if after.Misses != before.Misses {
		t.Errorf("repeated reads missed the block cache %d times (cache holds %d bytes)", after.Misses-before.Misses, after.Size)
	}
}

// Only sealed records may go to blob files: a subject key separated from
// its sstable would outlive the compaction that shred relies on.
func TestSealedSpanPolicy(t *testing.T) {
	for _, tc := range []struct {
		start    string
		separate bool
	}{
		{"", false},
		{"S/", true},
		{"S/0000000000000001/ab", true},
		{"S0", false},
		{"a/t/s/c", false},
		{"i/t/id", false},
		{"k/t/subject", false},
		{"s/ab", false},
		{"z/t/s/k", false},
	} {
		policy, end, err := sealedSpanPolicy([]byte(tc.start))
		if err != nil {
			t.Fatal(err)
		}
		separate := policy.ValueStoragePolicy != pebble.ValueStorageLowReadLatency
		if separate != tc.separate {
			t.Errorf("%q: separate values %v, want %v", tc.start, separate, tc.separate)
		}
		if end != nil && string(end) <= tc.start {
			t.Errorf("%q: policy ends at %q, not after it", tc.start, end)
		}
	}
}

// rawDB returns the store's Pebble database for inspection, holding a
// reference until the test ends.
func rawDB(t *testing.T, st *pebbleStore) *pebble.DB {
	t.Helper()
	h, err := st.db.Acquire()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Release)
	return h.DB()
}
