package main

import (
	"bytes"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBuiltinNotarisationJourney: `make run`'s set-up, a log with its
// built-in office and no partner: the legal team requests notarisation from
// the console at the built-in office, which checks the bundle itself; the
// notary issues the 公证书 with `cunzheng notary issue` on the log's data
// directory (the log stopped, as the command says, since the office's
// store is the log's); the restarted log records it by itself and the
// console downloads it, checked against the office's SHA-256. The 公证书 is
// signed with the office's own certificate, not the platform's: pdfsig and
// `cunzheng verify pdf` accept it with the office's CA trusted, and verify
// pdf refuses it without.
func TestBuiltinNotarisationJourney(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	bin, err := cunzhengBinary()
	if err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(t.TempDir(), "data")
	args := []string{"--addr", freeAddr(t), "--data", data, "--demo", "--notary-poll", "500ms"}
	s := startServe(t, args...)
	key := waitDemo(t, s)

	bt := &tab{t: t, ctx: newBrowser(t), artifacts: artifactsDir(t)}
	contractPage := s.url + "/console/contracts/" + demoContract
	signInTab := func() {
		bt.do("sign in", chromedp.Navigate(s.url+"/console"), chromedp.WaitVisible(chromedp.CSS("#key")),
			chromedp.SendKeys(chromedp.CSS("#key"), key), chromedp.Click(chromedp.CSS("#signin")), chromedp.WaitVisible(chromedp.CSS("#search-button")))
	}
	signInTab()
	bt.do("the contract", chromedp.Navigate(contractPage), chromedp.WaitVisible(chromedp.CSS("#notarize-request")))
	office := bt.text("#notarize-office")
	if !strings.HasPrefix(office, "notary.builtin.") {
		t.Fatalf("the console offers %q, want the built-in office", office)
	}
	bt.shot("builtin-console-notarize")
	// The bundle needs the contract's newest record cosigned by the office.
	var msg string
	for deadline := time.Now().Add(30 * time.Second); ; {
		bt.do("申请公证", chromedp.Navigate(contractPage), chromedp.WaitVisible(chromedp.CSS("#notarize-request")),
			chromedp.Click(chromedp.CSS("#notarize-request")), chromedp.WaitNotPresent(chromedp.CSS("#timeline")))
		msg = bt.text("main")
		if strings.Contains(msg, "已申请公证") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 申请公证:\n%s", msg)
		}
		time.Sleep(time.Second)
	}
	bt.shot("builtin-console-requested")
	// The office checked the bundle itself and keeps it verified.
	id := regexp.MustCompile(`NR-\d{8}-[0-9a-f]{12}`).FindString(msg)
	if id == "" || !strings.Contains(msg, "公证处已自行核验证据包") {
		t.Fatalf("the console's answer to 申请公证:\n%s", msg)
	}
	// The office's pages are under /notary, but not its requests: their
	// checks name the contract by its number.
	if !strings.Contains(string(httpGet(t, s.url+"/notary/")), office) {
		t.Error("the built-in office's /notary/ does not name it")
	}
	if resp, err := http.Get(s.url + "/notary/v1/requests/" + id); err != nil || resp.StatusCode != 404 {
		t.Errorf("the built-in office's request on the log's public server: %v %v", resp, err)
	}

	// While the log runs, the office's store is the log's: the command says
	// to stop it, and changes nothing.
	if o, err := exec.Command(bin, "notary", "issue", id, "--data", data, "--notary-name", "张公证员").CombinedOutput(); err == nil || !strings.Contains(string(o), "stop the server") {
		t.Errorf("notary issue beside the running log: %v\n%s", err, o)
	}
	s.stop(t)
	out := filepath.Join(bt.artifacts, "builtin-notarial.pdf")
	o, err := exec.Command(bin, "notary", "issue", id, "--data", data, "--notary-name", "张公证员", "--out", out).CombinedOutput()
	if err != nil {
		t.Fatalf("notary issue: %v\n%s", err, o)
	}
	t.Logf("%s", o)
	s = startServe(t, args...)
	key = waitDemo(t, s)
	signInTab()
	// No 查询结果 click: the restarted log asks the office by itself.
	for deadline := time.Now().Add(30 * time.Second); ; {
		bt.do("the contract", chromedp.Navigate(contractPage), chromedp.WaitVisible(chromedp.CSS("#nr-"+id)))
		if strings.Contains(bt.text("#nr-"+id), "已出具公证书") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the log did not record the issue by itself: %q", bt.text("#nr-"+id))
		}
		time.Sleep(500 * time.Millisecond)
	}
	bt.shot("builtin-console-issued")
	pdf := bt.download("#nr-" + id + " .nr-download")
	if written, _ := os.ReadFile(out); !bytes.Equal(written, pdf) {
		t.Error("the console's download differs from the certificate notary issue wrote")
	}
	if leaf := notarizationLeaf(t, s.url, "notarization.issued", id); !strings.Contains(leaf, sha256Hex(pdf)) {
		t.Errorf("the ledger's notarization.issued: %q", leaf)
	}
	text := pdfText(t, pdf)
	for _, want := range []string{"公证书", id, "张公证员", office} {
		if !strings.Contains(text, want) {
			t.Errorf("the 公证书 lacks %q", want)
		}
	}
	sig, err := exec.Command("pdfsig", out).CombinedOutput()
	if err != nil || !strings.Contains(string(sig), "Signature is Valid") || !strings.Contains(string(sig), office) {
		t.Errorf("pdfsig (want a valid signature by the office's own certificate): %v\n%s", err, sig)
	}
	roots := filepath.Join(t.TempDir(), "roots")
	os.MkdirAll(roots, 0o755)
	ca, err := exec.Command(bin, "notary", "keys", "--data", data, "--signing-ca").Output()
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(roots, "office.pem"), ca, 0o644)
	if o, err := exec.Command(bin, "verify", "pdf", out, "--trust-roots", roots, "--system-roots=false").CombinedOutput(); err != nil {
		t.Errorf("cunzheng verify pdf with the office's CA trusted: %v\n%s", err, o)
	}
	if o, err := exec.Command(bin, "verify", "pdf", out, "--system-roots=false").CombinedOutput(); err == nil {
		t.Errorf("cunzheng verify pdf without the office's CA accepted it:\n%s", o)
	}
}
