//go:build linux && cgo

package startup

import (
	"encoding/binary"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// synthELF builds the start of an ELF file of the given class (1: 32-bit,
// 2: 64-bit) and byte order with one PT_NOTE segment holding a GNU note and
// then the Go build ID note.
func synthELF(class byte, order binary.ByteOrder, id string) []byte {
	h := make([]byte, 512)
	copy(h, "\x7fELF")
	h[4] = class
	h[5] = 1
	if order == binary.BigEndian {
		h[5] = 2
	}
	const phoff, notes = 64, 256
	var notesz int
	note := func(off int, name string, tag uint32, desc string) int {
		padded := func(n int) int { return (n + 3) &^ 3 }
		order.PutUint32(h[off:], uint32(len(name)))
		order.PutUint32(h[off+4:], uint32(len(desc)))
		order.PutUint32(h[off+8:], tag)
		copy(h[off+12:], name)
		copy(h[off+12+padded(len(name)):], desc)
		return 12 + padded(len(name)) + padded(len(desc))
	}
	notesz += note(notes, "GNU\x00", 3, "0123456789abcdef0123")
	notesz += note(notes+notesz, "Go\x00\x00", 4, id)
	if class == 1 {
		order.PutUint32(h[28:], phoff)
		order.PutUint16(h[42:], 32)
		order.PutUint16(h[44:], 2)
		order.PutUint32(h[phoff:], 1) // PT_LOAD first
		order.PutUint32(h[phoff+32:], 4)
		order.PutUint32(h[phoff+32+4:], notes)
		order.PutUint32(h[phoff+32+16:], uint32(notesz))
	} else {
		order.PutUint64(h[32:], phoff)
		order.PutUint16(h[54:], 56)
		order.PutUint16(h[56:], 2)
		order.PutUint32(h[phoff:], 1)
		order.PutUint32(h[phoff+56:], 4)
		order.PutUint64(h[phoff+56+8:], notes)
		order.PutUint64(h[phoff+56+32:], uint64(notesz))
	}
	return h[:notes+notesz]
}

func TestELFGoBuildID(t *testing.T) {
	const id = "abc/def-ghi_jkl/mno"
	for _, tc := range []struct {
		name  string
		class byte
		order binary.ByteOrder
	}{
		{"64-bit little-endian", 2, binary.LittleEndian},
		{"64-bit big-endian", 2, binary.BigEndian},
		{"32-bit little-endian", 1, binary.LittleEndian},
		{"32-bit big-endian", 1, binary.BigEndian},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := synthELF(tc.class, tc.order, id)
			if got, ok := elfGoBuildID(h); !ok || got != id {
				t.Fatalf("got %q, %v; want %q", got, ok, id)
			}
			// Every truncation, and every corruption of the magic, class and
			// byte order, is refused without reading past the end.
			for n := 0; n < len(h); n++ {
				if got, ok := elfGoBuildID(h[:n]); ok {
					t.Fatalf("truncated to %d bytes: got %q", n, got)
				}
			}
			for _, at := range []int{0, 3, 4, 5} {
				bad := append([]byte(nil), h...)
				bad[at] = 0x7e
				if got, ok := elfGoBuildID(bad); ok {
					t.Errorf("byte %d corrupted: got %q", at, got)
				}
			}
		})
	}
}

// TestELFGoBuildIDOfThisBinary reads this test binary's build ID from its
// first 4 KiB, as the hand-over reads the verifier's, and compares it with
// what go tool buildid says.
func TestELFGoBuildIDOfThisBinary(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(exe)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	head := make([]byte, 4096)
	n, _ := f.ReadAt(head, 0)
	got, ok := elfGoBuildID(head[:n])
	out, err := exec.Command("go", "tool", "buildid", exe).Output()
	if err != nil {
		t.Fatalf("go tool buildid: %v", err)
	}
	if want := strings.TrimSpace(string(out)); !ok || got != want {
		t.Fatalf("got %q, %v; go tool buildid says %q", got, ok, want)
	}
}

// TestVerifierNotBuiltIn: a test binary has no verifier build ID built in,
// so there is nothing to hand over to.
func TestVerifierNotBuiltIn(t *testing.T) {
	if p, ok := Verifier(); ok {
		t.Fatalf("Verifier() = %q, true in a binary built without an ID", p)
	}
}

func FuzzELFGoBuildID(f *testing.F) {
	f.Add(synthELF(2, binary.LittleEndian, "a/b"))
	f.Add(synthELF(1, binary.BigEndian, "a/b/c/d"))
	f.Add([]byte("\x7fELF"))
	f.Fuzz(func(t *testing.T, head []byte) {
		if id, ok := elfGoBuildID(head); ok && len(id) > len(head) {
			t.Fatalf("an ID of %d bytes from %d", len(id), len(head))
		}
	})
}
