package event

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
)

// A sealed part is the plaintext of one encrypted part of a sealed record
// (contract, personal, ID number): its fields' values and one random
// 32-byte seed from which each field's commitment salt is derived,
//
//	salt = HMAC-SHA256(seed, "cunzheng/evidence/salt\x00" || path)
//
// so that a field's salt is fresh, its own, and revealing it (a report
// opens fields one by one) tells nothing of the seed or of the other
// fields' salts. Storing one seed instead of a salt per field halved the
// sealed record, which was half of what ingest writes per event.
//
// Encoding (version 2): 0x02 || seed || uvarint count || count × (uvarint
// length || path, uvarint length || value). Version 1 parts, written
// before, are JSON objects with an explicit salt per field and still open.
type sealedPart struct {
	seed   []byte
	mac    hash.Hash
	fields [][2]string // path, value
}

const sealedPartV2 = 2

func newSealedPart(seed []byte) *sealedPart {
	return &sealedPart{seed: seed, mac: hmac.New(sha256.New, seed)}
}

// add records the field and returns its commitment salt.
func (p *sealedPart) add(path, value string) []byte {
	p.fields = append(p.fields, [2]string{path, value})
	return partSalt(p.mac, path)
}

func partSalt(mac hash.Hash, path string) []byte {
	mac.Reset()
	mac.Write([]byte("cunzheng/evidence/salt\x00" + path))
	return mac.Sum(nil)
}

func (p *sealedPart) marshal() []byte {
	n := 1 + len(p.seed) + binary.MaxVarintLen64
	for _, f := range p.fields {
		n += 2*binary.MaxVarintLen64 + len(f[0]) + len(f[1])
	}
	b := make([]byte, 0, n)
	b = append(b, sealedPartV2)
	b = append(b, p.seed...)
	b = binary.AppendUvarint(b, uint64(len(p.fields)))
	for _, f := range p.fields {
		b = appendString(b, f[0])
		b = appendString(b, f[1])
	}
	return b
}

// appendString appends s with its uvarint length.
func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// errPart is a sealed part's plaintext that does not decode.
var errPart = errors.New("evidence: malformed stored value")

// partReader reads what marshal wrote; the first error sticks.
type partReader struct {
	b   []byte
	err error
}

func (r *partReader) u64() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errPart
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *partReader) str() string {
	n := r.u64()
	if r.err != nil {
		return ""
	}
	if n > uint64(len(r.b)) {
		r.err = errPart
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

// Field is one opened sealed field: its value and its commitment salt.
type Field struct {
	Value string
	Salt  []byte
}

// sealedField is one field of a version 1 part, with its salt.
type sealedField struct {
	V string `json:"v"`
	S []byte `json:"s"`
}

// OpenPart decodes a part's plaintext into its fields with their salts.
// v1Single names the one field of a version 1 part that held a single
// field object rather than a map by path (the ID number part).
func OpenPart(pt []byte, v1Single string) (map[string]Field, error) {
	out := map[string]Field{}
	if len(pt) > 0 && pt[0] == '{' { // version 1
		if v1Single != "" {
			var f sealedField
			if err := json.Unmarshal(pt, &f); err != nil {
				return nil, err
			}
			out[v1Single] = Field{Value: f.V, Salt: f.S}
			return out, nil
		}
		var m map[string]sealedField
		if err := json.Unmarshal(pt, &m); err != nil {
			return nil, err
		}
		for path, f := range m {
			out[path] = Field{Value: f.V, Salt: f.S}
		}
		return out, nil
	}
	if len(pt) < 1+32 || pt[0] != sealedPartV2 {
		return nil, errPart
	}
	mac := hmac.New(sha256.New, pt[1:33])
	d := partReader{b: pt[33:]}
	n := d.u64()
	if n > uint64(len(d.b)) {
		return nil, errPart
	}
	for range n {
		path, value := d.str(), d.str()
		if d.err != nil {
			return nil, d.err
		}
		if _, dup := out[path]; dup {
			return nil, fmt.Errorf("%w: field %q twice", errPart, path)
		}
		out[path] = Field{Value: value, Salt: partSalt(mac, path)}
	}
	if d.err != nil {
		return nil, d.err
	}
	if len(d.b) != 0 {
		return nil, errPart
	}
	return out, nil
}
