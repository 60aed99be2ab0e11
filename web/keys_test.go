package web

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"html"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestKeysPage: /keys and /v1/keys publish every key and certificate with
// a fingerprint anyone can recompute, and /verify links to it.
func TestKeysPage(t *testing.T) {
	certPEM, err := os.ReadFile(filepath.Join(pdfCorpus, "roots", "rsa-root.pem"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := pem.Decode(certPEM)
	if b == nil {
		t.Fatal("rsa-root.pem is not PEM")
	}
	der := b.Bytes
	k := PublishedKeys{
		Log: []string{
			"cunzheng.example/log+bdb186cd+AejnFHE6inNtR0jmfCQwGReEaM4mNM+OscHLpyf67n/U",
			"cunzheng.example/log+ca180e53+/2N1bnpoZW5nL3NtMi1zbTMvdjEEOdwhDmpeR+vzWjCF5BVx+XACTWPvd/uC4G2j7ISKGnCUjBTZWP7gjeurxyCKRdmjQjiZ6nw3KyaMr0WubUI8Bw==",
		},
		Notaries:      []string{"notary.builtin.cunzheng.example/log+45a20f6e+BMDCQRqU+p6kKzreRCgcAycXp8c6ueRoY+XlAFB6oWwT"},
		TSA:           [][]byte{der},
		ReportSigning: [][]byte{der},
	}
	h := New(Config{Mounts: []Mount{MountKeys(k, nil), MountVerify(VerifyConfig{})}})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/keys", nil))
	var v keysView
	if err := json.Unmarshal(rec.Body.Bytes(), &v); rec.Code != 200 || err != nil {
		t.Fatalf("/v1/keys: %d %v %s", rec.Code, err, rec.Body)
	}
	var types []string
	for _, pk := range append(v.Log, v.Notaries...) {
		sum := sha256.Sum256([]byte(pk.Key))
		if pk.SHA256 != hex.EncodeToString(sum[:]) {
			t.Errorf("%s: fingerprint %s is not the SHA-256 of the key line", pk.Key, pk.SHA256)
		}
		types = append(types, pk.Type)
	}
	if got := strings.Join(types, ","); got != "Ed25519,SM2/SM3,cosignature/v1 (Ed25519)" {
		t.Errorf("key types %s", got)
	}
	sum := sha256.Sum256(der)
	if len(v.TSA) != 1 || len(v.ReportSigning) != 1 || v.TSA[0].SHA256 != hex.EncodeToString(sum[:]) || v.TSA[0].Subject == "" || !strings.Contains(v.TSA[0].PEM, "BEGIN CERTIFICATE") {
		t.Errorf("certificates: %+v", v)
	}
	for _, lang := range []string{"zh", "en"} {
		rec = httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodGet, "/keys?lang="+lang, nil)
		h.ServeHTTP(rec, req)
		page := rec.Body.String()
		for _, want := range []string{k.Log[0], k.Log[1], k.Notaries[0], v.Log[0].SHA256, v.TSA[0].SHA256} {
			// html/template writes "+" as "&#43;".
			want = strings.NewReplacer("+", "&#43;").Replace(want)
			if rec.Code != 200 || !strings.Contains(page, want) {
				t.Errorf("/keys?lang=%s: %d, lacks %q", lang, rec.Code, want)
			}
		}
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/verify", nil))
	if !strings.Contains(rec.Body.String(), `href="/keys"`) {
		t.Error("/verify does not link to /keys")
	}
}

// TestKeysPageCommands runs the commands /keys prints to recompute a
// fingerprint, as printed, and finds the fingerprints the page shows (the
// certificate's command printed colon-separated capitals before).
func TestKeysPageCommands(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Fatal("openssl not found: install openssl (apt-get install -y openssl)")
	}
	certPEM, err := os.ReadFile(filepath.Join(pdfCorpus, "roots", "rsa-root.pem"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := pem.Decode(certPEM)
	k := PublishedKeys{Log: []string{"cunzheng.example/log+bdb186cd+AejnFHE6inNtR0jmfCQwGReEaM4mNM+OscHLpyf67n/U"}, TSA: [][]byte{b.Bytes}}
	h := New(Config{Mounts: []Mount{MountKeys(k, nil)}})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/keys?lang=en", nil))
	page := html.UnescapeString(rec.Body.String())
	commands := regexp.MustCompile(`\((printf [^)]*sha256sum)\).*\((openssl [^)]*sha256sum)\)`).FindStringSubmatch(page)
	if commands == nil {
		t.Fatalf("/keys prints no fingerprint commands:\n%s", page)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "CERT.pem"), certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	keySum, certSum := sha256.Sum256([]byte(k.Log[0])), sha256.Sum256(b.Bytes)
	for _, tc := range []struct{ cmd, want string }{
		{strings.Replace(commands[1], "KEY", "'"+k.Log[0]+"'", 1), hex.EncodeToString(keySum[:])},
		{commands[2], hex.EncodeToString(certSum[:])},
	} {
		c := exec.Command("sh", "-c", tc.cmd)
		c.Dir = dir
		out, err := c.CombinedOutput()
		got, _, _ := strings.Cut(strings.TrimSpace(string(out)), " ")
		if err != nil || got != tc.want || !strings.Contains(page, tc.want) {
			t.Errorf("%s: %v\n%s\nwant %s, which the page shows", tc.cmd, err, out, tc.want)
		}
	}
}

// TestKeysCommandLine: /keys prints the commands that check a PDF the
// archive issued with `cunzheng verify pdf` against the published keys
// (the plain `cunzheng verify pdf FILE` the pages used to print leaves the
// platform's own CA and the ledger's keys out: INDETERMINATE for every
// report). The files the commands fetch are served: the CA certificates
// as one PEM (report-signing CA and TSA roots), the log's and notaries'
// verifier keys one a line as --ledger-keys reads them.
func TestKeysCommandLine(t *testing.T) {
	certPEM, err := os.ReadFile(filepath.Join(pdfCorpus, "roots", "rsa-root.pem"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := pem.Decode(certPEM)
	k := PublishedKeys{
		Log:           []string{"cunzheng.example/log+bdb186cd+AejnFHE6inNtR0jmfCQwGReEaM4mNM+OscHLpyf67n/U"},
		Notaries:      []string{"notary.builtin.cunzheng.example/log+45a20f6e+BMDCQRqU+p6kKzreRCgcAycXp8c6ueRoY+XlAFB6oWwT"},
		TSA:           [][]byte{b.Bytes},
		ReportSigning: [][]byte{b.Bytes},
		PublicURL:     "https://cunzheng.example.com",
	}
	h := New(Config{Mounts: []Mount{MountKeys(k, nil)}})
	get := func(path string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		return rec
	}
	page := html.UnescapeString(get("/keys").Body.String())
	want := "cunzheng verify pdf FILE.pdf --trust-roots cunzheng-roots --ledger-keys cunzheng-ledger-keys.txt --server https://cunzheng.example.com"
	if !strings.Contains(page, want) {
		t.Errorf("/keys does not print %q", want)
	}
	urls := regexp.MustCompile(`curl -fsS -o (\S+) (https://cunzheng\.example\.com(/\S+))`).FindAllStringSubmatch(page, -1)
	if len(urls) != 2 {
		t.Fatalf("/keys prints %d curl commands, want 2", len(urls))
	}
	for _, u := range urls {
		rec := get(u[3])
		if rec.Code != 200 {
			t.Fatalf("%s: %d", u[3], rec.Code)
		}
		body := rec.Body.String()
		switch {
		case strings.HasSuffix(u[1], ".pem"):
			n := 0
			for rest := []byte(body); ; n++ {
				var blk *pem.Block
				if blk, rest = pem.Decode(rest); blk == nil {
					break
				}
			}
			if n != 1 { // one CA, published once though it is in both lists
				t.Errorf("%s holds %d certificates, want 1:\n%s", u[3], n, body)
			}
		case strings.HasSuffix(u[1], ".txt"):
			if body != k.Log[0]+"\n"+k.Notaries[0]+"\n" {
				t.Errorf("%s:\n%s", u[3], body)
			}
		}
	}
	// Without --public-url the commands name the address the reader used.
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/keys", nil)
	req.Host = "127.0.0.1:8080"
	New(Config{Mounts: []Mount{MountKeys(PublishedKeys{Log: k.Log}, nil)}}).ServeHTTP(rec, req)
	if !strings.Contains(html.UnescapeString(rec.Body.String()), "--server http://127.0.0.1:8080") {
		t.Errorf("without a public URL, /keys does not name the address it was reached at")
	}
}
