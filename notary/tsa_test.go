package notary

import (
	"github.com/cunzheng/cunzheng/notary/notarytest"

	"bytes"
	"crypto/x509"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
)

func TestTSAWithOpenSSL(t *testing.T) {
	notarytest.NeedOpenSSL(t)
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
	srv := httptest.NewServer(notarytest.TSAHandler(tsa.Respond))
	defer srv.Close()

	data := []byte("cunzheng.example/log\n42\nAAAA\n\n— cunzheng.example/log abc\n")
	notarytest.WriteFiles(t, dir, map[string][]byte{"data": data, "ca.pem": tsa.CACertPEM()})

	t.Run("openssl query, openssl verify", func(t *testing.T) {
		out, err := notarytest.RunCmd(t, dir, "openssl", "ts", "-query", "-data", "data", "-sha256", "-cert", "-out", "q.tsq")
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
		notarytest.WriteFiles(t, dir, map[string][]byte{"tok.tsr": body})
		if out, err := notarytest.RunCmd(t, dir, "openssl", "ts", "-verify", "-in", "tok.tsr", "-data", "data", "-CAfile", "ca.pem"); err != nil {
			t.Fatalf("openssl ts -verify: %v\n%s", err, out)
		}
		if out, err := notarytest.RunCmd(t, dir, "openssl", "ts", "-verify", "-in", "tok.tsr", "-queryfile", "q.tsq", "-CAfile", "ca.pem"); err != nil {
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
}
