package verify

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"math/big"
	"time"

	"github.com/emmansun/gmsm/smx509"
)

// tstInfo is RFC 3161 §2.4.2 TSTInfo. It is parsed here, not by
// digitorus/timestamp, because that package verifies the token with
// digitorus/pkcs7, which knows neither SM2 TSAs nor chains to our roots.
type tstInfo struct {
	Version        int
	Policy         asn1.ObjectIdentifier
	MessageImprint struct {
		HashAlgorithm pkix.AlgorithmIdentifier
		HashedMessage []byte
	}
	SerialNumber *big.Int
	GenTime      time.Time `asn1:"generalized"`
	Accuracy     struct {
		Seconds int64 `asn1:"optional"`
		Millis  int64 `asn1:"tag:0,optional"`
		Micros  int64 `asn1:"tag:1,optional"`
	} `asn1:"optional"`
	Ordering   bool             `asn1:"optional,default:false"`
	Nonce      *big.Int         `asn1:"optional"`
	TSA        asn1.RawValue    `asn1:"tag:0,optional"`
	Extensions []pkix.Extension `asn1:"tag:1,optional"`
}

// tokenResult is a checked RFC 3161 token.
type tokenResult struct {
	ts      Timestamp
	ok      bool // signature, imprint and trust all verified
	rd      *revData
	weakAlg bool
	sigErr  error // why the TSA's signature did not verify, if it did not
}

// verifyToken checks an RFC 3161 TimeStampToken: its CMS signature by a
// certificate with the timeStamping EKU, the message imprint over the
// data given by imprint, and the TSA's chain to roots at genTime.
// imprint returns the hash of the stamped data with the named algorithm.
func verifyToken(token []byte, imprint func(digestInfo) []byte, roots *smx509.CertPool, system bool, extra *revData) tokenResult {
	var r tokenResult
	fail := func(format string, args ...any) tokenResult {
		r.ts.Problem = fmt.Sprintf(format, args...)
		return r
	}
	sd, err := parseCMS(token)
	if err != nil {
		return fail("timestamp token: %v", err)
	}
	r.rd = &revData{crls: sd.crls, certs: sd.certs}
	if len(sd.signers) != 1 || !sd.contentType.Equal(oidTSTInfo) || sd.content == nil {
		return fail("timestamp token is not a single-signer TSTInfo")
	}
	var info tstInfo
	if rest, err := asn1.Unmarshal(sd.content, &info); err != nil || len(rest) > 0 {
		return fail("timestamp token: bad TSTInfo")
	}
	r.ts.Time = info.GenTime.UTC()
	s := &sd.signers[0]
	pool := append(append([]*smx509.Certificate{}, sd.certs...), extra.certs...)
	cert := s.findCert(pool)
	if cert == nil {
		return fail("the timestamp authority's certificate is not in the token")
	}
	tsa := certInfo(cert)
	r.ts.TSA = &tsa
	d, ok := digestFor(s.digestAlg)
	if !ok {
		return fail("timestamp token digest algorithm %v unsupported", s.digestAlg)
	}
	if _, err := verifySigner(s, cert, d, sum(d, sd.content), oidTSTInfo); err != nil {
		r.sigErr = err
		return fail("the timestamp authority's signature does not verify: %v", err)
	}
	r.ts.SignatureOK = true
	id, ok := digestFor(info.MessageImprint.HashAlgorithm.Algorithm)
	if !ok {
		return fail("timestamp imprint algorithm %v unsupported", info.MessageImprint.HashAlgorithm.Algorithm)
	}
	r.weakAlg = id.weak || d.weak
	if !bytesEqual(imprint(id), info.MessageImprint.HashedMessage) {
		return fail("the timestamp's message imprint does not match the signed data")
	}
	r.ts.ImprintOK = true
	hasEKU := false
	for _, e := range cert.ExtKeyUsage {
		hasEKU = hasEKU || e == x509.ExtKeyUsageTimeStamping
	}
	if !hasEKU {
		return fail("the timestamp certificate lacks the timeStamping extended key usage")
	}
	all := &revData{}
	all.add(r.rd)
	all.add(extra)
	cr := checkChain(cert, pool, roots, system, r.ts.Time, r.ts.Time, x509.ExtKeyUsageTimeStamping, all)
	if cr.err != nil {
		return fail("the timestamp authority is not trusted: %v", cr.err)
	}
	r.ts.Trusted = true
	if cr.revokedAt != nil && !r.ts.Time.Before(*cr.revokedAt) {
		return fail(problemTSARevoked)
	}
	if cr.unknown {
		return fail("no revocation data for the timestamp authority's certificate")
	}
	r.ts.RevocationOK = true
	r.ok = true
	return r
}

// problemTSARevoked is the problem of a token whose authority was revoked
// before it; Timestamp.State tells it from revocation data that is missing.
const problemTSARevoked = "the timestamp authority's certificate was revoked before the timestamp"

func bytesEqual(a, b []byte) bool {
	return len(a) == len(b) && string(a) == string(b)
}
