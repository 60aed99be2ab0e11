package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cunzheng/cunzheng/verify"
)

// writeTestCert writes a self-signed certificate for 127.0.0.1 and its key.
func writeTestCert(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "cunzheng test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// TestServeTLS: --tls-cert/--tls-key serve HTTPS with TLS 1.2 or later
// only, HSTS and the security headers on pages, Secure console cookies; a
// client that sends its headers too slowly is cut off.
func TestServeTLS(t *testing.T) {
	certFile, keyFile, pool := writeTestCert(t)
	s := startServe(t, "--data", filepath.Join(t.TempDir(), "data"), "--tls-cert", certFile, "--tls-key", keyFile, "--demo")
	if !strings.HasPrefix(s.url, "https://") {
		t.Fatalf("serve printed %s", s.url)
	}
	client := func(maxVersion uint16) *http.Client {
		return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: pool, MaxVersion: maxVersion}}}
	}
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		resp, err := client(v).Get(s.url + "/console")
		if err != nil {
			t.Fatalf("TLS %x: %v", v, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		h := resp.Header
		if resp.StatusCode != 200 || !strings.Contains(h.Get("Strict-Transport-Security"), "max-age=") ||
			!strings.Contains(h.Get("Content-Security-Policy"), "frame-ancestors 'none'") || h.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("TLS %x: %d %v", v, resp.StatusCode, h)
		}
		secure := false
		for _, c := range resp.Cookies() {
			secure = secure || (c.Name == "cz_login" && c.Secure && c.HttpOnly && c.SameSite == http.SameSiteStrictMode)
		}
		if !secure {
			t.Errorf("console cookie over TLS is not Secure, HttpOnly, SameSite=Strict: %v", resp.Cookies())
		}
	}
	if _, err := client(tls.VersionTLS11).Get(s.url + "/healthz"); err == nil {
		t.Error("TLS 1.1 accepted")
	}
	// Plain HTTP on the TLS port gets no page.
	if resp, err := http.Get("http://" + strings.TrimPrefix(s.url, "https://") + "/healthz"); err == nil {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Errorf("plain HTTP served: %s", b)
		}
	}
	// Reports are signed and time-stamped by the built-in TSA even though the
	// public listener's certificate is one the machine does not trust.
	key := waitDemo(t, s)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		req, _ := http.NewRequest(http.MethodGet, s.url+"/v1/contracts/2125270852621565954/certificate.pdf", nil)
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := client(0).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == 200 {
			rep, err := verify.PDF(context.Background(), bytes.NewReader(body), int64(len(body)), verify.Options{})
			if err != nil || len(rep.Signatures) != 1 {
				t.Fatalf("certificate page over TLS: %v", err)
			}
			if ts := rep.Signatures[0].Timestamp; ts == nil || !ts.SignatureOK || !ts.ImprintOK {
				t.Fatalf("certificate page over TLS has no valid signature timestamp: %+v", ts)
			}
			break
		}
		if resp.StatusCode != 503 || time.Now().After(deadline) {
			t.Fatalf("certificate page over TLS: %d %s\n%s", resp.StatusCode, body, s.logs())
		}
	}
	if !testing.Short() {
		// A client that never finishes its headers is cut off after the
		// header timeout (5 s), not held open.
		conn, err := tls.Dial("tcp", strings.TrimPrefix(s.url, "https://"), &tls.Config{RootCAs: pool})
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		io.WriteString(conn, "GET /healthz HTTP/1.1\r\nHost: x\r\n")
		start := time.Now()
		conn.SetReadDeadline(time.Now().Add(30 * time.Second))
		io.Copy(io.Discard, conn)
		if d := time.Since(start); d > 20*time.Second {
			t.Errorf("a slow-header client was held %v", d)
		}
	}
	s.stop(t)
}
