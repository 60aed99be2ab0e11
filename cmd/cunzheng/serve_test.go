package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"github.com/cunzheng/cunzheng/report/assemble"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/emmansun/gmsm/smx509"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/cunzheng/cunzheng/evidence"
	"github.com/cunzheng/cunzheng/evidence/event"
	"github.com/cunzheng/cunzheng/ledger"
	"github.com/cunzheng/cunzheng/verify"
	"github.com/cunzheng/cunzheng/web"
)

// A component that fails to open is an error that names it, after the
// components opened before it are closed again; it used to be a nil
// pointer panic in that cleanup.
func TestOpenAppFailureIsAnError(t *testing.T) {
	dir := t.TempDir()
	notADir := filepath.Join(dir, "file")
	if err := os.WriteFile(notADir, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	held := filepath.Join(dir, "held")
	flags := func(data string) serveFlags {
		return serveFlags{data: data, checkpointInterval: time.Second, notarize: &notarizeFlags{}, maxUpload: web.DefaultVerifyMaxUpload}
	}
	logger := slog.New(slog.DiscardHandler)
	first, err := openApp(context.Background(), flags(held), "http://127.0.0.1:0", logger, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	defer first.close(logger)
	for _, data := range []string{notADir, held} {
		a, err := openApp(context.Background(), flags(data), "http://127.0.0.1:0", logger, prometheus.NewRegistry())
		if err == nil {
			a.close(logger)
			t.Errorf("openApp(%s) succeeded", data)
			continue
		}
		t.Logf("%s: %v", filepath.Base(data), err)
	}
}

// The server runs with at least minServerProcs Ps and GOGC
// serverGCPercent, unless the environment says otherwise.
func TestServerRuntime(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	t.Setenv("GOMAXPROCS", "")
	runtime.GOMAXPROCS(2)
	serverRuntime()
	if n := runtime.GOMAXPROCS(0); n != minServerProcs {
		t.Errorf("GOMAXPROCS %d, want %d", n, minServerProcs)
	}
	runtime.GOMAXPROCS(minServerProcs + 2)
	serverRuntime()
	if n := runtime.GOMAXPROCS(0); n != minServerProcs+2 {
		t.Errorf("GOMAXPROCS lowered to %d", n)
	}
	t.Setenv("GOMAXPROCS", "2")
	runtime.GOMAXPROCS(2)
	serverRuntime()
	if n := runtime.GOMAXPROCS(0); n != 2 {
		t.Errorf("GOMAXPROCS=2 in the environment, but %d", n)
	}

	t.Setenv("GOGC", "")
	debug.SetGCPercent(100)
	serverRuntime()
	if p := debug.SetGCPercent(100); p != serverGCPercent {
		t.Errorf("GOGC %d, want %d", p, serverGCPercent)
	}
	t.Setenv("GOGC", "50")
	serverRuntime()
	if p := debug.SetGCPercent(100); p != 100 {
		t.Errorf("GOGC=50 in the environment, but the server set %d", p)
	}
}

// The ledger record of a document names the event that signed it, not the
// earliest event naming its hash (the sent file and the signed file may be
// the same bytes), lists every event naming it, and carries its owner.
func TestDocumentLookupNamesTheSigningEvent(t *testing.T) {
	ctx := context.Background()
	logger := slog.New(slog.DiscardHandler)
	f := serveFlags{data: t.TempDir(), checkpointInterval: 50 * time.Millisecond, notarize: &notarizeFlags{}, maxUpload: web.DefaultVerifyMaxUpload}
	a, err := openApp(ctx, f, "http://127.0.0.1:0", logger, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	defer a.close(logger)
	d, err := a.evidence.LoadDemo(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	p, err := a.evidence.Authenticate(d.APIKey)
	if err != nil {
		t.Fatal(err)
	}
	doc := strings.Repeat("ab", 32)
	actor := `"actor":{"account":"13800000000","name":"张三","phone":"13800000000"}`
	body := `{"events":[` +
		`{"id":"s1","kind":"contract.sent","time":"2026-03-01T09:00:00+08:00","contract":{"id":"HT-9"},` + actor + `,"data":{"signers":1,"files":[{"name":"合同","sha256":"` + doc + `"}]}},` +
		`{"id":"s2","kind":"contract.signed","time":"2026-03-01T10:00:00+08:00","contract":{"id":"HT-9"},` + actor + `,"data":{"cert_serial":"01","positions":[{"page":1,"x":0.5,"y":0.5}],"document":{"sha256":"` + doc + `"}}},` +
		`{"id":"s3","kind":"contract.completed","time":"2026-03-01T10:00:01+08:00","contract":{"id":"HT-9"},"data":{"files":[{"name":"合同","sha256":"` + doc + `"}]}}]}`
	if _, err := a.evidence.Ingest(ctx, p, []byte(body)); err != nil {
		t.Fatal(err)
	}
	keys, err := ledger.LoadOrCreateKeys(filepath.Join(f.data, "keys"), "")
	if err != nil {
		t.Fatal(err)
	}
	verifiers, err := keys.Verifiers()
	if err != nil {
		t.Fatal(err)
	}
	var sum [32]byte
	copy(sum[:], bytes.Repeat([]byte{0xab}, 32))
	var rec verify.LedgerRecord
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		rec, err = assemble.Lookup{Evidence: a.evidence, Ledger: a.log}.LookupDocument(ctx, sum)
		if err == nil && len(rec.Events) == 3 || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	rec.DocumentHex = doc
	verify.CheckLedgerRecord(&rec, a.log.Origin(), verifiers)
	var kinds []string
	for _, e := range rec.Events {
		kinds = append(kinds, e.Kind)
	}
	if !rec.ProofOK || rec.Kind != "contract.signed" || !rec.SignedAt.Equal(time.Date(2026, 3, 1, 2, 0, 0, 0, time.UTC)) ||
		strings.Join(kinds, ",") != "contract.sent,contract.signed,contract.completed" {
		t.Fatalf("record %s at %v (proof %v %s), events %v", rec.Kind, rec.SignedAt, rec.ProofOK, rec.Problem, kinds)
	}
	if rec.Owner != p.Tenant.ID || rec.ContractNumber != "HT-9" {
		t.Errorf("owner %q contract %q", rec.Owner, rec.ContractNumber)
	}
}

func TestCheckPublicURL(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"https://cunzheng.example.com", "https://cunzheng.example.com"},
		{"https://cunzheng.example.com/", "https://cunzheng.example.com"},
		{"http://127.0.0.1:8080/archive/", "http://127.0.0.1:8080/archive"},
		{"cunzheng.example.com", "error"},
		{"ftp://cunzheng.example.com", "error"},
		{"https://cunzheng.example.com/?a=1", "error"},
		{"https://user:pw@cunzheng.example.com", "error"},
		{"https:///verify", "error"},
	} {
		got, err := checkPublicURL(tc.in)
		if err != nil {
			got = "error"
		}
		if got != tc.want {
			t.Errorf("checkPublicURL(%q) = %q (%v), want %q", tc.in, got, err, tc.want)
		}
	}
}

// serve --demo's contract PDF is really signed (PAdES, the platform CA,
// valid), stored through the document store with the contract as sent,
// and the same files on every restart; and the demo's ledger tells one
// story with them: every event naming a document names the sent contract
// (the signed PDF's first revision) or the signed PDF, each kept in the
// demo, and no event names a signed PDF before its signature was made.
func TestDemoContractSignedAndStored(t *testing.T) {
	ctx := context.Background()
	logger := slog.New(slog.DiscardHandler)
	f := serveFlags{data: t.TempDir(), checkpointInterval: 50 * time.Millisecond, notarize: &notarizeFlags{}, maxUpload: web.DefaultVerifyMaxUpload}
	var first []byte
	for run := range 2 {
		a, err := openApp(ctx, f, "http://127.0.0.1:0", logger, prometheus.NewRegistry())
		if err != nil {
			t.Fatal(err)
		}
		if err := a.loadDemo(ctx, "http://127.0.0.1:0"); err != nil {
			a.close(logger)
			t.Fatal(err)
		}
		pdf, err := os.ReadFile(filepath.Join(f.data, demoContractFile))
		if err != nil {
			a.close(logger)
			t.Fatal(err)
		}
		sent, err := os.ReadFile(filepath.Join(f.data, demoSentFile))
		if err != nil {
			a.close(logger)
			t.Fatal(err)
		}
		if run == 0 {
			first = pdf
		} else if !bytes.Equal(pdf, first) {
			t.Errorf("the demo contract changed on restart")
		}
		if !bytes.HasPrefix(pdf, sent) {
			t.Errorf("the signed demo contract is not the sent one with a signature appended")
		}
		var extra []*smx509.Certificate
		for _, der := range append(derOf(a.reports.Signer().Chain), a.notarization.TSARoots...) {
			sc, err := smx509.ParseCertificate(der)
			if err != nil {
				t.Fatal(err)
			}
			extra = append(extra, sc)
		}
		roots, err := verify.LoadRoots("", false, extra...)
		if err != nil {
			t.Fatal(err)
		}
		rep, err := verify.PDFBytes(ctx, pdf, verify.Options{Roots: roots})
		if err != nil || rep.Verdict.Indication != verify.TotalPassed || len(rep.Signatures) != 1 || rep.Signatures[0].Timestamp == nil || rep.LastSigningTime == nil {
			t.Fatalf("the demo contract does not verify as a timestamped signed PDF: %v %+v", err, rep.Verdict)
		}
		signedAt := *rep.LastSigningTime
		d, err := a.evidence.LoadDemo(ctx, &evidence.DemoFiles{Sent: sent, Completed: pdf, SignedAt: signedAt}) // idempotent: what loadDemo did
		if err != nil || d.Earlier {
			t.Fatalf("second demo load: %+v %v", d, err)
		}
		p, _ := a.evidence.Authenticate(d.APIKey)
		sentSum, doneSum := sha256.Sum256(sent), sha256.Sum256(pdf)
		sentHex, doneHex := hex.EncodeToString(sentSum[:]), hex.EncodeToString(doneSum[:])
		for h, b := range map[string][]byte{sentHex: sent, doneHex: pdf} {
			if stored, err := a.evidence.Document(p, h); err != nil || !bytes.Equal(stored, b) {
				t.Errorf("the demo document %s is not in the document store: %v", h, err)
			}
		}
		// Every event of the demo contract that names a document.
		v, err := a.evidence.Contract(p, evidence.DemoContractID)
		if err != nil {
			t.Fatal(err)
		}
		named := map[string][]string{}
		for _, e := range v.Events {
			leaf, err := a.log.Leaf(ctx, e.Index)
			if err != nil {
				t.Fatal(err)
			}
			pr, err := event.ParseLeaf(leaf)
			if err != nil {
				t.Fatal(err)
			}
			for _, h := range pr.DocumentHashes() {
				named[h] = append(named[h], string(pr.Kind))
				switch h {
				case sentHex: // unsigned: what the signers were shown
				case doneHex:
					if e.Time.Before(signedAt) {
						t.Errorf("%s at %v names the signed PDF, signed at %v", pr.Kind, e.Time, signedAt)
					}
				default:
					t.Errorf("%s names %s, a file the demo does not hold", pr.Kind, h)
				}
			}
		}
		if got, want := fmt.Sprint(named), fmt.Sprint(map[string][]string{
			sentHex: {"contract.sent", "contract.signed", "contract.signed"},
			doneHex: {"contract.completed"},
		}); got != want {
			t.Errorf("documents the demo's events name: %s, want %s", got, want)
		}
		a.close(logger)
	}

	// A data directory an earlier version made kept the signed PDF alone:
	// its events stand, and nothing is recorded beside them.
	if err := os.Remove(filepath.Join(f.data, demoSentFile)); err != nil {
		t.Fatal(err)
	}
	a, err := openApp(ctx, f, "http://127.0.0.1:0", logger, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	defer a.close(logger)
	size := a.log.Size()
	if err := a.loadDemo(ctx, "http://127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	if a.log.Size() != size {
		t.Errorf("the earlier demo grew from %d to %d leaves", size, a.log.Size())
	}
}
