package evidence

import (
	"encoding/json"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestCodecRoundTrip(t *testing.T) {
	c := &claim{State: "done", Digest: []byte{1, 2}, Kind: KindContractSigned,
		Time: time.Date(2018, 11, 14, 9, 22, 36, 5, time.UTC), LeafHash: []byte{3}, Index: 1 << 40, TreeSize: 7,
		Contract: "ref", ContractID: "2125270852621565954", Name: "劳动合同", Subject: "s", SubjectKey: "k",
		Docs: []string{"a", "b"}, Pos: 3}
	b, _ := c.MarshalBinary()
	var got claim
	if err := got.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(c, &got); diff != "" {
		t.Error(diff)
	}
	s := &sealedRecord{V: 1, Tenant: "t", Subject: "s", SubjectKey: "k", Personal: []byte{1}, Contract: []byte{2}}
	b, _ = s.MarshalBinary()
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

// The index entries keep the UTC offset the platform sent, as JSON did,
// and entries stored as JSON before the binary form are still read.
func TestIndexCodecs(t *testing.T) {
	cst := time.FixedZone("", 8*3600)
	at := time.Date(2026, 11, 24, 10, 22, 36, 123000000, cst)
	entry := &storedEntry{Receipt: Receipt{ID: "e-1", Index: 42, LeafHash: "00ff", Checkpoint: 43},
		Kind: KindContractSigned, Time: at}
	m := &docMatch{ContractID: "2125270852621565954", Index: 42, Kind: KindContractCompleted, Time: at.UTC()}
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

// FuzzSealedFieldsJSON: the hand-written JSON of sealed fields decodes, with
// encoding/json as OpenSealed reads it, to the fields that were written.
func FuzzSealedFieldsJSON(f *testing.F) {
	for _, s := range []string{"叶建华", `"quoted\"\\`, "\x00\x1f\u2028\u2029", "<&>", "😀", ""} {
		f.Add("actor.name", s, []byte{1, 2, 3})
	}
	f.Fuzz(func(t *testing.T, path, value string, salt []byte) {
		if !utf8.ValidString(path) || !utf8.ValidString(value) {
			t.Skip("events are valid UTF-8: the strict decoder refuses anything else")
		}
		in := map[string]sealedField{path: {V: value, S: salt}, "actor.phone": {V: "13858888888", S: []byte{9}}}
		var out map[string]sealedField
		if err := json.Unmarshal(appendSealedFields(nil, in), &out); err != nil {
			t.Fatalf("%q: %v", appendSealedFields(nil, in), err)
		}
		if diff := cmp.Diff(in, out, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("(-written +read):\n%s", diff)
		}
		var one sealedField
		if err := json.Unmarshal(appendSealedField(nil, in[path]), &one); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(in[path], one, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("(-written +read):\n%s", diff)
		}
	})
}
