package evidence

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/cunzheng/cunzheng/evidence/event"
)

// sealedRecord is what is kept off-log for one leaf. Personal holds the
// subject's fields under the subject's AES key, IDNumber the ID number under
// the subject's SM4 key, Contract the contract's fields (id, name, file
// names) under the tenant's contract key, which an erasure of a person
// does not touch.
type sealedRecord struct {
	V          int    `json:"v"`
	Tenant     string `json:"tenant"`
	Subject    string `json:"subject,omitempty"`
	SubjectKey string `json:"subject_key,omitempty"`
	Personal   []byte `json:"personal,omitempty"`
	IDNumber   []byte `json:"id_number,omitempty"`
	Contract   []byte `json:"contract,omitempty"`
}

// Opened is a sealed record opened for its tenant: every sealed field by
// its JSON path ("actor.name", "contract.id", "data.files[0].name").
// When the subject's key was destroyed, the subject's fields are absent,
// Erased is set, ErasedAt says when and ErasureIndex and ErasureLeafHash
// name the data.erased event in the log, so that a report can point at it.
type Opened struct {
	Fields   map[string]event.Field
	Erased   bool
	ErasedAt time.Time
	// ErasureIndex is the leaf index of the data.erased event. It is only
	// meaningful when ErasurePending is false: an erasure whose append
	// failed after the key was destroyed gets its index when the append is
	// retried (the next Open, or Erase of the same account).
	ErasureIndex    uint64
	ErasureLeafHash string // hex
	ErasurePending  bool
}

// Paths returns the field paths in order.
func (o *Opened) Paths() []string {
	out := make([]string, 0, len(o.Fields))
	for p := range o.Fields {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// Check verifies every opened field against the commitments in the leaf.
func (o *Opened) Check(leaf []byte) error {
	pr, err := event.ParseLeaf(leaf)
	if err != nil {
		return err
	}
	for p, f := range o.Fields {
		cm := event.Commitment(f.Salt, f.Value)
		if pr.Commitments[p] != hex.EncodeToString(cm[:]) {
			return fmt.Errorf("evidence: sealed field %s does not match its commitment", p)
		}
	}
	return nil
}

// OpenSealed opens the sealed record of the leaf at index with hash
// leafHash for tenantID. ErrNotFound if there is none or it is another
// tenant's.
func (s *Service) OpenSealed(tenantID string, index uint64, leafHash [32]byte) (*Opened, error) {
	ts, err := s.reg.tenant(tenantID)
	if err != nil {
		return nil, err
	}
	var sr sealedRecord
	found, err := s.get(sealedKey(index, leafHash[:]), &sr)
	if err == nil && !found {
		found, err = s.get(legacySealedKey(hex.EncodeToString(leafHash[:])), &sr)
	}
	if err != nil {
		return nil, err
	}
	if !found || sr.Tenant != ts.ID {
		return nil, ErrNotFound
	}
	o := &Opened{Fields: map[string]event.Field{}}
	add := func(blob, k []byte, alg byte, part string, single bool) error {
		pt, err := event.Open(alg, k, blob, event.SealAD(ts.ID, leafHash[:], part))
		if err != nil {
			return fmt.Errorf("evidence: opening sealed %s: %w", part, err)
		}
		v1Single := ""
		if single {
			v1Single = "actor.id_number"
		}
		fields, err := event.OpenPart(pt, v1Single)
		if err != nil {
			return fmt.Errorf("evidence: sealed %s: %w", part, err)
		}
		for p, f := range fields {
			o.Fields[p] = f
		}
		return nil
	}
	if sr.Contract != nil {
		if err := add(sr.Contract, ts.ContractKey, event.AlgAES256GCM, event.PartContract, false); err != nil {
			return nil, err
		}
	}
	if sr.Subject != "" {
		sk, err := s.subjectKeyFor(ts, sr.Subject, false, false)
		if err != nil {
			return nil, err
		}
		if sk == nil || sk.ID != sr.SubjectKey {
			var er erasure
			found, err := s.get(erasureKey(ts.ID, sr.Subject, sr.SubjectKey), &er)
			if err != nil {
				return nil, err
			}
			if !found {
				return nil, fmt.Errorf("evidence: subject key of a sealed record is missing without an erasure record")
			}
			var c claim
			found, err = s.get(claimKey(ts.ID, er.ClaimID), &c)
			if err != nil {
				return nil, err
			}
			if !found {
				return nil, errors.New("evidence: erasure without its claim")
			}
			o.Erased, o.ErasedAt = true, er.Time
			o.ErasureIndex, o.ErasureLeafHash, o.ErasurePending = c.Index, hex.EncodeToString(c.LeafHash), c.State != "done"
			return o, nil
		}
		if err := add(sr.Personal, sk.AES, event.AlgAES256GCM, event.PartPersonal, false); err != nil {
			return nil, err
		}
		if sr.IDNumber != nil {
			if err := add(sr.IDNumber, sk.SM4, event.AlgSM4GCM, event.PartIDNumber, true); err != nil {
				return nil, err
			}
		}
	}
	return o, nil
}

// erasure records the destruction of one subject key.
type erasure struct {
	Time    time.Time `json:"time"`
	ClaimID string    `json:"claim"`
}

// Erase destroys the data key of the subject with account for the
// principal's tenant and appends a data.erased event, whose receipt it
// returns. Afterwards the subject's sealed fields cannot be opened by
// anyone, master key or not; their leaves, commitments and proofs are
// untouched. Erasing an already erased subject returns the first receipt;
// an account the tenant never sent is ErrNotFound.
func (s *Service) Erase(ctx context.Context, p Principal, account string) (Receipt, error) {
	if !p.Has(RoleIngest) {
		return Receipt{}, ErrForbidden
	}
	if account == "" || len(account) > 128 {
		return Receipt{}, fmt.Errorf("%w: account", ErrInvalidQuery)
	}
	ts, err := s.reg.tenant(p.Tenant.ID)
	if err != nil {
		return Receipt{}, err
	}
	subject := ts.Ref("subject", account)
	var (
		r     Receipt
		shred bool
	)
	for attempt := 0; ; attempt++ {
		r, shred, err = s.eraseLocked(ctx, ts, subject)
		if !errors.Is(err, errConflict) {
			break
		}
		if attempt == maxConflictRetries {
			err = fmt.Errorf("%w: %d attempts in a row lost a race with other requests", ErrUnavailable, attempt+1)
			break
		}
		// Another process erased this subject, or stored an event for it,
		// between our read and our write: read again.
		s.metrics.conflicts.Inc()
	}
	if shred && s.shredder != nil {
		s.shredder.request(subjectKeyKey(ts.ID, subject))
	}
	if err != nil {
		return Receipt{}, err
	}
	return r, nil
}

// eraseLocked destroys the subject's key holding eraseMu, then appends
// the data.erased event without it: ingest waits for the key's deletion,
// not for the log. shred says whether a key was destroyed now.
func (s *Service) eraseLocked(ctx context.Context, ts *tenantState, subject string) (r Receipt, shred bool, err error) {
	s.eraseMu.Lock()
	locked := true
	defer func() {
		if locked {
			s.eraseMu.Unlock()
		}
	}()
	sk, err := s.subjectKeyFor(ts, subject, false, false)
	if err != nil {
		return Receipt{}, false, err
	}
	if sk == nil || !sk.persisted.Load() {
		r, err := s.lastErasure(ctx, ts, subject)
		return r, false, err
	}
	now := s.now().UTC()
	claimID := "\x00erase/" + subject + "/" + sk.ID
	leaf, lh, err := event.ErasureLeaf(ts.TenantKeys, subject, sk.ID, now)
	if err != nil {
		return Receipt{}, false, err
	}
	c := &claim{State: "pending", Kind: event.KindDataErased, Time: now, Leaf: leaf, LeafHash: lh[:],
		Subject: subject, SubjectKey: sk.ID}
	b := &batch{sync: true}
	stored, err := encodeValue(storedSubjectKey{KeyID: sk.ID, Wrapped: sk.wrapped})
	if err != nil {
		return Receipt{}, false, err
	}
	// On a shared store another process may have erased it since we read
	// it; then this batch conflicts and Erase reads again.
	b.expect(subjectKeyKey(ts.ID, subject), stored)
	b.delete(subjectKeyKey(ts.ID, subject))
	if s.shredder != nil {
		b.set(shredKey(ts.ID, subject), nil)
	}
	if err := setValue(b, erasureKey(ts.ID, subject, sk.ID), erasure{Time: now, ClaimID: claimID}); err != nil {
		return Receipt{}, false, err
	}
	cv, err := encodeValue(c)
	if err != nil {
		return Receipt{}, false, err
	}
	b.insertPending(claimKey(ts.ID, claimID), cv)
	// The account index must not keep pointing at the erased person.
	pfx := accountContractsPrefix(ts.ID, subject)
	b.deleteRange(pfx, prefixEnd(pfx))
	if !s.store.shared() {
		// Serialised with finalize, which trusts keys unerased while
		// eraseGen stands still.
		s.indexMu.Lock()
	}
	err = s.store.commit(ctx, b)
	if err == nil {
		s.eraseGen.Add(1)
	}
	if !s.store.shared() {
		s.indexMu.Unlock()
	}
	if err != nil {
		if errors.Is(err, errConflict) {
			return Receipt{}, false, err
		}
		return Receipt{}, false, fmt.Errorf("evidence: erasing: %w", err)
	}
	s.subjMu.Lock()
	delete(s.subjects, ts.ID+"/"+subject)
	s.subjMu.Unlock()
	sk.Destroy()
	// The key is gone from here on: whatever happens next, shred it. New
	// events of the account get a new key; ingest may go on.
	release, err := s.acquire(ctx, []string{ts.ID + "\x00" + claimID})
	s.eraseMu.Unlock()
	locked = false
	if err != nil {
		return Receipt{}, true, err
	}
	defer release()
	work := []*item{{id: claimID, c: c}}
	if err := s.appendAndFinalize(ctx, ts.ID, work); err != nil {
		return Receipt{}, true, err
	}
	s.metrics.erasures.Inc()
	return c.receipt(""), true, nil
}

func (s *Service) lastErasure(ctx context.Context, ts *tenantState, subject string) (Receipt, error) {
	var last erasure
	found := false
	err := s.scanPrefix(erasuresPrefix(ts.ID, subject), func(_, v []byte) (bool, error) {
		var er erasure
		if err := json.Unmarshal(v, &er); err != nil {
			return false, fmt.Errorf("evidence: erasure record: %w", err)
		}
		if !found || er.Time.After(last.Time) {
			last, found = er, true
		}
		return true, nil
	})
	if err != nil {
		return Receipt{}, err
	}
	if !found {
		return Receipt{}, ErrNotFound
	}
	// An Erase that destroyed the key may still be appending this claim.
	release, err := s.acquire(ctx, []string{ts.ID + "\x00" + last.ClaimID})
	if err != nil {
		return Receipt{}, err
	}
	defer release()
	var c claim
	ok, err := s.get(claimKey(ts.ID, last.ClaimID), &c)
	if err != nil {
		return Receipt{}, err
	}
	if !ok {
		return Receipt{}, errors.New("evidence: erasure without its claim")
	}
	if c.State == "pending" {
		if err := s.appendAndFinalize(ctx, ts.ID, []*item{{id: last.ClaimID, c: &c}}); err != nil {
			return Receipt{}, err
		}
	}
	return c.receipt(""), nil
}
