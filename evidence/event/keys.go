package event

import (
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"sync"
)

// TenantKeys are the keys one tenant's events are built and sealed with,
// all derived from its key-encryption key (KEK). They are made once per
// tenant (NewTenantKeys) and safe for concurrent use.
type TenantKeys struct {
	// TenantID is the tenant the keys are of.
	TenantID string
	// KEKAEAD is the KEK's AES-256-GCM: it wraps subject and document keys.
	KEKAEAD cipher.AEAD
	// ContractKey seals the contract part of sealed records and the
	// contract records of the index; ContractAEAD is its AES-256-GCM,
	// made once: making it per event was a third of the sealing
	// allocations.
	ContractKey  []byte
	ContractAEAD cipher.AEAD

	refKey []byte // HMAC key for contract, subject and event references
	// refMACs holds keyed HMACs for Ref to reset and reuse: a new one per
	// reference (five per event) was 7% of ingest allocations.
	refMACs sync.Pool
	// tenantKey is the HMAC key of the salts of the leaves' tenant
	// commitments (TenantSalt); tenantMACs pools its HMACs like refMACs.
	tenantKey  []byte
	tenantMACs sync.Pool
}

// NewTenantKeys derives the keys of tenant id from its unwrapped KEK.
func NewTenantKeys(id string, kek []byte) (*TenantKeys, error) {
	k := &TenantKeys{
		TenantID:    id,
		refKey:      Derive(kek, "ref", 32),
		ContractKey: Derive(kek, "contract-seal", 32),
		tenantKey:   Derive(kek, "tenant-commitment", 32),
	}
	var err error
	if k.KEKAEAD, err = NewAEAD(AlgAES256GCM, kek); err != nil {
		return nil, err
	}
	if k.ContractAEAD, err = NewAEAD(AlgAES256GCM, k.ContractKey); err != nil {
		return nil, err
	}
	return k, nil
}

// Ref returns a pseudonymous reference to value in the given domain:
// 32 hex digits of HMAC-SHA256(refKey, domain || 0 || value). Without the
// tenant key nobody can tell which contract or account it stands for.
func (t *TenantKeys) Ref(domain, value string) string {
	m, ok := t.refMACs.Get().(hash.Hash)
	if ok {
		m.Reset()
	} else {
		m = hmac.New(sha256.New, t.refKey)
	}
	msg := make([]byte, 0, len(domain)+1+len(value))
	msg = append(append(append(msg, domain...), 0), value...)
	m.Write(msg)
	var sum [sha256.Size]byte
	m.Sum(sum[:0])
	t.refMACs.Put(m)
	var out [32]byte
	hex.Encode(out[:], sum[:16])
	return string(out[:])
}

// TenantSalt is the salt of the tenant commitment in the leaf whose
// reference is ref: HMAC-SHA256(tenantKey, "cunzheng/evidence/tenant-salt"
// || 0 || ref). A leaf's ref is unique and an HMAC under the tenant's own
// key, so each leaf commits to the tenant id under a salt of its own that
// only the tenant can recompute: strangers cannot link two leaves of one
// tenant, and the tenant opens any of its leaves without storing a salt.
func (t *TenantKeys) TenantSalt(ref string) []byte {
	m, ok := t.tenantMACs.Get().(hash.Hash)
	if ok {
		m.Reset()
	} else {
		m = hmac.New(sha256.New, t.tenantKey)
	}
	m.Write([]byte("cunzheng/evidence/tenant-salt\x00"))
	m.Write([]byte(ref))
	out := m.Sum(nil)
	t.tenantMACs.Put(m)
	return out
}

// TenantCommitment is the hex commitment to the tenant id in the leaf
// whose reference is ref (the "tenant" member of its commitments).
func (t *TenantKeys) TenantCommitment(ref string) string {
	cm := Commitment(t.TenantSalt(ref), t.TenantID)
	return hex.EncodeToString(cm[:])
}

// SubjectKey is a data subject's unwrapped data key. One 32-byte key per
// subject; the AES-256 and SM4 keys are derived from it with HKDF, so that
// destroying the one wrapped key destroys both.
type SubjectKey struct {
	Subject string // the subject's reference (TenantKeys.Ref "subject")
	ID      string // key id, to tell a destroyed key from a later one
	dek     []byte
	AES     []byte // AES-256 key of the subject's fields, derived from the data key
	SM4     []byte // SM4 key of ID, card and account numbers, derived likewise
}

// NewSubjectKey derives the subject's cipher keys from its data key dek.
func NewSubjectKey(subject, id string, dek []byte) SubjectKey {
	return SubjectKey{
		Subject: subject, ID: id, dek: dek,
		AES: Derive(dek, "subject-aes", 32), SM4: Derive(dek, "subject-sm4", 16),
	}
}

// Destroy zeroes the key material held in memory.
func (k *SubjectKey) Destroy() {
	clear(k.dek)
	clear(k.AES)
	clear(k.SM4)
}
