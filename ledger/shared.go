package ledger

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/transparency-dev/merkle/compact"
	"golang.org/x/mod/sumdb/tlog"
)

// ErrUnavailable means the shared storage of a cluster (its database or its
// object store) cannot be reached or refused the write; nothing was
// acknowledged and retrying the same bytes later is safe. It is a kind of
// pushback (errors.Is(err, ErrPushback) holds), so HTTP layers that answer
// pushback with 503 answer this with 503 too; the message says which part
// is down.
var ErrUnavailable error = unavailableError{}

type unavailableError struct{}

func (unavailableError) Error() string { return "ledger: shared storage unavailable, try again" }

func (unavailableError) Is(target error) bool { return target == ErrPushback }

// ErrFenced is returned by a SharedStore write made under a lease that is no
// longer held: another process took over integration, or the lease expired.
var ErrFenced = errors.New("ledger: integration lease lost (fenced)")

// SharedStore is a Store that several processes use at once: cluster mode.
//
// The split follows Tessera and Sunlight: every process sequences (assigns
// indexes to new leaves in one database transaction, deduplicating by leaf
// hash), and exactly one process at a time, the holder of a lease with a
// fencing token, integrates (extends the tree over sequenced leaves with
// Commit) and signs checkpoints (PutCheckpoint). Commit and PutCheckpoint
// are refused with ErrFenced unless the lease taken by the last successful
// Lease call is still held and unexpired when they commit, so a process
// that was paused past its lease cannot write tree state or a checkpoint
// even though it still believes it leads.
type SharedStore interface {
	Store
	// Sequence durably assigns indexes to leaves (hashes[i] is leaves[i]'s
	// RFC 6962 hash) in one transaction: a hash already sequenced gets its
	// existing index and dup[i] true. New leaves get consecutive indexes
	// following every leaf sequenced before, with no gaps.
	Sequence(ctx context.Context, leaves [][]byte, hashes []tlog.Hash) (idx []uint64, dup []bool, err error)
	// ReadSequenced returns the leaves sequenced at [start, start+max), or
	// fewer (none when nothing is sequenced at start), with their hashes.
	// What it returns is durable: a store whose Sequence commits without
	// waiting for durability makes every sequencing committed before the
	// call durable first. The integrator integrates only what it returned,
	// so no append is answered before its sequencing is durable.
	ReadSequenced(ctx context.Context, start uint64, max int) ([][]byte, []tlog.Hash, error)
	// Lease takes or renews the integration lease for holder for ttl. held
	// reports whether holder has it now; token is the fencing token, which
	// changes whenever the lease changes hands or lapsed.
	Lease(ctx context.Context, holder string, ttl time.Duration) (token int64, held bool, err error)
	// CheckLease returns nil if the lease of the last successful Lease call
	// is still held and unexpired, ErrFenced if not.
	CheckLease(ctx context.Context) error
	// Release gives the lease up (on clean shutdown), so that another
	// process need not wait for it to expire.
	Release(ctx context.Context) error
}

// Preparer is implemented by a SharedStore whose Commit has a first part
// that writes nothing the tree state points to yet (the cluster store's
// tile uploads). The integrator prepares batch k+1 while batch k commits,
// then commits it with Batch.Prepared set.
type Preparer interface {
	Prepare(ctx context.Context, b *Batch) error
}

// Watcher is implemented by a SharedStore that can tell a process when any
// process moved the tree or stored a checkpoint, so that appends waiting
// for another process's integration need not poll.
type Watcher interface {
	// Changes returns a channel that receives after such a change.
	// Receives are coalesced, and one also follows a lapse in watching
	// (a reconnection), after which the receiver must look for itself.
	Changes() <-chan struct{}
	// Notified returns the largest tree size and checkpoint size notified
	// so far, and how many times watching (re)started: whatever happened
	// before a start was not notified, so a receiver that sees the count
	// change must look for itself.
	Notified() (tree, checkpoint uint64, starts int64)
	// NotifiedTree returns the tree state the largest tree notification
	// carried, if it carried one: a follower then moves its head without
	// reading the state back from the store.
	NotifiedTree() (State, bool)
}

// SharedConfig tunes cluster mode (Config.Shared). Zero values are defaults.
type SharedConfig struct {
	// LeaseTTL is how long the integration lease lasts without renewal: the
	// longest a dead holder delays integration. The default is 3s; the
	// lease is renewed every LeaseTTL/4.
	LeaseTTL time.Duration
	// PollInterval is how often a process looks for new sequenced leaves
	// (the holder) or a grown tree (the others). The default is 5ms.
	PollInterval time.Duration
	// IntegrationTimeout bounds how long an append, once sequenced, waits
	// to be integrated before returning ErrUnavailable (the leaf keeps its
	// index; retrying the same bytes returns it). The default is 30s.
	IntegrationTimeout time.Duration
	// BatchLeaves and BatchAge shape the batches this process sequences:
	// one smaller than BatchLeaves waits up to BatchAge after its first
	// append for more. Every sequencing transaction holds the cluster's
	// counter row for a commit, so with several processes fewer, bigger
	// batches get more leaves through it. The defaults are 128 leaves and
	// 5ms; a negative BatchAge never waits.
	BatchLeaves int
	BatchAge    time.Duration
	// Holder names this process in the lease row. The default is the host
	// name, pid and a random suffix.
	Holder string
}

// sharedState is the part of a Log only cluster mode uses.
type sharedState struct {
	store  SharedStore
	cfg    SharedConfig
	leader bool // integrator goroutine only

	waitMu  sync.Mutex
	waiters []*sequenced
	poke    chan struct{} // an append waits: look at the tree now

	integrated chan struct{} // closed when the integrator has stopped

	// leading mirrors leader for other goroutines (Log.Leading); leadCh
	// is closed and replaced whenever it changes.
	leadMu  sync.Mutex
	leading bool
	leadCh  chan struct{}

	// lastErr is why this process's last integration attempt failed
	// (nil after a success), for the reason given to timed-out appends.
	lastErr atomic.Pointer[error]
}

func (s *sharedState) setLeading(v bool) {
	s.leadMu.Lock()
	defer s.leadMu.Unlock()
	if s.leading == v {
		return
	}
	s.leading = v
	close(s.leadCh)
	s.leadCh = make(chan struct{})
}

// Leading reports whether this process holds the cluster's integration
// lease (it integrates and signs), and returns a channel closed at the next
// change. Work that one process of a cluster should do, such as pushing
// checkpoints to partner notaries, runs while it is true. An embedded log
// always leads, and its channel never closes.
func (l *Log) Leading() (bool, <-chan struct{}) {
	if l.shared == nil {
		return true, nil
	}
	l.shared.leadMu.Lock()
	defer l.shared.leadMu.Unlock()
	return l.shared.leading, l.shared.leadCh
}

// sequenced is an answered Sequence call waiting for integration.
type sequenced struct {
	need    uint64 // tree size that covers every leaf of the batch
	reqs    []*appendReq
	results [][]Receipt
	dead    time.Time
}

func (c *SharedConfig) defaults() {
	if c.LeaseTTL <= 0 {
		c.LeaseTTL = 3 * time.Second
	}
	if c.PollInterval <= 0 {
		c.PollInterval = 5 * time.Millisecond
	}
	if c.BatchLeaves <= 0 {
		c.BatchLeaves = 128
	}
	if c.BatchAge == 0 {
		c.BatchAge = 5 * time.Millisecond
	}
	if c.IntegrationTimeout <= 0 {
		c.IntegrationTimeout = 30 * time.Second
	}
	if c.Holder == "" {
		host, _ := os.Hostname()
		var r [4]byte
		rand.Read(r[:])
		c.Holder = fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(r[:]))
	}
}

// openShared finishes Open for a SharedStore: the log's goroutines are a
// sequencer (appends -> one transaction per batch), an integrator (lease,
// tree, checkpoints; active only while holding the lease) and a follower
// (tree growth made by whichever process integrates -> waiting appends).
func (l *Log) openShared(ctx context.Context, ss SharedStore) error {
	l.cfg.Shared.defaults()
	l.shared = &sharedState{store: ss, cfg: l.cfg.Shared, poke: make(chan struct{}, 1), integrated: make(chan struct{}), leadCh: make(chan struct{})}
	// A new cluster has no checkpoint until a lease holder publishes the
	// empty one; wait for it (or publish it) so /checkpoint is never absent.
	for {
		cp, err := ss.LatestCheckpoint(ctx)
		if err == nil {
			l.published = cp
			break
		}
		if !errors.Is(err, ErrNotFound) {
			return err
		}
		if _, held, err := ss.Lease(ctx, l.cfg.Shared.Holder, l.cfg.Shared.LeaseTTL); err != nil {
			return err
		} else if held {
			// The head loaded by Open: a checkpoint of an older size than
			// the tree has grown to since is still a true one.
			if err := l.publish(ctx); err != nil {
				return err
			}
			continue
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("ledger: waiting for the cluster's first checkpoint: %w", ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
	l.wg.Add(3)
	go l.sharedSequence()
	go l.integrate()
	go l.follow()
	return nil
}

// sequencersPerProcess is how many sequencing transactions one process
// keeps in flight. The cluster store holds its counter row only for the
// assignment at the end of each (an UPDATE and a one-row INSERT, no WAL
// flush), so one in flight per process lets the queue fill the next batch
// for the whole of it and gives the biggest batches. Two measured the same
// with one process and within the noise with three (2026-12-05, with
// smaller batches: 35 leaves against 41).
const sequencersPerProcess = 1

// sharedSequence drains the append queue into batches and sequences each in
// one database transaction, up to sequencersPerProcess at a time. The
// caller is answered once the tree covers its leaves (see follow), so
// "index returned => proof servable" holds in cluster mode too. A batch is
// the first queued request and whatever queued behind it, up to
// MaxBatchLeaves, taken when a transaction slot is free (the longer the
// database takes, the bigger the batches), and waiting up to BatchAge for
// company while it is under BatchLeaves. After Close it sequences what is
// still queued, one request at a time, and returns.
func (l *Log) sharedSequence() {
	defer l.wg.Done()
	defer close(l.seqDone)
	slots := make(chan struct{}, sequencersPerProcess)
	var inflight sync.WaitGroup
	run := func(batch []*appendReq) {
		slots <- struct{}{}
		inflight.Go(func() {
			defer func() { <-slots }()
			l.sequenceShared(batch)
		})
	}
	for {
		slots <- struct{}{} // wait for a free slot before gathering
		<-slots
		var first *appendReq
		select {
		case first = <-l.reqs:
		case <-l.closing:
			inflight.Wait()
			// Finish what was queued before Close, then stop.
			for len(l.reqs) > 0 {
				l.sequenceShared([]*appendReq{<-l.reqs})
			}
			return
		}
		batch := []*appendReq{first}
		n := len(first.leaves)
		var fill <-chan time.Time
		if l.shared.cfg.BatchAge > 0 {
			fill = time.After(l.shared.cfg.BatchAge)
		}
	gather:
		for n < l.cfg.MaxBatchLeaves {
			var r *appendReq
			if n >= l.shared.cfg.BatchLeaves || fill == nil {
				if len(l.reqs) == 0 {
					break
				}
				r = <-l.reqs
			} else {
				select {
				case r = <-l.reqs:
				case <-fill:
					fill = nil
					continue
				case <-l.closing:
					break gather
				}
			}
			if n+len(r.leaves) > l.cfg.MaxBatchLeaves {
				run(batch)
				batch, n = nil, 0
			}
			batch = append(batch, r)
			n += len(r.leaves)
		}
		run(batch)
	}
}

func (l *Log) sequenceShared(batch []*appendReq) {
	var leaves [][]byte
	var hashes []tlog.Hash
	for _, r := range batch {
		leaves = append(leaves, r.leaves...)
		hashes = append(hashes, r.hashes...)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t0 := time.Now()
	idx, dup, err := l.shared.store.Sequence(ctx, leaves, hashes)
	cancel()
	if err != nil {
		l.metrics.storageErrors.Inc()
		err = fmt.Errorf("%w (sequencing %d leaves: %v)", ErrUnavailable, len(leaves), err)
		l.logger.Warn("sequencing failed", "err", err)
		answerErr(batch, err)
		return
	}
	l.metrics.commitSeconds.Observe(time.Since(t0).Seconds())
	w := &sequenced{reqs: batch, results: make([][]Receipt, len(batch)), dead: time.Now().Add(l.shared.cfg.IntegrationTimeout)}
	k := 0
	for ri, r := range batch {
		w.results[ri] = make([]Receipt, len(r.leaves))
		for i := range r.leaves {
			w.results[ri][i] = Receipt{Index: idx[k], Hash: hashes[k], Duplicate: dup[k]}
			if dup[k] {
				l.metrics.duplicates.Inc()
			} else {
				l.metrics.appended.Inc()
			}
			w.need = max(w.need, idx[k]+1)
			k++
		}
	}
	l.shared.waitMu.Lock()
	l.shared.waiters = append(l.shared.waiters, w)
	l.shared.waitMu.Unlock()
	l.releaseWaiters()
	select {
	case l.shared.poke <- struct{}{}:
	default:
	}
}

// releaseWaiters answers every sequenced batch the durable tree now covers,
// and fails those that waited longer than IntegrationTimeout.
func (l *Log) releaseWaiters() {
	size := l.head.Load().size
	now := time.Now()
	l.shared.waitMu.Lock()
	keep := l.shared.waiters[:0]
	var done, late []*sequenced
	for _, w := range l.shared.waiters {
		switch {
		case w.need <= size:
			done = append(done, w)
		case now.After(w.dead):
			late = append(late, w)
		default:
			keep = append(keep, w)
		}
	}
	clear(l.shared.waiters[len(keep):])
	l.shared.waiters = keep
	l.shared.waitMu.Unlock()
	for _, w := range done {
		for ri, r := range w.reqs {
			for i := range w.results[ri] {
				w.results[ri][i].TreeSize = size
			}
			l.metrics.appendSeconds.Observe(now.Sub(r.enqueued).Seconds())
			r.done <- appendResult{receipts: w.results[ri]}
		}
	}
	why := "no process holds the integration lease or it cannot write"
	if errp := l.shared.lastErr.Load(); errp != nil {
		why = (*errp).Error()
	}
	for _, w := range late {
		err := fmt.Errorf("%w (leaves sequenced up to index %d but not integrated within %v: %s; retrying the same bytes returns the same index)",
			ErrUnavailable, w.need-1, l.shared.cfg.IntegrationTimeout, why)
		answerErr(w.reqs, err)
	}
}

func (l *Log) pendingWaiters() bool {
	l.shared.waitMu.Lock()
	defer l.shared.waitMu.Unlock()
	return len(l.shared.waiters) > 0
}

// follow keeps this process's view of the tree and of the latest checkpoint
// up to date with what the integrating process (maybe this one) wrote. With
// a Watcher it looks when told to, and polls only as a safety net.
func (l *Log) follow() {
	defer l.wg.Done()
	t := time.NewTicker(l.shared.cfg.PollInterval)
	defer t.Stop()
	ctx := context.Background()
	var changes <-chan struct{}
	w, _ := l.shared.store.(Watcher)
	if w != nil {
		changes = w.Changes()
	}
	idle := 0
	var lastWarn time.Time
	var lastStarts int64
	for {
		told := false
		select {
		case <-l.closing:
			<-l.shared.integrated
			// Answer what the final integration covered; fail the rest.
			l.releaseWaiters()
			l.shared.waitMu.Lock()
			ws := l.shared.waiters
			l.shared.waiters = nil
			l.shared.waitMu.Unlock()
			closed := fmt.Errorf("%w (sequenced, not yet integrated; retrying returns the same index)", ErrClosed)
			for _, w := range ws {
				answerErr(w.reqs, closed)
			}
			return
		case <-changes:
			told = true
		case <-t.C:
		}
		if told {
			// Nothing to load when the news is about what this process
			// already has (its own integration, say).
			tree, cp, starts := w.Notified()
			l.pubMu.Lock()
			pub := l.published.Size
			l.pubMu.Unlock()
			restarted := starts != lastStarts
			lastStarts = starts
			if !restarted && tree <= l.head.Load().size && cp <= pub {
				l.releaseWaiters()
				continue
			}
			// A tree that grew, with its state in the notification and no
			// new checkpoint: no query (with three processes, the followers'
			// two queries per integration round were 7% of their CPU).
			if st, ok := w.NotifiedTree(); ok && !restarted && cp <= pub && st.Size == tree {
				if err := l.adoptState(st); err == nil {
					l.releaseWaiters()
					continue
				}
			}
		} else if changes == nil && l.pendingWaiters() {
			// Polling: with waiting appends, look at every tick.
		} else if idle++; idle < 20 {
			// Otherwise every 20 ticks: reads then lag the integrator by
			// at most 20 poll intervals, and a lost notification costs
			// no more than that.
			l.releaseWaiters()
			continue
		}
		idle = 0
		if err := l.refresh(ctx); err != nil && time.Since(lastWarn) > 5*time.Second {
			// Every poll fails while the database is down; once in a while
			// is enough to say so.
			l.logger.Warn("following the cluster's tree", "err", err)
			lastWarn = time.Now()
		}
		l.releaseWaiters()
	}
}

// refresh loads the tree state and the latest checkpoint written by the
// integrating process, when they are newer than what this process has.
func (l *Log) refresh(ctx context.Context) error {
	st, err := l.shared.store.LoadState(ctx)
	if err != nil {
		return err
	}
	if err := l.adoptState(st); err != nil {
		return err
	}
	cp, err := l.shared.store.LatestCheckpoint(ctx)
	if err != nil {
		return err
	}
	l.adoptCheckpoint(cp)
	return nil
}

// adoptState moves the head to st if st is ahead of it.
func (l *Log) adoptState(st State) error {
	if st.Size <= l.head.Load().size {
		return nil
	}
	rng, err := l.factory().NewRange(0, st.Size, st.Hashes)
	if err != nil {
		return fmt.Errorf("ledger: compact range at %d: %w", st.Size, err)
	}
	root, err := l.rootOf(rng)
	if err != nil {
		return err
	}
	l.advanceHead(treeHead{size: st.Size, root: root})
	return nil
}

// advanceHead moves the head forward only: the follower and the integrator
// both write it.
func (l *Log) advanceHead(h treeHead) {
	for {
		cur := l.head.Load()
		if h.size <= cur.size {
			return
		}
		if l.head.CompareAndSwap(cur, &h) {
			l.metrics.treeSize.Set(float64(h.size))
			return
		}
	}
}

func (l *Log) adoptCheckpoint(cp StoredCheckpoint) {
	l.pubMu.Lock()
	defer l.pubMu.Unlock()
	if cp.Size <= l.published.Size && l.published.Note != nil {
		return
	}
	l.published = cp
	close(l.pubCh)
	l.pubCh = make(chan struct{})
	l.metrics.checkpointSize.Set(float64(cp.Size))
}

// integrate is the lease loop. While this process holds the lease it
// extends the tree over the sequenced leaves, batch by batch, and publishes
// checkpoints; otherwise it only tries to take the lease.
//
// Safety does not rest on this loop's view of time: every tree-state write
// and every checkpoint insert is checked against the fencing token inside
// the database transaction (SharedStore). The local deadline only saves
// doomed work.
func (l *Log) integrate() {
	defer l.wg.Done()
	defer close(l.shared.integrated)
	ctx := context.Background()
	cfg := l.shared.cfg
	var (
		rng       *compact.Range
		token     int64
		validTill time.Time
		lastPub   time.Time
	)
	t := time.NewTicker(cfg.PollInterval)
	defer t.Stop()
	var retryAt time.Time // after a failed lease call: don't hammer a dead database
	// A process that does not hold the lease tries for it at most every
	// LeaseTTL/20, not at every tick and every poke of its own appends: an
	// attempt is a round trip and an UPDATE, and with three processes the
	// followers' attempts were half of the cluster's statements. The lease
	// only changes hands when it lapses or is released, so this delays a
	// takeover by LeaseTTL/20 at most.
	var lastTry time.Time
	lose := func(why string, err error) {
		if l.shared.leader {
			l.logger.Warn("integration lease lost", "reason", why, "err", err, "holder", cfg.Holder)
			l.metrics.leaseLost.Inc()
		}
		l.shared.leader = false
		l.shared.setLeading(false)
		l.metrics.leaseHeld.Set(0)
		rng = nil
	}
	for {
		closing := false
		select {
		case <-l.closing:
			closing = true
			<-l.seqDone
		case <-t.C:
		case <-l.shared.poke:
		}
		tooSoon := !l.shared.leader && time.Since(lastTry) < cfg.LeaseTTL/20
		if (time.Until(validTill) < cfg.LeaseTTL*3/4 || !l.shared.leader || rng == nil) && time.Now().After(retryAt) && !tooSoon {
			start := time.Now()
			lastTry = start
			tok, held, err := l.shared.store.Lease(ctx, cfg.Holder, cfg.LeaseTTL)
			switch {
			case err != nil:
				retryAt = time.Now().Add(cfg.LeaseTTL / 10)
				lose("renewal failed", err)
			case !held:
				lose("held by another process", nil)
			default:
				if l.shared.leader && tok != token {
					// The lease lapsed and was taken again (maybe by another
					// process in between): the old tenure's writes are fenced.
					lose("lapsed; taken again under a new token", nil)
				}
				if !l.shared.leader || tok != token || rng == nil {
					// Taking over: whatever this process knew may be stale.
					st, err := l.shared.store.LoadState(ctx)
					if err == nil {
						rng, err = l.factory().NewRange(0, st.Size, st.Hashes)
					}
					if err != nil {
						lose("loading state", err)
						break
					}
					root, err := l.rootOf(rng)
					if err != nil {
						lose("root", err)
						break
					}
					l.advanceHead(treeHead{size: st.Size, root: root})
					if err := l.refresh(ctx); err != nil {
						lose("loading checkpoint", err)
						break
					}
					l.logger.Info("integration lease taken", "holder", cfg.Holder, "token", tok, "size", st.Size)
				}
				l.shared.leader, token = true, tok
				l.shared.setLeading(true)
				l.metrics.leaseHeld.Set(1)
				validTill = start.Add(cfg.LeaseTTL)
			}
		}
		if l.shared.leader && rng != nil && time.Now().Before(validTill) {
			if err := l.integrateBatches(ctx, &rng, validTill); err != nil {
				l.shared.lastErr.Store(&err)
				if errors.Is(err, ErrFenced) {
					lose("fenced", err)
				} else {
					l.logger.Warn("integration failed; will retry", "err", err)
					l.metrics.storageErrors.Inc()
					rng = nil // renew the lease and reload the state first
					// ... after a pause: the object store or database
					// may be down for a while.
					retryAt = time.Now().Add(cfg.LeaseTTL / 10)
				}
			} else {
				l.shared.lastErr.Store(nil)
			}
			if l.shared.leader && rng != nil && (closing || time.Since(lastPub) >= l.cfg.CheckpointInterval) {
				if err := l.publishIfGrown(ctx); err != nil {
					if errors.Is(err, ErrFenced) {
						lose("fenced at signing", err)
					} else {
						l.logger.Warn("publishing checkpoint", "err", err)
					}
				}
				lastPub = time.Now()
			}
		}
		l.releaseWaiters()
		if closing {
			if l.shared.leader {
				l.shared.store.Release(ctx)
			}
			l.shared.setLeading(false)
			return
		}
	}
}

// integrateBatches extends the tree over the sequenced leaves, in batches
// of up to MaxBatchLeaves (so bigger ones when it is behind), until none is
// left or until. It is a two-stage pipeline: batch k+1 is read, extended
// and prepared (Preparer: its tiles uploaded) while batch k's transaction
// commits. *rngp and the head only ever move to a committed batch's end.
func (l *Log) integrateBatches(ctx context.Context, rngp **compact.Range, until time.Time) error {
	prep, _ := l.store.(Preparer)
	type inflight struct {
		b    *Batch
		next *compact.Range
		t0   time.Time
		done chan error
	}
	var cur *inflight
	finish := func() error {
		c := cur
		cur = nil
		if err := <-c.done; err != nil {
			return err
		}
		l.metrics.batchLeaves.Observe(float64(len(c.b.Leaves)))
		l.metrics.commitSeconds.Observe(time.Since(c.t0).Seconds())
		root, err := l.rootOf(c.next)
		if err != nil {
			return err
		}
		*rngp = c.next
		l.advanceHead(treeHead{size: c.next.End(), root: root})
		l.releaseWaiters()
		return nil
	}
	for {
		from := *rngp
		if cur != nil {
			from = cur.next
		}
		var leaves [][]byte
		var hashes []tlog.Hash
		var err error
		if time.Now().Before(until) {
			// Read back, even the leaves this process sequenced: what
			// ReadSequenced returns is durable, which a leaf whose
			// sequencing committed lazily is not until then (a copy kept
			// in memory could name a leaf a database crash lost, whose
			// index then went to another).
			leaves, hashes, err = l.shared.store.ReadSequenced(ctx, from.End(), l.cfg.MaxBatchLeaves)
		}
		if err != nil || len(leaves) == 0 {
			if cur != nil {
				err = errors.Join(finish(), err)
			}
			return err
		}
		b, next := l.extend(from, leaves, hashes)
		b.Sequenced = true
		var perr error
		if prep != nil {
			perr = prep.Prepare(ctx, b)
			b.Prepared = perr == nil
		}
		if cur != nil {
			if err := finish(); err != nil {
				return err
			}
		}
		if perr != nil {
			return perr
		}
		cur = &inflight{b: b, next: next, t0: time.Now(), done: make(chan error, 1)}
		go func(c *inflight) { c.done <- l.store.Commit(ctx, c.b) }(cur)
	}
}

// extend appends hashes to a copy of rng and returns the Batch that makes
// it durable: the leaves, every complete node they create, the new state.
func (l *Log) extend(rng *compact.Range, leaves [][]byte, hashes []tlog.Hash) (*Batch, *compact.Range) {
	next, err := l.factory().NewRange(0, rng.End(), cloneHashes(rng.Hashes()))
	if err != nil {
		panic(fmt.Sprintf("ledger: cloning compact range: %v", err)) // broken invariant
	}
	b := &Batch{Start: rng.End(), Leaves: leaves, Hashes: hashes}
	visit := func(id compact.NodeID, h []byte) {
		var nh tlog.Hash
		copy(nh[:], h)
		b.Nodes = append(b.Nodes, Node{Level: uint8(id.Level), Index: id.Index, Hash: nh})
	}
	for _, h := range hashes {
		if err := next.Append(h[:], visit); err != nil {
			panic(fmt.Sprintf("ledger: appending to compact range: %v", err))
		}
	}
	b.State = State{Size: next.End(), Hashes: next.Hashes()}
	return b, next
}
