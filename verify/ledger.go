package verify

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/cunzheng/cunzheng/ledger/tlogfmt"
)

// ErrNotRecorded is what a DocumentLookup returns when the ledger holds no
// completed document with the given hash.
var ErrNotRecorded = errors.New("verify: document not recorded in the ledger")

// ErrPending is what a DocumentLookup returns when the ledger holds the
// document only in records newer than its newest published checkpoint:
// recorded, but not provable until the next checkpoint (seconds).
var ErrPending = errors.New("verify: recorded, awaiting the next checkpoint")

// DocumentLookup finds a completed document in the ledger by the SHA-256
// of its bytes. It is the only thing verify needs from the ledger side.
//
// LookupDocument must return ErrNotRecorded (possibly wrapped) when no
// document has that hash, and must fill LeafIndex, Leaf, Proof and
// Checkpoint (and Events, one per further record naming the hash).
// verify checks every proof itself and takes what it reports (the kind of
// event, its time, a report number) from the checked leaves, never from
// the lookup; ContractNumber and Owner are the server's word, shown only to
// the owning tenant.
type DocumentLookup interface {
	LookupDocument(ctx context.Context, sha256 [32]byte) (LedgerRecord, error)
}

// LedgerRecord is the ledger's answer for one document hash, and after
// verification, what the report shows about it. The record proper is the
// event the document is best known by (the signing event, else the
// completion, else an issued report, else any); Events lists every event
// that names the hash, that one included.
type LedgerRecord struct {
	// ContractNumber is the platform's contract number, from the server's
	// private index. Servers give it only to the owning tenant; the public
	// answer leaves it empty.
	ContractNumber string `json:"contractNumber,omitempty"`
	// Owner is the owning tenant's id, for the server's decision whether
	// the asker may see ContractNumber. Never serialised.
	Owner string `json:"-"`
	// SignedAt is the time of the event (the leaf's "time"), set by verify
	// from the checked leaf.
	SignedAt  time.Time `json:"signedAt"`
	LeafIndex uint64    `json:"leafIndex"`
	// Leaf is the public record bytes stored at LeafIndex (RFC 6962 leaf
	// input); its hash is checked against the proof.
	Leaf []byte `json:"leaf"`
	// Proof is the inclusion proof of the leaf in the tree of Checkpoint.
	Proof []tlog.Hash `json:"proof"`
	// Checkpoint is the newest cosigned checkpoint: a C2SP signed note
	// (tlog-checkpoint body) with the log's and the notaries' signature lines.
	Checkpoint []byte `json:"checkpoint"`
	// Events are every event naming the document, in leaf order, each with
	// its leaf and inclusion proof in the tree of Checkpoint.
	Events []LedgerEvent `json:"events,omitempty"`

	// Filled in by verify.
	TreeSize uint64   `json:"treeSize"`
	ProofOK  bool     `json:"proofOk"`
	SignedBy []string `json:"signedBy,omitempty"` // key names whose signatures verified
	// Kind is the event kind the checked leaf states (contract.signed,
	// contract.completed, report.issued, ...).
	Kind string `json:"kind,omitempty"`
	// Logged is when the log recorded the event (the leaf's "logged").
	Logged time.Time `json:"logged,omitzero"`
	// Report and ReportDocument are, for a report.issued leaf, the report
	// number and what was issued ("certificate", "evidence-report",
	// "evidence-bundle"): a PDF this archive issued itself.
	Report         string `json:"report,omitempty"`
	ReportDocument string `json:"reportDocument,omitempty"`
	Problem        string `json:"problem,omitempty"`
	DocumentHex    string `json:"documentSha256"`
}

// LedgerEvent is one further event naming a document.
type LedgerEvent struct {
	LeafIndex uint64      `json:"leafIndex"`
	Leaf      []byte      `json:"leaf"`
	Proof     []tlog.Hash `json:"proof"`

	// Filled in by verify from the checked leaf.
	Kind    string    `json:"kind,omitempty"`
	Time    time.Time `json:"time,omitzero"`
	ProofOK bool      `json:"proofOk"`
	Problem string    `json:"problem,omitempty"`
}

// Signing reports whether the record is a signing or completion event:
// the document was signed through the platform.
func (r *LedgerRecord) Signing() bool {
	return r.Kind == "contract.signed" || r.Kind == "contract.completed"
}

// Issued reports whether the record is a report this archive issued.
func (r *LedgerRecord) Issued() bool { return r.Kind == "report.issued" }

// checkpointTree opens a signed checkpoint with verifiers and returns its
// size and root hash and the names of the keys that signed it.
func checkpointTree(checkpoint []byte, origin string, verifiers note.Verifiers) (size uint64, root tlog.Hash, signedBy []string, err error) {
	if verifiers == nil {
		return 0, root, nil, errors.New("no ledger verifier keys configured")
	}
	cp, err := tlogfmt.Open(checkpoint, verifiers)
	if err != nil {
		return 0, root, nil, fmt.Errorf("checkpoint signature: %w", err)
	}
	for _, n := range cp.Signers() {
		// One name per key holder: the log signs with Ed25519 and SM2
		// under one name.
		if !slices.Contains(signedBy, n) {
			signedBy = append(signedBy, n)
		}
	}
	if origin != "" && cp.Origin != origin {
		return 0, root, nil, fmt.Errorf("checkpoint origin %q, want %q", cp.Origin, origin)
	}
	return cp.Size, cp.Root, signedBy, nil
}

// checkLeaf checks leaf at index against the tree and that it names the
// document docHex, and returns what the leaf says.
func checkLeaf(size uint64, root tlog.Hash, index uint64, leaf []byte, proof []tlog.Hash, docHex string) (leafFacts, error) {
	if index >= size {
		return leafFacts{}, fmt.Errorf("leaf index %d beyond tree size %d", index, size)
	}
	if err := tlogfmt.CheckInclusion(proof, index, size, tlogfmt.LeafHash(leaf), root); err != nil {
		return leafFacts{}, fmt.Errorf("inclusion proof: %w", err)
	}
	f, err := parseLeaf(leaf)
	if err != nil {
		return leafFacts{}, fmt.Errorf("leaf %d: %w", index, err)
	}
	if docHex != "" && !f.names(docHex) {
		return leafFacts{}, fmt.Errorf("leaf %d does not name document %s", index, docHex)
	}
	return f, nil
}

// checkLedgerRecord verifies rec's checkpoint signatures with verifiers,
// its inclusion proof and those of its Events, and fills in what the
// checked leaves say. origin is the log's origin line.
func checkLedgerRecord(rec *LedgerRecord, origin string, verifiers note.Verifiers) error {
	size, root, signedBy, err := checkpointTree(rec.Checkpoint, origin, verifiers)
	if err != nil {
		return err
	}
	rec.SignedBy = signedBy
	rec.TreeSize = size
	// Events first: the record's own problem is the one reported.
	for i := range rec.Events {
		e := &rec.Events[i]
		e.ProofOK, e.Kind, e.Time = false, "", time.Time{}
		f, err := checkLeaf(size, root, e.LeafIndex, e.Leaf, e.Proof, rec.DocumentHex)
		if err != nil {
			e.Problem = err.Error()
			continue
		}
		e.ProofOK, e.Kind, e.Time = true, f.Kind, f.Time
	}
	f, err := checkLeaf(size, root, rec.LeafIndex, rec.Leaf, rec.Proof, rec.DocumentHex)
	if err != nil {
		return err
	}
	rec.ProofOK = true
	rec.Kind, rec.SignedAt, rec.Logged = f.Kind, f.Time, f.Logged
	if rec.DocumentHex == "" && len(f.docs) == 1 {
		// Looked up by something else (a report number): the document is
		// the one the leaf names.
		rec.DocumentHex = f.docs[0]
	}
	if f.Kind == "report.issued" {
		rec.Report, rec.ReportDocument = f.Report, f.Document
	}
	return nil
}

// leafFacts is what verify reads from a public record (the leaf JSON the
// evidence package writes: kind, time, logged, data).
type leafFacts struct {
	Kind     string
	Time     time.Time
	Logged   time.Time
	Report   string // data.report of report.issued
	Document string // data.document of report.issued (a kind of document)
	docs     []string
}

// names reports whether the leaf names the document with hex SHA-256 h.
func (f leafFacts) names(h string) bool {
	for _, d := range f.docs {
		if d == h {
			return true
		}
	}
	return false
}

// parseLeaf reads a public record. The document hashes a leaf names are
// data.document.sha256 (a signature), data.files[].sha256 (a completion
// or a sent contract) and data.sha256 (an issued report).
func parseLeaf(leaf []byte) (leafFacts, error) {
	var pr struct {
		Kind   string          `json:"kind"`
		Time   time.Time       `json:"time"`
		Logged time.Time       `json:"logged"`
		Data   json.RawMessage `json:"data"`
	}
	d := json.NewDecoder(bytes.NewReader(leaf))
	if err := d.Decode(&pr); err != nil {
		return leafFacts{}, fmt.Errorf("not a public record: %w", err)
	}
	if pr.Kind == "" {
		return leafFacts{}, errors.New("not a public record: no kind")
	}
	f := leafFacts{Kind: pr.Kind, Time: pr.Time, Logged: pr.Logged}
	if len(pr.Data) == 0 {
		return f, nil
	}
	var data struct {
		SHA256   string          `json:"sha256"`
		Report   string          `json:"report"`
		Document json.RawMessage `json:"document"`
		Files    []struct {
			SHA256 string `json:"sha256"`
		} `json:"files"`
	}
	if err := json.Unmarshal(pr.Data, &data); err != nil {
		return leafFacts{}, fmt.Errorf("public record data: %w", err)
	}
	if data.SHA256 != "" {
		f.docs = append(f.docs, data.SHA256)
	}
	var doc struct {
		SHA256 string `json:"sha256"`
	}
	var docKind string
	if json.Unmarshal(data.Document, &doc) == nil && doc.SHA256 != "" {
		f.docs = append(f.docs, doc.SHA256)
	} else if json.Unmarshal(data.Document, &docKind) == nil {
		f.Document = docKind
	}
	for _, fl := range data.Files {
		if fl.SHA256 != "" {
			f.docs = append(f.docs, fl.SHA256)
		}
	}
	if pr.Kind == "report.issued" {
		f.Report = data.Report
	}
	return f, nil
}

// CheckLedgerRecord checks rec (as a DocumentLookup or a server's lookup
// answer gave it) against the log's verifier keys and origin, as PDF does
// for the document it verifies: rec.DocumentHex names the document, the
// proofs are checked and the facts filled in from the leaves (with
// DocumentHex empty, the leaf may name any document and DocumentHex is set
// to the one it names). A record
// that does not check has ProofOK false and Problem set.
func CheckLedgerRecord(rec *LedgerRecord, origin string, verifiers note.Verifiers) {
	rec.ProofOK = false
	rec.SignedBy = nil
	rec.Kind, rec.SignedAt, rec.Logged, rec.Report, rec.ReportDocument = "", time.Time{}, time.Time{}, "", ""
	if err := checkLedgerRecord(rec, origin, verifiers); err != nil {
		rec.Problem = err.Error()
	}
}

// lookup asks opts.Lookup about sum and returns the checked record, or nil
// when the ledger does not hold the document or no lookup is configured.
func lookup(ctx context.Context, opts *Options, sum [32]byte) *LedgerRecord {
	rec, _ := lookupAnswered(ctx, opts, sum)
	return rec
}

// lookupAnswered is lookup that also reports whether the ledger answered
// (a record, "not recorded" or "pending"); when it did not, the record
// carries the failure as its Problem.
func lookupAnswered(ctx context.Context, opts *Options, sum [32]byte) (*LedgerRecord, bool) {
	if opts.Lookup == nil {
		return nil, true
	}
	rec, err := opts.Lookup.LookupDocument(ctx, sum)
	if errors.Is(err, ErrNotRecorded) {
		return nil, true
	}
	if errors.Is(err, ErrPending) {
		return &LedgerRecord{DocumentHex: hex.EncodeToString(sum[:]), Problem: ErrPending.Error()}, true
	}
	if err != nil {
		return &LedgerRecord{DocumentHex: hex.EncodeToString(sum[:]), Problem: "ledger lookup failed: " + err.Error()}, false
	}
	rec.DocumentHex = hex.EncodeToString(sum[:])
	CheckLedgerRecord(&rec, opts.LedgerOrigin, opts.LedgerVerifiers)
	return &rec, true
}
