package assemble

import (
	"cmp"
	"context"
	"encoding/hex"
	"errors"
	"slices"

	"github.com/cunzheng/cunzheng/evidence"
	"github.com/cunzheng/cunzheng/evidence/event"
	"github.com/cunzheng/cunzheng/verify"
)

// Documents is the part of *evidence.Service a Lookup uses: the contract
// index by document hash and by report number.
type Documents interface {
	LookupDocument(sha256Hex string) ([]evidence.DocumentMatch, error)
	LookupReport(number string) ([]evidence.DocumentMatch, error)
}

var _ Documents = (*evidence.Service)(nil)

// Lookup answers the verifier's question "does the ledger hold this
// document?" (verify.DocumentLookup) and "which report is number N?" from the
// contract index of evidence, with an inclusion proof in the newest
// checkpoint (cosignatures included) from the ledger: the same records
// and proofs the reports are assembled from.
type Lookup struct {
	Evidence Documents
	Ledger   Ledger
}

var _ verify.DocumentLookup = Lookup{}

// LookupDocument answers with every recorded event naming the document.
func (d Lookup) LookupDocument(ctx context.Context, sum [32]byte) (verify.LedgerRecord, error) {
	matches, err := d.Evidence.LookupDocument(hex.EncodeToString(sum[:]))
	return d.record(ctx, matches, err)
}

// LookupReport answers "which report is number N?" (the QR code of an
// issued PDF) with its report.issued record.
func (d Lookup) LookupReport(ctx context.Context, number string) (verify.LedgerRecord, error) {
	matches, err := d.Evidence.LookupReport(number)
	if errors.Is(err, evidence.ErrInvalidQuery) {
		return verify.LedgerRecord{}, verify.ErrNotRecorded
	}
	return d.record(ctx, matches, err)
}

// record builds the ledger record of matches: every event already covered
// by the newest checkpoint (a newer one cannot be proven against it yet),
// each with its inclusion proof, the record proper being the one the
// document is best known by (recordRank).
func (d Lookup) record(ctx context.Context, matches []evidence.DocumentMatch, err error) (verify.LedgerRecord, error) {
	if errors.Is(err, evidence.ErrNotFound) {
		// Not in the ledger is a verdict ("not recorded"), not a failure.
		return verify.LedgerRecord{}, verify.ErrNotRecorded
	}
	if err != nil {
		return verify.LedgerRecord{}, err
	}
	cp, err := d.Ledger.Checkpoint(ctx)
	if err != nil {
		return verify.LedgerRecord{}, err
	}
	var rec verify.LedgerRecord
	best := -1
	slices.SortFunc(matches, func(a, b evidence.DocumentMatch) int { return cmp.Compare(a.Index, b.Index) })
	for _, m := range matches {
		if m.Index >= cp.Size {
			continue
		}
		leaf, err := d.Ledger.Leaf(ctx, m.Index)
		if err != nil {
			return verify.LedgerRecord{}, err
		}
		proof, err := d.Ledger.InclusionProof(ctx, m.Index, cp.Size)
		if err != nil {
			return verify.LedgerRecord{}, err
		}
		rec.Events = append(rec.Events, verify.LedgerEvent{LeafIndex: m.Index, Leaf: leaf, Proof: proof})
		if r := recordRank(m.Kind); r >= best {
			best = r
			rec.ContractNumber, rec.Owner, rec.LeafIndex, rec.Leaf, rec.Proof = m.ContractID, m.Tenant, m.Index, leaf, proof
		}
	}
	if best < 0 {
		// Every match is newer than the checkpoint.
		return verify.LedgerRecord{}, verify.ErrPending
	}
	rec.Checkpoint = cp.CosignedNote()
	return rec, nil
}

// recordRank orders the kinds of event a document hash can appear in by
// how well they answer a court's question "was this signed through the
// platform?": the (latest) signature that produced these bytes, then the
// completion naming them as the final file, then a report this archive
// issued, then anything else (the file as sent for signing).
func recordRank(k event.Kind) int {
	switch k {
	case event.KindContractSigned:
		return 3
	case event.KindContractCompleted:
		return 2
	case event.KindReportIssued:
		return 1
	}
	return 0
}
