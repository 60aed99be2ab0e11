// Package testpki makes the small public-key infrastructure the report
// tests and the demo contract need: a CA, a time-stamping authority
// certificate (EKU id-kp-timeStamping, critical) and an RFC 3161 responder
// built on digitorus/timestamp that can run in-process over HTTP. It is the
// same responder shape as a real TSA, so pdfsign and the bundle checker talk
// to it exactly as they would to a production one.
package testpki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	_ "embed"
	"encoding/asn1"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/digitorus/timestamp"
)

// CA is a certificate authority with its key.
type CA struct {
	Cert *x509.Certificate
	Key  crypto.Signer
}

// NewCA makes a self-signed ECDSA P-256 root.
func NewCA(name string, notBefore time.Time) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name, Organization: []string{"cunzheng test"}, Country: []string{"CN"}},
		NotBefore:             notBefore,
		NotAfter:              notBefore.AddDate(20, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &CA{Cert: cert, Key: key}, nil
}

// TSACert issues a time-stamping certificate (critical EKU timeStamping).
func (ca *CA) TSACert(name string, serial int64) (*x509.Certificate, crypto.Signer, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	eku, err := asn1.Marshal([]asn1.ObjectIdentifier{{1, 3, 6, 1, 5, 5, 7, 3, 8}})
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:    big.NewInt(serial),
		Subject:         pkix.Name{CommonName: name, Organization: []string{"cunzheng test"}, Country: []string{"CN"}},
		NotBefore:       ca.Cert.NotBefore,
		NotAfter:        ca.Cert.NotAfter,
		KeyUsage:        x509.KeyUsageDigitalSignature,
		ExtraExtensions: []pkix.Extension{{Id: asn1.ObjectIdentifier{2, 5, 29, 37}, Critical: true, Value: eku}},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, key.Public(), ca.Key)
	if err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	return cert, key, err
}

// TSA is an RFC 3161 responder.
type TSA struct {
	Cert   *x509.Certificate
	Key    crypto.Signer
	Policy asn1.ObjectIdentifier
	// Clock gives genTime; nil means time.Now.
	Clock func() time.Time
	// Requests counts answered requests.
	Requests atomic.Int64
}

// NewTSA makes a CA and a TSA certificate under it.
func NewTSA(name string) (*TSA, *CA, error) {
	ca, err := NewCA(name+" Root CA", time.Date(2015, 1, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		return nil, nil, err
	}
	cert, key, err := ca.TSACert(name, 2)
	if err != nil {
		return nil, nil, err
	}
	return &TSA{Cert: cert, Key: key, Policy: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 99999, 1, 1}}, ca, nil
}

// Token returns a TimeStampToken (DER) over SHA-256(msg) at time at.
func (t *TSA) Token(msg []byte, at time.Time) ([]byte, error) {
	sum := sha256.Sum256(msg)
	resp, err := t.respond(crypto.SHA256, sum[:], nil, at)
	if err != nil {
		return nil, err
	}
	ts, err := timestamp.ParseResponse(resp)
	if err != nil {
		return nil, err
	}
	return ts.RawToken, nil
}

func (t *TSA) respond(h crypto.Hash, digest []byte, nonce *big.Int, at time.Time) ([]byte, error) {
	ts := timestamp.Timestamp{
		HashAlgorithm:     h,
		HashedMessage:     digest,
		Time:              at,
		Nonce:             nonce,
		Policy:            t.Policy,
		Ordering:          false,
		Accuracy:          time.Second,
		Qualified:         false,
		AddTSACertificate: true,
	}
	resp, err := ts.CreateResponseWithOpts(t.Cert, t.Key, crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("testpki: creating timestamp response: %w", err)
	}
	return resp, nil
}

// ServeHTTP answers application/timestamp-query requests.
func (t *TSA) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	req, err := timestamp.ParseRequest(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	now := time.Now()
	if t.Clock != nil {
		now = t.Clock()
	}
	resp, err := t.respond(req.HashAlgorithm, req.HashedMessage, req.Nonce, now)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	t.Requests.Add(1)
	w.Header().Set("Content-Type", "application/timestamp-reply")
	_, _ = w.Write(resp)
}

// demoTSAPEM holds a fixed CA key, TSA key, CA certificate and TSA
// certificate (in that order), made once with NewTSA and checked in, so that
// the demo's TSA certificate (and its fingerprint in golden reports) is the
// same on every run.
//
//go:embed testdata/demo-tsa.pem
var demoTSAPEM []byte

// DemoTSA returns the checked-in demo TSA and its CA.
func DemoTSA() (*TSA, *CA, error) {
	var keys []crypto.Signer
	var certs []*x509.Certificate
	for rest := demoTSAPEM; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		switch b.Type {
		case "PRIVATE KEY":
			k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
			if err != nil {
				return nil, nil, err
			}
			keys = append(keys, k.(crypto.Signer))
		case "CERTIFICATE":
			c, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				return nil, nil, err
			}
			certs = append(certs, c)
		}
	}
	if len(keys) != 2 || len(certs) != 2 {
		return nil, nil, fmt.Errorf("testpki: demo TSA fixture has %d keys and %d certificates", len(keys), len(certs))
	}
	ca := &CA{Cert: certs[0], Key: keys[0]}
	return &TSA{Cert: certs[1], Key: keys[1], Policy: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 99999, 1, 1}}, ca, nil
}
