package evidence

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"github.com/cunzheng/cunzheng/evidence/event"
)

// MaxDocumentBytes is the largest document PUT /v1/documents accepts.
const MaxDocumentBytes = 64 << 20

// storedDocument is a document encrypted under its own key (一文一密), the
// key wrapped by the tenant key.
type storedDocument struct {
	WrappedKey []byte `json:"key"`
	Ciphertext []byte `json:"ct,omitempty"`
	// Blob names the object holding the ciphertext when Config.Blobs is set.
	Blob string `json:"blob,omitempty"`
}

// Blobs is an object store for document ciphertext. Get of an absent key
// must fail; the bytes stored are already encrypted and bound to their
// tenant and hash.
type Blobs interface {
	PutBlob(ctx context.Context, key string, data []byte) error
	GetBlob(ctx context.Context, key string) ([]byte, error)
}

// documentBlobKey is where a document's ciphertext goes in Blobs: by
// pseudonymous tenant id and the document's SHA-256, which the public
// leaves carry anyway.
func documentBlobKey(tenant, sha string) string { return "documents/" + tenant + "/" + sha }

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
	k := documentKey(ts.ID, sha256Hex)
	if _, found, err := s.store.get(context.Background(), k); err != nil {
		return false, fmt.Errorf("evidence: reading store: %w", err)
	} else if found {
		return false, nil
	}
	dk, err := event.NewKey()
	if err != nil {
		return false, err
	}
	ad := documentAD(ts.ID, sha256Hex)
	wrapped, err := event.SealWith(ts.KEKAEAD, event.AlgAES256GCM, dk, ad)
	if err != nil {
		return false, err
	}
	ct, err := event.Seal(event.AlgAES256GCM, dk, body, ad)
	if err != nil {
		return false, err
	}
	stored := storedDocument{WrappedKey: wrapped, Ciphertext: ct}
	if s.blobs != nil {
		// The ciphertext first: a crash before the record is committed
		// leaves an object nobody points to, never a record without one.
		stored = storedDocument{WrappedKey: wrapped, Blob: documentBlobKey(ts.ID, sha256Hex)}
		if err := s.blobs.PutBlob(context.Background(), stored.Blob, ct); err != nil {
			return false, fmt.Errorf("%w: storing document: %v", ErrUnavailable, err)
		}
	}
	b := &batch{sync: true}
	if err := setValue(b, k, stored); err != nil {
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
	found, err := s.get(documentKey(ts.ID, sha256Hex), &d)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, ErrNotFound
	}
	ad := documentAD(ts.ID, sha256Hex)
	dk, err := event.OpenWith(ts.KEKAEAD, event.AlgAES256GCM, d.WrappedKey, ad)
	if err != nil {
		return nil, fmt.Errorf("evidence: document key: %w", err)
	}
	ct := d.Ciphertext
	if d.Blob != "" {
		if s.blobs == nil {
			return nil, fmt.Errorf("evidence: document %s is in an object store this service was not given", sha256Hex)
		}
		if ct, err = s.blobs.GetBlob(context.Background(), d.Blob); err != nil {
			return nil, fmt.Errorf("%w: reading document: %v", ErrUnavailable, err)
		}
	}
	body, err := event.Open(event.AlgAES256GCM, dk, ct, ad)
	if err != nil {
		return nil, fmt.Errorf("evidence: document: %w", err)
	}
	return body, nil
}
