package event

import (
	"bytes"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// FuzzSealedPart: a part opens to the fields and salts it was built with;
// damaged plaintext is an error, never a panic.
func FuzzSealedPart(f *testing.F) {
	for _, s := range []string{"叶建华", `"quoted\"\\`, "\x00\x1f\u2028", ""} {
		f.Add(bytes.Repeat([]byte{7}, 32), "actor.name", s, []byte{2})
	}
	f.Fuzz(func(t *testing.T, seed []byte, path, value string, junk []byte) {
		_, _ = OpenPart(junk, "")
		_, _ = OpenPart(junk, "actor.id_number")
		if len(seed) != 32 || path == "actor.phone" {
			return
		}
		p := newSealedPart(seed)
		salt := p.add(path, value)
		phoneSalt := p.add("actor.phone", "13858888888")
		got, err := OpenPart(p.marshal(), "")
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
			if _, err := OpenPart(b[:i], ""); err == nil {
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
	if _, err := OpenPart(append(a.marshal(), 0), ""); err == nil {
		t.Error("trailing byte accepted")
	}
	dup := newSealedPart(bytes.Repeat([]byte{3}, 32))
	dup.add("actor.name", "x")
	dup.add("actor.name", "y")
	if _, err := OpenPart(dup.marshal(), ""); err == nil {
		t.Error("a field twice accepted")
	}
	v1 := `{"actor.name":{"v":"叶建华","s":"AQI="},"actor.phone":{"v":"13858888888","s":"AwQ="}}`
	got, err := OpenPart([]byte(v1), "")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Field{"actor.name": {Value: "叶建华", Salt: []byte{1, 2}}, "actor.phone": {Value: "13858888888", Salt: []byte{3, 4}}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("version 1 map (-want +got):\n%s", diff)
	}
	got, err = OpenPart([]byte(`{"v":"330106198801011234","s":"BQY="}`), "actor.id_number")
	if err != nil {
		t.Fatal(err)
	}
	want = map[string]Field{"actor.id_number": {Value: "330106198801011234", Salt: []byte{5, 6}}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("version 1 single field (-want +got):\n%s", diff)
	}
}
