package notary

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"testing"

	fnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

func TestPull(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	lg := newTestLog(t, "cunzheng.example/log")
	srv := lg.Server()
	cfg := PullConfig{URL: srv.URL + "/", Concurrency: 3}
	o := newTestOffice(t, dir, lg.logKey())
	defer func() { o.Close() }()

	wantSizes := func(t *testing.T, cosigned, pulled uint64) {
		t.Helper()
		logs, err := o.Logs(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if logs[0].Size != cosigned || logs[0].PulledSize != pulled {
			t.Fatalf("cosigned %d pulled %d, want %d and %d", logs[0].Size, logs[0].PulledSize, cosigned, pulled)
		}
		if cosigned > 0 {
			cv, _ := fnote.NewVerifierForCosignatureV1(o.VerifierKey())
			n, err := note.Open([]byte(logs[0].Checkpoint), note.VerifierList(cv))
			if err != nil || len(n.Sigs) != 1 {
				t.Fatalf("served checkpoint cosignature: %v", err)
			}
		}
	}
	sync := func(t *testing.T, want uint64) {
		t.Helper()
		n, err := o.SyncOnce(ctx, cfg)
		if err != nil {
			t.Fatalf("SyncOnce: %v", err)
		}
		if n != want {
			t.Fatalf("copied %d leaf hashes, want %d", n, want)
		}
	}

	t.Run("first sync", func(t *testing.T) {
		lg.Append(1000)
		lg.Publish()
		sync(t, 1000)
		wantSizes(t, 1000, 1000)
		sync(t, 0)
	})
	t.Run("fingerprints", func(t *testing.T) {
		for _, i := range []uint64{0, 255, 256, 999} {
			fp, err := o.Fingerprints(ctx, lg.Leaves[i][:])
			if err != nil || len(fp) != 1 || fp[0].Index != i || fp[0].Size != 1000 {
				t.Errorf("Fingerprints(leaf %d) = %+v, %v", i, fp, err)
			}
		}
		h := tlog.RecordHash([]byte("never appended"))
		if _, err := o.Fingerprints(ctx, h[:]); !errors.Is(err, ErrNotFound) {
			t.Errorf("unknown hash: err = %v, want ErrNotFound", err)
		}
		if _, err := o.Fingerprints(ctx, []byte{1, 2}); !errors.Is(err, ErrMalformed) {
			t.Errorf("short hash: err = %v, want ErrMalformed", err)
		}
	})
	t.Run("push then pull", func(t *testing.T) {
		lg.Append(300)
		s1300 := lg.Publish()
		if _, err := o.AddCheckpoint(ctx, req(1000, lg.Proof(1000, s1300), lg.Notes[s1300])); err != nil {
			t.Fatal(err)
		}
		lg.Append(77)
		lg.Publish()
		sync(t, 377)
		wantSizes(t, 1377, 1377)
	})
	t.Run("restart resumes", func(t *testing.T) {
		if err := o.Close(); err != nil {
			t.Fatal(err)
		}
		o = newTestOffice(t, dir, lg.logKey())
		lg.Append(600)
		lg.Publish()
		sync(t, 600)
		wantSizes(t, 1977, 1977)
	})
	t.Run("fork is refused and kept", func(t *testing.T) {
		// The log serves leaves that do not hash to the root it signs.
		lg.Append(23)
		lg.Mu.Lock()
		lg.Leaves[1990] = tlog.RecordHash([]byte("rewritten history"))
		lg.Mu.Unlock()
		lg.Publish()
		if _, err := o.SyncOnce(ctx, cfg); !errors.Is(err, ErrBadProof) {
			t.Fatalf("err = %v, want ErrBadProof", err)
		}
		wantSizes(t, 1977, 1977)
		alarms, _ := o.Alarms(ctx)
		if len(alarms) != 1 || alarms[0].Kind != AlarmInconsistent || !bytes.Equal(alarms[0].Got, lg.Notes[2000]) {
			t.Fatalf("alarms = %d", len(alarms))
		}
		// The hash at 1977.. copied but unverified is not claimed.
		fp, err := o.Fingerprints(ctx, lg.Leaves[1990][:])
		if !errors.Is(err, ErrNotFound) {
			t.Errorf("unverified leaf claimed: %+v", fp)
		}
	})
	t.Run("same size other root", func(t *testing.T) {
		lg.Mu.Lock()
		lg.Notes[2000] = lg.Sign(1977, tlog.RecordHash([]byte("x")))
		lg.Mu.Unlock()
		if _, err := o.SyncOnce(ctx, cfg); !errors.Is(err, ErrConflict) {
			t.Fatalf("err = %v, want ErrConflict", err)
		}
		if alarms, _ := o.Alarms(ctx); len(alarms) != 2 || alarms[1].Kind != AlarmFork {
			t.Fatalf("alarms = %d", len(alarms))
		}
	})
}

// TestPullEveryCheckpoint: a log that lists its checkpoints gets the
// pulling office's cosignature on every one, not only on the newest the
// office happened to see when it polled, and Cosigned serves them all.
func TestPullEveryCheckpoint(t *testing.T) {
	ctx := context.Background()
	lg := newTestLog(t, "cunzheng.example/log")
	lg.Listed = true
	cfg := PullConfig{URL: lg.Server().URL}
	o := newTestOffice(t, t.TempDir(), lg.logKey())
	defer o.Close()

	var published []uint64
	for _, n := range []int{300, 1, 255, 700, 2} {
		lg.Append(n)
		published = append(published, lg.Publish())
	}
	if n, err := o.SyncOnce(ctx, cfg); err != nil || n != 1258 {
		t.Fatalf("SyncOnce = %d, %v; want 1258 leaf hashes", n, err)
	}
	lg.Append(40)
	published = append(published, lg.Publish())
	if _, err := o.SyncOnce(ctx, cfg); err != nil {
		t.Fatal(err)
	}

	lv, err := note.NewVerifier(lg.VKey)
	if err != nil {
		t.Fatal(err)
	}
	cv, _ := fnote.NewVerifierForCosignatureV1(o.VerifierKey())
	check := func(t *testing.T, after uint64, limit int, want []uint64) {
		t.Helper()
		got, err := o.Cosigned(ctx, lg.Origin, after, limit)
		if err != nil {
			t.Fatal(err)
		}
		var sizes []uint64
		for _, c := range got {
			sizes = append(sizes, c.Size)
			n, err := note.Open([]byte(c.Checkpoint), note.VerifierList(lv, cv))
			if err != nil || len(n.Sigs) != 2 {
				t.Errorf("checkpoint %d: %v (%d signatures verified)", c.Size, err, len(n.Sigs))
			}
		}
		if !slices.Equal(sizes, want) {
			t.Fatalf("Cosigned(after %d, limit %d) sizes = %v, want %v", after, limit, sizes, want)
		}
	}
	check(t, 0, 0, published)
	check(t, published[1], 2, published[2:4])
	check(t, published[len(published)-1], 0, nil)
	if _, err := o.Cosigned(ctx, "other.example/log", 0, 0); !errors.Is(err, ErrUnknownLog) {
		t.Errorf("unknown origin: err = %v, want ErrUnknownLog", err)
	}
}

// TestPullEmptyLog: an office that starts pulling a log before its first
// entry sees the signed checkpoint of size 0; that is no fork (it once
// raised a false alarm, its empty pull state having no root to compare).
func TestPullEmptyLog(t *testing.T) {
	ctx := context.Background()
	lg := newTestLog(t, "cunzheng.example/log")
	srv := lg.Server()
	o := newTestOffice(t, t.TempDir(), lg.logKey())
	defer o.Close()
	lg.Publish()
	for range 2 {
		if _, err := o.SyncOnce(ctx, PullConfig{URL: srv.URL}); err != nil {
			t.Fatalf("SyncOnce on an empty log: %v", err)
		}
	}
	if a, _ := o.Alarms(ctx); len(a) != 0 {
		t.Fatalf("alarms after pulling an empty log: %+v", a)
	}
	lg.Append(10)
	lg.Publish()
	if n, err := o.SyncOnce(ctx, PullConfig{URL: srv.URL}); err != nil || n != 10 {
		t.Fatalf("SyncOnce after the first entries: %d %v", n, err)
	}
	// A size-0 checkpoint whose root is not the empty tree's is refused.
	lg.Mu.Lock()
	lg.Notes[lg.Sizes[len(lg.Sizes)-1]] = lg.Sign(0, tlog.RecordHash([]byte("x")))
	lg.Mu.Unlock()
	o2 := newTestOffice(t, t.TempDir(), lg.logKey())
	defer o2.Close()
	if _, err := o2.SyncOnce(ctx, PullConfig{URL: srv.URL}); err == nil {
		t.Fatal("a size-0 checkpoint with a non-empty root was accepted")
	}
}
