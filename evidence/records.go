package evidence

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"slices"

	"github.com/cunzheng/cunzheng/evidence/event"
)

// LeafReader returns the leaf at index; (*ledger.Log).Leaf is one.
type LeafReader func(ctx context.Context, index uint64) ([]byte, error)

// Record is one event with everything a report shows of it: its receipt,
// its leaf (the bytes the inclusion proof covers), the leaf decoded, and
// its sealed fields opened for the tenant (or marked erased).
type Record struct {
	EventEntry
	Leaf   []byte
	Public *event.PublicRecord
	Opened *Opened
}

// Records returns the contract with id of the principal's tenant and the
// records of its events, followed by the identity checks and registrations
// of the people who acted in it, all in log order. Leaves come from leaf
// and are checked against their receipts' hashes, and every opened field
// against its commitment, so a report never shows what the log does not
// prove. ErrNotFound as for Contract.
func (s *Service) Records(ctx context.Context, p Principal, id string, leaf LeafReader) (*ContractView, []Record, error) {
	v, err := s.Contract(p, id)
	if err != nil {
		return nil, nil, err
	}
	ts, err := s.reg.tenant(p.Tenant.ID)
	if err != nil {
		return nil, nil, err
	}
	entries := slices.Clone(v.Events)
	ref := ts.Ref("contract", id)
	subjects, err := s.scanKeys(contractSubjectsPrefix(ts.ID, ref))
	if err != nil {
		return nil, nil, err
	}
	for _, subj := range subjects {
		es, err := s.eventEntries(subjectEventsPrefix(ts.ID, subj))
		if err != nil {
			return nil, nil, err
		}
		entries = append(entries, es...)
	}
	slices.SortFunc(entries, func(a, b EventEntry) int {
		switch {
		case a.Index < b.Index:
			return -1
		case a.Index > b.Index:
			return 1
		}
		return 0
	})
	entries = slices.CompactFunc(entries, func(a, b EventEntry) bool { return a.Index == b.Index })
	out := make([]Record, 0, len(entries))
	for _, e := range entries {
		var lh [32]byte
		if _, err := hex.Decode(lh[:], []byte(e.LeafHash)); err != nil {
			return nil, nil, fmt.Errorf("evidence: receipt hash: %w", err)
		}
		lb, pr, err := checkedLeaf(ctx, leaf, e.Index, lh[:], "its receipt")
		if err != nil {
			return nil, nil, err
		}
		o, err := s.OpenSealed(ts.ID, e.Index, lh)
		if err != nil {
			return nil, nil, err
		}
		if pr.Tenant == "" {
			// A version 2 leaf commits to the tenant: open it too, checked
			// with the rest below, so that a bundle can show whose it is.
			o.Fields[event.TenantCommitment] = event.Field{Value: ts.ID, Salt: ts.TenantSalt(pr.Ref)}
		} else if pr.Tenant != ts.ID {
			return nil, nil, fmt.Errorf("evidence: leaf %d names another tenant", e.Index)
		}
		if err := o.Check(lb); err != nil {
			return nil, nil, err
		}
		out = append(out, Record{EventEntry: e, Leaf: lb, Public: pr, Opened: o})
	}
	return v, out, nil
}

// checkedLeaf reads leaf index from the log and parses it, once it is
// the leaf whose hash the evidence store recorded (in what: a receipt, a
// claim), so that nothing is read from a leaf the store never named.
func checkedLeaf(ctx context.Context, leaf LeafReader, index uint64, want []byte, what string) ([]byte, *event.PublicRecord, error) {
	lb, err := leaf(ctx, index)
	if err != nil {
		return nil, nil, fmt.Errorf("evidence: reading leaf %d: %w", index, err)
	}
	if got := event.LeafHash(lb); !bytes.Equal(got[:], want) {
		return nil, nil, fmt.Errorf("evidence: leaf %d does not match %s", index, what)
	}
	pr, err := event.ParseLeaf(lb)
	if err != nil {
		return nil, nil, err
	}
	return lb, pr, nil
}

// scanKeys returns the last key component of every key under prefix.
func (s *Service) scanKeys(prefix []byte) ([]string, error) {
	var out []string
	err := s.scanPrefix(prefix, func(k, _ []byte) (bool, error) {
		out = append(out, string(k[len(prefix):]))
		return true, nil
	})
	return out, err
}
