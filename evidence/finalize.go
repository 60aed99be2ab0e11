package evidence

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/cunzheng/cunzheng/evidence/event"
)

// finalize marks the items' claims done with their receipts and updates the
// contract index, in one unsynced transaction: the pending claims it
// replaces are durable, so a crash before it reaches disk is repaired by
// recovery. It goes lock → read → apply → commit:
//
//   - lock: the contract records are read-modify-write, so the transaction
//     locks them (and, on a shared store, the claims) first, in key order:
//     in one process that is update's mutex, in a cluster PostgreSQL's row
//     locks, so that two processes finishing events of one contract at
//     once both count (lockIndex, indexTxn.lockKeys);
//   - read and apply, one event at a time (indexTxn.apply): its claim
//     marked done, its sealed record stored, its contract's entry read
//     from the cache or the locked values (indexTxn.entry) and changed by
//     the index rule, applyEvent, and the index keys the change calls for
//     (indexTxn.indexKeys);
//   - commit: the changed entries and their name index (indexTxn.commit).
//
// On a shared store a claim another process already finalized (it
// completed the same pending claim) is skipped, so no event is indexed
// twice; the in-memory contract cache is only used when the store is not
// shared (lockIndex, cacheContracts).
func (s *Service) finalize(ctx context.Context, tenant string, work []*item) error {
	ts, err := s.reg.tenant(tenant)
	if err != nil {
		return err
	}
	for _, it := range work {
		if err := claimContract(ts, it.c); err != nil {
			return err
		}
	}
	shared := s.store.shared()
	s.lockIndex(shared)
	defer s.unlockIndex(shared)
	var ix *indexTxn
	err = s.store.update(ctx, func(tx txn) error {
		// A transaction may run again (a conflict in a cluster): every
		// attempt starts from what it reads.
		ix = s.newIndexTxn(ts, shared, tx.batch())
		locked, err := tx.lock(ix.lockKeys(work))
		if err != nil {
			return fmt.Errorf("evidence: locking the contract index: %w", err)
		}
		ix.locked = locked
		for _, it := range work {
			if err := ix.apply(it); err != nil {
				return err
			}
		}
		return ix.commit()
	})
	if err != nil {
		return fmt.Errorf("evidence: recording receipts: %w", err)
	}
	s.cacheContracts(shared, tenant, ix.contracts)
	return nil
}

// lockIndex takes what serialises finalize (unlockIndex releases it). On
// the embedded store that is indexMu, which guards the contract cache from
// the reads in the transaction to the writes after its commit, and which
// an erasure's commit takes too (see unerased). A shared store's
// transactions serialise finalize themselves and no cache is kept.
func (s *Service) lockIndex(shared bool) {
	if !shared {
		s.indexMu.Lock()
	}
}

func (s *Service) unlockIndex(shared bool) {
	if !shared {
		s.indexMu.Unlock()
	}
}

// cachedContract returns the committed entry of contract ref of tenant
// from the cache, never on a shared store (another process may have
// changed any record). The caller holds indexMu.
func (s *Service) cachedContract(shared bool, tenant, ref string) (*contractRecord, bool) {
	if shared {
		return nil, false
	}
	cr, ok := s.contractCache[tenant+"/"+ref]
	return cr, ok
}

// cacheContracts puts the entries finalize committed into the cache (only
// committed state enters it), starting it over past maxCachedContracts.
// The caller holds indexMu.
func (s *Service) cacheContracts(shared bool, tenant string, contracts map[string]*contractRecord) {
	if shared {
		return
	}
	if len(s.contractCache)+len(contracts) > maxCachedContracts {
		clear(s.contractCache)
	}
	for ref, cr := range contracts {
		s.contractCache[tenant+"/"+ref] = cr
	}
}

// maxCachedContracts bounds the contract record cache of finalize. A miss
// costs one more key in the lock read finalize makes anyway; a large cache
// costs garbage collection, which marks every cached record in every
// cycle. With this cache and the subject key cache at 100k and 200k
// entries, batched ingest of 200k events spent 21-31% more CPU per event
// (282-286 against 216-237 us) and peaked at 516 MiB RSS, against 227 MiB
// at 20k each.
const maxCachedContracts = 20_000

// indexTxn is one attempt of finalize's transaction: what it locked and
// read, and the contract entries it is changing.
type indexTxn struct {
	s      *Service
	ts     *tenantState
	tenant string
	shared bool
	b      *batch
	// eraseGen is Service.eraseGen when the transaction began (see
	// unerased).
	eraseGen uint64
	// locked holds the values of the keys lockKeys named, as stored.
	locked map[string][]byte
	// contracts are the entries of the contracts this transaction
	// changes, as applyEvent leaves them.
	contracts map[string]*contractRecord
	// created are the contracts it indexes for the first time; indexed,
	// what the name index files each other contract under now.
	created map[string]bool
	indexed map[string]contractRecord
	// entries are the event entries it records, by contract (e/ + ref) or
	// by subject outside contracts (u/ + subject): one row each (commit).
	entries map[string][]EventEntry
}

func (s *Service) newIndexTxn(ts *tenantState, shared bool, b *batch) *indexTxn {
	return &indexTxn{
		s: s, ts: ts, tenant: ts.ID, shared: shared, b: b, eraseGen: s.eraseGen.Load(),
		contracts: map[string]*contractRecord{},
		created:   map[string]bool{},
		indexed:   map[string]contractRecord{},
		entries:   map[string][]EventEntry{},
	}
}

// unerased reports whether it's subject key is known not to be erased
// without reading it. A claim written by the request finalizing it cannot
// have been erased in this process if no erasure committed since it was
// durable: an erasure waits for ingest's claims (eraseMu) and commits
// holding indexMu, which finalize holds. Claims left pending by an
// earlier request, claims of requests an erasure overtook, and any claim
// on a shared store are checked against the stored subject key.
func (ix *indexTxn) unerased(it *item) bool {
	return it.fresh && !ix.shared && it.eraseGen == ix.eraseGen
}

// lockKeys are the keys finalize locks and reads, in the transaction:
// on a shared store the claims (another process may have finalized one),
// the subject keys of claims that may have been erased since, and the
// records of the contracts not in the cache.
func (ix *indexTxn) lockKeys(work []*item) [][]byte {
	var keys [][]byte
	refs := map[string]bool{}
	for _, it := range work {
		if ix.shared {
			keys = append(keys, claimKey(ix.tenant, it.id))
		}
		if it.c.Subject != "" && !ix.unerased(it) {
			keys = append(keys, subjectKeyKey(ix.tenant, it.c.Subject))
		}
		if ref := it.c.Contract; ref != "" && !refs[ref] {
			refs[ref] = true
			if _, hit := ix.s.cachedContract(ix.shared, ix.tenant, ref); !hit {
				keys = append(keys, contractKeyOf(ix.tenant, ref))
			}
		}
	}
	return keys
}

// apply marks the claim of it done and indexes its event.
func (ix *indexTxn) apply(it *item) error {
	c := it.c
	if ix.shared {
		var stored claim
		// A claim still pending reads as empty (txn.lock): not done.
		if v, ok := ix.locked[string(claimKey(ix.tenant, it.id))]; ok && len(v) > 0 {
			if err := decodeValue([]byte("i"), v, &stored); err != nil {
				return err
			}
		}
		if stored.State == "done" {
			c.State, c.Leaf, c.Index, c.TreeSize = "done", nil, stored.Index, stored.TreeSize
			return nil
		}
	}
	c.State = "done"
	c.Leaf = nil
	b := ix.b
	if len(c.Sealed) > 0 {
		b.set(sealedKey(c.Index, c.LeafHash), c.Sealed)
	}
	// What only finalize needs (the document hashes, the contract's
	// number and name, the position for recovery) stays out of the
	// stored claim: a retried id needs the receipt and the digest.
	done := *c
	done.Docs, done.ContractID, done.Name, done.Pos, done.Sealed = nil, "", "", 0, nil
	dv, err := encodeValue(&done)
	if err != nil {
		return err
	}
	b.setDone(claimKey(ix.tenant, it.id), dv)
	entry := EventEntry{Receipt: c.receipt(it.id), Kind: c.Kind, Time: c.Time}
	if c.Contract == "" {
		// Identity checks and registrations belong to a person, not a
		// contract; reports find them through the contract's subjects.
		if c.Subject != "" && c.Kind != event.KindDataErased {
			ix.entries["u/"+c.Subject] = append(ix.entries["u/"+c.Subject], entry)
		}
		return nil
	}
	ix.entries["e/"+c.Contract] = append(ix.entries["e/"+c.Contract], entry)
	cr, err := ix.entry(c.Contract)
	if err != nil {
		return err
	}
	before := *cr
	*cr = applyEvent(before, c)
	return ix.indexKeys(it, before, *cr)
}

// entry returns the entry of contract ref this transaction is changing:
// the one it changed already, the cached one, the stored one it locked,
// or, for a contract not yet indexed, the zero entry.
func (ix *indexTxn) entry(ref string) (*contractRecord, error) {
	if cr, ok := ix.contracts[ref]; ok {
		return cr, nil
	}
	cr := &contractRecord{}
	if cached, hit := ix.s.cachedContract(ix.shared, ix.tenant, ref); hit {
		*cr = *cached // applyEvent never changes the entry it is given
	} else if v, ok := ix.locked[string(contractKeyOf(ix.tenant, ref))]; ok {
		if err := openContractRecord(ix.ts, ref, v, cr); err != nil {
			return nil, err
		}
	} else {
		ix.created[ref] = true
	}
	if !ix.created[ref] {
		ix.indexed[ref] = contractRecord{Name: cr.Name, First: cr.First}
	}
	ix.contracts[ref] = cr
	return cr, nil
}

// indexKeys writes the index keys of the event of it, whose contract's
// entry applyEvent changed from before to after: the date index when the
// first event's time moved, the contract under the account and the
// account under the contract, and the documents the event names.
func (ix *indexTxn) indexKeys(it *item, before, after contractRecord) error {
	c, b, ref := it.c, ix.b, it.c.Contract
	switch {
	case before.First.IsZero(): // its first event
		b.set(dateIndexKey(ix.tenant, after.First, ref), []byte{})
	case !after.First.Equal(before.First):
		b.delete(dateIndexKey(ix.tenant, before.First, ref))
		b.set(dateIndexKey(ix.tenant, after.First, ref), []byte{})
	}
	if c.Subject != "" && (ix.unerased(it) || !erasedSince(ix.locked, ix.tenant, c)) {
		// Always: an erasure deletes the account's a/ keys, and the
		// same account may act again.
		b.set(accountContractKey(ix.tenant, c.Subject, ref), []byte{})
	}
	if c.Subject != "" && !slices.Contains(before.Subjects, c.Subject) {
		// Past maxRecordSubjects the entry stops listing subjects and this
		// key is written again for each of their events.
		b.set(contractSubjectKey(ix.tenant, ref, c.Subject), []byte{})
	}
	for _, d := range c.Docs {
		// The contract number is in the (sealed) contract record.
		m := docMatch{Index: c.Index, Kind: c.Kind, Time: c.Time}
		if err := setValue(b, docIndexKey(d, ix.tenant, ref, c.Index), &m); err != nil {
			return err
		}
	}
	return nil
}

// commit writes the event entries, a row per contract and per subject
// outside contracts (a request's events of a contract were a row each,
// a sixth of the rows PostgreSQL wrote per event), the changed contract
// records, sealed, and their name index entries.
func (ix *indexTxn) commit() error {
	for group, es := range ix.entries {
		slices.SortFunc(es, func(a, b EventEntry) int { return cmp.Compare(a.Index, b.Index) })
		table, name := group[:1], group[2:]
		if len(es) == 1 {
			k := contractEventKey(ix.tenant, name, es[0].Index)
			if table == "u" {
				k = subjectEventKey(ix.tenant, name, es[0].Index)
			}
			if err := setValue(ix.b, k, (*storedEntry)(&es[0])); err != nil {
				return err
			}
			continue
		}
		first, last := es[0].Index, es[len(es)-1].Index
		k := contractEventsKey(ix.tenant, name, first, last)
		if table == "u" {
			k = subjectEventsKey(ix.tenant, name, first, last)
		}
		if err := setValue(ix.b, k, storedEntries(es)); err != nil {
			return err
		}
	}
	for ref, cr := range ix.contracts {
		// The name index files a contract by its name's prefixes and
		// its first event's time: rewritten when either changed.
		if was, ok := ix.indexed[ref]; !ok || was.Name != cr.Name || !was.First.Equal(cr.First) {
			if ok {
				for _, k := range nameIndexKeys(ix.ts, was.Name, was.First, ref) {
					ix.b.delete(k)
				}
			}
			for _, k := range nameIndexKeys(ix.ts, cr.Name, cr.First, ref) {
				ix.b.set(k, []byte{})
			}
		}
		v, err := sealContractRecord(ix.ts, ref, cr)
		if err != nil {
			return err
		}
		if ix.created[ref] {
			// Nothing to lock for a record that does not exist yet: if
			// another process creates it first, this insert conflicts
			// and the transaction runs again, reading theirs.
			ix.b.insert(contractKeyOf(ix.tenant, ref), v)
		} else {
			ix.b.set(contractKeyOf(ix.tenant, ref), v)
		}
	}
	return nil
}

// erasedSince reports whether the key c was sealed under is no longer the
// subject's stored key: the subject was erased after the claim was
// committed (by another process, or while the claim waited for a failed
// append to be retried), so the account index must not point at it again.
func erasedSince(locked map[string][]byte, tenant string, c *claim) bool {
	v, ok := locked[string(subjectKeyKey(tenant, c.Subject))]
	if !ok {
		return true
	}
	var st storedSubjectKey
	return json.Unmarshal(v, &st) != nil || st.KeyID != c.SubjectKey
}
