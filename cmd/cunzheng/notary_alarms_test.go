package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/cunzheng/cunzheng/ledger/tlogfmt"
	"github.com/cunzheng/cunzheng/notary"
)

// TestNotaryAlarmsAck forges a fork in an office's data dir (a second
// checkpoint of a cosigned size, signed with the log's key) and runs
// `cunzheng notary alarms ack` against it: bad input is refused and
// changes nothing, a good ack is recorded and the alarm kept.
func TestNotaryAlarmsAck(t *testing.T) {
	ctx := context.Background()
	data := t.TempDir()
	skey, vkey, err := note.GenerateKey(rand.Reader, "cunzheng.example/log")
	if err != nil {
		t.Fatal(err)
	}
	signer, _ := note.NewSigner(skey)
	lk, err := notary.ParseLogKey(vkey)
	if err != nil {
		t.Fatal(err)
	}
	sign := func(size int, root tlog.Hash) []byte {
		msg, err := note.Sign(&note.Note{Text: fmt.Sprintf("cunzheng.example/log\n%d\n%s\n", size, base64.StdEncoding.EncodeToString(root[:]))}, signer)
		if err != nil {
			t.Fatal(err)
		}
		return msg
	}
	open := func() *notary.Office {
		o, _, err := openOffice(ctx, data, notary.DefaultName, []notary.LogKey{lk}, slog.New(slog.DiscardHandler), nil)
		if err != nil {
			t.Fatal(err)
		}
		return o
	}
	o := open()
	add := func(old uint64, msg []byte) error {
		_, err := o.AddCheckpoint(ctx, (&tlogfmt.AddCheckpoint{Old: old, Checkpoint: msg}).Marshal())
		return err
	}
	if err := add(0, sign(3, tlog.Hash{1})); err != nil {
		t.Fatal(err)
	}
	if err := add(0, sign(3, tlog.Hash{2})); !errors.Is(err, notary.ErrConflict) {
		t.Fatalf("fork: %v", err)
	}
	// While the office runs, its store is locked: refused, nothing changed.
	if err := runNotary(ctx, []string{"alarms", "ack", "0", "--data", data}); err == nil || !strings.Contains(err.Error(), "stop the office") {
		t.Errorf("ack while the office runs: %v", err)
	}
	o.Close()

	for _, bad := range [][]string{
		{"alarms"},
		{"alarms", "ack", "--data", data},
		{"alarms", "ack", "x", "--data", data},
		{"alarms", "ack", "-1", "--data", data},
		{"alarms", "ack", "5", "--data", data},
		{"alarms", "ack", "0", "--data", t.TempDir()},
		{"alarms", "ack", "0", "1", "--data", data},
		{"alarms", "ack", "0", "--data", data, "--by", "a\nb"},
	} {
		if err := runNotary(ctx, bad); err == nil {
			t.Errorf("notary %q succeeded", bad)
		}
	}
	o = open()
	if e, err := o.AlarmEntries(ctx); err != nil || notary.Unacknowledged(e) != 1 {
		t.Fatalf("refused acks changed the alarms: %+v %v", e, err)
	}
	o.Close()

	if err := runNotary(ctx, []string{"alarms", "ack", "0", "--data", data, "--by", "值班员"}); err != nil {
		t.Fatal(err)
	}
	if err := runNotary(ctx, []string{"alarms", "ack", "--data", data, "0"}); err != nil {
		t.Fatalf("second ack: %v", err)
	}
	o = open()
	defer o.Close()
	e, err := o.AlarmEntries(ctx)
	if err != nil || len(e) != 1 || e[0].Acked == nil || e[0].Acked.By != "值班员" || e[0].Kind != notary.AlarmFork {
		t.Fatalf("after ack: %+v %v", e, err)
	}
}
