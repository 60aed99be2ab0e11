package tlogfmt_test

import (
	"crypto/rand"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emmansun/gmsm/sm2"
	fnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/cunzheng/cunzheng/ledger/tlogfmt"
)

var update = flag.Bool("update", false, "regenerate testdata (new keys, new signatures)")

// The checked-in testdata is made by TestGenerateTestdata -update: an
// Ed25519 and an SM2/SM3 log key and a notary's cosignature/v1 key, signed
// as the ledger and an office sign (ledger's own test checks that its SM2
// signer agrees). Checked in, it pins the formats: a note signed once must
// verify forever.
const (
	testOrigin   = "test.cunzheng.example/log"
	testNotary   = "notary.test.cunzheng.example"
	testdataSize = 5 // leaves "leaf 0" … "leaf 4"
)

func testLeaves() [][]byte {
	var out [][]byte
	for i := range testdataSize {
		out = append(out, []byte("leaf "+string(rune('0'+i))))
	}
	return out
}

// testTree returns the RFC 6962 tree of testLeaves, computed by
// golang.org/x/mod/sumdb/tlog, as stored hashes and a reader over them.
func testTree(t testing.TB) (tlog.HashReaderFunc, tlog.Hash) {
	var stored []tlog.Hash
	r := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			out[i] = stored[x]
		}
		return out, nil
	})
	for i, l := range testLeaves() {
		hs, err := tlog.StoredHashes(int64(i), l, r)
		if err != nil {
			t.Fatal(err)
		}
		stored = append(stored, hs...)
	}
	root, err := tlog.TreeHash(testdataSize, r)
	if err != nil {
		t.Fatal(err)
	}
	return r, root
}

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestGenerateTestdata(t *testing.T) {
	if !*update {
		t.Skip("run with -update to regenerate testdata")
	}
	skey, edVKey, err := note.GenerateKey(rand.Reader, testOrigin)
	if err != nil {
		t.Fatal(err)
	}
	ed, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	priv, err := sm2.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sm := &sm2Signer{name: testOrigin, priv: priv}
	nskey, nvkey, err := note.GenerateKey(rand.Reader, testNotary)
	if err != nil {
		t.Fatal(err)
	}
	cosigner, err := fnote.NewSignerForCosignatureV1(nskey)
	if err != nil {
		t.Fatal(err)
	}
	cvkey, err := tlogfmt.CosignatureVerifierKey(nvkey)
	if err != nil {
		t.Fatal(err)
	}
	_, root := testTree(t)
	body := tlogfmt.Checkpoint{Origin: testOrigin, Size: testdataSize, Root: root}.Marshal()
	signed, err := note.Sign(&note.Note{Text: string(body)}, ed, sm)
	if err != nil {
		t.Fatal(err)
	}
	cosig, err := note.Sign(&note.Note{Text: string(body)}, cosigner)
	if err != nil {
		t.Fatal(err)
	}
	m := tlogfmt.Manifest{Format: tlogfmt.BundleFormat, ReportNumber: "CZ-TEST-1", Contract: "2125270852621565954",
		IssuedAt: time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC), Origin: testOrigin, Checkpoint: testdataSize,
		Events:      []tlogfmt.ManifestEvent{{Index: 3, Kind: "contract.signed", Leaf: "leaves/3.leaf", LeafHash: "00", Proof: "proofs/3.tlog-proof"}},
		Checkpoints: []tlogfmt.ManifestCheckpoint{{Size: testdataSize, Root: root.String(), Signed: "checkpoints/5.note.signed", Cosigned: "checkpoints/5.note"}},
		Keys:        tlogfmt.ManifestKeys{Log: []string{edVKey, sm.VerifierKey()}, Notary: []string{cvkey}},
		Files:       []tlogfmt.ManifestFile{{Path: "leaves/3.leaf", SHA256: strings.Repeat("0", 64)}},
	}
	mj, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{
		"log.vkey":            []byte(edVKey + "\n" + sm.VerifierKey() + "\n"),
		"notary.vkey":         []byte(cvkey + "\n"),
		"checkpoint.note":     signed,
		"checkpoint.cosigned": append(signed, cosig[len(body)+1:]...),
		"manifest.json":       append(mj, '\n'),
	} {
		if err := os.WriteFile(filepath.Join("testdata", name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// sm2Signer signs SM2/SM3 note lines the way ledger.SM2Signer does; the
// ledger is not imported here, to keep fuzzing builds small.
type sm2Signer struct {
	name string
	priv *sm2.PrivateKey
}

func (s *sm2Signer) Name() string    { return s.name }
func (s *sm2Signer) KeyHash() uint32 { return tlogfmt.SM2KeyHash(s.name, &s.priv.PublicKey) }
func (s *sm2Signer) Sign(msg []byte) ([]byte, error) {
	return s.priv.SignWithSM2(rand.Reader, nil, msg)
}
func (s *sm2Signer) VerifierKey() string { return tlogfmt.SM2VerifierKey(s.name, &s.priv.PublicKey) }
