package evidence

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// shredStore is a store whose deletions can linger in its files (Pebble's
// WALs and SSTables) until pushed through: shred does that for keys.
type shredStore interface {
	shred(ctx context.Context, keys [][]byte) error
}

// shredder pushes erased subject keys out of the store's files in the
// background, many erasures at a time.
//
// Design: an erasure is complete for every reader once its batch deleting
// the wrapped key commits; what remains is physical: the deleted bytes sit
// in a WAL and maybe SSTables until flushes retire the WAL and a compaction
// rewrites the key's files. That took 0.55 s idle and 3.2 s (p50) under
// ingest per erasure when Erase did it inline, most of it forced flushes of
// memtables full of other tenants' events and a compaction of every L0
// file, each erasure repeating it. Here one cycle (flushes once, then one
// narrow compaction per key) serves every erasure queued when it starts,
// and Erase returns when the logical erasure and its data.erased leaf are
// durable. A cycle starts Config.ShredDelay after the first erasure it
// serves, so that a burst of erasures shares it. Each erasure also stores a marker (shredKey) in its own batch,
// deleted only after its cycle: a crash before then leaves the marker, and
// Open queues it again, so no erasure is left unshredded on disk.
// Rejected: shredding inline but coalesced (Erase waits for the next
// cycle): erasure latency stays that of a cycle under load, seconds.
type shredder struct {
	st     shredStore
	store  Store
	logger *slog.Logger

	mu      sync.Mutex
	cond    *sync.Cond // signalled when a cycle ends; guards with mu
	pending map[string]bool
	queued  uint64 // requests so far; guarded by mu
	shredOK uint64 // requests queued before the last successful cycle began
	running bool   // a cycle is in progress
	off     bool   // test hook: cycles do nothing (a crash before shredding)

	delay time.Duration // gathering time before a cycle (Config.ShredDelay)

	wake chan struct{} // capacity 1
	done chan struct{} // closed when run returns
}

// shredRetry is how long the shredder waits after a failed cycle.
const shredRetry = 10 * time.Second

// DefaultShredDelay is the default Config.ShredDelay.
const DefaultShredDelay = 2 * time.Second

func newShredder(st shredStore, store Store, logger *slog.Logger, delay time.Duration) *shredder {
	sh := &shredder{st: st, store: store, logger: logger, delay: delay, pending: map[string]bool{},
		wake: make(chan struct{}, 1), done: make(chan struct{})}
	sh.cond = sync.NewCond(&sh.mu)
	return sh
}

// request queues the subject key stored at k (a k/ key) for shredding.
func (sh *shredder) request(k []byte) {
	sh.mu.Lock()
	sh.pending[string(k)] = true
	sh.queued++
	sh.mu.Unlock()
	select {
	case sh.wake <- struct{}{}:
	default:
	}
}

// wait returns once every key requested so far is shredded, or ctx ends.
func (sh *shredder) wait(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() {
		sh.mu.Lock()
		sh.cond.Broadcast()
		sh.mu.Unlock()
	})
	defer stop()
	sh.mu.Lock()
	defer sh.mu.Unlock()
	target := sh.queued
	for sh.shredOK < target && ctx.Err() == nil {
		sh.cond.Wait()
	}
	return ctx.Err()
}

// run shreds until stop is closed, then runs one last cycle for what is
// still queued, so that a clean shutdown leaves nothing behind.
func (sh *shredder) run(stop <-chan struct{}) {
	defer close(sh.done)
	for {
		select {
		case <-sh.wake:
			// Let a burst of erasures gather: one cycle costs about the
			// same for one key as for a hundred.
			select {
			case <-time.After(sh.delay):
			case <-stop:
			}
			if !sh.cycle() {
				select {
				case <-time.After(shredRetry):
					sh.poke()
				case <-stop:
					sh.cycle()
					return
				}
			}
		case <-stop:
			sh.cycle()
			return
		}
	}
}

func (sh *shredder) poke() {
	select {
	case sh.wake <- struct{}{}:
	default:
	}
}

// cycle shreds every queued key and reports whether it succeeded.
func (sh *shredder) cycle() bool {
	sh.mu.Lock()
	if sh.off {
		sh.mu.Unlock()
		return true
	}
	target := sh.queued
	keys := make([][]byte, 0, len(sh.pending))
	for k := range sh.pending {
		keys = append(keys, []byte(k))
	}
	clear(sh.pending)
	sh.running = true
	sh.mu.Unlock()
	ok := true
	if len(keys) > 0 {
		ctx := context.Background()
		err := sh.st.shred(ctx, keys)
		if err == nil {
			// The markers only say "not yet shredded": losing their
			// deletion in a crash costs one more cycle at the next Open.
			b := &batch{}
			for _, k := range keys {
				b.delete(shredMarkerOf(k))
			}
			err = sh.store.commit(ctx, b)
		}
		if err != nil {
			sh.logger.Error("evidence: pushing erasures to disk; retrying", "keys", len(keys), "err", err)
			ok = false
		}
	}
	sh.mu.Lock()
	sh.running = false
	if ok {
		sh.shredOK = max(sh.shredOK, target)
	} else {
		for _, k := range keys {
			sh.pending[string(k)] = true
		}
	}
	sh.cond.Broadcast()
	sh.mu.Unlock()
	return ok
}
