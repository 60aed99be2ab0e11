package assemble_test

import (
	"context"
	"encoding/hex"
	"errors"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/cunzheng/cunzheng/ledger/tlogfmt"
	"github.com/cunzheng/cunzheng/report/assemble"
	"github.com/cunzheng/cunzheng/report/reporttest"
	"github.com/cunzheng/cunzheng/verify"
)

// TestLookup answers the verifier from the demo contract's records: a
// document the newest checkpoint does not cover yet is pending, one it
// covers comes with every event naming it, each with an inclusion proof
// that verify checks, and the record proper is the signing event; an
// unknown document or report number is "not recorded". The contract as
// sent is what its signers signed; the signed PDF only completes it.
func TestLookup(t *testing.T) {
	ctx := context.Background()
	keys, ev, _, _, led, _ := newDemoSource(t, true)
	lookup := assemble.Lookup{Evidence: ev, Ledger: led}
	var doc [32]byte
	if _, err := hex.Decode(doc[:], []byte("5e1f0d2c3b4a59687766554433221100ffeeddccbbaa99887766554433221100")); err != nil {
		t.Fatal(err)
	}
	if _, err := lookup.LookupDocument(ctx, doc); !errors.Is(err, verify.ErrPending) {
		t.Fatalf("before any checkpoint: err = %v, want %v", err, verify.ErrPending)
	}
	led.publish(t)
	rec, err := lookup.LookupDocument(ctx, doc)
	if err != nil {
		t.Fatal(err)
	}
	v, err := tlogfmt.NewVerifier(keys.LogVKey)
	if err != nil {
		t.Fatal(err)
	}
	rec.DocumentHex = hex.EncodeToString(doc[:])
	verify.CheckLedgerRecord(&rec, reporttest.Origin, note.VerifierList(v))
	if !rec.ProofOK || rec.Kind != "contract.signed" || len(rec.Events) < 2 {
		t.Fatalf("record %s (proof %v %s), %d events", rec.Kind, rec.ProofOK, rec.Problem, len(rec.Events))
	}
	var signed [32]byte
	if _, err := hex.Decode(signed[:], []byte("9c3d2c1f6a0b8e7d5c4b3a29180f7e6d5c4b3a29180f7e6d5c4b3a29180f7e6d")); err != nil {
		t.Fatal(err)
	}
	rec, err = lookup.LookupDocument(ctx, signed)
	if err != nil {
		t.Fatal(err)
	}
	rec.DocumentHex = hex.EncodeToString(signed[:])
	verify.CheckLedgerRecord(&rec, reporttest.Origin, note.VerifierList(v))
	if !rec.ProofOK || rec.Kind != "contract.completed" || len(rec.Events) != 1 {
		t.Fatalf("signed PDF: record %s (proof %v %s), %d events", rec.Kind, rec.ProofOK, rec.Problem, len(rec.Events))
	}
	for _, tc := range []struct {
		name string
		do   func() error
	}{
		{"unknown document", func() error { _, err := lookup.LookupDocument(ctx, [32]byte{1}); return err }},
		{"unknown report", func() error { _, err := lookup.LookupReport(ctx, "2026000000000000001"); return err }},
		{"malformed report number", func() error { _, err := lookup.LookupReport(ctx, "not a number"); return err }},
	} {
		if err := tc.do(); !errors.Is(err, verify.ErrNotRecorded) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, verify.ErrNotRecorded)
		}
	}
}
