package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"time"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"
)

// party is a key with its certificate.
type party struct {
	name string
	key  crypto.Signer
	cert *x509.Certificate
}

var serial int64 = 1000

func newKey(kind string) crypto.Signer {
	var k crypto.Signer
	var err error
	switch kind {
	case "rsa":
		k, err = rsa.GenerateKey(rand.Reader, 2048)
	case "ec":
		k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "sm2":
		k, err = sm2.GenerateKey(rand.Reader)
	}
	must(err)
	return k
}

// issue makes a certificate for a new key of kind, signed by parent (self
// when parent is nil).
func issue(name, kind string, subject pkix.Name, parent *party, ca bool, notBefore, notAfter time.Time, eku []x509.ExtKeyUsage) *party {
	key := newKey(kind)
	serial++
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(serial),
		Subject:               subject,
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		BasicConstraintsValid: true,
		IsCA:                  ca,
		ExtKeyUsage:           eku,
	}
	if ca {
		tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature
	} else {
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment
	}
	p := &party{name: name, key: key}
	parentCert, parentKey := tmpl, crypto.Signer(key)
	if parent != nil {
		parentCert, parentKey = parent.cert, parent.key
	}
	var der []byte
	var err error
	if kind == "sm2" || isSM2(parentKey) {
		der, err = smx509.CreateCertificate(rand.Reader, tmpl, parentCert, key.Public(), parentKey)
	} else {
		der, err = x509.CreateCertificate(rand.Reader, tmpl, parentCert, key.Public(), parentKey)
	}
	must(err)
	c, err := smx509.ParseCertificate(der)
	must(err)
	p.cert = c.ToX509()
	return p
}

func isSM2(k crypto.Signer) bool {
	_, ok := k.(*sm2.PrivateKey)
	return ok
}

// crl makes a CRL by ca revoking the given certificates at 'at'.
func crl(ca *party, revoked map[*party]time.Time) []byte {
	tmpl := &x509.RevocationList{
		Number:     big.NewInt(serial),
		ThisUpdate: time.Now().Add(-time.Hour),
		NextUpdate: time.Now().AddDate(10, 0, 0),
	}
	for p, t := range revoked {
		tmpl.RevokedCertificateEntries = append(tmpl.RevokedCertificateEntries, x509.RevocationListEntry{SerialNumber: p.cert.SerialNumber, RevocationTime: t})
	}
	serial++
	issuer, err := smx509.ParseCertificate(ca.cert.Raw)
	must(err)
	der, err := smx509.CreateRevocationList(rand.Reader, tmpl, issuer, ca.key)
	must(err)
	return der
}

func writePEM(path, typ string, der []byte) {
	must(os.MkdirAll(filepath.Dir(path), 0o755))
	must(os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o644))
}

func savePartyKey(dir string, p *party) {
	der, err := smx509.MarshalPKCS8PrivateKey(p.key)
	must(err)
	writePEM(filepath.Join(dir, p.name+".key"), "PRIVATE KEY", der)
	writePEM(filepath.Join(dir, p.name+".crt"), "CERTIFICATE", p.cert.Raw)
}

func loadParty(dir, name string) *party {
	kb, err := os.ReadFile(filepath.Join(dir, name+".key"))
	must(err)
	cb, err := os.ReadFile(filepath.Join(dir, name+".crt"))
	must(err)
	kp, _ := pem.Decode(kb)
	cp, _ := pem.Decode(cb)
	if kp == nil || cp == nil {
		must(fmt.Errorf("bad PEM for %s", name))
	}
	k, err := smx509.ParsePKCS8PrivateKey(kp.Bytes)
	must(err)
	c, err := smx509.ParseCertificate(cp.Bytes)
	must(err)
	return &party{name: name, key: k.(crypto.Signer), cert: c.ToX509()}
}

func must(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func pemDecode(b []byte) []byte {
	blk, _ := pem.Decode(b)
	if blk == nil {
		must(fmt.Errorf("no PEM block"))
	}
	return blk.Bytes
}
