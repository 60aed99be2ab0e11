package evidence

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/cunzheng/cunzheng/evidence/event"
)

// MasterKeyEnv is the environment variable that, when set, holds the master
// key as 64 hex digits. It wins over the key file.
const MasterKeyEnv = "CUNZHENG_MASTER_KEY"

// MasterKeyFile is the name of the master key file under DIR/keys.
const MasterKeyFile = "evidence-master.key"

// MasterKey is the top of the key hierarchy (the seed's KMC root key). It
// only ever wraps tenant key-encryption keys, it lives in a file or the
// environment, and it never enters Pebble.
type MasterKey struct {
	key []byte
	id  string
}

// NewMasterKey returns a master key from 32 raw bytes.
func NewMasterKey(raw []byte) (MasterKey, error) {
	if len(raw) != event.KeySize {
		return MasterKey{}, fmt.Errorf("evidence: master key is %d bytes, want %d", len(raw), event.KeySize)
	}
	k := append([]byte(nil), raw...)
	return MasterKey{key: k, id: event.KeyID(k)}, nil
}

// GenerateMasterKey returns a fresh random master key.
func GenerateMasterKey() (MasterKey, error) {
	k, err := event.NewKey()
	if err != nil {
		return MasterKey{}, err
	}
	return NewMasterKey(k)
}

// ParseMasterKey parses 64 hex digits (surrounding white space ignored).
func ParseMasterKey(s string) (MasterKey, error) {
	raw, err := hex.DecodeString(strings.TrimSpace(s))
	if err != nil {
		return MasterKey{}, fmt.Errorf("evidence: master key is not hex: %w", err)
	}
	return NewMasterKey(raw)
}

// ID names the key without revealing it (recorded beside every wrapped
// tenant key).
func (m MasterKey) ID() string { return m.id }

// Hex returns the key as 64 hex digits, the form of the key file and of
// MasterKeyEnv.
func (m MasterKey) Hex() string { return hex.EncodeToString(m.key) }

func (m MasterKey) valid() bool { return len(m.key) == event.KeySize }

// LoadMasterKey returns the master key from MasterKeyEnv (looked up with
// getenv; nil means os.Getenv) or else from keysDir/MasterKeyFile, creating
// that file (mode 0600, directory 0700) with a fresh key on first use. The
// file is created by linking a complete temporary file into place, so that a
// CLI and a server starting at once agree on one key.
func LoadMasterKey(keysDir string, getenv func(string) string) (MasterKey, error) {
	k, err := ReadMasterKey(keysDir, getenv)
	if !errors.Is(err, fs.ErrNotExist) {
		return k, err
	}
	path := filepath.Join(keysDir, MasterKeyFile)
	if err := os.MkdirAll(keysDir, 0o700); err != nil {
		return MasterKey{}, fmt.Errorf("evidence: creating key directory: %w", err)
	}
	k, err = GenerateMasterKey()
	if err != nil {
		return MasterKey{}, err
	}
	if err := writeFileExclusive(path, []byte(k.Hex()+"\n"), 0o600); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return LoadMasterKey(keysDir, func(string) string { return "" })
		}
		return MasterKey{}, fmt.Errorf("evidence: writing master key: %w", err)
	}
	return k, nil
}

// ReadMasterKey is LoadMasterKey without the creation: where neither
// MasterKeyEnv nor the file holds a key it fails with an error wrapping
// fs.ErrNotExist. Cluster mode reads the key this way, every process and
// command having to use the one key the cluster's tenant keys are wrapped
// under.
func ReadMasterKey(keysDir string, getenv func(string) string) (MasterKey, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	if v := getenv(MasterKeyEnv); v != "" {
		k, err := ParseMasterKey(v)
		if err != nil {
			return MasterKey{}, fmt.Errorf("evidence: %s: %w", MasterKeyEnv, err)
		}
		return k, nil
	}
	path := filepath.Join(keysDir, MasterKeyFile)
	b, err := os.ReadFile(path)
	if err != nil {
		return MasterKey{}, fmt.Errorf("evidence: reading the master key: %w", err)
	}
	k, err := ParseMasterKey(string(b))
	if err != nil {
		return MasterKey{}, fmt.Errorf("evidence: %s: %w", path, err)
	}
	return k, nil
}

// writeFileExclusive writes data to a temporary file beside path, syncs it
// and links it to path; it fails with fs.ErrExist if path exists. Readers
// never see a partial file.
func writeFileExclusive(path string, data []byte, perm os.FileMode) error {
	tmp, err := writeTemp(path, data, perm)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	if err := os.Link(tmp, path); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}

// writeFileAtomic replaces path with data through a synced temporary file
// and a rename.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	tmp, err := writeTemp(path, data, perm)
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return syncDir(filepath.Dir(path))
}

func writeTemp(path string, data []byte, perm os.FileMode) (string, error) {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return "", err
	}
	name := f.Name()
	err = f.Chmod(perm)
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(name)
		return "", err
	}
	return name, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
