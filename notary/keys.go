package notary

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	fnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"

	"github.com/cunzheng/cunzheng/ledger/tlogfmt"
)

// DefaultName is the key name of an office whose key file does not exist yet
// and whose caller gave no name.
const DefaultName = "notary.cunzheng.example"

// LoadOrCreateKey returns the office's private signer key (a note "PRIVATE+KEY"
// string) stored at path, generating an Ed25519 key named name on first use
// and writing it with mode 0600. An existing file is reused as is, whatever
// name is passed, so an office keeps its identity across restarts.
func LoadOrCreateKey(path, name string) (skey string, err error) {
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		skey = strings.TrimSpace(string(b))
		if _, err := fnote.NewSignerForCosignatureV1(skey); err != nil {
			return "", fmt.Errorf("notary: key file %s: %w", path, err)
		}
		return skey, nil
	case !errors.Is(err, fs.ErrNotExist):
		return "", fmt.Errorf("notary: reading key file: %w", err)
	}
	if name == "" {
		name = DefaultName
	}
	skey, _, err = note.GenerateKey(rand.Reader, name)
	if err != nil {
		return "", fmt.Errorf("notary: generating key: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", fmt.Errorf("notary: key directory: %w", err)
	}
	if err := writeFileExcl(path, []byte(skey+"\n")); err != nil {
		return "", err
	}
	return skey, nil
}

// VerifierKey returns the cosignature/v1 verifier key (type 0x04, as C2SP
// tlog-cosignature and tlog-policy want it) for a private signer key.
func VerifierKey(skey string) (string, error) {
	vkey, err := tlogfmt.Ed25519VerifierKey(skey)
	if err != nil {
		return "", fmt.Errorf("notary: %w", err)
	}
	v, err := tlogfmt.CosignatureVerifierKey(vkey)
	if err != nil {
		return "", fmt.Errorf("notary: %w", err)
	}
	return v, nil
}

// writeFileExcl writes a new file with mode 0600, refusing to replace one.
func writeFileExcl(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("notary: creating %s: %w", path, err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("notary: writing %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("notary: syncing %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("notary: closing %s: %w", path, err)
	}
	return nil
}

// ParseLogKey parses a log's key as an office is given it (cunzheng notary
// --log): a verifier key of the log, of any kind `cunzheng keys` prints,
// whose key name is then the log's origin, as C2SP tlog-checkpoint
// recommends, or ORIGIN=VKEY when they differ.
func ParseLogKey(s string) (LogKey, error) {
	origin, vkey := "", s
	if i := strings.IndexByte(s, '='); i >= 0 && !strings.Contains(s[:i], "+") {
		origin, vkey = s[:i], s[i+1:]
	}
	v, err := tlogfmt.NewVerifier(vkey)
	if err != nil {
		return LogKey{}, err
	}
	if origin == "" {
		origin = v.Name()
	}
	return LogKey{Origin: origin, Verifier: v, VKey: vkey}, nil
}

// OpenBuiltin opens the office built into a log's server (cunzheng serve
// without --notary): its store in cfg.Dir, its key at keyFile (made on
// first use, named "notary.builtin." and the log's origin made a valid key
// name), trusting the log's key logVKey, a line of cunzheng keys. cfg.Key
// and cfg.Logs are set here.
func OpenBuiltin(ctx context.Context, cfg Config, keyFile, origin, logVKey string) (*Office, error) {
	lk, err := ParseLogKey(logVKey)
	if err != nil {
		return nil, fmt.Errorf("notary: the log's key: %w", err)
	}
	name := "notary.builtin." + strings.Map(func(r rune) rune {
		if r == '+' || r == ' ' || r < 0x21 {
			return '-'
		}
		return r
	}, origin)
	if cfg.Key, err = LoadOrCreateKey(keyFile, name); err != nil {
		return nil, err
	}
	cfg.Logs = []LogKey{lk}
	return Open(ctx, cfg)
}
