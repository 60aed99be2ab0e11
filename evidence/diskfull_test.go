package evidence_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"

	"github.com/cunzheng/cunzheng/evidence"
	"github.com/cunzheng/cunzheng/evidence/evidencetest"
)

func batchOf(t *testing.T, from, n int) []byte {
	t.Helper()
	var evs []any
	for i := from; i < from+n; i++ {
		evs = append(evs, event(i))
	}
	b, err := json.Marshal(map[string]any{"events": evs})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A full disk under the evidence store pauses its writes (ErrUnavailable,
// ErrNoSpace) instead of ending the process, as Pebble's fatal commit
// error did; reads go on, and writes resume by themselves once the disk
// takes them, with every acknowledged receipt kept.
func TestFullDiskPausesWritesAndRecovers(t *testing.T) {
	ctx := context.Background()
	var full atomic.Bool
	fs := errorfs.Wrap(vfs.Default, errorfs.InjectorFunc(func(op errorfs.Op) error {
		if full.Load() && op.Kind.ReadOrWrite() == errorfs.OpIsWrite && op.Kind != errorfs.OpLock {
			return fmt.Errorf("%s: %w", op.Path, syscall.ENOSPC)
		}
		return nil
	}))
	dir := t.TempDir()
	master, err := evidence.GenerateMasterKey()
	if err != nil {
		t.Fatal(err)
	}
	_, key, err := evidence.TenantFiles(dir).Create(ctx, master, "伟伟集团", nil, t0)
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	svc, err := evidence.Open(ctx, evidence.Config{
		Dir: dir, Master: master, Log: evidencetest.NewLog(), FS: fs,
		Logger: slog.New(slog.NewTextHandler(&logs, nil)), Now: func() time.Time { return t0 },
		RecoverInterval: 10 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	p, err := svc.Authenticate(key)
	if err != nil {
		t.Fatal(err)
	}
	acked, err := svc.Ingest(ctx, p, batchOf(t, 0, 30))
	if err != nil {
		t.Fatal(err)
	}

	full.Store(true)
	_, err = svc.Ingest(ctx, p, batchOf(t, 30, 30))
	if !errors.Is(err, evidence.ErrUnavailable) || !errors.Is(err, evidence.ErrNoSpace) {
		t.Fatalf("ingest on a full disk: %v, want ErrUnavailable and ErrNoSpace", err)
	}
	if h := svc.Healthy(); !errors.Is(h, evidence.ErrNoSpace) {
		t.Fatalf("Healthy on a full disk: %v", h)
	}
	if _, err := svc.Contract(p, "C000001"); err != nil {
		t.Fatalf("reading a contract while writes are paused: %v", err)
	}
	if !bytes.Contains(logs.Bytes(), []byte("writes paused")) {
		t.Errorf("the failure was not logged:\n%s", logs.String())
	}

	full.Store(false)
	var again []evidence.Receipt
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		again, err = svc.Ingest(ctx, p, batchOf(t, 30, 30))
		if err == nil {
			break
		}
		if !errors.Is(err, evidence.ErrUnavailable) || time.Now().After(deadline) {
			t.Fatalf("writes did not resume once the disk took them: %v", err)
		}
	}
	if svc.Healthy() != nil {
		t.Fatalf("Healthy after recovery: %v", svc.Healthy())
	}
	if len(again) != 30 {
		t.Fatalf("%d receipts", len(again))
	}
	rs, err := svc.Ingest(ctx, p, batchOf(t, 0, 30))
	if err != nil {
		t.Fatal(err)
	}
	for i := range rs {
		// Checkpoint names a tree size that includes the leaf (Receipt's
		// contract), not one fixed size: a claim whose bookkeeping the
		// full disk interrupted is completed by recovery against the tree
		// of that moment. The leaf itself must not change.
		got, was := rs[i], acked[i]
		if got.ID != was.ID || got.Index != was.Index || got.LeafHash != was.LeafHash || got.Checkpoint <= got.Index {
			t.Fatalf("receipt %d changed across the incident: %+v, was %+v", i, got, was)
		}
	}
}
