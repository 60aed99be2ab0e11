package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"
)

// chromiumPath is Debian's chromium, installed by `make deps`.
const chromiumPath = "/usr/bin/chromium"

var yes = true

// newBrowser starts headless Chromium with a fresh profile and returns a
// tab context; the browser is killed at cleanup.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("the browser tests need Chromium at %s: apt-get install chromium (make deps does): %v", chromiumPath, err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	// Start the browser now, so its start-up is not charged to a step.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting Chromium: %v", err)
	}
	return ctx
}

// artifactsDir is $CUNZHENG_ARTIFACTS/<test> or a temporary directory.
func artifactsDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if base := os.Getenv("CUNZHENG_ARTIFACTS"); base != "" {
		dir = filepath.Join(base, t.Name())
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("screenshots and downloads in %s", dir)
	return dir
}

type tab struct {
	t         *testing.T
	ctx       context.Context
	base      string
	artifacts string
}

// do runs steps with a deadline, failing the test with the step's name.
func (b *tab) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

func (b *tab) text(sel string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

func (b *tab) eval(expr string) any {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[any](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("evaluating %s: %v", expr, err)
	}
	return v
}

// shot saves a full-page PNG screenshot as name.png.
func (b *tab) shot(name string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(b.artifacts, name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// allowDownloads makes the browser save downloads, named by their GUID,
// under the artifacts and report their progress; it returns the folder.
func (b *tab) allowDownloads(ctx context.Context) string {
	b.t.Helper()
	dir := filepath.Join(b.artifacts, "downloads")
	if _, err := chromedp.Run(ctx, chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.CallBrowser(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
			Behavior: browser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: dir, EventsEnabled: &yes,
		})
		return err
	})); err != nil {
		b.t.Fatalf("download behaviour: %v", err)
	}
	return dir
}

// download clicks sel and returns the downloaded file's bytes.
func (b *tab) download(sel string) []byte {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
	defer cancel()
	dir := b.allowDownloads(ctx)
	progress := chromedp.BrowserEvents(ctx, browser.DownloadProgress)
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(sel))); err != nil {
		b.t.Fatalf("clicking %s: %v", sel, err)
	}
	for ev, err := range progress {
		if err != nil {
			b.t.Fatalf("downloading with %s: %v", sel, err)
		}
		switch ev.State {
		case browser.DownloadProgressStateCompleted:
			data, err := os.ReadFile(filepath.Join(dir, ev.GUID))
			if err != nil {
				b.t.Fatal(err)
			}
			return data
		case browser.DownloadProgressStateCanceled:
			b.t.Fatalf("download with %s cancelled", sel)
		}
	}
	b.t.Fatalf("download with %s: no completion", sel)
	return nil
}

// pdfText is pdftotext's reading of a PDF.
func pdfText(t *testing.T, pdf []byte) string {
	t.Helper()
	if !bytes.HasPrefix(pdf, []byte("%PDF-")) {
		t.Fatalf("not a PDF: %q", pdf[:min(len(pdf), 40)])
	}
	if _, err := exec.LookPath("pdftotext"); err != nil {
		t.Fatalf("pdftotext missing: apt-get install poppler-utils (make deps does)")
	}
	f := filepath.Join(t.TempDir(), "doc.pdf")
	if err := os.WriteFile(f, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("pdftotext", "-enc", "UTF-8", f, "-").Output()
	if err != nil {
		t.Fatalf("pdftotext: %v", err)
	}
	return string(out)
}

// waitDemo waits for serve --demo to print the demo key and returns it.
func waitDemo(t *testing.T, s *server) string {
	t.Helper()
	var key string
	for deadline := time.Now().Add(30 * time.Second); key == "" && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if m := demoKeyRE.FindStringSubmatch(s.logs()); m != nil {
			key = m[1]
		}
	}
	if key == "" {
		t.Fatalf("no demo key printed:\n%s", s.logs())
	}
	return key
}

// ingestJSON posts events with the demo key (which has the ingest role).
func ingestJSON(t *testing.T, s *server, key, body string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, s.url+"/v1/events", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		msg, _ := io.ReadAll(resp.Body)
		t.Fatalf("ingest: %d %s", resp.StatusCode, msg)
	}
}

// The demo contract and an event whose contract name is a script.
const (
	demoContract = "2125270852621565954"
	evilName     = `<script>window.__xss=1</script><img src=x onerror="window.__xss=2">`
)

// TestBrowser drives the real binary with headless Chromium: what a court
// clerk and a company lawyer do, and what an attacker tries.
func TestBrowser(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	s := startServe(t, "--data", data, "--demo", "--checkpoint-interval", "200ms")
	key := waitDemo(t, s)
	ingestJSON(t, s, key, fmt.Sprintf(`{"id":"xss-1","kind":"contract.sent","time":"2026-01-05T10:00:00+08:00",`+
		`"contract":{"id":"XSS-1","name":%q},"actor":{"account":"x@example.com","name":"测试"},"data":{"signers":1}}`, evilName))
	ctx := newBrowser(t)
	b := &tab{t: t, ctx: ctx, base: s.url, artifacts: artifactsDir(t)}

	t.Run("home", func(t *testing.T) {
		b.t = t
		b.do("home", chromedp.Navigate(s.url+"/"), chromedp.WaitVisible(chromedp.CSS("#log-size")))
		if n := b.text("#log-size"); n == "" || n == "0" {
			t.Errorf("home page log size %q", n)
		}
		b.shot("home")
		b.do("home in English", chromedp.Navigate(s.url+"/?lang=en"), chromedp.WaitVisible(chromedp.CSS("#log-size")))
		if h := b.text("h1"); h != "E-signature evidence archive" {
			t.Errorf("English home title %q", h)
		}
		b.shot("home-en")
		b.do("back to Chinese", chromedp.Navigate(s.url+"/?lang=zh"), chromedp.WaitVisible(chromedp.CSS("#log-size")))
	})

	t.Run("console", func(t *testing.T) {
		b.t = t
		b.do("sign-in page", chromedp.Navigate(s.url+"/console"), chromedp.WaitVisible(chromedp.CSS("#key")))
		b.shot("console-sign-in")
		b.do("sign in", chromedp.SendKeys(chromedp.CSS("#key"), key), chromedp.Click(chromedp.CSS("#signin")),
			chromedp.WaitVisible(chromedp.CSS("#search-button")))
		b.do("search by number", chromedp.SendKeys(chromedp.CSS("#number"), demoContract), chromedp.Click(chromedp.CSS("#search-button")),
			chromedp.WaitVisible(chromedp.CSS("#results")))
		b.shot("console-search")
		b.do("open the contract", chromedp.Click(chromedp.CSS(`#results a[href="/console/contracts/`+demoContract+`"]`)),
			chromedp.WaitVisible(chromedp.CSS("#timeline")))
		if got := b.text("#contract-number"); got != demoContract {
			t.Fatalf("contract page shows %q", got)
		}
		kinds := b.eval(`Array.from(document.querySelectorAll("#timeline tbody tr")).map(r => r.dataset.kind + ":" + r.dataset.proof).join(" ")`).(string)
		for _, want := range []string{"contract.sent:", "identity.checked:", "intent.verified:", "contract.signed:", "contract.completed:"} {
			if !strings.Contains(kinds, want) {
				t.Errorf("timeline lacks %s: %s", want, kinds)
			}
		}
		if strings.Contains(kinds, ":failed") {
			t.Errorf("a proof failed: %s", kinds)
		}
		// The demo events are old enough to be in a checkpoint.
		if !strings.Contains(kinds, "contract.completed:ok") {
			t.Errorf("no checked proof: %s", kinds)
		}
		if m := b.text("#timeline tbody tr:nth-child(3)"); !strings.Contains(m, "短信验证码") && !strings.Contains(m, "手机号三要素") {
			t.Errorf("no verification method in the timeline: %q", m)
		}
		b.shot("console-contract")

		// Downloads: the first waits until the records are in a cosigned,
		// time-stamped checkpoint (the page says so until then).
		var cert []byte
		for deadline := time.Now().Add(30 * time.Second); ; {
			cert = b.tryDownload("#dl-certificate")
			if cert != nil || time.Now().After(deadline) {
				break
			}
			time.Sleep(time.Second)
			b.do("reload", chromedp.Navigate(s.url+"/console/contracts/"+demoContract), chromedp.WaitVisible(chromedp.CSS("#timeline")))
		}
		if cert == nil {
			b.shot("console-download-failed")
			t.Fatal("no certificate page downloaded")
		}
		if txt := pdfText(t, cert); !strings.Contains(txt, demoContract) {
			t.Errorf("certificate page lacks the contract number:\n%s", txt)
		}
		if testing.Short() {
			return // -short: sign-in, search, timeline and one download
		}
		maskedPDF := b.download("#dl-report")
		masked := pdfText(t, maskedPDF)
		if !strings.Contains(masked, demoContract) || strings.Contains(masked, "330106198801012345") {
			t.Errorf("masked evidence report: number missing or ID number shown")
		}
		// The unmasked report needs the confirmation box: without it the
		// browser does not submit.
		b.do("unconfirmed reveal", chromedp.Click(chromedp.CSS("#dl-revealed")), chromedp.Sleep(300*time.Millisecond))
		if valid := b.eval(`document.querySelector("#confirm-reveal").checkValidity()`); valid != false {
			t.Errorf("the confirmation box is not required")
		}
		b.do("confirm", chromedp.Click(chromedp.CSS("#confirm-reveal")))
		revealedPDF := b.download("#dl-revealed")
		revealed := pdfText(t, revealedPDF)
		if !strings.Contains(revealed, demoContract) || !strings.Contains(revealed, "330106198801012345") {
			t.Errorf("revealed evidence report lacks the number or the full ID number")
		}
		bundle := b.download("#dl-bundle")
		if !bytes.HasPrefix(bundle, []byte("PK\x03\x04")) {
			t.Fatalf("bundle is not a zip")
		}
		out := verifyDemoBundle(t, data, bundle)
		if !strings.Contains(out, "PASS") || strings.Contains(out, "NOT pinned") {
			t.Errorf("verify bundle:\n%s", out)
		}
		// The unmasked certificate page and bundle, each behind its own
		// confirmation, as the API's ?reveal=true.
		b.do("confirm certificate", chromedp.Click(chromedp.CSS("#confirm-certificate-reveal")))
		certRevealed := b.download("#dl-certificate-revealed")
		if txt := pdfText(t, certRevealed); !strings.Contains(txt, "叶建华") || !strings.Contains(txt, "18501775544") {
			t.Errorf("unmasked certificate page lacks the signer's name or account")
		}
		// The signed contract the platform stored (listed beside the
		// contract as sent, which the signers' events name).
		signedFile, err := os.ReadFile(filepath.Join(data, demoContractFile))
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(signedFile)
		original := b.download(fmt.Sprintf(`#originals a.original[href$="/documents/%x"]`, sum))
		if !bytes.Equal(original, signedFile) {
			t.Fatalf("the console's signed document (%d bytes) is not %s", len(original), demoContractFile)
		}
		// Every PDF passes pdfsig and cunzheng verify pdf; the certificate
		// page shows every field of the seed's sample page with the
		// demo's values; the bundle passes every command its README and
		// the report print.
		roots := pdfTrustRoots(t, data)
		for _, f := range []struct {
			name string
			pdf  []byte
		}{{"certificate", cert}, {"certificate-revealed", certRevealed}, {"report", maskedPDF}, {"report-revealed", revealedPDF}, {"original", original}} {
			checkSignedPDF(t, f.name, f.pdf, roots)
		}
		signedAt, err := demoSignedAt(context.Background(), original)
		if err != nil {
			t.Fatal(err)
		}
		checkSeedPage(t, pdfText(t, certRevealed), hex.EncodeToString(sum[:]), signedAt, true)
		checkSeedPage(t, pdfText(t, cert), hex.EncodeToString(sum[:]), signedAt, false)
		runPrintedCommands(t, bundle, maskedPDF)
		b.do("confirm bundle", chromedp.Click(chromedp.CSS("#confirm-bundle-reveal")))
		out = verifyDemoBundle(t, data, b.download("#dl-bundle-revealed"))
		if !strings.Contains(out, "PASS") || !strings.Contains(out, "opening leaf") {
			t.Errorf("verify the unmasked bundle:\n%s", out)
		}
		// Every download is in the contract's chain of custody; the
		// timeline names methods in Chinese, with result and actor.
		b.do("timeline again", chromedp.Navigate(s.url+"/console/contracts/"+demoContract), chromedp.WaitVisible(chromedp.CSS("#timeline")))
		if n := b.eval(`document.querySelectorAll('#timeline tr[data-kind="report.issued"]').length`); n != float64(6) {
			t.Errorf("%v report.issued events in the timeline, want 6", n)
		}
		if tl := b.text("#timeline"); !strings.Contains(tl, "✓ 通过") || !strings.Contains(tl, "叶*华") || !strings.Contains(tl, "手机号三要素") {
			t.Errorf("timeline lacks a result, an actor or a method name:\n%s", tl)
		}
		b.shot("console-contract-after-downloads")
		if err := os.WriteFile(filepath.Join(b.artifacts, "certificate.pdf"), cert, 0o644); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("console-security", func(t *testing.T) {
		if testing.Short() {
			t.Skip("-short: the web package's tests cover these without a browser")
		}
		b.t = t
		// A script in a contract name is shown as text and never runs.
		b.do("search the evil name", chromedp.Navigate(s.url+"/console"), chromedp.WaitVisible(chromedp.CSS("#name")),
			chromedp.SendKeys(chromedp.CSS("#name"), "<script>"), chromedp.Click(chromedp.CSS("#search-button")),
			chromedp.WaitVisible(chromedp.CSS("#results")))
		if txt := b.text("#results"); !strings.Contains(txt, "<script>window.__xss=1</script>") {
			t.Errorf("the name is not shown as text: %q", txt)
		}
		b.do("open it", chromedp.Click(chromedp.CSS(`#results a[href="/console/contracts/XSS-1"]`)), chromedp.WaitVisible(chromedp.CSS("#timeline")), chromedp.Sleep(300*time.Millisecond))
		if v := b.eval(`window.__xss === undefined`); v != true {
			t.Errorf("the script in the contract name ran")
		}
		b.shot("console-escaped-name")
		// Forms without or with a wrong CSRF token are refused.
		for _, body := range []string{`{kind: "certificate"}`, `{kind: "certificate", csrf: "forged"}`} {
			st := b.eval(`fetch("/console/contracts/` + demoContract + `/download", {method: "POST", body: new URLSearchParams(` + body + `)}).then(r => r.status)`)
			if st != float64(403) {
				t.Errorf("download with %s: %v, want 403", body, st)
			}
		}
		// A fresh browser profile has no session.
		other := newBrowser(t)
		o := &tab{t: t, ctx: other, base: s.url, artifacts: b.artifacts}
		o.do("no session", chromedp.Navigate(s.url+"/console/contracts/"+demoContract), chromedp.WaitVisible(chromedp.CSS("h1")))
		if h := o.text("h1"); !strings.Contains(h, "请先登录") {
			t.Errorf("contract page without a session: %q", h)
		}
		o.shot("console-no-session")
		// Another tenant's session sees nothing of this one.
		otherKey := lastLine(cunzheng(t, "tenant", "create", "--data", data, "--name", "另一家公司", "--role", "legal"))
		o.do("sign in as another tenant", chromedp.Navigate(s.url+"/console"), chromedp.WaitVisible(chromedp.CSS("#key")),
			chromedp.SendKeys(chromedp.CSS("#key"), otherKey), chromedp.Click(chromedp.CSS("#signin")), chromedp.WaitVisible(chromedp.CSS("#search-button")))
		o.do("the demo contract", chromedp.Navigate(s.url+"/console/contracts/"+demoContract), chromedp.WaitVisible(chromedp.CSS("h1")))
		if h := o.text("h1"); !strings.Contains(h, "未找到合同") {
			t.Errorf("another tenant's contract: %q", h)
		}
		o.do("search it", chromedp.Navigate(s.url+"/console"), chromedp.WaitVisible(chromedp.CSS("#number")),
			chromedp.SendKeys(chromedp.CSS("#number"), demoContract), chromedp.Click(chromedp.CSS("#search-button")), chromedp.WaitVisible(chromedp.CSS("#no-results")))
		o.shot("console-other-tenant")
	})

	t.Run("verify", func(t *testing.T) {
		b.t = t
		if testing.Short() {
			t.Skip("-short")
		}
		cert, err := os.ReadFile(filepath.Join(b.artifacts, "certificate.pdf"))
		if err != nil {
			t.Fatalf("no certificate page from the console step: %v", err)
		}
		tampered := bytes.Clone(cert)
		i := bytes.Index(tampered, []byte("/Type /Page"))
		if i < 0 {
			i = len(tampered) / 3
		}
		tampered[i+1] ^= 0x20 // inside the signed byte range
		dir := t.TempDir()
		good, bad := filepath.Join(dir, "certificate.pdf"), filepath.Join(dir, "tampered.pdf")
		os.WriteFile(good, cert, 0o600)
		os.WriteFile(bad, tampered, 0o600)
		for _, tc := range []struct {
			name, file, want string
		}{{"good", good, "PDF文件验签成功"}, {"tampered", bad, "PDF文件验签失败"}} {
			b.do("upload "+tc.name, chromedp.Navigate(s.url+"/verify"), chromedp.WaitVisible(chromedp.CSS("#file")),
				chromedp.SetUploadFiles(chromedp.CSS("#file"), []string{tc.file}), chromedp.Click(chromedp.CSS("#verify-button")),
				chromedp.WaitVisible(chromedp.CSS("p.verdict")))
			if h := b.text("h1"); !strings.Contains(h, tc.want) {
				t.Errorf("%s PDF: verdict %q, want %q", tc.name, h, tc.want)
			}
			if body := b.text("main"); strings.Contains(body, "lookup failed") {
				t.Errorf("%s PDF: the ledger lookup failed: %s", tc.name, body)
			}
			b.shot("verify-" + tc.name)
		}
		b.do("upload page", chromedp.Navigate(s.url+"/verify"), chromedp.WaitVisible(chromedp.CSS("#file")))
		b.shot("verify")
	})

	t.Run("log", func(t *testing.T) {
		b.t = t
		b.do("log page", chromedp.Navigate(s.url+"/log"), chromedp.WaitVisible(chromedp.CSS("svg.chart")))
		b.do("look up leaf 3", chromedp.SendKeys(chromedp.CSS("#leaf"), "3"), chromedp.Click(chromedp.CSS("#lookup button")),
			chromedp.WaitVisible(chromedp.CSS("#inclusion")), chromedp.WaitVisible(chromedp.CSS("#browser-check")))
		if txt := b.text("#inclusion .verdict-line"); !strings.Contains(txt, "包含证明已校验") {
			t.Errorf("server check: %q", txt)
		}
		if r := b.eval(`document.querySelector("#browser-check").dataset.result`); r != "ok" {
			t.Errorf("browser check: %v (%s)", r, b.text("#browser-check"))
		}
		b.shot("log-leaf")
		if testing.Short() {
			return
		}
		// By hash, and consistency between the first and newest checkpoints.
		hash := b.eval(`document.querySelector("#inclusion code").textContent`).(string)
		b.do("look up by hash", chromedp.Navigate(s.url+"/log?leaf="+url.QueryEscape(hash)), chromedp.WaitVisible(chromedp.CSS("#leaf-index")))
		if idx := b.text("#leaf-index"); idx != "3" {
			t.Errorf("leaf by hash is %q", idx)
		}
		var cps struct{ Checkpoints []struct{ Size uint64 } }
		if err := json.Unmarshal(httpGet(t, s.url+"/v1/log/checkpoints"), &cps); err != nil || len(cps.Checkpoints) == 0 {
			t.Fatalf("checkpoints: %v", err)
		}
		b.do("consistency", chromedp.Navigate(fmt.Sprintf("%s/log?old=%d#consistency", s.url, cps.Checkpoints[0].Size)), chromedp.WaitVisible(chromedp.CSS("#consistency .result")))
		txt := b.text("#consistency")
		if !strings.Contains(txt, "一致性证明已校验") {
			t.Errorf("consistency: %q", txt)
		}
		b.shot("log-consistency")
		b.do("notaries", chromedp.Navigate(s.url+"/notaries"), chromedp.WaitVisible(chromedp.CSS("h1")))
		b.shot("notaries")
		// A phone-sized screen.
		b.do("phone", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile), chromedp.Navigate(s.url+"/log?leaf=3"), chromedp.WaitVisible(chromedp.CSS("#inclusion")))
		if w := b.eval(`document.documentElement.scrollWidth <= window.innerWidth + 1`); w != true {
			t.Errorf("the log page scrolls sideways on a phone")
		}
		b.shot("log-phone")
		b.do("phone console", chromedp.Navigate(s.url+"/console/contracts/"+demoContract), chromedp.WaitVisible(chromedp.CSS("#timeline")))
		b.shot("console-contract-phone")
	})
	s.stop(t)
}

// tryDownload clicks sel and returns the file, or nil when the server
// answered a page instead (not ready yet).
func (b *tab) tryDownload(sel string) []byte {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
	defer cancel()
	dir := b.allowDownloads(ctx)
	done := make(chan []byte, 1)
	progress := chromedp.BrowserEvents(ctx, browser.DownloadProgress)
	go func() {
		for ev, err := range progress {
			if err != nil {
				break
			}
			if ev.State == browser.DownloadProgressStateCompleted {
				data, _ := os.ReadFile(filepath.Join(dir, ev.GUID))
				done <- data
				return
			}
		}
		done <- nil
	}()
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(sel))); err != nil {
		b.t.Fatalf("clicking %s: %v", sel, err)
	}
	for {
		select {
		case data := <-done:
			return data
		case <-time.After(200 * time.Millisecond):
			// A page instead of a file: "not ready yet".
			loc, err := chromedp.Run(ctx, chromedp.Location())
			if err == nil && strings.HasSuffix(loc, "/download") {
				return nil
			}
		case <-ctx.Done():
			b.t.Fatalf("download with %s: %v", sel, errors.New("timed out"))
		}
	}
}

// TestBrowserCourt walks a court's journey on `serve --demo --public-url`:
// the QR link of a downloaded certificate page opens its ledger record; the
// demo contract's signed PDF is found as signed through the platform, with
// its signing event; a copy with one byte flipped and one with a forged
// incremental update each fail, said in Chinese; /keys publishes the keys.
func TestBrowserCourt(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: TestBrowser covers the browser basics")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	// The public name differs from the listen address (localhost, not
	// 127.0.0.1), so the test sees which one the documents carry.
	public := fmt.Sprintf("http://localhost:%d", port)
	data := filepath.Join(t.TempDir(), "data")
	s := startServe(t, "--data", data, "--demo", "--checkpoint-interval", "200ms",
		"--addr", fmt.Sprintf("127.0.0.1:%d", port), "--public-url", public)
	key := waitDemo(t, s)
	ctx := newBrowser(t)
	b := &tab{t: t, ctx: ctx, base: s.url, artifacts: artifactsDir(t)}

	t.Run("qr-link", func(t *testing.T) {
		b.t = t
		cert := fetchReady(t, s.url+"/v1/contracts/"+demoContract+"/certificate.pdf", key, 30*time.Second)
		txt := pdfText(t, cert)
		m := regexp.MustCompile(`(https?://\S+/verify)\?report=(CZ-\d{8}-[0-9a-f]{8})`).FindStringSubmatch(txt)
		if m == nil {
			t.Fatalf("no verification link on the certificate page:\n%s", txt)
		}
		if m[1] != public+"/verify" {
			t.Errorf("the certificate page links to %s, want the public URL %s/verify", m[1], public)
		}
		// The issuance is provable once the next checkpoint covers it
		// (200 ms here); until then the page says it awaits one.
		var rec string
		for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(300 * time.Millisecond) {
			b.do("open the QR link", chromedp.Navigate(m[1]+"?report="+m[2]), chromedp.WaitVisible(chromedp.CSS("#report-lookup")))
			rec = b.text("#report-lookup")
			if !strings.Contains(rec, "正在等待下一个检查点") || time.Now().After(deadline) {
				break
			}
		}
		for _, want := range []string{"由本存证平台于", "出具（签约存证页）", m[2], "已校验"} {
			if !strings.Contains(rec, want) {
				t.Errorf("the QR page lacks %q:\n%s", want, rec)
			}
		}
		b.shot("court-qr-link")
		if err := os.WriteFile(filepath.Join(b.artifacts, "certificate.pdf"), cert, 0o644); err != nil {
			t.Fatal(err)
		}
	})

	signed, err := os.ReadFile(filepath.Join(data, "demo-contract.pdf"))
	if err != nil {
		t.Fatalf("the demo's signed contract PDF: %v", err)
	}
	flipped := bytes.Clone(signed)
	i := bytes.Index(flipped, []byte("/Type /Page"))
	if i < 0 {
		t.Fatal("no page object in the demo contract")
	}
	flipped[i+7] ^= 0x20 // "/Type /page": inside the signed byte range
	dir := t.TempDir()
	files := map[string][]byte{"demo-contract.pdf": signed, "flipped.pdf": flipped, "forged-update.pdf": forgeUpdate(t, signed)}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		file     string
		headline string
		want     []string
	}{
		{"demo-contract.pdf", "PDF文件验签成功", []string{"通过本平台签署（合同签署完成）", "合同签署完成", "签名后文档未被修改"}},
		{"flipped.pdf", "PDF文件验签失败", []string{"签名覆盖的内容在签名后被改动：文档已被篡改", "HASH_FAILURE"}},
		{"forged-update.pdf", "签名后文档被修改（不允许的修改）", []string{"签名后文档被修改（不允许的修改）", "不允许", "SIG_CONSTRAINTS_FAILURE"}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			b.t = t
			b.do("upload "+tc.file, chromedp.Navigate(s.url+"/verify"), chromedp.WaitVisible(chromedp.CSS("#file")),
				chromedp.SetUploadFiles(chromedp.CSS("#file"), []string{filepath.Join(dir, tc.file)}), chromedp.Click(chromedp.CSS("#verify-button")),
				chromedp.WaitVisible(chromedp.CSS("#verify-headline")))
			if h := b.text("#verify-headline"); !strings.Contains(h, tc.headline) {
				t.Errorf("headline %q, want %q", h, tc.headline)
			}
			body := b.text("main")
			for _, w := range tc.want {
				if !strings.Contains(body, w) {
					t.Errorf("the page lacks %q", w)
				}
			}
			if tc.file != "demo-contract.pdf" && strings.Contains(body, "签名后文档未被修改") {
				t.Errorf("a changed file is described as unchanged")
			}
			// The ledger record tells a stranger what the public leaf says,
			// never the contract number (the PDF's own text may carry it).
			if rec := b.eval(`(document.querySelector("#ledger-record") || {}).textContent || ""`).(string); strings.Contains(rec, demoContract) {
				t.Errorf("a stranger sees the contract number in the ledger record")
			}
			// The cards are coloured by their verdict.
			want := map[string]string{"demo-contract.pdf": "rgb(27, 127, 59)", "flipped.pdf": "rgb(179, 38, 30)", "forged-update.pdf": "rgb(179, 38, 30)"}[tc.file]
			if c := b.eval(`getComputedStyle(document.querySelector("section.card")).borderLeftColor`); c != want {
				t.Errorf("signature card border %v, want %s", c, want)
			}
			b.shot("court-" + strings.TrimSuffix(tc.file, ".pdf"))
		})
	}

	// The public lookup says what the public leaves say; the contract
	// number only to the owning tenant's key or console session.
	t.Run("owner-only", func(t *testing.T) {
		b.t = t
		sum := sha256.Sum256(signed)
		u := fmt.Sprintf("%s/v1/verify/lookup/%x", s.url, sum)
		otherKey := lastLine(cunzheng(t, "tenant", "create", "--data", data, "--name", "另一家律所", "--role", "legal"))
		for _, tc := range []struct {
			who, key string
			want     bool
		}{{"stranger", "", false}, {"other tenant", otherKey, false}, {"owner", key, true}} {
			req, _ := http.NewRequest(http.MethodGet, u, nil)
			if tc.key != "" {
				req.Header.Set("Authorization", "Bearer "+tc.key)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || !strings.Contains(string(body), `"kind":"contract.completed"`) {
				t.Errorf("%s: lookup %d %s", tc.who, resp.StatusCode, body)
			}
			if got := strings.Contains(string(body), demoContract); got != tc.want {
				t.Errorf("%s: lookup shows the contract number: %v, want %v", tc.who, got, tc.want)
			}
		}
		b.do("sign in", chromedp.Navigate(s.url+"/console"), chromedp.WaitVisible(chromedp.CSS("#key")),
			chromedp.SendKeys(chromedp.CSS("#key"), key), chromedp.Click(chromedp.CSS("#signin")), chromedp.WaitVisible(chromedp.CSS("#search-button")))
		b.do("upload signed in", chromedp.Navigate(s.url+"/verify"), chromedp.WaitVisible(chromedp.CSS("#file")),
			chromedp.SetUploadFiles(chromedp.CSS("#file"), []string{filepath.Join(dir, "demo-contract.pdf")}), chromedp.Click(chromedp.CSS("#verify-button")),
			chromedp.WaitVisible(chromedp.CSS("#ledger-record")))
		if rec := b.text("#ledger-record"); !strings.Contains(rec, "合同编号 "+demoContract) {
			t.Errorf("the owner's session does not see the contract number:\n%s", rec)
		}
		b.shot("court-owner")
	})

	t.Run("keys", func(t *testing.T) {
		b.t = t
		b.do("keys from /verify", chromedp.Navigate(s.url+"/verify"), chromedp.WaitVisible(chromedp.CSS("#file")),
			chromedp.Click(chromedp.CSS(`main a[href="/keys"]`)), chromedp.WaitVisible(chromedp.CSS("#report-signing")))
		page := b.text("main")
		for _, k := range strings.Fields(cunzheng(t, "keys", "--data", data)) {
			if !strings.Contains(page, k) {
				t.Errorf("/keys lacks the log key %s", k)
			}
		}
		for _, w := range []string{"Ed25519", "SM2/SM3", "cosignature/v1", "cunzheng built-in TSA", "Document Signing"} {
			if !strings.Contains(page, w) {
				t.Errorf("/keys lacks %q", w)
			}
		}
		b.shot("court-keys")
		// A key's name (cunzheng.example/log) stays on one line, on a desktop
		// and on a phone, on /keys and the built-in office's overview: a
		// name broken mid-word cannot be compared by eye.
		for _, pg := range []struct {
			path, ready string
			min         float64
		}{{"/keys", "#report-signing", 3}, {"/notary/", "main table", 1}} {
			for _, w := range []int64{1280, 390} {
				b.do(fmt.Sprintf("%s at %d px", pg.path, w), chromedp.EmulateViewport(w, 900, chromedp.EmulateMobile), chromedp.Navigate(s.url+pg.path), chromedp.WaitVisible(chromedp.CSS(pg.ready)))
				if n, _ := b.eval(`document.querySelectorAll("main table code.name").length`).(float64); n < pg.min {
					t.Errorf("%s at %d px: %v names in the tables, want at least %v", pg.path, w, n, pg.min)
				}
				broken := b.eval(`[...document.querySelectorAll("main table code.name")].filter(c => c.getClientRects().length != 1).map(c => c.textContent)`)
				if l, ok := broken.([]any); !ok || len(l) > 0 {
					t.Errorf("%s at %d px, names wrap: %v", pg.path, w, broken)
				}
				b.shot(fmt.Sprintf("court-names-%s-%d", strings.Trim(pg.path, "/"), w))
			}
		}
		b.do("desktop again", chromedp.EmulateViewport(1280, 900))
	})
	s.stop(t)
}

// forgeUpdate appends to a signed PDF an incremental update that replaces
// the first page's content stream: what a forger does to change a signed
// contract's text while leaving the signed bytes intact.
func forgeUpdate(t *testing.T, pdf []byte) []byte {
	t.Helper()
	contents := regexp.MustCompile(`/Contents (\d+) 0 R`).FindSubmatch(pdf)
	trailer := bytes.LastIndex(pdf, []byte("trailer"))
	sx := bytes.LastIndex(pdf, []byte("startxref"))
	if contents == nil || trailer < 0 || sx < 0 {
		t.Fatal("the signed PDF has no page contents or classic trailer")
	}
	size := regexp.MustCompile(`/Size (\d+)`).FindSubmatch(pdf[trailer:])
	root := regexp.MustCompile(`/Root (\d+ \d+ R)`).FindSubmatch(pdf[trailer:])
	prev := regexp.MustCompile(`startxref\s+(\d+)`).FindSubmatch(pdf[sx:])
	if size == nil || root == nil || prev == nil {
		t.Fatal("cannot read the signed PDF's trailer")
	}
	out := bytes.Clone(pdf)
	if out[len(out)-1] != '\n' {
		out = append(out, '\n')
	}
	off := len(out)
	stream := "BT /F1 28 Tf 60 700 Td (FORGED: salary doubled) Tj ET"
	out = fmt.Appendf(out, "%s 0 obj\n<< /Length %d >>\nstream\n%s\nendstream\nendobj\n", contents[1], len(stream), stream)
	xref := len(out)
	out = fmt.Appendf(out, "xref\n%s 1\n%010d 00000 n \ntrailer\n<< /Size %s /Root %s /Prev %s >>\nstartxref\n%d\n%%%%EOF\n",
		contents[1], off, size[1], root[1], prev[1], xref)
	return out
}

// pdfTrustRoots is a directory holding the CA certificates serve made in
// data/keys (the report-signing and the platform's demo CA), for
// cunzheng verify pdf --trust-roots.
func pdfTrustRoots(t *testing.T, data string) string {
	t.Helper()
	dir := t.TempDir()
	pems, _ := filepath.Glob(filepath.Join(data, "keys", "*.pem"))
	n := 0
	for _, p := range pems {
		b, err := os.ReadFile(p)
		if err != nil || bytes.Contains(b, []byte("PRIVATE KEY")) || !bytes.Contains(b, []byte("CERTIFICATE")) {
			continue
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(p)), b, 0o600); err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n == 0 {
		t.Fatalf("no CA certificate under %s/keys", data)
	}
	return dir
}

// checkSignedPDF runs poppler's pdfsig and cunzheng verify pdf on pdf:
// every signature valid for both, TOTAL-PASSED for ours.
func checkSignedPDF(t *testing.T, name string, pdf []byte, roots string) {
	t.Helper()
	f := filepath.Join(t.TempDir(), name+".pdf")
	if err := os.WriteFile(f, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("pdfsig", f).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Signature is Valid") || strings.Contains(string(out), "Signature is Invalid") {
		t.Errorf("pdfsig %s: %v\n%s", name, err, out)
	}
	bin, err := cunzhengBinary()
	if err != nil {
		t.Fatal(err)
	}
	out, err = exec.Command(bin, "verify", "pdf", f, "--trust-roots", roots, "--system-roots=false").CombinedOutput()
	if err != nil {
		t.Errorf("cunzheng verify pdf %s: %v\n%s", name, err, out)
	}
}

// checkSeedPage checks that a certificate page shows every field of the
// seed's sample 签约存证页 (../shared/seeds/003_*.txt) with the demo's
// values: unmasked as recorded, masked as masked. The demo's events are
// dated by its contract PDF's signature, signedAt: sent 5 min 53 s
// before, the SMS code checked 1 s before.
func checkSeedPage(t *testing.T, text, docSHA256 string, signedAt time.Time, revealed bool) {
	t.Helper()
	flat := strings.Join(strings.Fields(text), " ")
	at := func(d time.Duration) string {
		return signedAt.Truncate(time.Second).Add(-d).In(time.FixedZone("UTC+8", 8*3600)).Format("2006-01-02 15:04:05")
	}
	fields := []string{
		"合同名称", "劳动合同", "合同编号", demoContract, "签署人数 Signers 2", "发送时间", at(5*time.Minute + 53*time.Second),
		"签约完成时间", at(0), "发件人账号", "所属企业", "伟伟集团", "发起平台", "上上签", "发起IP",
		"文件清单", "文件1", "完成文件哈希", "签署记录", "签约主体", "签署人账号", "接收合同时间", "接收合同账号", "接收合同手机号", "接收合同邮箱",
		"签署合同时间", "签署IP", "签署校验方式", "短信验证码校验", at(time.Second), "证书序列号",
		"548f6d36e1bf4c578fde8327c38f6fb1", "签署文件", "第2页", "0.60", "0.63", "0.73", "0.70",
	}
	if revealed {
		fields = append(fields, "戴文潘 weimei_pan@bestsign.cn", "60.12.241.194", "叶建华", "18501775544", "112.17.116.54")
	} else {
		fields = append(fields, "戴*潘", "60.12.*.*", "叶*华", "185****5544", "112.17.*.*")
	}
	for _, f := range fields {
		if !strings.Contains(flat, f) {
			t.Errorf("certificate page (revealed %v) lacks %q", revealed, f)
		}
	}
	if !strings.Contains(strings.Join(strings.Fields(text), ""), docSHA256) {
		t.Errorf("certificate page (revealed %v) lacks the signed file's SHA-256 %s", revealed, docSHA256)
	}
}
