package notary

import (
	"github.com/cunzheng/cunzheng/notary/notarytest"

	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	fnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/cunzheng/cunzheng/ledger/tlogfmt"
)

func newTestOffice(t testing.TB, dir string, logs ...LogKey) *Office {
	t.Helper()
	skey, err := LoadOrCreateKey(filepath.Join(dir, "keys", "notary.key"), "notary.test")
	if err != nil {
		t.Fatal(err)
	}
	o, err := Open(context.Background(), Config{Dir: filepath.Join(dir, "db"), Key: skey, Logs: logs})
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// verifyCosig checks that line is a cosignature/v1 by o over msg's body.
func verifyCosig(t *testing.T, o *Office, msg, line []byte) {
	t.Helper()
	if err := checkCosig(o, msg, line); err != nil {
		t.Fatal(err)
	}
}

func checkCosig(o *Office, msg, line []byte) error {
	return notarytest.CheckCosignature(o.VerifierKey(), o.Name(), msg, line)
}

func req(old uint64, proof [][]byte, msg []byte) []byte {
	return (&tlogfmt.AddCheckpoint{Old: old, Proof: proof, Checkpoint: msg}).Marshal()
}

func TestAddCheckpoint(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	lg := newTestLog(t, "cunzheng.example/log")
	other := newTestLog(t, "other.example/log")
	impostor := newTestLog(t, "cunzheng.example/log") // same name, other key
	o := newTestOffice(t, dir, lg.logKey())
	defer func() { o.Close() }()

	lg.Append(10)
	s10 := lg.Publish()
	lg.Append(7)
	s17 := lg.Publish()
	lg.Append(30)
	s47 := lg.Publish()
	fork17 := lg.Sign(s17, tlog.RecordHash([]byte("not the root")))
	fork10 := lg.Sign(s10, tlog.RecordHash([]byte("not the root either")))

	type step struct {
		name       string
		body       []byte
		wantErr    error
		wantSize   uint64 // 409 body
		wantAlarms int
	}
	steps := []step{
		{"malformed", []byte("old x\n\n" + string(lg.Notes[s10])), ErrMalformed, 0, 0},
		{"unknown origin", req(0, nil, other.Sign(1, other.Root(0))), ErrUnknownLog, 0, 0},
		{"bad signature", req(0, nil, impostor.Sign(s10, lg.Root(s10))), ErrBadSignature, 0, 0},
		{"tampered body", req(0, nil, bytes.Replace(lg.Notes[s10], []byte("\n10\n"), []byte("\n11\n"), 1)), ErrBadSignature, 0, 0},
		{"old larger than size", req(20, nil, lg.Notes[s10]), ErrMalformed, 0, 0},
		{"first", req(0, nil, lg.Notes[s10]), nil, 0, 0},
		{"same again", req(s10, nil, lg.Notes[s10]), nil, 0, 0},
		{"stale old", req(0, nil, lg.Notes[s17]), ErrConflict, s10, 0},
		{"bad proof", req(s10, lg.Proof(s10, s47)[1:], lg.Notes[s47]), ErrBadProof, 0, 1},
		{"bad proof again is one alarm", req(s10, lg.Proof(s10, s47)[1:], lg.Notes[s47]), ErrBadProof, 0, 1},
		{"extend", req(s10, lg.Proof(s10, s17), lg.Notes[s17]), nil, 0, 1},
		{"fork same size", req(s17, nil, fork17), ErrConflict, s17, 2},
		{"rollback", req(s10, lg.Proof(s10, s17-2), lg.Sign(s17-2, lg.Root(s17-2))), ErrConflict, s17, 2},
		{"extend again", req(s17, lg.Proof(s17, s47), lg.Notes[s47]), nil, 0, 2},
		{"fork of older size, old too large", req(s47, nil, fork10), ErrMalformed, 0, 3},
		{"fork of older size", req(0, nil, fork10), ErrConflict, s47, 3},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			cosig, err := o.AddCheckpoint(ctx, st.body)
			if !errors.Is(err, st.wantErr) {
				t.Fatalf("err = %v, want %v", err, st.wantErr)
			}
			if err == nil {
				r, _ := tlogfmt.ParseAddCheckpoint(st.body)
				verifyCosig(t, o, r.Checkpoint, cosig)
			}
			var ce *ConflictError
			if errors.As(err, &ce) && ce.Size != st.wantSize {
				t.Errorf("conflict size = %d, want %d", ce.Size, st.wantSize)
			}
			alarms, aerr := o.Alarms(ctx)
			if aerr != nil {
				t.Fatal(aerr)
			}
			if len(alarms) != st.wantAlarms {
				t.Errorf("%d alarms, want %d", len(alarms), st.wantAlarms)
			}
		})
	}

	alarms, _ := o.Alarms(ctx)
	if a := alarms[1]; a.Kind != AlarmFork || !bytes.Equal(a.Held, lg.Notes[s17]) || !bytes.Equal(a.Got, fork17) {
		t.Errorf("fork alarm = %+v, want both signed notes", a)
	}
	if a := alarms[0]; a.Kind != AlarmInconsistent || !bytes.Equal(a.Held, lg.Notes[s10]) || !bytes.Equal(a.Got, lg.Notes[s47]) {
		t.Errorf("inconsistent alarm = %+v", a)
	}

	// Restart: the state and the alarms survive.
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
	o = newTestOffice(t, dir, lg.logKey())
	_, err := o.AddCheckpoint(ctx, req(0, nil, lg.Notes[s47]))
	var ce *ConflictError
	if !errors.As(err, &ce) || ce.Size != s47 {
		t.Fatalf("after restart: err = %v, want conflict at %d", err, s47)
	}
	if alarms, _ := o.Alarms(ctx); len(alarms) != 3 {
		t.Errorf("after restart: %d alarms, want 3", len(alarms))
	}
	logs, err := o.Logs(ctx)
	if err != nil || len(logs) != 1 || logs[0].Size != s47 {
		t.Fatalf("Logs = %+v, %v", logs, err)
	}
	// The served checkpoint carries the log's lines and the cosignature.
	cv, _ := fnote.NewVerifierForCosignatureV1(o.VerifierKey())
	if _, err := note.Open([]byte(logs[0].Checkpoint), note.VerifierList(lg.logKey().Verifier, cv)); err != nil {
		t.Errorf("state checkpoint does not verify: %v", err)
	}
}

func TestKeysReused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "k", "notary.key")
	a, err := LoadOrCreateKey(path, "n1")
	if err != nil {
		t.Fatal(err)
	}
	b, err := LoadOrCreateKey(path, "n2")
	if err != nil {
		t.Fatal(err)
	}
	if a != b {
		t.Fatal("key not reused")
	}
	vk, err := VerifierKey(a)
	if err != nil || !strings.HasPrefix(vk, "n1+") {
		t.Fatalf("VerifierKey = %q, %v", vk, err)
	}
	if _, err := fnote.NewVerifierForCosignatureV1(vk); err != nil {
		t.Fatal(err)
	}
	_ = rand.Reader
}

func TestClosedOffice(t *testing.T) {
	lg := newTestLog(t, "cunzheng.example/log")
	o := newTestOffice(t, t.TempDir(), lg.logKey())
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
	if err := o.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	lg.Append(1)
	s := lg.Publish()
	ctx := context.Background()
	if _, err := o.AddCheckpoint(ctx, req(0, nil, lg.Notes[s])); !errors.Is(err, ErrClosed) {
		t.Errorf("AddCheckpoint: %v", err)
	}
	if _, err := o.Logs(ctx); !errors.Is(err, ErrClosed) {
		t.Errorf("Logs: %v", err)
	}
	if _, err := o.Alarms(ctx); !errors.Is(err, ErrClosed) {
		t.Errorf("Alarms: %v", err)
	}
	if _, err := o.Fingerprints(ctx, make([]byte, 32)); !errors.Is(err, ErrClosed) {
		t.Errorf("Fingerprints: %v", err)
	}
	if err := o.Pull(ctx, PullConfig{URL: lg.Server().URL}); !errors.Is(err, ErrClosed) {
		t.Errorf("Pull: %v", err)
	}
}

// TestBogusOwnLine: a pushed note carrying a fake line in the office's own
// name is cosigned, and the served checkpoint still verifies.
func TestBogusOwnLine(t *testing.T) {
	ctx := context.Background()
	lg := newTestLog(t, "cunzheng.example/log")
	o := newTestOffice(t, t.TempDir(), lg.logKey())
	defer o.Close()
	lg.Append(3)
	s := lg.Publish()
	v, _ := fnote.NewVerifierForCosignatureV1(o.VerifierKey())
	bogus := fmt.Sprintf("\u2014 %s %s\n", o.Name(), base64.StdEncoding.EncodeToString(append(binary.BigEndian.AppendUint32(nil, v.KeyHash()), make([]byte, 72)...)))
	if _, err := o.AddCheckpoint(ctx, req(0, nil, append(bytes.Clone(lg.Notes[s]), bogus...))); err != nil {
		t.Fatal(err)
	}
	logs, err := o.Logs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := note.Open([]byte(logs[0].Checkpoint), note.VerifierList(v)); err != nil {
		t.Fatalf("served checkpoint: %v\n%s", err, logs[0].Checkpoint)
	}
}
