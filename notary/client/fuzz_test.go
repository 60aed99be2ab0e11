package client

import (
	"bytes"
	"context"
	"testing"

	fnote "github.com/transparency-dev/formats/note"
)

// FuzzVerifyCosignature: whatever an office answers, the pusher keeps a
// line only if it is a valid cosignature by that office over the note.
func FuzzVerifyCosignature(f *testing.F) {
	lg := newTestLog(f, "cunzheng.example/log")
	lg.Append(2)
	s := lg.Publish()
	o := newTestOffice(f, f.TempDir(), lg.logKey())
	f.Cleanup(func() { o.Close() })
	good, err := o.AddCheckpoint(context.Background(), req(0, nil, lg.Notes[s]))
	if err != nil {
		f.Fatal(err)
	}
	v, err := fnote.NewVerifierForCosignatureV1(o.VerifierKey())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte("— notary.test AAAA\n"))
	f.Add(append(bytes.Clone(good), good...))
	f.Fuzz(func(t *testing.T, answer []byte) {
		line, err := verifyCosignature(v, lg.Notes[s], answer)
		if err != nil {
			return
		}
		if cerr := checkCosig(o, lg.Notes[s], line); cerr != nil {
			t.Fatalf("kept a line that does not verify: %v", cerr)
		}
	})
}
