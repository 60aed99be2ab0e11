package verify

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha3"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"hash"
	"math/big"
	"time"

	"github.com/cloudflare/circl/sign/ed448"
	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/sm3"
	"github.com/emmansun/gmsm/smx509"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// The CMS layer (RFC 5652 SignedData) is walked here with cryptobyte
// rather than through digitorus/pkcs7 or gmsm/pkcs7 because verification
// needs three things neither exposes: the signed attributes exactly as
// signed (their DER, re-tagged as SET, §5.4), RSASSA-PSS parameters
// (RFC 4056), and SM2 next to RSA and ECDSA in one path. gmsm/pkcs7 also
// ignores a failed asn1.Unmarshal of the SignedData. The signature
// primitives themselves are the standard library's and gmsm's.

var (
	oidSignedData      = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}
	oidSM2SignedData   = asn1.ObjectIdentifier{1, 2, 156, 10197, 6, 1, 4, 2, 2}
	oidData            = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}
	oidSM2Data         = asn1.ObjectIdentifier{1, 2, 156, 10197, 6, 1, 4, 2, 1}
	oidTSTInfo         = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 1, 4}
	oidAttrContentType = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 3}
	oidAttrMessageDig  = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 4}
	oidAttrSigningTime = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 5}
	oidAttrTimestamp   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 14}
	oidAttrAdbeRevInfo = asn1.ObjectIdentifier{1, 2, 840, 113583, 1, 1, 8}
	oidSHA1            = asn1.ObjectIdentifier{1, 3, 14, 3, 2, 26}
	oidSHA256          = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
	oidSHA384          = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 2}
	oidSHA512          = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 3}
	oidSM3             = asn1.ObjectIdentifier{1, 2, 156, 10197, 1, 401}
	oidRSA             = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 1}
	oidRSASHA1         = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 5}
	oidRSASHA256       = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 11}
	oidRSASHA384       = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 12}
	oidRSASHA512       = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 13}
	oidRSAPSS          = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 10}
	oidMGF1            = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 8}
	oidECPublicKey     = asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}
	oidECDSASHA1       = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 1}
	oidECDSASHA256     = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}
	oidECDSASHA384     = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 3}
	oidECDSASHA512     = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 4}
	oidSM2Sign         = asn1.ObjectIdentifier{1, 2, 156, 10197, 1, 301, 1}
	oidSM2WithSM3      = asn1.ObjectIdentifier{1, 2, 156, 10197, 1, 501}
	oidEd25519         = asn1.ObjectIdentifier{1, 3, 101, 112}
	oidEd448           = asn1.ObjectIdentifier{1, 3, 101, 113}
	oidSHAKE256        = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 12}
	oidSHAKE256Len     = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 18}
)

// errCMS wraps every structural problem with the CMS contents.
var errCMS = errors.New("CMS structure")

// signedData is the part of a CMS SignedData that verification uses.
type signedData struct {
	contentType asn1.ObjectIdentifier
	content     []byte // eContent; nil when detached
	certs       []*smx509.Certificate
	badCerts    []error // certificates that could not be parsed
	crls        [][]byte
	signers     []signerInfo
}

type signerInfo struct {
	issuer, ski  []byte   // sid: raw issuer Name, or SKI
	serial       *big.Int // sid: the serial number, negative ones included (OpenSSL accepts them)
	digestAlg    asn1.ObjectIdentifier
	signedAttrs  []byte // DER of the SET OF Attribute as signed; nil if absent
	attrs        map[string][][]byte
	sigAlg       asn1.ObjectIdentifier
	sigAlgParams []byte
	signature    []byte
	unsigned     map[string][][]byte
}

// parseCMS parses a ContentInfo holding SignedData. Trailing zero bytes
// (the padding of a PDF /Contents hole) are allowed; anything else is not.
func parseCMS(der []byte) (*signedData, error) {
	in := cryptobyte.String(der)
	var ci, ctype, explicit, sd cryptobyte.String
	if !in.ReadASN1(&ci, cbasn1.SEQUENCE) {
		return parseBERCMS(der)
	}
	if len(bytes.Trim(in, "\x00")) != 0 {
		return nil, fmt.Errorf("%w: data after the ContentInfo", errCMS)
	}
	var oid asn1.ObjectIdentifier
	if !ci.ReadASN1ObjectIdentifier(&oid) || !ci.ReadASN1(&explicit, cbasn1.Tag(0).Constructed().ContextSpecific()) {
		return nil, fmt.Errorf("%w: bad ContentInfo", errCMS)
	}
	_ = ctype
	if !oid.Equal(oidSignedData) && !oid.Equal(oidSM2SignedData) {
		return nil, fmt.Errorf("%w: content type %v is not SignedData", errCMS, oid)
	}
	if !explicit.ReadASN1(&sd, cbasn1.SEQUENCE) {
		return nil, fmt.Errorf("%w: bad SignedData", errCMS)
	}
	out := &signedData{}
	var version int64
	var digestAlgs, eci cryptobyte.String
	if !sd.ReadASN1Integer(&version) || !sd.ReadASN1(&digestAlgs, cbasn1.SET) || !sd.ReadASN1(&eci, cbasn1.SEQUENCE) {
		return nil, fmt.Errorf("%w: bad SignedData header", errCMS)
	}
	if !eci.ReadASN1ObjectIdentifier(&out.contentType) {
		return nil, fmt.Errorf("%w: bad encapsulated content type", errCMS)
	}
	if !eci.Empty() {
		var ex, oct cryptobyte.String
		if !eci.ReadASN1(&ex, cbasn1.Tag(0).Constructed().ContextSpecific()) || !ex.ReadASN1(&oct, cbasn1.OCTET_STRING) {
			return nil, fmt.Errorf("%w: bad encapsulated content", errCMS)
		}
		out.content = []byte(oct)
		if out.content == nil {
			out.content = []byte{}
		}
	}
	var set cryptobyte.String
	var present bool
	if !sd.ReadOptionalASN1(&set, &present, cbasn1.Tag(0).Constructed().ContextSpecific()) {
		return nil, fmt.Errorf("%w: bad certificates", errCMS)
	}
	for present && !set.Empty() {
		var raw cryptobyte.String
		var tag cbasn1.Tag
		if !set.ReadAnyASN1Element(&raw, &tag) {
			return nil, fmt.Errorf("%w: bad certificate", errCMS)
		}
		if tag != cbasn1.SEQUENCE {
			continue // other certificate formats are skipped
		}
		c, err := smx509.ParseCertificate(raw)
		if err != nil {
			// One certificate a strict parser refuses must not hide the
			// others; if it was the signer's, the signer is reported
			// missing with the parse error beside it.
			out.badCerts = append(out.badCerts, err)
			continue
		}
		out.certs = append(out.certs, c)
	}
	if !sd.ReadOptionalASN1(&set, &present, cbasn1.Tag(1).Constructed().ContextSpecific()) {
		return nil, fmt.Errorf("%w: bad crls", errCMS)
	}
	for present && !set.Empty() {
		var raw cryptobyte.String
		var tag cbasn1.Tag
		if !set.ReadAnyASN1Element(&raw, &tag) {
			return nil, fmt.Errorf("%w: bad crl", errCMS)
		}
		if tag == cbasn1.SEQUENCE {
			out.crls = append(out.crls, []byte(raw))
		}
	}
	var sis cryptobyte.String
	if !sd.ReadASN1(&sis, cbasn1.SET) {
		return nil, fmt.Errorf("%w: bad signerInfos", errCMS)
	}
	for !sis.Empty() {
		var si cryptobyte.String
		if !sis.ReadASN1(&si, cbasn1.SEQUENCE) {
			return nil, fmt.Errorf("%w: bad SignerInfo", errCMS)
		}
		s, err := parseSignerInfo(si)
		if err != nil {
			return nil, err
		}
		out.signers = append(out.signers, *s)
	}
	if len(out.signers) == 0 {
		return nil, fmt.Errorf("%w: no SignerInfo", errCMS)
	}
	return out, nil
}

func parseSignerInfo(si cryptobyte.String) (*signerInfo, error) {
	s := &signerInfo{}
	var version int64
	if !si.ReadASN1Integer(&version) {
		return nil, fmt.Errorf("%w: bad SignerInfo version", errCMS)
	}
	var sid cryptobyte.String
	var tag cbasn1.Tag
	if !si.ReadAnyASN1(&sid, &tag) {
		return nil, fmt.Errorf("%w: bad sid", errCMS)
	}
	switch tag {
	case cbasn1.SEQUENCE:
		var issuer cryptobyte.String
		var stag cbasn1.Tag
		serial := new(big.Int)
		if !sid.ReadAnyASN1Element(&issuer, &stag) || !sid.ReadASN1Integer(serial) {
			return nil, fmt.Errorf("%w: bad issuerAndSerialNumber", errCMS)
		}
		s.issuer, s.serial = issuer, serial
	case cbasn1.Tag(0).ContextSpecific():
		s.ski = sid
	default:
		return nil, fmt.Errorf("%w: bad sid", errCMS)
	}
	var alg cryptobyte.String
	if !si.ReadASN1(&alg, cbasn1.SEQUENCE) || !alg.ReadASN1ObjectIdentifier(&s.digestAlg) {
		return nil, fmt.Errorf("%w: bad digestAlgorithm", errCMS)
	}
	var attrsElem cryptobyte.String
	if si.PeekASN1Tag(cbasn1.Tag(0).Constructed().ContextSpecific()) {
		if !si.ReadASN1Element(&attrsElem, cbasn1.Tag(0).Constructed().ContextSpecific()) || len(attrsElem) < 2 {
			return nil, fmt.Errorf("%w: bad signedAttrs", errCMS)
		}
		// §5.4: the signature covers the DER of the attributes with an
		// explicit SET OF tag, not the [0] IMPLICIT tag they carry here.
		s.signedAttrs = append([]byte{0x31}, attrsElem[1:]...)
		var attrs cryptobyte.String
		if !attrsElem.ReadASN1(&attrs, cbasn1.Tag(0).Constructed().ContextSpecific()) {
			return nil, fmt.Errorf("%w: bad signedAttrs", errCMS)
		}
		m, err := parseAttributes(attrs)
		if err != nil {
			return nil, err
		}
		s.attrs = m
	}
	var salg cryptobyte.String
	if !si.ReadASN1(&salg, cbasn1.SEQUENCE) || !salg.ReadASN1ObjectIdentifier(&s.sigAlg) {
		return nil, fmt.Errorf("%w: bad signatureAlgorithm", errCMS)
	}
	s.sigAlgParams = salg
	var sig cryptobyte.String
	if !si.ReadASN1(&sig, cbasn1.OCTET_STRING) {
		return nil, fmt.Errorf("%w: bad signature", errCMS)
	}
	s.signature = sig
	var uattrs cryptobyte.String
	var present bool
	if !si.ReadOptionalASN1(&uattrs, &present, cbasn1.Tag(1).Constructed().ContextSpecific()) {
		return nil, fmt.Errorf("%w: bad unsignedAttrs", errCMS)
	}
	if present {
		m, err := parseAttributes(uattrs)
		if err != nil {
			return nil, err
		}
		s.unsigned = m
	}
	return s, nil
}

func parseAttributes(in cryptobyte.String) (map[string][][]byte, error) {
	m := map[string][][]byte{}
	for !in.Empty() {
		var a, vals cryptobyte.String
		var oid asn1.ObjectIdentifier
		if !in.ReadASN1(&a, cbasn1.SEQUENCE) || !a.ReadASN1ObjectIdentifier(&oid) || !a.ReadASN1(&vals, cbasn1.SET) {
			return nil, fmt.Errorf("%w: bad attribute", errCMS)
		}
		for !vals.Empty() {
			var v cryptobyte.String
			var tag cbasn1.Tag
			if !vals.ReadAnyASN1Element(&v, &tag) {
				return nil, fmt.Errorf("%w: bad attribute value", errCMS)
			}
			m[oid.String()] = append(m[oid.String()], v)
		}
	}
	return m, nil
}

// attr returns the single value of a signed attribute.
func (s *signerInfo) attr(oid asn1.ObjectIdentifier) ([]byte, bool) {
	v := s.attrs[oid.String()]
	if len(v) != 1 {
		return nil, false
	}
	return v[0], true
}

// signingTime returns the claimed signingTime attribute, if present.
func (s *signerInfo) signingTime() (time.Time, bool) {
	v, ok := s.attr(oidAttrSigningTime)
	if !ok {
		return time.Time{}, false
	}
	var t time.Time
	if _, err := asn1.Unmarshal(v, &t); err != nil {
		return time.Time{}, false
	}
	return t, true
}

// findCert returns the certificate the sid names.
func (s *signerInfo) findCert(certs []*smx509.Certificate) *smx509.Certificate {
	for _, c := range certs {
		if s.ski != nil {
			if len(c.SubjectKeyId) > 0 && bytes.Equal(c.SubjectKeyId, s.ski) {
				return c
			}
			continue
		}
		if s.serial != nil && bytes.Equal(c.RawIssuer, s.issuer) && c.SerialNumber.Cmp(s.serial) == 0 {
			return c
		}
	}
	return nil
}

// digestInfo names a digest algorithm and makes hashes of it.
type digestInfo struct {
	name string
	weak bool
	new  func() hash.Hash
	hash crypto.Hash // 0 for SM3
}

func digestFor(oid asn1.ObjectIdentifier) (digestInfo, bool) {
	switch {
	case oid.Equal(oidSHA256):
		return digestInfo{"SHA-256", false, crypto.SHA256.New, crypto.SHA256}, true
	case oid.Equal(oidSHA384):
		return digestInfo{"SHA-384", false, crypto.SHA384.New, crypto.SHA384}, true
	case oid.Equal(oidSHA512):
		return digestInfo{"SHA-512", false, crypto.SHA512.New, crypto.SHA512}, true
	case oid.Equal(oidSM3):
		return digestInfo{"SM3", false, sm3.New, 0}, true
	case oid.Equal(oidSHA1):
		return digestInfo{"SHA-1", true, crypto.SHA1.New, crypto.SHA1}, true
	case oid.Equal(oidSHAKE256), oid.Equal(oidSHAKE256Len):
		// RFC 8419 §2.3: Ed448 signers digest with SHAKE256 to 512 bits.
		return digestInfo{"SHAKE256", false, newSHAKE512, 0}, true
	}
	return digestInfo{}, false
}

// shake512 is SHAKE256 with a 512-bit output as a hash.Hash.
type shake512 struct{ *sha3.SHAKE }

func newSHAKE512() hash.Hash { return shake512{sha3.NewSHAKE256()} }

func (s shake512) Size() int { return 64 }

// Sum returns the 64-byte output; it may be called once.
func (s shake512) Sum(b []byte) []byte {
	out := make([]byte, 64)
	s.SHAKE.Read(out)
	return append(b, out...)
}

func sum(d digestInfo, b []byte) []byte {
	h := d.new()
	h.Write(b)
	return h.Sum(nil)
}

// errDigestMismatch and errSignature separate HASH_FAILURE from
// SIG_CRYPTO_FAILURE.
var (
	errDigestMismatch = errors.New("the message digest does not match the signed data")
	errSignature      = errors.New("the signature value does not verify with the signer's public key")
	errUnsupported    = errors.New("unsupported algorithm")
)

// verifySigner checks the signer's attributes against the content digest
// and the signature value against cert's public key. It returns the name
// of the signature algorithm.
func verifySigner(s *signerInfo, cert *smx509.Certificate, d digestInfo, contentDigest []byte, contentType asn1.ObjectIdentifier) (string, error) {
	if s.signedAttrs == nil {
		// RFC 5652 §5.4: without signed attributes the signature is over
		// the content itself, here the digest of the byte range.
		return checkSignature(s.sigAlg, s.sigAlgParams, d, cert, nil, contentDigest, s.signature)
	}
	md, ok := s.attr(oidAttrMessageDig)
	var mdv []byte
	if !ok {
		return "", fmt.Errorf("%w: no messageDigest attribute", errCMS)
	}
	if _, err := asn1.Unmarshal(md, &mdv); err != nil {
		return "", fmt.Errorf("%w: bad messageDigest attribute", errCMS)
	}
	if !bytes.Equal(mdv, contentDigest) {
		return "", errDigestMismatch
	}
	ct, ok := s.attr(oidAttrContentType)
	var ctv asn1.ObjectIdentifier
	if !ok {
		return "", fmt.Errorf("%w: no contentType attribute", errCMS)
	}
	if _, err := asn1.Unmarshal(ct, &ctv); err != nil || !(ctv.Equal(contentType) || contentType.Equal(oidData) && ctv.Equal(oidSM2Data)) {
		return "", fmt.Errorf("%w: contentType attribute does not match", errCMS)
	}
	return checkSignature(s.sigAlg, s.sigAlgParams, d, cert, s.signedAttrs, nil, s.signature)
}

// checkSignature verifies sig over msg with the key in cert; when msg is
// nil, digest is the hash already computed (a signature without signed
// attributes). Only a signature value that is mathematically wrong is
// errSignature; a key or algorithm it cannot use is errUnsupported.
func checkSignature(alg asn1.ObjectIdentifier, params []byte, d digestInfo, cert *smx509.Certificate, msg, digest, sig []byte) (string, error) {
	hashed := func(h crypto.Hash) []byte {
		if msg == nil {
			return digest
		}
		hh := h.New()
		hh.Write(msg)
		return hh.Sum(nil)
	}
	switch pub := cert.PublicKey.(type) {
	case *rsa.PublicKey:
		switch {
		case alg.Equal(oidRSAPSS):
			h, salt, err := pssParams(params)
			if err != nil {
				return "", err
			}
			if msg == nil && h != d.hash {
				return "", fmt.Errorf("%w: RSASSA-PSS hash differs from the digest algorithm", errUnsupported)
			}
			if err := rsa.VerifyPSS(pub, h, hashed(h), sig, &rsa.PSSOptions{SaltLength: salt, Hash: h}); err != nil {
				if errors.Is(err, rsa.ErrVerification) {
					return "RSASSA-PSS", errSignature
				}
				return "RSASSA-PSS", fmt.Errorf("%w: unsupported RSA key: %w", errUnsupported, err)
			}
			return "RSASSA-PSS with " + d.name, nil
		case alg.Equal(oidRSA), alg.Equal(oidRSASHA1), alg.Equal(oidRSASHA256), alg.Equal(oidRSASHA384), alg.Equal(oidRSASHA512):
			if d.hash == 0 {
				return "", fmt.Errorf("%w: RSA with %s", errUnsupported, d.name)
			}
			err := rsa.VerifyPKCS1v15(pub, d.hash, hashed(d.hash), sig)
			if err != nil && !errors.Is(err, rsa.ErrVerification) {
				// crypto/rsa refuses some valid keys (a public exponent
				// above 2^31-1); verify those with big-integer arithmetic.
				err = verifyPKCS1v15Big(pub, d.hash, hashed(d.hash), sig)
			}
			switch {
			case errors.Is(err, errSignature), errors.Is(err, rsa.ErrVerification):
				return "RSA PKCS#1 v1.5", errSignature
			case err != nil:
				return "RSA PKCS#1 v1.5", err
			}
			return "RSA PKCS#1 v1.5 with " + d.name, nil
		}
	case ed25519.PublicKey:
		// RFC 8419 §3.1: pure Ed25519 over the signed attributes, whose
		// message digest must be SHA-512.
		if !alg.Equal(oidEd25519) {
			break
		}
		if msg == nil || d.hash != crypto.SHA512 {
			return "", fmt.Errorf("%w: Ed25519 needs signed attributes and SHA-512", errUnsupported)
		}
		if !ed25519.Verify(pub, msg, sig) {
			return "Ed25519", errSignature
		}
		return "Ed25519 with SHA-512", nil
	case nil:
		// Keys smx509 does not know; Ed448 (RFC 8419) is read here.
		if !alg.Equal(oidEd448) {
			break
		}
		key, ok := ed448Key(cert.RawSubjectPublicKeyInfo)
		if !ok {
			return "", fmt.Errorf("%w: unreadable Ed448 key", errUnsupported)
		}
		if msg == nil || d.name != "SHAKE256" {
			return "", fmt.Errorf("%w: Ed448 needs signed attributes digested with SHAKE256, not %s", errUnsupported, d.name)
		}
		if !ed448.Verify(key, msg, sig, "") {
			return "Ed448", errSignature
		}
		return "Ed448 with SHAKE256", nil
	case *ecdsa.PublicKey:
		if pub.Curve == sm2.P256() {
			if !alg.Equal(oidSM2Sign) && !alg.Equal(oidSM2WithSM3) && !alg.Equal(oidECPublicKey) {
				break
			}
			if d.name != "SM3" {
				return "", fmt.Errorf("%w: SM2 with %s", errUnsupported, d.name)
			}
			if msg == nil {
				return "", fmt.Errorf("%w: SM2 without signed attributes", errUnsupported)
			}
			if !sm2.VerifyASN1WithSM2(pub, nil, msg, sig) {
				return "SM2 with SM3", errSignature
			}
			return "SM2 with SM3", nil
		}
		switch {
		case alg.Equal(oidECPublicKey), alg.Equal(oidECDSASHA1), alg.Equal(oidECDSASHA256), alg.Equal(oidECDSASHA384), alg.Equal(oidECDSASHA512):
			if d.hash == 0 {
				return "", fmt.Errorf("%w: ECDSA with %s", errUnsupported, d.name)
			}
			if !ecdsa.VerifyASN1(pub, hashed(d.hash), sig) {
				return "ECDSA", errSignature
			}
			return "ECDSA with " + d.name, nil
		}
	}
	return "", fmt.Errorf("%w: signature algorithm %v with a %T key", errUnsupported, alg, cert.PublicKey)
}

// ed448Key reads an Ed448 SubjectPublicKeyInfo (RFC 8410 §4).
func ed448Key(spki []byte) (ed448.PublicKey, bool) {
	in := cryptobyte.String(spki)
	var seq, algSeq cryptobyte.String
	var oid asn1.ObjectIdentifier
	var bits asn1.BitString
	if !in.ReadASN1(&seq, cbasn1.SEQUENCE) || !seq.ReadASN1(&algSeq, cbasn1.SEQUENCE) ||
		!algSeq.ReadASN1ObjectIdentifier(&oid) || !oid.Equal(oidEd448) || !seq.ReadASN1BitString(&bits) {
		return nil, false
	}
	if bits.BitLength != 8*ed448.PublicKeySize {
		return nil, false
	}
	return ed448.PublicKey(bits.Bytes), true
}

// digestInfoPrefixes are the DER prefixes of DigestInfo for each hash
// (RFC 8017 §9.2, note 1).
var digestInfoPrefixes = map[crypto.Hash][]byte{
	crypto.SHA1:   {0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00, 0x04, 0x14},
	crypto.SHA256: {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20},
	crypto.SHA384: {0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02, 0x05, 0x00, 0x04, 0x30},
	crypto.SHA512: {0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03, 0x05, 0x00, 0x04, 0x40},
}

// verifyPKCS1v15Big is RSASSA-PKCS1-v1_5 verification (RFC 8017 §8.2.2)
// with math/big, for keys crypto/rsa refuses to use. Only public values
// are involved, so constant time does not matter. It returns errSignature
// for a wrong signature and errUnsupported for a key it cannot use.
func verifyPKCS1v15Big(pub *rsa.PublicKey, h crypto.Hash, hashed, sig []byte) error {
	prefix, ok := digestInfoPrefixes[h]
	k := (pub.N.BitLen() + 7) / 8
	if !ok || pub.E < 3 || pub.N.Sign() <= 0 || pub.N.Bit(0) == 0 || pub.N.BitLen() < 1024 || pub.N.BitLen() > 16384 {
		return fmt.Errorf("%w: unsupported RSA key (%d bits, exponent %d)", errUnsupported, pub.N.BitLen(), pub.E)
	}
	if len(sig) != k {
		return errSignature
	}
	s := new(big.Int).SetBytes(sig)
	if s.Cmp(pub.N) >= 0 {
		return errSignature
	}
	m := new(big.Int).Exp(s, big.NewInt(int64(pub.E)), pub.N)
	em := m.FillBytes(make([]byte, k))
	tLen := len(prefix) + len(hashed)
	if k < tLen+11 {
		return errSignature
	}
	want := make([]byte, k)
	want[1] = 1
	for i := 2; i < k-tLen-1; i++ {
		want[i] = 0xff
	}
	copy(want[k-tLen:], prefix)
	copy(want[k-len(hashed):], hashed)
	if !bytes.Equal(em, want) {
		return errSignature
	}
	return nil
}

type pssParameters struct {
	Hash         pkix.AlgorithmIdentifier `asn1:"explicit,tag:0,optional"`
	MGF          pkix.AlgorithmIdentifier `asn1:"explicit,tag:1,optional"`
	SaltLength   int                      `asn1:"explicit,tag:2,optional,default:20"`
	TrailerField int                      `asn1:"explicit,tag:3,optional,default:1"`
}

func pssParams(raw []byte) (crypto.Hash, int, error) {
	var p pssParameters
	if len(raw) == 0 {
		return crypto.SHA1, 20, fmt.Errorf("%w: RSASSA-PSS without parameters (SHA-1)", errUnsupported)
	}
	if rest, err := asn1.Unmarshal(raw, &p); err != nil || len(rest) > 0 {
		return 0, 0, fmt.Errorf("%w: bad RSASSA-PSS parameters", errCMS)
	}
	d, ok := digestFor(p.Hash.Algorithm)
	if !ok || d.hash == 0 || d.weak {
		return 0, 0, fmt.Errorf("%w: RSASSA-PSS hash %v", errUnsupported, p.Hash.Algorithm)
	}
	if !p.MGF.Algorithm.Equal(oidMGF1) || p.TrailerField != 1 || p.SaltLength < 0 || p.SaltLength > 1024 {
		return 0, 0, fmt.Errorf("%w: RSASSA-PSS parameters", errUnsupported)
	}
	return d.hash, p.SaltLength, nil
}
