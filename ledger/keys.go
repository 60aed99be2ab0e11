package ledger

import (
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"
	"golang.org/x/mod/sumdb/note"

	"github.com/cunzheng/cunzheng/ledger/tlogfmt"
)

// Key file names inside the key directory.
const (
	ed25519KeyFile = "log-ed25519.key"
	sm2KeyFile     = "log-sm2.pem"
)

// KeyFiles are the names of the files LoadOrCreateKeys keeps in its key
// directory (what a cluster's processes must each hold a copy of).
func KeyFiles() []string { return []string{ed25519KeyFile, sm2KeyFile} }

// Keys are the log's checkpoint signing keys.
type Keys struct {
	// Ed25519 signs the first signature line (type 0x01).
	Ed25519 note.Signer
	// SM2 signs the second line, for national-standard verifiers.
	SM2 *SM2Signer

	ed25519VKey string
}

// Signers returns the signers in the order their lines appear in a note.
func (k *Keys) Signers() []note.Signer { return []note.Signer{k.Ed25519, k.SM2} }

// VerifierKeys returns the public verifier keys, Ed25519 first.
func (k *Keys) VerifierKeys() []string { return []string{k.ed25519VKey, k.SM2.VerifierKey()} }

// Verifiers returns note verifiers for both keys.
func (k *Keys) Verifiers() (note.Verifiers, error) {
	var vs []note.Verifier
	for _, vk := range k.VerifierKeys() {
		v, err := tlogfmt.NewVerifier(vk)
		if err != nil {
			return nil, err
		}
		vs = append(vs, v)
	}
	return note.VerifierList(vs...), nil
}

// LoadOrCreateKeys reads the log's keys from dir, creating them (files with
// mode 0600 in a 0700 directory) on first use. name is the note key name,
// normally the log's origin; an existing key with another name is an error,
// since changing it would silently orphan every earlier checkpoint. An empty
// name accepts the stored key's name, or creates keys named DefaultOrigin.
func LoadOrCreateKeys(dir, name string) (*Keys, error) {
	if name == "" {
		if stored, err := storedKeyName(dir); err == nil {
			name = stored
		} else {
			name = DefaultOrigin
		}
	}
	if !tlogfmt.ValidKeyName(name) {
		return nil, fmt.Errorf("ledger: invalid key name %q", name)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("ledger: creating key directory: %w", err)
	}
	edPath := filepath.Join(dir, ed25519KeyFile)
	skey, err := os.ReadFile(edPath)
	if errors.Is(err, fs.ErrNotExist) {
		s, _, gerr := note.GenerateKey(rand.Reader, name)
		if gerr != nil {
			return nil, fmt.Errorf("ledger: generating ed25519 key: %w", gerr)
		}
		skey = []byte(s + "\n")
		err = writeKeyFile(edPath, skey)
	}
	if err != nil {
		return nil, fmt.Errorf("ledger: reading %s: %w", edPath, err)
	}
	edSigner, err := note.NewSigner(strings.TrimSpace(string(skey)))
	if err != nil {
		return nil, fmt.Errorf("ledger: parsing %s: %w", edPath, err)
	}
	if edSigner.Name() != name {
		return nil, fmt.Errorf("ledger: key in %s is named %q, not %q", edPath, edSigner.Name(), name)
	}
	edVKey, err := tlogfmt.Ed25519VerifierKey(strings.TrimSpace(string(skey)))
	if err != nil {
		return nil, fmt.Errorf("ledger: %s: %w", edPath, err)
	}

	smPath := filepath.Join(dir, sm2KeyFile)
	pemBytes, err := os.ReadFile(smPath)
	if errors.Is(err, fs.ErrNotExist) {
		priv, gerr := sm2.GenerateKey(rand.Reader)
		if gerr != nil {
			return nil, fmt.Errorf("ledger: generating sm2 key: %w", gerr)
		}
		der, merr := smx509.MarshalPKCS8PrivateKey(priv)
		if merr != nil {
			return nil, fmt.Errorf("ledger: encoding sm2 key: %w", merr)
		}
		pemBytes = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
		err = writeKeyFile(smPath, pemBytes)
	}
	if err != nil {
		return nil, fmt.Errorf("ledger: reading %s: %w", smPath, err)
	}
	block, _ := pem.Decode(pemBytes)
	if block == nil {
		return nil, fmt.Errorf("ledger: %s holds no PEM block", smPath)
	}
	k, err := smx509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("ledger: parsing %s: %w", smPath, err)
	}
	priv, ok := k.(*sm2.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("ledger: %s is not an SM2 key", smPath)
	}
	smSigner, err := NewSM2Signer(name, priv)
	if err != nil {
		return nil, err
	}
	return &Keys{Ed25519: edSigner, SM2: smSigner, ed25519VKey: edVKey}, nil
}

// storedKeyName returns the name of the Ed25519 key stored in dir.
func storedKeyName(dir string) (string, error) {
	skey, err := os.ReadFile(filepath.Join(dir, ed25519KeyFile))
	if err != nil {
		return "", err
	}
	s, err := note.NewSigner(strings.TrimSpace(string(skey)))
	if err != nil {
		return "", err
	}
	return s.Name(), nil
}

// Name returns the key name, which is the log's origin.
func (k *Keys) Name() string { return k.Ed25519.Name() }

func writeKeyFile(path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
