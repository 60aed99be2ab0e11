package report

import (
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"
)

// FuzzParseCheckpoint feeds hostile notes and cosignature lines to the
// parser the reports use: it must return an error, never panic.
func FuzzParseCheckpoint(f *testing.F) {
	f.Add([]byte("cunzheng.example/log\n46\nVy3jfhbkRkRLTkL+G3Vwu5aVsjq7LC9i9ac0IP477fk=\n\n— cunzheng.example/log fjgN/w==\n"), []byte("— notary-hangzhou.example AAAA\n"), uint64(46))
	f.Add([]byte(""), []byte(""), uint64(0))
	f.Add([]byte("a\n\n— "), []byte("—"), uint64(1))
	f.Fuzz(func(t *testing.T, note, cosig []byte, size uint64) {
		c := Checkpoint{Size: size, Note: note, Cosignatures: [][]byte{cosig}}
		if ni, err := parseCheckpoint(c); err == nil && (ni.Size != size || ni.Root != (tlog.Hash{})) {
			t.Fatalf("parsed %+v for size %d and zero root", ni, size)
		}
	})
}

// FuzzText renders hostile text through the layout engine.
func FuzzText(f *testing.F) {
	f.Add("劳动合同 😀 \xff\x00 " + "x")
	f.Add("")
	d := newDoc(nil, "t", "t", "n", "i", time.Time{})
	d.pdf.AddPage()
	f.Fuzz(func(t *testing.T, s string) {
		d.font(9)
		for _, w := range []float64{0, 1, 20, contentW} {
			_ = d.split(s, w)
		}
		d.pdf.SetXY(marginL, marginT)
		d.cell(40, 5, s, "L", false, false)
		if d.pdf.Err() {
			t.Fatal(d.pdf.Error())
		}
	})
}
