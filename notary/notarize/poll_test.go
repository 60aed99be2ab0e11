package notarize

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/cunzheng/cunzheng/evidence"
	"github.com/cunzheng/cunzheng/evidence/event"
	"github.com/cunzheng/cunzheng/ledger/tlogfmt"
	"github.com/cunzheng/cunzheng/notary"
	"github.com/cunzheng/cunzheng/report"
)

// ledgerRecorder keeps the notarisation events recorded, as the ledger
// would, once per kind and request.
type ledgerRecorder struct {
	mu     sync.Mutex
	events []evidence.Notarization
	under  []evidence.OpenNotarization // tenant and contract of each event
}

func (l *ledgerRecorder) RecordNotarization(_ context.Context, p evidence.Principal, id string, n evidence.Notarization) (evidence.Receipt, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !p.Has(evidence.RoleLegal) {
		return evidence.Receipt{}, evidence.ErrForbidden
	}
	for _, e := range l.events {
		if e.Kind == n.Kind && e.Request == n.Request {
			return evidence.Receipt{}, nil
		}
	}
	l.events = append(l.events, n)
	l.under = append(l.under, evidence.OpenNotarization{Tenant: p.Tenant, Contract: id})
	return evidence.Receipt{}, nil
}

// openNotarizations lists the requests without an answer, as
// (*evidence.Service).OpenNotarizations does from the store.
func (l *ledgerRecorder) openNotarizations(context.Context) ([]evidence.OpenNotarization, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []evidence.OpenNotarization
	for i, e := range l.events {
		if e.Kind != "notarization.requested" || slices.ContainsFunc(l.events, func(a evidence.Notarization) bool {
			return a.Request == e.Request && a.Kind != e.Kind
		}) {
			continue
		}
		out = append(out, evidence.OpenNotarization{Tenant: l.under[i].Tenant, Contract: l.under[i].Contract,
			Request: e.Request, Office: e.Office, Requested: e.Time})
	}
	return out, nil
}

func (l *ledgerRecorder) tenantOf(kind, request string) (string, string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i, e := range l.events {
		if string(e.Kind) == kind && e.Request == request {
			return l.under[i].Tenant.ID, l.under[i].Contract
		}
	}
	return "", ""
}

func (l *ledgerRecorder) kinds() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, e := range l.events {
		out = append(out, string(e.Kind))
	}
	return out
}

// bundleIssuer issues a minimal evidence bundle naming contract ref "C-ref".
type bundleIssuer struct{ t *testing.T }

func (b bundleIssuer) Issue(context.Context, string, string, string, string, bool) ([]byte, report.Issuance, error) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	m, _ := json.Marshal(tlogfmt.Manifest{Format: tlogfmt.BundleFormat, Checkpoints: []tlogfmt.ManifestCheckpoint{{}},
		Events: []tlogfmt.ManifestEvent{{Leaf: "leaves/0.json"}}})
	for name, data := range map[string][]byte{"manifest.json": m, "leaves/0.json": []byte(`{"contract":"C-ref"}`)} {
		w, err := zw.Create(name)
		if err != nil {
			b.t.Fatal(err)
		}
		w.Write(data)
	}
	if err := zw.Close(); err != nil {
		b.t.Fatal(err)
	}
	sum := sha256.Sum256(buf.Bytes())
	return buf.Bytes(), report.Issuance{SHA256: hex.EncodeToString(sum[:])}, nil
}

// testOffice is a notary office over HTTP that checks the log's signature
// on each request, keeps it pending until issue is called, and answers
// GET /v1/requests/ID with its record.
type testOffice struct {
	mu       sync.Mutex
	verifier note.Verifier
	recs     map[string]notary.RequestRecord
	asked    int
	// anonymous counts the reads without a valid fetch note.
	anonymous int
}

func (o *testOffice) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	o.mu.Lock()
	defer o.mu.Unlock()
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/v1/requests":
		f, _, err := r.FormFile("request")
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		msg, _ := io.ReadAll(f)
		n, err := note.Open(msg, note.VerifierList(o.verifier))
		if err != nil {
			http.Error(w, "request not signed by the log: "+err.Error(), http.StatusForbidden)
			return
		}
		req, err := notary.ParseRequestText(n.Text)
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		rec := notary.RequestRecord{Request: req, Note: string(msg), ReceivedAt: time.Now().UTC(), Status: notary.RequestVerified}
		o.recs[req.ID] = rec
		json.NewEncoder(w).Encode(rec)
	case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/v1/requests/"):
		o.asked++
		id := strings.TrimPrefix(r.URL.Path, "/v1/requests/")
		rec, ok := o.recs[id]
		if !ok {
			http.NotFound(w, r)
			return
		}
		// As the office: the full record (a refusal's reason) only to
		// the log that signed the fetch, what is public to anyone else.
		if _, err := notary.CheckFetch(r.Header.Get("Authorization"), id, time.Now(), func(string) (note.Verifier, error) { return o.verifier, nil }); err != nil {
			o.anonymous++
			rec = rec.Public()
		}
		json.NewEncoder(w).Encode(rec)
	default:
		http.NotFound(w, r)
	}
}

func (o *testOffice) issue(id string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	rec := o.recs[id]
	rec.Status, rec.CertificateSHA256, rec.IssuedAt = notary.RequestIssued, strings.Repeat("ab", 32), time.Now().UTC()
	o.recs[id] = rec
}

// TestPoll: a request the office still holds open is asked about on each
// poll and its answer recorded once, without anyone asking in the console;
// an answered request is no longer asked about, and an office that is
// down is asked again on the next poll.
func TestPoll(t *testing.T) {
	ctx := context.Background()
	skey, vkey, err := note.GenerateKey(rand.Reader, "cunzheng.example/log")
	if err != nil {
		t.Fatal(err)
	}
	signer, _ := note.NewSigner(skey)
	verifier, _ := note.NewVerifier(vkey)
	office := &testOffice{verifier: verifier, recs: map[string]notary.RequestRecord{}}
	srv := httptest.NewServer(office)
	defer srv.Close()
	lg := &ledgerRecorder{}
	s, err := New(Config{Evidence: lg, Reports: bundleIssuer{t}, Signers: []note.Signer{signer}, Origin: "cunzheng.example/log",
		Offices: []Office{{Name: "office-a", URL: srv.URL}}})
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.DiscardHandler)
	p := evidence.Principal{Tenant: evidence.Tenant{ID: "t1"}, Roles: []evidence.Role{evidence.RoleLegal}}

	rec, err := s.Request(ctx, p, "c1", "office-a", "t1/legal")
	if err != nil {
		t.Fatal(err)
	}
	if got := lg.kinds(); len(got) != 1 || got[0] != "notarization.requested" {
		t.Fatalf("recorded %q, want the request only", got)
	}
	if s.Open() != 1 {
		t.Fatalf("%d open requests, want 1", s.Open())
	}
	if n := s.PollOnce(ctx, logger); n != 0 || len(lg.kinds()) != 1 {
		t.Fatalf("poll of a pending request recorded %d: %q", n, lg.kinds())
	}

	office.issue(rec.ID)
	srv.Close() // the office is down for a while
	if n := s.PollOnce(ctx, logger); n != 0 || s.Open() != 1 {
		t.Fatalf("poll with the office down: %d recorded, %d open", n, s.Open())
	}
	srv = httptest.NewUnstartedServer(office)
	srv.Listener.Close()
	srv.Listener, err = netListen(s.cfg.Offices[0].URL)
	if err != nil {
		t.Skipf("the office's port was taken meanwhile: %v", err)
	}
	srv.Start()
	defer srv.Close()

	if n := s.PollOnce(ctx, logger); n != 1 {
		t.Fatalf("poll after the issue recorded %d, want 1", n)
	}
	if got := lg.kinds(); len(got) != 2 || got[1] != "notarization.issued" || lg.events[1].CertificateSHA256 != strings.Repeat("ab", 32) {
		t.Fatalf("recorded %q", got)
	}
	office.mu.Lock()
	asked := office.asked
	office.mu.Unlock()
	if n := s.PollOnce(ctx, logger); n != 0 || s.Open() != 0 {
		t.Fatalf("an answered request polled again: %d recorded, %d open", n, s.Open())
	}
	office.mu.Lock()
	defer office.mu.Unlock()
	if office.asked != asked {
		t.Errorf("the office was asked %d more times about an answered request", office.asked-asked)
	}
	if office.anonymous != 0 {
		t.Errorf("%d reads of the office's records were not signed by the log", office.anonymous)
	}
}

// TestPollResumes: requests the ledger holds open, sent before a restart
// (a new Service knows nothing of them), are asked about on the first poll
// and their answers recorded under their own tenant and contract; one to an
// office no longer configured is left open, and not asked about.
func TestPollResumes(t *testing.T) {
	ctx := context.Background()
	skey, vkey, _ := note.GenerateKey(rand.Reader, "cunzheng.example/log")
	signer, _ := note.NewSigner(skey)
	verifier, _ := note.NewVerifier(vkey)
	office := &testOffice{verifier: verifier, recs: map[string]notary.RequestRecord{}}
	srv := httptest.NewServer(office)
	defer srv.Close()
	gone := &testOffice{verifier: verifier, recs: map[string]notary.RequestRecord{}}
	srvGone := httptest.NewServer(gone)
	defer srvGone.Close()
	lg := &ledgerRecorder{}
	cfg := Config{Evidence: lg, Reports: bundleIssuer{t}, Signers: []note.Signer{signer}, Origin: "cunzheng.example/log",
		Offices: []Office{{Name: "office-a", URL: srv.URL}, {Name: "office-gone", URL: srvGone.URL}}}
	before, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	legal := func(tenant string) evidence.Principal {
		return evidence.Principal{Tenant: evidence.Tenant{ID: tenant}, Roles: []evidence.Role{evidence.RoleLegal}}
	}
	r1, err := before.Request(ctx, legal("t1"), "c1", "office-a", "t1/legal")
	if err != nil {
		t.Fatal(err)
	}
	r2, err := before.Request(ctx, legal("t2"), "c2", "office-a", "t2/legal")
	if err != nil {
		t.Fatal(err)
	}
	r3, err := before.Request(ctx, legal("t1"), "c3", "office-gone", "t1/legal")
	if err != nil {
		t.Fatal(err)
	}
	office.issue(r1.ID)
	office.issue(r2.ID)
	gone.issue(r3.ID)

	// The restart: office-gone is no longer configured.
	cfg.Offices = cfg.Offices[:1]
	cfg.Pending = lg.openNotarizations
	after, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var logs strings.Builder
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	if n := after.PollOnce(ctx, logger); n != 2 {
		t.Fatalf("the first poll after the restart recorded %d answers, want 2; log:\n%s", n, logs.String())
	}
	for _, want := range []struct{ id, tenant, contract string }{{r1.ID, "t1", "c1"}, {r2.ID, "t2", "c2"}} {
		if tenant, contract := lg.tenantOf("notarization.issued", want.id); tenant != want.tenant || contract != want.contract {
			t.Errorf("the issue of %s recorded under %q %q, want %q %q", want.id, tenant, contract, want.tenant, want.contract)
		}
	}
	if open, _ := lg.openNotarizations(ctx); len(open) != 1 || open[0].Request != r3.ID {
		t.Errorf("left open: %+v, want only %s", open, r3.ID)
	}
	after.PollOnce(ctx, logger)
	if n := strings.Count(logs.String(), "not configured"); n != 1 {
		t.Errorf("the request to the office no longer configured was reported %d times, want once:\n%s", n, logs.String())
	}
	gone.mu.Lock()
	defer gone.mu.Unlock()
	if gone.asked != 0 {
		t.Errorf("the office no longer configured was asked %d times", gone.asked)
	}
}

// TestPollRuns: Poll asks on its own, every interval, until ctx ends.
func TestPollRuns(t *testing.T) {
	skey, vkey, _ := note.GenerateKey(rand.Reader, "cunzheng.example/log")
	signer, _ := note.NewSigner(skey)
	verifier, _ := note.NewVerifier(vkey)
	office := &testOffice{verifier: verifier, recs: map[string]notary.RequestRecord{}}
	srv := httptest.NewServer(office)
	defer srv.Close()
	lg := &ledgerRecorder{}
	s, err := New(Config{Evidence: lg, Reports: bundleIssuer{t}, Signers: []note.Signer{signer}, Origin: "cunzheng.example/log",
		Offices: []Office{{Name: "office-a", URL: srv.URL}}})
	if err != nil {
		t.Fatal(err)
	}
	p := evidence.Principal{Tenant: evidence.Tenant{ID: "t1"}, Roles: []evidence.Role{evidence.RoleLegal}}
	rec, err := s.Request(context.Background(), p, "c1", "office-a", "t1/legal")
	if err != nil {
		t.Fatal(err)
	}
	office.issue(rec.ID)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Poll(ctx, 10*time.Millisecond, slog.New(slog.DiscardHandler)); close(done) }()
	for deadline := time.Now().Add(10 * time.Second); s.Open() != 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("Poll did not record the office's answer")
		}
	}
	cancel()
	<-done
	if got := lg.kinds(); len(got) != 2 || got[1] != "notarization.issued" {
		t.Fatalf("recorded %q", got)
	}
}

// netListen listens again on the host:port of an httptest URL.
func netListen(u string) (net.Listener, error) {
	return net.Listen("tcp", strings.TrimPrefix(u, "http://"))
}

// TestPollRequestNotYetAtOffice: a request the ledger holds open that its
// office does not know (recorded by another process of a cluster, which
// sends it right after, or whose sending failed) is asked about at every
// poll, without a warning while it may still be on its way, then with one
// warning, not one per poll.
func TestPollRequestNotYetAtOffice(t *testing.T) {
	ctx := context.Background()
	skey, vkey, _ := note.GenerateKey(rand.Reader, "cunzheng.example/log")
	signer, _ := note.NewSigner(skey)
	verifier, _ := note.NewVerifier(vkey)
	office := &testOffice{verifier: verifier, recs: map[string]notary.RequestRecord{}}
	srv := httptest.NewServer(office)
	defer srv.Close()
	lg := &ledgerRecorder{}
	requested := time.Date(2026, 12, 5, 17, 0, 0, 0, time.UTC)
	p := evidence.Principal{Tenant: evidence.Tenant{ID: "t1"}, Roles: []evidence.Role{evidence.RoleLegal}}
	if _, err := lg.RecordNotarization(ctx, p, "c1", evidence.Notarization{Kind: event.KindNotarizationRequested,
		Request: "NR-20261206-0000000000aa", Office: "office-a", Time: requested}); err != nil {
		t.Fatal(err)
	}
	now := requested
	s, err := New(Config{Evidence: lg, Reports: bundleIssuer{t}, Signers: []note.Signer{signer}, Origin: "cunzheng.example/log",
		Offices: []Office{{Name: "office-a", URL: srv.URL}}, Pending: lg.openNotarizations, Clock: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	var logs strings.Builder
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	for _, step := range []struct {
		after    time.Duration
		warnings int
	}{{10 * time.Second, 0}, {4 * time.Minute, 0}, {6 * time.Minute, 1}, {30 * time.Minute, 1}} {
		now = requested.Add(step.after)
		if n := s.PollOnce(ctx, logger); n != 0 {
			t.Fatalf("%v after the request: %d answers recorded, want 0", step.after, n)
		}
		if got := strings.Count(logs.String(), "level=WARN"); got != step.warnings {
			t.Fatalf("%v after the request: %d warnings, want %d; log:\n%s", step.after, got, step.warnings, logs.String())
		}
	}
	office.mu.Lock()
	asked := office.asked
	office.mu.Unlock()
	if asked != 4 {
		t.Errorf("the office was asked %d times in 4 polls, want 4", asked)
	}
}
