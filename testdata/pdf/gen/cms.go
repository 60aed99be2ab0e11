package main

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"math/big"
	"sort"
	"time"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/sm3"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// This is a fixture CMS (RFC 5652) writer: it lets the corpus hold
// signatures no other tool on the machine makes (RSASSA-PSS, SM2, RFC 3161
// timestamps, deliberate defects). It is test-fixture code, not a signer.

var (
	oidData        = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}
	oidSignedData  = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}
	oidTSTInfo     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 1, 4}
	oidContentType = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 3}
	oidMsgDigest   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 4}
	oidSigningTime = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 5}
	oidTSToken     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 14}
	oidSHA256      = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
	oidSHA384      = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 2}
	oidSHA512      = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 3}
	oidSM3         = asn1.ObjectIdentifier{1, 2, 156, 10197, 1, 401}
	oidRSA         = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 1}
	oidPSS         = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 10}
	oidMGF1        = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 8}
	oidECDSA256    = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}
	oidECDSA384    = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 3}
	oidSM2SM3      = asn1.ObjectIdentifier{1, 2, 156, 10197, 1, 501}
)

// signer says how a party signs.
type signer struct {
	p    *party
	alg  string // "rsa", "pss", "ecdsa", "sm2"
	hash crypto.Hash
}

func (s signer) digestOID() asn1.ObjectIdentifier {
	if s.alg == "sm2" {
		return oidSM3
	}
	switch s.hash {
	case crypto.SHA384:
		return oidSHA384
	case crypto.SHA512:
		return oidSHA512
	}
	return oidSHA256
}

func (s signer) digest(b ...[]byte) []byte {
	if s.alg == "sm2" {
		h := sm3.New()
		for _, x := range b {
			h.Write(x)
		}
		return h.Sum(nil)
	}
	h := s.hash.New()
	for _, x := range b {
		h.Write(x)
	}
	return h.Sum(nil)
}

func (s signer) sign(msg []byte) []byte {
	var sig []byte
	var err error
	switch s.alg {
	case "sm2":
		sig, err = s.p.key.(*sm2.PrivateKey).Sign(rand.Reader, msg, sm2.DefaultSM2SignerOpts)
	case "pss":
		sig, err = s.p.key.Sign(rand.Reader, s.digest(msg), &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: s.hash})
	default:
		sig, err = s.p.key.Sign(rand.Reader, s.digest(msg), s.hash)
	}
	must(err)
	return sig
}

func addAlg(b *cryptobyte.Builder, oid asn1.ObjectIdentifier, params func(*cryptobyte.Builder)) {
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(oid)
		if params != nil {
			params(b)
		} else {
			b.AddASN1NULL()
		}
	})
}

func (s signer) addSigAlg(b *cryptobyte.Builder) {
	switch s.alg {
	case "rsa":
		addAlg(b, oidRSA, nil)
	case "pss":
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1ObjectIdentifier(oidPSS)
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) { addAlg(b, s.digestOID(), nil) })
				b.AddASN1(cbasn1.Tag(1).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
					addAlg(b, oidMGF1, func(b *cryptobyte.Builder) { addAlg(b, s.digestOID(), nil) })
				})
				b.AddASN1(cbasn1.Tag(2).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) { b.AddASN1Int64(int64(s.hash.Size())) })
			})
		})
	case "ecdsa":
		if s.hash == crypto.SHA384 {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddASN1ObjectIdentifier(oidECDSA384) })
		} else {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddASN1ObjectIdentifier(oidECDSA256) })
		}
	case "sm2":
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddASN1ObjectIdentifier(oidSM2SM3) })
	}
}

func attr(oid asn1.ObjectIdentifier, value []byte) []byte {
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(oid)
		b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) { b.AddBytes(value) })
	})
	return b.BytesOrPanic()
}

func der(v any) []byte {
	b, err := asn1.Marshal(v)
	must(err)
	return b
}

// cmsSpec describes one SignedData.
type cmsSpec struct {
	s           signer
	eType       asn1.ObjectIdentifier
	eContent    []byte // nil: detached
	digest      []byte // of the (detached) content, made with s
	signingTime time.Time
	chain       []*x509.Certificate
	crls        [][]byte
	unsigned    func(sig []byte) [][]byte // unsigned attributes given the signature value
	signed      [][]byte                  // extra signed attributes
	breakSig    bool
}

func buildCMS(c cmsSpec) []byte {
	attrs := [][]byte{
		attr(oidContentType, der(c.eType)),
		attr(oidMsgDigest, der(c.digest)),
	}
	if !c.signingTime.IsZero() {
		attrs = append(attrs, attr(oidSigningTime, der(c.signingTime.UTC())))
	}
	attrs = append(attrs, c.signed...)
	sort.Slice(attrs, func(i, j int) bool { return bytes.Compare(attrs[i], attrs[j]) < 0 })
	var sa cryptobyte.Builder
	sa.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) {
		for _, a := range attrs {
			b.AddBytes(a)
		}
	})
	signedAttrs := sa.BytesOrPanic()
	sig := c.s.sign(signedAttrs)
	if c.breakSig {
		sig[len(sig)/2] ^= 0x01
	}
	var unsigned [][]byte
	if c.unsigned != nil {
		unsigned = c.unsigned(sig)
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(oidSignedData)
		b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1Int64(1)
				b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) { addAlg(b, c.s.digestOID(), nil) })
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					b.AddASN1ObjectIdentifier(c.eType)
					if c.eContent != nil {
						b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
							b.AddASN1OctetString(c.eContent)
						})
					}
				})
				b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
					for _, cert := range c.chain {
						b.AddBytes(cert.Raw)
					}
				})
				if len(c.crls) > 0 {
					b.AddASN1(cbasn1.Tag(1).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
						for _, x := range c.crls {
							b.AddBytes(x)
						}
					})
				}
				b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) {
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
						b.AddASN1Int64(1)
						b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
							b.AddBytes(c.chain[0].RawIssuer)
							b.AddASN1BigInt(c.chain[0].SerialNumber)
						})
						addAlg(b, c.s.digestOID(), nil)
						b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
							for _, a := range attrs {
								b.AddBytes(a)
							}
						})
						c.s.addSigAlg(b)
						b.AddASN1OctetString(sig)
						if len(unsigned) > 0 {
							b.AddASN1(cbasn1.Tag(1).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
								for _, u := range unsigned {
									b.AddBytes(u)
								}
							})
						}
					})
				})
			})
		})
	})
	return b.BytesOrPanic()
}

// tsa issues RFC 3161 tokens.
type tsa struct {
	s     signer
	chain []*x509.Certificate
	crls  [][]byte
	at    time.Time
}

type tstInfo struct {
	Version        int
	Policy         asn1.ObjectIdentifier
	MessageImprint struct {
		HashAlgorithm struct {
			Algorithm  asn1.ObjectIdentifier
			Parameters asn1.RawValue `asn1:"optional"`
		}
		HashedMessage []byte
	}
	SerialNumber *big.Int
	GenTime      time.Time `asn1:"generalized"`
}

// token stamps data (its SHA-256 imprint); wrong makes the imprint lie.
func (t *tsa) token(data []byte, wrong bool) []byte {
	var info tstInfo
	info.Version = 1
	info.Policy = asn1.ObjectIdentifier{1, 2, 3, 4, 1}
	info.MessageImprint.HashAlgorithm.Algorithm = oidSHA256
	sum := sha256.Sum256(data)
	if wrong {
		sum[0] ^= 0xff
	}
	info.MessageImprint.HashedMessage = sum[:]
	serial++
	info.SerialNumber = big.NewInt(serial)
	info.GenTime = t.at.UTC().Truncate(time.Second)
	content := der(info)
	return buildCMS(cmsSpec{s: t.s, eType: oidTSTInfo, eContent: content, digest: t.s.digest(content), chain: t.chain, crls: t.crls})
}

func tokenAttr(tok []byte) []byte { return attr(oidTSToken, tok) }

var oidRevInfoArchival = asn1.ObjectIdentifier{1, 2, 840, 113583, 1, 1, 8}

// revInfoArchival is Adobe's signed attribute carrying OCSP responses:
// RevocationInfoArchival ::= SEQUENCE { ocsp [1] EXPLICIT SEQUENCE OF OCSPResponse }.
func revInfoArchival(ocsps ...[]byte) []byte {
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.Tag(1).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				for _, o := range ocsps {
					b.AddBytes(o)
				}
			})
		})
	})
	return attr(oidRevInfoArchival, b.BytesOrPanic())
}
