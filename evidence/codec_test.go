package evidence

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestCodecRoundTrip(t *testing.T) {
	done := &claim{State: "done", Digest: []byte{1, 2}, Kind: KindContractSigned,
		Time: time.Date(2018, 11, 14, 9, 22, 36, 5, time.UTC), LeafHash: []byte{3}, Index: 1 << 40, TreeSize: 7,
		Contract: "ref", ContractID: "2125270852621565954", Name: "劳动合同", Subject: "s", SubjectKey: "k",
		Docs: []string{"a", "b"}, Pos: 3}
	pending := *done
	pending.State, pending.Leaf, pending.Sealed = "pending", []byte("{}"), []byte{9, 8, 7}
	for _, tc := range []struct {
		c       *claim
		version byte
	}{{done, claimV1}, {&pending, claimV2}} {
		b, _ := tc.c.MarshalBinary()
		if b[0] != tc.version {
			t.Errorf("%s claim written as version %d, want %d", tc.c.State, b[0], tc.version)
		}
		var got claim
		if err := got.UnmarshalBinary(b); err != nil {
			t.Fatal(err)
		}
		// A claim never stores the contract's number and name: a pending
		// one has them sealed in its sealed record.
		want := *tc.c
		want.ContractID, want.Name = "", ""
		if diff := cmp.Diff(&want, &got); diff != "" {
			t.Error(diff)
		}
		if bytes.Contains(b, []byte(tc.c.ContractID)) || bytes.Contains(b, []byte(tc.c.Name)) {
			t.Errorf("%s claim stores the contract number or name in the clear", tc.c.State)
		}
		for i := range b {
			if err := got.UnmarshalBinary(b[:i]); err == nil {
				t.Errorf("%s claim truncated to %d bytes accepted", tc.c.State, i)
			}
		}
	}
	s := &sealedRecord{V: 1, Tenant: "t", Subject: "s", SubjectKey: "k", Personal: []byte{1}, Contract: []byte{2}}
	b, _ := s.MarshalBinary()
	var gs sealedRecord
	if err := gs.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(s, &gs); diff != "" {
		t.Error(diff)
	}
	for i := range b {
		if err := gs.UnmarshalBinary(b[:i]); err == nil {
			t.Errorf("truncated to %d bytes accepted", i)
		}
	}
}

// FuzzCodec: damaged stored values are errors, never panics.
func FuzzCodec(f *testing.F) {
	c := &claim{State: "pending", Leaf: []byte("{}"), Docs: []string{"x"}}
	b, _ := c.MarshalBinary()
	f.Add(b)
	c.Sealed = []byte{1}
	b, _ = c.MarshalBinary()
	f.Add(b)
	s, _ := (&sealedRecord{Tenant: "t"}).MarshalBinary()
	f.Add(s)
	f.Fuzz(func(t *testing.T, b []byte) {
		var c claim
		if c.UnmarshalBinary(b) == nil {
			again, _ := c.MarshalBinary()
			var c2 claim
			if err := c2.UnmarshalBinary(again); err != nil {
				t.Fatalf("re-encoded claim does not decode: %v", err)
			}
		}
		var s sealedRecord
		_ = s.UnmarshalBinary(b)
		var e storedEntry
		_ = e.UnmarshalBinary(b)
		var m docMatch
		_ = m.UnmarshalBinary(b)
		var cr contractRecord
		if cr.UnmarshalBinary(b) == nil {
			again, _ := cr.MarshalBinary()
			var cr2 contractRecord
			if err := cr2.UnmarshalBinary(again); err != nil {
				t.Fatalf("re-encoded contract record does not decode: %v", err)
			}
		}
	})
}

// A document index entry does not store the contract number (the sealed
// contract record has it); entries written before, with it, still read.
func TestDocMatchWithoutContractNumber(t *testing.T) {
	at := time.Date(2026, 11, 24, 10, 22, 36, 0, time.UTC)
	b, _ := (&docMatch{ContractID: "2125270852621565954", Index: 42, Kind: KindContractCompleted, Time: at}).MarshalBinary()
	if bytes.Contains(b, []byte("2125270852621565954")) {
		t.Error("document entry stores the contract number")
	}
	e := encoder{b: []byte{docMatchV1}}
	e.str("2125270852621565954")
	e.u64(42)
	e.str(string(KindContractCompleted))
	e.zonedTime(at)
	var m docMatch
	if err := m.UnmarshalBinary(e.b); err != nil || m.ContractID != "2125270852621565954" || m.Index != 42 || !m.Time.Equal(at) {
		t.Errorf("version 1 entry: %+v, %v", m, err)
	}
}

// The index entries keep the UTC offset the platform sent, as JSON did,
// and entries stored as JSON before the binary form are still read.
func TestIndexCodecs(t *testing.T) {
	cst := time.FixedZone("", 8*3600)
	at := time.Date(2026, 11, 24, 10, 22, 36, 123000000, cst)
	entry := &storedEntry{Receipt: Receipt{ID: "e-1", Index: 42, LeafHash: "00ff", Checkpoint: 43},
		Kind: KindContractSigned, Time: at}
	m := &docMatch{Index: 42, Kind: KindContractCompleted, Time: at.UTC()}
	cr := &contractRecord{ID: "2125270852621565954", Name: "劳动合同", First: at, Last: at.Add(time.Hour),
		Status: KindContractCompleted, Events: 6, Subjects: []string{"a", "b"}}
	for _, tc := range []struct {
		in, out interface {
			MarshalBinary() ([]byte, error)
			UnmarshalBinary([]byte) error
		}
	}{
		{entry, &storedEntry{}},
		{m, &docMatch{}},
		{cr, &contractRecord{}},
	} {
		b, err := tc.in.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		if err := tc.out.UnmarshalBinary(b); err != nil {
			t.Fatalf("%T: %v", tc.in, err)
		}
		if diff := cmp.Diff(jsonOf(t, tc.in), jsonOf(t, tc.out)); diff != "" {
			t.Errorf("%T round trip (-in +out):\n%s", tc.in, diff)
		}
		for i := range b {
			if err := tc.out.UnmarshalBinary(b[:i]); err == nil {
				t.Errorf("%T truncated to %d bytes accepted", tc.in, i)
			}
		}
		old := jsonOf(t, tc.in)
		if err := tc.out.UnmarshalBinary([]byte(old)); err != nil {
			t.Fatalf("%T stored as JSON: %v", tc.in, err)
		}
		if got := jsonOf(t, tc.out); got != old {
			t.Errorf("%T stored as JSON reads as %s, want %s", tc.in, got, old)
		}
	}
	if _, err := (&storedEntry{Receipt: Receipt{LeafHash: "not hex"}}).MarshalBinary(); err == nil {
		t.Error("entry with a malformed leaf hash encoded")
	}
}

func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// FuzzSealedPart: a part opens to the fields and salts it was built with;
// damaged plaintext is an error, never a panic.
func FuzzSealedPart(f *testing.F) {
	for _, s := range []string{"叶建华", `"quoted\"\\`, "\x00\x1f\u2028", ""} {
		f.Add(bytes.Repeat([]byte{7}, 32), "actor.name", s, []byte{2})
	}
	f.Fuzz(func(t *testing.T, seed []byte, path, value string, junk []byte) {
		_, _ = openPart(junk, "")
		_, _ = openPart(junk, "actor.id_number")
		if len(seed) != 32 || path == "actor.phone" {
			return
		}
		p := newSealedPart(seed)
		salt := p.add(path, value)
		phoneSalt := p.add("actor.phone", "13858888888")
		got, err := openPart(p.marshal(), "")
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]Field{path: {Value: value, Salt: salt}, "actor.phone": {Value: "13858888888", Salt: phoneSalt}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("(-built +opened):\n%s", diff)
		}
		if bytes.Equal(salt, phoneSalt) || len(salt) != 32 {
			t.Errorf("salts %x and %x", salt, phoneSalt)
		}
		b := p.marshal()
		for i := range b {
			if _, err := openPart(b[:i], ""); err == nil {
				t.Errorf("part truncated to %d bytes opened", i)
			}
		}
	})
}

// Each field's salt is its own: another seed or another path gives another
// salt. Parts written before seeds (JSON, a salt per field) still open.
func TestSealedPartSaltsAndVersion1(t *testing.T) {
	a, b := newSealedPart(bytes.Repeat([]byte{1}, 32)), newSealedPart(bytes.Repeat([]byte{2}, 32))
	if sa, sb := a.add("actor.name", "x"), b.add("actor.name", "x"); bytes.Equal(sa, sb) {
		t.Error("two seeds gave one salt")
	}
	if s1, s2 := a.add("actor.phone", "x"), a.add("actor.email", "x"); bytes.Equal(s1, s2) {
		t.Error("two paths gave one salt")
	}
	if _, err := openPart(append(a.marshal(), 0), ""); err == nil {
		t.Error("trailing byte accepted")
	}
	dup := newSealedPart(bytes.Repeat([]byte{3}, 32))
	dup.add("actor.name", "x")
	dup.add("actor.name", "y")
	if _, err := openPart(dup.marshal(), ""); err == nil {
		t.Error("a field twice accepted")
	}
	v1 := `{"actor.name":{"v":"叶建华","s":"AQI="},"actor.phone":{"v":"13858888888","s":"AwQ="}}`
	got, err := openPart([]byte(v1), "")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Field{"actor.name": {Value: "叶建华", Salt: []byte{1, 2}}, "actor.phone": {Value: "13858888888", Salt: []byte{3, 4}}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("version 1 map (-want +got):\n%s", diff)
	}
	got, err = openPart([]byte(`{"v":"330106198801011234","s":"BQY="}`), "actor.id_number")
	if err != nil {
		t.Fatal(err)
	}
	want = map[string]Field{"actor.id_number": {Value: "330106198801011234", Salt: []byte{5, 6}}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("version 1 single field (-want +got):\n%s", diff)
	}
}
