package evidence_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cunzheng/cunzheng/evidence"
	evt "github.com/cunzheng/cunzheng/evidence/event"
	"github.com/cunzheng/cunzheng/evidence/evidencetest"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
)

type env struct {
	dir     string
	master  evidence.MasterKey
	log     *evidencetest.Log
	svc     *evidence.Service
	p       evidence.Principal
	key     string
	logBuf  *bytes.Buffer
	b       backend
	tenants evidence.Tenants
}

// backend is where a test's service keeps its state: the embedded Pebble
// store (open nil) or a store open returns, opened again on every reopen.
type backend struct {
	name string
	open func(t *testing.T) evidence.Store
}

var embedded = backend{name: "pebble"}

var t0 = time.Date(2026, 11, 24, 1, 0, 0, 0, time.UTC)

func newEnv(t *testing.T) *env { return newEnvOn(t, embedded) }

func newEnvOn(t *testing.T, b backend) *env {
	t.Helper()
	e := &env{dir: t.TempDir(), log: evidencetest.NewLog(), logBuf: &bytes.Buffer{}, b: b}
	var err error
	if e.master, err = evidence.GenerateMasterKey(); err != nil {
		t.Fatal(err)
	}
	e.tenants = evidence.TenantFiles(e.dir)
	if b.open != nil {
		// Tenant administration through its own connection, as the CLI
		// does beside a running server.
		admin := b.open(t)
		t.Cleanup(func() { admin.Close() })
		e.tenants = evidence.StoreTenants(admin)
	}
	_, e.key, err = e.tenants.Create(context.Background(), e.master, "伟伟集团", nil, t0)
	if err != nil {
		t.Fatal(err)
	}
	e.open(t)
	return e
}

func (e *env) open(t *testing.T) {
	t.Helper()
	cfg := evidence.Config{
		Dir: e.dir, Master: e.master, Log: e.log,
		Logger: slog.New(slog.NewTextHandler(e.logBuf, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:    func() time.Time { return t0 },
		// The clock is frozen, so any positive interval would stop reloads.
		ReloadInterval: -1,
		ShredDelay:     -1,
	}
	if e.b.open != nil {
		cfg.Store = e.b.open(t)
	}
	svc, err := evidence.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.svc = svc
	t.Cleanup(func() { svc.Close() })
	if e.p, err = svc.Authenticate(e.key); err != nil {
		t.Fatal(err)
	}
}

func (e *env) reopen(t *testing.T) {
	t.Helper()
	if err := e.svc.Close(); err != nil {
		t.Fatal(err)
	}
	e.open(t)
}

func demoBatch(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/demo_batch.json")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// event returns a realistic event with PII for index i: contract C(i/3)
// is sent by event 3k and signed by events 3k+1 and 3k+2, so that posting
// the events in order (in one batch or one request after another) follows
// the real flow.
func event(i int) map[string]any {
	if i%3 == 0 {
		ev := signed(i)
		ev["kind"] = "contract.sent"
		ev["data"] = map[string]any{"signers": 2, "platform": "伟伟签"}
		return ev
	}
	return signed(i)
}

// signed returns a contract.signed with PII for index i, of contract C(i/3).
func signed(i int) map[string]any {
	return map[string]any{
		"id": fmt.Sprintf("ev-%d", i), "kind": "contract.signed", "time": "2018-11-14T17:22:36+08:00",
		"contract": map[string]any{"id": fmt.Sprintf("C%06d", i/3), "name": "劳动合同"},
		"actor": map[string]any{
			"account": fmt.Sprintf("1380000%04d", i), "name": "叶建华", "id_number": "330106198801012345",
			"phone": fmt.Sprintf("1380000%04d", i), "email": "ye.jianhua@example.cn", "ip": "112.17.116.54",
		},
		"data": map[string]any{
			"document":    map[string]any{"sha256": strings.Repeat("ab", 32)},
			"cert_serial": "548f6d36e1bf4c578fde8327c38f6fb1",
			"positions":   []any{map[string]any{"page": 2, "x": 0.6, "y": 0.63}},
		},
	}
}

func batch(evs ...map[string]any) []byte {
	a := make([]any, len(evs))
	for i, e := range evs {
		a[i] = e
	}
	b, _ := json.Marshal(map[string]any{"events": a})
	return b
}

func TestParseEventsErrors(t *testing.T) {
	good := event(1)
	mut := func(f func(m map[string]any)) []byte {
		b, _ := json.Marshal(good)
		var m map[string]any
		json.Unmarshal(b, &m)
		f(m)
		out, _ := json.Marshal(m)
		return out
	}
	four := func(f func(m map[string]any)) []byte {
		evs := []map[string]any{event(0), event(1), event(2), signed(3)}
		f(evs[3])
		return batch(evs...)
	}
	tests := []struct {
		name string
		body []byte
		want string // path: message prefix
	}{
		{"page zero in batch", four(func(m map[string]any) {
			m["data"].(map[string]any)["positions"].([]any)[0].(map[string]any)["page"] = 0
		}), "$.events[3].data.positions[0].page: less than 1"},
		{"page fraction", mut(func(m map[string]any) {
			m["data"].(map[string]any)["positions"].([]any)[0].(map[string]any)["page"] = 1.5
		}), "$.data.positions[0].page: want integer"},
		{"unknown kind", mut(func(m map[string]any) { m["kind"] = "contract.eaten" }), "$.kind: must be one of"},
		{"missing id", mut(func(m map[string]any) { delete(m, "id") }), "$.id: required"},
		{"bad time", mut(func(m map[string]any) { m["time"] = "2018-11-14 17:22:36" }), "$.time: not an RFC 3339"},
		{"time out of range", mut(func(m map[string]any) { m["time"] = "0001-01-01T00:00:00Z" }), "$.time: outside the years 1970 to 2199"},
		{"time without offset", mut(func(m map[string]any) { m["time"] = "2018-11-14T17:22:36" }), "$.time: not an RFC 3339"},
		{"bad hash", mut(func(m map[string]any) {
			m["data"].(map[string]any)["document"].(map[string]any)["sha256"] = "b2541f0c95a9f5a7bda153b786c7888c1df8765a"
		}), "$.data.document.sha256: does not match"},
		{"unknown field", mut(func(m map[string]any) { m["actor"].(map[string]any)["shoe_size"] = "42" }), "$.actor.shoe_size: unknown field"},
		{"ill-typed", mut(func(m map[string]any) { m["actor"].(map[string]any)["name"] = 7 }), "$.actor.name: want string, got number"},
		{"bad ip", mut(func(m map[string]any) { m["actor"].(map[string]any)["ip"] = "300.1.1.1" }), "$.actor.ip: not an IPv4 address, and not an IPv6"},
		{"missing contract", mut(func(m map[string]any) { delete(m, "contract") }), "$.contract: required"},
		{"missing data for kind", mut(func(m map[string]any) { delete(m, "data") }), "$.data: required"},
		{"empty batch", []byte(`{"events":[]}`), "$.events: fewer than 1 items"},
		{"batch extra field", []byte(`{"events":[],"x":1}`), "$.events: fewer than 1"},
		{"duplicate key", []byte(`{"id":"a","id":"b"}`), `$: duplicate key "id"`},
		{"invalid utf8", []byte("{\"id\":\"\xff\"}"), "$: body is not valid UTF-8 (byte offset 7)"},
		{"deep", []byte(strings.Repeat("[", 100) + strings.Repeat("]", 100)), "$: JSON nested deeper than 16"},
		{"trailing", append(mut(func(map[string]any) {}), []byte(" {}")...), "$: unexpected data after"},
		{"truncated", []byte(`{"id":`), "$: truncated JSON"},
		{"not object", []byte(`[1]`), "$: want object, got array"},
		{"empty", nil, "$: empty body"},
		{"repeated id", batch(event(1), event(1)), `$.events[1].id: id "ev-1" repeats $.events[0].id`},
		{"erased kind not accepted", mut(func(m map[string]any) { m["kind"] = "data.erased" }), "$.kind: must be one of"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := evt.ParseEvents(tc.body)
			var ve *evt.ValidationError
			if !errors.As(err, &ve) || !errors.Is(err, evt.ErrInvalidEvent) {
				t.Fatalf("ParseEvents = %v, want a ValidationError", err)
			}
			if !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("error %q\nwant prefix %q", err, tc.want)
			}
		})
	}
	if _, err := evt.ParseEvents(demoBatch(t)); err != nil {
		t.Errorf("demo batch: %v", err)
	}
	big := make([]map[string]any, evt.MaxBatch+1)
	for i := range big {
		big[i] = event(i)
	}
	if _, err := evt.ParseEvents(batch(big...)); err == nil || !strings.HasPrefix(err.Error(), "$.events: more than 1000 items") {
		t.Errorf("1001 events: %v", err)
	}
}

func TestCanonicalJSON(t *testing.T) {
	// Vectors from RFC 8785 appendix and section 3.2.3.
	tests := []struct{ in, want string }{
		{`{"numbers":[333333333.33333329,1E30,4.50,2e-3,0.000000000000000000000000001],"string":"\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/","literals":[null,true,false]}`,
			`{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}`},
		{`{"\u20ac":"Euro Sign","\r":"Carriage Return","\ufb33":"Hebrew Letter Dalet With Dagesh","1":"One","\ud83d\ude00":"Emoji: Grinning Face","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis"}`,
			"{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\u0080\":\"Control\",\"\u00f6\":\"Latin Small Letter O With Diaeresis\",\"\u20ac\":\"Euro Sign\",\"\U0001F600\":\"Emoji: Grinning Face\",\"\ufb33\":\"Hebrew Letter Dalet With Dagesh\"}"},
		{`{"a":-0,"b":1e21,"c":1e-7,"d":0.6,"e":<>&}`, ""},
	}
	for _, tc := range tests[:2] {
		v, err := evt.DecodeStrict([]byte(tc.in))
		if err != nil {
			t.Fatal(err)
		}
		got, err := evt.CanonicalJSON(v)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != tc.want {
			t.Errorf("got  %s\nwant %s", got, tc.want)
		}
	}
	v, _ := evt.DecodeStrict([]byte(`{"a":-0,"b":1e21,"c":1e-7,"d":0.6,"e":"<>&\u2028"}`))
	got, _ := evt.CanonicalJSON(v)
	if want := "{\"a\":0,\"b\":1e+21,\"c\":1e-7,\"d\":0.6,\"e\":\"<>&\u2028\"}"; string(got) != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func TestSchemaIsServedAndEnforced(t *testing.T) {
	var doc map[string]any
	if err := json.Unmarshal(evt.SchemaJSON, &doc); err != nil {
		t.Fatal(err)
	}
	if doc["$schema"] != "https://json-schema.org/draft/2020-12/schema" {
		t.Errorf("$schema = %v", doc["$schema"])
	}
	// The enforced kinds are the documented ones.
	kinds := doc["$defs"].(map[string]any)["event"].(map[string]any)["properties"].(map[string]any)["kind"].(map[string]any)["enum"].([]any)
	if len(kinds) != 9 {
		t.Errorf("schema has %d kinds, want 9", len(kinds))
	}
	for _, k := range kinds {
		body := fmt.Sprintf(`{"id":"x","kind":%q,"time":"2018-11-14T17:22:36+08:00"}`, k)
		_, err := evt.ParseEvents([]byte(body))
		if err == nil || strings.Contains(err.Error(), "$.kind") {
			t.Errorf("kind %v with no fields: %v (want a missing-field error)", k, err)
		}
	}
}

func TestIngestReceiptsAndContract(t *testing.T) { testIngestReceiptsAndContract(t, embedded) }

func testIngestReceiptsAndContract(t *testing.T, bk backend) {
	e := newEnvOn(t, bk)
	ctx := context.Background()
	rs, err := e.svc.Ingest(ctx, e.p, demoBatch(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 6 || e.log.Size() != 6 {
		t.Fatalf("%d receipts, log size %d; want 6, 6", len(rs), e.log.Size())
	}
	for i, r := range rs {
		if r.Index != uint64(i) || r.Checkpoint != 6 || len(r.LeafHash) != 64 {
			t.Errorf("receipt %d = %+v", i, r)
		}
	}
	v, err := e.svc.Contract(e.p, "2125270852621565954")
	if err != nil {
		t.Fatal(err)
	}
	if v.Name != "劳动合同" || len(v.Events) != 5 || v.Status != evt.KindContractCompleted {
		t.Errorf("contract view = %+v", v)
	}
	// Retried batch: same receipts, no new leaves.
	rs2, err := e.svc.Ingest(ctx, e.p, demoBatch(t))
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(rs2) != fmt.Sprint(rs) || e.log.Size() != 6 {
		t.Errorf("retry gave %v (log %d), want %v", rs2, e.log.Size(), rs)
	}
	// Same id, different content: conflict, nothing written.
	ev := event(7)
	ev["id"] = "demo-sent"
	b, _ := json.Marshal(ev)
	if _, err := e.svc.Ingest(ctx, e.p, b); !errors.Is(err, evidence.ErrIDConflict) {
		t.Errorf("conflicting id: %v", err)
	}
	// Document lookup across tenants.
	// The contract as sent: sent, then signed.
	ms, err := e.svc.LookupDocument("5e1f0d2c3b4a59687766554433221100ffeeddccbbaa99887766554433221100")
	if err != nil || len(ms) != 2 || ms[0].ContractID != "2125270852621565954" || ms[1].Kind != evt.KindContractSigned {
		t.Errorf("LookupDocument = %+v, %v", ms, err)
	}
	// Sealed fields open and match their commitments.
	if o := openSealed(t, e, rs)[2]; o.Fields["actor.id_number"].Value != "330106198801012345" {
		t.Errorf("identity event fields: %v", o.Paths())
	}
	// Restart keeps everything.
	e.reopen(t)
	if rs3, err := e.svc.Ingest(ctx, e.p, demoBatch(t)); err != nil || fmt.Sprint(rs3) != fmt.Sprint(rs) {
		t.Errorf("after restart: %v, %v", rs3, err)
	}
}

func TestTenantIsolation(t *testing.T) { testTenantIsolation(t, embedded) }

func testTenantIsolation(t *testing.T, bk backend) {
	e := newEnvOn(t, bk)
	ctx := context.Background()
	if _, err := e.svc.Ingest(ctx, e.p, demoBatch(t)); err != nil {
		t.Fatal(err)
	}
	_, k2, err := e.tenants.Create(context.Background(), e.master, "other", nil, t0)
	if err != nil {
		t.Fatal(err)
	}
	p2, err := e.svc.Authenticate(k2) // picked up without restart
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Contract(p2, "2125270852621565954"); !errors.Is(err, evidence.ErrNotFound) {
		t.Errorf("other tenant's contract: %v", err)
	}
	if _, err := e.svc.Contract(p2, "no-such"); !errors.Is(err, evidence.ErrNotFound) {
		t.Errorf("absent contract: %v", err)
	}
	// The same client ids in another tenant are new events.
	if _, err := e.svc.Ingest(ctx, p2, demoBatch(t)); err != nil || e.log.Size() != 12 {
		t.Errorf("other tenant ingest: %v, size %d", err, e.log.Size())
	}
	rs, _ := e.svc.Ingest(ctx, e.p, demoBatch(t))
	var lh [32]byte
	hex.Decode(lh[:], []byte(rs[0].LeafHash))
	if _, err := e.svc.OpenSealed(p2.Tenant.ID, rs[0].Index, lh); !errors.Is(err, evidence.ErrNotFound) {
		t.Errorf("other tenant opening sealed: %v", err)
	}
	legal, k3, _ := e.tenants.AddKey(context.Background(), "other", []evidence.Role{evidence.RoleLegal}, t0)
	_ = legal
	p3, err := e.svc.Authenticate(k3)
	if err != nil {
		// Reload is rate-limited; ReloadTenants forces it.
		e.svc.ReloadTenants()
		p3, err = e.svc.Authenticate(k3)
	}
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Ingest(ctx, p3, demoBatch(t)); !errors.Is(err, evidence.ErrForbidden) {
		t.Errorf("legal key ingesting: %v", err)
	}
	if _, err := e.svc.Authenticate("czk_nope"); !errors.Is(err, evidence.ErrUnauthorized) {
		t.Errorf("unknown key: %v", err)
	}
}

// TestNoPIIInPublicBytes ingests events with known personal data and
// checks that none of it appears in any leaf or log line.
func TestNoPIIInPublicBytes(t *testing.T) { testNoPIIInPublicBytes(t, embedded) }

func testNoPIIInPublicBytes(t *testing.T, bk backend) {
	e := newEnvOn(t, bk)
	ctx := context.Background()
	if _, err := e.svc.Ingest(ctx, e.p, demoBatch(t)); err != nil {
		t.Fatal(err)
	}
	evs := make([]map[string]any, 30)
	for i := range evs {
		evs[i] = event(i)
	}
	if _, err := e.svc.Ingest(ctx, e.p, batch(evs...)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Erase(ctx, e.p, "18501775544"); err != nil {
		t.Fatal(err)
	}
	secrets := []string{
		"叶建华", "戴文潘", "伟伟集团", "330106198801012345", "18501775544", "weimei_pan@bestsign.cn",
		"ye.jianhua@example.cn", "60.12.241.194", "112.17.116.54", "2125270852621565954", "劳动合同",
		"548f6d36e1bf4c578fde8327c38f6fb1", "13800000007", "C000003", "demo-sent", "ev-1",
	}
	public := bytes.Join(e.log.Leaves(), []byte("\n"))
	public = append(public, e.logBuf.Bytes()...)
	for _, s := range secrets {
		for _, form := range []string{s, hex.EncodeToString([]byte(s)), fmt.Sprintf("%q", s)} {
			if bytes.Contains(public, []byte(form)) {
				t.Errorf("public bytes contain %q", form)
			}
		}
	}
	for _, leaf := range e.log.Leaves() {
		pr, err := evt.ParseLeaf(leaf)
		if err != nil {
			t.Fatal(err)
		}
		if pr.Version != 2 || pr.Tenant != "" || pr.Commitments[evt.TenantCommitment] == "" {
			t.Errorf("leaf names its tenant or lacks the tenant commitment: %s", leaf)
		}
	}
}

// TestLeavesDoNotLinkTenant: a stranger reading the public log cannot tell
// which leaves are one tenant's. No leaf holds the tenant id or the
// requester label of a report, and no member value of one tenant's leaves
// repeats across them but the contract reference (which links events of
// one contract, not contracts of one tenant) and public facts; the tenant
// commitment of each leaf opens for its tenant (through Records) and
// differs from leaf to leaf. Leaves written before, which name their
// tenant, still parse; a leaf with neither is refused.
func TestLeavesDoNotLinkTenant(t *testing.T) { testLeavesDoNotLinkTenant(t, embedded) }

func testLeavesDoNotLinkTenant(t *testing.T, bk backend) {
	e := newEnvOn(t, bk)
	ctx := context.Background()
	if _, err := e.svc.Ingest(ctx, e.p, demoBatch(t)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.RecordReport(ctx, e.p, "2125270852621565954", evidence.ReportIssued{Report: "CZ-1", Document: "evidence-report",
		Requester: e.p.Tenant.ID + "/legal", SHA256: strings.Repeat("ab", 32), Time: t0}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Erase(ctx, e.p, "18501775544"); err != nil {
		t.Fatal(err)
	}
	leaves := e.log.Leaves()
	seen := map[string]int{}
	for _, leaf := range leaves {
		if bytes.Contains(leaf, []byte(e.p.Tenant.ID)) {
			t.Errorf("leaf holds the tenant id: %s", leaf)
		}
		pr, err := evt.ParseLeaf(leaf)
		if err != nil {
			t.Fatal(err)
		}
		seen[pr.Commitments[evt.TenantCommitment]]++
	}
	for c, n := range seen {
		if n > 1 {
			t.Errorf("tenant commitment %s in %d leaves", c, n)
		}
	}
	read := func(_ context.Context, i uint64) ([]byte, error) { return leaves[i], nil }
	_, recs, err := e.svc.Records(ctx, e.p, "2125270852621565954", read)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		f, ok := r.Opened.Fields[evt.TenantCommitment]
		cm := evt.Commitment(f.Salt, f.Value)
		if !ok || f.Value != e.p.Tenant.ID || hex.EncodeToString(cm[:]) != r.Public.Commitments[evt.TenantCommitment] {
			t.Errorf("leaf %d: tenant opening %+v", r.Index, f)
		}
	}
	old := []byte(`{"commitments":{},"data":{},"kind":"data.erased","logged":"2026-11-24T01:00:00Z","ref":"00","tenant":"t00","time":"2026-11-24T01:00:00Z","v":1}`)
	if pr, err := evt.ParseLeaf(old); err != nil || pr.Tenant != "t00" {
		t.Errorf("version 1 leaf: %+v, %v", pr, err)
	}
	for _, bad := range []string{
		`{"commitments":{},"data":{},"kind":"data.erased","logged":"2026-11-24T01:00:00Z","ref":"00","time":"2026-11-24T01:00:00Z","v":2}`,
		`{"commitments":{},"data":{},"kind":"data.erased","logged":"2026-11-24T01:00:00Z","ref":"00","time":"2026-11-24T01:00:00Z","v":1}`,
		`{"commitments":{"tenant":"00"},"data":{},"kind":"data.erased","logged":"2026-11-24T01:00:00Z","ref":"00","tenant":"t00","time":"2026-11-24T01:00:00Z","v":2}`,
	} {
		if _, err := evt.ParseLeaf([]byte(bad)); err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
}

func TestConcurrentSameIDs(t *testing.T) { testConcurrentSameIDs(t, embedded) }

func testConcurrentSameIDs(t *testing.T, bk backend) {
	e := newEnvOn(t, bk)
	ctx := context.Background()
	const clients, ids = 16, 40
	var wg sync.WaitGroup
	results := make([][]evidence.Receipt, clients)
	errs := make([]error, clients)
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Each client posts the ids in a different grouping.
			var all []evidence.Receipt
			for start := 0; start < ids; start += 1 + c%5 {
				var evs []map[string]any
				for i := start; i < min(start+1+c%5, ids); i++ {
					evs = append(evs, event(i))
				}
				rs, err := e.svc.Ingest(ctx, e.p, batch(evs...))
				if err != nil {
					errs[c] = err
					return
				}
				all = append(all, rs...)
			}
			results[c] = all
		}()
	}
	wg.Wait()
	for c := range clients {
		if errs[c] != nil {
			t.Fatal(errs[c])
		}
		if fmt.Sprint(results[c]) != fmt.Sprint(results[0]) {
			t.Errorf("client %d saw different receipts", c)
		}
	}
	if e.log.Size() != ids {
		t.Errorf("log has %d leaves for %d ids", e.log.Size(), ids)
	}
}

func TestBatchAllOrNothing(t *testing.T) { testBatchAllOrNothing(t, embedded) }

func testBatchAllOrNothing(t *testing.T, bk backend) {
	e := newEnvOn(t, bk)
	ctx := context.Background()
	evs := []map[string]any{event(0), event(1), event(2)}
	evs[2]["time"] = "yesterday"
	if _, err := e.svc.Ingest(ctx, e.p, batch(evs...)); err == nil || !strings.HasPrefix(err.Error(), "$.events[2].time") {
		t.Fatalf("invalid batch: %v", err)
	}
	if e.log.Size() != 0 {
		t.Fatalf("log has %d leaves after a rejected batch", e.log.Size())
	}
	// A failing log: nothing appended; the retry lands each id once.
	evs[2] = event(2)
	e.log.Fail = func([][]byte) error { return errors.New("pushback") }
	if _, err := e.svc.Ingest(ctx, e.p, batch(evs...)); err == nil {
		t.Fatal("ingest with a failing log succeeded")
	}
	if e.log.Size() != 0 {
		t.Fatal("failed append left leaves")
	}
	e.log.Fail = nil
	rs, err := e.svc.Ingest(ctx, e.p, batch(evs...))
	if err != nil || len(rs) != 3 || e.log.Size() != 3 {
		t.Fatalf("retry: %v %v size %d", rs, err, e.log.Size())
	}
	// A conflict in the middle of a batch rejects it whole.
	bad := event(1)
	bad["time"] = "2019-01-01T00:00:00Z"
	if _, err := e.svc.Ingest(ctx, e.p, batch(event(10), bad, event(11))); !errors.Is(err, evidence.ErrIDConflict) {
		t.Fatalf("conflict: %v", err)
	}
	if e.log.Size() != 3 {
		t.Errorf("conflicting batch wrote %d leaves", e.log.Size()-3)
	}
}

// TestRecoverPending: the log fails after the pending claims are durable;
// the next Open appends them, and the client's retry gets that receipt.
func TestRecoverPending(t *testing.T) { testRecoverPending(t, embedded) }

func testRecoverPending(t *testing.T, bk backend) {
	e := newEnvOn(t, bk)
	ctx := context.Background()
	e.log.Fail = func([][]byte) error { return errors.New("disk on fire") }
	if _, err := e.svc.Ingest(ctx, e.p, demoBatch(t)); err == nil {
		t.Fatal("want failure")
	}
	e.log.Fail = nil
	e.reopen(t)
	if e.log.Size() != 6 {
		t.Fatalf("recovery appended %d leaves, want 6", e.log.Size())
	}
	rs, err := e.svc.Ingest(ctx, e.p, demoBatch(t))
	if err != nil || e.log.Size() != 6 || rs[0].Index != 0 || rs[5].Index != 5 {
		t.Fatalf("retry after recovery: %v %v size %d", rs, err, e.log.Size())
	}
	// The sealed records travelled in the pending claims; recovery stored
	// them under the indexes the log gave.
	openSealed(t, e, rs)
}

func TestErasure(t *testing.T) { testErasure(t, embedded) }

func testErasure(t *testing.T, bk backend) {
	e := newEnvOn(t, bk)
	ctx := context.Background()
	rs, err := e.svc.Ingest(ctx, e.p, demoBatch(t))
	if err != nil {
		t.Fatal(err)
	}
	er, err := e.svc.Erase(ctx, e.p, "18501775544")
	if err != nil {
		t.Fatal(err)
	}
	if er.Index != 6 {
		t.Errorf("data.erased at %d, want 6", er.Index)
	}
	pr, _ := evt.ParseLeaf(e.log.Leaves()[6])
	if pr.Kind != evt.KindDataErased {
		t.Errorf("leaf 6 kind %q", pr.Kind)
	}
	// Idempotent.
	if er2, err := e.svc.Erase(ctx, e.p, "18501775544"); err != nil || er2 != er {
		t.Errorf("second erase: %v %v", er2, err)
	}
	if _, err := e.svc.Erase(ctx, e.p, "nobody"); !errors.Is(err, evidence.ErrNotFound) {
		t.Errorf("erasing unknown: %v", err)
	}
	check := func() {
		t.Helper()
		for i, o := range openSealed(t, e, rs) {
			subjectEvent := i >= 1 && i <= 4 // received, identity, intent, signed are 叶建华's
			if o.Erased != subjectEvent {
				t.Errorf("event %d erased=%v", i, o.Erased)
			}
			if subjectEvent {
				if !o.ErasedAt.Equal(t0) {
					t.Errorf("erased at %v", o.ErasedAt)
				}
				if o.ErasurePending || o.ErasureIndex != er.Index || o.ErasureLeafHash != er.LeafHash {
					t.Errorf("event %d: erasure leaf %d %s pending=%v, want %d %s", i, o.ErasureIndex, o.ErasureLeafHash, o.ErasurePending, er.Index, er.LeafHash)
				}
				for p := range o.Fields {
					if strings.HasPrefix(p, "actor.") {
						t.Errorf("event %d still opens %s", i, p)
					}
				}
			}
			if i != 2 && o.Fields["contract.id"].Value != "2125270852621565954" {
				t.Errorf("event %d lost its contract fields: %v", i, o.Paths())
			}
		}
	}
	check()
	// With the master key, after a restart: still unrecoverable.
	e.reopen(t)
	check()
	// Every proof still verifies.
	size := e.log.Size()
	root, _ := e.log.Root(size)
	for i, leaf := range e.log.Leaves() {
		pf, err := e.log.InclusionProof(uint64(i), size)
		if err != nil {
			t.Fatal(err)
		}
		if err := proof.VerifyInclusion(rfc6962.DefaultHasher, uint64(i), size, rfc6962.DefaultHasher.HashLeaf(leaf), pf, root); err != nil {
			t.Errorf("leaf %d: %v", i, err)
		}
	}
	// New events for the same account get a new key and open again.
	ev := event(0)
	ev["actor"].(map[string]any)["account"] = "18501775544"
	b, _ := json.Marshal(ev)
	r, err := e.svc.Ingest(ctx, e.p, b)
	if err != nil {
		t.Fatal(err)
	}
	var lh [32]byte
	hex.Decode(lh[:], []byte(r[0].LeafHash))
	if o, err := e.svc.OpenSealed(e.p.Tenant.ID, r[0].Index, lh); err != nil || o.Erased || o.Fields["actor.name"].Value != "叶建华" {
		t.Errorf("new event after erasure: %+v %v", o, err)
	}
	// Search by the erased account finds only the new contract.
	page, err := e.svc.Search(e.p, evidence.Query{Account: "18501775544"})
	if err != nil || len(page.Contracts) != 1 || page.Contracts[0].ID != "C000000" {
		t.Errorf("search by erased account: %+v %v", page, err)
	}
}

func TestMasterKeyRotation(t *testing.T) { testMasterKeyRotation(t, embedded) }

func testMasterKeyRotation(t *testing.T, bk backend) {
	e := newEnvOn(t, bk)
	ctx := context.Background()
	rs, err := e.svc.Ingest(ctx, e.p, demoBatch(t))
	if err != nil {
		t.Fatal(err)
	}
	e.svc.Close()
	newMaster, _ := evidence.GenerateMasterKey()
	n, err := e.tenants.RotateMasterKey(context.Background(), e.master, newMaster)
	if err != nil || n != 1 {
		t.Fatalf("rotate: %d %v", n, err)
	}
	if n, err := e.tenants.RotateMasterKey(context.Background(), e.master, newMaster); err != nil || n != 0 {
		t.Fatalf("re-run rotate: %d %v", n, err)
	}
	e.master = newMaster
	e.open(t)
	var lh [32]byte
	hex.Decode(lh[:], []byte(rs[2].LeafHash))
	o, err := e.svc.OpenSealed(e.p.Tenant.ID, rs[2].Index, lh)
	if err != nil || o.Fields["actor.id_number"].Value != "330106198801012345" {
		t.Errorf("after rotation: %+v %v", o, err)
	}
}

func TestMasterKeyLoading(t *testing.T) {
	dir := t.TempDir()
	env := func(string) string { return "" }
	k1, err := evidence.LoadMasterKey(dir, env)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := evidence.LoadMasterKey(dir, env)
	if err != nil || k1.ID() != k2.ID() {
		t.Fatalf("second load: %v %v", k2.ID(), err)
	}
	st, _ := os.Stat(filepath.Join(dir, evidence.MasterKeyFile))
	if st.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v", st.Mode())
	}
	k3, err := evidence.LoadMasterKey(dir, func(string) string { return strings.Repeat("11", 32) })
	if err != nil || k3.ID() == k1.ID() {
		t.Errorf("env key: %v %v", k3.ID(), err)
	}
	if _, err := evidence.LoadMasterKey(dir, func(string) string { return "zz" }); err == nil {
		t.Error("bad env key accepted")
	}
}

func TestDocuments(t *testing.T) { testDocuments(t, embedded) }

func testDocuments(t *testing.T, bk backend) {
	e := newEnvOn(t, bk)
	body := []byte("%PDF-1.7 劳动合同 ...")
	sum := fmt.Sprintf("%x", sha256Sum(body))
	if created, err := e.svc.PutDocument(e.p, sum, body); err != nil || !created {
		t.Fatal(created, err)
	}
	if created, err := e.svc.PutDocument(e.p, sum, body); err != nil || created {
		t.Fatal("second put", created, err)
	}
	got, err := e.svc.Document(e.p, sum)
	if err != nil || !bytes.Equal(got, body) {
		t.Fatalf("get: %q %v", got, err)
	}
	if _, err := e.svc.PutDocument(e.p, strings.Repeat("0", 64), body); !errors.Is(err, evidence.ErrInvalidDocument) {
		t.Errorf("mismatched hash: %v", err)
	}
	_, k2, _ := e.tenants.Create(context.Background(), e.master, "other", nil, t0)
	p2, _ := e.svc.Authenticate(k2)
	if _, err := e.svc.Document(p2, sum); !errors.Is(err, evidence.ErrNotFound) {
		t.Errorf("other tenant's document: %v", err)
	}
}

func TestSearch(t *testing.T) { testSearch(t, embedded) }

func testSearch(t *testing.T, bk backend) {
	e := newEnvOn(t, bk)
	ctx := context.Background()
	var evs []map[string]any
	for i := range 30 { // 10 contracts, 3 events each
		ev := event(i)
		ev["time"] = t0.Add(time.Duration(i/3) * 24 * time.Hour).Format(time.RFC3339)
		if i/3%2 == 1 {
			ev["contract"].(map[string]any)["name"] = "采购合同"
		}
		evs = append(evs, ev)
	}
	if _, err := e.svc.Ingest(ctx, e.p, batch(evs...)); err != nil {
		t.Fatal(err)
	}
	var ids []string
	q := evidence.Query{Limit: 3}
	for {
		page, err := e.svc.Search(e.p, q)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range page.Contracts {
			ids = append(ids, c.ID)
		}
		if page.Next == "" {
			break
		}
		q.Cursor = page.Next
	}
	if len(ids) != 10 || ids[0] != "C000000" || ids[9] != "C000009" {
		t.Errorf("paged all: %v", ids)
	}
	page, _ := e.svc.Search(e.p, evidence.Query{Name: "采购"})
	if len(page.Contracts) != 5 {
		t.Errorf("by name: %d", len(page.Contracts))
	}
	page, _ = e.svc.Search(e.p, evidence.Query{From: t0.Add(2 * 24 * time.Hour), To: t0.Add(5 * 24 * time.Hour)})
	if len(page.Contracts) != 3 || page.Contracts[0].ID != "C000002" {
		t.Errorf("by date: %+v", page.Contracts)
	}
	page, _ = e.svc.Search(e.p, evidence.Query{Account: "13800000004"})
	if len(page.Contracts) != 1 || page.Contracts[0].ID != "C000001" {
		t.Errorf("by account: %+v", page.Contracts)
	}
	if _, err := e.svc.Search(e.p, evidence.Query{Cursor: "zz"}); !errors.Is(err, evidence.ErrInvalidQuery) {
		t.Errorf("bad cursor: %v", err)
	}

	// Name and dates: the name index's first-event times decide, and follow
	// an event that moves a contract's first time earlier.
	day := func(d int) time.Time { return t0.Add(time.Duration(d) * 24 * time.Hour) }
	byNameAndDate := func(from, to time.Time) []string {
		t.Helper()
		page, err := e.svc.Search(e.p, evidence.Query{Name: "采购", From: from, To: to})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, c := range page.Contracts {
			got = append(got, c.ID)
		}
		slices.Sort(got)
		return got
	}
	if got := byNameAndDate(day(2), day(6)); !slices.Equal(got, []string{"C000003", "C000005"}) {
		t.Errorf("by name and dates: %v", got)
	}
	earlier := event(15) // contract C000005
	earlier["id"], earlier["time"] = "ev-earlier", day(-2).Format(time.RFC3339)
	earlier["contract"].(map[string]any)["name"] = "采购合同"
	if _, err := e.svc.Ingest(ctx, e.p, batch(earlier)); err != nil {
		t.Fatal(err)
	}
	if got := byNameAndDate(day(2), day(6)); !slices.Equal(got, []string{"C000003"}) {
		t.Errorf("by name and dates after an earlier event: %v", got)
	}
	if got := byNameAndDate(day(-3), day(0)); !slices.Equal(got, []string{"C000005"}) {
		t.Errorf("by name and the new first date: %v", got)
	}
	if got := byNameAndDate(time.Time{}, day(4)); !slices.Equal(got, []string{"C000001", "C000003", "C000005"}) {
		t.Errorf("by name, open start: %v", got)
	}
}

// TestSearchByNamePrefix: the name index is keyed by hashes of name
// prefixes; every prefix length still finds exactly the names starting
// with it, case-insensitively, and a renamed contract moves.
func TestSearchByNamePrefix(t *testing.T) { testSearchByNamePrefix(t, embedded) }

func testSearchByNamePrefix(t *testing.T, bk backend) {
	e := newEnvOn(t, bk)
	ctx := context.Background()
	names := []string{"采购合同", "采购框架协议", "劳动合同（叶建华）", "Lease Agreement 2026", "lease renewal", "采"}
	var evs []map[string]any
	for i, n := range names {
		ev := event(3 * i)
		ev["contract"].(map[string]any)["name"] = n
		evs = append(evs, ev)
	}
	if _, err := e.svc.Ingest(ctx, e.p, batch(evs...)); err != nil {
		t.Fatal(err)
	}
	search := func(name string) []string {
		t.Helper()
		page, err := e.svc.Search(e.p, evidence.Query{Name: name})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, c := range page.Contracts {
			got = append(got, c.Name)
		}
		slices.Sort(got)
		return got
	}
	for _, tc := range []struct {
		q    string
		want []string
	}{
		{"采", []string{"采", "采购合同", "采购框架协议"}},
		{"采购", []string{"采购合同", "采购框架协议"}},
		{"采购合", []string{"采购合同"}},
		{"采购合同", []string{"采购合同"}},
		{"采购合同书", nil},
		{"劳动合同（叶建", []string{"劳动合同（叶建华）"}},
		{"劳动合同（叶建华）", []string{"劳动合同（叶建华）"}},
		{"LEASE", []string{"Lease Agreement 2026", "lease renewal"}},
		{"lease a", []string{"Lease Agreement 2026"}},
		{"Lease Agreement 2026", []string{"Lease Agreement 2026"}},
		{"Lease Agreement 2027", nil},
		{"租", nil},
	} {
		if got := search(tc.q); !slices.Equal(got, tc.want) {
			t.Errorf("name %q: %q, want %q", tc.q, got, tc.want)
		}
	}
	renamed := event(0)
	renamed["id"] = "ev-renamed"
	renamed["contract"].(map[string]any)["name"] = "租赁合同"
	if _, err := e.svc.Ingest(ctx, e.p, batch(renamed)); err != nil {
		t.Fatal(err)
	}
	if got := search("采购"); !slices.Equal(got, []string{"采购框架协议"}) {
		t.Errorf("old name after the rename: %q", got)
	}
	if got := search("租赁"); !slices.Equal(got, []string{"租赁合同"}) {
		t.Errorf("new name after the rename: %q", got)
	}
}

// TestMigratesClearContracts: a store written before contract numbers and
// names were sealed holds them in the clear; the next Open seals them, and
// numbers, names and documents are found as before.
func TestMigratesClearContracts(t *testing.T) { testMigratesClearContracts(t, embedded) }

func testMigratesClearContracts(t *testing.T, bk backend) {
	e := newEnvOn(t, bk)
	ctx := context.Background()
	body := bytes.ReplaceAll(demoBatch(t), []byte(`"name":"劳动合同"}`), []byte(`"name":"劳动合同（叶建华）"}`))
	if _, err := e.svc.Ingest(ctx, e.p, body); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.RewriteAsBeforeBinaryForms(e.p.Tenant.ID); err != nil {
		t.Fatal(err)
	}
	needles := [][]byte{[]byte("2125270852621565954"), []byte("劳动合同（叶建华）")}
	if found, err := e.svc.StoreHolds(needles); err != nil || len(found) < 3 {
		t.Fatalf("the earlier form holds %q, %v; want the record, the name index and a document entry", found, err)
	}
	e.reopen(t)
	if found, err := e.svc.StoreHolds(needles); err != nil || len(found) != 0 {
		t.Errorf("after the migration the store holds %q, %v", found, err)
	}
	v, err := e.svc.Contract(e.p, "2125270852621565954")
	if err != nil || v.Name != "劳动合同（叶建华）" || len(v.Events) != 5 {
		t.Fatalf("by number: %+v, %v", v, err)
	}
	page, err := e.svc.Search(e.p, evidence.Query{Name: "劳动合同（叶"})
	if err != nil || len(page.Contracts) != 1 || page.Contracts[0].ID != "2125270852621565954" {
		t.Fatalf("by name: %+v, %v", page, err)
	}
	if docs, err := e.svc.LookupDocument("5e1f0d2c3b4a59687766554433221100ffeeddccbbaa99887766554433221100"); err != nil ||
		len(docs) != 2 || docs[0].ContractID != "2125270852621565954" {
		t.Fatalf("by document: %+v, %v", docs, err)
	}
	// And the migrated contract takes new events.
	ev := event(1)
	ev["contract"] = map[string]any{"id": "2125270852621565954", "name": "劳动合同（叶建华）"}
	if _, err := e.svc.Ingest(ctx, e.p, batch(ev)); err != nil {
		t.Fatal(err)
	}
	if v, err := e.svc.Contract(e.p, "2125270852621565954"); err != nil || len(v.Events) != 6 {
		t.Errorf("after a new event: %+v, %v", v, err)
	}
}

// TestContractFieldsNotOnDisk greps every file of the evidence directory
// (tenant files, Pebble's SSTables, blob files, WAL, MANIFEST), with the
// store closed, for every personal value of a contract, its number and
// its name among them: before the erasure of a signer only ciphertext, and
// after it nothing, neither in a store written by this version nor in one
// written by the version before that Open migrated.
func TestContractFieldsNotOnDisk(t *testing.T) {
	ctx := context.Background()
	body := bytes.ReplaceAll(demoBatch(t), []byte(`"name":"劳动合同"}`), []byte(`"name":"劳动合同（叶建华）"}`))
	values := []string{
		"2125270852621565954", "劳动合同（叶建华）", "叶建华", "18501775544", "330106198801012345",
		"112.17.116.54", "戴文潘", "weimei_pan@bestsign.cn", "60.12.241.194", "548f6d36e1bf4c578fde8327c38f6fb1",
	}
	var needles [][]byte
	for _, v := range values {
		needles = append(needles, []byte(v))
	}
	for _, older := range []bool{false, true} {
		t.Run(map[bool]string{false: "current", true: "migrated"}[older], func(t *testing.T) {
			e := newEnv(t)
			rs, err := e.svc.Ingest(ctx, e.p, body)
			if err != nil {
				t.Fatal(err)
			}
			if older {
				if _, err := e.svc.RewriteAsBeforeBinaryForms(e.p.Tenant.ID); err != nil {
					t.Fatal(err)
				}
				e.svc.Close()
				// The scan must see the store's files, or it proves nothing.
				if !dirContains(discardT{t}, e.dir, [][]byte{[]byte("2125270852621565954"), []byte("劳动合同（叶建华）")}) {
					t.Fatal("the earlier version's clear text is not on disk; the scan is blind")
				}
				e.open(t)
			}
			holds := func(when string) {
				t.Helper()
				found, err := e.svc.StoreHolds(needles)
				if err != nil {
					t.Fatal(err)
				}
				for _, f := range found {
					t.Errorf("%s: the store holds %s", when, f)
				}
			}
			holds("before the erasure")
			e.svc.Close()
			if !older && !dirContains(discardT{t}, e.dir, [][]byte{[]byte("demo-signed")}) {
				t.Fatal("an event id is not on disk; the scan is blind")
			}
			if dirContains(t, e.dir, needles) {
				t.Error("a personal value is on disk in the clear before the erasure")
			}
			e.open(t)
			// Search by number, by name and by document hash still work.
			v, err := e.svc.Contract(e.p, "2125270852621565954")
			if err != nil || v.Name != "劳动合同（叶建华）" {
				t.Fatalf("by number: %+v, %v", v, err)
			}
			page, err := e.svc.Search(e.p, evidence.Query{Name: "劳动合同（叶"})
			if err != nil || len(page.Contracts) != 1 || page.Contracts[0].ID != "2125270852621565954" {
				t.Fatalf("by name: %+v, %v", page, err)
			}
			if docs, err := e.svc.LookupDocument("9c3d2c1f6a0b8e7d5c4b3a29180f7e6d5c4b3a29180f7e6d5c4b3a29180f7e6d"); err != nil ||
				len(docs) == 0 || docs[0].ContractID != "2125270852621565954" {
				t.Fatalf("by document: %+v, %v", docs, err)
			}
			if _, err := e.svc.Erase(ctx, e.p, "18501775544"); err != nil {
				t.Fatal(err)
			}
			if err := e.svc.WaitShredded(ctx); err != nil {
				t.Fatal(err)
			}
			holds("after the erasure")
			e.svc.Close()
			if dirContains(t, e.dir, needles) {
				t.Error("a personal value is on disk in the clear after the erasure")
			}
			e.open(t)
			for _, o := range openSealed(t, e, rs) {
				if f, ok := o.Fields["actor.name"]; ok && f.Value == "叶建华" {
					t.Error("an erased signer's name still opens")
				}
			}
		})
	}
}

func FuzzParseEvents(f *testing.F) {
	b, _ := os.ReadFile("testdata/demo_batch.json")
	f.Add(b)
	e, _ := json.Marshal(event(1))
	f.Add(e)
	f.Add([]byte(`{"events":[{"id":"a","id":"b"}]}`))
	f.Add([]byte("{\"id\":\"\xff\"}"))
	f.Add([]byte(strings.Repeat("[", 50)))
	f.Fuzz(func(t *testing.T, body []byte) {
		evs, err := evt.ParseEvents(body)
		if err != nil {
			if !errors.Is(err, evt.ErrInvalidEvent) {
				t.Fatalf("error %v does not wrap ErrInvalidEvent", err)
			}
			return
		}
		if len(evs) == 0 || len(evs) > evt.MaxBatch {
			t.Fatalf("%d events accepted", len(evs))
		}
	})
}

func TestLoadDemo(t *testing.T) { testLoadDemo(t, embedded) }

func testLoadDemo(t *testing.T, bk backend) {
	e := newEnvOn(t, bk)
	ctx := context.Background()
	files := &evidence.DemoFiles{
		Sent:      []byte("%PDF-1.7 demo, as sent"),
		Completed: []byte("%PDF-1.7 demo, as sent, signed"),
		// Fractions of a second: the events, dated to the second, must
		// still not precede the signature.
		SignedAt: time.Date(2026, 12, 5, 13, 38, 34, 500, time.UTC),
	}
	d1, err := e.svc.LoadDemo(ctx, files)
	if err != nil {
		t.Fatal(err)
	}
	e.reopen(t)
	d2, err := e.svc.LoadDemo(ctx, files)
	if err != nil {
		t.Fatal(err)
	}
	if d1.APIKey != d2.APIKey || d1.Tenant.ID != d2.Tenant.ID || fmt.Sprint(d1.Receipts) != fmt.Sprint(d2.Receipts) || d1.Earlier || d2.Earlier {
		t.Errorf("second load differs: %+v vs %+v", d1, d2)
	}
	// The seed's six events and the employer's intent check and seal: the
	// contract's two signers both sign (the seed's page shows one).
	if e.log.Size() != 8 {
		t.Errorf("log size %d after two loads", e.log.Size())
	}
	p, err := e.svc.Authenticate(d1.APIKey)
	if err != nil {
		t.Fatal(err)
	}
	v, err := e.svc.Contract(p, evidence.DemoContractID)
	if err != nil || len(v.Events) != 7 {
		t.Fatalf("demo contract: %+v %v", v, err)
	}
	sentSum, doneSum := sha256Sum(files.Sent), sha256Sum(files.Completed)
	sent, done := hex.EncodeToString(sentSum[:]), hex.EncodeToString(doneSum[:])
	// The platform signs once, at completion: the signers' events name
	// the document they were shown (the sent one), only the completion
	// names the signed PDF, and nothing names it before it was signed.
	completed := time.Date(2026, 12, 5, 13, 38, 35, 0, time.UTC)
	named := map[string][]string{}
	for _, leaf := range e.log.Leaves() {
		pr, err := evt.ParseLeaf(leaf)
		if err != nil {
			t.Fatal(err)
		}
		at, err := time.Parse(time.RFC3339, pr.Time)
		if err != nil {
			t.Fatal(err)
		}
		if at.After(completed) || completed.Sub(at) > 10*time.Minute {
			t.Errorf("%s at %v, the PDF signed at %v", pr.Kind, at, files.SignedAt)
		}
		for _, h := range pr.DocumentHashes() {
			named[h] = append(named[h], string(pr.Kind))
			if h == done && at.Before(files.SignedAt) {
				t.Errorf("%s at %v names the signed PDF, signed at %v", pr.Kind, at, files.SignedAt)
			}
		}
		if pr.Kind == evt.KindContractCompleted && !at.Equal(completed) {
			t.Errorf("completed at %v, want %v (the signature rounded up to the second)", at, completed)
		}
	}
	want := map[string][]string{
		sent: {"contract.sent", "contract.signed", "contract.signed"},
		done: {"contract.completed"},
	}
	if fmt.Sprint(named) != fmt.Sprint(want) {
		t.Errorf("documents named: %v, want %v", named, want)
	}
	for h, doc := range map[string][]byte{sent: files.Sent, done: files.Completed} {
		ms, err := e.svc.LookupDocument(h)
		if err != nil || len(ms) != len(want[h]) || ms[0].ContractID != evidence.DemoContractID {
			t.Errorf("demo document lookup %s: %+v %v", h, ms, err)
		}
		if got, err := e.svc.Document(p, h); err != nil || !bytes.Equal(got, doc) {
			t.Errorf("demo document %s: %v", h, err)
		}
	}
}

// TestLoadDemoKeepsEarlierDates: a data directory whose demo an earlier
// version recorded otherwise (the seed's dates; or only the signed PDF kept)
// starts as before: its events stand and nothing more is recorded.
func TestLoadDemoKeepsEarlierDates(t *testing.T) {
	e := newEnvOn(t, embedded)
	ctx := context.Background()
	files := &evidence.DemoFiles{Sent: []byte("%PDF-1.7 demo"), Completed: []byte("%PDF-1.7 demo, signed")}
	d1, err := e.svc.LoadDemo(ctx, files)
	if err != nil || d1.Earlier || e.log.Size() != 6 {
		t.Fatalf("first load: %+v %v, log size %d", d1, err, e.log.Size())
	}
	for _, f := range []*evidence.DemoFiles{
		{Sent: files.Sent, Completed: files.Completed, SignedAt: time.Date(2026, 12, 5, 13, 38, 34, 0, time.UTC)},
		{Completed: files.Completed, SignedAt: time.Date(2026, 12, 5, 13, 38, 34, 0, time.UTC)},
	} {
		d2, err := e.svc.LoadDemo(ctx, f)
		if err != nil || !d2.Earlier || d2.APIKey != d1.APIKey || e.log.Size() != 6 {
			t.Errorf("second load: %+v %v, log size %d", d2, err, e.log.Size())
		}
	}
}

func TestRecords(t *testing.T) { testRecords(t, embedded) }

func testRecords(t *testing.T, bk backend) {
	e := newEnvOn(t, bk)
	ctx := context.Background()
	if _, err := e.svc.Ingest(ctx, e.p, demoBatch(t)); err != nil {
		t.Fatal(err)
	}
	leaf := func(_ context.Context, i uint64) ([]byte, error) { return e.log.Leaves()[i], nil }
	v, recs, err := e.svc.Records(ctx, e.p, "2125270852621565954", leaf)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, r := range recs {
		kinds = append(kinds, string(r.Public.Kind))
	}
	want := "contract.sent contract.received identity.checked intent.verified contract.signed contract.completed"
	if strings.Join(kinds, " ") != want || v.ID != "2125270852621565954" {
		t.Errorf("records kinds %v\nwant %s", kinds, want)
	}
	if got := recs[2].Opened.Fields["actor.id_number"].Value; got != "330106198801012345" {
		t.Errorf("identity record id number %q", got)
	}
	if _, err := e.svc.Erase(ctx, e.p, "18501775544"); err != nil {
		t.Fatal(err)
	}
	_, recs, err = e.svc.Records(ctx, e.p, "2125270852621565954", leaf)
	if err != nil {
		t.Fatal(err)
	}
	if !recs[2].Opened.Erased || recs[0].Opened.Erased || recs[0].Opened.Fields["actor.name"].Value != "戴文潘" {
		t.Errorf("after erasure: %+v / %+v", recs[2].Opened, recs[0].Opened)
	}
	// A leaf reader that lies is caught.
	bad := func(_ context.Context, i uint64) ([]byte, error) { return e.log.Leaves()[(i+1)%6], nil }
	if _, _, err := e.svc.Records(ctx, e.p, "2125270852621565954", bad); err == nil {
		t.Error("mismatched leaf accepted")
	}
}

// TestErasureOnDisk checks that after an erasure no file of the store holds
// the subject's wrapped key any more (flush and compaction pushed the
// deletion through), so even the master key and a copy of the disk taken
// afterwards cannot bring the sealed fields back.
func TestErasureOnDisk(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if _, err := e.svc.Ingest(ctx, e.p, demoBatch(t)); err != nil {
		t.Fatal(err)
	}
	stored := e.svc.WrappedSubjectKey(e.p.Tenant.ID, "18501775544")
	if stored == nil {
		t.Fatal("no stored key")
	}
	var sk struct{ Wrapped []byte }
	if err := json.Unmarshal(stored, &sk); err != nil || len(sk.Wrapped) < 32 {
		t.Fatalf("stored key %s: %v", stored, err)
	}
	needles := [][]byte{sk.Wrapped, []byte(base64Std(sk.Wrapped))}
	// Before the erasure the scan must find it (else it proves nothing).
	if !dirContains(t, e.dir, needles) {
		t.Fatal("wrapped key not found on disk before erasure; the scan is blind")
	}
	if _, err := e.svc.Erase(ctx, e.p, "18501775544"); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.WaitShredded(ctx); err != nil {
		t.Fatal(err)
	}
	if eventuallyContains(t, e.dir, needles) {
		t.Error("the wrapped key is still in a file after erasure")
	}
	e.svc.Close()
	if dirContains(t, e.dir, needles) {
		t.Error("the wrapped key is in a file after erasure and close")
	}
}

// TestErasureShreddedAfterCrash: an erasure whose key was not yet pushed
// out of the files when the process stopped is shredded by the next Open.
func TestErasureShreddedAfterCrash(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if _, err := e.svc.Ingest(ctx, e.p, demoBatch(t)); err != nil {
		t.Fatal(err)
	}
	var sk struct{ Wrapped []byte }
	if err := json.Unmarshal(e.svc.WrappedSubjectKey(e.p.Tenant.ID, "18501775544"), &sk); err != nil {
		t.Fatal(err)
	}
	needles := [][]byte{sk.Wrapped, []byte(base64Std(sk.Wrapped))}
	// In an SSTable, where only a compaction removes it.
	if err := e.svc.FlushStore(); err != nil {
		t.Fatal(err)
	}
	e.svc.StopShredding()
	if _, err := e.svc.Erase(ctx, e.p, "18501775544"); err != nil {
		t.Fatal(err)
	}
	e.svc.Close()
	if !dirContains(t, e.dir, needles) {
		t.Fatal("the unshredded key is not on disk; the test proves nothing")
	}
	e.open(t)
	if err := e.svc.WaitShredded(ctx); err != nil {
		t.Fatal(err)
	}
	if eventuallyContains(t, e.dir, needles) {
		t.Error("the wrapped key is still in a file after the reopen shredded it")
	}
	e.svc.Close()
	if dirContains(t, e.dir, needles) {
		t.Error("the wrapped key is in a file after close")
	}
}

// eventuallyContains is dirContains once Pebble's background deletion of
// obsolete files had its chance: it reports whether a needle is still in
// a file after 10 seconds of looking.
func eventuallyContains(t *testing.T, dir string, needles [][]byte) bool {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if !dirContains(discardT{t}, dir, needles) {
			return false
		}
	}
	return dirContains(t, dir, needles)
}

// discardT is a testing.TB whose Logf says nothing, for polling.
type discardT struct{ testing.TB }

func (discardT) Logf(string, ...any) {}
func (discardT) Helper()             {}

func dirContains(t testing.TB, dir string, needles [][]byte) bool {
	t.Helper()
	found := false
	filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, n := range needles {
			if bytes.Contains(b, n) {
				t.Logf("found in %s", p)
				found = true
			}
		}
		return nil
	})
	return found
}

// TestErasureAppendFails: the key is destroyed even when the data.erased
// append fails; the retry appends it once.
func TestErasureAppendFails(t *testing.T) { testErasureAppendFails(t, embedded) }

func testErasureAppendFails(t *testing.T, bk backend) {
	e := newEnvOn(t, bk)
	ctx := context.Background()
	rs, err := e.svc.Ingest(ctx, e.p, demoBatch(t))
	if err != nil {
		t.Fatal(err)
	}
	e.log.Fail = func([][]byte) error { return errors.New("log down") }
	if _, err := e.svc.Erase(ctx, e.p, "18501775544"); err == nil {
		t.Fatal("erase with a failing log succeeded")
	}
	e.log.Fail = nil
	var lh [32]byte
	hex.Decode(lh[:], []byte(rs[1].LeafHash))
	if o, err := e.svc.OpenSealed(e.p.Tenant.ID, rs[1].Index, lh); err != nil || !o.Erased || !o.ErasurePending {
		t.Fatalf("after failed erase: %+v %v", o, err)
	}
	r, err := e.svc.Erase(ctx, e.p, "18501775544")
	if err != nil || r.Index != 6 || e.log.Size() != 7 {
		t.Fatalf("retry: %+v %v size %d", r, err, e.log.Size())
	}
	if o, err := e.svc.OpenSealed(e.p.Tenant.ID, rs[1].Index, lh); err != nil || o.ErasurePending || o.ErasureIndex != 6 || o.ErasureLeafHash != r.LeafHash {
		t.Fatalf("after the retried erase: %+v %v", o, err)
	}
	if r2, err := e.svc.Erase(ctx, e.p, "18501775544"); err != nil || r2 != r || e.log.Size() != 7 {
		t.Fatalf("third erase: %+v %v", r2, err)
	}
}

// TestErasureBeforePendingCompletes: an event whose append failed is
// completed by its retry after its subject was erased; the account index
// must not point at the erased person again.
func TestErasureBeforePendingCompletes(t *testing.T) { testErasureBeforePendingCompletes(t, embedded) }

func testErasureBeforePendingCompletes(t *testing.T, bk backend) {
	e := newEnvOn(t, bk)
	ctx := context.Background()
	if _, err := e.svc.Ingest(ctx, e.p, demoBatch(t)); err != nil {
		t.Fatal(err)
	}
	ev := event(6) // the sending of C000002
	ev["actor"].(map[string]any)["account"] = "18501775544"
	body, _ := json.Marshal(ev)
	e.log.Fail = func([][]byte) error { return errors.New("log down") }
	if _, err := e.svc.Ingest(ctx, e.p, body); err == nil {
		t.Fatal("ingest with a failing log succeeded")
	}
	e.log.Fail = nil
	if _, err := e.svc.Erase(ctx, e.p, "18501775544"); err != nil {
		t.Fatal(err)
	}
	rs, err := e.svc.Ingest(ctx, e.p, body)
	if err != nil {
		t.Fatal(err)
	}
	var lh [32]byte
	hex.Decode(lh[:], []byte(rs[0].LeafHash))
	if o, err := e.svc.OpenSealed(e.p.Tenant.ID, rs[0].Index, lh); err != nil || !o.Erased {
		t.Errorf("event sealed before the erasure: %+v %v", o, err)
	}
	page, err := e.svc.Search(e.p, evidence.Query{Account: "18501775544"})
	if err != nil || len(page.Contracts) != 0 {
		t.Errorf("search by the erased account: %+v %v", page, err)
	}
	if _, err := e.svc.Contract(e.p, "C000002"); err != nil {
		t.Errorf("the event's contract: %v", err)
	}
}

// TestErasureOvertakesIngest: an erasure no longer waits for a request
// whose claims are durable to reach the log; when it commits between that
// request's claims and its finalize, the finalize must not put the erased
// account back in the account index.
func TestErasureOvertakesIngest(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if _, err := e.svc.Ingest(ctx, e.p, demoBatch(t)); err != nil {
		t.Fatal(err)
	}
	ev := event(6) // the sending of C000002
	ev["actor"].(map[string]any)["account"] = "18501775544"
	body, _ := json.Marshal(ev)
	reached, resume := make(chan struct{}), make(chan struct{})
	var once sync.Once
	e.log.Fail = func([][]byte) error {
		held := false
		once.Do(func() { held = true })
		if held {
			close(reached)
			<-resume
		}
		return nil
	}
	ingested := make(chan error, 1)
	go func() {
		_, err := e.svc.Ingest(ctx, e.p, body)
		ingested <- err
	}()
	<-reached // the event's claim is durable, its leaf not yet appended
	erased := make(chan error, 1)
	go func() {
		_, err := e.svc.Erase(ctx, e.p, "18501775544")
		erased <- err
	}()
	select {
	case err := <-erased:
		if err != nil {
			t.Fatal(err)
		}
		close(resume)
	case <-time.After(10 * time.Second):
		t.Error("the erasure waited for an ingest request's log append")
		close(resume)
		if err := <-erased; err != nil {
			t.Fatal(err)
		}
	}
	if err := <-ingested; err != nil {
		t.Fatal(err)
	}
	page, err := e.svc.Search(e.p, evidence.Query{Account: "18501775544"})
	if err != nil || len(page.Contracts) != 0 {
		t.Errorf("search by the erased account: %+v %v", page, err)
	}
	if _, err := e.svc.Contract(e.p, "C000002"); err != nil {
		t.Errorf("the event's contract: %v", err)
	}
}

// TestDamagedTenantFile: one damaged tenant file does not lock the others
// out of the server, and the CLI refuses to write around it.
func TestDamagedTenantFile(t *testing.T) {
	e := newEnv(t)
	if err := os.WriteFile(filepath.Join(e.dir, "tenants", "tffff.json"), []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.ReloadTenants(); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Authenticate(e.key); err != nil {
		t.Errorf("good tenant after a damaged file appeared: %v", err)
	}
	e.reopen(t)
	if !strings.Contains(e.logBuf.String(), "tenant file skipped") {
		t.Error("damaged file not logged")
	}
	if _, _, err := evidence.CreateTenant(e.dir, e.master, "new", nil, t0); err == nil {
		t.Error("CLI created a tenant beside a damaged file")
	}
}

// A data directory written before the index entries, contract records and
// sealed parts had their binary forms reads the same, and its contracts
// take new events.
func TestReadsValuesWrittenBeforeBinaryForms(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	rs, err := e.svc.Ingest(ctx, e.p, batch(event(0), event(1)))
	if err != nil {
		t.Fatal(err)
	}
	type snapshot struct {
		View   *evidence.ContractView
		Docs   []evidence.DocumentMatch
		Sealed []*evidence.Opened
	}
	take := func() snapshot {
		t.Helper()
		var s snapshot
		if s.View, err = e.svc.Contract(e.p, "C000000"); err != nil {
			t.Fatal(err)
		}
		if s.Docs, err = e.svc.LookupDocument(strings.Repeat("ab", 32)); err != nil {
			t.Fatal(err)
		}
		s.Sealed = openSealed(t, e, rs)
		return s
	}
	before := take()
	n, err := e.svc.RewriteAsBeforeBinaryForms(e.p.Tenant.ID)
	if err != nil {
		t.Fatal(err)
	}
	if n < 2+1+1+2 { // entries, the signature's document entry, the contract, sealed records
		t.Fatalf("rewrote %d values", n)
	}
	e.reopen(t) // no cached contract record or key
	if diff := cmp.Diff(before, take()); diff != "" {
		t.Errorf("read back after the rewrite (-before +after):\n%s", diff)
	}
	if _, err := e.svc.Ingest(ctx, e.p, batch(event(2))); err != nil {
		t.Fatal(err)
	}
	v, err := e.svc.Contract(e.p, "C000000")
	if err != nil || len(v.Events) != 3 || v.Name != "劳动合同" {
		t.Errorf("contract after a new event: %+v, %v", v, err)
	}
}

// openSealed opens the sealed record of every receipt, which must be the
// log's leaves from 0 on, and checks its fields against the leaf's
// commitments.
func openSealed(t *testing.T, e *env, rs []evidence.Receipt) []*evidence.Opened {
	t.Helper()
	leaves := e.log.Leaves()
	var out []*evidence.Opened
	for i, r := range rs {
		var lh [32]byte
		hex.Decode(lh[:], []byte(r.LeafHash))
		o, err := e.svc.OpenSealed(e.p.Tenant.ID, r.Index, lh)
		if err != nil {
			t.Fatal(err)
		}
		if err := o.Check(leaves[i]); err != nil {
			t.Error(err)
		}
		out = append(out, o)
	}
	return out
}
