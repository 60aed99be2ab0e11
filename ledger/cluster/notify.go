package cluster

import (
	"context"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
)

// notifyChannel is the PostgreSQL notification channel on which a commit
// that moves the tree ("tree SIZE") or stores a checkpoint ("checkpoint
// SIZE") tells the other processes, so that their waiting appends are
// answered at once instead of at their next poll.
const notifyChannel = "cunzheng_ledger"

// watcher is the LISTEN side: one connection of its own, outside the pool.
type watcher struct {
	ch       chan struct{}
	tree, cp atomic.Uint64
	cancel   context.CancelFunc
	done     chan struct{}
	listens  atomic.Int64 // LISTENs that succeeded
}

// Changes implements ledger.Watcher. The first call starts listening.
func (s *Store) Changes() <-chan struct{} {
	s.watchOnce.Do(func() {
		ctx, cancel := context.WithCancel(context.Background())
		s.watch = &watcher{ch: make(chan struct{}, 1), cancel: cancel, done: make(chan struct{})}
		go s.listen(ctx, s.watch)
	})
	if s.watch == nil {
		return nil // closed
	}
	return s.watch.ch
}

// Notified implements ledger.Watcher.
func (s *Store) Notified() (tree, checkpoint uint64, listens int64) {
	if s.watch == nil {
		return 0, 0, 0
	}
	return s.watch.tree.Load(), s.watch.cp.Load(), s.watch.listens.Load()
}

func (w *watcher) signal() {
	select {
	case w.ch <- struct{}{}:
	default:
	}
}

// listen keeps a LISTEN connection open until ctx ends. After every
// (re)connection it signals once: what was notified while it was away is
// lost, so the receiver must look.
func (s *Store) listen(ctx context.Context, w *watcher) {
	defer close(w.done)
	for ctx.Err() == nil {
		err := func() error {
			conn, err := pgx.ConnectConfig(ctx, s.pool.Config().ConnConfig.Copy())
			if err != nil {
				return err
			}
			defer conn.Close(context.Background())
			if _, err := conn.Exec(ctx, "LISTEN "+notifyChannel); err != nil {
				return err
			}
			w.listens.Add(1)
			w.signal()
			for {
				n, err := conn.WaitForNotification(ctx)
				if err != nil {
					return err
				}
				kind, size, _ := strings.Cut(n.Payload, " ")
				v, _ := strconv.ParseUint(size, 10, 64)
				switch kind {
				case "tree":
					setMax(&w.tree, v)
				case "checkpoint":
					setMax(&w.cp, v)
				}
				w.signal()
			}
		}()
		if ctx.Err() != nil {
			return
		}
		s.logger.Warn("listening for the cluster's tree changes; will reconnect", "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}

func setMax(a *atomic.Uint64, v uint64) {
	for {
		cur := a.Load()
		if v <= cur || a.CompareAndSwap(cur, v) {
			return
		}
	}
}
