package verify

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"testing"
	"time"

	"github.com/emmansun/gmsm/smx509"
	"golang.org/x/crypto/ocsp"
)

type testCert struct {
	key  crypto.Signer
	cert *x509.Certificate
	smx  *smx509.Certificate
}

func mkCert(t *testing.T, cn string, parent *testCert, ca bool, eku []x509.ExtKeyUsage) *testCert {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		BasicConstraintsValid: true, IsCA: ca, ExtKeyUsage: eku,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	pc, pk := tmpl, crypto.Signer(key)
	if parent != nil {
		pc, pk = parent.cert, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, pc, key.Public(), pk)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	s, _ := smx509.ParseCertificate(der)
	return &testCert{key, c, s}
}

// TestOCSPDelegation checks that an OCSP response counts only when the
// issuer or a delegated responder with id-kp-OCSPSigning signed it.
func TestOCSPDelegation(t *testing.T) {
	ca := mkCert(t, "CA", nil, true, nil)
	signer := mkCert(t, "signer", ca, false, nil)
	sibling := mkCert(t, "sibling", ca, false, nil)
	responder := mkCert(t, "responder", ca, false, []x509.ExtKeyUsage{x509.ExtKeyUsageOCSPSigning})
	good := func(by *testCert, include bool) []byte {
		tmpl := ocsp.Response{Status: ocsp.Good, SerialNumber: signer.cert.SerialNumber,
			ThisUpdate: time.Now().Add(-time.Minute), NextUpdate: time.Now().Add(time.Hour)}
		if include {
			tmpl.Certificate = by.cert
		}
		der, err := ocsp.CreateResponse(ca.cert, by.cert, tmpl, by.key)
		if err != nil {
			t.Fatal(err)
		}
		return der
	}
	tests := []struct {
		name string
		resp []byte
		want string
	}{
		{"issuer", good(ca, false), "good"},
		{"delegated responder", good(responder, true), "good"},
		{"sibling end entity", good(sibling, true), "unknown"},
		{"the signer itself", good(signer, true), "unknown"},
	}
	for _, tt := range tests {
		r := revocationStatus(signer.smx, ca.smx, time.Now(), &revData{ocsps: [][]byte{tt.resp}})
		if r.Status != tt.want {
			t.Errorf("%s: status %q, want %q", tt.name, r.Status, tt.want)
		}
	}
}
