package evidence

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// contractRecord is the private index entry of one contract.
type contractRecord struct {
	ID     string    `json:"id"`
	Name   string    `json:"name,omitempty"`
	First  time.Time `json:"first"`
	Last   time.Time `json:"last"`
	Status Kind      `json:"status"`
	Events int       `json:"events"`
	// Subjects are the first maxRecordSubjects people who acted in the
	// contract, so that finalize writes their v/ keys only once.
	Subjects []string `json:"subjects,omitempty"`
}

const maxRecordSubjects = 32

// EventEntry is one event of a contract as GET /v1/contracts/{id} lists it.
type EventEntry struct {
	Receipt
	Kind Kind      `json:"kind"`
	Time time.Time `json:"time"`
}

// docMatch is the value of a document-hash index entry.
type docMatch struct {
	ContractID string    `json:"contract_id"`
	Index      uint64    `json:"index"`
	Kind       Kind      `json:"kind"`
	Time       time.Time `json:"time"`
}

// finalize marks the items' claims done with their receipts and updates the
// contract index, in one unsynced transaction: the pending claims it
// replaces are durable, so a crash before it reaches disk is repaired by
// recovery.
//
// The contract records are read-modify-write. The transaction locks them
// (and, on a shared store, the claims) first, in key order: in one process
// that is update's mutex, in a cluster PostgreSQL's row locks, so that two
// processes finishing events of one contract at once both count. On a
// shared store a claim another process already finalized (it completed the
// same pending claim) is skipped, so no event is indexed twice; the
// in-memory contract cache is only used when the store is not shared.
func (s *Service) finalize(ctx context.Context, tenant string, work []*item) error {
	shared := s.store.shared()
	if !shared {
		// Guards the contract cache from the reads in the transaction to
		// the writes after its commit.
		s.indexMu.Lock()
		defer s.indexMu.Unlock()
	}
	// A claim written by the request finalizing it cannot have been erased
	// since in this process: every ingest holds eraseMu shared from its
	// first read to its end, an erasure holds it exclusively. Claims left
	// pending by an earlier request, and any claim on a shared store, are
	// checked against the stored subject key.
	unerased := func(it *item) bool { return it.fresh && !shared }
	var contracts map[string]*contractRecord
	err := s.store.update(ctx, func(tx txn) error {
		b := tx.batch()
		contracts = map[string]*contractRecord{}
		created := map[string]bool{}
		var lockKeys [][]byte
		refs := map[string]bool{}
		for _, it := range work {
			if shared {
				lockKeys = append(lockKeys, key("i", tenant, it.id))
			}
			if it.c.Subject != "" && !unerased(it) {
				// To see an erasure committed since the claim was written
				// (below).
				lockKeys = append(lockKeys, key("k", tenant, it.c.Subject))
			}
			if ref := it.c.Contract; ref != "" && !refs[ref] {
				refs[ref] = true
				if _, hit := s.contractCache[tenant+"/"+ref]; shared || !hit {
					lockKeys = append(lockKeys, key("c", tenant, ref))
				}
			}
		}
		locked, err := tx.lock(lockKeys)
		if err != nil {
			return fmt.Errorf("evidence: locking the contract index: %w", err)
		}
		for _, it := range work {
			c := it.c
			if shared {
				var stored claim
				if v, ok := locked[string(key("i", tenant, it.id))]; ok {
					if err := decodeValue([]byte("i"), v, &stored); err != nil {
						return err
					}
				}
				if stored.State == "done" {
					c.State, c.Leaf, c.Index, c.TreeSize = "done", nil, stored.Index, stored.TreeSize
					continue
				}
			}
			c.State = "done"
			c.Leaf = nil
			if len(c.Sealed) > 0 {
				b.set(sealedKey(c.Index, c.LeafHash), c.Sealed)
			}
			// What only finalize needs (the document hashes, the contract's
			// number and name, the position for recovery) stays out of the
			// stored claim: a retried id needs the receipt and the digest.
			done := *c
			done.Docs, done.ContractID, done.Name, done.Pos, done.Sealed = nil, "", "", 0, nil
			if err := setValue(b, key("i", tenant, it.id), &done); err != nil {
				return err
			}
			b.delete(key("p", tenant, it.id))
			entry := EventEntry{Receipt: c.receipt(it.id), Kind: c.Kind, Time: c.Time}
			if c.Contract == "" {
				// Identity checks and registrations belong to a person, not a
				// contract; reports find them through the contract's subjects.
				if c.Subject != "" && c.Kind != KindDataErased {
					if err := setValue(b, key("u", tenant, c.Subject, indexHex(c.Index)), (*storedEntry)(&entry)); err != nil {
						return err
					}
				}
				continue
			}
			if err := setValue(b, key("e", tenant, c.Contract, indexHex(c.Index)), (*storedEntry)(&entry)); err != nil {
				return err
			}
			cr, ok := contracts[c.Contract]
			if !ok {
				found := false
				if cached, hit := s.contractCache[tenant+"/"+c.Contract]; hit && !shared {
					cp := *cached
					cp.Subjects = slices.Clone(cached.Subjects)
					cr, found = &cp, true
				} else if v, ok := locked[string(key("c", tenant, c.Contract))]; ok {
					cr = &contractRecord{}
					if err := decodeValue([]byte("c"), v, cr); err != nil {
						return err
					}
					found = true
				}
				if !found {
					created[c.Contract] = true
					cr = &contractRecord{ID: c.ContractID, First: c.Time, Last: c.Time}
					b.set(key("t", tenant, timeHex(c.Time), c.Contract), []byte{})
				}
				contracts[c.Contract] = cr
			}
			// A report issued about the contract is part of its timeline, not
			// of its lifecycle: status and activity times stay the platform's.
			lifecycle := c.Kind != KindReportIssued
			if lifecycle && c.Time.Before(cr.First) {
				b.delete(key("t", tenant, timeHex(cr.First), c.Contract))
				b.set(key("t", tenant, timeHex(c.Time), c.Contract), []byte{})
				cr.First = c.Time
			}
			if lifecycle && !c.Time.Before(cr.Last) {
				cr.Last, cr.Status = c.Time, c.Kind
			}
			if c.Name != "" && c.Name != cr.Name {
				if cr.Name != "" {
					b.delete(nameKey(tenant, cr.Name, c.Contract))
				}
				cr.Name = c.Name // its name index entry is written below
			}
			if CountsAsEvent(c.Kind) {
				cr.Events++
			}
			if c.Subject != "" && (unerased(it) || !erasedSince(locked, tenant, c)) {
				// Always: an erasure deletes the account's a/ keys, and the
				// same account may act again.
				b.set(key("a", tenant, c.Subject, c.Contract), []byte{})
			}
			if c.Subject != "" && !slices.Contains(cr.Subjects, c.Subject) {
				b.set(key("v", tenant, c.Contract, c.Subject), []byte{})
				if len(cr.Subjects) < maxRecordSubjects {
					cr.Subjects = append(cr.Subjects, c.Subject)
				}
			}
			for _, d := range c.Docs {
				m := docMatch{ContractID: c.ContractID, Index: c.Index, Kind: c.Kind, Time: c.Time}
				if err := setValue(b, key("h", d, tenant, c.Contract, indexHex(c.Index)), &m); err != nil {
					return err
				}
			}
		}
		for ref, cr := range contracts {
			if cr.Name != "" {
				// The entry carries the first event's time, which may have
				// moved, so that a search by name and dates filters on the
				// index alone instead of reading every named contract.
				b.set(nameKey(tenant, cr.Name, ref), []byte(timeHex(cr.First)))
			}
			v, err := encodeValue(cr)
			if err != nil {
				return err
			}
			if created[ref] {
				// Nothing to lock for a record that does not exist yet: if
				// another process creates it first, this insert conflicts
				// and the transaction runs again, reading theirs.
				b.insert(key("c", tenant, ref), v)
			} else {
				b.set(key("c", tenant, ref), v)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("evidence: recording receipts: %w", err)
	}
	if shared {
		return nil
	}
	// Only committed state enters the cache.
	if len(s.contractCache)+len(contracts) > maxCachedContracts {
		clear(s.contractCache)
	}
	for ref, cr := range contracts {
		s.contractCache[tenant+"/"+ref] = cr
	}
	return nil
}

// erasedSince reports whether the key c was sealed under is no longer the
// subject's stored key: the subject was erased after the claim was
// committed (by another process, or while the claim waited for a failed
// append to be retried), so the account index must not point at it again.
func erasedSince(locked map[string][]byte, tenant string, c *claim) bool {
	v, ok := locked[string(key("k", tenant, c.Subject))]
	if !ok {
		return true
	}
	var st storedSubjectKey
	return json.Unmarshal(v, &st) != nil || st.KeyID != c.SubjectKey
}

// maxCachedContracts bounds the contract record cache of finalize. A miss
// costs one more key in the lock read finalize makes anyway; a large cache
// costs garbage collection, which marks every cached record in every
// cycle. With this cache and the subject key cache at 100k and 200k
// entries, batched ingest of 200k events spent 21-31% more CPU per event
// (282-286 against 216-237 us) and peaked at 516 MiB RSS, against 227 MiB
// at 20k each.
const maxCachedContracts = 20_000

func nameKey(tenant, name, contract string) []byte {
	return append(key("n", tenant, strings.ToLower(name)), append([]byte{0}, contract...)...)
}

// CountsAsEvent is the one definition of a contract's event count (事件数)
// that the console, the API and the reports print: every event the
// platform recorded naming the contract. The chain of custody
// (report.issued) is counted apart, as reports issued; the identity checks
// and registrations of its parties belong to the people and are listed
// beside the contract's events, not counted among them.
func CountsAsEvent(k Kind) bool { return k != KindReportIssued && k != KindDataErased }

// ContractView is a contract with its events, for GET /v1/contracts/{id}.
// Events lists every event naming the contract, report.issued included;
// EventCount counts those CountsAsEvent admits.
type ContractView struct {
	ID         string       `json:"id"`
	Name       string       `json:"name,omitempty"`
	First      time.Time    `json:"first"`
	Last       time.Time    `json:"last"`
	Status     Kind         `json:"status"`
	EventCount int          `json:"event_count"`
	Events     []EventEntry `json:"events"`
}

// Contract returns the contract with id of the principal's tenant and its
// events in log order. Another tenant's contract is ErrNotFound, exactly
// like an absent one: the lookup key includes the tenant and its reference
// is an HMAC under the tenant's own key.
func (s *Service) Contract(p Principal, id string) (*ContractView, error) {
	if !p.Has(RoleLegal) && !p.Has(RoleIngest) {
		return nil, ErrForbidden
	}
	if id == "" || len(id) > 64 {
		return nil, ErrNotFound
	}
	ts, err := s.reg.tenant(p.Tenant.ID)
	if err != nil {
		return nil, err
	}
	ref := ts.ref("contract", id)
	var cr contractRecord
	found, err := s.get(key("c", ts.ID, ref), &cr)
	if err != nil {
		return nil, err
	}
	if !found || cr.ID != id {
		return nil, ErrNotFound
	}
	v := &ContractView{ID: cr.ID, Name: cr.Name, First: cr.First, Last: cr.Last, Status: cr.Status}
	err = s.scanPrefix(key("e", ts.ID, ref, ""), func(_, val []byte) (bool, error) {
		var e EventEntry
		if err := (*storedEntry)(&e).UnmarshalBinary(val); err != nil {
			return false, fmt.Errorf("evidence: event entry: %w", err)
		}
		v.Events = append(v.Events, e)
		if CountsAsEvent(e.Kind) {
			v.EventCount++
		}
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	return v, nil
}

// DocumentMatch is a contract event that names a document hash.
type DocumentMatch struct {
	ContractID string    `json:"contract_id"`
	Index      uint64    `json:"index"`
	Kind       Kind      `json:"kind"`
	Time       time.Time `json:"time"`
}

// LookupDocument returns every recorded event, of any tenant, that names
// the document with SHA-256 sha256Hex (64 lower-case hex digits): the public
// verification page uses it to say whether the ledger holds an uploaded PDF
// and under which contract number and leaf index. ErrNotFound if none.
func (s *Service) LookupDocument(sha256Hex string) ([]DocumentMatch, error) {
	if !isHex64(sha256Hex) {
		return nil, fmt.Errorf("%w: a document hash is 64 lower-case hex digits", ErrInvalidQuery)
	}
	var out []DocumentMatch
	err := s.scanPrefix(key("h", sha256Hex, ""), func(_, v []byte) (bool, error) {
		var m docMatch
		if err := m.UnmarshalBinary(v); err != nil {
			return false, fmt.Errorf("evidence: document entry: %w", err)
		}
		out = append(out, DocumentMatch(m))
		return len(out) < 1000, nil
	})
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, ErrNotFound
	}
	return out, nil
}

func isHex64(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// Query selects contracts of one tenant. Account (exact) drives the scan
// when set, else Name (case-insensitive prefix), else the date range; the
// other conditions filter. From and To bound the first event's time (To
// exclusive, zero means open).
type Query struct {
	Name    string
	Account string
	From    time.Time
	To      time.Time
	Cursor  string // from a previous Page.Next
	Limit   int    // default DefaultSearchLimit, at most MaxSearchLimit
}

// Search limits.
const (
	DefaultSearchLimit = 50
	MaxSearchLimit     = 500
)

// ContractSummary is one search result. Events is the event count
// (CountsAsEvent).
type ContractSummary struct {
	ID     string    `json:"id"`
	Name   string    `json:"name,omitempty"`
	First  time.Time `json:"first"`
	Last   time.Time `json:"last"`
	Status Kind      `json:"status"`
	Events int       `json:"events"`
}

// Page is a page of search results; Next, when not empty, fetches the next.
type Page struct {
	Contracts []ContractSummary `json:"contracts"`
	Next      string            `json:"next,omitempty"`
}

// maxScan bounds the index entries one search page reads, so that a
// selective filter over a large tenant answers in bounded time with a
// cursor to continue.
const maxScan = 20_000

// Search returns a page of the principal's tenant's contracts matching q.
func (s *Service) Search(p Principal, q Query) (*Page, error) {
	if !p.Has(RoleLegal) && !p.Has(RoleIngest) {
		return nil, ErrForbidden
	}
	ts, err := s.reg.tenant(p.Tenant.ID)
	if err != nil {
		return nil, err
	}
	if q.Limit <= 0 {
		q.Limit = DefaultSearchLimit
	}
	q.Limit = min(q.Limit, MaxSearchLimit)
	var lower, upper []byte
	var refOf func(k []byte) string
	switch {
	case q.Account != "":
		lower = key("a", ts.ID, ts.ref("subject", q.Account), "")
		upper = prefixEnd(lower)
		refOf = func(k []byte) string { return string(k[len(lower):]) }
	case q.Name != "":
		lower = key("n", ts.ID, strings.ToLower(q.Name))
		upper = prefixEnd(lower)
		refOf = func(k []byte) string {
			i := strings.LastIndexByte(string(k), 0)
			return string(k[i+1:])
		}
	default:
		base := key("t", ts.ID, "")
		lower, upper = base, prefixEnd(base)
		if !q.From.IsZero() {
			lower = key("t", ts.ID, timeHex(q.From))
		}
		if !q.To.IsZero() {
			upper = key("t", ts.ID, timeHex(q.To))
		}
		refOf = func(k []byte) string { return string(k[len(base)+17:]) }
	}
	if q.Cursor != "" {
		c, err := hex.DecodeString(q.Cursor)
		if err != nil || string(c) < string(lower) || string(c) >= string(upper) {
			return nil, fmt.Errorf("%w: cursor", ErrInvalidQuery)
		}
		lower = append(c, 0) // strictly after the cursor key
	}
	page := &Page{Contracts: []ContractSummary{}}
	scanned := 0
	var last []byte // set once the page is full: the next key means more
	// A name index entry holds the contract's first event time (timeHex,
	// order-preserving): with dates, it decides without the record.
	var fromHex, toHex string
	if !q.From.IsZero() {
		fromHex = timeHex(q.From)
	}
	if !q.To.IsZero() {
		toHex = timeHex(q.To)
	}
	err = s.store.scan(context.Background(), lower, upper, func(k, v []byte) (bool, error) {
		if last != nil {
			page.Next = hex.EncodeToString(last)
			return false, nil
		}
		scanned++
		if q.Account == "" && q.Name != "" && len(v) == 16 &&
			(fromHex != "" && string(v) < fromHex || toHex != "" && string(v) >= toHex) {
			if scanned == maxScan {
				last = slices.Clone(k)
			}
			return true, nil
		}
		ref := refOf(k)
		var cr contractRecord
		found, err := s.get(key("c", ts.ID, ref), &cr)
		if err != nil {
			return false, err
		}
		match := found &&
			(q.Name == "" || strings.HasPrefix(strings.ToLower(cr.Name), strings.ToLower(q.Name))) &&
			(q.From.IsZero() || !cr.First.Before(q.From)) &&
			(q.To.IsZero() || cr.First.Before(q.To))
		if match {
			page.Contracts = append(page.Contracts, ContractSummary{ID: cr.ID, Name: cr.Name, First: cr.First, Last: cr.Last, Status: cr.Status, Events: cr.Events})
		}
		if len(page.Contracts) == q.Limit || scanned == maxScan {
			last = slices.Clone(k)
		}
		return true, nil
	})
	if err != nil {
		return nil, fmt.Errorf("evidence: %w", err)
	}
	return page, nil
}
