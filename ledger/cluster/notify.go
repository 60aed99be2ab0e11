package cluster

import (
	"context"
	"encoding/hex"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cunzheng/cunzheng/ledger"
)

// notifyChannel is the PostgreSQL notification channel on which a commit
// that moves the tree ("tree SIZE HASHES", HASHES the hex of the compact
// range's hashes, as in ledger_tree; older writers sent "tree SIZE") or
// stores a checkpoint ("checkpoint SIZE") tells the other processes, so that
// their waiting appends are answered at once instead of at their next poll,
// and without reading the tree state back.
const notifyChannel = "cunzheng_ledger"

// watcher is the LISTEN side: one connection of its own, outside the pool.
type watcher struct {
	ch       chan struct{}
	tree, cp atomic.Uint64
	state    atomic.Pointer[ledger.State] // of the largest tree notification that carried one
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

// NotifiedTree implements ledger.Watcher.
func (s *Store) NotifiedTree() (ledger.State, bool) {
	if s.watch == nil {
		return ledger.State{}, false
	}
	st := s.watch.state.Load()
	if st == nil {
		return ledger.State{}, false
	}
	return *st, true
}

// parseTree parses the payload of a tree notification after "tree ".
func parseTree(rest string) (size uint64, st *ledger.State) {
	sz, hx, withState := strings.Cut(rest, " ")
	size, err := strconv.ParseUint(sz, 10, 64)
	if err != nil || !withState {
		return size, nil
	}
	flat, err := hex.DecodeString(hx)
	if err != nil || len(flat)%32 != 0 {
		return size, nil
	}
	st = &ledger.State{Size: size}
	for i := 0; i < len(flat); i += 32 {
		st.Hashes = append(st.Hashes, flat[i:i+32:i+32])
	}
	return size, st
}

func (w *watcher) setState(st *ledger.State) {
	for {
		cur := w.state.Load()
		if cur != nil && cur.Size >= st.Size || w.state.CompareAndSwap(cur, st) {
			return
		}
	}
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
				kind, rest, _ := strings.Cut(n.Payload, " ")
				v, _ := strconv.ParseUint(rest, 10, 64)
				switch kind {
				case "tree":
					// The state first: a reader that sees the size finds
					// the state of that size (or a larger one).
					size, st := parseTree(rest)
					if st != nil {
						w.setState(st)
					}
					setMax(&w.tree, size)
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
