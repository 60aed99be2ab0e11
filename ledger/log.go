// Package ledger is the append-only Merkle log every fact of cunzheng goes
// into: RFC 6962 hashing with transparency-dev/merkle, group-committed
// appends, every node stored so that C2SP tlog-tiles and proofs are served
// straight from storage, and checkpoints in the C2SP tlog-checkpoint format
// signed as C2SP signed notes by an Ed25519 key and an SM2/SM3 key.
//
// Spec: https://c2sp.org/tlog-checkpoint, https://c2sp.org/tlog-tiles,
// https://c2sp.org/signed-note, RFC 6962 section 2.1.
package ledger

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/cunzheng/cunzheng/ledger/pebbledb"
	"github.com/cunzheng/cunzheng/ledger/tlogfmt"
)

// Errors returned by Append.
var (
	// ErrPushback means the append queue is full; retry later (HTTP 503).
	ErrPushback = errors.New("ledger: too many pending appends, try again")
	// ErrTooLarge means a leaf is longer than MaxLeafSize.
	ErrTooLarge = errors.New("ledger: leaf larger than 65535 bytes")
	// ErrClosed means the log is closed or closing.
	ErrClosed = errors.New("ledger: log is closed")
	// ErrStorage means a storage write failed (the error is a
	// *StorageError). The log pauses appends, because the outcome of a
	// failed sync is unknown and only a reload from disk tells it; reads
	// go on. On a store that can recover (the embedded Pebble store, see
	// Recoverer) the log resumes appends by itself once the disk takes
	// writes again; otherwise it must be reopened.
	ErrStorage = errors.New("ledger: storage write failed, appends paused")
	// ErrNoSpace matches a storage failure caused by a full disk.
	ErrNoSpace = pebbledb.ErrNoSpace
)

// StorageError is a failed storage write that paused appends. Error
// carries the detail (which may name files: for logs, not for clients);
// errors.Is(err, ErrNoSpace) tells a full disk.
type StorageError struct{ Err error }

func (e *StorageError) Error() string {
	return "ledger: storage write failed, appends paused: " + e.Err.Error()
}

func (e *StorageError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrStorage) hold.
func (e *StorageError) Is(target error) bool { return target == ErrStorage }

// Recoverer is a Store that can pause writes after a storage failure and
// resume them in place (PebbleStore). The Log probes it while appends are
// paused and, when Recover succeeds, reloads its state from it.
type Recoverer interface {
	// Health returns nil while the store takes writes, else why not.
	Health() error
	// Recover returns nil once the store takes writes again (reopening
	// it if needed). No Commit runs meanwhile.
	Recover(ctx context.Context) error
}

// MaxLeafSize is the largest leaf: tlog-tiles entry bundles use a 2-byte length.
const MaxLeafSize = 65535

// Defaults for Config.
const (
	DefaultOrigin             = "cunzheng.example/log"
	DefaultMaxBatchLeaves     = 4096
	DefaultMaxBatchAge        = -1 // never wait; see Config.MaxBatchAge
	DefaultQueueSize          = 16384
	DefaultCheckpointInterval = time.Second
	DefaultRecoverInterval    = time.Second
)

// Config configures a Log.
type Config struct {
	// Store is where the log lives. Required.
	Store Store
	// Origin is the checkpoint origin line. The default is DefaultOrigin.
	Origin string
	// Signers sign every checkpoint; the first must be the Ed25519 log key.
	// Required.
	Signers []note.Signer
	// MaxBatchLeaves flushes a batch once it holds this many leaves. The
	// default is 4096.
	MaxBatchLeaves int
	// MaxBatchAge is the least time a group of appends is held for company
	// before it is committed. The default (0, or any negative value) is not
	// to wait: while one group commits the next gathers anyway, which
	// measured 26% faster than waiting 500µs with 64 clients.
	MaxBatchAge time.Duration
	// QueueSize bounds pending append requests; beyond it Append returns
	// ErrPushback. The default is 16384.
	QueueSize int
	// CheckpointInterval is the most often a new checkpoint is published
	// when the tree has grown. The default is one second.
	CheckpointInterval time.Duration
	// RecoverInterval is how often a log whose appends a storage failure
	// paused checks whether its store takes writes again. The default is
	// one second.
	RecoverInterval time.Duration
	// Logger receives operational logs. The default discards them.
	Logger *slog.Logger
	// Registerer registers the log's metrics. The default registers none.
	Registerer prometheus.Registerer
	// Now is the clock for checkpoint times. The default is time.Now.
	Now func() time.Time
	// Shared tunes cluster mode, used when Store is a SharedStore.
	Shared SharedConfig
}

// Receipt is the outcome of one appended leaf.
type Receipt struct {
	// Index is the leaf's position in the log.
	Index uint64
	// Hash is the RFC 6962 leaf hash.
	Hash tlog.Hash
	// Duplicate is true when identical bytes were already in the log and
	// Index is the earlier leaf's.
	Duplicate bool
	// TreeSize is the durable tree size right after the batch holding the
	// leaf; proofs for Index can be had at once for this size.
	TreeSize uint64
}

// Log is an append-only Merkle log.
type Log struct {
	cfg     Config
	store   Store
	logger  *slog.Logger
	metrics *metrics
	hasher  *rfc6962.Hasher

	reqs    chan *appendReq       // bounded queue drained by the sequencer
	commits chan []*pendingCommit // sequencer -> committer, in order
	resets  chan chan error       // recoverLoop -> sequencer: try to resume appends

	// inflight maps the hashes of leaves integrated but not yet durable to
	// their index; the sequencer adds, the committer removes.
	inflightMu sync.Mutex
	inflight   map[tlog.Hash]uint64
	nodes      *nodeCache // upper node hashes for proofs; safe for concurrent use

	// head is the durable, integrated tree: written by the sequencer after
	// each successful commit, read by everyone.
	head atomic.Pointer[treeHead]
	// failed holds the storage error that stopped the sequencer.
	failed atomic.Pointer[error]

	// pubMu guards published and pubCh, written by the publisher.
	pubMu     sync.Mutex
	published StoredCheckpoint
	pubCh     chan struct{} // closed and replaced on every publish

	// shared is set in cluster mode (Store is a SharedStore).
	shared *sharedState

	closing   chan struct{}
	seqDone   chan struct{} // closed when the committer has answered everything
	closeOnce sync.Once
	wg        sync.WaitGroup
}

type treeHead struct {
	size uint64
	root tlog.Hash
}

type appendReq struct {
	leaves   [][]byte
	hashes   []tlog.Hash
	enqueued time.Time
	done     chan appendResult // buffered, receives exactly once
}

type appendResult struct {
	receipts []Receipt
	err      error
}

// Open loads the log's state from cfg.Store and starts its sequencer and
// checkpoint publisher. The returned Log must be closed.
func Open(ctx context.Context, cfg Config) (*Log, error) {
	if cfg.Store == nil {
		return nil, errors.New("ledger: Config.Store is required")
	}
	if len(cfg.Signers) == 0 {
		return nil, errors.New("ledger: Config.Signers is required")
	}
	if cfg.Origin == "" {
		cfg.Origin = DefaultOrigin
	}
	if !tlogfmt.ValidKeyName(cfg.Origin) {
		return nil, fmt.Errorf("ledger: invalid origin %q", cfg.Origin)
	}
	if cfg.MaxBatchLeaves <= 0 {
		cfg.MaxBatchLeaves = DefaultMaxBatchLeaves
	}
	if cfg.MaxBatchAge == 0 {
		cfg.MaxBatchAge = DefaultMaxBatchAge
	}
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = DefaultQueueSize
	}
	if cfg.CheckpointInterval <= 0 {
		cfg.CheckpointInterval = DefaultCheckpointInterval
	}
	if cfg.RecoverInterval <= 0 {
		cfg.RecoverInterval = DefaultRecoverInterval
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	l := &Log{
		cfg:      cfg,
		store:    cfg.Store,
		logger:   cfg.Logger,
		metrics:  newMetrics(cfg.Registerer),
		hasher:   rfc6962.DefaultHasher,
		reqs:     make(chan *appendReq, cfg.QueueSize),
		commits:  make(chan []*pendingCommit),
		resets:   make(chan chan error),
		inflight: make(map[tlog.Hash]uint64),
		nodes:    newNodeCache(),
		pubCh:    make(chan struct{}),
		closing:  make(chan struct{}),
		seqDone:  make(chan struct{}),
	}
	st, rng, root, err := l.loadTree(ctx)
	if err != nil {
		return nil, err
	}
	l.head.Store(&treeHead{size: st.Size, root: root})
	l.metrics.treeSize.Set(float64(st.Size))

	if ss, ok := cfg.Store.(SharedStore); ok {
		if err := l.openShared(ctx, ss); err != nil {
			return nil, err
		}
		return l, nil
	}

	rec, _ := l.store.(Recoverer)
	if rec != nil {
		if err := rec.Health(); err != nil {
			// Opened on a full disk: serve reads, resume appends later.
			l.failWith(err)
		}
	}
	cp, err := l.store.LatestCheckpoint(ctx)
	switch {
	case err == nil:
		if cp.Size > st.Size {
			return nil, fmt.Errorf("ledger: checkpoint %d is beyond the stored tree of %d leaves", cp.Size, st.Size)
		}
		l.published = cp
	case errors.Is(err, ErrNotFound):
		// A new log publishes its empty checkpoint at once, so /checkpoint
		// is never absent.
		if err := l.publish(ctx); err != nil {
			return nil, err
		}
	default:
		return nil, err
	}
	if cp.Size != 0 || st.Size != 0 {
		l.logger.Info("ledger opened", "size", st.Size, "checkpoint", l.published.Size)
	}

	l.wg.Add(3)
	go l.sequence(rng)
	go l.commit()
	go l.publishLoop()
	if rec != nil {
		l.wg.Add(1)
		go l.recoverLoop(rec)
	}
	return l, nil
}

func (l *Log) factory() *compact.RangeFactory {
	return &compact.RangeFactory{Hash: l.hasher.HashChildren}
}

func (l *Log) rootOf(rng *compact.Range) (tlog.Hash, error) {
	var root tlog.Hash
	if rng.End() == 0 {
		copy(root[:], l.hasher.EmptyRoot())
		return root, nil
	}
	r, err := rng.GetRootHash(nil)
	if err != nil {
		return root, fmt.Errorf("ledger: computing root: %w", err)
	}
	copy(root[:], r)
	return root, nil
}

// Origin returns the checkpoint origin line.
func (l *Log) Origin() string { return l.cfg.Origin }

// Size returns the durable, integrated tree size.
func (l *Log) Size() uint64 { return l.head.Load().size }

// Close stops accepting appends, finishes the ones already queued, publishes
// a final checkpoint and closes the store.
func (l *Log) Close() error {
	l.closeOnce.Do(func() { close(l.closing) })
	l.wg.Wait()
	return l.store.Close()
}

// Append adds one leaf. It returns when the leaf is durable and integrated
// into the tree. If ctx ends first the append may still happen; retrying the
// same bytes then returns the same index.
func (l *Log) Append(ctx context.Context, leaf []byte) (Receipt, error) {
	rs, err := l.AppendAll(ctx, [][]byte{leaf})
	if err != nil {
		return Receipt{}, err
	}
	return rs[0], nil
}

// AppendAll adds leaves atomically: they are committed in one batch, or none
// is. Receipts are in the order of leaves.
func (l *Log) AppendAll(ctx context.Context, leaves [][]byte) ([]Receipt, error) {
	if len(leaves) == 0 {
		return nil, nil
	}
	if len(leaves) > l.cfg.MaxBatchLeaves {
		return nil, fmt.Errorf("ledger: %d leaves in one atomic append, at most %d", len(leaves), l.cfg.MaxBatchLeaves)
	}
	if errp := l.failed.Load(); errp != nil {
		return nil, *errp
	}
	req := &appendReq{
		leaves:   leaves,
		hashes:   make([]tlog.Hash, len(leaves)),
		enqueued: time.Now(),
		done:     make(chan appendResult, 1),
	}
	// Hash on the caller's goroutine: it spreads the work over all cores and
	// keeps the sequencer's critical path short.
	for i, leaf := range leaves {
		if len(leaf) > MaxLeafSize {
			return nil, fmt.Errorf("leaf %d of %d bytes: %w", i, len(leaf), ErrTooLarge)
		}
		req.hashes[i] = tlog.RecordHash(leaf)
	}
	select {
	case <-l.closing:
		return nil, ErrClosed
	default:
	}
	select {
	case l.reqs <- req:
	default:
		l.metrics.pushbacks.Inc()
		return nil, ErrPushback
	}
	select {
	case res := <-req.done:
		return res.receipts, res.err
	case <-ctx.Done():
		return nil, fmt.Errorf("ledger: waiting for append: %w", ctx.Err())
	case <-l.seqDone:
		// Closed while queued: the sequencer's last drain either answered
		// the request or never saw it.
		select {
		case res := <-req.done:
			return res.receipts, res.err
		default:
			return nil, ErrClosed
		}
	}
}

// sequence is the single goroutine that owns the tree: it drains the queue,
// integrates what it finds into rng and hands the result to the committer.
//
// Group commit: whatever is integrated while the committer is busy waits in
// one open group, and the committer takes the whole group when it comes
// round, so a batch is everything that arrived during the previous commit
// and the batch size follows the load. Integration (dedup lookups, hashing)
// happens while the previous group commits, off the critical path. Handing
// every drained batch to the committer on its own instead, each with a sync
// of its own, capped 64 clients at about 28k appends/s in batches of about
// 20 leaves. With MaxBatchAge > 0 a group is held at least that long.
func (l *Log) sequence(rng *compact.Range) {
	defer l.wg.Done()
	defer close(l.commits)
	var (
		open     []*pendingCommit // integrated, not yet taken by the committer
		n        int              // leaves in open
		timer    *time.Timer
		timerC   <-chan time.Time
		aged     bool
		closing  = l.closing
		finished bool
	)
	add := func(batch []*appendReq, leaves int) {
		pc := l.flushPending(&rng, batch)
		if pc == nil {
			return
		}
		if len(open) == 0 && l.cfg.MaxBatchAge > 0 {
			aged = false
			if timer == nil {
				timer = time.NewTimer(l.cfg.MaxBatchAge)
			} else {
				timer.Reset(l.cfg.MaxBatchAge)
			}
			timerC = timer.C
		}
		open = append(open, pc)
		n += leaves
	}
	// integrate integrates r and whatever queued behind it that fits. Only
	// the sequencer receives from l.reqs, so a non-empty queue never blocks.
	integrate := func(r *appendReq) {
		batch, m := []*appendReq{r}, len(r.leaves)
		for n+m < l.cfg.MaxBatchLeaves && len(l.reqs) > 0 {
			r := <-l.reqs
			if n+m+len(r.leaves) > l.cfg.MaxBatchLeaves {
				// It goes into the group on its own, over the limit,
				// and the group then waits for the committer.
				add(batch, m)
				add([]*appendReq{r}, len(r.leaves))
				return
			}
			batch = append(batch, r)
			m += len(r.leaves)
		}
		add(batch, m)
	}
	for {
		var commits chan []*pendingCommit
		if len(open) > 0 && (aged || l.cfg.MaxBatchAge <= 0 || finished) {
			commits = l.commits
		}
		reqs := l.reqs
		if n >= l.cfg.MaxBatchLeaves || finished {
			reqs = nil
		}
		if finished && len(open) == 0 {
			return
		}
		select {
		case commits <- open:
			open, n = nil, 0
		case done := <-l.resets:
			// Appends are paused (see recoverLoop): fail the open group,
			// wait until the committer has answered every earlier one,
			// then let the store recover and start over from its state.
			if errp := l.failed.Load(); errp != nil {
				for _, pc := range open {
					answerErr(pc.reqs, *errp)
				}
				open, n = nil, 0
			}
			barrier := make(chan struct{})
			l.commits <- []*pendingCommit{{barrier: barrier}}
			<-barrier
			next, err := l.resume()
			if err == nil {
				rng = next
			}
			done <- err
		case r := <-reqs:
			integrate(r)
		case <-timerC:
			aged, timerC = true, nil
		case <-closing:
			// Finish what was queued before Close, then stop.
			closing = nil
			for len(l.reqs) > 0 {
				integrate(<-l.reqs)
			}
			finished = true
		}
	}
}

// flushPending integrates one batch into *rngp, which it extends, and
// returns it for the committer; it returns nil, leaving *rngp alone, if the
// batch failed.
//
// Pipelining: while the committer syncs batch k, the sequencer already
// deduplicates and hashes batch k+1 on top of k's in-memory tree. Leaves of
// batches not yet durable are in l.inflight, so a duplicate of one of them
// gets its index; every batch, even one of duplicates only, goes through
// the committer, which answers in order, so no receipt is given before the
// leaf it names is durable. If a commit fails, the log stops (ErrStorage)
// and the batches queued behind it fail too; a reopen reloads the durable
// state. Reads are bounded by the durable head, never the sequencer's.
func (l *Log) flushPending(rngp **compact.Range, batch []*appendReq) *pendingCommit {
	rng := *rngp
	if errp := l.failed.Load(); errp != nil {
		answerErr(batch, *errp)
		return nil
	}
	ctx := context.Background()
	start := rng.End()
	next, err := l.factory().NewRange(0, start, cloneHashes(rng.Hashes()))
	if err != nil {
		panic(fmt.Sprintf("ledger: cloning compact range: %v", err)) // broken invariant
	}
	b := &Batch{Start: start}
	visit := func(id compact.NodeID, h []byte) {
		var nh tlog.Hash
		copy(nh[:], h)
		b.Nodes = append(b.Nodes, Node{Level: uint8(id.Level), Index: id.Index, Hash: nh})
	}
	var all []tlog.Hash
	for _, r := range batch {
		all = append(all, r.hashes...)
	}
	// In-flight leaves first, then the store: the committer forgets a hash
	// only after its commit is visible in the store, so one of the two
	// lookups sees it. The other order misses a leaf committed in between.
	l.inflightMu.Lock()
	flying := make(map[tlog.Hash]uint64)
	for _, h := range all {
		if idx, ok := l.inflight[h]; ok {
			flying[h] = idx
		}
	}
	l.inflightMu.Unlock()
	known, err := l.store.LookupLeaves(ctx, all)
	if err != nil {
		l.fail(fmt.Errorf("%w: dedup lookup: %v", ErrStorage, err), batch)
		return nil
	}
	for h, idx := range flying {
		known[h] = idx
	}
	l.inflightMu.Lock()
	results := make([][]Receipt, len(batch))
	for ri, r := range batch {
		results[ri] = make([]Receipt, len(r.leaves))
		for i, h := range r.hashes {
			// Known before this batch, or a second occurrence within it.
			if idx, ok := known[h]; ok {
				results[ri][i] = Receipt{Index: idx, Hash: h, Duplicate: true}
				continue
			}
			idx := start + uint64(len(b.Leaves))
			known[h] = idx
			l.inflight[h] = idx
			b.Leaves = append(b.Leaves, r.leaves[i])
			b.Hashes = append(b.Hashes, h)
			if err := next.Append(h[:], visit); err != nil {
				panic(fmt.Sprintf("ledger: appending to compact range: %v", err))
			}
			results[ri][i] = Receipt{Index: idx, Hash: h}
		}
	}
	l.inflightMu.Unlock()
	size := next.End()
	b.State = State{Size: size, Hashes: next.Hashes()}
	root, err := l.rootOf(next)
	if err != nil {
		panic(err.Error())
	}
	*rngp = next
	return &pendingCommit{batch: b, reqs: batch, results: results, head: treeHead{size: size, root: root}}
}

// pendingCommit is a batch integrated by the sequencer, waiting for the
// committer.
type pendingCommit struct {
	// barrier, when set, marks a group with nothing to commit: the
	// committer closes it once it has answered every group before.
	barrier chan struct{}
	batch   *Batch
	reqs    []*appendReq
	results [][]Receipt
	head    treeHead // the tree once batch is durable
}

// commit is the committer goroutine: it makes each group durable as one
// store batch, publishes the new durable head and answers the requests, and
// only then takes the next group, which has grown in the meantime.
//
// Larger groups are what make the log fast: with 64 clients the groups
// settle at about half the clients each, the other half integrating
// meanwhile. Starting the next group's write while one syncs (Pebble's
// ApplyNoSyncWait), or even only taking it before answering, split the
// clients into more, smaller groups and measured 30-40% slower.
func (l *Log) commit() {
	defer l.wg.Done()
	defer close(l.seqDone)
	ctx := context.Background()
	for group := range l.commits {
		if len(group) == 1 && group[0].barrier != nil {
			close(group[0].barrier)
			continue
		}
		if errp := l.failed.Load(); errp != nil {
			answerFailed(group, *errp)
			continue
		}
		b := mergeBatches(group)
		if len(b.Leaves) > 0 {
			t0 := time.Now()
			if err := l.store.Commit(ctx, b); err != nil {
				answerFailed(group, l.failWith(err))
				continue
			}
			l.metrics.commitSeconds.Observe(time.Since(t0).Seconds())
			head := group[len(group)-1].head
			l.head.Store(&head)
			l.metrics.treeSize.Set(float64(head.size))
			l.metrics.appended.Add(float64(len(b.Leaves)))
			l.metrics.batchLeaves.Observe(float64(len(b.Leaves)))
			l.inflightMu.Lock()
			for _, h := range b.Hashes {
				delete(l.inflight, h)
			}
			l.inflightMu.Unlock()
		}
		now := time.Now()
		for _, pc := range group {
			for ri, r := range pc.reqs {
				for i := range pc.results[ri] {
					pc.results[ri][i].TreeSize = pc.head.size
					if pc.results[ri][i].Duplicate {
						l.metrics.duplicates.Inc()
					}
				}
				l.metrics.appendSeconds.Observe(now.Sub(r.enqueued).Seconds())
				r.done <- appendResult{receipts: pc.results[ri]}
			}
		}
	}
}

// answerErr answers every request with err.
func answerErr(reqs []*appendReq, err error) {
	for _, r := range reqs {
		r.done <- appendResult{err: err}
	}
}

func answerFailed(group []*pendingCommit, err error) {
	for _, pc := range group {
		answerErr(pc.reqs, err)
	}
}

// mergeBatches joins consecutive batches into one, which ends in the last
// one's state.
func mergeBatches(group []*pendingCommit) *Batch {
	if len(group) == 1 {
		return group[0].batch
	}
	b := &Batch{Start: group[0].batch.Start, State: group[len(group)-1].batch.State}
	for _, pc := range group {
		b.Leaves = append(b.Leaves, pc.batch.Leaves...)
		b.Hashes = append(b.Hashes, pc.batch.Hashes...)
		b.Nodes = append(b.Nodes, pc.batch.Nodes...)
	}
	return b
}

func (l *Log) fail(err error, batch []*appendReq) {
	answerErr(batch, l.failWith(err))
}

// failWith stops appends with a storage error and returns the error that
// stopped them (the first one, if another came before).
func (l *Log) failWith(err error) error {
	if !errors.Is(err, ErrStorage) {
		err = &StorageError{Err: err}
	}
	if l.failed.CompareAndSwap(nil, &err) {
		l.metrics.storageErrors.Inc()
		l.metrics.paused.Set(1)
		l.logger.Error("ledger storage failure; appends paused", "err", err, "disk_full", errors.Is(err, ErrNoSpace))
	}
	return *l.failed.Load()
}

// recoverLoop probes a paused log's store every RecoverInterval and asks
// the sequencer to resume appends. It also pauses appends when the store
// failed a write of its own (a checkpoint, a cosignature) while no append
// was running, so that the store gets reopened before the next commit.
func (l *Log) recoverLoop(rec Recoverer) {
	defer l.wg.Done()
	t := time.NewTicker(l.cfg.RecoverInterval)
	defer t.Stop()
	var lastLog time.Time
	for {
		select {
		case <-l.closing:
			return
		case <-t.C:
		}
		if l.failed.Load() == nil {
			lastLog = time.Time{}
			if err := rec.Health(); err != nil {
				l.failWith(err)
			}
			continue
		}
		done := make(chan error, 1)
		select {
		case l.resets <- done:
		case <-l.closing:
			return
		}
		if err := <-done; err != nil && time.Since(lastLog) > 30*time.Second {
			lastLog = time.Now()
			l.logger.Warn("ledger: appends still paused", "err", err)
		}
	}
}

// resume runs on the sequencer once the committer is idle: it lets the
// store recover and reloads the durable state, which is ahead of the
// last acknowledged one when a batch whose commit failed became durable
// after all (its leaves are then in the log, and appending them again
// returns their receipts). It returns the compact range to go on from.
func (l *Log) resume() (*compact.Range, error) {
	ctx := context.Background()
	rec, ok := l.store.(Recoverer)
	if !ok {
		return nil, errors.New("ledger: the store cannot recover in place; reopen the log")
	}
	if err := rec.Recover(ctx); err != nil {
		return nil, err
	}
	st, rng, root, err := l.loadTree(ctx)
	if err != nil {
		return nil, err
	}
	l.inflightMu.Lock()
	l.inflight = make(map[tlog.Hash]uint64)
	l.inflightMu.Unlock()
	before := l.Size()
	l.head.Store(&treeHead{size: st.Size, root: root})
	l.metrics.treeSize.Set(float64(st.Size))
	l.failed.Store(nil)
	l.metrics.paused.Set(0)
	l.logger.Info("ledger: storage takes writes again; appends resumed", "size", st.Size, "durable_after_failure", st.Size-before)
	return rng, nil
}

// loadTree reads the stored tree state and rebuilds its compact range and
// root: at open, and again when appends resume after a storage failure.
func (l *Log) loadTree(ctx context.Context) (State, *compact.Range, tlog.Hash, error) {
	st, err := l.store.LoadState(ctx)
	if err != nil {
		return State{}, nil, tlog.Hash{}, err
	}
	rng, err := l.factory().NewRange(0, st.Size, st.Hashes)
	if err != nil {
		return State{}, nil, tlog.Hash{}, fmt.Errorf("ledger: restoring compact range at %d: %w", st.Size, err)
	}
	root, err := l.rootOf(rng)
	if err != nil {
		return State{}, nil, tlog.Hash{}, err
	}
	return st, rng, root, nil
}

func cloneHashes(hs [][]byte) [][]byte {
	out := make([][]byte, len(hs))
	for i, h := range hs {
		out[i] = append([]byte(nil), h...)
	}
	return out
}

// Healthy returns the storage error that paused appends, or nil. It
// matches ErrStorage, and ErrNoSpace when the disk is full.
func (l *Log) Healthy() error {
	if errp := l.failed.Load(); errp != nil {
		return *errp
	}
	if rec, ok := l.store.(Recoverer); ok {
		if err := rec.Health(); err != nil {
			return &StorageError{Err: err}
		}
	}
	return nil
}
