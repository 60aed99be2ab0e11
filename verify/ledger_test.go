package verify

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// memLedger is an in-memory ledger index: a real RFC 6962 tree over leaves
// that name document hashes, with a signed checkpoint.
type memLedger struct {
	hashes   []tlog.Hash // stored hashes, tlog layout
	leaves   [][]byte
	docs     map[[32]byte]int
	note     []byte
	tamper   bool
	origin   string
	signer   note.Signer
	verifier note.Verifier
}

func newMemLedger(t *testing.T, origin string) *memLedger {
	skey, vkey, err := note.GenerateKey(rand.Reader, origin)
	if err != nil {
		t.Fatal(err)
	}
	s, _ := note.NewSigner(skey)
	v, _ := note.NewVerifier(vkey)
	return &memLedger{docs: map[[32]byte]int{}, origin: origin, signer: s, verifier: v}
}

func (m *memLedger) hashReader() tlog.HashReaderFunc {
	return func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			out[i] = m.hashes[x]
		}
		return out, nil
	}
}

func (m *memLedger) add(t *testing.T, leaf []byte, doc *[32]byte) {
	n := int64(len(m.leaves))
	hs, err := tlog.StoredHashes(n, leaf, m.hashReader())
	if err != nil {
		t.Fatal(err)
	}
	m.hashes = append(m.hashes, hs...)
	m.leaves = append(m.leaves, leaf)
	if doc != nil {
		m.docs[*doc] = int(n)
	}
	root, err := tlog.TreeHash(n+1, m.hashReader())
	if err != nil {
		t.Fatal(err)
	}
	body := fmt.Sprintf("%s\n%d\n%s\n", m.origin, n+1, base64.StdEncoding.EncodeToString(root[:]))
	m.note, err = note.Sign(&note.Note{Text: body}, m.signer)
	if err != nil {
		t.Fatal(err)
	}
}

func (m *memLedger) LookupDocument(ctx context.Context, sum [32]byte) (LedgerRecord, error) {
	i, ok := m.docs[sum]
	if !ok {
		return LedgerRecord{}, fmt.Errorf("memLedger: %w", ErrNotRecorded)
	}
	size := int64(len(m.leaves))
	proof, err := tlog.ProveRecord(size, int64(i), m.hashReader())
	if err != nil {
		return LedgerRecord{}, err
	}
	if m.tamper && len(proof) > 0 {
		proof[0][0] ^= 1
	}
	return LedgerRecord{ContractNumber: "HT-2026-0001", LeafIndex: uint64(i), Leaf: m.leaves[i], Proof: proof, Checkpoint: m.note}, nil
}

// TestLedgerLookup checks that the report carries a ledger record whose
// inclusion proof and checkpoint signature verify, for the whole file and
// for a signed revision, and that a forged proof is reported as such.
func TestLedgerLookup(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(corpus, "update-annotation.pdf"))
	if err != nil {
		t.Fatal(err)
	}
	l := newMemLedger(t, "cunzheng.example/log")
	for i := 0; i < 5; i++ {
		l.add(t, []byte(fmt.Sprintf("other leaf %d", i)), nil)
	}
	file := sha256.Sum256(b)
	l.add(t, []byte(fmt.Sprintf(`{"kind":"contract.completed","time":"2026-01-02T03:04:05Z","data":{"files":[{"sha256":"%x"}]}}`, file)), &file)
	for i := 0; i < 3; i++ {
		l.add(t, []byte(fmt.Sprintf("later leaf %d", i)), nil)
	}
	opts := testOptions(t)
	opts.Lookup = l
	opts.LedgerVerifiers = note.VerifierList(l.verifier)
	opts.LedgerOrigin = "cunzheng.example/log"
	rep, err := verifyFile(t, filepath.Join(corpus, "update-annotation.pdf"), opts)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Ledger == nil || !rep.Ledger.ProofOK || rep.Ledger.LeafIndex != 5 || rep.Ledger.TreeSize != 9 {
		t.Fatalf("file ledger record = %+v, want a checked proof for leaf 5 of 9", rep.Ledger)
	}
	if rep.Ledger.Kind != "contract.completed" || !rep.Ledger.SignedAt.Equal(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)) {
		t.Errorf("record kind %q at %v, want contract.completed at the leaf's time", rep.Ledger.Kind, rep.Ledger.SignedAt)
	}
	if len(rep.Ledger.SignedBy) != 1 || rep.Ledger.SignedBy[0] != "cunzheng.example/log" {
		t.Errorf("signed by %v", rep.Ledger.SignedBy)
	}
	if rep.Signatures[0].Ledger != nil {
		t.Errorf("the signed revision is not in the ledger but got %+v", rep.Signatures[0].Ledger)
	}

	// The signed revision (the file before the annotation) recorded too.
	rev, _ := hex.DecodeString(rep.Signatures[0].RevisionSHA256)
	var revSum [32]byte
	copy(revSum[:], rev)
	l.add(t, []byte(`{"kind":"contract.signed","time":"2026-01-02T03:04:05Z","data":{"document":{"sha256":"`+rep.Signatures[0].RevisionSHA256+`"}}}`), &revSum)
	rep, err = verifyFile(t, filepath.Join(corpus, "update-annotation.pdf"), opts)
	if err != nil {
		t.Fatal(err)
	}
	if sl := rep.Signatures[0].Ledger; sl == nil || !sl.ProofOK || sl.LeafIndex != 9 || sl.DocumentHex != rep.Signatures[0].RevisionSHA256 {
		t.Fatalf("signed revision ledger record = %+v", sl)
	}

	l.tamper = true
	rep, err = verifyFile(t, filepath.Join(corpus, "update-annotation.pdf"), opts)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Ledger == nil || rep.Ledger.ProofOK || rep.Ledger.Problem == "" {
		t.Fatalf("forged proof accepted: %+v", rep.Ledger)
	}

	l.tamper = false
	opts.LedgerVerifiers = nil
	rep, _ = verifyFile(t, filepath.Join(corpus, "update-annotation.pdf"), opts)
	if rep.Ledger == nil || rep.Ledger.ProofOK {
		t.Fatalf("record checked without verifier keys: %+v", rep.Ledger)
	}
}

// TestCheckLedgerRecordLeaves checks that what a record says comes from its
// checked leaves: a leaf that does not name the document is refused, a
// report.issued leaf gives its report number, and every further event is
// checked on its own.
func TestCheckLedgerRecordLeaves(t *testing.T) {
	l := newMemLedger(t, "cunzheng.example/log")
	doc := strings.Repeat("ab", 32)
	leaves := []string{
		`{"kind":"contract.sent","time":"2026-01-01T00:00:00Z","data":{"files":[{"sha256":"` + doc + `"}]}}`,
		`{"kind":"contract.signed","time":"2026-01-02T00:00:00Z","data":{"document":{"sha256":"` + doc + `"}}}`,
		`{"kind":"report.issued","time":"2026-01-03T00:00:00Z","logged":"2026-01-03T00:00:01Z","data":{"report":"CZ-1","document":"certificate","sha256":"` + doc + `"}}`,
		`{"kind":"contract.signed","time":"2026-01-04T00:00:00Z","data":{"document":{"sha256":"` + strings.Repeat("cd", 32) + `"}}}`,
	}
	for _, lf := range leaves {
		l.add(t, []byte(lf), nil)
	}
	rec := func(i uint64, events ...uint64) LedgerRecord {
		r := LedgerRecord{LeafIndex: i, Leaf: l.leaves[i], Checkpoint: l.note, DocumentHex: doc}
		r.Proof, _ = tlog.ProveRecord(int64(len(l.leaves)), int64(i), l.hashReader())
		for _, e := range events {
			p, _ := tlog.ProveRecord(int64(len(l.leaves)), int64(e), l.hashReader())
			r.Events = append(r.Events, LedgerEvent{LeafIndex: e, Leaf: l.leaves[e], Proof: p})
		}
		return r
	}
	vs := note.VerifierList(l.verifier)
	tests := []struct {
		name        string
		rec         LedgerRecord
		wantOK      bool
		wantKind    string
		wantReport  string
		wantProblem string
		wantEvents  []string
	}{
		{"signing", rec(1, 0, 1, 2), true, "contract.signed", "", "", []string{"contract.sent ok", "contract.signed ok", "report.issued ok"}},
		{"issued report", rec(2), true, "report.issued", "CZ-1", "", nil},
		{"leaf of another document", rec(3), false, "", "", "does not name document", nil},
		{"event of another document", rec(1, 3), true, "contract.signed", "", "", []string{" bad"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.rec
			CheckLedgerRecord(&r, "cunzheng.example/log", vs)
			if r.ProofOK != tt.wantOK || r.Kind != tt.wantKind || r.Report != tt.wantReport || !strings.Contains(r.Problem, tt.wantProblem) {
				t.Fatalf("got ok=%v kind=%q report=%q problem=%q, want %v %q %q %q", r.ProofOK, r.Kind, r.Report, r.Problem, tt.wantOK, tt.wantKind, tt.wantReport, tt.wantProblem)
			}
			var got []string
			for _, e := range r.Events {
				s := e.Kind + " ok"
				if !e.ProofOK {
					s = e.Kind + " bad"
				}
				got = append(got, s)
			}
			if strings.Join(got, ",") != strings.Join(tt.wantEvents, ",") {
				t.Errorf("events %v, want %v", got, tt.wantEvents)
			}
		})
	}
}

// FuzzParseLeaf: a public record from a server is hostile input; parsing
// it never panics, and it never names an empty document.
func FuzzParseLeaf(f *testing.F) {
	f.Add([]byte(`{"kind":"report.issued","time":"2026-01-03T00:00:00Z","data":{"report":"CZ-1","document":"certificate","sha256":"ab"}}`))
	f.Add([]byte(`{"kind":"contract.signed","data":{"document":{"sha256":"ab"},"files":[{"sha256":"cd"},{}]}}`))
	f.Add([]byte(`{"kind":"x","data":null}`))
	f.Add([]byte(`{"kind":"x","data":{"document":7,"files":"no"}}`))
	f.Fuzz(func(t *testing.T, leaf []byte) {
		lf, err := parseLeaf(leaf)
		if err != nil {
			return
		}
		if lf.Kind == "" {
			t.Fatalf("parsed a leaf without a kind: %q", leaf)
		}
		for _, d := range lf.docs {
			if d == "" {
				t.Fatalf("names an empty document: %q", leaf)
			}
		}
	})
}

// TestRevisionLedger: a contract signed last by the platform (one
// signature, an incremental update over the document as sent) shows the
// ledger's record of its first revision, the sent document the signers'
// events name, although no signature covers that revision alone.
func TestRevisionLedger(t *testing.T) {
	// sm2-tsa.pdf is base.pdf with a signature appended: its first
	// revision is base.pdf byte for byte.
	sent, err := os.ReadFile(filepath.Join(corpus, "base.pdf"))
	if err != nil {
		t.Fatal(err)
	}
	sentSum := sha256.Sum256(sent)
	sentHex := hex.EncodeToString(sentSum[:])
	l := newMemLedger(t, "cunzheng.example/log")
	l.add(t, []byte(`{"kind":"contract.signed","time":"2026-01-02T03:04:05Z","data":{"document":{"sha256":"`+sentHex+`"}}}`), &sentSum)
	opts := testOptions(t)
	opts.Lookup = l
	opts.LedgerVerifiers = note.VerifierList(l.verifier)
	opts.LedgerOrigin = "cunzheng.example/log"
	rep, err := verifyFile(t, filepath.Join(corpus, "sm2-tsa.pdf"), opts)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Revisions != 2 || len(rep.Signatures) != 1 || rep.Signatures[0].Revision != 2 {
		t.Fatalf("want 2 revisions, the signature covering the 2nd: %d revisions, %d signatures", rep.Revisions, len(rep.Signatures))
	}
	if rep.Ledger != nil || rep.Signatures[0].Ledger != nil {
		t.Errorf("the signed file is not in the ledger, got %+v / %+v", rep.Ledger, rep.Signatures[0].Ledger)
	}
	if len(rep.RevisionLedger) != 1 {
		t.Fatalf("revision records %+v, want the first revision's", rep.RevisionLedger)
	}
	r := rep.RevisionLedger[0]
	if r.Revision != 1 || r.SHA256 != sentHex || r.Ledger == nil || !r.Ledger.ProofOK || r.Ledger.Kind != "contract.signed" || r.Ledger.DocumentHex != sentHex {
		t.Fatalf("revision record %d %s %+v, want revision 1 = %s signed, proof checked", r.Revision, r.SHA256, r.Ledger, sentHex)
	}

	// The whole file's record and the revision's are both shown; the
	// whole file is not asked about twice.
	c := &countingLookup{DocumentLookup: l}
	opts.Lookup = c
	rep, err = verifyFile(t, filepath.Join(corpus, "sm2-tsa.pdf"), opts)
	if err != nil {
		t.Fatal(err)
	}
	if c.n != 2 {
		t.Errorf("%d lookups for a file of 2 revisions, want 2", c.n)
	}
	if len(rep.RevisionLedger) != 1 {
		t.Errorf("revision records %+v", rep.RevisionLedger)
	}
}

// countingLookup counts the lookups it passes on.
type countingLookup struct {
	DocumentLookup
	n int
}

func (c *countingLookup) LookupDocument(ctx context.Context, sum [32]byte) (LedgerRecord, error) {
	c.n++
	return c.DocumentLookup.LookupDocument(ctx, sum)
}

// failingLookup is a ledger that cannot be reached.
type failingLookup struct{ n int }

func (f *failingLookup) LookupDocument(context.Context, [32]byte) (LedgerRecord, error) {
	f.n++
	return LedgerRecord{}, errors.New("connection refused")
}

// TestRevisionLedgerBounded: a file of hundreds of revisions (each a
// valid %%EOF closing the same trailer) asks the ledger about at most
// MaxRevisionLookups of them, and an unreachable ledger only a few times.
func TestRevisionLedgerBounded(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(corpus, "base.pdf"))
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.LastIndex(b, []byte("startxref"))
	tail := append([]byte(nil), b[i:]...)
	for range 900 {
		b = append(b, tail...)
	}
	c := &countingLookup{DocumentLookup: newMemLedger(t, "cunzheng.example/log")}
	opts := testOptions(t)
	opts.Lookup = c
	rep, err := PDFBytes(context.Background(), b, opts)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Revisions != 901 {
		t.Fatalf("%d revisions, want 901", rep.Revisions)
	}
	if want := 1 + MaxRevisionLookups; c.n != want {
		t.Errorf("%d lookups, want %d (the file and %d revisions)", c.n, want, MaxRevisionLookups)
	}
	f := &failingLookup{}
	opts.Lookup = f
	rep, err = PDFBytes(context.Background(), b, opts)
	if err != nil {
		t.Fatal(err)
	}
	if f.n != 2 || len(rep.RevisionLedger) != 1 || !strings.Contains(rep.RevisionLedger[0].Ledger.Problem, "connection refused") {
		t.Errorf("unreachable ledger: %d lookups, records %+v; want 2 and the failure once", f.n, rep.RevisionLedger)
	}
}
