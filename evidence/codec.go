package evidence

import (
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/cunzheng/cunzheng/evidence/event"
)

// The values written for every event (claims, sealed records and the
// index entries) are stored in a small binary form instead of
// JSON: encoding them was a fifth of the ingest CPU, and JSON made the
// index entries twice as large. Each starts with a version byte; fields
// are uvarint lengths and numbers in a fixed order. Index entries written
// before they had a binary form are JSON objects, told apart by their
// first byte '{', and still read. (Subject keys stay JSON: a shared
// store's writes expect their stored bytes unchanged.)

const (
	claimV1    = 1
	claimV2    = 2 // v1 and the pending claim's sealed record
	sealedV1   = 1
	entryV1    = 1
	entriesV1  = 2 // several entries of one contract or subject in one value (storedEntries)
	docMatchV1 = 1 // with the contract number in the clear, before it was sealed
	docMatchV2 = 2
	contractV1 = 1
	// claimFailed, or'ed into a claim's version byte, marks the claim of a
	// failed intent.verified (claim.Failed), which no signature may cite.
	// Only those claims carry it: every other claim is written as before,
	// and claims written before it read as not failed.
	claimFailed = 0x80
)

// isJSONObject reports whether a stored value predates its binary form.
func isJSONObject(b []byte) bool { return len(b) > 0 && b[0] == '{' }

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

// zonedTime is time with its UTC offset, for values the API shows as the
// platform sent them (2026-11-24T10:22:36+08:00).
func (e *encoder) zonedTime(t time.Time) {
	e.time(t)
	_, off := t.Zone()
	e.b = binary.AppendVarint(e.b, int64(off))
}
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

func (d *decoder) zonedTime() time.Time {
	t := d.time()
	if d.err != nil {
		return t
	}
	off, n := binary.Varint(d.b)
	if n <= 0 || off <= -24*3600 || off >= 24*3600 {
		d.err = errCodec
		return t
	}
	d.b = d.b[n:]
	if off == 0 {
		return t
	}
	return t.In(time.FixedZone("", int(off)))
}

func (d *decoder) done() error {
	if d.err == nil && len(d.b) != 0 {
		return errCodec
	}
	return d.err
}

// MarshalBinary implements encoding.BinaryMarshaler.
func (c *claim) MarshalBinary() ([]byte, error) {
	n := 1 + 15*binary.MaxVarintLen64 + len(c.State) + len(c.Digest) + len(c.Kind) + len(c.Leaf) + len(c.LeafHash) +
		len(c.Contract) + len(c.Subject) + len(c.SubjectKey) + len(c.Sealed)
	for _, d := range c.Docs {
		n += binary.MaxVarintLen64 + len(d)
	}
	e := encoder{b: make([]byte, 0, n)}
	version := byte(claimV1)
	if len(c.Sealed) > 0 {
		version = claimV2
	}
	flags := byte(0)
	if c.Failed {
		flags = claimFailed
	}
	e.b = append(e.b, version|flags)
	e.str(c.State)
	e.bytes(c.Digest)
	e.str(string(c.Kind))
	e.time(c.Time)
	e.bytes(c.Leaf)
	e.bytes(c.LeafHash)
	e.u64(c.Index)
	e.u64(c.TreeSize)
	e.str(c.Contract)
	// Never the contract's number and name: a pending claim has them in
	// its sealed record (claimContract), a done one needs them no more.
	// Claims written before kept them here in the clear, and still read.
	e.str("")
	e.str("")
	e.str(c.Subject)
	e.str(c.SubjectKey)
	e.u64(uint64(len(c.Docs)))
	for _, d := range c.Docs {
		e.str(d)
	}
	e.u64(uint64(c.Pos))
	if version == claimV2 {
		e.bytes(c.Sealed)
	}
	return e.b, nil
}

// UnmarshalBinary implements encoding.BinaryUnmarshaler.
func (c *claim) UnmarshalBinary(b []byte) error {
	if len(b) == 0 {
		return errCodec
	}
	version := b[0] &^ claimFailed
	if version != claimV1 && version != claimV2 {
		return errCodec
	}
	c.Failed = b[0]&claimFailed != 0
	d := decoder{b: b[1:]}
	c.State = d.str()
	c.Digest = d.bytes()
	c.Kind = event.Kind(d.str())
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
	c.Sealed = nil
	if version == claimV2 {
		if c.Sealed = d.bytes(); d.err == nil && len(c.Sealed) == 0 {
			return errCodec
		}
	}
	return d.done()
}

// MarshalBinary implements encoding.BinaryMarshaler.
func (s *sealedRecord) MarshalBinary() ([]byte, error) {
	e := encoder{b: make([]byte, 0, 1+6*binary.MaxVarintLen64+len(s.Tenant)+len(s.Subject)+len(s.SubjectKey)+
		len(s.Personal)+len(s.IDNumber)+len(s.Contract))}
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

// storedEntry is the stored form of an EventEntry (e/ and u/ keys), kept
// apart so that the exported type has no codec methods.
type storedEntry EventEntry

// MarshalBinary implements encoding.BinaryMarshaler.
func (s *storedEntry) MarshalBinary() ([]byte, error) {
	e := encoder{b: make([]byte, 0, 64+len(s.ID)+len(s.LeafHash)/2+len(s.Kind))}
	e.b = append(e.b, entryV1)
	if err := s.encode(&e); err != nil {
		return nil, err
	}
	return e.b, nil
}

func (s *storedEntry) encode(e *encoder) error {
	e.str(s.ID)
	e.u64(s.Index)
	lh, err := hex.DecodeString(s.LeafHash)
	if err != nil {
		return fmt.Errorf("evidence: entry leaf hash: %w", err)
	}
	e.bytes(lh)
	e.u64(s.Checkpoint)
	e.str(string(s.Kind))
	e.zonedTime(s.Time)
	return nil
}

func (s *storedEntry) decode(d *decoder) {
	s.ID = d.str()
	s.Index = d.u64()
	s.LeafHash = hex.EncodeToString(d.bytes())
	s.Checkpoint = d.u64()
	s.Kind = event.Kind(d.str())
	s.Time = d.zonedTime()
}

// UnmarshalBinary implements encoding.BinaryUnmarshaler.
func (s *storedEntry) UnmarshalBinary(b []byte) error {
	if isJSONObject(b) {
		return json.Unmarshal(b, (*EventEntry)(s))
	}
	if len(b) == 0 || b[0] != entryV1 {
		return errCodec
	}
	d := decoder{b: b[1:]}
	s.decode(&d)
	return d.done()
}

// storedEntries is the stored form of the entries of one contract (e/),
// or of one subject outside contracts (u/), that one finalize transaction
// records: one row for a request's events of a contract instead of one
// per event. A single entry is stored as before (storedEntry), under its
// own index; readers take both (decodeEntries).
type storedEntries []EventEntry

// MarshalBinary implements encoding.BinaryMarshaler.
func (s storedEntries) MarshalBinary() ([]byte, error) {
	e := encoder{b: make([]byte, 0, len(s)*96)}
	e.b = append(e.b, entriesV1)
	e.u64(uint64(len(s)))
	for i := range s {
		if err := (*storedEntry)(&s[i]).encode(&e); err != nil {
			return nil, err
		}
	}
	return e.b, nil
}

// decodeEntries reads an e/ or u/ value: one entry (binary or JSON) or
// several (storedEntries), calling fn with each in stored order.
func decodeEntries(b []byte, fn func(EventEntry) bool) error {
	if len(b) == 0 || b[0] != entriesV1 {
		var e EventEntry
		if err := (*storedEntry)(&e).UnmarshalBinary(b); err != nil {
			return err
		}
		fn(e)
		return nil
	}
	d := decoder{b: b[1:]}
	n := d.u64()
	if d.err != nil || n == 0 || n > uint64(len(b)) {
		return errCodec
	}
	out := make([]EventEntry, n)
	for i := range out {
		(*storedEntry)(&out[i]).decode(&d)
	}
	if err := d.done(); err != nil {
		return err
	}
	for _, e := range out {
		if !fn(e) {
			break
		}
	}
	return nil
}

// MarshalBinary implements encoding.BinaryMarshaler. The contract number
// is not stored (version 2): the entry's key names the contract by its
// reference, and the number is in the sealed contract record.
func (m *docMatch) MarshalBinary() ([]byte, error) {
	e := encoder{b: make([]byte, 0, 40+len(m.Kind))}
	e.b = append(e.b, docMatchV2)
	e.u64(m.Index)
	e.str(string(m.Kind))
	e.zonedTime(m.Time)
	return e.b, nil
}

// UnmarshalBinary implements encoding.BinaryUnmarshaler.
func (m *docMatch) UnmarshalBinary(b []byte) error {
	if isJSONObject(b) {
		type plain docMatch
		return json.Unmarshal(b, (*plain)(m))
	}
	if len(b) == 0 || b[0] != docMatchV1 && b[0] != docMatchV2 {
		return errCodec
	}
	d := decoder{b: b[1:]}
	m.ContractID = ""
	if b[0] == docMatchV1 {
		m.ContractID = d.str()
	}
	m.Index = d.u64()
	m.Kind = event.Kind(d.str())
	m.Time = d.zonedTime()
	return d.done()
}

// MarshalBinary implements encoding.BinaryMarshaler.
func (c *contractRecord) MarshalBinary() ([]byte, error) {
	e := encoder{b: make([]byte, 0, 64+len(c.ID)+len(c.Name)+len(c.Subjects)*66)}
	e.b = append(e.b, contractV1)
	e.str(c.ID)
	e.str(c.Name)
	e.zonedTime(c.First)
	e.zonedTime(c.Last)
	e.str(string(c.Status))
	e.u64(uint64(c.Events))
	e.u64(uint64(len(c.Subjects)))
	for _, s := range c.Subjects {
		e.str(s)
	}
	return e.b, nil
}

// UnmarshalBinary implements encoding.BinaryUnmarshaler.
func (c *contractRecord) UnmarshalBinary(b []byte) error {
	if isJSONObject(b) {
		type plain contractRecord
		return json.Unmarshal(b, (*plain)(c))
	}
	if len(b) == 0 || b[0] != contractV1 {
		return errCodec
	}
	d := decoder{b: b[1:]}
	c.ID = d.str()
	c.Name = d.str()
	c.First = d.zonedTime()
	c.Last = d.zonedTime()
	c.Status = event.Kind(d.str())
	c.Events = int(d.u64())
	n := d.u64()
	if n > uint64(len(d.b)) {
		return errCodec
	}
	c.Subjects = nil
	for range n {
		c.Subjects = append(c.Subjects, d.str())
	}
	return d.done()
}
