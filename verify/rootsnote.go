package verify

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"

	"github.com/emmansun/gmsm/smx509"
	"golang.org/x/mod/sumdb/note"

	"github.com/cunzheng/cunzheng/ledger/tlogfmt"
)

// TrustBundle is the trust material a verifier outside the server (the
// browser's local check on /verify) needs to reach the server's verdicts:
// the PDF trust anchors the server is configured with, the log's origin
// and verifier keys for ledger records, and the notaries' keys and TSA
// roots for evidence bundles. The server publishes it as a C2SP signed
// note signed with the log's Ed25519 key (SignTrustBundle), so that it
// checks against the key published on /keys and by the notaries.
type TrustBundle struct {
	// Origin is the log's checkpoint origin.
	Origin string
	// LogKeys are the log's verifier keys (tlogfmt.NewVerifier).
	LogKeys []string
	// NotaryKeys are the notaries' cosignature verifier keys
	// (tlogfmt.NewCosignatureVerifier).
	NotaryKeys []string
	// Roots are the PDF trust anchors (DER), as in Options.Roots. The
	// operating system's roots the server may also trust are not included.
	Roots [][]byte
	// TSARoots are the DER roots RFC 3161 tokens of the log chain to.
	TSARoots [][]byte
}

// trustBundleHeader is the note body's first line; it names the format
// so that no other note signed with the log key (a checkpoint) can be
// taken for a trust bundle.
const trustBundleHeader = "cunzheng verify trust bundle v1"

// SignTrustBundle encodes b as a note body, one item a line, and signs it.
func SignTrustBundle(b TrustBundle, signer note.Signer) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteString(trustBundleHeader + "\n")
	line := func(key, val string) error {
		if val == "" || strings.ContainsAny(val, "\n\r ") {
			return fmt.Errorf("verify: trust bundle %s %q is empty or holds a space or newline", key, val)
		}
		fmt.Fprintf(&buf, "%s %s\n", key, val)
		return nil
	}
	if err := line("origin", b.Origin); err != nil {
		return nil, err
	}
	for _, k := range b.LogKeys {
		if err := line("log-key", k); err != nil {
			return nil, err
		}
	}
	for _, k := range b.NotaryKeys {
		if err := line("notary-key", k); err != nil {
			return nil, err
		}
	}
	for _, der := range b.Roots {
		line("root", base64.StdEncoding.EncodeToString(der)) // never empty or spaced
	}
	for _, der := range b.TSARoots {
		line("tsa-root", base64.StdEncoding.EncodeToString(der))
	}
	msg, err := note.Sign(&note.Note{Text: buf.String()}, signer)
	if err != nil {
		return nil, fmt.Errorf("verify: signing the trust bundle: %w", err)
	}
	return msg, nil
}

// OpenTrustBundle checks msg's signature by key (a verifier key as /keys
// prints it) and decodes the bundle. Every root and key must parse: a
// bundle this code cannot read in full is refused, not half used.
func OpenTrustBundle(msg []byte, key string) (*TrustBundle, error) {
	v, err := tlogfmt.NewVerifier(key)
	if err != nil {
		return nil, fmt.Errorf("verify: trust bundle key: %w", err)
	}
	n, err := note.Open(msg, note.VerifierList(v))
	if err != nil {
		return nil, fmt.Errorf("verify: trust bundle signature: %w", err)
	}
	lines := strings.Split(strings.TrimSuffix(n.Text, "\n"), "\n")
	if len(lines) == 0 || lines[0] != trustBundleHeader {
		return nil, errors.New("verify: not a trust bundle")
	}
	b := &TrustBundle{}
	for i, l := range lines[1:] {
		key, val, ok := strings.Cut(l, " ")
		if !ok || val == "" {
			return nil, fmt.Errorf("verify: trust bundle line %d: want KEY VALUE", i+2)
		}
		switch key {
		case "origin":
			b.Origin = val
		case "log-key":
			if _, err := tlogfmt.NewVerifier(val); err != nil {
				return nil, fmt.Errorf("verify: trust bundle line %d: %w", i+2, err)
			}
			b.LogKeys = append(b.LogKeys, val)
		case "notary-key":
			if _, err := tlogfmt.NewCosignatureVerifier(val); err != nil {
				return nil, fmt.Errorf("verify: trust bundle line %d: %w", i+2, err)
			}
			b.NotaryKeys = append(b.NotaryKeys, val)
		case "root", "tsa-root":
			der, err := base64.StdEncoding.DecodeString(val)
			if err == nil {
				_, err = smx509.ParseCertificate(der)
			}
			if err != nil {
				return nil, fmt.Errorf("verify: trust bundle line %d: %w", i+2, err)
			}
			if key == "root" {
				b.Roots = append(b.Roots, der)
			} else {
				b.TSARoots = append(b.TSARoots, der)
			}
		default:
			return nil, fmt.Errorf("verify: trust bundle line %d: unknown item %q", i+2, key)
		}
	}
	if b.Origin == "" || len(b.LogKeys) == 0 {
		return nil, errors.New("verify: trust bundle without origin or log key")
	}
	return b, nil
}

// Options returns the verification options the bundle stands for: its
// roots, and the log's keys and origin to check ledger records with.
func (b *TrustBundle) Options() (Options, error) {
	pool := smx509.NewCertPool()
	for _, der := range b.Roots {
		c, err := smx509.ParseCertificate(der)
		if err != nil {
			return Options{}, fmt.Errorf("verify: trust bundle root: %w", err)
		}
		pool.AddCert(c)
	}
	var vs []note.Verifier
	for _, k := range b.LogKeys {
		v, err := tlogfmt.NewVerifier(k)
		if err != nil {
			return Options{}, fmt.Errorf("verify: trust bundle log key: %w", err)
		}
		vs = append(vs, v)
	}
	return Options{Roots: pool, LedgerVerifiers: note.VerifierList(vs...), LedgerOrigin: b.Origin}, nil
}

// BundleOptions returns the keys to check an evidence bundle against:
// the log's and the notaries' keys and the TSA roots, all pinned.
func (b *TrustBundle) BundleOptions() (BundleOptions, error) {
	var o BundleOptions
	for _, k := range b.LogKeys {
		v, err := tlogfmt.NewVerifier(k)
		if err != nil {
			return o, fmt.Errorf("verify: trust bundle log key: %w", err)
		}
		o.LogKeys = append(o.LogKeys, v)
	}
	for _, k := range b.NotaryKeys {
		v, err := tlogfmt.NewCosignatureVerifier(k)
		if err != nil {
			return o, fmt.Errorf("verify: trust bundle notary key: %w", err)
		}
		o.NotaryKeys = append(o.NotaryKeys, v)
	}
	if len(b.TSARoots) > 0 {
		o.TSARoots = x509.NewCertPool()
		for _, der := range b.TSARoots {
			c, err := x509.ParseCertificate(der)
			if err != nil {
				return o, fmt.Errorf("verify: trust bundle TSA root: %w", err)
			}
			o.TSARoots.AddCert(c)
		}
	}
	return o, nil
}

// RootCertificates returns the DER certificates of the PEM files (*.pem,
// *.crt, *.cer) in dir, the ones LoadRoots(dir, …) trusts, for a
// TrustBundle. An empty dir has none.
func RootCertificates(dir string) ([][]byte, error) {
	var out [][]byte
	err := eachRootFile(dir, func(_ string, b []byte) error {
		for {
			var blk *pem.Block
			blk, b = pem.Decode(b)
			if blk == nil {
				return nil
			}
			if blk.Type == "CERTIFICATE" {
				out = append(out, blk.Bytes)
			}
		}
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
