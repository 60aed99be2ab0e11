package tlogfmt

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// ErrMalformed is wrapped by every error about bytes that do not follow
// the format they claim (a checkpoint body, a note, a signature line, a
// proof, a manifest).
var ErrMalformed = errors.New("malformed")

func malformed(what, format string, args ...any) error {
	return fmt.Errorf("tlogfmt: %w %s: %s", ErrMalformed, what, fmt.Sprintf(format, args...))
}

// Checkpoint is the body of a C2SP tlog-checkpoint: the log's origin, the
// tree size and the RFC 6962 root hash at that size.
//
// Spec: https://c2sp.org/tlog-checkpoint
type Checkpoint struct {
	Origin string
	Size   uint64
	Root   tlog.Hash
	// Extensions are the extension lines, without their newlines. The log
	// writes none.
	Extensions []string
}

// Marshal returns the checkpoint body, the text the log signs.
func (c Checkpoint) Marshal() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s\n%d\n%s\n", c.Origin, c.Size, base64.StdEncoding.EncodeToString(c.Root[:]))
	for _, e := range c.Extensions {
		b.WriteString(e + "\n")
	}
	return b.Bytes()
}

// ParseCheckpoint parses a checkpoint body strictly: at least three
// newline-terminated lines, a non-empty origin, the tree size in ASCII
// decimal without leading zeroes, a 32-byte root hash in standard base64,
// and non-empty extension lines.
func ParseCheckpoint(text []byte) (Checkpoint, error) {
	var c Checkpoint
	body, ok := bytes.CutSuffix(text, []byte("\n"))
	if !ok {
		return c, malformed("checkpoint", "no final newline")
	}
	lines := strings.Split(string(body), "\n")
	if len(lines) < 3 {
		return c, malformed("checkpoint", "%d lines, want at least 3", len(lines))
	}
	if lines[0] == "" {
		return c, malformed("checkpoint", "empty origin")
	}
	c.Origin = lines[0]
	size, err := ParseDecimal(lines[1])
	if err != nil {
		return c, malformed("checkpoint", "tree size: %v", err)
	}
	c.Size = size
	root, err := base64.StdEncoding.Strict().DecodeString(lines[2])
	if err != nil || len(root) != tlog.HashSize {
		return c, malformed("checkpoint", "root hash %q is not 32 bytes of base64", lines[2])
	}
	copy(c.Root[:], root)
	for _, e := range lines[3:] {
		if e == "" {
			return c, malformed("checkpoint", "empty extension line")
		}
		c.Extensions = append(c.Extensions, e)
	}
	return c, nil
}

// ParseDecimal parses an ASCII decimal with no sign and no leading zeroes
// (except "0" itself), as tlog-checkpoint and tlog-witness require.
func ParseDecimal(s string) (uint64, error) {
	if s == "" {
		return 0, errors.New("empty number")
	}
	if len(s) > 1 && s[0] == '0' {
		return 0, fmt.Errorf("leading zero in %q", s)
	}
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("not a decimal: %q", s)
		}
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("out of range: %q", s)
	}
	return n, nil
}

// SignedCheckpoint is a checkpoint note whose signatures were checked.
type SignedCheckpoint struct {
	Checkpoint
	// Note is the opened note: Text is the checkpoint body, Sigs the
	// signatures a known key verified, UnverifiedSigs the others.
	Note *note.Note
}

// Open verifies a signed checkpoint note with the known keys, as C2SP
// signed-note requires (signatures by unknown keys are ignored, at least
// one known key must have signed, a bad signature by a known key rejects
// the note), and parses its body with ParseCheckpoint. Errors from
// note.Open (*note.UnverifiedNoteError, *note.InvalidSignatureError) are
// wrapped, for errors.As.
func Open(msg []byte, known note.Verifiers) (*SignedCheckpoint, error) {
	if known == nil {
		return nil, errors.New("tlogfmt: no verifier keys")
	}
	n, err := note.Open(msg, known)
	if err != nil {
		return nil, fmt.Errorf("tlogfmt: checkpoint note: %w", err)
	}
	c, err := ParseCheckpoint([]byte(n.Text))
	if err != nil {
		return nil, err
	}
	return &SignedCheckpoint{Checkpoint: c, Note: n}, nil
}

// Signature returns the verified signature by v, if there is one.
func (s *SignedCheckpoint) Signature(v note.Verifier) (note.Signature, bool) {
	for _, sig := range s.Note.Sigs {
		if sig.Name == v.Name() && sig.Hash == v.KeyHash() {
			return sig, true
		}
	}
	return note.Signature{}, false
}

// SignedBy reports whether v's signature is among the verified ones.
func (s *SignedCheckpoint) SignedBy(v note.Verifier) bool {
	_, ok := s.Signature(v)
	return ok
}

// Signers returns the names of the keys whose signatures verified, in the
// order of the note.
func (s *SignedCheckpoint) Signers() []string {
	out := make([]string, 0, len(s.Note.Sigs))
	for _, sig := range s.Note.Sigs {
		out = append(out, sig.Name)
	}
	return out
}

// MissingSignatureError names a required key that did not sign.
type MissingSignatureError struct {
	Name    string
	KeyHash uint32
}

func (e *MissingSignatureError) Error() string {
	return fmt.Sprintf("tlogfmt: no valid signature by %s (key ID %08x)", e.Name, e.KeyHash)
}

// RequireSigned checks that every one of vs signed: a reader that pins a
// log's keys and its notaries demands all of them, not just one.
func (s *SignedCheckpoint) RequireSigned(vs ...note.Verifier) error {
	for _, v := range vs {
		if !s.SignedBy(v) {
			return &MissingSignatureError{Name: v.Name(), KeyHash: v.KeyHash()}
		}
	}
	return nil
}
