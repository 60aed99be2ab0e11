package tlogfmt

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/tlog"
)

// LeafHash returns the RFC 6962 leaf hash SHA-256(0x00 || leaf).
func LeafHash(leaf []byte) tlog.Hash { return tlog.RecordHash(leaf) }

// CheckInclusion checks an RFC 6962 inclusion proof: that the leaf hash at
// index is in the tree of size with the given root.
func CheckInclusion(p []tlog.Hash, index, size uint64, leafHash, root tlog.Hash) error {
	if err := proof.VerifyInclusion(rfc6962.DefaultHasher, index, size, leafHash[:], rawHashes(p), root[:]); err != nil {
		return fmt.Errorf("tlogfmt: inclusion of leaf %d in tree of size %d: %w", index, size, err)
	}
	return nil
}

// CheckConsistency checks an RFC 6962 consistency proof: that the tree of
// oldSize with oldRoot is a prefix of the tree of newSize with newRoot.
// Equal sizes need an empty proof and equal roots.
func CheckConsistency(p []tlog.Hash, oldSize, newSize uint64, oldRoot, newRoot tlog.Hash) error {
	if err := proof.VerifyConsistency(rfc6962.DefaultHasher, oldSize, newSize, rawHashes(p), oldRoot[:], newRoot[:]); err != nil {
		return fmt.Errorf("tlogfmt: consistency of sizes %d and %d: %w", oldSize, newSize, err)
	}
	return nil
}

func rawHashes(p []tlog.Hash) [][]byte {
	raw := make([][]byte, len(p))
	for i := range p {
		raw[i] = p[i][:]
	}
	return raw
}

// HashesFromBytes converts proof hashes given as byte slices, refusing any
// that is not 32 bytes long.
func HashesFromBytes(raw [][]byte) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(raw))
	for i, h := range raw {
		if len(h) != tlog.HashSize {
			return nil, malformed("proof", "hash %d is %d bytes, want %d", i, len(h), tlog.HashSize)
		}
		copy(out[i][:], h)
	}
	return out, nil
}

// ParseHashLines parses a proof written one base64 hash per line (the
// consistency proofs of an evidence bundle, the proof lines of
// tlog-witness); blank lines are skipped.
func ParseHashLines(data []byte) ([]tlog.Hash, error) {
	var out []tlog.Hash
	for i, l := range strings.Split(string(data), "\n") {
		l = strings.TrimSpace(l)
		if l == "" {
			continue
		}
		h, err := tlog.ParseHash(l)
		if err != nil {
			return nil, malformed("proof", "line %d: %v", i+1, err)
		}
		out = append(out, h)
	}
	return out, nil
}

// MarshalHashLines writes hashes one base64 hash per line.
func MarshalHashLines(hashes []tlog.Hash) []byte {
	var b bytes.Buffer
	for _, h := range hashes {
		b.WriteString(h.String())
		b.WriteByte('\n')
	}
	return b.Bytes()
}
