package evidence_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cunzheng/cunzheng/evidence"
	evt "github.com/cunzheng/cunzheng/evidence/event"
)

func TestRecordReport(t *testing.T) { testRecordReport(t, embedded) }

func testRecordReport(t *testing.T, bk backend) {
	e := newEnvOn(t, bk)
	ctx := context.Background()
	const id = "2125270852621565954"
	if _, err := e.svc.Ingest(ctx, e.p, demoBatch(t)); err != nil {
		t.Fatal(err)
	}
	before, err := e.svc.Contract(e.p, id)
	if err != nil {
		t.Fatal(err)
	}
	ri := evidence.ReportIssued{Report: "CZ-20261124-0000a1b2", Document: "evidence-report", Requester: "legal-1",
		Revealed: true, SHA256: strings.Repeat("ab", 32), Time: t0.Add(time.Hour)}
	r, err := e.svc.RecordReport(ctx, e.p, id, ri)
	if err != nil {
		t.Fatal(err)
	}
	if r.Index != 6 || e.log.Size() != 7 {
		t.Fatalf("receipt %+v, log size %d", r, e.log.Size())
	}
	// The leaf names the contract only by reference.
	leaf := e.log.Leaves()[6]
	if strings.Contains(string(leaf), id) {
		t.Errorf("report.issued leaf names the contract: %s", leaf)
	}
	// The issued PDF is found by its SHA-256 and by its report number, as
	// an event of this tenant.
	for name, lookup := range map[string]func() ([]evidence.DocumentMatch, error){
		"sha256": func() ([]evidence.DocumentMatch, error) { return e.svc.LookupDocument(ri.SHA256) },
		"number": func() ([]evidence.DocumentMatch, error) { return e.svc.LookupReport(ri.Report) },
	} {
		ms, err := lookup()
		if err != nil || len(ms) != 1 || ms[0].Index != 6 || ms[0].Kind != evt.KindReportIssued || ms[0].Tenant != e.p.Tenant.ID || ms[0].ContractID != id {
			t.Errorf("report by %s: %+v %v", name, ms, err)
		}
	}
	if _, err := e.svc.LookupReport("CZ-20261124-ffffffff"); !errors.Is(err, evidence.ErrNotFound) {
		t.Errorf("unknown report number: %v", err)
	}
	// Same report number: same receipt, no second leaf.
	if r2, err := e.svc.RecordReport(ctx, e.p, id, ri); err != nil || r2 != r || e.log.Size() != 7 {
		t.Errorf("repeat: %+v %v size %d", r2, err, e.log.Size())
	}
	// Another issuance with that number but different facts is a conflict.
	other := ri
	other.Revealed = false
	if _, err := e.svc.RecordReport(ctx, e.p, id, other); !errors.Is(err, evidence.ErrIDConflict) {
		t.Errorf("conflicting repeat: %v", err)
	}

	leaves := func(_ context.Context, i uint64) ([]byte, error) { return e.log.Leaves()[i], nil }
	v, recs, err := e.svc.Records(ctx, e.p, id, leaves)
	if err != nil {
		t.Fatal(err)
	}
	last := recs[len(recs)-1]
	if last.Kind != evt.KindReportIssued || last.Index != r.Index || last.LeafHash != r.LeafHash {
		t.Fatalf("last record %+v, want the report.issued of %+v", last.EventEntry, r)
	}
	d := last.Public.Data
	if d["report"] != ri.Report || d["document"] != ri.Document || d["revealed"] != true || d["sha256"] != ri.SHA256 {
		t.Errorf("report.issued data %v", d)
	}
	// The requester label names the tenant's key: sealed, not public.
	if _, public := d["requester"]; public || strings.Contains(string(leaf), ri.Requester) {
		t.Errorf("report.issued leaf shows the requester: %s", leaf)
	}
	if got := last.Opened.Fields["data.requester"].Value; got != ri.Requester {
		t.Errorf("sealed requester %q, want %q", got, ri.Requester)
	}
	if last.Opened.Fields["contract.id"].Value != id {
		t.Errorf("sealed contract id %q", last.Opened.Fields["contract.id"].Value)
	}
	// Status and activity times stay the platform's; the timeline grows.
	if v.Status != before.Status || !v.Last.Equal(before.Last) || !v.First.Equal(before.First) || len(v.Events) != len(before.Events)+1 {
		t.Errorf("contract after report: status %s last %v events %d; before %s %v %d",
			v.Status, v.Last, len(v.Events), before.Status, before.Last, len(before.Events))
	}
	// Survives a restart.
	e.reopen(t)
	if _, recs, err := e.svc.Records(ctx, e.p, id, leaves); err != nil || recs[len(recs)-1].Index != r.Index {
		t.Errorf("after reopen: %v", err)
	}

	bad := []struct {
		name string
		mut  func(*evidence.ReportIssued)
	}{
		{"no number", func(r *evidence.ReportIssued) { r.Report = "" }},
		{"control character", func(r *evidence.ReportIssued) { r.Report = "CZ\n1" }},
		{"no kind", func(r *evidence.ReportIssued) { r.Document = "" }},
		{"bad hash", func(r *evidence.ReportIssued) { r.SHA256 = "AB" }},
		{"no time", func(r *evidence.ReportIssued) { r.Time = time.Time{} }},
		{"invalid UTF-8", func(r *evidence.ReportIssued) { r.Requester = "\xff" }},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			b := ri
			b.Report = "CZ-other"
			tc.mut(&b)
			if _, err := e.svc.RecordReport(ctx, e.p, id, b); !errors.Is(err, evt.ErrInvalidEvent) {
				t.Errorf("err = %v, want ErrInvalidEvent", err)
			}
			if e.log.Size() != 7 {
				t.Errorf("log grew to %d", e.log.Size())
			}
		})
	}
	if _, err := e.svc.RecordReport(ctx, e.p, "no-such", ri); !errors.Is(err, evidence.ErrNotFound) {
		t.Errorf("absent contract: %v", err)
	}
	_, k2, err := e.tenants.Create(ctx, e.master, "other", nil, t0)
	if err != nil {
		t.Fatal(err)
	}
	p2, err := e.svc.Authenticate(k2)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.RecordReport(ctx, p2, id, ri); !errors.Is(err, evidence.ErrNotFound) {
		t.Errorf("other tenant's contract: %v", err)
	}
	ingestOnly := evidence.Principal{Tenant: e.p.Tenant, Roles: []evidence.Role{evidence.RoleIngest}}
	if _, err := e.svc.RecordReport(ctx, ingestOnly, id, ri); !errors.Is(err, evidence.ErrForbidden) {
		t.Errorf("ingest key: %v", err)
	}
	// The platform cannot post one.
	ev := event(1)
	ev["kind"] = "report.issued"
	body, _ := json.Marshal(ev)
	if _, err := e.svc.Ingest(ctx, e.p, body); !errors.Is(err, evt.ErrInvalidEvent) {
		t.Errorf("posted report.issued: %v", err)
	}
	if e.log.Size() != 7 {
		t.Errorf("log size %d, want 7", e.log.Size())
	}
}
