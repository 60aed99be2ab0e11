package notary

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	fnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"
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
	vkey, err := plainVerifierKey(skey)
	if err != nil {
		return "", err
	}
	v, err := fnote.VKeyToCosignatureV1(vkey)
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

// plainVerifierKey derives the Ed25519 (type 0x01) verifier key from a
// private key in the signed-note format "PRIVATE+KEY+name+hash+base64(0x01||seed)".
func plainVerifierKey(skey string) (string, error) {
	if _, err := note.NewSigner(skey); err != nil {
		return "", fmt.Errorf("notary: %w", err)
	}
	parts := strings.SplitN(skey, "+", 5)
	key, err := base64.StdEncoding.DecodeString(parts[4])
	if err != nil || len(key) != 1+ed25519.SeedSize {
		return "", errors.New("notary: malformed private key")
	}
	pub := ed25519.NewKeyFromSeed(key[1:]).Public().(ed25519.PublicKey)
	vkey, err := note.NewEd25519VerifierKey(parts[2], pub)
	if err != nil {
		return "", fmt.Errorf("notary: %w", err)
	}
	return vkey, nil
}
