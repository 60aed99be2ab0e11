package assemble_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/cunzheng/cunzheng/evidence"
	"github.com/cunzheng/cunzheng/evidence/event"
	"github.com/cunzheng/cunzheng/ledger/tlogfmt"
	"github.com/cunzheng/cunzheng/report"
	"github.com/cunzheng/cunzheng/report/assemble"
	"github.com/cunzheng/cunzheng/report/reporttest"
	"github.com/cunzheng/cunzheng/verify"
)

// TestCustody issues a report through the real evidence service and checks
// that the contract's records then hold its report.issued event, that the
// next report lists it in its chain of custody with its leaf index, and
// that an erasure shows with the leaf index of its data.erased event.
func TestCustody(t *testing.T) {
	ctx := context.Background()
	_, ev, log, demo, led, src := newDemoSource(t, true)
	led.publish(t)
	svc, err := report.New(report.Config{KeyDir: t.TempDir(), Source: src, Custody: assemble.Custody{Evidence: ev}})
	if err != nil {
		t.Fatal(err)
	}
	before := len(log.Leaves())
	_, is, err := svc.Issue(ctx, report.KindCertificate, demo.Tenant.ID, "legal-1", demo.ContractID, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(log.Leaves()) != before+1 {
		t.Fatalf("log grew from %d to %d leaves", before, len(log.Leaves()))
	}
	p := evidence.Principal{Tenant: demo.Tenant, Roles: []evidence.Role{evidence.RoleLegal}}
	_, recs, err := ev.Records(ctx, p, demo.ContractID, led.Leaf)
	if err != nil {
		t.Fatal(err)
	}
	last := recs[len(recs)-1]
	if last.Kind != event.KindReportIssued || last.Index != uint64(before) {
		t.Fatalf("last record: %s at %d, want report.issued at %d", last.Kind, last.Index, before)
	}
	for k, want := range assemble.CustodyData(is) {
		got := last.Public.Data[k]
		if k == "requester" {
			// It names the tenant's key: sealed, not in the public leaf.
			got = last.Opened.Fields["data.requester"].Value
		}
		if got != want {
			t.Errorf("report.issued data %s = %v, want %v", k, got, want)
		}
	}
	if c, err := src.Contract(ctx, demo.Tenant.ID, demo.ContractID, false); err != nil || len(c.Custody) != 1 || c.Custody[0].Requester != "legal-1" {
		t.Errorf("custody entry read back: %+v, %v", c, err)
	}

	// The next report does not wait for the custody event to be notarized:
	// it lists it by leaf index, without a proof.
	c, err := src.Contract(ctx, demo.Tenant.ID, demo.ContractID, false)
	if err != nil {
		t.Fatalf("before the custody event is notarized: %v", err)
	}
	if len(c.Custody) != 1 || c.Custody[0].LeafIndex != uint64(before) {
		t.Errorf("custody before notarization = %+v", c.Custody)
	}
	if hasEvent(c, uint64(before)) {
		t.Errorf("the un-notarized custody leaf %d is among the proven events (checkpoint %d)", before, c.Checkpoint.Size)
	}
	er, err := ev.Erase(ctx, evidence.Principal{Tenant: demo.Tenant, Roles: []evidence.Role{evidence.RoleIngest}}, "18501775544")
	if err != nil {
		t.Fatal(err)
	}
	led.publish(t)
	c, err = src.Contract(ctx, demo.Tenant.ID, demo.ContractID, false)
	if err != nil {
		t.Fatal(err)
	}
	if !hasEvent(c, uint64(before)) {
		t.Errorf("the notarized custody leaf %d has no proven event (checkpoint %d)", before, c.Checkpoint.Size)
	}
	want := report.CustodyEntry{ReportNumber: is.ReportNumber, Kind: report.KindCertificate, Requester: "legal-1",
		At: is.At.UTC().Truncate(time.Nanosecond), LeafIndex: uint64(before)}
	if len(c.Custody) != 1 || c.Custody[0].ReportNumber != want.ReportNumber || c.Custody[0].Kind != want.Kind ||
		c.Custody[0].Requester != want.Requester || c.Custody[0].Revealed || c.Custody[0].LeafIndex != want.LeafIndex || !c.Custody[0].At.Equal(is.At) {
		t.Errorf("custody = %+v, want %+v", c.Custody, want)
	}
	if len(c.Erased) == 0 {
		t.Fatal("no erased fields after the erasure")
	}
	for _, e := range c.Erased {
		if e.ErasureLeaf != er.Index {
			t.Errorf("erased %s: erasure leaf %d, want %d", e.Field, e.ErasureLeaf, er.Index)
		}
	}

	// A report for a contract the tenant does not have is not recorded.
	if _, err := (assemble.Custody{Evidence: ev}).Issued(ctx, report.Issuance{Tenant: demo.Tenant.ID, Contract: "no-such",
		ReportNumber: "CZ-x", Kind: report.KindEvidence, At: is.At, SHA256: is.SHA256}); !errors.Is(err, evidence.ErrNotFound) {
		t.Errorf("absent contract: %v", err)
	}
}

// hasEvent reports whether c's proven events include leaf index i.
func hasEvent(c *report.Contract, i uint64) bool {
	for _, e := range c.Events {
		if e.LeafIndex == i {
			return len(e.Inclusion) > 0
		}
	}
	return false
}

// TestEveryBundleVerifies downloads the four documents a legal team takes
// (certificate page, evidence report masked and unmasked, unmasked bundle)
// back to back in every order, with the custody events of the earlier
// downloads notarized or not yet, and verifies every bundle offline: a
// bundle must pass `verify bundle` in every state of the custody chain.
func TestEveryBundleVerifies(t *testing.T) {
	if testing.Short() {
		t.Skip("renders about a hundred documents")
	}
	ctx := context.Background()
	keys, ev, _, demo, led, src := newDemoSource(t, true)
	led.publish(t)
	svc, err := report.New(report.Config{KeyDir: t.TempDir(), Source: src, Custody: assemble.Custody{Evidence: ev}})
	if err != nil {
		t.Fatal(err)
	}
	opts := bundleOptions(t, keys)
	type doc struct {
		kind   string
		reveal bool
	}
	docs := []doc{{report.KindCertificate, false}, {report.KindEvidence, false}, {report.KindEvidence, true}, {report.KindBundle, true}}
	for n, order := range permutations(len(docs)) {
		// Odd orders notarize every custody event before the next
		// download; even ones leave them all past the checkpoint.
		notarize := n%2 == 1
		for _, i := range order {
			d := docs[i]
			out, is, err := svc.Issue(ctx, d.kind, demo.Tenant.ID, "legal-1", demo.ContractID, d.reveal)
			if err != nil {
				t.Fatalf("order %v: %s: %v", order, d.kind, err)
			}
			if d.kind == report.KindBundle {
				if _, err := verify.Bundle(out, opts); err != nil {
					t.Fatalf("order %v (notarized %v): bundle %s does not verify: %v", order, notarize, is.ReportNumber, err)
				}
			}
			if notarize {
				led.publish(t)
			}
		}
	}
	// And a masked bundle, with custody events pending.
	out, _, err := svc.Issue(ctx, report.KindBundle, demo.Tenant.ID, "legal-1", demo.ContractID, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := verify.Bundle(out, opts); err != nil {
		t.Fatalf("masked bundle: %v", err)
	}
}

// permutations returns every order of 0..n-1.
func permutations(n int) [][]int {
	if n == 0 {
		return [][]int{{}}
	}
	var out [][]int
	for _, p := range permutations(n - 1) {
		for i := 0; i <= len(p); i++ {
			q := append(append(append([]int{}, p[:i]...), n-1), p[i:]...)
			out = append(out, q)
		}
	}
	return out
}

// bundleOptions pins the demo fixture's log and notary keys.
func bundleOptions(t *testing.T, keys *reporttest.Fixture) verify.BundleOptions {
	t.Helper()
	var opts verify.BundleOptions
	v, err := tlogfmt.NewVerifier(keys.LogVKey)
	if err != nil {
		t.Fatal(err)
	}
	opts.LogKeys = []note.Verifier{v}
	for _, n := range keys.Notaries {
		v, err := tlogfmt.NewVerifier(n.VKey)
		if err != nil {
			t.Fatal(err)
		}
		opts.NotaryKeys = append(opts.NotaryKeys, v)
	}
	return opts
}
