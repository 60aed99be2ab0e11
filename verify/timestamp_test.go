package verify

import (
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
	"testing"
	"time"

	"github.com/emmansun/gmsm/pkcs7"
	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/sm3"
	"github.com/emmansun/gmsm/smx509"
)

// TestSM2Timestamp verifies an RFC 3161 token from an SM2 timestamp
// authority whose CMS gmsm/pkcs7 built, and rejects it for other data.
func TestSM2Timestamp(t *testing.T) {
	caKey, _ := sm2.GenerateKey(rand.Reader)
	tsaKey, _ := sm2.GenerateKey(rand.Reader)
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "SM2 CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	caDER, err := smx509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := smx509.ParseCertificate(caDER)
	tsaTmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "SM2 TSA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping}}
	tsaDER, err := smx509.CreateCertificate(rand.Reader, tsaTmpl, ca.ToX509(), tsaKey.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	tsaCert, _ := smx509.ParseCertificate(tsaDER)
	crl, err := smx509.CreateRevocationList(rand.Reader, &x509.RevocationList{Number: big.NewInt(1), ThisUpdate: now.Add(-time.Minute), NextUpdate: now.Add(time.Hour)}, ca, caKey)
	if err != nil {
		t.Fatal(err)
	}

	stamped := []byte("the signature value")
	imprint := sm3.Sum(stamped)
	var info tstInfo
	info.Version = 1
	info.Policy = asn1.ObjectIdentifier{1, 2, 3}
	info.MessageImprint.HashAlgorithm.Algorithm = oidSM3
	info.MessageImprint.HashedMessage = imprint[:]
	info.SerialNumber = big.NewInt(7)
	info.GenTime = now.UTC().Truncate(time.Second)
	content, err := asn1.Marshal(info)
	if err != nil {
		t.Fatal(err)
	}
	sd, err := pkcs7.NewSMSignedData(content)
	if err != nil {
		t.Fatal(err)
	}
	sd.GetSignedData().ContentInfo.ContentType = oidTSTInfo
	if err := sd.AddSigner(tsaCert, tsaKey, pkcs7.SignerInfoConfig{}); err != nil {
		t.Fatal(err)
	}
	token, err := sd.Finish()
	if err != nil {
		t.Fatal(err)
	}
	roots := smx509.NewCertPool()
	roots.AddCert(ca)
	rd := &revData{crls: [][]byte{crl}}

	r := verifyToken(token, func(d digestInfo) []byte { return sum(d, stamped) }, roots, false, rd)
	if !r.ok || !r.ts.Time.Equal(info.GenTime) {
		t.Fatalf("SM2 token rejected: %+v", r.ts)
	}
	r = verifyToken(token, func(d digestInfo) []byte { return sum(d, []byte("other data")) }, roots, false, rd)
	if r.ok || r.ts.ImprintOK {
		t.Fatalf("token accepted for other data: %+v", r.ts)
	}
	r = verifyToken(token, func(d digestInfo) []byte { return sum(d, stamped) }, smx509.NewCertPool(), false, rd)
	if r.ok || r.ts.Trusted {
		t.Fatalf("token trusted without its root: %+v", r.ts)
	}
}
