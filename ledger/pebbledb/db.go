// Package pebbledb keeps a Pebble database serving reads when its disk is
// full or failing, and resumes its writes in place once the disk takes
// writes again. The ledger and the evidence store each open theirs through
// it. It lives under ledger only because the top-level layout is fixed; it
// imports nothing of the ledger, so evidence and notary import it alone.
//
// What Pebble (v2.1) does on a failed write, and so why this package:
//
//   - A failed WAL write or sync makes the commit report a fatal error
//     (Logger.Fatalf, db.go) after the batch was already applied to the
//     memtable and made visible. The WAL writer keeps the error for good:
//     every later sync fails, a later write may fail before its batch is
//     applied (which leaves it at the head of the commit queue, where every
//     commit behind it waits forever), and rotating the WAL panics with the
//     commit pipeline locked. The database is unusable for writes until it
//     is closed and opened again; reopening replays the WAL, in which each
//     batch is one checksummed record: it is there whole or not at all.
//   - A failed flush or compaction goes to EventListener.BackgroundError and
//     is retried at once, forever; a failed MANIFEST write is a Fatalf.
//   - pebble.Open flushes the replayed WAL and waits until that succeeds:
//     on a full disk it never returns.
//
// So a DB stops taking writes at the first failed write (a Fault), keeps
// answering reads from the open database, and Recover, once a probe shows
// the disk takes writes again, closes it and opens it again in place
// behind the same DB value. At start-up on a disk too full to replay the
// WAL it opens read-only instead, and Recover later reopens it writable.
//
// Rejected: retrying writes on the open database once the disk has room.
// The WAL writer's error is permanent, and a batch that failed its sync is
// already visible to readers although it may not be on disk: only a
// reopen tells which writes are durable.
package pebbledb

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// ErrNoSpace matches (errors.Is) a Fault caused by a full disk or quota.
var ErrNoSpace = errors.New("no space left on device")

// ErrPaused matches every Fault: the store takes no writes for now.
var ErrPaused = errors.New("writes paused")

// errReopening is what a read gets when it cannot wait for a reopen.
var errReopening = errors.New("store reopening after a storage failure; retry")

var errNoSpaceLeft = syscall.ENOSPC

// IsNoSpace reports whether err is a full disk or an exhausted quota.
func IsNoSpace(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) || errors.Is(err, ErrNoSpace)
}

// Fault is why a DB takes no writes. Error includes the detail of the first
// failure (file names included) for logs; Reason is the plain version for
// the public.
type Fault struct {
	// Store is the DB's name.
	Store string
	// NoSpace is set when the disk (or quota) was full.
	NoSpace bool
	// Since is when writes stopped.
	Since time.Time
	// Stuck is set when the database could not be closed to be reopened
	// (a write never returned from Pebble): only a restart resumes writes.
	Stuck bool
	// Err is the first failure.
	Err error
}

func (f *Fault) Error() string {
	return fmt.Sprintf("%s store: writes paused since %s (%s): %v", f.Store, f.Since.UTC().Format(time.RFC3339), f.Reason(), f.Err)
}

// Reason says in plain words why writes are paused, without file names.
func (f *Fault) Reason() string {
	r := "storage write error"
	if f.NoSpace {
		r = "disk full"
	}
	if f.Stuck {
		r += "; restart the service to resume writes"
	}
	return r
}

// Public says when writes paused and why, without the failure's detail
// (which names files): what /healthz shows.
func (f *Fault) Public() string {
	return fmt.Sprintf("writes paused since %s (%s)", f.Since.UTC().Format(time.RFC3339), f.Reason())
}

func (f *Fault) Unwrap() error { return f.Err }

// Is makes errors.Is(f, ErrNoSpace) hold for a full disk and
// errors.Is(f, ErrPaused) for every Fault.
func (f *Fault) Is(target error) bool {
	return target == ErrPaused || (target == ErrNoSpace && f.NoSpace)
}

// Config configures Open.
type Config struct {
	// Name names the store in logs and faults ("ledger", "evidence").
	Name string
	// Dir is the Pebble directory, created if needed.
	Dir string
	// FS is the filesystem; the default is the disk.
	FS vfs.FS
	// Options returns fresh options for each opening (Open, and every
	// reopen by Recover). FS, Logger, EventListener and ReadOnly are set
	// here. A Cache in them is released after the opening (Pebble keeps
	// its own reference).
	Options func() *pebble.Options
	// Logger receives Pebble's errors and this package's decisions. The
	// default discards them.
	Logger *slog.Logger
	// MinFree is the free space that opening writable needs beyond the
	// WAL to replay (flushed at open) and a new WAL (which Pebble
	// preallocates at 110% of the memtable size): room for a new MANIFEST
	// and the first tables. The default is DefaultMinFree.
	MinFree uint64
	// ProbeSize is the size of the synced test write Recover makes before
	// reopening. The default is 1 MiB.
	ProbeSize int
}

// DefaultMinFree is the default Config.MinFree.
const DefaultMinFree = 16 << 20

// DB is a Pebble database that survives write failures (see the package
// doc). Reads go through Acquire, writes through Write.
type DB struct {
	cfg    Config
	logger *slog.Logger
	// walPrealloc is what Pebble preallocates for a new WAL.
	walPrealloc uint64

	// cur is the current opening; Recover replaces it.
	cur atomic.Pointer[handle]
	// fault is set while writes are refused.
	fault atomic.Pointer[Fault]
	// mu serialises Recover and Close.
	mu     sync.Mutex
	closed bool // guarded by mu
}

// handle is one opening of the database. Readers and writers hold a
// reference (refs) while they use db; Recover marks it closing, waits for
// the references to go, and only then closes it.
type handle struct {
	db       *pebble.DB
	fs       *guardFS
	readOnly bool
	refs     atomic.Int64
	closing  atomic.Bool
	retired  atomic.Bool // closed or being closed: its failures are old news
}

// Handle is a reference to the open database; Release it when done.
type Handle struct{ h *handle }

// DB returns the Pebble database, valid until Release.
func (h Handle) DB() *pebble.DB { return h.h.db }

// Release drops the reference.
func (h Handle) Release() { h.h.refs.Add(-1) }

// Open opens the database in cfg.Dir. On a disk without room to open it
// writable it opens read-only, with a Fault, and Recover reopens it
// writable later. It fails when the store cannot be opened at all (a new
// store on a full disk, say), with an error that says so.
func Open(cfg Config) (*DB, error) {
	if cfg.FS == nil {
		cfg.FS = vfs.Default
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MinFree == 0 {
		cfg.MinFree = DefaultMinFree
	}
	if cfg.ProbeSize <= 0 {
		cfg.ProbeSize = 1 << 20
	}
	d := &DB{cfg: cfg, logger: cfg.Logger.With("store", cfg.Name)}
	if o := cfg.Options(); o != nil {
		d.walPrealloc = o.MemTableSize + o.MemTableSize/10 // db.go walPreallocateSize
		if o.Cache != nil {
			o.Cache.Unref()
		}
	}
	if err := cfg.FS.MkdirAll(cfg.Dir, 0o755); err != nil {
		if _, serr := cfg.FS.Stat(cfg.Dir); serr != nil {
			return nil, fmt.Errorf("%s store: creating its directory: %w", cfg.Name, err)
		}
	}
	var werr error
	if err := d.roomToOpen(); err != nil {
		werr = err
	} else {
		h, err := d.open(false)
		if err == nil {
			d.cur.Store(h)
			return d, nil
		}
		if !d.storageError(err) {
			return nil, fmt.Errorf("%s store: opening: %w", cfg.Name, err)
		}
		werr = err
	}
	// No room to open it writable: serve what is there read-only.
	h, err := d.open(true)
	if err != nil {
		return nil, fmt.Errorf("%s store: the disk has no room to open it (%v), and opening it read-only failed too: %w", cfg.Name, werr, err)
	}
	d.cur.Store(h)
	f := &Fault{Store: cfg.Name, NoSpace: IsNoSpace(werr), Since: time.Now(), Err: werr}
	d.fault.Store(f)
	d.logger.Error("pebble: opened read-only: no room to open writable; writes resume once the disk has room", "err", werr)
	return d, nil
}

// storageError reports whether err from an opening is the disk's doing
// (as opposed to a corrupt or incompatible store).
func (d *DB) storageError(err error) bool {
	return IsNoSpace(err) || errors.Is(err, syscall.EIO) || errors.Is(err, syscall.EROFS)
}

// walBytes sums the WAL files left to replay.
func (d *DB) walBytes() uint64 {
	fs := d.cfg.FS
	names, err := fs.List(d.cfg.Dir)
	if err != nil {
		return 0
	}
	var n uint64
	for _, name := range names {
		if !strings.HasSuffix(name, ".log") {
			continue
		}
		if fi, err := fs.Stat(fs.PathJoin(d.cfg.Dir, name)); err == nil {
			n += uint64(fi.Size())
		}
	}
	return n
}

// roomToOpen checks that the disk has room to open the store writable: the
// WAL to replay (flushed at open) and MinFree. A filesystem that does not
// report its usage passes.
func (d *DB) roomToOpen() error {
	u, err := d.cfg.FS.GetDiskUsage(d.cfg.Dir)
	if err != nil {
		return nil
	}
	need := d.walBytes() + d.walPrealloc + d.cfg.MinFree
	if u.AvailBytes < need {
		return fmt.Errorf("%d bytes free, %d needed to open the store writable (WAL replay, a new WAL and room to write): %w", u.AvailBytes, need, ErrNoSpace)
	}
	return nil
}

// openWait bounds how long opening writable may keep failing its writes
// before it is given up (Pebble would retry the replayed WAL's flush for
// ever; see guardFS).
const openWait = 10 * time.Second

func (d *DB) open(readOnly bool) (*handle, error) {
	opts := d.cfg.Options()
	if opts.Cache != nil {
		defer opts.Cache.Unref()
	}
	h := &handle{readOnly: readOnly}
	faulted := make(chan struct{})
	var once sync.Once
	h.fs = newGuardFS(d.cfg.FS, d.cfg.MinFree, func(op, name string, err error) {
		once.Do(func() { close(faulted) })
		d.setFault(h, op, name, err)
	})
	opts.FS = h.fs
	opts.ReadOnly = readOnly
	opts.Logger = pebbleLogger{d.logger}
	opts.EventListener = d.events()
	type result struct {
		db  *pebble.DB
		err error
	}
	done := make(chan result, 1)
	go func() {
		db, err := pebble.Open(d.cfg.Dir, opts)
		done <- result{db, err}
	}()
	var r result
	select {
	case r = <-done:
	case <-faulted:
		// A write failed during the opening: Pebble may now retry the
		// replayed WAL's flush for ever. Give it openWait (guardFS
		// throttles it).
		select {
		case r = <-done:
		case <-time.After(openWait):
			return nil, fmt.Errorf("%s store: opening it kept failing to write (the WAL replay could not be flushed); free space on its disk and start again: %w", d.cfg.Name, d.fault.Load())
		}
	}
	if r.err != nil {
		return nil, r.err
	}
	h.db = r.db
	return h, nil
}

// setFault records the first failed write of the current opening h.
func (d *DB) setFault(h *handle, op, name string, err error) {
	if h.retired.Load() {
		return // a closed opening's last words
	}
	f := &Fault{Store: d.cfg.Name, NoSpace: IsNoSpace(err), Since: time.Now(), Err: fmt.Errorf("%s %s: %w", op, name, err)}
	if d.fault.CompareAndSwap(nil, f) {
		d.logger.Error("pebble: write failed; writes paused until the disk takes writes again", "op", op, "file", name, "err", err, "disk_full", f.NoSpace)
	}
}

// Fault returns why writes are refused, or nil when they are taken.
func (d *DB) Fault() *Fault { return d.fault.Load() }

// Health returns the Fault, or nil; a nil *Fault is a nil error.
func (d *DB) Health() error {
	if f := d.fault.Load(); f != nil {
		return f
	}
	return nil
}

// Acquire returns a reference to the open database for reading. While
// Recover reopens it, Acquire waits (up to reopenWait) for the new one.
func (d *DB) Acquire() (Handle, error) {
	deadline := time.Time{}
	for {
		h := d.cur.Load()
		if h == nil {
			return Handle{}, pebble.ErrClosed
		}
		h.refs.Add(1)
		if !h.closing.Load() {
			return Handle{h}, nil
		}
		h.refs.Add(-1)
		// A reopen is under way. Waiting is bounded: a reader already
		// holding a reference (a nested read) waits here too, and the
		// reopen waits for it.
		if deadline.IsZero() {
			deadline = time.Now().Add(readerWait)
		} else if time.Now().After(deadline) {
			return Handle{}, fmt.Errorf("%s store: %w", d.cfg.Name, errReopening)
		}
		time.Sleep(time.Millisecond)
	}
}

// readerWait bounds a read's wait for a reopen; reopenWait bounds the
// reopen's wait for the readers of the old opening. readerWait is shorter,
// so a nested read gives up first and lets the reopen go on.
const (
	readerWait = 2 * time.Second
	reopenWait = 5 * time.Second
)

// Write runs fn, which writes to db, unless writes are paused. Any error
// fn returns is taken for a storage failure and pauses writes: fn must do
// its own checks (reads, preconditions) before. A Pebble fatal error during
// fn becomes the returned error.
func (d *DB) Write(fn func(db *pebble.DB) error) (err error) {
	if f := d.fault.Load(); f != nil {
		return f
	}
	h, err := d.Acquire()
	if err != nil {
		return err
	}
	defer h.Release()
	return d.write(h, fn)
}

// Commit commits b, a batch made from the opening h (which the caller
// holds), as Write does.
func (d *DB) Commit(h Handle, b *pebble.Batch, o *pebble.WriteOptions) error {
	return d.write(h, func(*pebble.DB) error { return b.Commit(o) })
}

func (d *DB) write(h Handle, fn func(db *pebble.DB) error) (err error) {
	if f := d.fault.Load(); f != nil {
		return f
	}
	if h.h.readOnly {
		return d.Health()
	}
	defer func() {
		if r := recover(); r != nil {
			perr, ok := r.(error)
			if fp, isFatal := r.(fatalPanic); isFatal {
				perr, ok = errors.New(fp.msg), true
			}
			if !ok {
				panic(r)
			}
			err = perr
		}
		if err != nil {
			d.setFault(h.h, "write", d.cfg.Dir, err)
			if f := d.fault.Load(); f != nil {
				err = f
			}
		}
	}()
	return fn(h.DB())
}

// Recover resumes writes when they are paused and the disk takes writes
// again: it checks the free space, makes a synced test write, then closes
// the database and opens it again in place. Reads wait for the swap. It
// returns nil when writes are taken.
func (d *DB) Recover() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	f := d.fault.Load()
	if f == nil {
		return nil
	}
	if d.closed {
		return pebble.ErrClosed
	}
	if f.Stuck {
		return f
	}
	if err := d.probe(); err != nil {
		return err
	}
	old := d.cur.Load()
	old.closing.Store(true)
	deadline := time.Now().Add(reopenWait)
	for old.refs.Load() > 0 {
		if time.Now().After(deadline) {
			old.closing.Store(false)
			return fmt.Errorf("%s store: readers or writers still busy after %s; reopen postponed", d.cfg.Name, reopenWait)
		}
		time.Sleep(time.Millisecond)
	}
	old.retired.Store(true)
	old.fs.halt()
	closed := make(chan error, 1)
	go func() { closed <- closeDB(old.db) }()
	select {
	case err := <-closed:
		if err != nil {
			// Expected: Pebble reports the failed WAL again.
			d.logger.Info("pebble: closing the failed opening", "err", err)
		}
	case <-time.After(reopenWait):
		// A write never came back from Pebble and holds its commit
		// pipeline; the database cannot be closed, so it cannot be
		// reopened either. Reads go on; writes wait for a restart.
		old.closing.Store(false)
		old.retired.Store(false)
		stuck := *f
		stuck.Stuck = true
		d.fault.Store(&stuck)
		d.logger.Error("pebble: the failed store cannot be closed to be reopened; writes resume only after a restart")
		go func() {
			// Should the close finish after all, the next Recover
			// reopens: meanwhile the old opening serves nothing.
			<-closed
			old.closing.Store(true)
			d.mu.Lock()
			if f := d.fault.Load(); f != nil && f.Stuck {
				late := *f
				late.Stuck = false
				d.fault.Store(&late)
			}
			d.mu.Unlock()
		}()
		return &stuck
	}
	d.fault.Store(nil)
	h, err := d.open(false)
	if err == nil {
		d.cur.Store(h)
		d.logger.Info("pebble: disk takes writes again; store reopened, writes resumed", "paused_for", time.Since(f.Since).Round(time.Millisecond).String())
		return nil
	}
	werr := err
	d.fault.Store(&Fault{Store: d.cfg.Name, NoSpace: IsNoSpace(err), Since: f.Since, Err: err})
	h, err = d.open(true)
	if err != nil {
		d.cur.Store(nil)
		d.logger.Error("pebble: reopening failed, the store is closed; restart the service", "err", werr, "read_only_err", err)
		return fmt.Errorf("%s store: reopening: %w", d.cfg.Name, werr)
	}
	d.cur.Store(h)
	return d.fault.Load()
}

// closeDB closes db, turning a Pebble panic on close into an error.
func closeDB(db *pebble.DB) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("pebble: close: %v", r)
		}
	}()
	return db.Close()
}

// probe checks that the disk takes a synced write of ProbeSize bytes and
// has room to open the store writable.
func (d *DB) probe() error {
	if err := d.roomToOpen(); err != nil {
		return err
	}
	fs := d.cfg.FS
	name := fs.PathJoin(d.cfg.Dir, "cunzheng-probe.tmp")
	defer fs.Remove(name)
	f, err := fs.Create(name, vfs.WriteCategoryUnspecified)
	if err != nil {
		return fmt.Errorf("%s store: probe: %w", d.cfg.Name, err)
	}
	buf := make([]byte, 64<<10)
	for n := 0; n < d.cfg.ProbeSize; n += len(buf) {
		if _, err := f.Write(buf); err != nil {
			f.Close()
			return fmt.Errorf("%s store: probe: %w", d.cfg.Name, err)
		}
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("%s store: probe: %w", d.cfg.Name, err)
	}
	return f.Close()
}

// Close closes the database.
func (d *DB) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil
	}
	d.closed = true
	h := d.cur.Load()
	if h == nil {
		return nil
	}
	h.retired.Store(true)
	h.fs.halt()
	err := closeDB(h.db)
	if err != nil && d.fault.Load() != nil {
		// Pebble reports the failure that paused writes again.
		d.logger.Info("pebble: closed after a storage failure", "err", err)
		return nil
	}
	return err
}

// events logs what Pebble reports in the background: failed flushes and
// compactions (which it retries), slow disks and write stalls.
func (d *DB) events() *pebble.EventListener {
	var lastBackground atomic.Int64 // unix ns of the last logged background error
	var skipped atomic.Int64
	return &pebble.EventListener{
		BackgroundError: func(err error) {
			// A failed flush is retried (throttled by guardFS); log one
			// per interval, with how many were not logged.
			now := time.Now().UnixNano()
			last := lastBackground.Load()
			if now-last < int64(10*time.Second) || !lastBackground.CompareAndSwap(last, now) {
				skipped.Add(1)
				return
			}
			d.logger.Error("pebble: background error", "err", err, "disk_full", IsNoSpace(err), "not_logged_since_last", skipped.Swap(0))
		},
		DiskSlow: func(info pebble.DiskSlowInfo) {
			d.logger.Warn("pebble: disk slow", "op", info.OpType.String(), "file", info.Path, "duration", info.Duration.String())
		},
		WriteStallBegin: func(info pebble.WriteStallBeginInfo) {
			d.logger.Warn("pebble: write stall", "reason", info.Reason)
		},
		WriteStallEnd: func() { d.logger.Info("pebble: write stall ended") },
		LowDiskSpace: func(info pebble.LowDiskSpaceInfo) {
			d.logger.Warn("pebble: low disk space", "avail_bytes", info.AvailBytes, "total_bytes", info.TotalBytes, "below_percent", info.PercentThreshold)
		},
	}
}

// fatalPanic is how pebbleLogger.Fatalf leaves the goroutine it runs on.
type fatalPanic struct{ msg string }

// pebbleLogger sends Pebble's logs to slog: informational ones at debug
// level, errors at error level.
//
// Pebble requires Fatalf not to return. It is called in two kinds of
// places. A failed commit (db.go applyInternal) calls it on the goroutine
// of Write, after which Pebble would report success: it panics, and Write
// recovers the panic into the returned error. A failed MANIFEST write in a
// background flush or compaction (version_set.go) also calls it, where a
// panic would kill the process; Pebble then returns the error on that path
// when Fatalf returns, so for those Fatalf logs and returns, and the guard
// filesystem has already paused writes (a reopen rebuilds the state from
// disk). Any other Fatalf is a broken invariant inside Pebble and panics.
type pebbleLogger struct{ l *slog.Logger }

func (p pebbleLogger) Infof(format string, args ...any) {
	p.l.Debug("pebble: " + fmt.Sprintf(format, args...))
}

func (p pebbleLogger) Errorf(format string, args ...any) {
	p.l.Error("pebble: " + fmt.Sprintf(format, args...))
}

func (p pebbleLogger) Fatalf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	p.l.Error("pebble: fatal: " + msg)
	if strings.HasPrefix(msg, "MANIFEST ") { // "MANIFEST sync failed: ...", version_set.go
		return
	}
	panic(fatalPanic{msg})
}
