package notary

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func needOpenSSL(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Fatal("openssl not installed: run make deps (apt-get install openssl)")
	}
}

func runCmd(t *testing.T, dir string, name string, args ...string) ([]byte, error) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	return out, err
}

// tsaHandler serves a TSA the way web does, for tests in this package.
func tsaHandler(t *TSA) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		q, _ := io.ReadAll(io.LimitReader(r.Body, MaxTimestampQueryBytes+1))
		resp, err := t.Respond(q)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", TimestampReplyType)
		w.Write(resp)
	}
}

func TestTSAWithOpenSSL(t *testing.T) {
	needOpenSSL(t)
	dir := t.TempDir()
	tsa, err := LoadOrCreateTSA(filepath.Join(dir, "keys"), "notary.test")
	if err != nil {
		t.Fatal(err)
	}
	again, err := LoadOrCreateTSA(filepath.Join(dir, "keys"), "other")
	if err != nil || !bytes.Equal(again.CACertPEM(), tsa.CACertPEM()) {
		t.Fatalf("TSA not reused: %v", err)
	}
	for _, f := range []string{tsaCAKeyFile, tsaCertKeyFile} {
		if fi, err := os.Stat(filepath.Join(dir, "keys", f)); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, %v", f, fi.Mode(), err)
		}
	}
	srv := httptest.NewServer(tsaHandler(tsa))
	defer srv.Close()

	data := []byte("cunzheng.example/log\n42\nAAAA\n\n— cunzheng.example/log abc\n")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(filepath.Join(dir, "data"), data, 0o644))
	must(os.WriteFile(filepath.Join(dir, "other"), []byte("something else"), 0o644))
	must(os.WriteFile(filepath.Join(dir, "ca.pem"), tsa.CACertPEM(), 0o644))

	t.Run("client token verifies with openssl", func(t *testing.T) {
		tok, err := Timestamp(context.Background(), nil, srv.URL, data, tsa.Roots())
		if err != nil {
			t.Fatal(err)
		}
		if d := time.Since(tok.Time); d < -2*time.Second || d > time.Minute {
			t.Errorf("token time %v", tok.Time)
		}
		must(os.WriteFile(filepath.Join(dir, "tok.der"), tok.DER, 0o644))
		if out, err := runCmd(t, dir, "openssl", "ts", "-verify", "-token_in", "-in", "tok.der", "-data", "data", "-CAfile", "ca.pem"); err != nil {
			t.Fatalf("openssl ts -verify: %v\n%s", err, out)
		}
		if out, err := runCmd(t, dir, "openssl", "ts", "-verify", "-token_in", "-in", "tok.der", "-data", "other", "-CAfile", "ca.pem"); err == nil {
			t.Fatalf("openssl accepted the token for other data:\n%s", out)
		}
	})
	t.Run("openssl query, openssl verify", func(t *testing.T) {
		out, err := runCmd(t, dir, "openssl", "ts", "-query", "-data", "data", "-sha256", "-cert", "-out", "q.tsq")
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		q, _ := os.ReadFile(filepath.Join(dir, "q.tsq"))
		resp, err := http.Post(srv.URL, TimestampQueryType, bytes.NewReader(q))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if ct := resp.Header.Get("Content-Type"); ct != TimestampReplyType {
			t.Errorf("content type %q", ct)
		}
		must(os.WriteFile(filepath.Join(dir, "tok.tsr"), body, 0o644))
		if out, err := runCmd(t, dir, "openssl", "ts", "-verify", "-in", "tok.tsr", "-data", "data", "-CAfile", "ca.pem"); err != nil {
			t.Fatalf("openssl ts -verify: %v\n%s", err, out)
		}
		if out, err := runCmd(t, dir, "openssl", "ts", "-verify", "-in", "tok.tsr", "-queryfile", "q.tsq", "-CAfile", "ca.pem"); err != nil {
			t.Fatalf("openssl ts -verify -queryfile: %v\n%s", err, out)
		}
	})
	t.Run("certificate", func(t *testing.T) {
		found := false
		for _, e := range tsa.cert.Extensions {
			if e.Id.String() == "2.5.29.37" {
				found = e.Critical
			}
		}
		if !found {
			t.Error("EKU extension missing or not critical")
		}
		if len(tsa.cert.ExtKeyUsage) != 1 || tsa.cert.ExtKeyUsage[0] != x509.ExtKeyUsageTimeStamping {
			t.Errorf("EKU = %v", tsa.cert.ExtKeyUsage)
		}
	})
	t.Run("bad queries", func(t *testing.T) {
		for name, q := range map[string][]byte{
			"empty":   nil,
			"garbage": []byte("not DER"),
			"huge":    bytes.Repeat([]byte{0x30}, MaxTimestampQueryBytes+1),
		} {
			if _, err := tsa.Respond(q); !errors.Is(err, ErrBadTimestampQuery) {
				t.Errorf("%s: err = %v", name, err)
			}
		}
	})
	t.Run("client refuses a foreign root", func(t *testing.T) {
		other, err := LoadOrCreateTSA(filepath.Join(dir, "other-keys"), "x")
		if err != nil {
			t.Fatal(err)
		}
		_, err = Timestamp(context.Background(), nil, srv.URL, data, other.Roots())
		if err == nil || !strings.Contains(err.Error(), "signer") {
			t.Fatalf("token under a foreign root: err = %v, want a signer chain error", err)
		}
	})
}

// TestTimestampClientAgainstOpenSSLTSA runs the client against an
// independent TSA: `openssl ts -reply` with its own CA made by openssl.
func TestTimestampClientAgainstOpenSSLTSA(t *testing.T) {
	needOpenSSL(t)
	srv, roots := newOpenSSLTSA(t)
	data := []byte("a checkpoint note\n")
	tok, err := Timestamp(context.Background(), nil, srv.URL, data, roots)
	if err != nil {
		t.Fatal(err)
	}
	if len(tok.DER) == 0 || tok.Time.IsZero() {
		t.Fatalf("token = %+v", tok)
	}
}

// newOpenSSLTSA builds a CA and a TSA certificate with the openssl CLI and
// serves `openssl ts -reply` over HTTP.
func newOpenSSLTSA(t *testing.T) (*httptest.Server, *x509.CertPool) {
	t.Helper()
	dir := t.TempDir()
	cnf := `[ req ]
distinguished_name = dn
prompt = no
[ dn ]
CN = independent test TSA
[ v3_tsa ]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = critical, timeStamping
[ tsa ]
default_tsa = tsa1
[ tsa1 ]
dir = ` + dir + `
serial = $dir/serial
crypto_device = builtin
signer_cert = $dir/tsa.pem
signer_key = $dir/tsa.key
signer_digest = sha256
default_policy = 1.2.3.4.1
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = no
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256
`
	if err := os.WriteFile(filepath.Join(dir, "openssl.cnf"), []byte(cnf), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "serial"), []byte("01\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=independent test CA"},
		{"req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "tsa.key", "-out", "tsa.csr", "-config", "openssl.cnf"},
		{"x509", "-req", "-in", "tsa.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "tsa.pem", "-days", "2", "-extfile", "openssl.cnf", "-extensions", "v3_tsa"},
	} {
		if out, err := runCmd(t, dir, "openssl", args...); err != nil {
			t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	var mu = make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu <- struct{}{}
		defer func() { <-mu }()
		q, _ := io.ReadAll(r.Body)
		if err := os.WriteFile(filepath.Join(dir, "q.tsq"), q, 0o600); err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		cmd := exec.Command("openssl", "ts", "-reply", "-config", "openssl.cnf", "-queryfile", "q.tsq", "-out", "r.tsr")
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			http.Error(w, string(out), 500)
			return
		}
		resp, _ := os.ReadFile(filepath.Join(dir, "r.tsr"))
		w.Header().Set("Content-Type", TimestampReplyType)
		w.Write(resp)
	}))
	t.Cleanup(srv.Close)
	opensslCAs.Store(srv, filepath.Join(dir, "ca.pem"))
	caPEM, err := os.ReadFile(filepath.Join(dir, "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(caPEM)
	ca, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	return srv, roots
}

// TestPusherWithOpenSSLTSA: the log side gets a token for every checkpoint
// from an independent TSA (`openssl ts -reply`), and openssl verifies each
// stored token against that TSA's CA and the checkpoint note.
func TestPusherWithOpenSSLTSA(t *testing.T) {
	needOpenSSL(t)
	srv, roots := newOpenSSLTSA(t)
	lg := newTestLog(t, "cunzheng.example/log")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p, err := NewPusher(PusherConfig{Log: lg, TSAs: []TSAEndpoint{{URL: srv.URL, Roots: roots}}, MinBackoff: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { p.Run(ctx); close(done) }()
	var sizes []uint64
	for i := range 3 {
		lg.append(1 + i)
		sizes = append(sizes, lg.publish())
	}
	waitFor(t, "a token per checkpoint", func() bool {
		lg.mu.Lock()
		defer lg.mu.Unlock()
		for _, s := range sizes {
			if len(lg.tokens[s]) != 1 {
				return false
			}
		}
		return true
	})
	cancel()
	<-done
	if st := p.Status(); st.TSAs[0].Size != sizes[2] || st.TSAs[0].Time.IsZero() {
		t.Errorf("TSA status = %+v", st.TSAs[0])
	}
	dir := t.TempDir()
	for _, s := range sizes {
		lg.mu.Lock()
		tok, msg := lg.tokens[s][0], lg.notes[s]
		lg.mu.Unlock()
		if err := os.WriteFile(filepath.Join(dir, "tok.der"), tok, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "note"), msg, 0o600); err != nil {
			t.Fatal(err)
		}
		if out, err := runCmd(t, dir, "openssl", "ts", "-verify", "-token_in", "-in", "tok.der", "-data", "note", "-CAfile", opensslCAFile(t, srv)); err != nil {
			t.Fatalf("checkpoint %d: openssl ts -verify: %v\n%s", s, err, out)
		}
	}
}

// opensslCAs maps a test TSA server to its CA certificate file.
var opensslCAs sync.Map

func opensslCAFile(t *testing.T, srv *httptest.Server) string {
	f, ok := opensslCAs.Load(srv)
	if !ok {
		t.Fatal("unknown TSA server")
	}
	return f.(string)
}
