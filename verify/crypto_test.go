package verify

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cunzheng/cunzheng/verify/internal/cos"
	"github.com/emmansun/gmsm/smx509"
	"golang.org/x/crypto/cryptobyte"
)

// bigExponentKey makes an RSA key whose public exponent is above 2^31-1,
// which crypto/rsa refuses to use but RFC 8017 allows.
func bigExponentKey(t *testing.T) (n *big.Int, e int, d *big.Int) {
	t.Helper()
	e = 1<<32 + 15
	one := big.NewInt(1)
	for {
		p, err := rand.Prime(rand.Reader, 1024)
		if err != nil {
			t.Fatal(err)
		}
		q, err := rand.Prime(rand.Reader, 1024)
		if err != nil {
			t.Fatal(err)
		}
		phi := new(big.Int).Mul(new(big.Int).Sub(p, one), new(big.Int).Sub(q, one))
		d = new(big.Int).ModInverse(big.NewInt(int64(e)), phi)
		if d != nil {
			return new(big.Int).Mul(p, q), e, d
		}
	}
}

func certFor(t *testing.T, pub any, serial *big.Int) []byte {
	t.Helper()
	ca, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: "signer"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, ca)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// TestRSALargeExponent: a good signature by a key crypto/rsa refuses
// verifies; a bad one is a signature failure; neither is "unsupported".
func TestRSALargeExponent(t *testing.T) {
	n, e, d := bigExponentKey(t)
	pub := &rsa.PublicKey{N: n, E: e}
	cert, err := smx509.ParseCertificate(certFor(t, pub, big.NewInt(7)))
	if err != nil {
		t.Fatal(err)
	}
	msg := []byte("signed attributes")
	h := sha256.Sum256(msg)
	em := make([]byte, (n.BitLen()+7)/8)
	em[1] = 1
	prefix := digestInfoPrefixes[crypto.SHA256]
	tLen := len(prefix) + len(h)
	for i := 2; i < len(em)-tLen-1; i++ {
		em[i] = 0xff
	}
	copy(em[len(em)-tLen:], prefix)
	copy(em[len(em)-len(h):], h[:])
	sig := new(big.Int).Exp(new(big.Int).SetBytes(em), d, n).FillBytes(make([]byte, len(em)))
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, h[:], sig); err == nil || errors.Is(err, rsa.ErrVerification) {
		t.Logf("crypto/rsa now accepts the key (%v); the fallback is still exercised below", err)
	}
	di, _ := digestFor(oidSHA256)
	if _, err := checkSignature(oidRSASHA256, nil, di, cert, msg, nil, sig); err != nil {
		t.Fatalf("good signature: %v", err)
	}
	sig[10] ^= 1
	if _, err := checkSignature(oidRSASHA256, nil, di, cert, msg, nil, sig); !errors.Is(err, errSignature) {
		t.Fatalf("bad signature: %v, want errSignature", err)
	}
}

// TestNegativeSerial: a signer whose certificate has a negative serial
// number (invalid DER that OpenSSL and Go's parser accept) is found.
func TestNegativeSerial(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der := certFor(t, &key.PublicKey, big.NewInt(0x05))
	// Make the serial INTEGER 02 01 05 read as -123 (0x85).
	i := bytes.Index(der, []byte{0xa0, 0x03, 0x02, 0x01, 0x02, 0x02, 0x01, 0x05})
	if i < 0 {
		t.Fatal("serial not found in the certificate")
	}
	der[i+7] = 0x85
	cert, err := smx509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("the lenient parser refuses a negative serial: %v", err)
	}
	var b cryptobyte.Builder
	b.AddASN1BigInt(big.NewInt(-123))
	raw, _ := b.Bytes()
	serial := new(big.Int)
	s := cryptobyte.String(raw)
	if !s.ReadASN1Integer(serial) {
		t.Fatal("bad serial encoding")
	}
	si := signerInfo{issuer: cert.RawIssuer, serial: serial}
	if got := si.findCert([]*smx509.Certificate{cert}); got != cert {
		t.Fatalf("signer with serial %v not found (certificate serial %v)", serial, cert.SerialNumber)
	}
}

// TestBERTimestampToken: an RFC 3161 token with indefinite lengths (BER,
// as some TSAs send) verifies like its DER form.
func TestBERTimestampToken(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(corpus, "rsa-sha256-tsa.pdf"))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := PDFBytes(context.Background(), data, testOptions(t))
	if err != nil || rep.Signatures[0].Timestamp == nil {
		t.Fatalf("%v %+v", err, rep)
	}
	_, value, f := sigObjects(t, data)
	contents := f.Get(value).(cos.Dict)["Contents"]
	sd, err := parseCMS([]byte(contents.(cos.String)))
	if err != nil {
		t.Fatal(err)
	}
	si := &sd.signers[0]
	token := si.unsigned[oidAttrTimestamp.String()][0]
	// Re-encode the outer SEQUENCE with an indefinite length.
	in := cryptobyte.String(token)
	var body cryptobyte.String
	if !in.ReadASN1(&body, 0x30) {
		t.Fatal("token is not a SEQUENCE")
	}
	ber := append(append([]byte{0x30, 0x80}, body...), 0, 0)
	imprint := func(id digestInfo) []byte { return sum(id, si.signature) }
	der := verifyToken(token, imprint, testOptions(t).Roots, false, &revData{})
	got := verifyToken(ber, imprint, testOptions(t).Roots, false, &revData{})
	if !got.ts.SignatureOK || !got.ts.ImprintOK || got.ts.Time != der.ts.Time || got.ok != der.ok {
		t.Fatalf("BER token: %+v (problem %q); DER token: %+v", got.ts, got.ts.Problem, der.ts)
	}
}

// TestSystemRootsOnDemand: with Options.SystemRoots a chain to a root of
// the system bundle (here SSL_CERT_FILE) is trusted, though the bundle is
// only indexed by subject until a chain needs one of its roots.
func TestSystemRootsOnDemand(t *testing.T) {
	t.Setenv("SSL_CERT_FILE", filepath.Join(corpus, "roots", "rsa-root.pem"))
	data, err := os.ReadFile(filepath.Join(corpus, "rsa-sha256-tsa.pdf"))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := PDFBytes(context.Background(), data, Options{SystemRoots: true})
	if err != nil {
		t.Fatal(err)
	}
	if s := rep.Signatures[0]; !s.ChainTrusted {
		t.Fatalf("chain to the system root not trusted: %s %v", verdictString(s.Verdict), s.Problems)
	}
	if n := len(systemIndex().spans); n != 1 {
		t.Fatalf("system index has %d subjects, want the 1 of SSL_CERT_FILE", n)
	}
}

// TestIndexBundle: the bundle index finds every certificate encoding/pem
// finds in the system bundle and in our roots, under its subject, and
// reads each back as the same certificate.
func TestIndexBundle(t *testing.T) {
	for _, f := range []string{"/etc/ssl/certs/ca-certificates.crt", filepath.Join(corpus, "roots", "rsa-root.pem")} {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Logf("%s: %v", f, err)
			continue
		}
		var want [][]byte
		for rest := data; ; {
			var b *pem.Block
			b, rest = pem.Decode(rest)
			if b == nil {
				break
			}
			if b.Type == "CERTIFICATE" {
				want = append(want, b.Bytes)
			}
		}
		ix, err := indexBundle(f)
		if err != nil {
			t.Fatal(err)
		}
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		defer fh.Close()
		spans := 0
		for _, s := range ix.spans {
			spans += len(s)
		}
		if spans != len(want) || len(want) == 0 {
			t.Fatalf("%s: %d certificates indexed, encoding/pem finds %d", f, spans, len(want))
		}
		for i, der := range want {
			subj, ok := rawSubject(der)
			if !ok {
				t.Fatalf("%s: certificate %d: no subject", f, i)
			}
			found := false
			for _, rc := range ix.roots(fh, subj) {
				found = found || bytes.Equal(rc.Raw, der)
			}
			if !found {
				t.Fatalf("%s: certificate %d not read back under its subject", f, i)
			}
		}
	}
}

// TestIndexBundleOddities: blocks that are not certificates, headers, CRLF
// line ends, a missing final newline and an over-long line are handled as
// encoding/pem would; a block the bundle no longer holds is skipped.
func TestIndexBundleOddities(t *testing.T) {
	root, err := os.ReadFile(filepath.Join(corpus, "roots", "rsa-root.pem"))
	if err != nil {
		t.Skip(err)
	}
	block, _ := pem.Decode(root)
	der := block.Bytes
	subj, _ := rawSubject(der)
	crlf := bytes.ReplaceAll(root, []byte("\n"), []byte("\r\n"))
	for _, tc := range []struct {
		name   string
		bundle []byte
		want   int
	}{
		{"plain", root, 1},
		{"crlf", crlf, 1},
		{"no final newline", bytes.TrimRight(root, "\n"), 1},
		{"comments and a key", append(append([]byte("# a root\n-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"), root...), root...), 2},
		{"long line first", append(append(bytes.Repeat([]byte("x"), 40<<10), '\n'), root...), 1},
		{"truncated", root[:len(root)/2], 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := filepath.Join(t.TempDir(), "bundle.pem")
			if err := os.WriteFile(f, tc.bundle, 0o600); err != nil {
				t.Fatal(err)
			}
			ix, err := indexBundle(f)
			if err != nil {
				t.Fatal(err)
			}
			fh, err := os.Open(f)
			if err != nil {
				t.Fatal(err)
			}
			defer fh.Close()
			got := ix.roots(fh, subj)
			if len(got) != tc.want {
				t.Fatalf("%d roots under the subject, want %d", len(got), tc.want)
			}
			for _, rc := range got {
				if !bytes.Equal(rc.Raw, der) {
					t.Fatal("read back another certificate")
				}
			}
			// The bundle replaced by another file: nothing is read back.
			if err := os.WriteFile(f, bytes.Repeat([]byte("-"), len(tc.bundle)), 0o600); err != nil {
				t.Fatal(err)
			}
			if got := ix.roots(fh, subj); len(got) != 0 {
				t.Fatalf("%d roots read from a changed bundle", len(got))
			}
		})
	}
}
