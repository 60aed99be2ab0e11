package notary

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"golang.org/x/mod/sumdb/tlog"
)

// TestAcknowledge forges a fork, acknowledges its alarm and checks that the
// alarm is kept, that the acknowledgement survives a reopen, and that bad
// acknowledgements change nothing.
func TestAcknowledge(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	lg := newTestLog(t, "cunzheng.example/log")
	o := newTestOffice(t, dir, lg.logKey())
	lg.Append(5)
	s5 := lg.Publish()
	if _, err := o.AddCheckpoint(ctx, req(0, nil, lg.Notes[s5])); err != nil {
		t.Fatal(err)
	}
	fork := lg.Sign(s5, tlog.RecordHash([]byte("forged")))
	if _, err := o.AddCheckpoint(ctx, req(s5, nil, fork)); !errors.Is(err, ErrConflict) {
		t.Fatalf("fork: %v", err)
	}
	ov, err := o.Overview(ctx)
	if err != nil || ov.Alarms != 1 || ov.Unacked != 1 || len(ov.Logs) != 1 || ov.Logs[0].Size != s5 || ov.Logs[0].Mode != "push" || !ov.Healthy {
		t.Fatalf("overview = %+v, %v", ov, err)
	}
	for _, bad := range []struct {
		seq uint64
		by  string
		err error
	}{
		{7, "", ErrNotFound},
		{0, "two\nlines", ErrMalformed},
	} {
		if _, _, err := o.Acknowledge(ctx, bad.seq, bad.by); !errors.Is(err, bad.err) {
			t.Errorf("Acknowledge(%d, %q) = %v, want %v", bad.seq, bad.by, err, bad.err)
		}
	}
	if e, _ := o.AlarmEntries(ctx); Unacknowledged(e) != 1 {
		t.Fatalf("a refused acknowledgement changed the alarms: %+v", e)
	}
	// The store is locked while the office runs.
	if _, _, err := AcknowledgeInStore(ctx, filepath.Join(dir, "db"), 0, "x", nil); err == nil {
		t.Fatal("AcknowledgeInStore succeeded on a store the office holds")
	}
	o.Close()
	if _, _, err := AcknowledgeInStore(ctx, filepath.Join(dir, "nodb"), 0, "x", nil); err == nil {
		t.Fatal("AcknowledgeInStore succeeded on a missing store")
	}
	ack, already, err := AcknowledgeInStore(ctx, filepath.Join(dir, "db"), 0, "王 operator", nil)
	if err != nil || already || ack.By != "王 operator" || ack.Time.IsZero() {
		t.Fatalf("ack = %+v %v %v", ack, already, err)
	}
	if again, already, err := AcknowledgeInStore(ctx, filepath.Join(dir, "db"), 0, "other", nil); err != nil || !already || again.By != ack.By {
		t.Fatalf("second ack = %+v %v %v, want the first kept", again, already, err)
	}
	o = newTestOffice(t, dir, lg.logKey())
	defer o.Close()
	e, err := o.AlarmEntries(ctx)
	if err != nil || len(e) != 1 || e[0].Acked == nil || e[0].Acked.By != ack.By || string(e[0].Got) != string(fork) || string(e[0].Held) != string(lg.Notes[s5]) {
		t.Fatalf("entries after ack = %+v, %v", e, err)
	}
	if cp, err := o.CosignedNote(ctx, lg.Origin, s5); err != nil || cp.Size != s5 {
		t.Errorf("CosignedNote = %+v, %v", cp, err)
	}
	if _, err := o.CosignedNote(ctx, lg.Origin, s5+1); !errors.Is(err, ErrNotFound) {
		t.Errorf("CosignedNote of a size never cosigned: %v", err)
	}
}
