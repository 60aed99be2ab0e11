package evidence

import (
	"context"
	"encoding/hex"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/cunzheng/cunzheng/evidence/event"
)

// tenantState is a tenant with its unwrapped keys, as the server holds it.
type tenantState struct {
	Tenant
	*event.TenantKeys
}

func newTenantState(tf tenantFile, master MasterKey) (*tenantState, error) {
	if tf.Master != master.ID() {
		return nil, fmt.Errorf("evidence: tenant %s is wrapped by master key %s, not %s", tf.ID, tf.Master, master.ID())
	}
	kek, err := event.Open(event.AlgAES256GCM, master.key, tf.KEK, kekAD(tf.ID))
	if err != nil {
		return nil, fmt.Errorf("evidence: unwrapping tenant %s: %w", tf.ID, err)
	}
	keys, err := event.NewTenantKeys(tf.ID, kek)
	if err != nil {
		return nil, err
	}
	return &tenantState{Tenant: Tenant{ID: tf.ID, Name: tf.Name, Created: tf.Created}, TenantKeys: keys}, nil
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
