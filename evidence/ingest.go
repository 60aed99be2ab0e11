package evidence

// The ingest path, top-down: web hands a POST /v1/events body to Ingest;
// ingestOnce claims the ids, reads their claims and subject keys, builds
// each new event's leaf and sealed record (buildRecord, event.BuildRecord),
// checks the batch against what is recorded (refuseInconsistent) and makes
// them durable as pending claims (commitPending);
// appendAndFinalize appends the leaves to the log and finalize
// (finalize.go) records the receipts and the contract index.

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/cunzheng/cunzheng/evidence/event"
)

// Ingest validates a POST /v1/events body and records its events for the
// principal's tenant, returning one receipt per event in order. The batch
// is all or nothing: any invalid event, or an id already used for a
// different event (ErrIDConflict), rejects it whole before anything is
// written. Ids already recorded return their first receipt.
func (s *Service) Ingest(ctx context.Context, p Principal, body []byte) ([]Receipt, error) {
	if !p.Has(RoleIngest) {
		return nil, ErrForbidden
	}
	start := s.now()
	evs, err := event.ParseEvents(body)
	if err != nil {
		s.metrics.rejected.Inc()
		return nil, err
	}
	ts, err := s.reg.tenant(p.Tenant.ID)
	if err != nil {
		return nil, err
	}
	rs, err := s.ingest(ctx, ts, evs)
	if err == nil {
		s.metrics.duration.Observe(s.now().Sub(start).Seconds())
	}
	return rs, err
}

// item is one event on its way through ingest.
type item struct {
	pos      int
	id       string
	c        *claim
	fresh    bool
	sealed   *sealedRecord
	eraseGen uint64 // Service.eraseGen when the fresh claim was durable
}

// maxConflictRetries bounds how often one request re-reads and retries
// after losing a race on a claim or subject key to another process.
const maxConflictRetries = 8

// ingest records evs for ts, trying again (at most maxConflictRetries
// times) when another process won a race on one of its claims or keys.
func (s *Service) ingest(ctx context.Context, ts *tenantState, evs []event.Event) ([]Receipt, error) {
	for attempt := 0; ; attempt++ {
		rs, err := s.ingestOnce(ctx, ts, evs)
		if !errors.Is(err, errConflict) {
			return rs, err
		}
		if attempt == maxConflictRetries {
			return nil, fmt.Errorf("%w: %d attempts in a row lost a race with other requests", ErrUnavailable, attempt+1)
		}
		// Another process claimed one of the ids, stored a key for one of
		// the subjects first, or erased one: read everything again.
		s.metrics.conflicts.Inc()
	}
}

// ingestOnce records evs once: holding their ids (acquire) and, until
// their pending claims are durable, eraseMu shared, it reads their claims
// (readClaims), answers retries of recorded events from their claims,
// builds the new ones (buildRecord), refuses the batch if one contradicts
// what is recorded (refuseInconsistent), makes them durable (commitPending),
// then appends every pending one to the log and records the receipts
// (appendAndFinalize).
func (s *Service) ingestOnce(ctx context.Context, ts *tenantState, evs []event.Event) ([]Receipt, error) {
	ids := make([]string, len(evs))
	for i, ev := range evs {
		ids[i] = ts.ID + "\x00" + ev.ID
	}
	release, err := s.acquire(ctx, ids)
	if err != nil {
		return nil, err
	}
	defer release()
	s.eraseMu.RLock()
	unlockErase := sync.OnceFunc(s.eraseMu.RUnlock)
	defer unlockErase()

	stored, unstored, err := s.readClaims(ctx, ts, evs)
	if err != nil {
		return nil, err
	}
	receipts := make([]Receipt, len(evs))
	now := s.now().UTC()
	var work []*item
	var newKeys, usedKeys []*subjectKey
	for i := range evs {
		ev := &evs[i]
		if c := stored[i]; c != nil {
			// A retry: the same event, recorded or still pending.
			if d := ev.Digest(); string(c.Digest) != string(d[:]) {
				s.metrics.rejected.Inc()
				return nil, fmt.Errorf("%w: %s.id %q", ErrIDConflict, ev.Path(), ev.ID)
			}
			if c.State == "done" {
				receipts[i] = c.receipt(ev.ID)
				s.metrics.duplicates.Inc()
				continue
			}
			work = append(work, &item{pos: i, id: ev.ID, c: c})
			continue
		}
		var sk *subjectKey
		if ev.Actor != nil {
			subject := ts.Ref("subject", ev.Actor.Account)
			sk, err = s.subjectKeyFor(ts, subject, true, unstored[subject])
			if err != nil {
				return nil, err
			}
			if !sk.persisted.Load() {
				newKeys = append(newKeys, sk)
			} else {
				usedKeys = append(usedKeys, sk)
			}
		}
		c, sealed, err := buildRecord(ts, ev, sk, now)
		if err != nil {
			return nil, err
		}
		c.Pos = i
		work = append(work, &item{pos: i, id: ev.ID, c: c, fresh: true, sealed: sealed})
	}
	if err := s.refuseInconsistent(ctx, ts, evs, stored); err != nil {
		return nil, err
	}
	if len(work) == 0 {
		return receipts, nil
	}
	if err := s.commitPending(ctx, ts, work, newKeys, usedKeys); err != nil {
		if errors.Is(err, errConflict) {
			s.forgetSubjects(ts, append(newKeys, usedKeys...))
		}
		return nil, err
	}
	// Sealed and durable: an erasure may go ahead (see eraseGen).
	gen := s.eraseGen.Load()
	unlockErase()
	for _, it := range work {
		it.eraseGen = gen
	}
	if err := s.appendAndFinalize(ctx, ts.ID, work); err != nil {
		return nil, err
	}
	for _, it := range work {
		receipts[it.pos] = it.c.receipt(it.id)
	}
	s.metrics.events.Add(float64(len(work)))
	return receipts, nil
}

// readClaims reads the stored claims of evs (nil where there is none)
// and the data keys of their actors that are not cached, in one read: on
// PostgreSQL a request costs one round trip here, not two per event.
// (Keys of subjects whose events turn out to be claimed are read for
// nothing; retries are rare.) The keys read are cached (cacheSubjects);
// unstored are the subjects found without one.
func (s *Service) readClaims(ctx context.Context, ts *tenantState, evs []event.Event) (claims []*claim, unstored map[string]bool, err error) {
	ckeys := make([][]byte, len(evs))
	var subjects []string
	for i := range evs {
		ckeys[i] = claimKey(ts.ID, evs[i].ID)
		if evs[i].Actor != nil {
			subjects = append(subjects, ts.Ref("subject", evs[i].Actor.Account))
		}
	}
	skeys := s.uncachedSubjects(ts, subjects)
	values, err := s.store.getMany(ctx, append(slices.Clone(ckeys), skeys...))
	if err != nil {
		return nil, nil, fmt.Errorf("evidence: reading claims: %w", err)
	}
	if unstored, err = s.cacheSubjects(ts, skeys, values); err != nil {
		return nil, nil, err
	}
	claims = make([]*claim, len(evs))
	for i, k := range ckeys {
		if v, found := values[string(k)]; found {
			claims[i] = &claim{}
			if err := decodeValue(k, v, claims[i]); err != nil {
				return nil, nil, err
			}
		}
	}
	return claims, unstored, nil
}

// refuseInconsistent reads what checkConsistency needs of the store for the
// fresh events of a batch and applies it. claims are the stored claims of
// the batch's own ids as readClaims returns them (nil where an id has
// none): an id with a claim is not fresh. It reads only when the batch
// holds a signature to check: the claims of the cited intents not in the
// batch (one getMany), and the index of each contract not sent in the
// batch until its contract.sent.
func (s *Service) refuseInconsistent(ctx context.Context, ts *tenantState, evs []event.Event, stored []*claim) error {
	fresh := make([]bool, len(evs))
	inBatch := make(map[string]bool, len(evs))
	sentInBatch := map[string]bool{}
	check := false
	for i := range evs {
		fresh[i] = stored[i] == nil
		check = check || (fresh[i] && needsCheck(&evs[i]))
		inBatch[evs[i].ID] = true
		if evs[i].Kind == event.KindContractSent && evs[i].Contract != nil {
			sentInBatch[ts.Ref("contract", evs[i].Contract.ID)] = true
		}
	}
	if !check {
		return nil
	}
	rec := recordedFacts{events: map[string]recordedEvent{}, sent: map[string]bool{}}
	var ikeys [][]byte
	var iids []string
	seen := map[string]bool{}
	for i := range evs {
		ev := &evs[i]
		if !fresh[i] || !needsCheck(ev) {
			continue
		}
		ids, _ := ev.Data["intents"].([]any)
		for _, v := range ids {
			id, _ := v.(string)
			if inBatch[id] || seen[id] {
				continue
			}
			seen[id] = true
			ikeys = append(ikeys, claimKey(ts.ID, id))
			iids = append(iids, id)
		}
		contract := ts.Ref("contract", ev.Contract.ID)
		if _, done := rec.sent[contract]; done || sentInBatch[contract] {
			continue
		}
		sent, err := s.contractSent(ctx, ts, contract)
		if err != nil {
			return err
		}
		rec.sent[contract] = sent
	}
	if len(ikeys) > 0 {
		vals, err := s.store.getMany(ctx, ikeys)
		if err != nil {
			return fmt.Errorf("evidence: reading the cited intents: %w", err)
		}
		for i, k := range ikeys {
			v, ok := vals[string(k)]
			if !ok {
				continue
			}
			var c claim
			if err := decodeValue(k, v, &c); err != nil {
				return err
			}
			if c.State != "done" {
				// Not acknowledged yet (its request is appending it, or a
				// crash left it for recovery): the signature would reach
				// the log before the intent it relies on.
				continue
			}
			rec.events[iids[i]] = recordedEvent{Kind: c.Kind, Contract: c.Contract, Subject: c.Subject, Failed: c.Failed}
		}
	}
	if err := checkConsistency(evs, fresh, ts.Ref, rec); err != nil {
		s.metrics.rejected.Inc()
		return err
	}
	return nil
}

// contractSent reports whether the index of contract (a reference) holds a
// contract.sent. The sending is normally the contract's first event, so the
// scan usually stops at the first entry.
func (s *Service) contractSent(ctx context.Context, ts *tenantState, contract string) (bool, error) {
	sent := false
	prefix := contractEventsPrefix(ts.ID, contract)
	err := s.store.scan(ctx, prefix, prefixEnd(prefix), func(_, v []byte) (bool, error) {
		err := decodeEntries(v, func(e EventEntry) bool {
			sent = e.Kind == event.KindContractSent
			return !sent
		})
		if err != nil {
			return false, fmt.Errorf("evidence: event entry: %w", err)
		}
		return !sent, nil
	})
	if err != nil {
		return false, fmt.Errorf("evidence: reading the contract index: %w", err)
	}
	return sent, nil
}

// buildRecord makes the pending claim and the sealed record of ev
// (event.BuildRecord), sealed under the actor's subject key sk.
func buildRecord(ts *tenantState, ev *event.Event, sk *subjectKey, now time.Time) (*claim, *sealedRecord, error) {
	var key *event.SubjectKey
	if sk != nil {
		key = &sk.SubjectKey
	}
	r, err := event.BuildRecord(ts.TenantKeys, ev, key, now)
	if err != nil {
		return nil, nil, err
	}
	// The claim's slices point into r: one allocation for all of them.
	c := &claim{
		State: "pending", Digest: r.Digest[:], Kind: ev.Kind, Time: ev.Time,
		Leaf: r.Leaf, LeafHash: r.LeafHash[:], Contract: r.Contract, Docs: r.Docs,
		Subject: r.Sealed.Subject, SubjectKey: r.Sealed.SubjectKey, Failed: failedIntent(ev),
	}
	if ev.Contract != nil {
		c.ContractID, c.Name = ev.Contract.ID, ev.Contract.Name
	}
	sr := &sealedRecord{
		V: 1, Tenant: ts.ID, Subject: r.Sealed.Subject, SubjectKey: r.Sealed.SubjectKey,
		Personal: r.Sealed.Personal, IDNumber: r.Sealed.IDNumber, Contract: r.Sealed.Contract,
	}
	return c, sr, nil
}

// commitPending durably writes the pending claims, each carrying its sealed
// record until finalize knows the index to store it under, and the new
// subject keys of fresh items in one synced batch. Claims and new keys are
// inserted, so that of two processes claiming one id, or creating a key for
// one new subject, exactly one wins and the other gets errConflict. On a
// shared store the keys already stored must still be there unchanged: an
// erasure in another process may have destroyed one since it was read.
func (s *Service) commitPending(ctx context.Context, ts *tenantState, work []*item, newKeys, usedKeys []*subjectKey) error {
	// ingestOnce read every claim and subject key this inserts holding the
	// event ids (acquire) and eraseMu, which serialise their writers here.
	b := &batch{sync: true, prechecked: true}
	n := 0
	inserted := map[*subjectKey]bool{}
	for _, sk := range newKeys {
		// Once each: newKeys holds a new signer's key for each of their
		// events, and on PostgreSQL every repeat was another statement
		// rewriting the row it had just inserted.
		if inserted[sk] {
			continue
		}
		inserted[sk] = true
		v, err := encodeValue(storedSubjectKey{KeyID: sk.ID, Wrapped: sk.wrapped})
		if err != nil {
			return err
		}
		b.insert(subjectKeyKey(ts.ID, sk.Subject), v)
	}
	for _, it := range work {
		if !it.fresh {
			continue
		}
		n++
		if it.sealed != nil {
			sv, err := encodeValue(it.sealed)
			if err != nil {
				return err
			}
			it.c.Sealed = sv
		}
		v, err := encodeValue(it.c)
		if err != nil {
			return err
		}
		b.insertPending(claimKey(ts.ID, it.id), v)
	}
	if n == 0 && len(newKeys) == 0 {
		return nil
	}
	if s.store.shared() {
		seen := map[*subjectKey]bool{}
		for _, sk := range usedKeys {
			if seen[sk] {
				continue
			}
			seen[sk] = true
			v, err := encodeValue(storedSubjectKey{KeyID: sk.ID, Wrapped: sk.wrapped})
			if err != nil {
				return err
			}
			b.expect(subjectKeyKey(ts.ID, sk.Subject), v)
		}
	}
	if err := s.store.commit(ctx, b); err != nil {
		if errors.Is(err, errConflict) {
			return err
		}
		return fmt.Errorf("evidence: writing pending claims: %w", err)
	}
	for _, sk := range newKeys {
		sk.persisted.Store(true)
	}
	return nil
}

// appendAndFinalize appends the items' leaves to the log in one atomic
// AppendAll and records the receipts.
func (s *Service) appendAndFinalize(ctx context.Context, tenant string, work []*item) error {
	leaves := make([][]byte, len(work))
	for i, it := range work {
		leaves[i] = it.c.Leaf
	}
	lrs, err := s.log.AppendAll(ctx, leaves)
	if err != nil {
		return fmt.Errorf("evidence: appending to the log: %w", err)
	}
	if len(lrs) != len(leaves) {
		return fmt.Errorf("evidence: log returned %d receipts for %d leaves", len(lrs), len(leaves))
	}
	for i, it := range work {
		if want := event.LeafHash(it.c.Leaf); lrs[i].Hash != want {
			return fmt.Errorf("evidence: log receipt %d has leaf hash %x, want %x", i, lrs[i].Hash, want)
		}
		it.c.Index, it.c.TreeSize = lrs[i].Index, lrs[i].TreeSize
	}
	return s.finalizeGrouped(ctx, tenant, work)
}

// finalizeGroup is the work of concurrent requests of one tenant finalized
// in one transaction.
type finalizeGroup struct {
	work []*item
	done chan struct{}
	err  error
}

// maxGroupItems bounds the events one grouped finalize records.
const maxGroupItems = 4096

// finalizeGrouped finalizes work together with that of the requests of
// the same tenant arriving while an earlier group is being finalized: one
// store transaction for all of them instead of one each behind a mutex,
// which was where concurrent single-event ingest spent its time (86% of
// mutex delay; 2.4k events/s from 32 goroutines). The first request of a
// group leads it: it waits for the previous group to finish, closes its
// own to newcomers and finalizes everything in it; the others wait for the
// outcome. Items of concurrent requests never share an event id (acquire
// holds the ids until the request returns).
func (s *Service) finalizeGrouped(ctx context.Context, tenant string, work []*item) error {
	s.groupMu.Lock()
	g := s.groupOpen[tenant]
	leader := g == nil || len(g.work)+len(work) > maxGroupItems
	if leader {
		g = &finalizeGroup{done: make(chan struct{})}
		s.groupOpen[tenant] = g
	}
	g.work = append(g.work, work...)
	s.groupMu.Unlock()
	if !leader {
		// Not cancellable: the leader records these items whatever
		// happens to this request, and the outcome comes in bounded time.
		<-g.done
		return g.err
	}
	s.groupRun.Lock()
	s.groupMu.Lock()
	if s.groupOpen[tenant] == g {
		delete(s.groupOpen, tenant)
	}
	all := g.work
	s.groupMu.Unlock()
	// The group's transaction must not fail because the leader's request
	// was cancelled: the others' items are in it.
	g.err = s.finalize(context.WithoutCancel(ctx), tenant, all)
	s.groupRun.Unlock()
	close(g.done)
	s.metrics.finalizeGroup.Observe(float64(len(all)))
	return g.err
}

// claim is the stored state of one (tenant, id).
type claim struct {
	State      string     `json:"state"` // "pending" or "done"
	Digest     []byte     `json:"digest"`
	Kind       event.Kind `json:"kind"`
	Time       time.Time  `json:"time"`
	Leaf       []byte     `json:"leaf,omitempty"` // kept while pending
	LeafHash   []byte     `json:"leaf_hash"`
	Index      uint64     `json:"index"`
	TreeSize   uint64     `json:"tree_size"`
	Contract   string     `json:"contract,omitempty"`    // reference
	ContractID string     `json:"contract_id,omitempty"` // kept while pending, as are Name, Docs and Pos
	Name       string     `json:"contract_name,omitempty"`
	Subject    string     `json:"subject,omitempty"` // reference
	// Failed marks a failed intent.verified, for the consistency check of
	// the signatures citing it (claims written before it was kept read as
	// passed).
	Failed     bool     `json:"failed,omitempty"`
	SubjectKey string   `json:"subject_key,omitempty"`
	Docs       []string `json:"docs,omitempty"`
	Pos        int      `json:"pos"` // position in its batch, to recover in order
	// Sealed is the encoded sealed record while pending: finalize stores it
	// under the index the log assigned (sealedKey), which the pending
	// write cannot know.
	Sealed []byte `json:"sealed,omitempty"`
}

func (c *claim) receipt(id string) Receipt {
	return Receipt{ID: id, Index: c.Index, LeafHash: hex.EncodeToString(c.LeafHash), Checkpoint: c.TreeSize}
}

// acquire claims keys for this request, waiting while another request
// holds any of them. The returned func releases them.
func (s *Service) acquire(ctx context.Context, keys []string) (func(), error) {
	for {
		s.inflightMu.Lock()
		var wait chan struct{}
		for _, k := range keys {
			if ch, ok := s.inflight[k]; ok {
				wait = ch
				break
			}
		}
		if wait == nil {
			ch := make(chan struct{})
			for _, k := range keys {
				s.inflight[k] = ch
			}
			s.inflightMu.Unlock()
			return func() {
				s.inflightMu.Lock()
				for _, k := range keys {
					delete(s.inflight, k)
				}
				s.inflightMu.Unlock()
				close(ch)
			}, nil
		}
		s.inflightMu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return nil, fmt.Errorf("evidence: waiting for a concurrent request with the same id: %w", ctx.Err())
		}
	}
}
