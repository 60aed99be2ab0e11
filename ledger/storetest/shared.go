package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/cunzheng/cunzheng/ledger"
)

// SharedOpener returns a function that opens handles on one new, empty
// shared storage: each call is another process's view of the same log. The
// suite closes the handles.
type SharedOpener func(t *testing.T) func() ledger.SharedStore

// RunShared runs the conformance suite of cluster mode: every Store test
// (through a handle holding the lease), then what only shared stores do.
func RunShared(t *testing.T, open SharedOpener) {
	Run(t, func(t *testing.T) ledger.Store {
		s := open(t)()
		if _, held, err := s.Lease(context.Background(), "conformance", time.Minute); err != nil || !held {
			t.Fatalf("taking the lease of a new store: %v, %v", held, err)
		}
		return s
	})
	t.Run("SequenceDedup", func(t *testing.T) { testSequenceDedup(t, open(t)) })
	t.Run("SequenceRace", func(t *testing.T) { testSequenceRace(t, open(t)) })
	t.Run("Fencing", func(t *testing.T) { testFencing(t, open(t)) })
}

func leafSet(prefix string, n int) ([][]byte, []tlog.Hash) {
	leaves := make([][]byte, n)
	hs := make([]tlog.Hash, n)
	for i := range leaves {
		leaves[i] = fmt.Appendf(nil, "%s-%d", prefix, i)
		hs[i] = tlog.RecordHash(leaves[i])
	}
	return leaves, hs
}

func testSequenceDedup(t *testing.T, open func() ledger.SharedStore) {
	s := open()
	defer s.Close()
	ctx := context.Background()
	leaves, hs := leafSet("a", 3)
	// The third leaf repeats the first within one call.
	leaves[2], hs[2] = leaves[0], hs[0]
	idx, dup, err := s.Sequence(ctx, leaves, hs)
	if err != nil {
		t.Fatal(err)
	}
	if idx[0] != 0 || idx[1] != 1 || idx[2] != 0 || dup[0] || dup[1] || !dup[2] {
		t.Fatalf("Sequence = %v %v, want [0 1 0] [false false true]", idx, dup)
	}
	more, mh := leafSet("b", 2)
	idx, dup, err = s.Sequence(ctx, append(more, leaves[1]), append(mh, hs[1]))
	if err != nil {
		t.Fatal(err)
	}
	if idx[0] != 2 || idx[1] != 3 || idx[2] != 1 || !dup[2] {
		t.Fatalf("second Sequence = %v %v, want [2 3 1], last a duplicate", idx, dup)
	}
	got, gh, err := s.ReadSequenced(ctx, 1, 10)
	if err != nil || len(got) != 3 || string(got[0]) != "a-1" || gh[2] != mh[1] {
		t.Fatalf("ReadSequenced(1) = %q, %v", got, err)
	}
}

// testSequenceRace sequences overlapping leaf sets from several handles at
// once: every leaf gets exactly one index, and the indexes are 0..n-1.
func testSequenceRace(t *testing.T, open func() ledger.SharedStore) {
	const handles, rounds, per = 3, 10, 20
	ctx := context.Background()
	var mu sync.Mutex
	seen := make(map[tlog.Hash]uint64)
	var wg sync.WaitGroup
	errs := make(chan error, handles)
	for h := 0; h < handles; h++ {
		s := open()
		defer s.Close()
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := 0; r < rounds; r++ {
				// Handles share the leaves of a round; each also has its own.
				shared, sh := leafSet(fmt.Sprintf("round%d", r), per)
				own, oh := leafSet(fmt.Sprintf("h%d-r%d", h, r), per/2)
				idx, _, err := s.Sequence(ctx, append(shared, own...), append(sh, oh...))
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				for i, hh := range append(sh, oh...) {
					if prev, ok := seen[hh]; ok && prev != idx[i] {
						mu.Unlock()
						errs <- fmt.Errorf("leaf got indexes %d and %d", prev, idx[i])
						return
					}
					seen[hh] = idx[i]
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	want := rounds*per + handles*rounds*per/2
	if len(seen) != want {
		t.Fatalf("%d distinct leaves sequenced, want %d", len(seen), want)
	}
	used := make(map[uint64]bool)
	for _, i := range seen {
		if i >= uint64(want) || used[i] {
			t.Fatalf("index %d out of range or used twice", i)
		}
		used[i] = true
	}
}

// testFencing: a handle whose lease lapsed and was taken over cannot write
// tree state or checkpoints, and cannot take the lease back while the new
// holder keeps it.
func testFencing(t *testing.T, open func() ledger.SharedStore) {
	ctx := context.Background()
	a, b := open(), open()
	defer a.Close()
	defer b.Close()
	tokA, held, err := a.Lease(ctx, "a", 300*time.Millisecond)
	if err != nil || !held {
		t.Fatalf("a takes the lease: %v %v", held, err)
	}
	if _, held, err := b.Lease(ctx, "b", time.Minute); err != nil || held {
		t.Fatalf("b took a held lease: %v %v", held, err)
	}
	bs := batches(t, 2, 2)
	for _, b := range bs {
		if _, _, err := a.Sequence(ctx, b.Leaves, b.Hashes); err != nil {
			t.Fatal(err)
		}
		b.Sequenced = true
	}
	if err := a.Commit(ctx, bs[0]); err != nil {
		t.Fatalf("holder's commit: %v", err)
	}
	time.Sleep(400 * time.Millisecond) // a is "paused" past its lease
	tokB, held, err := b.Lease(ctx, "b", time.Minute)
	if err != nil || !held || tokB == tokA {
		t.Fatalf("b takes the lapsed lease: %v %v (tokens %d, %d)", held, err, tokA, tokB)
	}
	if err := a.CheckLease(ctx); !errors.Is(err, ledger.ErrFenced) {
		t.Fatalf("CheckLease of the stale holder: %v, want ErrFenced", err)
	}
	if err := a.Commit(ctx, bs[1]); !errors.Is(err, ledger.ErrFenced) {
		t.Fatalf("stale holder's commit: %v, want ErrFenced", err)
	}
	if err := a.PutCheckpoint(ctx, ledger.StoredCheckpoint{Size: 2, Time: time.Now(), Note: []byte("stale\n")}); !errors.Is(err, ledger.ErrFenced) {
		t.Fatalf("stale holder's checkpoint: %v, want ErrFenced", err)
	}
	if _, held, err := a.Lease(ctx, "a", time.Minute); err != nil || held {
		t.Fatalf("stale holder took the lease back: %v %v", held, err)
	}
	if st, err := b.LoadState(ctx); err != nil || st.Size != 2 {
		t.Fatalf("state after the stale writes: %+v %v, want size 2", st, err)
	}
	if _, err := b.LatestCheckpoint(ctx); !errors.Is(err, ledger.ErrNotFound) {
		t.Fatalf("a checkpoint was stored by the stale holder: %v", err)
	}
	if err := b.Commit(ctx, bs[1]); err != nil {
		t.Fatalf("new holder's commit: %v", err)
	}
	if err := b.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if _, held, err := a.Lease(ctx, "a", time.Minute); err != nil || !held {
		t.Fatalf("lease after release: %v %v", held, err)
	}
}
