package report_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emmansun/gmsm/smx509"

	"github.com/cunzheng/cunzheng/ledger/tlogfmt"
	"github.com/cunzheng/cunzheng/report"
	"github.com/cunzheng/cunzheng/report/reporttest"
	"github.com/cunzheng/cunzheng/verify"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// issued is the fixed issue time of the golden documents.
var issued = time.Date(2018, 11, 16, 2, 0, 0, 0, time.UTC)

func demoRequest(reveal bool) report.Request {
	return report.Request{ReportNumber: "CZ-20181116-0000a1b2", Requester: "t_7f3a9c/legal-1", Reveal: reveal, IssuedAt: issued}
}

// newService returns a service with a demo signing certificate and a TSA
// running in-process for the signature timestamps.
func newService(t testing.TB, f *reporttest.Fixture, cfg report.Config) *report.Service {
	t.Helper()
	srv := httptest.NewServer(f.TSA)
	t.Cleanup(srv.Close)
	if cfg.Signer == nil {
		// A fixed test certificate, so that its fingerprint in the evidence
		// report is the same on every run.
		s, err := report.LoadSigner(filepath.Join("testdata", "signing-chain.pem"), filepath.Join("testdata", "signing-key.pem"))
		if err != nil {
			t.Fatal(err)
		}
		cfg.Signer = s
	}
	cfg.TSAURL = srv.URL
	cfg.VerifyURL = "https://cunzheng.example/verify"
	s, err := report.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var (
	fixtureOnce sync.Once
	fixture     *reporttest.Fixture
	fixtureErr  error
)

func demo(t testing.TB) *reporttest.Fixture {
	t.Helper()
	fixtureOnce.Do(func() { fixture, fixtureErr = reporttest.Build(reporttest.Options{Reveal: true}) })
	if fixtureErr != nil {
		t.Fatal(fixtureErr)
	}
	return fixture
}

func needTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s not found: install poppler-utils (apt-get install -y poppler-utils)", name)
	}
	return p
}

// pdfText extracts the text layer with poppler's pdftotext -layout.
func pdfText(t testing.TB, pdf []byte) string {
	t.Helper()
	tool := needTool(t, "pdftotext")
	in := filepath.Join(t.TempDir(), "in.pdf")
	if err := os.WriteFile(in, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(tool, "-layout", "-enc", "UTF-8", in, "-").Output()
	if err != nil {
		t.Fatalf("pdftotext: %v", err)
	}
	return string(out)
}

// volatile scrubs what differs between runs though the evidence is the
// same: the TSA's serial number and ECDSA-dependent digests are random.
var volatile = regexp.MustCompile(`(序列号 Serial\s+)[0-9a-f]+`)

func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	got = volatile.ReplaceAllString(got, "${1}<serial>")
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		gl, wl := strings.Split(got, "\n"), strings.Split(string(want), "\n")
		for i := range max(len(gl), len(wl)) {
			var g, w string
			if i < len(gl) {
				g = gl[i]
			}
			if i < len(wl) {
				w = wl[i]
			}
			if g != w {
				t.Fatalf("%s differs at line %d:\n got: %q\nwant: %q\n(run go test -update if the change is intended)", name, i+1, g, w)
			}
		}
	}
}

func TestGoldenText(t *testing.T) {
	f := demo(t)
	s := newService(t, f, report.Config{})
	for _, tt := range []struct {
		name   string
		render func(*report.Contract, report.Request) ([]byte, error)
		reveal bool
	}{
		{"certificate.golden.txt", s.Certificate, false},
		{"certificate-revealed.golden.txt", s.Certificate, true},
		{"evidence-report.golden.txt", s.EvidenceReport, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			pdf, err := tt.render(f.Contract, demoRequest(tt.reveal))
			if err != nil {
				t.Fatal(err)
			}
			checkGolden(t, tt.name, pdfText(t, pdf))
		})
	}
}

// pii are the demo's personal values; none may appear in a masked report.
var pii = []string{"叶建华", "18501775544", "330101199001010000", "yejianhua@example.com", "112.17.116.54", "60.12.241.194", "戴文潘"}

func TestMaskedByDefault(t *testing.T) {
	f := demo(t)
	s := newService(t, f, report.Config{})
	for _, reveal := range []bool{false, true} {
		cert, err := s.Certificate(f.Contract, demoRequest(reveal))
		if err != nil {
			t.Fatal(err)
		}
		ev, err := s.EvidenceReport(f.Contract, demoRequest(reveal))
		if err != nil {
			t.Fatal(err)
		}
		text := pdfText(t, cert) + pdfText(t, ev)
		for _, v := range pii {
			if got := strings.Contains(text, v); got != reveal {
				t.Errorf("reveal=%v: text contains %q = %v", reveal, v, got)
			}
		}
		for _, masked := range []string{"185****5544", "y***@example.com", "112.17.*.*", "330101********0000"} {
			if got := strings.Contains(text, masked); got == reveal {
				t.Errorf("reveal=%v: text contains masked %q = %v", reveal, masked, got)
			}
		}
	}
}

// pdfsig runs poppler's pdfsig and returns its output (it exits non-zero
// for invalid signatures, which the caller judges from the text).
func pdfsig(t *testing.T, pdf []byte) string {
	t.Helper()
	tool := needTool(t, "pdfsig")
	in := filepath.Join(t.TempDir(), "in.pdf")
	if err := os.WriteFile(in, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	out, _ := exec.Command(tool, in).CombinedOutput()
	return string(out)
}

var byteRange = regexp.MustCompile(`/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]`)

func TestPdfsigAcceptsAndDetectsChange(t *testing.T) {
	f := demo(t)
	s := newService(t, f, report.Config{})
	before := f.TSA.Requests.Load()
	for _, kind := range []string{"certificate", "evidence-report"} {
		t.Run(kind, func(t *testing.T) {
			var pdf []byte
			var err error
			if kind == "certificate" {
				pdf, err = s.Certificate(f.Contract, demoRequest(false))
			} else {
				pdf, err = s.EvidenceReport(f.Contract, demoRequest(false))
			}
			if err != nil {
				t.Fatal(err)
			}
			out := pdfsig(t, pdf)
			for _, want := range []string{"Signature is Valid.", "Total document signed", "Signing Hash Algorithm: SHA-256", "cunzheng Document Signing (test)"} {
				if !strings.Contains(out, want) {
					t.Errorf("pdfsig output lacks %q:\n%s", want, out)
				}
			}
			m := byteRange.FindSubmatch(pdf)
			if m == nil {
				t.Fatal("no /ByteRange in signed pdf")
			}
			// Flip a byte in the middle of the first signed range (the
			// document body) and one in the second (after the signature).
			for _, off := range []int{len(pdf) / 4, len(pdf) - 40} {
				bad := bytes.Clone(pdf)
				bad[off] ^= 0x01
				out := pdfsig(t, bad)
				if strings.Contains(out, "Signature is Valid.") {
					t.Errorf("byte %d flipped: pdfsig still says valid:\n%s", off, out)
				}
			}
		})
	}
	if f.TSA.Requests.Load() == before {
		t.Error("no signature timestamp was requested from the TSA")
	}
}

func TestBundleRoundTrip(t *testing.T) {
	f := demo(t)
	s := newService(t, f, report.Config{})
	z, err := s.Bundle(f.Contract, demoRequest(true))
	if err != nil {
		t.Fatal(err)
	}
	var logKeys, notaryKeys []string
	logKeys = append(logKeys, f.LogVKey)
	for _, n := range f.Notaries {
		notaryKeys = append(notaryKeys, n.VKey)
	}
	opts := verify.BundleOptions{}
	for _, k := range logKeys {
		v, err := tlogfmt.NewVerifier(k)
		if err != nil {
			t.Fatal(err)
		}
		opts.LogKeys = append(opts.LogKeys, v)
	}
	for _, k := range notaryKeys {
		v, err := tlogfmt.NewVerifier(k)
		if err != nil {
			t.Fatal(err)
		}
		opts.NotaryKeys = append(opts.NotaryKeys, v)
	}
	res, err := verify.Bundle(z, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Pinned || len(res.Manifest.Openings) == 0 || len(res.Manifest.Events) != len(f.Contract.Events) {
		t.Errorf("pinned=%v openings=%d events=%d", res.Pinned, len(res.Manifest.Openings), len(res.Manifest.Events))
	}
	// A masked bundle opens nothing.
	z, err = s.Bundle(f.Contract, demoRequest(false))
	if err != nil {
		t.Fatal(err)
	}
	res, err = verify.Bundle(z, opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Manifest.Openings) != 0 {
		t.Errorf("masked bundle has %d openings", len(res.Manifest.Openings))
	}
}

func TestRefusesEvidenceThatDoesNotVerify(t *testing.T) {
	f := demo(t)
	s := newService(t, f, report.Config{})
	tests := []struct {
		name   string
		tamper func(c *report.Contract)
	}{
		{"inclusion", func(c *report.Contract) { c.Events[2].Inclusion[0][0] ^= 1 }},
		{"leaf", func(c *report.Contract) { c.Events[1].Leaf = append([]byte(nil), `{"x":1}`...) }},
		{"consistency", func(c *report.Contract) { c.Consistency[0][5] ^= 1 }},
		{"note", func(c *report.Contract) { c.Checkpoint.Note = []byte("garbage") }},
		{"token", func(c *report.Contract) { c.Checkpoint.Timestamps = [][]byte{[]byte("not a token")} }},
		{"token of another note", func(c *report.Contract) { c.Checkpoint.Timestamps = c.Latest.Timestamps }},
		{"cosignature missing", func(c *report.Contract) { c.Checkpoint.Cosignatures = c.Checkpoint.Cosignatures[:1] }},
		{"latest not cosigned", func(c *report.Contract) { c.Latest.Cosignatures = nil }},
		{"log key of another log", func(c *report.Contract) { c.Keys.Log = []string{otherLogKey(t)} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := cloneContract(f.Contract)
			tt.tamper(c)
			if _, err := s.EvidenceReport(c, demoRequest(false)); !errors.Is(err, report.ErrEvidence) {
				t.Errorf("err = %v, want ErrEvidence", err)
			}
		})
	}
}

// cloneContract copies c deeply enough for the tests' tampering: the
// fixture is shared between tests and must not change.
func otherLogKey(t *testing.T) string {
	t.Helper()
	o, err := reporttest.Build(reporttest.Options{Seed: 9})
	if err != nil {
		t.Fatal(err)
	}
	return o.LogVKey
}

func cloneContract(c *report.Contract) *report.Contract {
	cp := *c
	cp.Events = make([]report.Event, len(c.Events))
	for i, e := range c.Events {
		e.Inclusion = append(e.Inclusion[:0:0], e.Inclusion...)
		e.Leaf = bytes.Clone(e.Leaf)
		cp.Events[i] = e
	}
	cp.Consistency = append(c.Consistency[:0:0], c.Consistency...)
	cp.Signers = append(c.Signers[:0:0], c.Signers...)
	cp.Files = append(c.Files[:0:0], c.Files...)
	cp.IdentityChecks = append(c.IdentityChecks[:0:0], c.IdentityChecks...)
	cp.Checkpoint.Timestamps = append(c.Checkpoint.Timestamps[:0:0], c.Checkpoint.Timestamps...)
	cp.Checkpoint.Cosignatures = append(c.Checkpoint.Cosignatures[:0:0], c.Checkpoint.Cosignatures...)
	cp.Keys.Log = append(c.Keys.Log[:0:0], c.Keys.Log...)
	return &cp
}

// fakeSource and fakeCustody are in-memory stand-ins with failure hooks.
type fakeSource struct {
	tenant string
	c      *report.Contract
}

func (s *fakeSource) Contract(_ context.Context, tenant, id string, reveal bool) (*report.Contract, error) {
	if tenant != s.tenant || id != s.c.ID {
		return nil, report.ErrNotFound
	}
	return s.c, nil
}

type fakeCustody struct {
	mu     sync.Mutex
	issued []report.Issuance
	err    error
}

func (c *fakeCustody) Issued(_ context.Context, is report.Issuance) (uint64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return 0, c.err
	}
	c.issued = append(c.issued, is)
	return uint64(100 + len(c.issued)), nil
}

func TestIssue(t *testing.T) {
	f := demo(t)
	cust := &fakeCustody{}
	s := newService(t, f, report.Config{Source: &fakeSource{tenant: "t_7f3a9c", c: f.Contract}, Custody: cust})
	ctx := context.Background()
	out, is, err := s.Issue(ctx, report.KindCertificate, "t_7f3a9c", "legal-1", f.Contract.ID, false)
	if err != nil || len(out) == 0 {
		t.Fatalf("Issue: %v", err)
	}
	if len(cust.issued) != 1 || cust.issued[0] != is || is.Revealed || is.Kind != report.KindCertificate || !strings.HasPrefix(is.ReportNumber, "CZ-") {
		t.Errorf("custody = %+v", cust.issued)
	}
	if _, _, err := s.Issue(ctx, report.KindBundle, "t_other", "legal-9", f.Contract.ID, false); !errors.Is(err, report.ErrNotFound) {
		t.Errorf("other tenant: err = %v, want ErrNotFound", err)
	}
	cust.err = errors.New("ledger full")
	if out, _, err := s.Issue(ctx, report.KindEvidence, "t_7f3a9c", "legal-1", f.Contract.ID, true); err == nil || out != nil {
		t.Errorf("custody failure: out=%d bytes err=%v; want no report", len(out), err)
	}
	if len(cust.issued) != 1 {
		t.Errorf("custody has %d entries after failures", len(cust.issued))
	}
}

// TestHostileText renders values no font has and bytes that are not UTF-8:
// the report must come out, never panic.
func TestHostileText(t *testing.T) {
	f := demo(t)
	s := newService(t, f, report.Config{})
	c := cloneContract(f.Contract)
	c.Name = "劳动合同 😀\x00\x1b[31m\xff\xfe" + strings.Repeat("长", 500)
	c.Files = append(c.Files, report.File{Name: strings.Repeat("x", 3000), SHA256: strings.Repeat("ab", 32)})
	c.Signers[0].Name.Value = "\U0001F600\u202e"
	c.Platform = ""
	if _, err := s.EvidenceReport(c, demoRequest(true)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Certificate(c, demoRequest(true)); err != nil {
		t.Fatal(err)
	}
}

// TestOwnVerifyAccepts checks a signed PDF with the project's own PDF
// verifier, trusting the demo document CA and the TSA's CA.
func TestOwnVerifyAccepts(t *testing.T) {
	f := demo(t)
	s := newService(t, f, report.Config{})
	pdf, err := s.EvidenceReport(f.Contract, demoRequest(false))
	if err != nil {
		t.Fatal(err)
	}
	roots := smx509.NewCertPool()
	for _, c := range append(s.Signer().Chain, f.TSACA.Cert) {
		sc, err := smx509.ParseCertificate(c.Raw)
		if err != nil {
			t.Fatal(err)
		}
		roots.AddCert(sc)
	}
	rep, err := verify.PDF(context.Background(), bytes.NewReader(pdf), int64(len(pdf)), verify.Options{Roots: roots})
	if err != nil {
		t.Fatal(err)
	}
	// The demo certificates carry no revocation data, so the verifier's
	// verdict stops at INDETERMINATE; everything it can check must hold.
	if len(rep.Signatures) != 1 || rep.UnsignedChanges || rep.Verdict.Indication == verify.TotalFailed {
		b, _ := json.MarshalIndent(rep, "", "  ")
		t.Fatalf("verify.PDF:\n%s", b)
	}
	sig := rep.Signatures[0]
	if !sig.CoverageOK || !sig.CoversWholeFile || !sig.DigestOK || !sig.SignatureOK || sig.ChangedAfter || sig.Timestamp == nil {
		b, _ := json.MarshalIndent(sig, "", "  ")
		t.Errorf("signature finding:\n%s", b)
	}
}

func TestErasedFieldsShowErasure(t *testing.T) {
	f, err := reporttest.Build(reporttest.Options{Erase: true})
	if err != nil {
		t.Fatal(err)
	}
	s := newService(t, f, report.Config{})
	for _, reveal := range []bool{false, true} {
		pdf, err := s.EvidenceReport(f.Contract, demoRequest(reveal))
		if err != nil {
			t.Fatal(err)
		}
		text := pdfText(t, pdf)
		leaf := f.Contract.Erased[0].ErasureLeaf
		for _, want := range []string{fmt.Sprintf("已销毁 erased 2018-11-15 (#%d)", leaf), "签署方1 证件号码 Signer 1 ID number", fmt.Sprintf("#%d", leaf)} {
			if !strings.Contains(text, want) {
				t.Errorf("reveal=%v: report lacks %q", reveal, want)
			}
		}
		if strings.Contains(text, "330101199001010000") || strings.Contains(text, "330101********0000") {
			t.Errorf("reveal=%v: the erased ID number still shows", reveal)
		}
	}
}

// TestConcurrentReports renders from several goroutines at once, sharing the
// service and its pool of prepared documents (run with -race).
func TestConcurrentReports(t *testing.T) {
	f := demo(t)
	s := newService(t, f, report.Config{})
	var wg sync.WaitGroup
	errs := make(chan error, 6)
	for i := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var err error
			if i%2 == 0 {
				_, err = s.Certificate(f.Contract, demoRequest(false))
			} else {
				_, err = s.EvidenceReport(f.Contract, demoRequest(true))
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

// TestBundleStandardTools checks the bundle with the standard tools the
// evidence report names: openssl ts -verify for every RFC 3161 token over
// its checkpoint note, and pdfsig for both PDFs.
func TestBundleStandardTools(t *testing.T) {
	f := demo(t)
	s := newService(t, f, report.Config{})
	z, err := s.Bundle(f.Contract, demoRequest(false))
	if err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(z), int64(len(z)))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	files := map[string][]byte{}
	for _, zf := range zr.File {
		rc, err := zf.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		files[zf.Name] = b
		p := filepath.Join(dir, filepath.FromSlash(zf.Name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Fatal("openssl not found")
	}
	var m tlogfmt.Manifest
	if err := json.Unmarshal(files[tlogfmt.BundleManifest], &m); err != nil {
		t.Fatal(err)
	}
	for _, cp := range m.Checkpoints {
		for _, tok := range cp.Timestamps {
			cmd := exec.Command(openssl, "ts", "-verify", "-data", cp.Signed, "-in", tok, "-token_in",
				"-CAfile", m.Keys.TSARoots, "-untrusted", m.Keys.TSACerts[0])
			cmd.Dir = dir
			out, err := cmd.CombinedOutput()
			if err != nil || !strings.Contains(string(out), "Verification: OK") {
				t.Errorf("openssl ts -verify %s: %v\n%s", tok, err, out)
			}
		}
	}
	for _, name := range []string{tlogfmt.BundleCertificatePDF, tlogfmt.BundleEvidencePDF} {
		if out := pdfsig(t, files[name]); !strings.Contains(out, "Signature is Valid.") {
			t.Errorf("pdfsig %s:\n%s", name, out)
		}
	}
}

// TestHungTSA: a TSA that accepts and never answers must not hold a report
// request beyond SignTimeout, and once every signing slot is stuck further
// requests fail fast with ErrBusy.
func TestHungTSA(t *testing.T) {
	f := demo(t)
	release := make(chan struct{})
	hung := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
	}))
	defer hung.Close()
	defer close(release)
	signer, err := report.LoadSigner(filepath.Join("testdata", "signing-chain.pem"), filepath.Join("testdata", "signing-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := report.New(report.Config{Signer: signer, TSAURL: hung.URL, SignTimeout: 300 * time.Millisecond, MaxSigning: 1, PreparedDocuments: -1})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := s.Certificate(f.Contract, demoRequest(false)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("first: err = %v, want a deadline", err)
	}
	if _, err := s.Certificate(f.Contract, demoRequest(false)); !errors.Is(err, report.ErrBusy) {
		t.Fatalf("second: err = %v, want ErrBusy", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %v", d)
	}
}

// TestFontCopyMutated documents why every document gets a fresh copy of
// the fonts: gofpdf writes into the bytes it is given. Should a gofpdf
// upgrade stop doing so, this test says the copies can be recycled.
func TestFontCopyMutated(t *testing.T) {
	mutated, err := report.FontCopyMutated(demo(t).Contract, demoRequest(false))
	if err != nil {
		t.Fatal(err)
	}
	if !mutated {
		t.Error("gofpdf no longer writes into the font bytes: font copies could now be reused")
	}
}

// TestChecksSM2LogLine: the service checks the log's SM2/SM3 line too,
// and refuses a checkpoint whose SM2 line is broken.
func TestChecksSM2LogLine(t *testing.T) {
	f, err := reporttest.Build(reporttest.Options{SM2: true, Seed: 4})
	if err != nil {
		t.Fatal(err)
	}
	s := newService(t, f, report.Config{})
	if _, err := s.Certificate(f.Contract, demoRequest(false)); err != nil {
		t.Fatal(err)
	}
	c := cloneContract(f.Contract)
	note := string(c.Checkpoint.Note)
	i := strings.LastIndex(note, " ") + 20 // inside the last (SM2) signature, past its key hash
	b := []byte(note)
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	c.Checkpoint.Note = b
	// The tokens no longer match the note either; the signature check must
	// be what refuses it.
	if _, err := s.Certificate(c, demoRequest(false)); !errors.Is(err, report.ErrEvidence) || !strings.Contains(err.Error(), "invalid signature") {
		t.Errorf("broken SM2 line: err = %v, want ErrEvidence for an invalid signature", err)
	}
}

// TestCertificateReceiverCells: the seed's certificate page has a cell
// each for the receiving account, phone and e-mail; they were one cell
// joining all three ("185****5544 · 185****5544"), and an absent one left
// nothing to see.
func TestCertificateReceiverCells(t *testing.T) {
	f := demo(t)
	s := newService(t, f, report.Config{})
	pdf, err := s.Certificate(f.Contract, demoRequest(false))
	if err != nil {
		t.Fatal(err)
	}
	text := pdfText(t, pdf)
	for _, want := range []string{"接收合同账号", "接收合同手机号", "接收合同邮箱"} {
		if !strings.Contains(text, want) {
			t.Errorf("certificate page lacks the cell %q", want)
		}
	}
	if strings.Contains(text, "/手机/邮箱") || strings.Contains(text, "5544 · ") {
		t.Errorf("the receiver's account, phone and e-mail are still one cell:\n%s", text)
	}
	// What the platform did not record shows a dash, not an empty cell.
	c := *f.Contract
	c.Platform = ""
	c.Signers = slices.Clone(c.Signers)
	c.Signers[0].ReceiveEmail = report.Personal{}
	pdf, err = s.Certificate(&c, demoRequest(false))
	if err != nil {
		t.Fatal(err)
	}
	flat := strings.Join(strings.Fields(pdfText(t, pdf)), " ")
	for _, want := range []string{"发起平台 Platform —", "接收合同邮箱 — Receiving"} {
		if !strings.Contains(flat, want) {
			t.Errorf("certificate page lacks %q:\n%s", want, flat)
		}
	}
}

// TestEnglishCounts: a count of one takes the singular in the English
// text ("1 RFC 3161 token", "End of document (1 page)").
func TestEnglishCounts(t *testing.T) {
	for _, tc := range []struct {
		n    int
		want string
	}{{0, "0 pages"}, {1, "1 page"}, {2, "2 pages"}, {14, "14 pages"}} {
		if got := report.Plural(tc.n, "page", "pages"); got != tc.want {
			t.Errorf("Plural(%d) = %q, want %q", tc.n, got, tc.want)
		}
	}
	f := demo(t)
	s := newService(t, f, report.Config{})
	ev, err := s.EvidenceReport(f.Contract, demoRequest(false))
	if err != nil {
		t.Fatal(err)
	}
	// pdftotext -layout breaks lines; the words are compared unbroken.
	text := strings.Join(strings.Fields(pdfText(t, ev)), " ")
	for _, bad := range []string{"1 RFC 3161 tokens", "1 notary offices", "1 recorded contract events"} {
		if strings.Contains(text, bad) {
			t.Errorf("English text says %q", bad)
		}
	}
	if want := "time-stamped by 1 RFC 3161 token."; !strings.Contains(text, want) {
		t.Errorf("English text lacks %q", want)
	}
}

// TestDemoContractDates: the demo contract's term follows its dates (it
// ran 2018 to 2021 on a PDF signed today), its signatures are on page 2,
// where the demo's contract.signed events place them, and the signed PDF is
// the sent one with the platform's signature appended (what the signers
// agreed to is its first revision, byte for byte).
func TestDemoContractDates(t *testing.T) {
	f := demo(t)
	s := newService(t, f, report.Config{})
	sentAt := time.Date(2026, 12, 5, 13, 32, 41, 0, time.UTC)
	signAt := sentAt.Add(353 * time.Second)
	sent, pdf, err := s.DemoContract(context.Background(), "2125270852621565954", sentAt, signAt)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(pdf, sent) || len(pdf) == len(sent) {
		t.Errorf("the signed contract (%d bytes) does not extend the sent one (%d bytes)", len(pdf), len(sent))
	}
	if bytes.Contains(sent, []byte("/ByteRange")) {
		t.Errorf("the sent contract carries a signature")
	}
	text := pdfText(t, pdf)
	if sentText := pdfText(t, sent); sentText != text {
		t.Errorf("signing changed the contract's text:\n%s\n---\n%s", sentText, text)
	}
	for _, want := range []string{"自 2027 年 1 月 1 日起至 2029 年 12 月 31 日止", "2026-12-05", "End of document (2 pages)"} {
		if !strings.Contains(text, want) {
			t.Errorf("demo contract lacks %q:\n%s", want, text)
		}
	}
	pages := strings.Split(text, "\f")
	if len(pages) < 2 || !strings.Contains(pages[1], "签署时间") {
		t.Errorf("the signatures are not on page 2 (%d pages)", len(pages))
	}
	if strings.Contains(text, "2018") {
		t.Errorf("demo contract names 2018:\n%s", text)
	}
}
