package evidence_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cunzheng/cunzheng/evidence"
	evt "github.com/cunzheng/cunzheng/evidence/event"
)

// TestRecordNotarization: a notarisation request and the office's answer
// are recorded under the contract as public leaves naming it by reference
// only, with the requester sealed; they change neither its status nor its
// event count; repeats are idempotent and bad input changes nothing.
func TestRecordNotarization(t *testing.T) {
	e := newEnvOn(t, embedded)
	ctx := context.Background()
	const id = "2125270852621565954"
	if _, err := e.svc.Ingest(ctx, e.p, demoBatch(t)); err != nil {
		t.Fatal(err)
	}
	before, err := e.svc.Contract(e.p, id)
	if err != nil {
		t.Fatal(err)
	}
	bundle, pdf := strings.Repeat("ab", 32), strings.Repeat("cd", 32)
	req := evidence.Notarization{Kind: evt.KindNotarizationRequested, Request: "NR-1", Office: "a.office.test",
		Requester: "legal-1", BundleSHA256: bundle, Time: t0.Add(time.Hour)}
	size := e.log.Size()
	r, err := e.svc.RecordNotarization(ctx, e.p, id, req)
	if err != nil {
		t.Fatal(err)
	}
	if r.Index != size || e.log.Size() != size+1 {
		t.Fatalf("receipt %+v, log size %d", r, e.log.Size())
	}
	leaf := string(e.log.Leaves()[r.Index])
	if strings.Contains(leaf, id) || strings.Contains(leaf, "legal-1") || !strings.Contains(leaf, `"kind":"notarization.requested"`) || !strings.Contains(leaf, bundle) {
		t.Errorf("notarization.requested leaf: %s", leaf)
	}
	if again, err := e.svc.RecordNotarization(ctx, e.p, id, req); err != nil || again != r || e.log.Size() != size+1 {
		t.Errorf("repeat: %+v %v", again, err)
	}
	issued := evidence.Notarization{Kind: evt.KindNotarizationIssued, Request: "NR-1", Office: "a.office.test",
		BundleSHA256: bundle, CertificateSHA256: pdf, Time: t0.Add(2 * time.Hour)}
	if _, err := e.svc.RecordNotarization(ctx, e.p, id, issued); err != nil {
		t.Fatal(err)
	}
	other := issued
	other.CertificateSHA256 = strings.Repeat("ef", 32)
	if _, err := e.svc.RecordNotarization(ctx, e.p, id, other); !errors.Is(err, evidence.ErrIDConflict) {
		t.Errorf("another certificate for the same request: %v", err)
	}

	size = e.log.Size()
	for name, n := range map[string]evidence.Notarization{
		"unknown kind":          {Kind: evt.Kind("notarization.maybe"), Request: "NR-2", Office: "o", BundleSHA256: bundle, Time: t0},
		"no request":            {Kind: evt.KindNotarizationRequested, Office: "o", BundleSHA256: bundle, Time: t0},
		"bad bundle":            {Kind: evt.KindNotarizationRequested, Request: "NR-2", Office: "o", BundleSHA256: "AB", Time: t0},
		"issue without pdf":     {Kind: evt.KindNotarizationIssued, Request: "NR-2", Office: "o", BundleSHA256: bundle, Time: t0},
		"refusal without cause": {Kind: evt.KindNotarizationRefused, Request: "NR-2", Office: "o", BundleSHA256: bundle, Time: t0},
		"reason on a request":   {Kind: evt.KindNotarizationRequested, Request: "NR-2", Office: "o", BundleSHA256: bundle, Reason: "x", Time: t0},
		"requester on issue":    {Kind: evt.KindNotarizationIssued, Request: "NR-2", Office: "o", BundleSHA256: bundle, CertificateSHA256: pdf, Requester: "k", Time: t0},
		"control character":     {Kind: evt.KindNotarizationRequested, Request: "NR\n2", Office: "o", BundleSHA256: bundle, Time: t0},
	} {
		if _, err := e.svc.RecordNotarization(ctx, e.p, id, n); !errors.Is(err, evt.ErrInvalidEvent) {
			t.Errorf("%s: %v, want ErrInvalidEvent", name, err)
		}
	}
	refused := evidence.Notarization{Kind: evt.KindNotarizationRefused, Request: "NR-3", Office: "b.office.test",
		BundleSHA256: bundle, Reason: "校验失败 / verification failed", Time: t0.Add(3 * time.Hour)}
	if _, err := e.svc.RecordNotarization(ctx, e.p, "no-such-contract", refused); !errors.Is(err, evidence.ErrNotFound) {
		t.Errorf("absent contract: %v", err)
	}
	if e.log.Size() != size {
		t.Fatalf("refused input appended: size %d, want %d", e.log.Size(), size)
	}
	if _, err := e.svc.RecordNotarization(ctx, e.p, id, refused); err != nil {
		t.Fatal(err)
	}

	after, err := e.svc.Contract(e.p, id)
	if err != nil {
		t.Fatal(err)
	}
	if after.Status != before.Status || !after.Last.Equal(before.Last) || after.EventCount != before.EventCount {
		t.Errorf("notarisation changed the contract: %+v, was %+v", after, before)
	}
	leaves := func(_ context.Context, i uint64) ([]byte, error) { return e.log.Leaves()[i], nil }
	_, recs, err := e.svc.Records(ctx, e.p, id, leaves)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []evt.Kind
	for _, rc := range recs[len(recs)-3:] {
		kinds = append(kinds, rc.Kind)
	}
	if kinds[0] != evt.KindNotarizationRequested || kinds[1] != evt.KindNotarizationIssued || kinds[2] != evt.KindNotarizationRefused {
		t.Errorf("last records %v", kinds)
	}
	if d := recs[len(recs)-2].Public.Data; d["certificate_sha256"] != pdf || d["request"] != "NR-1" {
		t.Errorf("notarization.issued data %v", d)
	}
}

func TestOpenNotarizations(t *testing.T) { testOpenNotarizations(t, embedded) }

// testOpenNotarizations: the requests without a recorded answer, across
// tenants, with their contract number and office, the same after the
// service is opened again; answered ones (issued or refused) are not
// listed; one whose leaf is not the request's is left out, not listed with
// a wrong office.
func testOpenNotarizations(t *testing.T, bk backend) {
	e := newEnvOn(t, bk)
	ctx := context.Background()
	const id = "2125270852621565954"
	_, k2, err := e.tenants.Create(ctx, e.master, "other", nil, t0)
	if err != nil {
		t.Fatal(err)
	}
	p2, err := e.svc.Authenticate(k2)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []evidence.Principal{e.p, p2} {
		if _, err := e.svc.Ingest(ctx, p, demoBatch(t)); err != nil {
			t.Fatal(err)
		}
	}
	leaves := func(_ context.Context, i uint64) ([]byte, error) { return e.log.Leaves()[i], nil }
	if open, err := e.svc.OpenNotarizations(ctx, leaves); err != nil || len(open) != 0 {
		t.Fatalf("before any request: %+v %v", open, err)
	}
	bundle, pdf := strings.Repeat("ab", 32), strings.Repeat("cd", 32)
	record := func(p evidence.Principal, kind evt.Kind, request, office string, at time.Duration) {
		t.Helper()
		n := evidence.Notarization{Kind: kind, Request: request, Office: office, BundleSHA256: bundle, Time: t0.Add(at)}
		switch kind {
		case evt.KindNotarizationRequested:
			n.Requester = p.Tenant.ID + "/legal"
		case evt.KindNotarizationIssued:
			n.CertificateSHA256 = pdf
		case evt.KindNotarizationRefused:
			n.Reason = "校验失败 / verification failed"
		}
		if _, err := e.svc.RecordNotarization(ctx, p, id, n); err != nil {
			t.Fatal(err)
		}
	}
	record(e.p, evt.KindNotarizationRequested, "NR-1", "a.office.test", 1*time.Hour)
	record(e.p, evt.KindNotarizationRequested, "NR-2", "b.office.test", 3*time.Hour)
	record(p2, evt.KindNotarizationRequested, "NR-3/x", "a.office.test", 2*time.Hour)
	record(p2, evt.KindNotarizationRequested, "NR-4", "a.office.test", 4*time.Hour)
	record(e.p, evt.KindNotarizationIssued, "NR-1", "a.office.test", 5*time.Hour)
	record(p2, evt.KindNotarizationRefused, "NR-4", "a.office.test", 6*time.Hour)
	// An issued report's claim sits beside them and is not a notarisation.
	if _, err := e.svc.RecordReport(ctx, e.p, id, evidence.ReportIssued{Report: "CZ-1", Document: "certificate",
		Requester: "k", SHA256: bundle, Time: t0}); err != nil {
		t.Fatal(err)
	}
	want := []evidence.OpenNotarization{
		{Tenant: p2.Tenant, Contract: id, Request: "NR-3/x", Office: "a.office.test", Requested: t0.Add(2 * time.Hour)},
		{Tenant: e.p.Tenant, Contract: id, Request: "NR-2", Office: "b.office.test", Requested: t0.Add(3 * time.Hour)},
	}
	check := func(when string) {
		t.Helper()
		open, err := e.svc.OpenNotarizations(ctx, leaves)
		if err != nil {
			t.Fatalf("%s: %v", when, err)
		}
		if len(open) != len(want) {
			t.Fatalf("%s: %+v, want %+v", when, open, want)
		}
		for i := range want {
			if g, w := open[i], want[i]; g.Tenant.ID != w.Tenant.ID || g.Contract != w.Contract || g.Request != w.Request ||
				g.Office != w.Office || !g.Requested.Equal(w.Requested) {
				t.Errorf("%s: open[%d] = %+v, want %+v", when, i, g, w)
			}
		}
	}
	check("running")
	e.reopen(t)
	check("reopened")

	// A request whose leaf is not the request's is left out (and logged),
	// never listed with a wrong office, and keeps no other from the list.
	wrong := func(_ context.Context, i uint64) ([]byte, error) { return e.log.Leaves()[0], nil }
	if open, err := e.svc.OpenNotarizations(ctx, wrong); err != nil || len(open) != 0 {
		t.Errorf("leaves that are not the requests': %+v %v", open, err)
	}
	if !strings.Contains(e.logBuf.String(), "an open notarisation left out") {
		t.Errorf("no log line for the requests left out:\n%s", e.logBuf.String())
	}
}
