package notary

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"time"

	"github.com/digitorus/timestamp"
)

// RFC 3161 media types.
const (
	TimestampQueryType = "application/timestamp-query"
	TimestampReplyType = "application/timestamp-reply"
)

// DefaultTSAPolicy is the TSA policy OID put in every token, under the
// 2.25 arc. Components stay below 2^31 because encoding/asn1 (and so every
// Go verifier) refuses larger ones; a full 128-bit UUID arc would not parse.
var DefaultTSAPolicy = asn1.ObjectIdentifier{2, 25, 314159265, 358979323, 1}

// MaxTimestampQueryBytes bounds an RFC 3161 request: a hash, an OID, a
// nonce and a few flags fit in well under 1 KiB.
const MaxTimestampQueryBytes = 4 << 10

// TSA is an RFC 3161 time-stamping authority with its own CA. The TSA
// certificate carries the critical id-kp-timeStamping extended key usage
// that RFC 3161 §2.3 requires and `openssl ts -verify` checks.
//
// Spec: https://www.rfc-editor.org/rfc/rfc3161
type TSA struct {
	ca     *x509.Certificate
	caKey  crypto.Signer // issues the CRL; nil for a TSA loaded without it
	cert   *x509.Certificate
	key    crypto.Signer
	policy asn1.ObjectIdentifier
	now    func() time.Time
}

// TSA file names inside the directory given to LoadOrCreateTSA.
const (
	tsaCAFile      = "tsa-ca.pem"
	tsaCAKeyFile   = "tsa-ca.key"
	tsaCertFile    = "tsa.pem"
	tsaCertKeyFile = "tsa.key"
)

// LoadOrCreateTSA loads the TSA's CA and signing certificate from dir,
// creating both (ECDSA P-256, keys written 0600) on first use. name goes in
// the certificates' common names.
func LoadOrCreateTSA(dir, name string) (*TSA, error) {
	t, err := loadTSA(dir)
	if err == nil {
		return t, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if name == "" {
		name = DefaultName
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("notary: TSA directory: %w", err)
	}
	now := time.Now().Add(-time.Hour)
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("notary: TSA CA key: %w", err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          randSerial(),
		Subject:               pkix.Name{CommonName: name + " TSA root", Organization: []string{"cunzheng"}},
		NotBefore:             now,
		NotAfter:              now.AddDate(20, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
	if err != nil {
		return nil, fmt.Errorf("notary: TSA CA certificate: %w", err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("notary: TSA key: %w", err)
	}
	// Go marks ExtKeyUsage critical only when there is no subject; the
	// extension is built by hand in ExtraExtensions so it is critical.
	eku, err := asn1.Marshal([]asn1.ObjectIdentifier{{1, 3, 6, 1, 5, 5, 7, 3, 8}})
	if err != nil {
		return nil, fmt.Errorf("notary: TSA EKU: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: randSerial(),
		Subject:      pkix.Name{CommonName: name + " TSA", Organization: []string{"cunzheng"}},
		NotBefore:    now,
		NotAfter:     now.AddDate(10, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtraExtensions: []pkix.Extension{{
			Id: asn1.ObjectIdentifier{2, 5, 29, 37}, Critical: true, Value: eku,
		}},
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, key.Public(), caKey)
	if err != nil {
		return nil, fmt.Errorf("notary: TSA certificate: %w", err)
	}
	caKeyDER, err := x509.MarshalPKCS8PrivateKey(caKey)
	if err != nil {
		return nil, fmt.Errorf("notary: TSA CA key: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("notary: TSA key: %w", err)
	}
	// Keys first, certificates last: loadTSA reads the signing certificate
	// file as the marker of a complete set.
	for _, f := range []struct {
		name, typ string
		der       []byte
	}{
		{tsaCAKeyFile, "PRIVATE KEY", caKeyDER},
		{tsaCertKeyFile, "PRIVATE KEY", keyDER},
		{tsaCAFile, "CERTIFICATE", caDER},
		{tsaCertFile, "CERTIFICATE", der},
	} {
		if err := writeFileExcl(filepath.Join(dir, f.name), pem.EncodeToMemory(&pem.Block{Type: f.typ, Bytes: f.der})); err != nil {
			return nil, err
		}
	}
	return loadTSA(dir)
}

func randSerial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(fmt.Sprintf("notary: crypto/rand failed: %v", err))
	}
	return n
}

// LoadTSA loads the TSA that LoadOrCreateTSA made in dir, creating
// nothing: an error wrapping fs.ErrNotExist when it is not there. Processes
// that must share one TSA (a cluster's) load it; only one may create it.
func LoadTSA(dir string) (*TSA, error) { return loadTSA(dir) }

func loadTSA(dir string) (*TSA, error) {
	read := func(name, typ string) ([]byte, error) {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("notary: TSA file: %w", err)
		}
		blk, _ := pem.Decode(b)
		if blk == nil || blk.Type != typ {
			return nil, fmt.Errorf("notary: %s: not a PEM %s", name, typ)
		}
		return blk.Bytes, nil
	}
	certDER, err := read(tsaCertFile, "CERTIFICATE")
	if err != nil {
		return nil, err
	}
	caDER, err := read(tsaCAFile, "CERTIFICATE")
	if err != nil {
		return nil, err
	}
	keyDER, err := read(tsaCertKeyFile, "PRIVATE KEY")
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(certDER)
	if err != nil {
		return nil, fmt.Errorf("notary: TSA certificate: %w", err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, fmt.Errorf("notary: TSA CA certificate: %w", err)
	}
	k, err := x509.ParsePKCS8PrivateKey(keyDER)
	if err != nil {
		return nil, fmt.Errorf("notary: TSA key: %w", err)
	}
	key, ok := k.(crypto.Signer)
	if !ok {
		return nil, errors.New("notary: TSA key cannot sign")
	}
	t := &TSA{ca: ca, cert: cert, key: key, policy: DefaultTSAPolicy, now: time.Now}
	if caKeyDER, err := read(tsaCAKeyFile, "PRIVATE KEY"); err == nil {
		if ck, err := x509.ParsePKCS8PrivateKey(caKeyDER); err == nil {
			t.caKey, _ = ck.(crypto.Signer)
		}
	}
	return t, nil
}

// CRL returns a CRL (DER) of the TSA's CA, revoking nothing and valid until
// the TSA certificate expires. Signers embed it next to a signature
// timestamp so that a verifier can establish the TSA certificate's status
// offline; without it a careful verifier cannot trust the time.
func (t *TSA) CRL() ([]byte, error) {
	if t.caKey == nil {
		return nil, errors.New("notary: the TSA's CA key is not available to issue a CRL")
	}
	now := t.now().UTC()
	crl, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
		Number: big.NewInt(now.Unix()), ThisUpdate: now.Add(-time.Minute), NextUpdate: t.cert.NotAfter,
	}, t.ca, t.caKey)
	if err != nil {
		return nil, fmt.Errorf("notary: issuing the TSA CRL: %w", err)
	}
	return crl, nil
}

// CACertPEM returns the TSA's root certificate, to give to verifiers
// (`openssl ts -verify -CAfile`).
func (t *TSA) CACertPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: t.ca.Raw})
}

// Roots returns a pool holding the TSA's root certificate.
func (t *TSA) Roots() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(t.ca)
	return p
}

// Respond answers a DER RFC 3161 TimeStampReq with a DER TimeStampResp
// granting a token signed by the TSA certificate. Malformed requests and
// unsupported hash algorithms wrap ErrBadTimestampQuery.
func (t *TSA) Respond(query []byte) ([]byte, error) {
	if len(query) > MaxTimestampQueryBytes {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrBadTimestampQuery, MaxTimestampQueryBytes)
	}
	req, err := timestamp.ParseRequest(query)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadTimestampQuery, err)
	}
	switch req.HashAlgorithm {
	case crypto.SHA256, crypto.SHA384, crypto.SHA512:
	default:
		return nil, fmt.Errorf("%w: hash algorithm %v not accepted", ErrBadTimestampQuery, req.HashAlgorithm)
	}
	if len(req.HashedMessage) != req.HashAlgorithm.Size() {
		return nil, fmt.Errorf("%w: hashed message is %d bytes, want %d", ErrBadTimestampQuery, len(req.HashedMessage), req.HashAlgorithm.Size())
	}
	if req.TSAPolicyOID != nil && !req.TSAPolicyOID.Equal(t.policy) {
		return nil, fmt.Errorf("%w: policy %v not served", ErrBadTimestampQuery, req.TSAPolicyOID)
	}
	ts := &timestamp.Timestamp{
		HashAlgorithm:     req.HashAlgorithm,
		HashedMessage:     req.HashedMessage,
		Time:              t.now().UTC().Truncate(time.Second),
		Accuracy:          time.Second,
		Policy:            t.policy,
		Nonce:             req.Nonce,
		AddTSACertificate: req.Certificates,
	}
	resp, err := ts.CreateResponseWithOpts(t.cert, t.key, crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("notary: signing time-stamp: %w", err)
	}
	return resp, nil
}
