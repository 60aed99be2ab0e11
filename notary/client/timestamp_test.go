package client

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"net/http/httptest"

	"github.com/cunzheng/cunzheng/notary"
	"github.com/cunzheng/cunzheng/notary/notarytest"
)

// TestTimestampFromBuiltinTSA runs the client against the project's own
// TSA and checks its token with openssl.
func TestTimestampFromBuiltinTSA(t *testing.T) {
	notarytest.NeedOpenSSL(t)
	dir := t.TempDir()
	tsa, err := notary.LoadOrCreateTSA(filepath.Join(dir, "keys"), "notary.test")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(notarytest.TSAHandler(tsa.Respond))
	defer srv.Close()

	data := []byte("cunzheng.example/log\n42\nAAAA\n\n— cunzheng.example/log abc\n")
	notarytest.WriteFiles(t, dir, map[string][]byte{"data": data, "other": []byte("something else"), "ca.pem": tsa.CACertPEM()})

	t.Run("client token verifies with openssl", func(t *testing.T) {
		tok, err := Timestamp(context.Background(), nil, srv.URL, data, tsa.Roots())
		if err != nil {
			t.Fatal(err)
		}
		if d := time.Since(tok.Time); d < -2*time.Second || d > time.Minute {
			t.Errorf("token time %v", tok.Time)
		}
		notarytest.WriteFiles(t, dir, map[string][]byte{"tok.der": tok.DER})
		if out, err := notarytest.RunCmd(t, dir, "openssl", "ts", "-verify", "-token_in", "-in", "tok.der", "-data", "data", "-CAfile", "ca.pem"); err != nil {
			t.Fatalf("openssl ts -verify: %v\n%s", err, out)
		}
		if out, err := notarytest.RunCmd(t, dir, "openssl", "ts", "-verify", "-token_in", "-in", "tok.der", "-data", "other", "-CAfile", "ca.pem"); err == nil {
			t.Fatalf("openssl accepted the token for other data:\n%s", out)
		}
	})
	t.Run("client refuses a foreign root", func(t *testing.T) {
		other, err := notary.LoadOrCreateTSA(filepath.Join(dir, "other-keys"), "x")
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
	notarytest.NeedOpenSSL(t)
	srv, roots := notarytest.OpenSSLTSA(t)
	data := []byte("a checkpoint note\n")
	tok, err := Timestamp(context.Background(), nil, srv.URL, data, roots)
	if err != nil {
		t.Fatal(err)
	}
	if len(tok.DER) == 0 || tok.Time.IsZero() {
		t.Fatalf("token = %+v", tok)
	}
}
