package verify

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/cunzheng/cunzheng/ledger/tlogfmt"
)

// ErrNotRecorded is what a DocumentLookup returns when the ledger holds no
// completed document with the given hash.
var ErrNotRecorded = errors.New("verify: document not recorded in the ledger")

// DocumentLookup finds a completed document in the ledger by the SHA-256
// of its bytes. It is the only thing verify needs from the ledger side.
//
// LookupDocument must return ErrNotRecorded (possibly wrapped) when no
// document has that hash, and must fill every field of LedgerRecord.
// verify checks the proof itself and trusts nothing else in the record
// beyond what the checked leaf and checkpoint bind.
type DocumentLookup interface {
	LookupDocument(ctx context.Context, sha256 [32]byte) (LedgerRecord, error)
}

// LedgerRecord is the ledger's answer for one document hash, and after
// verification, what the report shows about it.
type LedgerRecord struct {
	ContractNumber string    `json:"contractNumber"`
	SignedAt       time.Time `json:"signedAt"`
	LeafIndex      uint64    `json:"leafIndex"`
	// Leaf is the public record bytes stored at LeafIndex (RFC 6962 leaf
	// input); its hash is checked against the proof.
	Leaf []byte `json:"leaf"`
	// Proof is the inclusion proof of the leaf in the tree of Checkpoint.
	Proof []tlog.Hash `json:"proof"`
	// Checkpoint is the newest cosigned checkpoint: a C2SP signed note
	// (tlog-checkpoint body) with the log's and the notaries' signature lines.
	Checkpoint []byte `json:"checkpoint"`

	// Filled in by verify.
	TreeSize    uint64   `json:"treeSize"`
	ProofOK     bool     `json:"proofOk"`
	SignedBy    []string `json:"signedBy,omitempty"` // key names whose signatures verified
	Problem     string   `json:"problem,omitempty"`
	DocumentHex string   `json:"documentSha256"`
}

// checkLedgerRecord verifies rec's checkpoint signatures with verifiers
// and its inclusion proof. origin is the log's origin line.
func checkLedgerRecord(rec *LedgerRecord, origin string, verifiers note.Verifiers) error {
	if verifiers == nil {
		return errors.New("no ledger verifier keys configured")
	}
	cp, err := tlogfmt.Open(rec.Checkpoint, verifiers)
	if err != nil {
		return fmt.Errorf("checkpoint signature: %w", err)
	}
	rec.SignedBy = append(rec.SignedBy, cp.Signers()...)
	if origin != "" && cp.Origin != origin {
		return fmt.Errorf("checkpoint origin %q, want %q", cp.Origin, origin)
	}
	rec.TreeSize = cp.Size
	if rec.LeafIndex >= cp.Size {
		return fmt.Errorf("leaf index %d beyond tree size %d", rec.LeafIndex, cp.Size)
	}
	if err := tlogfmt.CheckInclusion(rec.Proof, rec.LeafIndex, cp.Size, tlogfmt.LeafHash(rec.Leaf), cp.Root); err != nil {
		return fmt.Errorf("inclusion proof: %w", err)
	}
	rec.ProofOK = true
	return nil
}

// lookup asks opts.Lookup about sum and returns the checked record, or nil
// when the ledger does not hold the document or no lookup is configured.
func lookup(ctx context.Context, opts *Options, sum [32]byte) *LedgerRecord {
	if opts.Lookup == nil {
		return nil
	}
	rec, err := opts.Lookup.LookupDocument(ctx, sum)
	if errors.Is(err, ErrNotRecorded) {
		return nil
	}
	if err != nil {
		return &LedgerRecord{DocumentHex: hex.EncodeToString(sum[:]), Problem: "ledger lookup failed: " + err.Error()}
	}
	rec.DocumentHex = hex.EncodeToString(sum[:])
	rec.ProofOK = false
	rec.SignedBy = nil
	if err := checkLedgerRecord(&rec, opts.LedgerOrigin, opts.LedgerVerifiers); err != nil {
		rec.Problem = err.Error()
	}
	return &rec
}
