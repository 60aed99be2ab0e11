package main

import (
	"bytes"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"os"
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
	out := verifyDemoBundle(t, data, fetch("evidence-bundle.zip"))
	if !strings.Contains(out, "PASS") || strings.Contains(out, "NOT pinned") {
		t.Fatalf("verify bundle:\n%s", out)
	}
	s.stop(t)
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
