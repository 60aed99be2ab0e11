package evidence

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
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
	})
}
