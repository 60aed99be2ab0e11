package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cunzheng/cunzheng/notary"
)

// TestNotarisationResumesAfterRestart: a request is made from the console;
// the log is restarted while the office still holds it open; the office
// then issues its 公证书, and the restarted log records notarization.issued
// by itself (no 查询结果 click), which the console then shows and serves.
// Before the log kept asking about the requests the ledger holds open, the
// restarted process knew nothing of it and recorded nothing.
func TestNotarisationResumesAfterRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	bin, err := cunzhengBinary()
	if err != nil {
		t.Fatal(err)
	}
	data := t.TempDir()
	logData, dirA := filepath.Join(data, "log"), filepath.Join(data, "a")
	logKeys := mustKeys(t, logData)
	logVKey := logKeys.VerifierKeys()[0]
	out, err := exec.Command(bin, "notary", "keys", "--data", dirA, "--name", "a.office.test").Output()
	if err != nil {
		t.Fatal(err)
	}
	vkA := strings.TrimSpace(string(out))
	a := &notaryProc{t: t, bin: bin, addr: freeAddr(t), args: []string{"--data", dirA, "--log", logVKey}}
	a.start()
	args := []string{"--data", logData, "--demo", "--notary", a.url() + "=" + vkA, "--notary-poll", "200ms"}
	s := startServe(t, args...)
	cc := signIn(t, s.url, waitDemo(t, s))

	// The bundle needs the contract's newest record cosigned by the office:
	// the console says to try again until then.
	contract := "/console/contracts/" + demoContract
	waitUntil(t, "the console's 申请公证", func() bool {
		page := cc.get(contract)
		return strings.Contains(cc.post(contract+"/notarize", page, url.Values{"office": {"a.office.test"}}), "已申请公证")
	})
	var listed struct{ Requests []notary.RequestRecord }
	getJSON(t, a.url()+"/v1/requests", &listed)
	if len(listed.Requests) != 1 || listed.Requests[0].Status != notary.RequestVerified {
		t.Fatalf("the office holds %+v, want one verified request", listed.Requests)
	}
	id := listed.Requests[0].ID

	s.stop(t)
	s = startServe(t, args...)
	cc = signIn(t, s.url, waitDemo(t, s))
	// A few polls of the restarted log find the request still open.
	time.Sleep(time.Second)
	if leaf := notarizationLeaf(t, s.url, "notarization.issued", id); leaf != "" {
		t.Fatalf("issued recorded before the office issued: %s", leaf)
	}

	a.kill()
	if o, err := exec.Command(bin, "notary", "issue", id, "--data", dirA, "--notary-name", "张公证员").CombinedOutput(); err != nil {
		t.Fatalf("notary issue: %v\n%s", err, o)
	}
	a.start()
	rec, err := notary.FetchRequest(t.Context(), nil, a.url(), id, notary.LogAuth{Origin: logKeys.Name(), Signers: logKeys.Signers()})
	if err != nil || rec.Status != notary.RequestIssued {
		t.Fatalf("the office's record: %+v %v", rec, err)
	}
	var leaf string
	waitUntil(t, "the restarted log records the issue by itself", func() bool {
		leaf = notarizationLeaf(t, s.url, "notarization.issued", id)
		return leaf != ""
	})
	if !strings.Contains(leaf, rec.CertificateSHA256) {
		t.Errorf("the issue's leaf lacks the certificate's SHA-256 %s: %s", rec.CertificateSHA256, leaf)
	}
	page := cc.get(contract)
	if row := regexp.MustCompile(`(?s)<tr id="nr-` + regexp.QuoteMeta(id) + `">.*?</tr>`).FindString(page); !strings.Contains(row, "已出具公证书") {
		t.Errorf("the console's row of %s: %s", id, row)
	}
	pdf := cc.getBytes(contract + "/notarizations/" + id + "/certificate.pdf?office=a.office.test")
	if sha256Hex(pdf) != rec.CertificateSHA256 {
		t.Errorf("the console served %d bytes with SHA-256 %s, want the office's %s", len(pdf), sha256Hex(pdf), rec.CertificateSHA256)
	}
}

// notarizationLeaf returns the log's leaf of kind about request id, or "".
func notarizationLeaf(t *testing.T, base, kind, id string) string {
	t.Helper()
	for i := uint64(0); ; i++ {
		var e struct{ Leaf []byte }
		if getJSON(t, fmt.Sprintf("%s/v1/log/entries/%d", base, i), &e) != 200 {
			return ""
		}
		if l := string(e.Leaf); strings.Contains(l, `"kind":"`+kind+`"`) && strings.Contains(l, `"request":"`+id+`"`) {
			return l
		}
	}
}

// consoleClient is a signed-in session of the legal console, driven over
// plain HTTP with its forms' CSRF tokens.
type consoleClient struct {
	t    *testing.T
	c    *http.Client
	base string
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// signIn signs in to the console at base with key.
func signIn(t *testing.T, base, key string) *consoleClient {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	cc := &consoleClient{t: t, c: &http.Client{Jar: jar, Timeout: 60 * time.Second}, base: base}
	page := cc.get("/console")
	if body := cc.post("/console/login", page, url.Values{"key": {key}}); !strings.Contains(body, "search-button") {
		t.Fatalf("signing in to the console:\n%s", body)
	}
	return cc
}

func (cc *consoleClient) getBytes(path string) []byte {
	cc.t.Helper()
	resp, err := cc.c.Get(cc.base + path)
	if err != nil {
		cc.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		cc.t.Fatalf("GET %s: %d\n%s", path, resp.StatusCode, b)
	}
	return b
}

func (cc *consoleClient) get(path string) string { return string(cc.getBytes(path)) }

// post submits a form of page to path with page's CSRF token.
func (cc *consoleClient) post(path, page string, form url.Values) string {
	cc.t.Helper()
	m := csrfRE.FindStringSubmatch(page)
	if m == nil {
		cc.t.Fatalf("no CSRF token on the page before POST %s:\n%s", path, page)
	}
	form.Set("csrf", m[1])
	resp, err := cc.c.PostForm(cc.base+path, form)
	if err != nil {
		cc.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
