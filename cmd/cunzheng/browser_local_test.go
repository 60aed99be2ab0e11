package main

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/cunzheng/cunzheng/verify"
)

// netLog records every request the page sends, with its body, from the
// DevTools protocol's Network domain.
type netLog struct {
	mu   sync.Mutex
	reqs []loggedRequest
}

type loggedRequest struct {
	Method, URL string
	HasBody     bool
	Body        []byte
}

func (l *netLog) take() []loggedRequest {
	l.mu.Lock()
	defer l.mu.Unlock()
	r := l.reqs
	l.reqs = nil
	return r
}

// recordNetwork turns on the Network domain with request bodies kept
// whole (up to 64 MiB) and records every request of the tab.
func recordNetwork(t *testing.T, ctx context.Context) *netLog {
	t.Helper()
	l := &netLog{}
	max := int64(64 << 20)
	if err := chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Call(ctx, network.Enable, network.EnableParams{MaxPostDataSize: &max})
		return err
	})); err != nil {
		t.Fatalf("network domain: %v", err)
	}
	if err := chromedp.Listen(ctx, func(ev any) {
		e, ok := ev.(*network.EventRequestWillBeSent)
		if !ok || e.Request == nil {
			return
		}
		r := loggedRequest{Method: e.Request.Method, URL: e.Request.URL, HasBody: e.Request.HasPostData}
		for _, p := range e.Request.PostDataEntries {
			r.Body = append(r.Body, p.Bytes...)
		}
		l.mu.Lock()
		l.reqs = append(l.reqs, r)
		l.mu.Unlock()
	}); err != nil {
		t.Fatalf("listening to the network: %v", err)
	}
	return l
}

// mainHTML is the page's <main> as the browser holds it, without the
// local check's own "checked in this browser" line.
const mainHTML = `(() => { const m = document.querySelector("main").cloneNode(true);
	const d = m.querySelector("#local-done"); if (d) d.remove(); return m.innerHTML.trim(); })()`

// TestBrowserLocalVerify checks on /verify, in headless Chromium, a good,
// a tampered and a forged PDF and an evidence bundle inside the browser
// (the WebAssembly module): no request the page sends carries the file's
// bytes (the DevTools network log, bodies and sizes), the only lookups are
// by the hashes the report names, and the result (its HTML and its JSON
// report) is the server path's for the same file.
func TestBrowserLocalVerify(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: TestBrowser covers the browser basics")
	}
	data := filepath.Join(t.TempDir(), "data")
	s := startServe(t, "--data", data, "--demo", "--checkpoint-interval", "200ms")
	key := waitDemo(t, s)
	if strings.Contains(get(t, s.url+"/verify"), `id="local-unavailable"`) {
		t.Fatal("the binary was built without the local check module: run make wasm (make test does)")
	}
	bundle := fetchReady(t, s.url+"/v1/contracts/"+demoContract+"/evidence-bundle.zip", key, 60*time.Second)
	signed, err := os.ReadFile(filepath.Join(data, "demo-contract.pdf"))
	if err != nil {
		t.Fatalf("the demo's signed contract PDF: %v", err)
	}
	tampered := bytes.Clone(signed)
	i := bytes.Index(tampered, []byte("/Type /Page"))
	if i < 0 {
		t.Fatal("no page object in the demo contract")
	}
	tampered[i+7] ^= 0x20 // inside the signed byte range
	dir := t.TempDir()
	files := map[string][]byte{"good.pdf": signed, "tampered.pdf": tampered, "forged.pdf": forgeUpdate(t, signed),
		"bundle.zip": bundle, "bundle-edited.zip": editBundle(t, bundle)}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	ctx := newBrowser(t)
	b := &tab{t: t, ctx: ctx, base: s.url, artifacts: artifactsDir(t)}
	nl := recordNetwork(t, ctx)

	for _, tc := range []struct {
		file, headline string
	}{
		{"good.pdf", "PDF文件验签成功"},
		{"tampered.pdf", "PDF文件验签失败"},
		{"forged.pdf", "签名后文档被修改（不允许的修改）"},
		{"bundle.zip", "离线校验包验证通过"},
		{"bundle-edited.zip", "离线校验包验证失败"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			b.t = t
			content := files[tc.file]
			b.do("open /verify", chromedp.Navigate(s.url+"/verify"), chromedp.WaitVisible(chromedp.CSS("#local-check")))
			if line := b.text("#local-line"); !strings.Contains(line, "文件不会上传") {
				t.Errorf("the page does not say the file is not uploaded: %q", line)
			}
			nl.take()
			b.do("check locally", chromedp.SetUploadFiles(chromedp.CSS("#file"), []string{filepath.Join(dir, tc.file)}),
				chromedp.Click(chromedp.CSS("#verify-button")), chromedp.WaitVisible(chromedp.CSS("#local-done")))
			if h := b.text("#verify-headline"); !strings.Contains(h, tc.headline) {
				t.Errorf("headline %q, want %q", h, tc.headline)
			}
			b.shot("local-" + strings.TrimSuffix(tc.file, filepath.Ext(tc.file)))
			local := b.eval(mainHTML).(string)
			resJSON := b.eval(`JSON.stringify(window.cunzhengLocalResult)`).(string)
			var res struct {
				Report *verify.Report `json:"report"`
				Bundle *struct {
					Pinned bool
				} `json:"bundle"`
			}
			if err := json.Unmarshal([]byte(resJSON), &res); err != nil {
				t.Fatal(err)
			}
			// What the local check sent: the page's own GETs, nothing
			// with a body, no URL longer than a lookup, and lookups only
			// of the file's and its revisions' hashes.
			hashes := map[string]bool{}
			if res.Report != nil {
				hashes[res.Report.FileSHA256] = true
				// Every revision: each prefix ending at an %%EOF and its
				// end of line (verify looks up the earlier revisions too).
				for i, eof := 0, []byte("%%EOF"); ; {
					j := bytes.Index(content[i:], eof)
					if j < 0 {
						break
					}
					i += j + len(eof)
					for _, end := range []int{i, i + 1, i + 2} {
						if end <= len(content) {
							sum := sha256.Sum256(content[:end])
							hashes[hex.EncodeToString(sum[:])] = true
						}
					}
				}
			}
			reqs := nl.take()
			// A PDF is looked up in the ledger, so its check is seen in the
			// log; a bundle's needs no request at all (the module and the
			// trust bundle were fetched when the page opened).
			if len(reqs) == 0 && strings.HasSuffix(tc.file, ".pdf") {
				t.Fatal("no lookup recorded: the network log is not working")
			}
			probe := content[len(content)/2 : len(content)/2+64]
			for _, r := range reqs {
				if r.HasBody || len(r.Body) > 0 || r.Method != http.MethodGet {
					t.Errorf("the local check sent %s %s with a body of %d bytes", r.Method, r.URL, len(r.Body))
				}
				if len(r.URL) > 200 || bytes.Contains([]byte(r.URL), probe) {
					t.Errorf("the local check sent a long URL (%d bytes): %.120s", len(r.URL), r.URL)
				}
				if u, err := url.Parse(r.URL); err == nil && u.Path == "/v1/verify/lookup" {
					if h := u.Query().Get("sha256"); !hashes[h] {
						t.Errorf("the local check looked up %q, which is neither the file's nor a revision's hash", h)
					}
				}
			}
			if tc.file == "bundle-edited.zip" {
				if res.Bundle != nil {
					t.Errorf("an edited bundle passed: %s", resJSON)
				}
				return
			}
			if tc.file == "bundle.zip" {
				if res.Bundle == nil || !res.Bundle.Pinned {
					t.Errorf("the bundle was not checked against the pinned keys: %s", resJSON)
				}
				if body := b.text("main"); !strings.Contains(body, "cosigned by notary") || !strings.Contains(body, "genTime") {
					t.Errorf("the bundle's result lacks its cosignature and timestamp checks:\n%s", body)
				}
				return
			}
			// The server path for the same file: the same report and the
			// same page.
			server := postVerify(t, s.url, tc.file, content)
			if got, want := reportJSON(t, res.Report), reportJSON(t, server); got != want {
				t.Errorf("the local report differs from the server's:\nlocal:  %s\nserver: %s", got, want)
			}
			b.do("check on the server", chromedp.Navigate(s.url+"/verify"), chromedp.WaitVisible(chromedp.CSS("#local-check")),
				chromedp.Click(chromedp.CSS("#mode-server")),
				chromedp.SetUploadFiles(chromedp.CSS("#file"), []string{filepath.Join(dir, tc.file)}),
				chromedp.Click(chromedp.CSS("#verify-button")), chromedp.WaitVisible(chromedp.CSS("p.verdict")))
			// The control: the log does see an upload (Chromium keeps the
			// form's parts but not the file's bytes in the entries, so the
			// local check is held to sending no body at all, above).
			if uploaded := nl.take(); !sentBody(uploaded) {
				t.Errorf("the server check's upload is not in the network log, so its absence above proves nothing")
			}
			if remote := b.eval(mainHTML).(string); remote != local {
				t.Errorf("the local page differs from the server's:\nlocal:\n%s\nserver:\n%s", local, remote)
			}
		})
	}

	// A page naming another log key than the one this browser pinned on
	// first use gets no local check: the user is told, and nothing is sent.
	t.Run("pinned-key", func(t *testing.T) {
		b.t = t
		b.do("open /verify", chromedp.Navigate(s.url+"/verify"), chromedp.WaitVisible(chromedp.CSS("#local-check")))
		b.eval(`localStorage.setItem("cunzheng.verify.logKey", "other.example/log+01234567+AAAA"), true`)
		b.do("check locally", chromedp.Navigate(s.url+"/verify"), chromedp.WaitVisible(chromedp.CSS("#local-check")),
			chromedp.SetUploadFiles(chromedp.CSS("#file"), []string{filepath.Join(dir, "good.pdf")}),
			chromedp.Click(chromedp.CSS("#verify-button")), chromedp.WaitVisible(chromedp.CSS("#local-error")))
		if msg := b.text("#local-error"); !strings.Contains(msg, "日志公钥与本浏览器上次记住的不同") {
			t.Errorf("error %q", msg)
		}
		b.shot("local-pinned-key")
	})
}

// editBundle rewrites the bundle with one byte of its first event leaf
// changed (a valid zip whose content no longer checks).
func editBundle(t *testing.T, bundle []byte) []byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(bundle), int64(len(bundle)))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	zw := zip.NewWriter(&out)
	edited := false
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		if !edited && strings.Contains(f.Name, "leaf") && len(b) > 10 {
			b[len(b)/2] ^= 0x01
			edited = true
		}
		w, _ := zw.Create(f.Name)
		w.Write(b)
	}
	zw.Close()
	if !edited {
		t.Fatal("no leaf file in the bundle to edit")
	}
	return out.Bytes()
}

// sentBody reports whether one of reqs posted a body to /verify.
func sentBody(reqs []loggedRequest) bool {
	for _, r := range reqs {
		if r.Method == http.MethodPost && r.HasBody && strings.HasSuffix(r.URL, "/verify") {
			return true
		}
	}
	return false
}

// postVerify is the server path's JSON report for a file.
func postVerify(t *testing.T, base, name string, content []byte) *verify.Report {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, _ := mw.CreateFormFile("file", name)
	fw.Write(content)
	mw.Close()
	resp, err := http.Post(base+"/v1/verify", mw.FormDataContentType(), &body)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("POST /v1/verify: %d %s", resp.StatusCode, b)
	}
	var rep verify.Report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	return &rep
}

// checkedAtRE matches the one field that differs between two checks of
// the same file: when it was checked.
var checkedAtRE = regexp.MustCompile(`"checkedAt":"[^"]*"`)

// reportJSON is a report's JSON without its check time.
func reportJSON(t *testing.T, rep *verify.Report) string {
	t.Helper()
	if rep == nil {
		return "null"
	}
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	return checkedAtRE.ReplaceAllString(string(b), `"checkedAt":""`)
}

// get is the body of a GET.
func get(t *testing.T, u string) string {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
