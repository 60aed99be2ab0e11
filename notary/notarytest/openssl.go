package notarytest

import (
	"crypto/x509"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// RFC 3161 over HTTP (RFC 3161 section 3.4), as notary serves it; written
// out here because this package imports neither side.
const (
	timestampReplyType = "application/timestamp-reply"
	maxQueryBytes      = 4 << 10
)

// NeedOpenSSL fails the test when the openssl CLI is missing.
func NeedOpenSSL(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Fatal("openssl not installed: run make deps (apt-get install openssl)")
	}
}

// RunCmd runs name with args in dir and returns its combined output.
func RunCmd(t *testing.T, dir string, name string, args ...string) ([]byte, error) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	return out, err
}

// TSAHandler serves a TSA's respond function the way web does: the reply
// to a POSTed query, or 400 with the error.
func TSAHandler(respond func(query []byte) ([]byte, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		q, _ := io.ReadAll(io.LimitReader(r.Body, maxQueryBytes+1))
		resp, err := respond(q)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", timestampReplyType)
		w.Write(resp)
	}
}

// OpenSSLTSA builds a CA and a TSA certificate with the openssl CLI and
// serves `openssl ts -reply` over HTTP: a TSA independent of this
// project's. It returns the server and a pool holding the CA.
func OpenSSLTSA(t *testing.T) (*httptest.Server, *x509.CertPool) {
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
		if out, err := RunCmd(t, dir, "openssl", args...); err != nil {
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
		w.Header().Set("Content-Type", timestampReplyType)
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

// opensslCAs maps a test TSA server to its CA certificate file.
var opensslCAs sync.Map

// OpenSSLCAFile is the CA certificate file of a server from OpenSSLTSA.
func OpenSSLCAFile(t *testing.T, srv *httptest.Server) string {
	f, ok := opensslCAs.Load(srv)
	if !ok {
		t.Fatal("unknown TSA server")
	}
	return f.(string)
}

// WriteFiles writes each named file into dir, for the openssl commands
// of a test.
func WriteFiles(t testing.TB, dir string, files map[string][]byte) {
	t.Helper()
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
