package verify

import (
	"encoding/asn1"
	"errors"
	"fmt"

	"github.com/emmansun/gmsm/pkcs7"
)

// maxBERDepth bounds the nesting of a BER encoding handed to gmsm/pkcs7,
// whose ber2der recurses once per level with no limit (a few MiB of
// nested indefinite-length headers would overflow the stack, which is
// fatal, not a panic).
const maxBERDepth = 48

// berCheck walks one BER element at b and returns its encoded length, or
// an error when it is malformed or nested deeper than maxBERDepth.
func berCheck(b []byte, depth int) (int, error) {
	if depth > maxBERDepth {
		return 0, errors.New("BER nested too deeply")
	}
	if len(b) < 2 {
		return 0, errors.New("BER truncated")
	}
	p := 1
	constructed := b[0]&0x20 != 0
	if b[0]&0x1f == 0x1f {
		for k := 0; ; k++ {
			if p >= len(b) || k > 4 {
				return 0, errors.New("BER bad tag")
			}
			c := b[p]
			p++
			if c&0x80 == 0 {
				break
			}
		}
	}
	if p >= len(b) {
		return 0, errors.New("BER truncated")
	}
	l := int(b[p])
	p++
	if l == 0x80 {
		if !constructed {
			return 0, errors.New("BER indefinite primitive")
		}
		for {
			if p+2 > len(b) {
				return 0, errors.New("BER unterminated")
			}
			if b[p] == 0 && b[p+1] == 0 {
				return p + 2, nil
			}
			n, err := berCheck(b[p:], depth+1)
			if err != nil {
				return 0, err
			}
			p += n
		}
	}
	if l > 0x80 {
		nb := l & 0x7f
		if nb > 4 || p+nb > len(b) {
			return 0, errors.New("BER bad length")
		}
		l = 0
		for i := 0; i < nb; i++ {
			l = l<<8 | int(b[p])
			p++
		}
	}
	if l < 0 || p+l > len(b) {
		return 0, errors.New("BER length beyond data")
	}
	end := p + l
	if constructed {
		for p < end {
			n, err := berCheck(b[p:end], depth+1)
			if err != nil {
				return 0, err
			}
			p += n
		}
	}
	return end, nil
}

// attribute mirrors the CMS Attribute for re-encoding.
type attribute struct {
	Type  asn1.ObjectIdentifier
	Value asn1.RawValue `asn1:"set"`
}

// parseBERCMS reads CMS that is BER-encoded (NSS, and so poppler's pdfsig,
// write indefinite lengths) through gmsm/pkcs7, which converts it to DER.
// The signed attributes are re-encoded in DER (sorted SET OF), which is
// exactly what was signed when the signer followed RFC 5652 §5.4.
func parseBERCMS(ber []byte) (sd *signedData, err error) {
	if _, err := berCheck(ber, 0); err != nil {
		return nil, fmt.Errorf("%w: %w", errCMS, err)
	}
	defer func() {
		if r := recover(); r != nil {
			sd, err = nil, fmt.Errorf("%w: unreadable BER (%v)", errCMS, r)
		}
	}()
	p7, err := pkcs7.Parse(ber)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errCMS, err)
	}
	out := &signedData{content: p7.Content, certs: p7.Certificates}
	if len(p7.Content) == 0 {
		out.content = nil
	}
	for _, c := range p7.CRLs {
		if b, err := asn1.Marshal(c); err == nil {
			out.crls = append(out.crls, b)
		}
	}
	for _, s := range p7.Signers {
		si := signerInfo{
			issuer:       s.IssuerAndSerialNumber.IssuerName.FullBytes,
			digestAlg:    s.DigestAlgorithm.Algorithm,
			sigAlg:       s.DigestEncryptionAlgorithm.Algorithm,
			sigAlgParams: s.DigestEncryptionAlgorithm.Parameters.FullBytes,
			signature:    s.EncryptedDigest,
		}
		si.serial = s.IssuerAndSerialNumber.SerialNumber
		if len(s.AuthenticatedAttributes) > 0 {
			si.attrs = map[string][][]byte{}
			var attrs []attribute
			for _, a := range s.AuthenticatedAttributes {
				attrs = append(attrs, attribute{a.Type, a.Value})
				si.attrs[a.Type.String()] = append(si.attrs[a.Type.String()], setValues(a.Value.Bytes)...)
			}
			si.signedAttrs, err = asn1.MarshalWithParams(attrs, "set")
			if err != nil {
				return nil, fmt.Errorf("%w: re-encoding signed attributes: %w", errCMS, err)
			}
		}
		if len(s.UnauthenticatedAttributes) > 0 {
			si.unsigned = map[string][][]byte{}
			for _, a := range s.UnauthenticatedAttributes {
				si.unsigned[a.Type.String()] = append(si.unsigned[a.Type.String()], setValues(a.Value.Bytes)...)
			}
		}
		out.signers = append(out.signers, si)
	}
	// gmsm/pkcs7 does not expose eContentType. The signed contentType
	// attribute must equal it (RFC 5652 §11.1) and verifySigner checks
	// the attribute against the type the caller expects, so it stands in.
	if len(out.signers) == 1 {
		if v, ok := out.signers[0].attr(oidAttrContentType); ok {
			var ct asn1.ObjectIdentifier
			if _, err := asn1.Unmarshal(v, &ct); err == nil {
				out.contentType = ct
			}
		}
	}
	if len(out.signers) == 0 {
		return nil, fmt.Errorf("%w: no SignerInfo", errCMS)
	}
	return out, nil
}

// setValues splits the content of a SET into its elements.
func setValues(b []byte) [][]byte {
	var out [][]byte
	for len(b) > 0 {
		var v asn1.RawValue
		rest, err := asn1.Unmarshal(b, &v)
		if err != nil {
			break
		}
		out = append(out, v.FullBytes)
		b = rest
	}
	return out
}
