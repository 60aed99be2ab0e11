package ledger

import (
	"crypto/rand"
	"fmt"

	"github.com/emmansun/gmsm/sm2"
	"golang.org/x/mod/sumdb/note"

	"github.com/cunzheng/cunzheng/ledger/tlogfmt"
)

// SM2Signer is a note.Signer producing the log's SM2/SM3 signature lines,
// for national-standard (GM/T) verifiers. The key type, key ID and
// signature encoding are public formats, defined in tlogfmt (which also
// verifies them); the signer only holds the private key.
type SM2Signer struct {
	name string
	hash uint32
	priv *sm2.PrivateKey
}

var _ note.Signer = (*SM2Signer)(nil)

// NewSM2Signer returns a note signer named name for priv.
func NewSM2Signer(name string, priv *sm2.PrivateKey) (*SM2Signer, error) {
	if !tlogfmt.ValidKeyName(name) {
		return nil, fmt.Errorf("ledger: invalid note key name %q", name)
	}
	return &SM2Signer{name: name, hash: tlogfmt.SM2KeyHash(name, &priv.PublicKey), priv: priv}, nil
}

// Name implements note.Signer.
func (s *SM2Signer) Name() string { return s.name }

// KeyHash implements note.Signer.
func (s *SM2Signer) KeyHash() uint32 { return s.hash }

// Sign implements note.Signer: SM2 with SM3 and the default user ID, ASN.1
// DER, as tlogfmt.SM2Verifier checks it.
func (s *SM2Signer) Sign(msg []byte) ([]byte, error) {
	sig, err := s.priv.SignWithSM2(rand.Reader, nil, msg)
	if err != nil {
		return nil, fmt.Errorf("ledger: sm2 signing: %w", err)
	}
	return sig, nil
}

// VerifierKey returns the signer's verifier key in note format.
func (s *SM2Signer) VerifierKey() string { return tlogfmt.SM2VerifierKey(s.name, &s.priv.PublicKey) }
