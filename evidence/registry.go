package evidence

import (
	"context"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"log/slog"
	"sync"
	"time"
)

// tenantState is a tenant with its unwrapped keys, as the server holds it.
type tenantState struct {
	Tenant
	kek         []byte // tenant key-encryption key: wraps subject and document keys
	refKey      []byte // HMAC key for contract, subject and event references
	contractKey []byte // AES-256-GCM key for the sealed contract part
	// kekAEAD and contractAEAD are kek's and contractKey's ciphers, made
	// once: making them per event was a third of the sealing allocations.
	kekAEAD, contractAEAD cipher.AEAD
	// refMACs holds keyed HMACs for ref to reset and reuse: a new one per
	// reference (five per event) was 7% of ingest allocations.
	refMACs sync.Pool
	// tenantKey is the HMAC key of the salts of the leaves' tenant
	// commitments (tenantSalt); tenantMACs pools its HMACs like refMACs.
	tenantKey  []byte
	tenantMACs sync.Pool
}

func newTenantState(tf tenantFile, master MasterKey) (*tenantState, error) {
	if tf.Master != master.ID() {
		return nil, fmt.Errorf("evidence: tenant %s is wrapped by master key %s, not %s", tf.ID, tf.Master, master.ID())
	}
	kek, err := open(algAES256GCM, master.key, tf.KEK, kekAD(tf.ID))
	if err != nil {
		return nil, fmt.Errorf("evidence: unwrapping tenant %s: %w", tf.ID, err)
	}
	ts := &tenantState{
		Tenant:      Tenant{ID: tf.ID, Name: tf.Name, Created: tf.Created},
		kek:         kek,
		refKey:      derive(kek, "ref", 32),
		contractKey: derive(kek, "contract-seal", 32),
		tenantKey:   derive(kek, "tenant-commitment", 32),
	}
	if ts.kekAEAD, err = newAEAD(algAES256GCM, kek); err != nil {
		return nil, err
	}
	if ts.contractAEAD, err = newAEAD(algAES256GCM, ts.contractKey); err != nil {
		return nil, err
	}
	return ts, nil
}

// ref returns a pseudonymous reference to value in the given domain:
// 32 hex digits of HMAC-SHA256(refKey, domain || 0 || value). Without the
// tenant key nobody can tell which contract or account it stands for.
func (t *tenantState) ref(domain, value string) string {
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

// tenantSalt is the salt of the tenant commitment in the leaf whose
// reference is ref: HMAC-SHA256(tenantKey, "cunzheng/evidence/tenant-salt"
// || 0 || ref). A leaf's ref is unique and an HMAC under the tenant's own
// key, so each leaf commits to the tenant id under a salt of its own that
// only the tenant can recompute: strangers cannot link two leaves of one
// tenant, and the tenant opens any of its leaves without storing a salt.
func (t *tenantState) tenantSalt(ref string) []byte {
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

// tenantCommitment is the hex commitment to the tenant id in the leaf
// whose reference is ref (the "tenant" member of its commitments).
func (t *tenantState) tenantCommitment(ref string) string {
	cm := Commitment(t.tenantSalt(ref), t.ID)
	return hex.EncodeToString(cm[:])
}

// registry holds the tenants and API keys read from the tenant files (or,
// in cluster mode, the shared store).
type registry struct {
	tenants  Tenants
	master   MasterKey
	logger   *slog.Logger
	interval time.Duration
	now      func() time.Time

	loadMu sync.Mutex // serialises reloads

	mu       sync.RWMutex // guards the fields below
	byKey    map[[32]byte]Principal
	byID     map[string]*tenantState
	lastLoad time.Time
}

// reload re-reads the tenant files. Tenants whose key cannot be unwrapped
// (a master key rotated under a running server) keep their previous state.
func (r *registry) reload() error {
	r.loadMu.Lock()
	defer r.loadMu.Unlock()
	files, err := r.tenants.b.read(context.Background(), func(name string, err error) {
		r.logger.Error("evidence: tenant file skipped", "file", name, "err", err)
	})
	if err != nil {
		return err
	}
	r.mu.RLock()
	old := r.byID
	r.mu.RUnlock()
	byKey := map[[32]byte]Principal{}
	byID := map[string]*tenantState{}
	for _, tf := range files {
		ts, ok := old[tf.ID]
		if !ok {
			ts, err = newTenantState(tf, r.master)
			if err != nil {
				r.logger.Error("evidence: tenant not loaded", "tenant", tf.ID, "err", err)
				continue
			}
		}
		byID[tf.ID] = ts
		for _, k := range tf.Keys {
			var h [32]byte
			if b, err := hex.DecodeString(k.Hash); err != nil || len(b) != 32 {
				r.logger.Error("evidence: bad key hash in tenant file", "tenant", tf.ID)
				continue
			} else {
				copy(h[:], b)
			}
			byKey[h] = Principal{Tenant: ts.Tenant, Roles: k.Roles}
		}
	}
	r.mu.Lock()
	r.byKey, r.byID, r.lastLoad = byKey, byID, r.now()
	r.mu.Unlock()
	return nil
}

// authenticate returns the principal for an API key, re-reading the tenant
// files when the key is unknown and the last read is older than interval
// (so that `cunzheng tenant create` takes effect without a restart, and an
// attacker guessing keys cannot make the server read the disk more often).
func (r *registry) authenticate(key string) (Principal, error) {
	if key == "" {
		return Principal{}, ErrUnauthorized
	}
	h := hashAPIKey(key)
	r.mu.RLock()
	p, ok := r.byKey[h]
	stale := r.interval < 0 || r.now().Sub(r.lastLoad) >= r.interval
	r.mu.RUnlock()
	if ok {
		return p, nil
	}
	if !stale {
		return Principal{}, ErrUnauthorized
	}
	if err := r.reload(); err != nil {
		return Principal{}, err
	}
	r.mu.RLock()
	p, ok = r.byKey[h]
	r.mu.RUnlock()
	if !ok {
		return Principal{}, ErrUnauthorized
	}
	return p, nil
}

func (r *registry) tenant(id string) (*tenantState, error) {
	r.mu.RLock()
	ts, ok := r.byID[id]
	r.mu.RUnlock()
	if ok {
		return ts, nil
	}
	if err := r.reload(); err != nil {
		return nil, err
	}
	r.mu.RLock()
	ts, ok = r.byID[id]
	r.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("%w: tenant %s", ErrTenantNotFound, id)
	}
	return ts, nil
}

// TenantName returns the name of the tenant with id, which reports print
// as the requester; ErrTenantNotFound if there is none.
func (s *Service) TenantName(id string) (string, error) {
	ts, err := s.reg.tenant(id)
	if err != nil {
		return "", err
	}
	return ts.Name, nil
}
