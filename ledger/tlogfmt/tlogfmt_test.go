package tlogfmt_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/cunzheng/cunzheng/ledger/tlogfmt"
)

func testKeys(t testing.TB) (ed, sm2, cosig string) {
	t.Helper()
	log := strings.Fields(string(readTestdata(t, "log.vkey")))
	notary := strings.Fields(string(readTestdata(t, "notary.vkey")))
	return log[0], log[1], notary[0]
}

// withKeyID returns vkey with its key ID replaced.
func withKeyID(vkey, id string) string {
	p := strings.SplitN(vkey, "+", 3)
	return p[0] + "+" + id + "+" + p[2]
}

func TestVerifierKeys(t *testing.T) {
	ed, sm, cosig := testKeys(t)
	edPub, _ := base64.StdEncoding.DecodeString(strings.SplitN(ed, "+", 3)[2])
	unknownFF := "x+00000000+" + base64.StdEncoding.EncodeToString(append([]byte{0xff}, "other/type"...))
	for _, tc := range []struct {
		name         string
		vkey         string
		wantType     string // %T of the verifier, "" when refused
		wantErr      error
		cosigType    string
		wantCosigErr error
	}{
		{"log ed25519", ed, "*note.verifier", nil, "*note.verifier", nil},
		{"log sm2", sm, "*tlogfmt.SM2Verifier", nil, "", tlogfmt.ErrKeyRole},
		{"notary cosignature/v1", cosig, "*note.verifier", nil, "*note.verifier", nil},
		{"wrong key ID ed25519", withKeyID(ed, "00000000"), "", tlogfmt.ErrMalformedKey, "", tlogfmt.ErrMalformedKey},
		{"wrong key ID sm2", withKeyID(sm, "00000000"), "", tlogfmt.ErrMalformedKey, "", tlogfmt.ErrKeyRole},
		{"wrong key ID cosignature", withKeyID(cosig, "00000000"), "", tlogfmt.ErrMalformedKey, "", tlogfmt.ErrMalformedKey},
		{"unknown 0xff identifier", unknownFF, "", tlogfmt.ErrKeyType, "", tlogfmt.ErrKeyType},
		{"unknown type byte", "x+00000000+" + base64.StdEncoding.EncodeToString(append([]byte{0x42}, edPub[1:]...)), "", tlogfmt.ErrKeyType, "", tlogfmt.ErrKeyRole},
		{"no key ID", "name+" + strings.SplitN(ed, "+", 3)[2], "", tlogfmt.ErrMalformedKey, "", tlogfmt.ErrMalformedKey},
		{"not base64", "name+01234567+!!!", "", tlogfmt.ErrMalformedKey, "", tlogfmt.ErrMalformedKey},
		{"space in name", "a b+01234567+AQ==", "", tlogfmt.ErrMalformedKey, "", tlogfmt.ErrMalformedKey},
		{"empty", "", "", tlogfmt.ErrMalformedKey, "", tlogfmt.ErrMalformedKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := tlogfmt.NewVerifier(tc.vkey)
			check(t, "NewVerifier", v, err, tc.wantType, tc.wantErr)
			cv, err := tlogfmt.NewCosignatureVerifier(tc.vkey)
			check(t, "NewCosignatureVerifier", cv, err, tc.cosigType, tc.wantCosigErr)
		})
	}
}

func check(t *testing.T, fn string, v note.Verifier, err error, wantType string, wantErr error) {
	t.Helper()
	if wantErr != nil {
		var ke *tlogfmt.KeyError
		if !errors.Is(err, wantErr) || !errors.As(err, &ke) {
			t.Errorf("%s: err = %v, want %v in a *KeyError", fn, err, wantErr)
		}
		return
	}
	if err != nil {
		t.Fatalf("%s: %v", fn, err)
	}
	if got := typeName(v); got != wantType {
		t.Errorf("%s: verifier %s, want %s", fn, got, wantType)
	}
}

func typeName(v note.Verifier) string {
	if _, ok := v.(*tlogfmt.SM2Verifier); ok {
		return "*tlogfmt.SM2Verifier"
	}
	return "*note.verifier" // x/mod's and transparency-dev's unexported verifier types
}

// TestEd25519AsCosignature: a notary key given as plain Ed25519 (0x01) is
// read as the cosignature/v1 key of the same public key, so it verifies
// the office's cosignature exactly as the 0x04 key does.
func TestEd25519AsCosignature(t *testing.T) {
	pub, _, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := note.NewEd25519VerifierKey("w.example", pub)
	if err != nil {
		t.Fatal(err)
	}
	typed, err := tlogfmt.CosignatureVerifierKey(plain)
	if err != nil {
		t.Fatal(err)
	}
	a, err := tlogfmt.NewCosignatureVerifier(plain)
	if err != nil {
		t.Fatal(err)
	}
	b, err := tlogfmt.NewCosignatureVerifier(typed)
	if err != nil {
		t.Fatal(err)
	}
	if a.Name() != b.Name() || a.KeyHash() != b.KeyHash() {
		t.Errorf("0x01 read as cosigner %s/%08x, 0x04 key %s/%08x", a.Name(), a.KeyHash(), b.Name(), b.KeyHash())
	}
	if p, _ := tlogfmt.NewVerifier(plain); p.KeyHash() == b.KeyHash() {
		t.Error("as a plain key, the 0x01 key must keep its own key ID")
	}
}

func TestParseVerifierKeys(t *testing.T) {
	file := append(append([]byte("# the log\n\n"), readTestdata(t, "log.vkey")...), readTestdata(t, "notary.vkey")...)
	vs, err := tlogfmt.ParseVerifierKeys(file)
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != 3 {
		t.Fatalf("%d keys, want 3", len(vs))
	}
	if _, err := tlogfmt.ParseVerifierKeys([]byte("# nothing\n")); err == nil {
		t.Error("a file without keys was accepted")
	}
	_, err = tlogfmt.ParseVerifierKeys(append(bytes.Clone(file), "bogus\n"...))
	if err == nil || !strings.Contains(err.Error(), "line 6") {
		t.Errorf("bad key: err = %v, want it to name line 6", err)
	}
}

func TestOpenCheckpoint(t *testing.T) {
	ed, sm, cosig := testKeys(t)
	var vs []note.Verifier
	for _, k := range []string{ed, sm, cosig} {
		v, err := tlogfmt.NewVerifier(k)
		if err != nil {
			t.Fatal(err)
		}
		vs = append(vs, v)
	}
	_, root := testTree(t)
	signed := readTestdata(t, "checkpoint.note")
	cosigned := readTestdata(t, "checkpoint.cosigned")

	sc, err := tlogfmt.Open(cosigned, note.VerifierList(vs...))
	if err != nil {
		t.Fatal(err)
	}
	if sc.Origin != testOrigin || sc.Size != testdataSize || sc.Root != root {
		t.Errorf("opened %s %d %s, want %s %d %s", sc.Origin, sc.Size, sc.Root, testOrigin, testdataSize, root)
	}
	if err := sc.RequireSigned(vs...); err != nil {
		t.Error(err)
	}
	if got := strings.Join(sc.Signers(), ","); got != testOrigin+","+testOrigin+","+testNotary {
		t.Errorf("signers %s", got)
	}
	sig, _ := sc.Signature(vs[2])
	if at, ok := tlogfmt.CosignatureTime(sig); !ok || at.Before(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("cosignature time %v %v", at, ok)
	}

	// The note as the log signed it lacks the notary: demanding it fails
	// with a MissingSignatureError naming it.
	sc, err = tlogfmt.Open(signed, note.VerifierList(vs...))
	if err != nil {
		t.Fatal(err)
	}
	var missing *tlogfmt.MissingSignatureError
	if err := sc.RequireSigned(vs...); !errors.As(err, &missing) || missing.Name != testNotary {
		t.Errorf("RequireSigned without the notary: %v", err)
	}

	// A broken SM2 line rejects the note when the SM2 key is known, and is
	// ignored when only the Ed25519 key is.
	lines := strings.Split(strings.TrimSuffix(string(signed), "\n"), "\n")
	last := []byte(lines[len(lines)-1])
	last[len(last)-6] ^= 1
	lines[len(lines)-1] = string(last)
	broken := []byte(strings.Join(lines, "\n") + "\n")
	var invalid *note.InvalidSignatureError
	if _, err := tlogfmt.Open(broken, note.VerifierList(vs[1])); !errors.As(err, &invalid) {
		t.Errorf("broken SM2 line: err = %v, want *note.InvalidSignatureError", err)
	}
	if _, err := tlogfmt.Open(broken, note.VerifierList(vs[0])); err != nil {
		t.Errorf("broken SM2 line, Ed25519 key only: %v", err)
	}
	var unverified *note.UnverifiedNoteError
	if _, err := tlogfmt.Open(signed, note.VerifierList(vs[2])); !errors.As(err, &unverified) {
		t.Errorf("no known signer: err = %v, want *note.UnverifiedNoteError", err)
	}
	if _, err := tlogfmt.Open(signed, nil); err == nil {
		t.Error("Open without keys succeeded")
	}
}

func TestParseCheckpoint(t *testing.T) {
	root := "NBUVmC1lDiNSDb1U1/zwr6G3DMOhakEdRk3JwayWwwE="
	for _, tc := range []struct {
		name, text string
		ok         bool
	}{
		{"plain", "o\n5\n" + root + "\n", true},
		{"empty tree", "o\n0\n" + root + "\n", true},
		{"extension", "o\n5\n" + root + "\next\n", true},
		{"empty extension", "o\n5\n" + root + "\n\n", false},
		{"no final newline", "o\n5\n" + root, false},
		{"leading zero", "o\n05\n" + root + "\n", false},
		{"sign", "o\n+5\n" + root + "\n", false},
		{"too large", "o\n18446744073709551616\n" + root + "\n", false},
		{"empty origin", "\n5\n" + root + "\n", false},
		{"short root", "o\n5\nAAAA\n", false},
		{"unpadded root", "o\n5\n" + strings.TrimSuffix(root, "=") + "\n", false},
		{"two lines", "o\n5\n", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := tlogfmt.ParseCheckpoint([]byte(tc.text))
			if (err == nil) != tc.ok {
				t.Fatalf("ParseCheckpoint(%q) = %+v, %v; want ok %v", tc.text, c, err, tc.ok)
			}
			if err != nil && !errors.Is(err, tlogfmt.ErrMalformed) {
				t.Errorf("error %v does not wrap ErrMalformed", err)
			}
			if err == nil && string(c.Marshal()) != tc.text {
				t.Errorf("Marshal = %q, want %q", c.Marshal(), tc.text)
			}
		})
	}
}

func TestSignatureLines(t *testing.T) {
	sigs76 := make([]byte, 76)
	binary.BigEndian.PutUint32(sigs76, 0xfd367c98)
	binary.BigEndian.PutUint64(sigs76[4:], 1700000000)
	b76 := base64.StdEncoding.EncodeToString(sigs76)
	for _, tc := range []struct {
		name, line string
		ok         bool
		hash       uint32
		at         time.Time
	}{
		{"cosignature", "— n.example " + b76 + "\n", true, 0xfd367c98, time.Unix(1700000000, 0).UTC()},
		{"plain ed25519", "— n.example " + base64.StdEncoding.EncodeToString(sigs76[:68]) + "\n", true, 0xfd367c98, time.Time{}},
		{"no newline", "— n.example " + b76, false, 0, time.Time{}},
		{"two lines", "— n.example " + b76 + "\n— n.example " + b76 + "\n", false, 0, time.Time{}},
		{"hyphen", "- n.example " + b76 + "\n", false, 0, time.Time{}},
		{"short", "— n.example AAAA\n", false, 0, time.Time{}},
		{"plus in name", "— n+x " + b76 + "\n", false, 0, time.Time{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := tlogfmt.ParseSignatureLine([]byte(tc.line))
			if (err == nil) != tc.ok {
				t.Fatalf("ParseSignatureLine(%q) = %+v, %v; want ok %v", tc.line, s, err, tc.ok)
			}
			if !tc.ok {
				return
			}
			if s.Hash != tc.hash || string(tlogfmt.SignatureLine(s)) != tc.line {
				t.Errorf("parsed %+v, formats back as %q", s, tlogfmt.SignatureLine(s))
			}
			at, ok := tlogfmt.CosignatureTime(s)
			if ok != !tc.at.IsZero() || !at.Equal(tc.at) {
				t.Errorf("CosignatureTime = %v %v, want %v", at, ok, tc.at)
			}
		})
	}
	big := bytes.Clone(sigs76)
	binary.BigEndian.PutUint64(big[4:], 1<<63)
	if _, ok := tlogfmt.CosignatureTime(note.Signature{Base64: base64.StdEncoding.EncodeToString(big)}); ok {
		t.Error("a timestamp above 2^63-1 was accepted")
	}
}

func TestSplitNote(t *testing.T) {
	cosigned := readTestdata(t, "checkpoint.cosigned")
	text, sigs, err := tlogfmt.SplitNote(cosigned)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tlogfmt.ParseCheckpoint(text); err != nil {
		t.Fatal(err)
	}
	if len(sigs) != 3 || sigs[2].Name != testNotary {
		t.Fatalf("signatures %+v", sigs)
	}
	var rebuilt []byte
	for _, s := range sigs {
		rebuilt = append(rebuilt, tlogfmt.SignatureLine(s)...)
	}
	if got := tlogfmt.AppendSignatures(append(text, '\n'), rebuilt); !bytes.Equal(got, cosigned) {
		t.Errorf("split and rebuilt note differs:\n%s", got)
	}
	for _, bad := range []string{"no block\n", "a\n\n", "a\n\n— x AAAAAAA=", "a\x01\n\n— x AAAAAAAA\n"} {
		if _, _, err := tlogfmt.SplitNote([]byte(bad)); err == nil {
			t.Errorf("SplitNote(%q) succeeded", bad)
		}
	}
}

func TestProofs(t *testing.T) {
	r, root := testTree(t)
	for i, leaf := range testLeaves() {
		p, err := tlog.ProveRecord(testdataSize, int64(i), r)
		if err != nil {
			t.Fatal(err)
		}
		if err := tlogfmt.CheckInclusion(p, uint64(i), testdataSize, tlogfmt.LeafHash(leaf), root); err != nil {
			t.Errorf("leaf %d: %v", i, err)
		}
		if err := tlogfmt.CheckInclusion(p, uint64(i), testdataSize, tlogfmt.LeafHash([]byte("other")), root); err == nil {
			t.Errorf("leaf %d: another leaf's hash was accepted", i)
		}
	}
	for old := int64(1); old < testdataSize; old++ {
		p, err := tlog.ProveTree(testdataSize, old, r)
		if err != nil {
			t.Fatal(err)
		}
		oldRoot, err := tlog.TreeHash(old, r)
		if err != nil {
			t.Fatal(err)
		}
		if err := tlogfmt.CheckConsistency(p, uint64(old), testdataSize, oldRoot, root); err != nil {
			t.Errorf("%d -> %d: %v", old, testdataSize, err)
		}
		if err := tlogfmt.CheckConsistency(p, uint64(old), testdataSize, root, root); err == nil {
			t.Errorf("%d -> %d: a wrong old root was accepted", old, testdataSize)
		}
		back, err := tlogfmt.ParseHashLines(tlogfmt.MarshalHashLines(p))
		if err != nil || len(back) != len(p) {
			t.Errorf("hash lines round trip: %v", err)
		}
	}
	if _, err := tlogfmt.HashesFromBytes([][]byte{make([]byte, 31)}); !errors.Is(err, tlogfmt.ErrMalformed) {
		t.Errorf("31-byte hash: %v", err)
	}
}

func TestParseManifest(t *testing.T) {
	good := readTestdata(t, "manifest.json")
	m, err := tlogfmt.ParseManifest(good)
	if err != nil {
		t.Fatal(err)
	}
	if m.Checkpoint != testdataSize || len(m.Keys.Log) != 2 {
		t.Errorf("manifest %+v", m)
	}
	for name, bad := range map[string]string{
		"unknown field": strings.Replace(string(good), `"format"`, `"formats": 1, "format"`, 1),
		"other format":  strings.Replace(string(good), tlogfmt.BundleFormat, "cunzheng-evidence-bundle/v2", 1),
		"no events":     noEvents(t, good),
		"not json":      "{",
	} {
		if _, err := tlogfmt.ParseManifest([]byte(bad)); !errors.Is(err, tlogfmt.ErrMalformed) {
			t.Errorf("%s: err = %v, want ErrMalformed", name, err)
		}
	}
}

func noEvents(t *testing.T, good []byte) string {
	var m tlogfmt.Manifest
	if err := json.Unmarshal(good, &m); err != nil {
		t.Fatal(err)
	}
	m.Events = nil
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
