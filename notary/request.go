package notary

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
)

// MaxRequestBytes bounds an add-checkpoint request body. A request holds at
// most 63 proof lines of 45 bytes, a checkpoint of a few lines and a handful
// of signature lines; 64 KiB leaves room for extension lines and many
// signatures while refusing floods.
const MaxRequestBytes = 64 << 10

// maxProofLines is the C2SP tlog-witness limit on consistency proof lines.
const maxProofLines = 63

// Request is a parsed C2SP tlog-witness add-checkpoint request.
//
// Spec: https://c2sp.org/tlog-witness#add-checkpoint
type Request struct {
	// Old is the size of the checkpoint the client believes the office
	// cosigned last (zero when it does not know).
	Old uint64
	// Proof is the RFC 6962 consistency proof from Old to the checkpoint size.
	Proof [][]byte
	// Checkpoint is the signed note, exactly as sent.
	Checkpoint []byte
}

// ParseRequest parses an add-checkpoint request body: an "old N" line, zero
// to 63 base64 hash lines, an empty line, and a signed checkpoint note. It
// checks the framing only; signatures and proofs are checked by the Office.
// Every failure wraps ErrMalformed.
func ParseRequest(body []byte) (*Request, error) {
	if len(body) > MaxRequestBytes {
		return nil, fmt.Errorf("%w: body larger than %d bytes", ErrMalformed, MaxRequestBytes)
	}
	line, rest, ok := bytes.Cut(body, []byte("\n"))
	if !ok {
		return nil, fmt.Errorf("%w: missing old size line", ErrMalformed)
	}
	num, ok := bytes.CutPrefix(line, []byte("old "))
	if !ok {
		return nil, fmt.Errorf("%w: first line must be \"old N\"", ErrMalformed)
	}
	old, err := parseDecimal(num)
	if err != nil {
		return nil, fmt.Errorf("%w: old size: %w", ErrMalformed, err)
	}
	req := &Request{Old: old}
	for {
		line, rest, ok = bytes.Cut(rest, []byte("\n"))
		if !ok {
			return nil, fmt.Errorf("%w: missing empty line before the checkpoint", ErrMalformed)
		}
		if len(line) == 0 {
			break
		}
		if len(req.Proof) == maxProofLines {
			return nil, fmt.Errorf("%w: more than %d proof lines", ErrMalformed, maxProofLines)
		}
		h, err := base64.StdEncoding.Strict().DecodeString(string(line))
		if err != nil || len(h) != 32 {
			return nil, fmt.Errorf("%w: proof line %d is not a base64 SHA-256 hash", ErrMalformed, len(req.Proof)+1)
		}
		req.Proof = append(req.Proof, h)
	}
	if len(rest) == 0 {
		return nil, fmt.Errorf("%w: missing checkpoint", ErrMalformed)
	}
	if old == 0 && len(req.Proof) > 0 {
		return nil, fmt.Errorf("%w: proof must be empty when old size is 0", ErrMalformed)
	}
	req.Checkpoint = rest
	return req, nil
}

// Marshal encodes r as an add-checkpoint request body.
func (r *Request) Marshal() []byte {
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

// parseDecimal parses an ASCII decimal with no sign and no leading zeroes
// (except "0" itself), as tlog-witness and tlog-checkpoint require.
func parseDecimal(b []byte) (uint64, error) {
	if len(b) == 0 {
		return 0, errors.New("empty number")
	}
	if len(b) > 1 && b[0] == '0' {
		return 0, errors.New("leading zero")
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("not a decimal: %q", b)
		}
	}
	n, err := strconv.ParseUint(string(b), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("out of range: %q", b)
	}
	return n, nil
}
