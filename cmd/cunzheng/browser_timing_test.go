package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/cunzheng/cunzheng/report"
)

// TestBrowserVerifyTiming measures, in headless Chromium, the time from
// the click on "verify" to the verdict on the page, for the demo
// certificate page and a 10 MB PDF signed by the platform: the local
// check the first time (the module fetched and compiled), again (module
// ready), and the server path (upload, verify, render). Figures for the
// README, not assertions: run with CUNZHENG_VERIFY_TIMING=1.
func TestBrowserVerifyTiming(t *testing.T) {
	if os.Getenv("CUNZHENG_VERIFY_TIMING") == "" {
		t.Skip("set CUNZHENG_VERIFY_TIMING=1 to measure the /verify paths")
	}
	data := filepath.Join(t.TempDir(), "data")
	s := startServe(t, "--data", data, "--demo", "--checkpoint-interval", "200ms")
	key := waitDemo(t, s)
	cert := fetchReady(t, s.url+"/v1/contracts/"+demoContract+"/certificate.pdf", key, 60*time.Second)
	signer, err := report.DemoSigner(filepath.Join(data, "keys"), "cunzheng", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	big, err := signer.Sign(bigPDF(10<<20), "timing", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	files := map[string][]byte{"certificate.pdf": cert, "big.pdf": big}
	for n, b := range files {
		os.WriteFile(filepath.Join(dir, n), b, 0o600)
	}
	ctx := newBrowser(t)
	b := &tab{t: t, ctx: ctx, base: s.url, artifacts: artifactsDir(t)}
	// One click to the verdict, in the chosen mode, on a fresh page: the
	// local check fetches the module (from the HTTP cache but the first
	// time: it is immutable) and compiles it on the first click.
	run := func(file, mode string) time.Duration {
		b.do("open", chromedp.Navigate(s.url+"/verify"), chromedp.WaitVisible(chromedp.CSS("#local-check")),
			chromedp.Click(chromedp.CSS("#mode-"+mode)), chromedp.SetUploadFiles(chromedp.CSS("#file"), []string{filepath.Join(dir, file)}))
		done := "#local-done"
		if mode == "server" {
			done = "p.verdict"
		}
		start := time.Now()
		b.do("verify", chromedp.Click(chromedp.CSS("#verify-button")), chromedp.WaitVisible(chromedp.CSS(done)))
		took := time.Since(start)
		if h := b.text("#verify-headline"); !strings.Contains(h, "验签成功") {
			t.Errorf("%s (%s): %q", file, mode, h)
		}
		return took
	}
	median := func(d []time.Duration) time.Duration { slices.Sort(d); return d[len(d)/2] }
	first := run("certificate.pdf", "local")
	t.Logf("first local check of the browser (module downloaded and compiled): %v", first.Round(time.Millisecond))
	for _, f := range []string{"certificate.pdf", "big.pdf"} {
		var local, server []time.Duration
		for range 3 {
			local = append(local, run(f, "local"))
			server = append(server, run(f, "server"))
		}
		t.Logf("%s (%d bytes): local %v, server %v (medians of 3, interleaved)", f, len(files[f]),
			median(local).Round(time.Millisecond), median(server).Round(time.Millisecond))
	}
}
