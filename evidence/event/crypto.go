package event

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/emmansun/gmsm/sm4"
)

// KeySize is the size in bytes of every symmetric key in the hierarchy:
// the master key, tenant key-encryption keys, subject data keys and
// per-document keys.
const KeySize = 32

// ErrDecrypt is returned when an authenticated decryption fails: wrong key,
// wrong associated data, or tampered bytes. It is never shown to clients.
var ErrDecrypt = errors.New("evidence: authenticated decryption failed")

// Algorithms used by the key hierarchy. Each sealed blob starts with one byte
// naming its algorithm so that a reader never guesses.
const (
	AlgAES256GCM byte = 1 // AES-256-GCM, 12-byte random nonce
	AlgSM4GCM    byte = 2 // SM4-GCM (GB/T 32907 in GCM mode), 12-byte random nonce
)

// NewAEAD returns the AEAD for alg keyed with key.
func NewAEAD(alg byte, key []byte) (cipher.AEAD, error) {
	var (
		block cipher.Block
		err   error
	)
	switch alg {
	case AlgAES256GCM:
		if len(key) != 32 {
			return nil, fmt.Errorf("evidence: AES-256 key is %d bytes", len(key))
		}
		block, err = aes.NewCipher(key)
	case AlgSM4GCM:
		if len(key) != 16 {
			return nil, fmt.Errorf("evidence: SM4 key is %d bytes", len(key))
		}
		block, err = sm4.NewCipher(key)
	default:
		return nil, fmt.Errorf("evidence: unknown sealing algorithm %d", alg)
	}
	if err != nil {
		return nil, fmt.Errorf("evidence: cipher: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("evidence: gcm: %w", err)
	}
	return aead, nil
}

// Seal encrypts plaintext with alg under key, binding ad. The result is
// alg || nonce || ciphertext+tag.
func Seal(alg byte, key, plaintext, ad []byte) ([]byte, error) {
	aead, err := NewAEAD(alg, key)
	if err != nil {
		return nil, err
	}
	return SealWith(aead, alg, plaintext, ad)
}

// SealWith is Seal with the AEAD for alg already made.
func SealWith(aead cipher.AEAD, alg byte, plaintext, ad []byte) ([]byte, error) {
	out := make([]byte, 1+aead.NonceSize(), 1+aead.NonceSize()+len(plaintext)+aead.Overhead())
	out[0] = alg
	if _, err := rand.Read(out[1:]); err != nil {
		return nil, fmt.Errorf("evidence: nonce: %w", err)
	}
	return aead.Seal(out, out[1:], plaintext, ad), nil
}

// Open reverses Seal. The algorithm byte must be the one the caller expects,
// so that an SM4 field can never be downgraded to another cipher.
func Open(alg byte, key, blob, ad []byte) ([]byte, error) {
	if len(blob) < 1 || blob[0] != alg {
		return nil, ErrDecrypt
	}
	aead, err := NewAEAD(alg, key)
	if err != nil {
		return nil, err
	}
	return OpenWith(aead, alg, blob, ad)
}

// OpenWith is Open with the AEAD for alg already made.
func OpenWith(aead cipher.AEAD, alg byte, blob, ad []byte) ([]byte, error) {
	if len(blob) < 1 || blob[0] != alg {
		return nil, ErrDecrypt
	}
	if len(blob) < 1+aead.NonceSize()+aead.Overhead() {
		return nil, ErrDecrypt
	}
	nonce := blob[1 : 1+aead.NonceSize()]
	pt, err := aead.Open(nil, nonce, blob[1+aead.NonceSize():], ad)
	if err != nil {
		return nil, ErrDecrypt
	}
	return pt, nil
}

// Derive returns an n-byte key for purpose from key with HKDF-SHA256
// (RFC 5869). One stored secret per layer, many single-purpose keys.
func Derive(key []byte, purpose string, n int) []byte {
	k, err := hkdf.Key(sha256.New, key, nil, "cunzheng/evidence/"+purpose, n)
	if err != nil {
		// Only possible when n exceeds 255*32 bytes, which no caller asks for.
		panic("evidence: hkdf: " + err.Error())
	}
	return k
}

// NewKey returns a fresh random key.
func NewKey() ([]byte, error) {
	k := make([]byte, KeySize)
	if _, err := rand.Read(k); err != nil {
		return nil, fmt.Errorf("evidence: generating key: %w", err)
	}
	return k, nil
}

// KeyID names a key without revealing it: the first 8 bytes of
// SHA-256("cunzheng key id" || key), hex. It lets a wrapped blob say which
// master key wrapped it so that rotation knows what to rewrap.
func KeyID(key []byte) string {
	h := sha256.Sum256(append([]byte("cunzheng key id\x00"), key...))
	return fmt.Sprintf("%x", h[:8])
}
