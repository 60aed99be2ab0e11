package evidence

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cunzheng/cunzheng/evidence/event"
)

func TestCodecRoundTrip(t *testing.T) {
	done := &claim{State: "done", Digest: []byte{1, 2}, Kind: event.KindContractSigned,
		Time: time.Date(2018, 11, 14, 9, 22, 36, 5, time.UTC), LeafHash: []byte{3}, Index: 1 << 40, TreeSize: 7,
		Contract: "ref", ContractID: "2125270852621565954", Name: "劳动合同", Subject: "s", SubjectKey: "k",
		Docs: []string{"a", "b"}, Pos: 3}
	pending := *done
	pending.State, pending.Leaf, pending.Sealed = "pending", []byte("{}"), []byte{9, 8, 7}
	failedDone, failedPending := *done, pending
	failedDone.Kind, failedDone.Failed = event.KindIntentVerified, true
	failedPending.Kind, failedPending.Failed = event.KindIntentVerified, true
	for _, tc := range []struct {
		c       *claim
		version byte
	}{{done, claimV1}, {&pending, claimV2}, {&failedDone, claimV1 | claimFailed}, {&failedPending, claimV2 | claimFailed}} {
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
		var es storedEntries
		if decodeEntries(b, func(e EventEntry) bool { es = append(es, e); return true }) == nil && len(es) > 1 {
			again, _ := es.MarshalBinary()
			if err := decodeEntries(again, func(EventEntry) bool { return true }); err != nil {
				t.Fatalf("re-encoded entries do not decode: %v", err)
			}
		}
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
	b, _ := (&docMatch{ContractID: "2125270852621565954", Index: 42, Kind: event.KindContractCompleted, Time: at}).MarshalBinary()
	if bytes.Contains(b, []byte("2125270852621565954")) {
		t.Error("document entry stores the contract number")
	}
	e := encoder{b: []byte{docMatchV1}}
	e.str("2125270852621565954")
	e.u64(42)
	e.str(string(event.KindContractCompleted))
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
		Kind: event.KindContractSigned, Time: at}
	m := &docMatch{Index: 42, Kind: event.KindContractCompleted, Time: at.UTC()}
	cr := &contractRecord{ID: "2125270852621565954", Name: "劳动合同", First: at, Last: at.Add(time.Hour),
		Status: event.KindContractCompleted, Events: 6, Subjects: []string{"a", "b"}}
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

// Several entries of one contract stored in one row read back in order,
// and a row of one entry, binary or JSON, reads as before.
func TestStoredEntries(t *testing.T) {
	at := time.Date(2026, 11, 24, 10, 22, 36, 123000000, time.FixedZone("", 8*3600))
	es := storedEntries{
		{Receipt: Receipt{ID: "e-1", Index: 42, LeafHash: "00ff", Checkpoint: 43}, Kind: event.KindContractSent, Time: at},
		{Receipt: Receipt{ID: "e-2", Index: 44, LeafHash: "ff00", Checkpoint: 45}, Kind: event.KindContractSigned, Time: at.Add(time.Minute)},
	}
	b, err := es.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	read := func(b []byte) ([]EventEntry, error) {
		var out []EventEntry
		err := decodeEntries(b, func(e EventEntry) bool { out = append(out, e); return true })
		return out, err
	}
	got, err := read(b)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(jsonOf(t, []EventEntry(es)), jsonOf(t, got)); diff != "" {
		t.Errorf("round trip (-in +out):\n%s", diff)
	}
	for i := range b {
		if _, err := read(b[:i]); err == nil {
			t.Errorf("truncated to %d bytes accepted", i)
		}
	}
	if _, err := read(append(b, 0)); err == nil {
		t.Error("trailing byte accepted")
	}
	if _, err := read([]byte{entriesV1, 0}); err == nil {
		t.Error("a row of no entries accepted")
	}
	one, _ := (*storedEntry)(&es[0]).MarshalBinary()
	for _, v := range [][]byte{one, []byte(jsonOf(t, es[0]))} {
		if got, err := read(v); err != nil || len(got) != 1 || got[0].ID != "e-1" {
			t.Errorf("one entry %q reads as %+v, %v", v, got, err)
		}
	}
	if _, err := (storedEntries{{Receipt: Receipt{LeafHash: "not hex"}}}).MarshalBinary(); err == nil {
		t.Error("entries with a malformed leaf hash encoded")
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
