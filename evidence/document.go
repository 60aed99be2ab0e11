package evidence

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
)

// MaxDocumentBytes is the largest document PUT /v1/documents accepts.
const MaxDocumentBytes = 64 << 20

// storedDocument is a document encrypted under its own key (一文一密), the
// key wrapped by the tenant key.
type storedDocument struct {
	WrappedKey []byte `json:"key"`
	Ciphertext []byte `json:"ct"`
}

func documentAD(tenant, sha string) []byte {
	return []byte("cunzheng document v1\x00" + tenant + "\x00" + sha)
}

// PutDocument stores body, whose SHA-256 must be sha256Hex, encrypted with
// AES-256-GCM under a fresh key for the principal's tenant. It reports
// whether the document was new; storing it again changes nothing. The
// platform may instead send only hashes in its events (hybrid-cloud mode,
// where the original never leaves it).
func (s *Service) PutDocument(p Principal, sha256Hex string, body []byte) (bool, error) {
	if !p.Has(RoleIngest) {
		return false, ErrForbidden
	}
	if !isHex64(sha256Hex) {
		return false, fmt.Errorf("%w: the path must be the document's SHA-256 as 64 lower-case hex digits", ErrInvalidDocument)
	}
	if len(body) == 0 || len(body) > MaxDocumentBytes {
		return false, fmt.Errorf("%w: a document is 1 byte to %d bytes", ErrInvalidDocument, MaxDocumentBytes)
	}
	if got := sha256.Sum256(body); hex.EncodeToString(got[:]) != sha256Hex {
		return false, fmt.Errorf("%w: body SHA-256 is %x, not the one in the path", ErrInvalidDocument, got)
	}
	ts, err := s.reg.tenant(p.Tenant.ID)
	if err != nil {
		return false, err
	}
	k := key("d", ts.ID, sha256Hex)
	if _, found, err := s.store.get(context.Background(), k); err != nil {
		return false, fmt.Errorf("evidence: reading store: %w", err)
	} else if found {
		return false, nil
	}
	dk, err := newKey()
	if err != nil {
		return false, err
	}
	ad := documentAD(ts.ID, sha256Hex)
	wrapped, err := seal(algAES256GCM, ts.kek, dk, ad)
	if err != nil {
		return false, err
	}
	ct, err := seal(algAES256GCM, dk, body, ad)
	if err != nil {
		return false, err
	}
	b := &batch{sync: true}
	if err := setValue(b, k, storedDocument{WrappedKey: wrapped, Ciphertext: ct}); err != nil {
		return false, err
	}
	if err := s.store.commit(context.Background(), b); err != nil {
		return false, fmt.Errorf("evidence: storing document: %w", err)
	}
	s.metrics.documents.Inc()
	return true, nil
}

// Document returns the stored document with SHA-256 sha256Hex of the
// principal's tenant, decrypted. ErrNotFound if absent or another tenant's.
func (s *Service) Document(p Principal, sha256Hex string) ([]byte, error) {
	if !p.Has(RoleLegal) && !p.Has(RoleIngest) {
		return nil, ErrForbidden
	}
	if !isHex64(sha256Hex) {
		return nil, ErrNotFound
	}
	ts, err := s.reg.tenant(p.Tenant.ID)
	if err != nil {
		return nil, err
	}
	var d storedDocument
	found, err := s.get(key("d", ts.ID, sha256Hex), &d)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, ErrNotFound
	}
	ad := documentAD(ts.ID, sha256Hex)
	dk, err := open(algAES256GCM, ts.kek, d.WrappedKey, ad)
	if err != nil {
		return nil, fmt.Errorf("evidence: document key: %w", err)
	}
	body, err := open(algAES256GCM, dk, d.Ciphertext, ad)
	if err != nil {
		return nil, fmt.Errorf("evidence: document: %w", err)
	}
	return body, nil
}
