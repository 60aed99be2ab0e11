package pebbledb

import (
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
)

// fullFS is an in-memory filesystem that can be made full: every write
// fails with ENOSPC and the reported free space drops to nothing.
type fullFS struct {
	*errorfs.FS
	mem  *vfs.MemFS
	full atomic.Bool
}

func newFullFS() *fullFS {
	f := &fullFS{mem: vfs.NewMem()}
	f.FS = errorfs.Wrap(f.mem, errorfs.InjectorFunc(func(op errorfs.Op) error {
		if !f.full.Load() {
			return nil
		}
		// What a full disk refuses: data, and new directory entries.
		// Locking, removing and renaming existing files still work.
		switch op.Kind {
		case errorfs.OpFileWrite, errorfs.OpFileWriteAt, errorfs.OpFilePreallocate, errorfs.OpFileSync,
			errorfs.OpFileSyncData, errorfs.OpFileSyncTo, errorfs.OpCreate, errorfs.OpLink, errorfs.OpMkdirAll:
			return fmt.Errorf("%s: %w", op.Path, syscall.ENOSPC)
		}
		return nil
	}))
	f.setFull(false)
	return f
}

func (f *fullFS) setFull(full bool) {
	f.full.Store(full)
	avail := uint64(1 << 30)
	if full {
		avail = 0
	}
	f.mem.TestingSetDiskUsage(vfs.DiskUsage{AvailBytes: avail, TotalBytes: 1 << 30, UsedBytes: 1<<30 - avail})
}

func (f *fullFS) GetDiskUsage(path string) (vfs.DiskUsage, error) { return f.mem.GetDiskUsage(path) }

func testConfig(fs vfs.FS) Config {
	return Config{
		Name: "test", Dir: "db", FS: fs, ProbeSize: 64 << 10, MinFree: 1 << 20,
		Options: func() *pebble.Options { return &pebble.Options{MemTableSize: 1 << 20} },
	}
}

func set(d *DB, k, v string) error {
	return d.Write(func(db *pebble.DB) error { return db.Set([]byte(k), []byte(v), pebble.Sync) })
}

func get(t *testing.T, d *DB, k string) string {
	t.Helper()
	h, err := d.Acquire()
	if err != nil {
		t.Fatalf("reading %s: %v", k, err)
	}
	defer h.Release()
	v, c, err := h.DB().Get([]byte(k))
	if err != nil {
		t.Fatalf("reading %s: %v", k, err)
	}
	defer c.Close()
	return string(v)
}

func TestWriteFailurePausesWritesUntilRecover(t *testing.T) {
	fs := newFullFS()
	d, err := Open(testConfig(fs))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	for i := range 100 {
		if err := set(d, fmt.Sprintf("k%03d", i), "acked"); err != nil {
			t.Fatal(err)
		}
	}
	fs.setFull(true)
	err = set(d, "doomed", "x")
	if !errors.Is(err, ErrNoSpace) || !errors.Is(err, ErrPaused) {
		t.Fatalf("write on a full disk: %v, want ErrNoSpace", err)
	}
	var f *Fault
	if !errors.As(err, &f) || f.Reason() != "disk full" || d.Health() == nil {
		t.Fatalf("fault %+v, health %v", f, d.Health())
	}
	// Refused at once, without touching Pebble, while reads go on.
	if err := set(d, "refused", "x"); !errors.Is(err, ErrPaused) {
		t.Fatalf("second write: %v", err)
	}
	if got := get(t, d, "k042"); got != "acked" {
		t.Fatalf("read while paused: %q", got)
	}
	if err := d.Recover(); err == nil {
		t.Fatal("Recover succeeded on a full disk")
	}
	fs.setFull(false)
	if err := d.Recover(); err != nil {
		t.Fatalf("Recover after freeing space: %v", err)
	}
	if d.Health() != nil {
		t.Fatalf("health after recovery: %v", d.Health())
	}
	if err := set(d, "after", "yes"); err != nil {
		t.Fatalf("write after recovery: %v", err)
	}
	for i := range 100 {
		if got := get(t, d, fmt.Sprintf("k%03d", i)); got != "acked" {
			t.Fatalf("acknowledged k%03d = %q after the reopen", i, got)
		}
	}
}

func TestOpenOnFullDiskIsReadOnlyThenRecovers(t *testing.T) {
	fs := newFullFS()
	d, err := Open(testConfig(fs))
	if err != nil {
		t.Fatal(err)
	}
	if err := set(d, "k", "v"); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	fs.setFull(true)
	done := make(chan struct{})
	go func() {
		defer close(done)
		d, err = Open(testConfig(fs))
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Open on a full disk did not return")
	}
	if err != nil {
		t.Fatalf("Open on a full disk: %v", err)
	}
	defer d.Close()
	if !errors.Is(d.Health(), ErrNoSpace) {
		t.Fatalf("health after opening on a full disk: %v", d.Health())
	}
	if got := get(t, d, "k"); got != "v" {
		t.Fatalf("read after opening on a full disk: %q", got)
	}
	if err := set(d, "k2", "v2"); !errors.Is(err, ErrPaused) {
		t.Fatalf("write on a read-only opening: %v", err)
	}
	fs.setFull(false)
	if err := d.Recover(); err != nil {
		t.Fatal(err)
	}
	if err := set(d, "k2", "v2"); err != nil {
		t.Fatal(err)
	}
	if got := get(t, d, "k"); got != "v" {
		t.Fatalf("after recovery: %q", got)
	}
}

// A new store on a full disk cannot even be created: Open fails at once,
// saying so, instead of spinning.
func TestOpenNewStoreOnFullDiskFails(t *testing.T) {
	fs := newFullFS()
	fs.setFull(true)
	_, err := Open(testConfig(fs))
	if err == nil || !IsNoSpace(err) {
		t.Fatalf("Open of a new store on a full disk: %v", err)
	}
}

func TestPebbleLoggerFatalf(t *testing.T) {
	l := pebbleLogger{l: testLogger()}
	// A failed MANIFEST write in a background job: logged, and Pebble's
	// own error path goes on.
	l.Fatalf("%s", errors.New("MANIFEST sync failed: no space left on device"))
	for _, format := range []string{"pebble: fatal commit error: %v", "mergingIter: bound violation %v"} {
		func() {
			defer func() {
				if _, ok := recover().(fatalPanic); !ok {
					t.Errorf("Fatalf(%q) did not panic with fatalPanic", format)
				}
			}()
			l.Fatalf(format, errors.New("MANIFEST"))
		}()
	}
}

// On a faulted filesystem Pebble's flush retries are throttled and, while
// the disk is full, refused before creating a file.
func TestGuardFSThrottlesRetries(t *testing.T) {
	fs := newFullFS()
	var faults atomic.Int64
	g := newGuardFS(fs, 1<<20, func(string, string, error) { faults.Add(1) })
	fs.setFull(true)
	if f, err := g.Create("000001.log", vfs.WriteCategoryUnspecified); err == nil {
		if _, err := f.Write([]byte("x")); err == nil {
			t.Fatal("write on a full disk succeeded")
		}
	}
	if faults.Load() == 0 {
		t.Fatal("the failed write was not reported")
	}
	start := time.Now()
	for i := range 3 {
		if _, err := g.Create(fmt.Sprintf("00000%d.sst", i+2), vfs.WriteCategoryUnspecified); !IsNoSpace(err) {
			t.Fatalf("table creation on a full disk: %v", err)
		}
	}
	if d := time.Since(start); d < 3*minBackoff {
		t.Fatalf("three refused creations took %s: not throttled", d)
	}
	if names, _ := fs.mem.List(""); len(names) > 1 {
		t.Fatalf("refused creations left files: %v", names)
	}
	g.halt()
	start = time.Now()
	g.Create("000009.sst", vfs.WriteCategoryUnspecified)
	if d := time.Since(start); d > maxBackoff/2 {
		t.Fatalf("a halted guard still waits (%s)", d)
	}
}

func testLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
