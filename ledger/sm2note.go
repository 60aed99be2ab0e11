package ledger

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/emmansun/gmsm/sm2"
	"golang.org/x/mod/sumdb/note"
)

// SM2 checkpoint signatures for national-standard (GM/T) verifiers.
//
// C2SP signed-note assigns no type byte to SM2, and reserves 0xff for
// "signature types without an identifier byte assigned by this
// specification", recommending a longer identifier after it. We use
//
//	type identifier = 0xff || "cunzheng/sm2-sm3/v1"
//	key ID          = SHA-256(key name || 0x0A || type identifier || public key)[:4]
//	verifier key    = name+hex(key ID)+base64(type identifier || public key)
//	signature       = SM2 with SM3 and the default user ID of GB/T 32918.2
//	                  (1234567812345678), ASN.1 DER, over the note text
//
// where the public key is the 65-byte uncompressed SM2 point. A verifier that
// does not know this key ignores the line, as signed-note requires, so Go's
// sumdb/note still verifies the Ed25519 line of the same note.
// Spec: https://c2sp.org/signed-note
var sm2TypeID = append([]byte{0xff}, "cunzheng/sm2-sm3/v1"...)

// SM2Signer is a note.Signer producing SM2/SM3 signature lines.
type SM2Signer struct {
	name string
	hash uint32
	priv *sm2.PrivateKey
}

var _ note.Signer = (*SM2Signer)(nil)

// NewSM2Signer returns a note signer named name for priv.
func NewSM2Signer(name string, priv *sm2.PrivateKey) (*SM2Signer, error) {
	if !validKeyName(name) {
		return nil, fmt.Errorf("ledger: invalid note key name %q", name)
	}
	pub := sm2PublicBytes(&priv.PublicKey)
	return &SM2Signer{name: name, hash: sm2KeyHash(name, pub), priv: priv}, nil
}

// Name implements note.Signer.
func (s *SM2Signer) Name() string { return s.name }

// KeyHash implements note.Signer.
func (s *SM2Signer) KeyHash() uint32 { return s.hash }

// Sign implements note.Signer.
func (s *SM2Signer) Sign(msg []byte) ([]byte, error) {
	sig, err := s.priv.SignWithSM2(rand.Reader, nil, msg)
	if err != nil {
		return nil, fmt.Errorf("ledger: sm2 signing: %w", err)
	}
	return sig, nil
}

// VerifierKey returns the signer's verifier key in note format.
func (s *SM2Signer) VerifierKey() string {
	return encodeVerifierKey(s.name, s.hash, append(bytes.Clone(sm2TypeID), sm2PublicBytes(&s.priv.PublicKey)...))
}

// SM2Verifier is a note.Verifier for SM2 signature lines.
type SM2Verifier struct {
	name string
	hash uint32
	pub  *ecdsa.PublicKey
}

var _ note.Verifier = (*SM2Verifier)(nil)

// Name implements note.Verifier.
func (v *SM2Verifier) Name() string { return v.name }

// KeyHash implements note.Verifier.
func (v *SM2Verifier) KeyHash() uint32 { return v.hash }

// Verify implements note.Verifier.
func (v *SM2Verifier) Verify(msg, sig []byte) bool {
	return sm2.VerifyASN1WithSM2(v.pub, nil, msg, sig)
}

// NewVerifier parses a verifier key of either kind the log publishes: an
// Ed25519 key (type 0x01, handled by sumdb/note) or an SM2 key.
func NewVerifier(vkey string) (note.Verifier, error) {
	name, hash, key, err := splitVerifierKey(vkey)
	if err != nil {
		return nil, err
	}
	if !bytes.HasPrefix(key, sm2TypeID) {
		v, err := note.NewVerifier(vkey)
		if err != nil {
			return nil, fmt.Errorf("ledger: parsing verifier key: %w", err)
		}
		return v, nil
	}
	pubBytes := key[len(sm2TypeID):]
	pub, err := sm2.NewPublicKey(pubBytes)
	if err != nil {
		return nil, fmt.Errorf("ledger: parsing sm2 verifier key: %w", err)
	}
	if sm2KeyHash(name, pubBytes) != hash {
		return nil, errors.New("ledger: sm2 verifier key hash does not match its key")
	}
	return &SM2Verifier{name: name, hash: hash, pub: pub}, nil
}

func sm2PublicBytes(pub *ecdsa.PublicKey) []byte {
	b := make([]byte, 65)
	b[0] = 4
	pub.X.FillBytes(b[1:33])
	pub.Y.FillBytes(b[33:])
	return b
}

func sm2KeyHash(name string, pub []byte) uint32 {
	h := sha256.New()
	h.Write([]byte(name))
	h.Write([]byte{'\n'})
	h.Write(sm2TypeID)
	h.Write(pub)
	return binary.BigEndian.Uint32(h.Sum(nil))
}

func encodeVerifierKey(name string, hash uint32, key []byte) string {
	return fmt.Sprintf("%s+%08x+%s", name, hash, base64.StdEncoding.EncodeToString(key))
}

func splitVerifierKey(vkey string) (name string, hash uint32, key []byte, err error) {
	name, rest, ok1 := strings.Cut(vkey, "+")
	hashHex, keyB64, ok2 := strings.Cut(rest, "+")
	if !ok1 || !ok2 || !validKeyName(name) || len(hashHex) != 8 {
		return "", 0, nil, fmt.Errorf("ledger: malformed verifier key %q", vkey)
	}
	h, err := strconv.ParseUint(hashHex, 16, 32)
	if err != nil {
		return "", 0, nil, fmt.Errorf("ledger: malformed verifier key hash %q", hashHex)
	}
	key, err = base64.StdEncoding.DecodeString(keyB64)
	if err != nil || len(key) == 0 {
		return "", 0, nil, fmt.Errorf("ledger: malformed verifier key encoding")
	}
	return name, uint32(h), key, nil
}

// validKeyName follows signed-note: non-empty, no Unicode spaces, no '+'.
func validKeyName(name string) bool {
	if name == "" || strings.ContainsRune(name, '+') {
		return false
	}
	for _, r := range name {
		if r <= ' ' || r == '\u00a0' || r == '\u2028' || r == '\u2029' || (r >= '\u2000' && r <= '\u200a') || r == '\u3000' {
			return false
		}
	}
	return true
}
