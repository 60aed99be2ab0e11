package tlogfmt

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/emmansun/gmsm/sm2"
	fnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"
)

// Signature type bytes of C2SP signed-note verifier keys that the project
// signs with.
//
// Spec: https://c2sp.org/signed-note#signature-types
const (
	// TypeEd25519 is a plain Ed25519 note signature: the log's first
	// checkpoint line.
	TypeEd25519 byte = 0x01
	// TypeCosignature is a timestamped Ed25519 cosignature/v1: what notary
	// offices sign (https://c2sp.org/tlog-cosignature).
	TypeCosignature byte = 0x04
	// TypeEscape is the signed-note escape byte for signature types without
	// an assigned byte; the log's SM2/SM3 keys use it followed by
	// "cunzheng/sm2-sm3/v1".
	TypeEscape byte = 0xff
)

// SM2 checkpoint signatures for national-standard (GM/T) verifiers.
//
// C2SP signed-note assigns no type byte to SM2, and reserves 0xff for
// "signature types without an identifier byte assigned by this
// specification", recommending a longer identifier after it. The log uses
//
//	type identifier = 0xff || "cunzheng/sm2-sm3/v1"
//	key ID          = SHA-256(key name || 0x0A || type identifier || public key)[:4]
//	verifier key    = name+hex(key ID)+base64(type identifier || public key)
//	signature       = SM2 with SM3 and the default user ID of GB/T 32918.2
//	                  (1234567812345678), ASN.1 DER, over the note text
//
// where the public key is the 65-byte uncompressed SM2 point. A verifier
// that does not know this key ignores the line, as signed-note requires, so
// Go's sumdb/note still verifies the Ed25519 line of the same note.
var sm2TypeID = append([]byte{TypeEscape}, "cunzheng/sm2-sm3/v1"...)

// Errors a KeyError wraps.
var (
	// ErrMalformedKey means the text is not a verifier key at all.
	ErrMalformedKey = errors.New("malformed verifier key")
	// ErrKeyType means a well-formed key of a signature type this package
	// does not know.
	ErrKeyType = errors.New("unknown verifier key type")
	// ErrKeyRole means a valid key given where another kind is needed: a
	// log's signing key where a notary's cosignature key is expected.
	ErrKeyRole = errors.New("verifier key of the wrong kind")
)

// KeyError is a verifier key that was refused.
type KeyError struct {
	Key string // the key as given (public material only)
	Err error  // ErrMalformedKey, ErrKeyType or ErrKeyRole, possibly wrapping detail
}

func (e *KeyError) Error() string { return fmt.Sprintf("tlogfmt: verifier key %q: %v", e.Key, e.Err) }
func (e *KeyError) Unwrap() error { return e.Err }

func keyErr(vkey string, sentinel error, format string, args ...any) error {
	if format == "" {
		return &KeyError{Key: vkey, Err: sentinel}
	}
	return &KeyError{Key: vkey, Err: fmt.Errorf("%w: %s", sentinel, fmt.Sprintf(format, args...))}
}

// splitKey splits a verifier key name+hash+base64(type || key material).
func splitKey(vkey string) (name string, hash uint32, key []byte, err error) {
	name, rest, ok1 := strings.Cut(vkey, "+")
	hashHex, keyB64, ok2 := strings.Cut(rest, "+")
	if !ok1 || !ok2 || !ValidKeyName(name) || len(hashHex) != 8 {
		return "", 0, nil, keyErr(vkey, ErrMalformedKey, "want name+hash+base64")
	}
	h, err := strconv.ParseUint(hashHex, 16, 32)
	if err != nil {
		return "", 0, nil, keyErr(vkey, ErrMalformedKey, "key ID %q is not 8 hex digits", hashHex)
	}
	key, err = base64.StdEncoding.DecodeString(keyB64)
	if err != nil || len(key) < 2 {
		return "", 0, nil, keyErr(vkey, ErrMalformedKey, "key material is not base64")
	}
	return name, uint32(h), key, nil
}

// NewVerifier parses a C2SP signed-note verifier key of any type the
// project signs with, by its type byte: Ed25519 (0x01, the log's first
// line), the log's SM2/SM3 key (0xff "cunzheng/sm2-sm3/v1"), and Ed25519
// cosignature/v1 (0x04, a notary office). The other types of
// transparency-dev/formats (ECDSA 0x02, RFC 6962 0x05, ML-DSA 0x06) are
// accepted too, so that keys of other logs and witnesses work. Every line
// `cunzheng keys` and `cunzheng notary keys` print is accepted.
//
// The key ID in the key must match its name and key material.
func NewVerifier(vkey string) (note.Verifier, error) {
	name, hash, key, err := splitKey(vkey)
	if err != nil {
		return nil, err
	}
	switch key[0] {
	case TypeEd25519:
		v, err := note.NewVerifier(vkey)
		if err != nil {
			return nil, keyErr(vkey, ErrMalformedKey, "%v", err)
		}
		return v, nil
	case TypeEscape:
		if !bytes.HasPrefix(key, sm2TypeID) {
			return nil, keyErr(vkey, ErrKeyType, "type 0xff with an identifier other than %q", sm2TypeID[1:])
		}
		return newSM2Verifier(vkey, name, hash, key[len(sm2TypeID):])
	}
	v, err := fnote.NewVerifier(vkey)
	if err != nil {
		return nil, keyErr(vkey, ErrKeyType, "type 0x%02x: %v", key[0], err)
	}
	if v.KeyHash() != hash {
		return nil, keyErr(vkey, ErrMalformedKey, "key ID %08x does not match the key (%08x)", hash, v.KeyHash())
	}
	return v, nil
}

// NewCosignatureVerifier parses a notary office's key: a C2SP
// tlog-cosignature key, Ed25519 cosignature/v1 (type 0x04, what `cunzheng
// notary keys` prints) or ML-DSA-44 (0x06). A plain Ed25519 key (0x01) is
// read as the cosignature/v1 key of the same public key, as
// transparency-dev's witness tooling reads it. A log's SM2 key, or any
// other type, is refused with ErrKeyRole.
func NewCosignatureVerifier(vkey string) (note.Verifier, error) {
	_, hash, key, err := splitKey(vkey)
	if err != nil {
		return nil, err
	}
	switch key[0] {
	case TypeEd25519, TypeCosignature, 0x06:
	case TypeEscape:
		if bytes.HasPrefix(key, sm2TypeID) {
			return nil, keyErr(vkey, ErrKeyRole, "the log's SM2/SM3 signing key, not a notary's cosignature key (type 0x04)")
		}
		return nil, keyErr(vkey, ErrKeyType, "")
	default:
		return nil, keyErr(vkey, ErrKeyRole, "type 0x%02x is not a cosignature key (type 0x04)", key[0])
	}
	if key[0] == TypeEd25519 {
		// Check the plain key's own ID before reading it as a cosigner.
		if _, err := note.NewVerifier(vkey); err != nil {
			return nil, keyErr(vkey, ErrMalformedKey, "%v", err)
		}
	}
	v, err := fnote.NewVerifierForCosignatureV1(vkey)
	if err != nil {
		return nil, keyErr(vkey, ErrMalformedKey, "%v", err)
	}
	if key[0] != TypeEd25519 && v.KeyHash() != hash {
		return nil, keyErr(vkey, ErrMalformedKey, "key ID %08x does not match the key (%08x)", hash, v.KeyHash())
	}
	return v, nil
}

// ParseVerifierKeys parses a file of verifier keys, one per line, as
// NewVerifier does; blank lines and lines starting with # are skipped. It
// fails on the first bad key, naming its line, and when there is none.
func ParseVerifierKeys(text []byte) ([]note.Verifier, error) {
	var vs []note.Verifier
	for i, line := range strings.Split(string(text), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		v, err := NewVerifier(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", i+1, err)
		}
		vs = append(vs, v)
	}
	if len(vs) == 0 {
		return nil, errors.New("tlogfmt: no verifier keys")
	}
	return vs, nil
}

// CosignatureVerifierKey converts a plain Ed25519 verifier key (type 0x01)
// to the cosignature/v1 key (type 0x04) of the same public key, the form
// C2SP tlog-cosignature and tlog-witness configurations use.
func CosignatureVerifierKey(vkey string) (string, error) {
	v, err := fnote.VKeyToCosignatureV1(vkey)
	if err != nil {
		return "", keyErr(vkey, ErrMalformedKey, "%v", err)
	}
	return v, nil
}

// Ed25519VerifierKey returns the verifier key (type 0x01) of a note signer
// key "PRIVATE+KEY+name+hash+base64(0x01 || seed)", as
// note.GenerateKey writes it.
func Ed25519VerifierKey(skey string) (string, error) {
	if _, err := note.NewSigner(skey); err != nil {
		return "", fmt.Errorf("tlogfmt: signer key: %w", err)
	}
	parts := strings.SplitN(skey, "+", 5)
	key, err := base64.StdEncoding.DecodeString(parts[4])
	if err != nil || len(key) != 1+ed25519.SeedSize || key[0] != TypeEd25519 {
		return "", errors.New("tlogfmt: signer key is not an Ed25519 key")
	}
	pub := ed25519.NewKeyFromSeed(key[1:]).Public().(ed25519.PublicKey)
	vkey, err := note.NewEd25519VerifierKey(parts[2], pub)
	if err != nil {
		return "", fmt.Errorf("tlogfmt: %w", err)
	}
	return vkey, nil
}

// ValidKeyName reports whether name may name a note key (and a checkpoint
// origin the log signs under): non-empty UTF-8 without Unicode spaces,
// control characters or '+'.
func ValidKeyName(name string) bool {
	return name != "" && utf8.ValidString(name) && !strings.Contains(name, "+") &&
		strings.IndexFunc(name, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) < 0
}

// SM2Verifier is a note.Verifier for the log's SM2/SM3 signature lines.
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

// Verify implements note.Verifier: an ASN.1 DER SM2 signature with SM3 and
// the default user ID over msg.
func (v *SM2Verifier) Verify(msg, sig []byte) bool {
	return sm2.VerifyASN1WithSM2(v.pub, nil, msg, sig)
}

func newSM2Verifier(vkey, name string, hash uint32, point []byte) (*SM2Verifier, error) {
	pub, err := sm2.NewPublicKey(point)
	if err != nil {
		return nil, keyErr(vkey, ErrMalformedKey, "SM2 public key: %v", err)
	}
	if SM2KeyHash(name, pub) != hash {
		return nil, keyErr(vkey, ErrMalformedKey, "key ID %08x does not match the SM2 key", hash)
	}
	return &SM2Verifier{name: name, hash: hash, pub: pub}, nil
}

// SM2KeyHash returns the key ID of the log's SM2/SM3 key named name.
func SM2KeyHash(name string, pub *ecdsa.PublicKey) uint32 {
	h := sha256.New()
	h.Write([]byte(name))
	h.Write([]byte{'\n'})
	h.Write(sm2TypeID)
	h.Write(sm2Point(pub))
	return binary.BigEndian.Uint32(h.Sum(nil))
}

// SM2VerifierKey returns the verifier key of the log's SM2/SM3 key named
// name, the second line `cunzheng keys` prints.
func SM2VerifierKey(name string, pub *ecdsa.PublicKey) string {
	key := append(bytes.Clone(sm2TypeID), sm2Point(pub)...)
	return fmt.Sprintf("%s+%08x+%s", name, SM2KeyHash(name, pub), base64.StdEncoding.EncodeToString(key))
}

// sm2Point is the 65-byte uncompressed encoding of an SM2 public key.
func sm2Point(pub *ecdsa.PublicKey) []byte {
	b := make([]byte, 65)
	b[0] = 4
	pub.X.FillBytes(b[1:33])
	pub.Y.FillBytes(b[33:])
	return b
}
