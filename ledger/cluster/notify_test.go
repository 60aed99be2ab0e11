package cluster

import (
	"bytes"
	"strings"
	"testing"
)

func TestParseTree(t *testing.T) {
	h1, h2 := bytes.Repeat([]byte{0xab}, 32), bytes.Repeat([]byte{0x01}, 32)
	for _, c := range []struct {
		name   string
		rest   string
		size   uint64
		hashes [][]byte // nil: no state
	}{
		{"with state", "3 " + strings.Repeat("ab", 32) + strings.Repeat("01", 32), 3, [][]byte{h1, h2}},
		{"empty tree", "0 ", 0, [][]byte{}},
		{"size only (older writers)", "17", 17, nil},
		{"not hex", "5 zz", 5, nil},
		{"not whole hashes", "5 abab", 5, nil},
		{"bad size", "x " + strings.Repeat("ab", 32), 0, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			size, st := parseTree(c.rest)
			if size != c.size {
				t.Errorf("size %d, want %d", size, c.size)
			}
			if c.hashes == nil {
				if st != nil {
					t.Errorf("state %+v, want none", st)
				}
				return
			}
			if st == nil || st.Size != c.size || len(st.Hashes) != len(c.hashes) {
				t.Fatalf("state %+v, want size %d and %d hashes", st, c.size, len(c.hashes))
			}
			for i := range c.hashes {
				if !bytes.Equal(st.Hashes[i], c.hashes[i]) {
					t.Errorf("hash %d: %x", i, st.Hashes[i])
				}
			}
		})
	}
}
