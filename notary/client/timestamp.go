package client

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"time"

	"github.com/digitorus/pkcs7"
	"github.com/digitorus/timestamp"

	"github.com/cunzheng/cunzheng/notary"
)

// DefaultTSATimeout bounds one time-stamp request.
const DefaultTSATimeout = time.Second

// Token is a verified RFC 3161 time-stamp token.
type Token struct {
	// DER is the TimeStampToken (a CMS ContentInfo), as stored beside a
	// checkpoint and accepted by `openssl ts -verify -token_in`.
	DER  []byte
	Time time.Time
}

// Timestamp asks the TSA at url for a token over SHA-256(data) and checks
// the answer: granted status, the signature, the message imprint and the
// nonce; with roots, also the signer's chain and its id-kp-timeStamping
// usage. A nil client uses one with DefaultTSATimeout.
func Timestamp(ctx context.Context, client *http.Client, url string, data []byte, roots *x509.CertPool) (Token, error) {
	if client == nil {
		client = &http.Client{Timeout: DefaultTSATimeout}
	}
	nonce, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return Token{}, fmt.Errorf("notary: time-stamp nonce: %w", err)
	}
	query, err := timestamp.CreateRequest(bytes.NewReader(data), &timestamp.RequestOptions{Hash: crypto.SHA256, Certificates: true, Nonce: nonce})
	if err != nil {
		return Token{}, fmt.Errorf("notary: time-stamp request: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, DefaultTSATimeout)
	defer cancel()
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(query))
	if err != nil {
		return Token{}, fmt.Errorf("notary: time-stamp request: %w", err)
	}
	hreq.Header.Set("Content-Type", notary.TimestampQueryType)
	resp, err := client.Do(hreq)
	if err != nil {
		return Token{}, fmt.Errorf("notary: time-stamp request to %s: %w", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return Token{}, fmt.Errorf("notary: reading time-stamp reply: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return Token{}, fmt.Errorf("notary: time-stamp request to %s: status %s", url, resp.Status)
	}
	ts, err := timestamp.ParseResponse(body)
	if err != nil {
		return Token{}, fmt.Errorf("notary: time-stamp reply from %s: %w", url, err)
	}
	want := sha256.Sum256(data)
	if ts.HashAlgorithm != crypto.SHA256 || !bytes.Equal(ts.HashedMessage, want[:]) {
		return Token{}, fmt.Errorf("notary: time-stamp from %s is over another message", url)
	}
	if ts.Nonce == nil || ts.Nonce.Cmp(nonce) != 0 {
		return Token{}, fmt.Errorf("notary: time-stamp from %s has the wrong nonce", url)
	}
	if len(ts.Certificates) == 0 {
		return Token{}, fmt.Errorf("notary: time-stamp from %s carries no certificate", url)
	}
	if roots != nil {
		if err := checkSigner(ts, roots); err != nil {
			return Token{}, fmt.Errorf("notary: time-stamp from %s: %w", url, err)
		}
	}
	return Token{DER: ts.RawToken, Time: ts.Time}, nil
}

// TokenTime parses a stored DER time-stamp token and returns its genTime;
// with roots, the signer must chain to them with id-kp-timeStamping usage.
func TokenTime(der []byte, roots *x509.CertPool) (time.Time, error) {
	ts, err := timestamp.Parse(der)
	if err != nil {
		return time.Time{}, fmt.Errorf("notary: time-stamp token: %w", err)
	}
	if roots != nil {
		if err := checkSigner(ts, roots); err != nil {
			return time.Time{}, fmt.Errorf("notary: time-stamp %w", err)
		}
	}
	return ts.Time, nil
}

// checkSigner checks that the token's signer chains to roots with the
// id-kp-timeStamping usage, at the token's own time.
func checkSigner(ts *timestamp.Timestamp, roots *x509.CertPool) error {
	p7, err := pkcs7.Parse(ts.RawToken)
	if err != nil {
		return fmt.Errorf("token: %w", err)
	}
	inter := x509.NewCertPool()
	for _, c := range p7.Certificates {
		inter.AddCert(c)
	}
	if err := p7.VerifyWithOpts(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: ts.Time,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping}}); err != nil {
		return fmt.Errorf("signer: %w", err)
	}
	return nil
}
