package evidence

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/cunzheng/cunzheng/evidence/event"
)

// Role is what an API key may do.
type Role string

// The roles of the issue: the signing platform ingests, customers' legal
// teams read contracts and download reports.
const (
	RoleIngest Role = "ingest"
	RoleLegal  Role = "legal"
)

// AllRoles is what a key gets when no role is named.
var AllRoles = []Role{RoleIngest, RoleLegal}

// ParseRole parses "ingest" or "legal".
func ParseRole(s string) (Role, error) {
	switch r := Role(s); r {
	case RoleIngest, RoleLegal:
		return r, nil
	}
	return "", fmt.Errorf("%w: unknown role %q (want ingest or legal)", ErrInvalidTenant, s)
}

// Tenant is one customer of the signing platform. ID is pseudonymous: a
// random name that is the only trace of the tenant in public bytes.
type Tenant struct {
	ID      string
	Name    string
	Created time.Time
}

// Principal is an authenticated API key: whose it is and what it may do.
type Principal struct {
	Tenant Tenant
	Roles  []Role
}

// Has reports whether the principal holds role.
func (p Principal) Has(role Role) bool { return slices.Contains(p.Roles, role) }

// TenantsDir is where tenant files live under the evidence directory.
//
// Why files and not Pebble: Pebble takes an exclusive lock on its directory,
// and `cunzheng tenant create` must work while `serve` holds it. A tenant is
// a small JSON file written to a temporary name and renamed into place (so a
// reader never sees half a file), mutations are serialised by flock(2) on
// TenantsDir/.lock, and the server re-reads the directory when it meets an
// unknown API key (at most every ReloadInterval). The rejected alternative, a
// local admin socket, would need the server running for the CLI to work and
// a second code path when it is not.
const TenantsDir = "tenants"

// tenantFile is the on-disk form of a tenant. API keys are stored only as
// SHA-256 hashes: a key is 32 random bytes, so a fast hash is not
// brute-forceable. The tenant key-encryption key is stored wrapped by the
// master key, with the master key's ID so that rotation knows what to do.
type tenantFile struct {
	Version int          `json:"v"`
	ID      string       `json:"id"`
	Name    string       `json:"name"`
	Created time.Time    `json:"created"`
	Master  string       `json:"master_key_id"`
	KEK     []byte       `json:"wrapped_kek"`
	Keys    []apiKeyFile `json:"keys"`
}

type apiKeyFile struct {
	Hash    string    `json:"sha256"`
	Roles   []Role    `json:"roles"`
	Created time.Time `json:"created"`
}

// apiKeyPrefix starts every API key so that leaked keys are recognisable by
// secret scanners.
const apiKeyPrefix = "czk_"

func newAPIKey() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("evidence: generating API key: %w", err)
	}
	return apiKeyPrefix + base64.RawURLEncoding.EncodeToString(b), nil
}

func hashAPIKey(key string) [32]byte { return sha256.Sum256([]byte(key)) }

func kekAD(tenantID string) []byte { return []byte("cunzheng tenant kek v1\x00" + tenantID) }

func tenantsPath(evidenceDir string) string { return filepath.Join(evidenceDir, TenantsDir) }

// withTenantLock runs f holding an exclusive flock on the tenants directory.
func withTenantLock(evidenceDir string, f func(dir string) error) error {
	dir := tenantsPath(evidenceDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("evidence: creating tenants directory: %w", err)
	}
	lf, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return fmt.Errorf("evidence: opening tenant lock: %w", err)
	}
	defer lf.Close()
	if err := syscall.Flock(int(lf.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("evidence: locking tenants: %w", err)
	}
	defer syscall.Flock(int(lf.Fd()), syscall.LOCK_UN)
	return f(dir)
}

// readTenantFiles reads every tenant file in dir. A file that does not
// parse is an error: the CLI must not rewrite around a damaged tenant. The
// server reads with readTenantFilesLenient instead.
func readTenantFiles(dir string) ([]tenantFile, error) {
	return readTenantFilesLenient(dir, nil)
}

// readTenantFilesLenient is readTenantFiles, except that when skip is not
// nil a damaged file is reported to skip and left out, so that one bad file
// does not lock every tenant out of a running server.
func readTenantFilesLenient(dir string, skip func(name string, err error)) ([]tenantFile, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("evidence: reading tenants: %w", err)
	}
	var out []tenantFile
	for _, e := range ents {
		n := e.Name()
		if e.IsDir() || strings.HasPrefix(n, ".") || !strings.HasSuffix(n, ".json") {
			continue
		}
		tf, err := readTenantFile(filepath.Join(dir, n), n)
		if err != nil {
			if skip != nil {
				skip(n, err)
				continue
			}
			return nil, err
		}
		out = append(out, tf)
	}
	return out, nil
}

func readTenantFile(path, name string) (tenantFile, error) {
	var tf tenantFile
	b, err := os.ReadFile(path)
	if err != nil {
		return tf, fmt.Errorf("evidence: reading tenant %s: %w", name, err)
	}
	if err := json.Unmarshal(b, &tf); err != nil {
		return tf, fmt.Errorf("evidence: parsing tenant %s: %w", name, err)
	}
	if tf.Version != 1 || tf.ID+".json" != name {
		return tf, fmt.Errorf("evidence: tenant file %s is not a version 1 tenant", name)
	}
	return tf, nil
}

func writeTenantFile(dir string, tf tenantFile) error {
	b, err := json.MarshalIndent(tf, "", "  ")
	if err != nil {
		return fmt.Errorf("evidence: encoding tenant: %w", err)
	}
	if err := writeFileAtomic(filepath.Join(dir, tf.ID+".json"), append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("evidence: writing tenant %s: %w", tf.ID, err)
	}
	return nil
}

func checkTenantName(name string) error {
	if name == "" || len(name) > 200 || !utf8.ValidString(name) || strings.ContainsAny(name, "\x00\n\r") {
		return fmt.Errorf("%w: a tenant name is 1 to 200 bytes of UTF-8 on one line", ErrInvalidTenant)
	}
	return nil
}

func checkRoles(roles []Role) ([]Role, error) {
	if len(roles) == 0 {
		return slices.Clone(AllRoles), nil
	}
	out := make([]Role, 0, len(roles))
	for _, r := range roles {
		if _, err := ParseRole(string(r)); err != nil {
			return nil, err
		}
		if !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	return out, nil
}

// CreateTenant creates a tenant named name under evidenceDir (the
// DIR/evidence of `serve --data DIR`) with a fresh key-encryption key
// wrapped by master and one API key with roles (all roles when empty). It
// returns the tenant and the API key, which is shown once and stored only
// as a hash. Names are unique: ErrTenantExists otherwise. It works whether
// or not a server has the directory open.
func CreateTenant(evidenceDir string, master MasterKey, name string, roles []Role, now time.Time) (Tenant, string, error) {
	return TenantFiles(evidenceDir).Create(context.Background(), master, name, roles, now)
}

// Create creates a tenant named name with a fresh key-encryption key
// wrapped by master and one API key with roles (all roles when empty). It
// returns the tenant and the API key, which is shown once and stored only
// as a hash. Names are unique: ErrTenantExists otherwise.
func (ts Tenants) Create(ctx context.Context, master MasterKey, name string, roles []Role, now time.Time) (Tenant, string, error) {
	if !master.valid() {
		return Tenant{}, "", errors.New("evidence: no master key")
	}
	if err := checkTenantName(name); err != nil {
		return Tenant{}, "", err
	}
	roles, err := checkRoles(roles)
	if err != nil {
		return Tenant{}, "", err
	}
	var (
		t   Tenant
		key string
	)
	err = ts.b.modify(ctx, func(all []tenantFile) ([]tenantFile, error) {
		for _, tf := range all {
			if tf.Name == name {
				return nil, fmt.Errorf("%w: %q", ErrTenantExists, name)
			}
		}
		tf, err := newTenantFile(master, name, now)
		if err != nil {
			return nil, err
		}
		key, err = newAPIKey()
		if err != nil {
			return nil, err
		}
		h := hashAPIKey(key)
		tf.Keys = []apiKeyFile{{Hash: hex.EncodeToString(h[:]), Roles: roles, Created: now.UTC()}}
		t = Tenant{ID: tf.ID, Name: name, Created: tf.Created}
		return []tenantFile{tf}, nil
	})
	if err != nil {
		return Tenant{}, "", err
	}
	return t, key, nil
}

// newTenantFile returns a tenant with a fresh ID and key-encryption key
// wrapped by master, and no API keys.
func newTenantFile(master MasterKey, name string, now time.Time) (tenantFile, error) {
	idb := make([]byte, 10)
	if _, err := rand.Read(idb); err != nil {
		return tenantFile{}, fmt.Errorf("evidence: tenant id: %w", err)
	}
	id := "t" + hex.EncodeToString(idb)
	kek, err := event.NewKey()
	if err != nil {
		return tenantFile{}, err
	}
	wrapped, err := event.Seal(event.AlgAES256GCM, master.key, kek, kekAD(id))
	if err != nil {
		return tenantFile{}, err
	}
	return tenantFile{Version: 1, ID: id, Name: name, Created: now.UTC(), Master: master.ID(), KEK: wrapped}, nil
}

// AddTenantKey adds an API key with roles (all when empty) to the tenant
// with the given name or ID under evidenceDir and returns it.
// ErrTenantNotFound if none.
func AddTenantKey(evidenceDir, nameOrID string, roles []Role, now time.Time) (Tenant, string, error) {
	return TenantFiles(evidenceDir).AddKey(context.Background(), nameOrID, roles, now)
}

// AddKey adds an API key with roles (all when empty) to the tenant with the
// given name or ID and returns it. ErrTenantNotFound if none.
func (ts Tenants) AddKey(ctx context.Context, nameOrID string, roles []Role, now time.Time) (Tenant, string, error) {
	roles, err := checkRoles(roles)
	if err != nil {
		return Tenant{}, "", err
	}
	var (
		t   Tenant
		key string
	)
	err = ts.b.modify(ctx, func(all []tenantFile) ([]tenantFile, error) {
		for _, tf := range all {
			if tf.Name != nameOrID && tf.ID != nameOrID {
				continue
			}
			key, err = newAPIKey()
			if err != nil {
				return nil, err
			}
			h := hashAPIKey(key)
			tf.Keys = append(tf.Keys, apiKeyFile{Hash: hex.EncodeToString(h[:]), Roles: roles, Created: now.UTC()})
			t = Tenant{ID: tf.ID, Name: tf.Name, Created: tf.Created}
			return []tenantFile{tf}, nil
		}
		return nil, fmt.Errorf("%w: %q", ErrTenantNotFound, nameOrID)
	})
	if err != nil {
		return Tenant{}, "", err
	}
	return t, key, nil
}

// ListTenants returns every tenant under evidenceDir.
func ListTenants(evidenceDir string) ([]Tenant, error) {
	return TenantFiles(evidenceDir).List(context.Background())
}

// List returns every tenant.
func (ts Tenants) List(ctx context.Context) ([]Tenant, error) {
	all, err := ts.b.read(ctx, nil)
	if err != nil {
		return nil, err
	}
	out := make([]Tenant, 0, len(all))
	for _, tf := range all {
		out = append(out, Tenant{ID: tf.ID, Name: tf.Name, Created: tf.Created})
	}
	return out, nil
}

// RotateMasterKey rewraps every tenant key-encryption key under evidenceDir
// wrapped by oldKey under newKey and returns how many it rewrapped; see
// Tenants.RotateMasterKey.
func RotateMasterKey(evidenceDir string, oldKey, newKey MasterKey) (int, error) {
	return TenantFiles(evidenceDir).RotateMasterKey(context.Background(), oldKey, newKey)
}

// RotateMasterKey rewraps every tenant key-encryption key wrapped by oldKey
// under newKey and returns how many it rewrapped. Data is not touched:
// subject keys are wrapped by the tenant keys, which do not change. Tenants
// already under newKey are skipped, so an interrupted rotation can simply
// be re-run. A running server keeps the tenant keys it has unwrapped and
// picks up the new wrapping when it restarts with the new master key.
func (ts Tenants) RotateMasterKey(ctx context.Context, oldKey, newKey MasterKey) (int, error) {
	if !oldKey.valid() || !newKey.valid() {
		return 0, errors.New("evidence: rotation needs both master keys")
	}
	n := 0
	err := ts.b.modify(ctx, func(all []tenantFile) ([]tenantFile, error) {
		n = 0
		var out []tenantFile
		for _, tf := range all {
			switch tf.Master {
			case newKey.ID():
				continue
			case oldKey.ID():
			default:
				return nil, fmt.Errorf("evidence: tenant %s is wrapped by master key %s, neither old nor new", tf.ID, tf.Master)
			}
			kek, err := event.Open(event.AlgAES256GCM, oldKey.key, tf.KEK, kekAD(tf.ID))
			if err != nil {
				return nil, fmt.Errorf("evidence: unwrapping tenant %s: %w", tf.ID, err)
			}
			tf.KEK, err = event.Seal(event.AlgAES256GCM, newKey.key, kek, kekAD(tf.ID))
			if err != nil {
				return nil, err
			}
			tf.Master = newKey.ID()
			out = append(out, tf)
			n++
		}
		return out, nil
	})
	return n, err
}

// Tenants is where tenants and their wrapped keys are kept: files under
// the evidence directory (TenantFiles, the embedded mode) or the shared store
// of cluster mode (StoreTenants). Mutations are serialised across processes
// (flock on the directory, an advisory lock in PostgreSQL) and servers pick
// them up without a restart.
type Tenants struct{ b tenantBackend }

// tenantBackend reads and writes tenant records.
type tenantBackend interface {
	// read returns every tenant; with skip set, a damaged record is
	// reported to it and left out instead of failing the read.
	read(ctx context.Context, skip func(name string, err error)) ([]tenantFile, error)
	// modify calls fn with every tenant, holding the tenants' lock, and
	// writes the tenants fn returns (all or none on a store).
	modify(ctx context.Context, fn func(all []tenantFile) ([]tenantFile, error)) error
}

// TenantFiles returns the tenants kept as files in evidenceDir/tenants.
func TenantFiles(evidenceDir string) Tenants { return Tenants{dirTenants(evidenceDir)} }

// StoreTenants returns the tenants kept in st (cluster mode: OpenPostgres).
func StoreTenants(st Store) Tenants { return Tenants{storeTenants{st}} }

type dirTenants string

func (d dirTenants) read(_ context.Context, skip func(string, error)) ([]tenantFile, error) {
	return readTenantFilesLenient(tenantsPath(string(d)), skip)
}

func (d dirTenants) modify(_ context.Context, fn func([]tenantFile) ([]tenantFile, error)) error {
	return withTenantLock(string(d), func(dir string) error {
		all, err := readTenantFiles(dir)
		if err != nil {
			return err
		}
		out, err := fn(all)
		if err != nil {
			return err
		}
		for _, tf := range out {
			if err := writeTenantFile(dir, tf); err != nil {
				return err
			}
		}
		return nil
	})
}

// storeTenants keeps each tenant as r/<tenant id> in a Store, in the form of
// a tenant file.
type storeTenants struct{ st Store }

func (s storeTenants) read(ctx context.Context, skip func(string, error)) ([]tenantFile, error) {
	var out []tenantFile
	err := s.st.scan(ctx, tenantRecords[0], tenantRecords[1], func(k, v []byte) (bool, error) {
		tf, err := decodeTenant(k, v)
		if err != nil {
			if skip == nil {
				return false, err
			}
			skip(string(k), err)
			return true, nil
		}
		out = append(out, tf)
		return true, nil
	})
	if err != nil {
		return nil, fmt.Errorf("evidence: reading tenants: %w", err)
	}
	return out, nil
}

func decodeTenant(k, v []byte) (tenantFile, error) {
	var tf tenantFile
	if err := json.Unmarshal(v, &tf); err != nil {
		return tf, fmt.Errorf("evidence: parsing tenant %s: %w", k, err)
	}
	if tf.Version != 1 || string(tenantRecordKey(tf.ID)) != string(k) {
		return tf, fmt.Errorf("evidence: tenant record %s is not a version 1 tenant", k)
	}
	return tf, nil
}

func (s storeTenants) modify(ctx context.Context, fn func([]tenantFile) ([]tenantFile, error)) error {
	return s.st.update(ctx, func(tx txn) error {
		if err := tx.mutex("tenants"); err != nil {
			return fmt.Errorf("evidence: locking tenants: %w", err)
		}
		var all []tenantFile
		err := tx.scan(tenantRecords[0], tenantRecords[1], func(k, v []byte) (bool, error) {
			tf, err := decodeTenant(k, v)
			if err != nil {
				return false, err
			}
			all = append(all, tf)
			return true, nil
		})
		if err != nil {
			return err
		}
		out, err := fn(all)
		if err != nil {
			return err
		}
		for _, tf := range out {
			if err := setValue(tx.batch(), tenantRecordKey(tf.ID), tf); err != nil {
				return err
			}
		}
		tx.batch().sync = true
		return nil
	})
}
