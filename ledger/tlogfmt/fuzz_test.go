package tlogfmt_test

import (
	"bytes"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/cunzheng/cunzheng/ledger/tlogfmt"
)

// The fuzzers are seeded with the checked-in testdata (real keys, notes
// and a manifest made by the project's signers) and a few broken forms.
// Each checks a property, not only the absence of a panic.

func noteSeeds(f *testing.F) [][]byte {
	signed, cosigned := readTestdata(f, "checkpoint.note"), readTestdata(f, "checkpoint.cosigned")
	return [][]byte{signed, cosigned, cosigned[:len(cosigned)-1], bytes.Replace(cosigned, []byte("\n\n"), []byte("\n"), 1), []byte("a\n\n— b AAAAAAA=\n"), nil}
}

func FuzzNewVerifier(f *testing.F) {
	for _, name := range []string{"log.vkey", "notary.vkey"} {
		for _, k := range strings.Fields(string(readTestdata(f, name))) {
			f.Add(k)
			f.Add(withKeyID(k, "00000000"))
		}
	}
	f.Add("a+00000000+/w==")
	f.Add("+++")
	f.Fuzz(func(t *testing.T, vkey string) {
		for _, parse := range []func(string) (note.Verifier, error){tlogfmt.NewVerifier, tlogfmt.NewCosignatureVerifier} {
			v, err := parse(vkey)
			if err != nil {
				continue
			}
			if !tlogfmt.ValidKeyName(v.Name()) || !strings.HasPrefix(vkey, v.Name()+"+") {
				t.Fatalf("key %q parsed with name %q", vkey, v.Name())
			}
			v.Verify([]byte("x\n"), []byte("not a signature"))
		}
	})
}

func FuzzParseCheckpoint(f *testing.F) {
	for _, n := range noteSeeds(f) {
		text, _, _ := bytes.Cut(n, []byte("\n\n"))
		f.Add(append(text, '\n'))
		f.Add(n)
	}
	f.Fuzz(func(t *testing.T, text []byte) {
		c, err := tlogfmt.ParseCheckpoint(text)
		if err == nil && !bytes.Equal(c.Marshal(), text) {
			t.Fatalf("parsed %q as %+v, which marshals to %q", text, c, c.Marshal())
		}
	})
}

func FuzzParseSignatureLine(f *testing.F) {
	for _, n := range noteSeeds(f) {
		for _, l := range bytes.SplitAfter(n, []byte("\n")) {
			f.Add(l)
		}
	}
	f.Add([]byte("— \n"))
	f.Fuzz(func(t *testing.T, line []byte) {
		s, err := tlogfmt.ParseSignatureLine(line)
		if err != nil {
			return
		}
		if !bytes.Equal(tlogfmt.SignatureLine(s), line) || !tlogfmt.ValidKeyName(s.Name) {
			t.Fatalf("parsed %q as %+v", line, s)
		}
		tlogfmt.CosignatureTime(s)
	})
}

func FuzzSplitNote(f *testing.F) {
	for _, n := range noteSeeds(f) {
		f.Add(n)
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		text, sigs, err := tlogfmt.SplitNote(msg)
		if err != nil {
			return
		}
		var rebuilt []byte
		for _, s := range sigs {
			rebuilt = append(rebuilt, tlogfmt.SignatureLine(s)...)
		}
		if got := tlogfmt.AppendSignatures(append(bytes.Clone(text), '\n'), rebuilt); !bytes.Equal(got, msg) {
			t.Fatalf("split %q and rebuilt %q", msg, got)
		}
	})
}

// FuzzOpen opens hostile notes with the test keys: an opened note always
// has a checkpoint body and at least one verified signature.
func FuzzOpen(f *testing.F) {
	vs, err := tlogfmt.ParseVerifierKeys(append(readTestdata(f, "log.vkey"), readTestdata(f, "notary.vkey")...))
	if err != nil {
		f.Fatal(err)
	}
	for _, n := range noteSeeds(f) {
		f.Add(n)
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		sc, err := tlogfmt.Open(msg, note.VerifierList(vs...))
		if err != nil {
			return
		}
		if len(sc.Note.Sigs) == 0 || !bytes.HasPrefix(msg, sc.Marshal()) {
			t.Fatalf("opened %q as %+v", msg, sc)
		}
		_ = sc.RequireSigned(vs...)
	})
}

func FuzzParseHashLines(f *testing.F) {
	f.Add([]byte("NBUVmC1lDiNSDb1U1/zwr6G3DMOhakEdRk3JwayWwwE=\n\n"))
	f.Add([]byte("AAAA\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		hs, err := tlogfmt.ParseHashLines(data)
		if err != nil {
			return
		}
		back, err := tlogfmt.ParseHashLines(tlogfmt.MarshalHashLines(hs))
		if err != nil || len(back) != len(hs) {
			t.Fatalf("round trip of %q: %v", data, err)
		}
	})
}

func FuzzParseManifest(f *testing.F) {
	f.Add(readTestdata(f, "manifest.json"))
	f.Add([]byte(`{"format":"cunzheng-evidence-bundle/v1"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := tlogfmt.ParseManifest(data)
		if err == nil && (m.Format != tlogfmt.BundleFormat || len(m.Events) == 0 || len(m.Checkpoints) == 0) {
			t.Fatalf("accepted %+v", m)
		}
	})
}

// FuzzParseAddCheckpoint: a parsed tlog-witness request marshals back to
// the same bytes and keeps the spec's limits. (notary's FuzzParseRequest
// runs the same parser on requests its office tests recorded.)
func FuzzParseAddCheckpoint(f *testing.F) {
	signed := readTestdata(f, "checkpoint.note")
	f.Add(append([]byte("old 0\n\n"), signed...))
	f.Add(append([]byte("old 3\nNBUVmC1lDiNSDb1U1/zwr6G3DMOhakEdRk3JwayWwwE=\n\n"), signed...))
	f.Add([]byte("old 01\n\nx\n"))
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := tlogfmt.ParseAddCheckpoint(body)
		if err != nil {
			return
		}
		if len(r.Proof) > tlogfmt.MaxProofLines || len(r.Checkpoint) == 0 || (r.Old == 0 && len(r.Proof) > 0) || !bytes.Equal(r.Marshal(), body) {
			t.Fatalf("parsed %q as %+v", body, r)
		}
	})
}
