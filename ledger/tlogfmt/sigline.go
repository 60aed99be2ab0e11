package tlogfmt

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"math"
	"time"
	"unicode/utf8"

	"golang.org/x/mod/sumdb/note"
)

// sigPrefix starts every signature line: em dash (U+2014) and a space.
const sigPrefix = "\u2014 "

// maxSignatures bounds the signature lines of one note, as note.Open does.
const maxSignatures = 100

// ParseSignatureLine parses one C2SP signed-note signature line,
// "— name base64(key ID || signature)\n", with its final newline. The key
// ID is returned in Hash; the signature is not verified.
//
// Spec: https://c2sp.org/signed-note#signatures
func ParseSignatureLine(line []byte) (note.Signature, error) {
	s, ok := bytes.CutSuffix(line, []byte("\n"))
	if !ok || bytes.IndexByte(s, '\n') >= 0 {
		return note.Signature{}, malformed("signature line", "not one newline-terminated line")
	}
	s, ok = bytes.CutPrefix(s, []byte(sigPrefix))
	if !ok {
		return note.Signature{}, malformed("signature line", "does not start with an em dash and a space")
	}
	name, b64, ok := bytes.Cut(s, []byte(" "))
	if !ok || !ValidKeyName(string(name)) {
		return note.Signature{}, malformed("signature line", "bad key name")
	}
	sig, err := base64.StdEncoding.DecodeString(string(b64))
	if err != nil || len(sig) < 5 {
		return note.Signature{}, malformed("signature line", "signature is not base64 of a key ID and a signature")
	}
	return note.Signature{Name: string(name), Hash: binary.BigEndian.Uint32(sig), Base64: string(b64)}, nil
}

// SignatureLine formats s as a signature line, with its final newline.
func SignatureLine(s note.Signature) []byte {
	return []byte(sigPrefix + s.Name + " " + s.Base64 + "\n")
}

// ParseSignatureLines parses a block of signature lines (the signature
// block of a note, or a tlog-witness add-checkpoint answer): one or more
// newline-terminated signature lines and nothing else.
func ParseSignatureLines(block []byte) ([]note.Signature, error) {
	if len(block) == 0 || block[len(block)-1] != '\n' {
		return nil, malformed("signature lines", "empty or not newline-terminated")
	}
	var out []note.Signature
	for len(block) > 0 {
		i := bytes.IndexByte(block, '\n')
		s, err := ParseSignatureLine(block[:i+1])
		if err != nil {
			return nil, err
		}
		if len(out) == maxSignatures {
			return nil, malformed("signature lines", "more than %d", maxSignatures)
		}
		out = append(out, s)
		block = block[i+1:]
	}
	return out, nil
}

// SplitNote splits a signed note into its text (with the final newline)
// and its signature lines, without verifying any signature: for showing a
// note whose signatures were checked elsewhere. The framing rules are
// those of note.Open.
func SplitNote(msg []byte) (text []byte, sigs []note.Signature, err error) {
	for i := 0; i < len(msg); {
		r, size := utf8.DecodeRune(msg[i:])
		if r < 0x20 && r != '\n' || r == utf8.RuneError && size == 1 {
			return nil, nil, malformed("note", "invalid UTF-8 or a control character")
		}
		i += size
	}
	split := bytes.LastIndex(msg, []byte("\n\n"))
	if split < 0 {
		return nil, nil, malformed("note", "no signature block")
	}
	sigs, err = ParseSignatureLines(msg[split+2:])
	if err != nil {
		return nil, nil, err
	}
	return msg[:split+1], sigs, nil
}

// AppendSignatures returns msg, a signed note, with signature lines
// appended (a newline is added to a line that lacks one): the cosigned
// note that any verifier holding a notary key accepts.
func AppendSignatures(msg []byte, lines ...[]byte) []byte {
	out := bytes.Clone(msg)
	for _, l := range lines {
		out = append(out, l...)
		if len(l) > 0 && l[len(l)-1] != '\n' {
			out = append(out, '\n')
		}
	}
	return out
}

// Decoded lengths of cosignature/v1 signatures: key ID (4), timestamp (8),
// then an Ed25519 (64) or ML-DSA-44 (2420) signature.
const (
	cosigEd25519Len = 4 + 8 + 64
	cosigMLDSALen   = 4 + 8 + 2420
)

// CosignatureTime returns the time inside a signature known to be a
// cosignature/v1 (the big-endian POSIX seconds after the key ID), in UTC.
// It reports false for a signature of another length or a timestamp above
// 2^63-1, which tlog-cosignature forbids. It does not verify the signature.
//
// Spec: https://c2sp.org/tlog-cosignature
func CosignatureTime(s note.Signature) (time.Time, bool) {
	sig, err := base64.StdEncoding.DecodeString(s.Base64)
	if err != nil || (len(sig) != cosigEd25519Len && len(sig) != cosigMLDSALen) {
		return time.Time{}, false
	}
	ts := binary.BigEndian.Uint64(sig[4:12])
	if ts > math.MaxInt64 {
		return time.Time{}, false
	}
	return time.Unix(int64(ts), 0).UTC(), true
}
