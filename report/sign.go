package report

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"time"

	"github.com/digitorus/pdf"
	"github.com/digitorus/pdfsign/revocation"
	"github.com/digitorus/pdfsign/sign"
)

// Signing key files, made in the key directory on first start when no
// CA-issued certificate is configured.
const (
	DemoCAFile   = "report-demo-ca.pem"      // self-signed demo CA certificate
	DemoCertFile = "report-signing-cert.pem" // signing certificate, then the CA
	DemoKeyFile  = "report-signing-key.pem"  // PKCS #8 private key, mode 0600
	DemoCRLFile  = "report-demo-ca.crl"      // the demo CA's CRL (DER), embedded in signatures
)

// DocSigner signs the PDFs the service produces (the platform's
// document-signing certificate).
type DocSigner struct {
	Key   crypto.Signer
	Cert  *x509.Certificate
	Chain []*x509.Certificate // issuers, signing certificate excluded
	// TSAURL is the RFC 3161 authority asked for the signature timestamp
	// (PAdES B-T). Empty signs without one.
	TSAURL string
	// CRLs (DER) are embedded in every signature (Adobe's
	// revocationInfoArchival attribute), so a verifier can decide the
	// certificate's status offline instead of answering INDETERMINATE.
	CRLs [][]byte
}

// LoadSigner reads a PEM certificate chain (signing certificate first) and a
// PEM private key (PKCS #8, SEC 1 or PKCS #1).
func LoadSigner(certFile, keyFile string) (*DocSigner, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("report: signing certificate: %w", err)
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("report: signing key: %w", err)
	}
	var certs []*x509.Certificate
	for rest := certPEM; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("report: signing certificate %s: %w", certFile, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("report: no certificate in %s", certFile)
	}
	kb, _ := pem.Decode(keyPEM)
	if kb == nil {
		return nil, fmt.Errorf("report: no PEM key in %s", keyFile)
	}
	key, err := parseKey(kb.Bytes)
	if err != nil {
		return nil, fmt.Errorf("report: signing key %s: %w", keyFile, err)
	}
	if !publicKeysEqual(key.Public(), certs[0].PublicKey) {
		return nil, fmt.Errorf("report: key %s does not match certificate %s", keyFile, certFile)
	}
	return &DocSigner{Key: key, Cert: certs[0], Chain: certs[1:]}, nil
}

func parseKey(der []byte) (crypto.Signer, error) {
	if k, err := x509.ParsePKCS8PrivateKey(der); err == nil {
		if s, ok := k.(crypto.Signer); ok {
			return s, nil
		}
		return nil, errors.New("key cannot sign")
	}
	if k, err := x509.ParseECPrivateKey(der); err == nil {
		return k, nil
	}
	if k, err := x509.ParsePKCS1PrivateKey(der); err == nil {
		return k, nil
	}
	return nil, errors.New("unsupported private key encoding")
}

func publicKeysEqual(a, b crypto.PublicKey) bool {
	e, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && e.Equal(b)
}

// DemoSigner loads the demo CA and signing certificate from dir, making them
// on first use (ECDSA P-256, the key file 0600). A demo certificate is for
// `make run` and tests; production configures a CA-issued one.
func DemoSigner(dir, name string, now time.Time) (*DocSigner, error) {
	certFile, keyFile := filepath.Join(dir, DemoCertFile), filepath.Join(dir, DemoKeyFile)
	s, err := LoadSigner(certFile, keyFile)
	if err == nil {
		crl, err := os.ReadFile(filepath.Join(dir, DemoCRLFile))
		if err == nil {
			s.CRLs = [][]byte{crl}
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("report: demo CRL: %w", err)
		}
		return s, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("report: key directory: %w", err)
	}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	start := now.Add(-time.Hour).UTC()
	caTmpl := &x509.Certificate{
		SerialNumber:          randSerial(),
		Subject:               pkix.Name{CommonName: name + " Demo Document CA", Organization: []string{name}, Country: []string{"CN"}},
		NotBefore:             start,
		NotAfter:              start.AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
	if err != nil {
		return nil, fmt.Errorf("report: demo CA: %w", err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: randSerial(),
		Subject:      pkix.Name{CommonName: name + " Document Signing (demo)", Organization: []string{name}, Country: []string{"CN"}},
		NotBefore:    start,
		NotAfter:     start.AddDate(5, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
		// id-kp-documentSigning (RFC 9336) and e-mail protection, which
		// Adobe and poppler accept for document signatures.
		ExtKeyUsage:        []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection},
		UnknownExtKeyUsage: nil,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, key.Public(), caKey)
	if err != nil {
		return nil, fmt.Errorf("report: demo signing certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	pk, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	// The demo CA's key is not kept, so it issues its one CRL now: nothing
	// revoked, valid for the signing certificate's whole life.
	crl, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
		Number: big.NewInt(1), ThisUpdate: start, NextUpdate: tmpl.NotAfter,
	}, ca, caKey)
	if err != nil {
		return nil, fmt.Errorf("report: demo CRL: %w", err)
	}
	chain := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})...)
	// The key is written last: its presence marks a complete set.
	for _, f := range []struct {
		name string
		data []byte
		mode os.FileMode
	}{
		{DemoCAFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o644},
		{DemoCRLFile, crl, 0o644},
		{DemoCertFile, chain, 0o644},
		{DemoKeyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pk}), 0o600},
	} {
		if err := writeFileAtomic(filepath.Join(dir, f.name), f.data, f.mode); err != nil {
			return nil, err
		}
	}
	return &DocSigner{Key: key, Cert: cert, Chain: []*x509.Certificate{ca}, CRLs: [][]byte{crl}}, nil
}

func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return fmt.Errorf("report: writing %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("report: writing %s: %w", path, err)
	}
	return nil
}

func randSerial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return n
}

// Sign signs doc as the platform with a certification signature (DocMDP: no
// changes permitted), SHA-256, the signing-certificate-v2 attribute and,
// when TSAURL is set, an RFC 3161 signature timestamp (digitorus/pdfsign).
//
// Caveat: pdfsign writes SubFilter adbe.pkcs7.detached; the CMS content is
// what PAdES B-T asks for (signing-certificate-v2, signature-time-stamp),
// but strict PAdES validators look for ETSI.CAdES.detached.
func (s *DocSigner) Sign(doc []byte, reason string, at time.Time) ([]byte, error) {
	rdr, err := pdf.NewReader(bytes.NewReader(doc), int64(len(doc)))
	if err != nil {
		return nil, fmt.Errorf("report: reading pdf to sign: %w", err)
	}
	chain := append([]*x509.Certificate{s.Cert}, s.Chain...)
	var rev revocation.InfoArchival
	for _, crl := range s.CRLs {
		rev.AddCRL(crl)
	}
	var out bytes.Buffer
	err = sign.Sign(bytes.NewReader(doc), &out, rdr, int64(len(doc)), sign.SignData{
		Signature: sign.SignDataSignature{
			Info: sign.SignDataSignatureInfo{
				Name:        s.Cert.Subject.CommonName,
				Location:    "CN",
				Reason:      reason,
				ContactInfo: "",
				Date:        at,
			},
			CertType:   sign.CertificationSignature,
			DocMDPPerm: sign.DoNotAllowAnyChangesPerms,
		},
		Signer:            s.Key,
		DigestAlgorithm:   crypto.SHA256,
		Certificate:       s.Cert,
		CertificateChains: [][]*x509.Certificate{chain},
		TSA:               sign.TSA{URL: s.TSAURL},
		RevocationData:    rev,
	})
	if err != nil {
		return nil, fmt.Errorf("report: signing pdf: %w", err)
	}
	return out.Bytes(), nil
}
