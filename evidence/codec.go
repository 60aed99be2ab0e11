package evidence

import (
	"encoding/binary"
	"errors"
	"time"
)

// The two values written for every event, claims and sealed records, are
// stored in a small binary form instead of JSON: encoding them was a fifth
// of the ingest CPU. Each starts with a version byte; fields are uvarint
// lengths and numbers in a fixed order.

const (
	claimV1  = 1
	sealedV1 = 1
)

var errCodec = errors.New("evidence: malformed stored value")

type encoder struct{ b []byte }

func (e *encoder) bytes(p []byte) {
	e.b = binary.AppendUvarint(e.b, uint64(len(p)))
	e.b = append(e.b, p...)
}
func (e *encoder) str(s string) {
	e.b = binary.AppendUvarint(e.b, uint64(len(s)))
	e.b = append(e.b, s...)
}
func (e *encoder) u64(v uint64) { e.b = binary.AppendUvarint(e.b, v) }
func (e *encoder) time(t time.Time) {
	e.b = binary.AppendVarint(e.b, t.Unix())
	e.u64(uint64(t.Nanosecond()))
}

type decoder struct {
	b   []byte
	err error
}

func (d *decoder) u64() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errCodec
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) bytes() []byte {
	n := d.u64()
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.err = errCodec
		return nil
	}
	if n == 0 {
		return nil
	}
	out := append([]byte(nil), d.b[:n]...)
	d.b = d.b[n:]
	return out
}

func (d *decoder) str() string { return string(d.bytes()) }

func (d *decoder) time() time.Time {
	if d.err != nil {
		return time.Time{}
	}
	sec, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = errCodec
		return time.Time{}
	}
	d.b = d.b[n:]
	nsec := d.u64()
	if nsec >= 1e9 {
		d.err = errCodec
	}
	return time.Unix(sec, int64(nsec)).UTC()
}

func (d *decoder) done() error {
	if d.err == nil && len(d.b) != 0 {
		return errCodec
	}
	return d.err
}

// MarshalBinary implements encoding.BinaryMarshaler.
func (c *claim) MarshalBinary() ([]byte, error) {
	e := encoder{b: make([]byte, 0, 160+len(c.Leaf))}
	e.b = append(e.b, claimV1)
	e.str(c.State)
	e.bytes(c.Digest)
	e.str(string(c.Kind))
	e.time(c.Time)
	e.bytes(c.Leaf)
	e.bytes(c.LeafHash)
	e.u64(c.Index)
	e.u64(c.TreeSize)
	e.str(c.Contract)
	e.str(c.ContractID)
	e.str(c.Name)
	e.str(c.Subject)
	e.str(c.SubjectKey)
	e.u64(uint64(len(c.Docs)))
	for _, d := range c.Docs {
		e.str(d)
	}
	e.u64(uint64(c.Pos))
	return e.b, nil
}

// UnmarshalBinary implements encoding.BinaryUnmarshaler.
func (c *claim) UnmarshalBinary(b []byte) error {
	if len(b) == 0 || b[0] != claimV1 {
		return errCodec
	}
	d := decoder{b: b[1:]}
	c.State = d.str()
	c.Digest = d.bytes()
	c.Kind = Kind(d.str())
	c.Time = d.time()
	c.Leaf = d.bytes()
	c.LeafHash = d.bytes()
	c.Index = d.u64()
	c.TreeSize = d.u64()
	c.Contract = d.str()
	c.ContractID = d.str()
	c.Name = d.str()
	c.Subject = d.str()
	c.SubjectKey = d.str()
	n := d.u64()
	if n > uint64(len(d.b)) {
		return errCodec
	}
	c.Docs = nil
	for range n {
		c.Docs = append(c.Docs, d.str())
	}
	c.Pos = int(d.u64())
	return d.done()
}

// MarshalBinary implements encoding.BinaryMarshaler.
func (s *sealedRecord) MarshalBinary() ([]byte, error) {
	e := encoder{b: make([]byte, 0, 96+len(s.Personal)+len(s.IDNumber)+len(s.Contract))}
	e.b = append(e.b, sealedV1)
	e.str(s.Tenant)
	e.str(s.Subject)
	e.str(s.SubjectKey)
	e.bytes(s.Personal)
	e.bytes(s.IDNumber)
	e.bytes(s.Contract)
	return e.b, nil
}

// UnmarshalBinary implements encoding.BinaryUnmarshaler.
func (s *sealedRecord) UnmarshalBinary(b []byte) error {
	if len(b) == 0 || b[0] != sealedV1 {
		return errCodec
	}
	d := decoder{b: b[1:]}
	s.V = 1
	s.Tenant = d.str()
	s.Subject = d.str()
	s.SubjectKey = d.str()
	s.Personal = d.bytes()
	s.IDNumber = d.bytes()
	s.Contract = d.bytes()
	return d.done()
}
