package assemble_test

import (
	"context"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cunzheng/cunzheng/evidence"
	"github.com/cunzheng/cunzheng/evidence/evidencetest"
	"github.com/cunzheng/cunzheng/ledger"
	"github.com/cunzheng/cunzheng/report"
	"github.com/cunzheng/cunzheng/report/assemble"
	"github.com/cunzheng/cunzheng/report/reporttest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// goldenNow is the fixed clock of the golden documents: the evidence
// store's logging time, the checkpoints, their tokens and the issuance.
var goldenNow = time.Date(2026, 4, 2, 1, 30, 0, 0, time.UTC)

// volatileText is what changes from run to run however fixed the clocks:
// hashes, commitments, salts, keys and signatures (fresh random keys and
// salts every run), as hex or base64, and the signing certificate's
// serial, and the report numbers (random). Replaced, the rest of each line (labels, layout, values) stays
// compared.
var volatileText = []*regexp.Regexp{
	regexp.MustCompile(`CZ-\d{8}-[0-9a-f]{8}`), // report numbers
	regexp.MustCompile(`[0-9a-f]{16,}`),
	regexp.MustCompile(`[A-Za-z0-9+/]{24,}={0,2}`),
}

var (
	columnGap   = regexp.MustCompile(` {2,}`)
	lineInBlock = regexp.MustCompile(`([^\n\f])\n([^\n\f])`)
)

// TestGoldenDocuments records one contract using every 实名认证 and 意愿认证
// method of the schema (a person and an enterprise signer, a failed check
// before a passed one of each, the seal named on the enterprise's
// signature), a rejected contract and an erasure of one of its parties,
// and compares pdftotext -layout of the certificate page and the evidence
// report, masked and unmasked, with goldens under testdata (go test
// -update rewrites them; review the diff, and look at the pages:
// CUNZHENG_ARTIFACTS=DIR keeps the PDFs and pdftoppm PNGs of every page).
func TestGoldenDocuments(t *testing.T) {
	if testing.Short() {
		t.Skip("issues eight signed PDFs")
	}
	ctx := context.Background()
	keys, err := reporttest.Build(reporttest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	master, err := evidence.GenerateMasterKey()
	if err != nil {
		t.Fatal(err)
	}
	log := evidencetest.NewLog()
	ev, err := evidence.Open(ctx, evidence.Config{Dir: t.TempDir(), Master: master, Log: log, Now: func() time.Time { return goldenNow }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ev.Close() })
	demo, err := ev.LoadDemo(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	p, err := ev.Authenticate(demo.APIKey)
	if err != nil {
		t.Fatal(err)
	}
	flows, err := os.ReadFile("testdata/golden_flows.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, body := range [][]byte{flows, []byte(rejectedBatch)} {
		if _, err := ev.Ingest(ctx, p, body); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := ev.Erase(ctx, p, "13800001111"); err != nil { // 赵六, a party of the rejected contract
		t.Fatal(err)
	}
	led := &testLedger{log: log, keys: keys, cps: map[uint64]ledger.Checkpoint{}, cosign: true, now: func() time.Time { return goldenNow }}
	led.publish(t)
	rk := report.Keys{Log: []string{keys.LogVKey}, TSACert: [][]byte{keys.TSA.Cert.Raw, keys.TSACA.Cert.Raw}}
	for _, n := range keys.Notaries {
		rk.Notary = append(rk.Notary, n.VKey)
	}
	src := assemble.New(assemble.Config{Evidence: ev, Ledger: led, Keys: rk})
	svc, err := report.New(report.Config{KeyDir: t.TempDir(), Source: src, Custody: assemble.Custody{Evidence: ev},
		Issuer: "伟伟存证服务有限公司", VerifyURL: "https://cunzheng.example.com/verify", Clock: func() time.Time { return goldenNow }})
	if err != nil {
		t.Fatal(err)
	}
	dir := os.Getenv("CUNZHENG_ARTIFACTS")
	docs := []struct {
		contract, kind string
		reveal         bool
		golden         string
	}{
		{"SF-2026-0001", report.KindCertificate, false, "every-method-certificate.txt"},
		{"SF-2026-0001", report.KindCertificate, true, "every-method-certificate-revealed.txt"},
		{"SF-2026-0001", report.KindEvidence, false, "every-method-report.txt"},
		{"SF-2026-0001", report.KindEvidence, true, "every-method-report-revealed.txt"},
		{"RJ-1", report.KindCertificate, false, "rejected-certificate.txt"},
		{"RJ-1", report.KindCertificate, true, "rejected-certificate-revealed.txt"},
		{"RJ-1", report.KindEvidence, false, "rejected-report.txt"},
		{"RJ-1", report.KindEvidence, true, "rejected-report-revealed.txt"},
	}
	for _, d := range docs {
		pdf, _, err := svc.Issue(ctx, d.kind, demo.Tenant.ID, demo.Tenant.ID+"/legal", d.contract, d.reveal)
		if err != nil {
			t.Fatalf("%s: %v", d.golden, err)
		}
		text := layoutText(t, pdf)
		if dir != "" {
			base := filepath.Join(dir, strings.TrimSuffix(d.golden, ".txt"))
			if err := os.WriteFile(base+".pdf", pdf, 0o644); err != nil {
				t.Fatal(err)
			}
			if out, err := exec.Command(needTool(t, "pdftoppm"), "-png", "-r", "60", base+".pdf", base).CombinedOutput(); err != nil {
				t.Fatalf("pdftoppm: %v %s", err, out)
			}
		}
		for _, re := range volatileText {
			text = re.ReplaceAllString(text, "<…>")
		}
		// pdftotext spaces columns by the widest text of the page, which
		// the volatile values move: the lines and their order are
		// compared, the gaps between columns only as gaps.
		// Likewise a paragraph naming a random root wraps where its
		// width says: each block of lines (a paragraph, a table row) is
		// compared as one line.
		for joined := ""; joined != text; {
			joined, text = text, lineInBlock.ReplaceAllString(text, "$1 $2")
		}
		text = columnGap.ReplaceAllString(text, "  ")
		checkGolden(t, d.golden, text)
	}

	// A signature imported from another system (a migration): no
	// sending or intent recorded here, and both documents say so.
	imported := `{"id":"im-sign","kind":"contract.signed","time":"2025-06-01T10:00:00+08:00","contract":{"id":"IM-1","name":"旧系统合同"},
 "actor":{"account":"13900000001","name":"钱七"},"data":{"document":{"sha256":"` + strings.Repeat("3", 64) + `"},"cert_serial":"0102",
 "positions":[{"page":1,"x":0.5,"y":0.5}],"intents":["legacy-1"],"imported":true}}`
	if _, err := ev.Ingest(ctx, p, []byte(imported)); err != nil {
		t.Fatal(err)
	}
	led.publish(t)
	for _, kind := range []string{report.KindCertificate, report.KindEvidence} {
		pdf, _, err := svc.Issue(ctx, kind, demo.Tenant.ID, demo.Tenant.ID+"/legal", "IM-1", false)
		if err != nil {
			t.Fatal(err)
		}
		if text := layoutText(t, pdf); !strings.Contains(text, "历史导入 Imported") {
			t.Errorf("%s of an imported signature does not say it was imported", kind)
		}
	}
}

// checkGolden compares got with testdata/name, or writes it with -update.
func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got == string(want) {
		return
	}
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
			t.Errorf("%s differs from line %d:\n got %q\nwant %q", name, i+1, g, w)
			return
		}
	}
	t.Errorf("%s differs", name)
}
