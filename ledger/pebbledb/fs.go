package pebbledb

import (
	"errors"
	"io"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// guardFS is the filesystem one opening of a DB hands to Pebble. It reports
// the first failed write (any write, sync, preallocation, creation or
// rename) to onFault, before Pebble itself sees the error, so that the DB
// refuses new writes at once.
//
// Once faulted it also throttles Pebble's background retries. Pebble
// retries a failed flush at once and forever (compaction.go: "TODO count
// consecutive flush errors and backoff"): on a full disk that was a core
// spinning and an empty blob file left behind per attempt, 146,309 of them
// in one run, inside pebble.Open. Creating a table or blob file therefore
// waits (up to maxBackoff, doubling) and, while the disk has less than
// minFree bytes free, fails without creating anything. WAL and MANIFEST
// files are never refused here: Pebble panics with its commit pipeline
// locked when it cannot create a WAL (db.go rotateWAL), and the DB could
// then not even be closed.
type guardFS struct {
	vfs.FS
	onFault func(op, name string, err error)
	minFree uint64
	faulted atomic.Bool
	backoff atomic.Int64  // current wait before creating a table, in ns
	stop    chan struct{} // closed when this opening is closed: no more waits
}

const (
	minBackoff = 100 * time.Millisecond
	maxBackoff = 2 * time.Second
)

func newGuardFS(base vfs.FS, minFree uint64, onFault func(op, name string, err error)) *guardFS {
	return &guardFS{FS: base, onFault: onFault, minFree: minFree, stop: make(chan struct{})}
}

func (g *guardFS) fail(op, name string, err error) error {
	if err == nil || errors.Is(err, os.ErrNotExist) {
		return err
	}
	if g.faulted.CompareAndSwap(false, true) {
		g.backoff.Store(int64(minBackoff))
	}
	g.onFault(op, name, err)
	return err
}

// outputFile reports whether name is a file Pebble writes in a flush or a
// compaction, whose creation it handles failing.
func outputFile(name string) bool {
	return strings.HasSuffix(name, ".sst") || strings.HasSuffix(name, ".blob")
}

// throttle runs before a flush or compaction output is created on a
// faulted filesystem; it returns an error to refuse the creation.
func (g *guardFS) throttle(name string) error {
	if !g.faulted.Load() || !outputFile(name) {
		return nil
	}
	d := time.Duration(g.backoff.Load())
	g.backoff.Store(int64(min(2*d, maxBackoff)))
	t := time.NewTimer(d)
	select {
	case <-t.C:
	case <-g.stop:
		t.Stop()
	}
	if u, err := g.FS.GetDiskUsage(g.FS.PathDir(name)); err == nil && u.AvailBytes < g.minFree {
		return &os.PathError{Op: "create", Path: name, Err: errNoSpaceLeft}
	}
	return nil
}

// halt ends every wait of throttle, for Close.
func (g *guardFS) halt() {
	select {
	case <-g.stop:
	default:
		close(g.stop)
	}
}

func (g *guardFS) Create(name string, c vfs.DiskWriteCategory) (vfs.File, error) {
	if err := g.throttle(name); err != nil {
		return nil, err
	}
	f, err := g.FS.Create(name, c)
	if err != nil {
		return nil, g.fail("create", name, err)
	}
	return &guardFile{File: f, fs: g, name: name}, nil
}

func (g *guardFS) OpenReadWrite(name string, c vfs.DiskWriteCategory, opts ...vfs.OpenOption) (vfs.File, error) {
	f, err := g.FS.OpenReadWrite(name, c, opts...)
	if err != nil {
		return nil, err
	}
	return &guardFile{File: f, fs: g, name: name}, nil
}

func (g *guardFS) ReuseForWrite(oldname, newname string, c vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := g.FS.ReuseForWrite(oldname, newname, c)
	if err != nil {
		return nil, g.fail("reuse", newname, err)
	}
	return &guardFile{File: f, fs: g, name: newname}, nil
}

func (g *guardFS) OpenDir(name string) (vfs.File, error) {
	f, err := g.FS.OpenDir(name)
	if err != nil {
		return nil, err
	}
	return &guardFile{File: f, fs: g, name: name}, nil
}

func (g *guardFS) Rename(oldname, newname string) error {
	return g.fail("rename", newname, g.FS.Rename(oldname, newname))
}

func (g *guardFS) Link(oldname, newname string) error {
	return g.fail("link", newname, g.FS.Link(oldname, newname))
}

func (g *guardFS) Unwrap() vfs.FS { return g.FS }

// guardFile reports failed writes and syncs of one file.
type guardFile struct {
	vfs.File
	fs   *guardFS
	name string
}

func (f *guardFile) Write(p []byte) (int, error) {
	n, err := f.File.Write(p)
	return n, f.fs.fail("write", f.name, err)
}

func (f *guardFile) WriteAt(p []byte, off int64) (int, error) {
	n, err := f.File.WriteAt(p, off)
	return n, f.fs.fail("write", f.name, err)
}

func (f *guardFile) Preallocate(off, n int64) error {
	return f.fs.fail("preallocate", f.name, f.File.Preallocate(off, n))
}

func (f *guardFile) Sync() error { return f.fs.fail("sync", f.name, f.File.Sync()) }

func (f *guardFile) SyncData() error { return f.fs.fail("sync", f.name, f.File.SyncData()) }

func (f *guardFile) SyncTo(n int64) (bool, error) {
	full, err := f.File.SyncTo(n)
	return full, f.fs.fail("sync", f.name, err)
}

var _ io.Closer = (*guardFile)(nil)
