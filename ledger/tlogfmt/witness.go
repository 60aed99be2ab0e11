package tlogfmt

import (
	"bytes"
	"encoding/base64"
	"fmt"
)

// MaxAddCheckpointBytes bounds an add-checkpoint request body. A request holds at
// most 63 proof lines of 45 bytes, a checkpoint of a few lines and a handful
// of signature lines; 64 KiB leaves room for extension lines and many
// signatures while refusing floods.
const MaxAddCheckpointBytes = 64 << 10

// MaxProofLines is the C2SP tlog-witness limit on consistency proof lines.
const MaxProofLines = 63

// AddCheckpoint is a C2SP tlog-witness add-checkpoint request body, what
// the log side (the pusher) sends and the office parses.
//
// Spec: https://c2sp.org/tlog-witness#add-checkpoint
type AddCheckpoint struct {
	// Old is the size of the checkpoint the client believes the office
	// cosigned last (zero when it does not know).
	Old uint64
	// Proof is the RFC 6962 consistency proof from Old to the checkpoint size.
	Proof [][]byte
	// Checkpoint is the signed note, exactly as sent.
	Checkpoint []byte
}

// ParseAddCheckpoint parses an add-checkpoint request body: an "old N" line, zero
// to 63 base64 hash lines, an empty line, and a signed checkpoint note. It
// checks the framing only; signatures and proofs are checked by the office.
// Every failure wraps ErrMalformed.
func ParseAddCheckpoint(body []byte) (*AddCheckpoint, error) {
	if len(body) > MaxAddCheckpointBytes {
		return nil, fmt.Errorf("tlogfmt: %w add-checkpoint request: body larger than %d bytes", ErrMalformed, MaxAddCheckpointBytes)
	}
	line, rest, ok := bytes.Cut(body, []byte("\n"))
	if !ok {
		return nil, fmt.Errorf("tlogfmt: %w add-checkpoint request: missing old size line", ErrMalformed)
	}
	num, ok := bytes.CutPrefix(line, []byte("old "))
	if !ok {
		return nil, fmt.Errorf("tlogfmt: %w add-checkpoint request: first line must be \"old N\"", ErrMalformed)
	}
	old, err := ParseDecimal(string(num))
	if err != nil {
		return nil, fmt.Errorf("tlogfmt: %w add-checkpoint request: old size: %w", ErrMalformed, err)
	}
	req := &AddCheckpoint{Old: old}
	for {
		line, rest, ok = bytes.Cut(rest, []byte("\n"))
		if !ok {
			return nil, fmt.Errorf("tlogfmt: %w add-checkpoint request: missing empty line before the checkpoint", ErrMalformed)
		}
		if len(line) == 0 {
			break
		}
		if len(req.Proof) == MaxProofLines {
			return nil, fmt.Errorf("tlogfmt: %w add-checkpoint request: more than %d proof lines", ErrMalformed, MaxProofLines)
		}
		h, err := base64.StdEncoding.Strict().DecodeString(string(line))
		if err != nil || len(h) != 32 {
			return nil, fmt.Errorf("tlogfmt: %w add-checkpoint request: proof line %d is not a base64 SHA-256 hash", ErrMalformed, len(req.Proof)+1)
		}
		req.Proof = append(req.Proof, h)
	}
	if len(rest) == 0 {
		return nil, fmt.Errorf("tlogfmt: %w add-checkpoint request: missing checkpoint", ErrMalformed)
	}
	if old == 0 && len(req.Proof) > 0 {
		return nil, fmt.Errorf("tlogfmt: %w add-checkpoint request: proof must be empty when old size is 0", ErrMalformed)
	}
	req.Checkpoint = rest
	return req, nil
}

// Marshal encodes r as an add-checkpoint request body.
func (r *AddCheckpoint) Marshal() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "old %d\n", r.Old)
	for _, h := range r.Proof {
		b.WriteString(base64.StdEncoding.EncodeToString(h))
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	b.Write(r.Checkpoint)
	return b.Bytes()
}
