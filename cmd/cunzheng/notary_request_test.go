package main

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/cunzheng/cunzheng/ledger/tlogfmt"
	"github.com/cunzheng/cunzheng/notary"
)

// TestNotarisationRequest: a log and two offices (A pushed to, B pulling);
// the demo contract's evidence bundle is sent to each office with a request
// signed by the log's key (as the log would send it); each office checks the
// bundle itself and accepts it, B also against the leaf hashes it pulled;
// a bundle with a changed leaf is refused with the reason, one swapped in
// transit is not even kept; `notary issue` makes a 公证书 that pdfsig and
// `cunzheng verify pdf` (office certificate trusted) accept, which the log
// reads back from the office.
func TestNotarisationRequest(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	ctx := context.Background()
	offices := startTwoOffices(t)
	bin, data, dirA, keys, s, a, b, key := offices.bin, offices.data, offices.dirA, offices.keys, offices.s, offices.a, offices.b, offices.demoKey

	// The bundle is taken once the newest checkpoint carries both offices'
	// cosignatures (each office accepts only checkpoints it cosigned).
	var bundle []byte
	waitUntil(t, "a bundle cosigned by both offices", func() bool {
		req, _ := http.NewRequest(http.MethodGet, s.url+"/v1/contracts/"+demoContract+"/evidence-bundle.zip", nil)
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		bundle, _ = io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			return false
		}
		m := manifestOf(t, bundle)
		for _, cp := range m.Checkpoints {
			cosigned := string(zipFile(t, bundle, cp.Cosigned))
			if !strings.Contains(cosigned, "— a.office.test ") || !strings.Contains(cosigned, "— b.office.test ") {
				return false
			}
		}
		var ov notary.Overview
		getJSON(t, b.url()+"/v1/office", &ov)
		return len(ov.Logs) == 1 && ov.Logs[0].PulledSize >= m.Checkpoint
	})
	m := manifestOf(t, bundle)
	var leaf struct{ Contract string }
	if err := json.Unmarshal(zipFile(t, bundle, m.Events[0].Leaf), &leaf); err != nil || leaf.Contract == "" {
		t.Fatalf("the first leaf names no contract reference: %v", err)
	}
	request := func(id, office string, zipBytes []byte) []byte {
		r := notary.Request{Origin: m.Origin, ID: id, Contract: leaf.Contract, Office: office, Time: time.Now().UTC().Truncate(time.Second), BundleSHA256: sha256Hex(zipBytes)}
		msg, err := notary.SignRequest(r, keys.Signers()...)
		if err != nil {
			t.Fatal(err)
		}
		return msg
	}

	// A: from the legal console, in a browser.
	bt := &tab{t: t, ctx: newBrowser(t), artifacts: artifactsDir(t)}
	contractPage := s.url + "/console/contracts/" + demoContract
	bt.do("sign in", chromedp.Navigate(s.url+"/console"), chromedp.WaitVisible(chromedp.CSS("#key")),
		chromedp.SendKeys(chromedp.CSS("#key"), key), chromedp.Click(chromedp.CSS("#signin")), chromedp.WaitVisible(chromedp.CSS("#search-button")))
	bt.do("the contract", chromedp.Navigate(contractPage), chromedp.WaitVisible(chromedp.CSS("#notarize-request")))
	bt.shot("console-notarize")
	// The bundle needs the contract's newest record (the download above)
	// cosigned by both offices: the console says to try again until then.
	for deadline := time.Now().Add(30 * time.Second); ; {
		bt.do("申请公证 at A", chromedp.Navigate(contractPage), chromedp.WaitVisible(chromedp.CSS("#notarize-request")),
			chromedp.SetValue(chromedp.CSS("#notarize-office"), "a.office.test"),
			chromedp.Click(chromedp.CSS("#notarize-request")), chromedp.WaitNotPresent(chromedp.CSS("#timeline")))
		msg := bt.text("main")
		if strings.Contains(msg, "已申请公证") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 申请公证:\n%s", msg)
		}
		time.Sleep(time.Second)
	}
	var listed struct{ Requests []notary.RequestRecord }
	getJSON(t, a.url()+"/v1/requests", &listed)
	if len(listed.Requests) != 1 {
		t.Fatalf("A holds %d requests, want 1", len(listed.Requests))
	}
	recA := listed.Requests[0]
	idA := recA.ID
	if recA.Status != notary.RequestVerified || recA.Contract != leaf.Contract || recA.Origin != m.Origin {
		t.Fatalf("A's record of the console's request: %+v", recA)
	}
	bt.do("the contract again", chromedp.Navigate(contractPage), chromedp.WaitVisible(chromedp.CSS("#notarizations")))
	if row := bt.text("#nr-" + idA); !strings.Contains(row, "已申请，待出具") {
		t.Errorf("the console's row of %s: %q", idA, row)
	}
	recB, err := notary.SendRequest(ctx, nil, b.url(), request("NR-B-1", "b.office.test", bundle), bundle)
	if err != nil || recB.Status != notary.RequestVerified || !strings.Contains(strings.Join(recB.Checks, "\n"), "own copy") {
		t.Fatalf("B: %+v %v", recB, err)
	}

	// A changed leaf, in a bundle the log's key vouches for: refused, kept.
	tampered := rezip(t, bundle, m.Events[0].Leaf, func(b []byte) []byte { return bytes.Replace(b, []byte(`"kind":"`), []byte(`"kind":"x`), 1) })
	rec, err := notary.SendRequest(ctx, nil, a.url(), request("NR-A-2", "a.office.test", tampered), tampered)
	if err != nil || rec.Status != notary.RequestRefused || rec.Reason == "" {
		t.Fatalf("tampered bundle: %+v %v", rec, err)
	}
	t.Logf("A refused the tampered bundle: %s", rec.Reason)
	// Swapped in transit: not what the signed request names; not kept.
	if _, err := notary.SendRequest(ctx, nil, a.url(), request("NR-A-3", "a.office.test", bundle), tampered); err == nil || !strings.Contains(err.Error(), "400") {
		t.Errorf("a bundle swapped in transit: %v", err)
	}
	page := string(httpGet(t, a.url()+"/requests"))
	for _, want := range []string{idA, "核验通过，待出具", "NR-A-2", "已拒绝", "拒绝理由"} {
		if !strings.Contains(page, want) {
			t.Errorf("A's /requests lacks %q", want)
		}
	}
	if strings.Contains(page, "NR-A-3") {
		t.Error("A kept the request whose bundle was swapped in transit")
	}
	// A stranger reaching the office reads what the public leaves say,
	// never the contract number or the platform's report number (which
	// the office's checks and the 公证书 name); the office's staff, signed
	// in with a token of `notary staff add`, read everything.
	staffOut, err := exec.Command(bin, "notary", "staff", "add", "zhang", "--data", dirA).Output()
	if err != nil {
		t.Fatal(err)
	}
	staffToken := strings.TrimSpace(string(staffOut))
	for _, path := range []string{"/requests", "/requests?lang=en", "/v1/requests", "/v1/requests/" + idA, "/v1/requests/NR-A-2"} {
		body := string(httpGet(t, a.url()+path))
		if strings.Contains(body, demoContract) || strings.Contains(body, "CZ-") || strings.Contains(body, "verification failed") {
			t.Errorf("a stranger reads the contract number, a report number or a refusal's reason at A%s:\n%.1500s", path, body)
		}
	}
	bt.do("A's requests as a stranger", chromedp.Navigate(a.url()+"/requests"), chromedp.WaitVisible(chromedp.CSS("#request-"+idA)))
	bt.shot("office-requests-public")
	if txt := bt.text("main"); strings.Contains(txt, demoContract) || !strings.Contains(txt, idA) || !strings.Contains(txt, "工作人员登录") {
		t.Errorf("A's /requests in a browser, as a stranger:\n%s", txt)
	}
	staffGet := func(path string) (int, []byte) {
		req, _ := http.NewRequest(http.MethodGet, a.url()+path, nil)
		req.SetBasicAuth("zhang", staffToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	if code, body := staffGet("/staff/requests"); code != 200 || !strings.Contains(string(body), demoContract) || !strings.Contains(string(body), "拒绝理由") {
		t.Errorf("the staff's /staff/requests: %d, contract number or reason missing", code)
	}

	// Issue at A (stopped while the command holds its store).
	a.kill()
	out := filepath.Join(artifactsDir(t), "nr-a-1.pdf")
	if o, err := exec.Command(bin, "notary", "issue", "NR-A-2", "--data", dirA, "--notary-name", "张公证员").CombinedOutput(); err == nil || !strings.Contains(string(o), "refused") {
		t.Errorf("issuing the refused request: %v\n%s", err, o)
	}
	if o, err := exec.Command(bin, "notary", "issue", idA, "--data", dirA, "--notary-name", "张公证员", "--out", out).CombinedOutput(); err != nil {
		t.Fatalf("notary issue: %v\n%s", err, o)
	}
	a.start()
	logAuth := notary.LogAuth{Origin: m.Origin, Signers: keys.Signers()}
	rec, err = notary.FetchRequest(ctx, nil, a.url(), idA, logAuth)
	if err != nil || rec.Status != notary.RequestIssued || rec.IssuedBy != "张公证员" {
		t.Fatalf("the log reads back: %+v %v", rec, err)
	}
	pdf, err := notary.FetchCertificate(ctx, nil, a.url(), rec, logAuth)
	if err != nil {
		t.Fatal(err)
	}
	// The 公证书 names the contract by its number: not for a stranger, nor
	// for a log reading it without its key's fetch note; for the staff.
	if !strings.Contains(pdfText(t, pdf), demoContract) {
		t.Error("the 公证书 does not name the contract number")
	}
	if _, err := notary.FetchCertificate(ctx, nil, a.url(), rec, notary.LogAuth{Origin: m.Origin, Signers: mustKeys(t, filepath.Join(data, "stranger")).Signers()}); err == nil || !strings.Contains(err.Error(), "403") {
		t.Errorf("a fetch signed by another key: %v", err)
	}
	if resp, err := http.Get(a.url() + "/requests/" + idA + "/certificate.pdf"); err != nil || resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") == "" {
		t.Errorf("a stranger's download of the 公证书: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	if code, body := staffGet("/staff/requests/" + idA + "/certificate.pdf"); code != 200 || !bytes.Equal(body, pdf) {
		t.Errorf("the staff's download of the 公证书: %d", code)
	}
	for _, path := range []string{"/requests", "/v1/requests/" + idA} {
		if body := string(httpGet(t, a.url()+path)); strings.Contains(body, demoContract) || strings.Contains(body, "张公证员") || !strings.Contains(body, rec.CertificateSHA256) {
			t.Errorf("A%s after the issue, for a stranger: contract number or notary shown, or the certificate's SHA-256 missing", path)
		}
	}
	if written, _ := os.ReadFile(out); !bytes.Equal(written, pdf) {
		t.Error("the served certificate differs from the one notary issue wrote")
	}
	// The console reads the answer back, records it, and downloads it.
	bt.do("查询结果", chromedp.Navigate(contractPage), chromedp.WaitVisible(chromedp.CSS("#nr-"+idA+" .nr-result")),
		chromedp.Click(chromedp.CSS("#nr-"+idA+" .nr-result")), chromedp.WaitNotPresent(chromedp.CSS("#timeline")))
	if msg := bt.text("main"); !strings.Contains(msg, "已出具公证书") || !strings.Contains(msg, rec.CertificateSHA256) {
		t.Errorf("after 查询结果:\n%s", msg)
	}
	bt.do("the contract with the certificate", chromedp.Navigate(contractPage), chromedp.WaitVisible(chromedp.CSS("#nr-"+idA+" .nr-download")))
	bt.shot("console-notarized")
	if got := bt.download("#nr-" + idA + " .nr-download"); !bytes.Equal(got, pdf) {
		t.Error("the console's download differs from the office's certificate")
	}
	// The ledger holds the request and the issue, public, naming the
	// contract by reference only.
	var issuedLeaf, requestedLeaf string
	for i := uint64(0); ; i++ {
		var e struct{ Leaf []byte }
		if getJSON(t, fmt.Sprintf("%s/v1/log/entries/%d", s.url, i), &e) != 200 {
			break
		}
		switch l := string(e.Leaf); {
		case strings.Contains(l, `"kind":"notarization.requested"`) && strings.Contains(l, idA):
			requestedLeaf = l
		case strings.Contains(l, `"kind":"notarization.issued"`) && strings.Contains(l, idA):
			issuedLeaf = l
		}
	}
	if !strings.Contains(requestedLeaf, recA.BundleSHA256) || !strings.Contains(issuedLeaf, rec.CertificateSHA256) ||
		strings.Contains(requestedLeaf+issuedLeaf, demoContract) {
		t.Errorf("ledger records:\nrequested %s\nissued %s", requestedLeaf, issuedLeaf)
	}

	text := pdfText(t, pdf)
	for _, want := range []string{"公证书", idA, "张公证员", "a.office.test", recA.BundleSHA256[:16]} {
		if !strings.Contains(text, want) {
			t.Errorf("the 公证书 lacks %q", want)
		}
	}
	if o, err := exec.Command("pdfsig", out).CombinedOutput(); err != nil || !strings.Contains(string(o), "Signature is Valid") {
		t.Errorf("pdfsig: %v\n%s", err, o)
	}
	roots := filepath.Join(data, "roots")
	os.MkdirAll(roots, 0o755)
	ca, err := exec.Command(bin, "notary", "keys", "--data", dirA, "--signing-ca").Output()
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(roots, "office-a.pem"), ca, 0o644)
	o, err := exec.Command(bin, "verify", "pdf", out, "--trust-roots", roots, "--system-roots=false").CombinedOutput()
	if err != nil {
		t.Errorf("cunzheng verify pdf with the office's CA trusted: %v\n%s", err, o)
	}
	t.Logf("verify pdf:\n%s", o)
	if o, err := exec.Command(bin, "verify", "pdf", out, "--system-roots=false").CombinedOutput(); err == nil {
		t.Errorf("cunzheng verify pdf without the office's CA accepted it:\n%s", o)
	}
}

func manifestOf(t *testing.T, bundle []byte) *tlogfmt.Manifest {
	t.Helper()
	m, err := tlogfmt.ParseManifest(zipFile(t, bundle, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func zipFile(t *testing.T, bundle []byte, name string) []byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(bundle), int64(len(bundle)))
	if err != nil {
		t.Fatal(err)
	}
	f, err := zr.Open(name)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	defer f.Close()
	b, _ := io.ReadAll(f)
	return b
}

// rezip returns bundle with file name changed by edit.
func rezip(t *testing.T, bundle []byte, name string, edit func([]byte) []byte) []byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(bundle), int64(len(bundle)))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	zw := zip.NewWriter(&out)
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		if f.Name == name {
			b = edit(b)
		}
		w, err := zw.Create(f.Name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(b)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func sha256Hex(b []byte) string { return fmt.Sprintf("%x", sha256.Sum256(b)) }
