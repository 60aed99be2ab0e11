package main

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

var demoKeyRE = regexp.MustCompile(`demo API key:\n(\S+)`)

// TestE2EDemoReportsVerify is what a newcomer does after `make run`: fetch
// the demo contract's certificate page, evidence report and bundle with the
// printed key, check the PDFs on the public verification API and the bundle
// offline with pinned keys.
func TestE2EDemoReportsVerify(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	data := filepath.Join(t.TempDir(), "data")
	s := startServe(t, "--data", data, "--demo")
	key := waitDemo(t, s)
	base := s.url + "/v1/contracts/2125270852621565954/"
	fetch := func(name string) []byte {
		u := base + name
		if name == "" {
			u = strings.TrimSuffix(base, "/")
		}
		var body []byte
		// The first download waits for a cosigned, time-stamped checkpoint
		// covering the contract (503 until then).
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
			req, _ := http.NewRequest(http.MethodGet, u, nil)
			req.Header.Set("Authorization", "Bearer "+key)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return body
			}
			if resp.StatusCode != 503 || time.Now().After(deadline) {
				t.Fatalf("GET %s: %d %s", name, resp.StatusCode, body)
			}
		}
	}
	for _, name := range []string{"certificate.pdf", "evidence-report.pdf"} {
		pdf := fetch(name)
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		fw, _ := mw.CreateFormFile("file", name)
		fw.Write(pdf)
		mw.Close()
		resp, err := http.Post(s.url+"/v1/verify", mw.FormDataContentType(), &buf)
		if err != nil {
			t.Fatal(err)
		}
		var rep struct {
			Verdict struct{ Indication string } `json:"verdict"`
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err := json.Unmarshal(body, &rep); err != nil || rep.Verdict.Indication != "TOTAL-PASSED" {
			t.Fatalf("%s on /v1/verify: %v %s", name, err, body)
		}
	}
	// Each report issued is a report.issued event of the contract (chain
	// of custody), listed with the contract's events.
	var view struct {
		Events []struct{ Kind string } `json:"events"`
	}
	if err := json.Unmarshal(fetch(""), &view); err != nil {
		t.Fatal(err)
	}
	if n := countKind(view.Events, "report.issued"); n != 2 {
		t.Errorf("contract lists %d report.issued events after two reports, want 2", n)
	}
	bundle := fetch("evidence-bundle.zip")
	out := verifyDemoBundle(t, data, bundle)
	if !strings.Contains(out, "PASS") || strings.Contains(out, "NOT pinned") {
		t.Fatalf("verify bundle:\n%s", out)
	}
	runPrintedCommands(t, bundle, fetch("evidence-report.pdf"))
	// A court without scripts posts the bundle to /verify (the page offers
	// it): the server checks it against the keys it publishes. It said
	// "not a readable PDF".
	for _, tc := range []struct {
		name      string
		zip       []byte
		want, bad string
	}{
		{"bundle", bundle, "离线校验包验证通过", "不是可读的PDF"},
		{"edited bundle", flipByte(bundle, len(bundle)/2), "离线校验包验证失败", "验证通过"},
	} {
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		fw, _ := mw.CreateFormFile("file", "evidence-bundle.zip")
		fw.Write(tc.zip)
		mw.WriteField("mode", "server")
		mw.Close()
		resp, err := http.Post(s.url+"/verify", mw.FormDataContentType(), &buf)
		if err != nil {
			t.Fatal(err)
		}
		page, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(page), tc.want) || strings.Contains(string(page), tc.bad) {
			t.Errorf("%s posted to /verify: %d, want %q and not %q:\n%s", tc.name, resp.StatusCode, tc.want, tc.bad, page)
		}
	}
	s.stop(t)
}

// runPrintedCommands runs every command the bundle's README and the
// evidence reports print, exactly as printed, as a reader would: the
// README's in a directory holding the bundle under the name the service
// serves it by, the evidence report's (the bundle's copy and a separately
// downloaded one) with the bundle saved as the report says.
func runPrintedCommands(t *testing.T, bundle, report []byte) {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(bundle), int64(len(bundle)))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		files[f.Name], _ = io.ReadAll(rc)
		rc.Close()
	}
	var manifest struct {
		Report string `json:"report_number"`
	}
	if err := json.Unmarshal(files["manifest.json"], &manifest); err != nil || manifest.Report == "" {
		t.Fatalf("manifest: %v %s", err, files["manifest.json"])
	}
	for _, c := range []struct{ name, text, save string }{
		{"README.txt", string(files["README.txt"]), manifest.Report + "-evidence-bundle.zip"},
		{"the bundle's evidence-report.pdf", pdfToText(t, files["evidence-report.pdf"]), manifest.Report + "-evidence-bundle.zip"},
		{"a downloaded evidence-report.pdf", pdfToText(t, report), "evidence-bundle.zip"},
	} {
		cmds := printedCommands(c.text)
		if len(cmds) < 4 || !strings.HasPrefix(cmds[0], "cunzheng verify bundle "+c.save+" ") {
			t.Fatalf("%s prints %d commands, want cunzheng verify bundle %s first:\n%s", c.name, len(cmds), c.save, strings.Join(cmds, "\n"))
		}
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, c.save), bundle, 0o600); err != nil {
			t.Fatal(err)
		}
		bin, _ := cunzhengBinary()
		sh := exec.Command("sh", "-e", "-c", strings.Join(cmds, "\n"))
		sh.Dir = dir
		sh.Env = append(os.Environ(), "PATH="+filepath.Dir(bin)+string(os.PathListSeparator)+os.Getenv("PATH"))
		out, err := sh.CombinedOutput()
		if err != nil {
			t.Fatalf("commands printed in %s failed: %v\n%s\n%s", c.name, err, strings.Join(cmds, "\n"), out)
		}
		for _, want := range []string{"PASS", "Verification: OK", "Signature is Valid"} {
			if !strings.Contains(string(out), want) {
				t.Errorf("commands printed in %s: output lacks %q:\n%s", c.name, want, out)
			}
		}
		for _, bad := range []string{"FAILED", "NOT pinned", "FAIL "} {
			if strings.Contains(string(out), bad) {
				t.Errorf("commands printed in %s: output says %q:\n%s\n%s", c.name, bad, strings.Join(cmds, "\n"), out)
			}
		}
	}
}

// printedCommands extracts the shell commands a document prints: lines
// starting with one of the tools the documents name, with their " \"
// continuation lines.
func printedCommands(text string) []string {
	var cmds []string
	cont, loop := false, false
	for _, l := range strings.Split(text, "\n") {
		l = strings.TrimSpace(l)
		switch {
		case cont || loop:
			cmds[len(cmds)-1] += "\n    " + l
		case strings.HasPrefix(l, "cunzheng verify "), strings.HasPrefix(l, "unzip "), strings.HasPrefix(l, "openssl "), strings.HasPrefix(l, "pdfsig "):
			cmds = append(cmds, l)
		case strings.HasPrefix(l, "for "):
			cmds = append(cmds, l)
			loop = true
		default:
			continue
		}
		cont = strings.HasSuffix(l, "\\")
		if l == "done" {
			loop = false
		}
	}
	return cmds
}

func pdfToText(t *testing.T, pdf []byte) string {
	t.Helper()
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

func countKind(evs []struct{ Kind string }, kind string) int {
	n := 0
	for _, e := range evs {
		if e.Kind == kind {
			n++
		}
	}
	return n
}

// verifyDemoBundle runs cunzheng verify bundle on an evidence bundle of the
// service whose data directory is data, pinning its log keys, its built-in
// notary's key and its TSA root, and returns what it printed.
func verifyDemoBundle(t *testing.T, data string, bundle []byte) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "bundle.zip")
	if err := os.WriteFile(f, bundle, 0o600); err != nil {
		t.Fatal(err)
	}
	vkeys := strings.Fields(cunzheng(t, "keys", "--data", data))
	notaryKey := strings.TrimSpace(cunzheng(t, "notary", "keys", "--data", data))
	return cunzheng(t, "verify", "bundle", f, "--log-key", vkeys[0], "--log-key", vkeys[1],
		"--notary-key", notaryKey, "--tsa-roots", filepath.Join(data, "keys", "tsa-ca.pem"))
}

// flipByte returns a copy of b with one bit of byte i flipped.
func flipByte(b []byte, i int) []byte {
	c := bytes.Clone(b)
	c[i] ^= 1
	return c
}
