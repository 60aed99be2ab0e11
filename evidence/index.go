package evidence

import (
	"cmp"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/cunzheng/cunzheng/evidence/event"
)

// contractRecord is the private index entry of one contract.
type contractRecord struct {
	ID     string     `json:"id"`
	Name   string     `json:"name,omitempty"`
	First  time.Time  `json:"first"`
	Last   time.Time  `json:"last"`
	Status event.Kind `json:"status"`
	Events int        `json:"events"`
	// Subjects are the first maxRecordSubjects people who acted in the
	// contract, so that finalize writes their v/ keys only once.
	Subjects []string `json:"subjects,omitempty"`
}

const maxRecordSubjects = 32

// EventEntry is one event of a contract as GET /v1/contracts/{id} lists it.
type EventEntry struct {
	Receipt
	Kind event.Kind `json:"kind"`
	Time time.Time  `json:"time"`
}

// docMatch is the value of a document-hash index entry.
type docMatch struct {
	ContractID string     `json:"contract_id"`
	Index      uint64     `json:"index"`
	Kind       event.Kind `json:"kind"`
	Time       time.Time  `json:"time"`
}

// nameBuckets are the lengths, in runes, of the name prefixes the name
// index files a contract under. A search by a name prefix of n runes reads
// the bucket of its first b runes, b the largest of these not above n, and
// keeps the contracts whose (opened) name starts with the whole prefix; a
// one-rune prefix reads the date index instead. Three entries per named
// contract at most; a bucket per rune count would make a 200-rune name 200.
var nameBuckets = [...]int{2, 4, 8}

// nameBucket is the keyed hash naming the bucket of a lower-case prefix.
func nameBucket(ts *tenantState, prefix string) string { return ts.Ref("name", prefix) }

// nameIndexKeys are the name index entries of contract ref named name.
func nameIndexKeys(ts *tenantState, name string, first time.Time, ref string) [][]byte {
	if name == "" {
		return nil
	}
	lower := strings.ToLower(name)
	var out [][]byte
	n, end := 0, 0
	for _, b := range nameBuckets {
		for n < b && end < len(lower) {
			_, size := utf8.DecodeRuneInString(lower[end:])
			end += size
			n++
		}
		if n < b {
			break
		}
		out = append(out, nameIndexKey(ts.ID, nameBucket(ts, lower[:end]), first, ref))
	}
	return out
}

// searchBucket returns the bucket a search for the lower-case prefix q
// reads, or false when q is shorter than every bucket.
func searchBucket(ts *tenantState, q string) (string, bool) {
	runes := utf8.RuneCountInString(q)
	best := 0
	for _, b := range nameBuckets {
		if b <= runes {
			best = b
		}
	}
	if best == 0 {
		return "", false
	}
	end := 0
	for range best {
		_, size := utf8.DecodeRuneInString(q[end:])
		end += size
	}
	return nameBucket(ts, q[:end]), true
}

const contractV2 = 2 // a contractRecord sealed under the tenant's contract key

func contractAD(tenant, ref string) []byte {
	return []byte("cunzheng contract record v2\x00" + tenant + "\x00" + ref)
}

// sealContractRecord is the stored form of contract ref's record: its
// binary form (MarshalBinary) sealed with AES-256-GCM under the tenant's
// contract key, so that its number and name are on disk only as
// ciphertext, like the contract fields of the sealed records.
func sealContractRecord(ts *tenantState, ref string, cr *contractRecord) ([]byte, error) {
	pt, err := cr.MarshalBinary()
	if err != nil {
		return nil, err
	}
	blob, err := event.SealWith(ts.ContractAEAD, event.AlgAES256GCM, pt, contractAD(ts.ID, ref))
	if err != nil {
		return nil, err
	}
	return append([]byte{contractV2}, blob...), nil
}

// openContractRecord reads a stored contract record: sealed, or in one of
// the plain forms written before (binary or JSON) that Open migrates.
func openContractRecord(ts *tenantState, ref string, v []byte, cr *contractRecord) error {
	if len(v) > 0 && v[0] == contractV2 {
		pt, err := event.OpenWith(ts.ContractAEAD, event.AlgAES256GCM, v[1:], contractAD(ts.ID, ref))
		if err != nil {
			return fmt.Errorf("evidence: opening contract record: %w", err)
		}
		v = pt
	}
	if err := cr.UnmarshalBinary(v); err != nil {
		return fmt.Errorf("evidence: decoding contract record: %w", err)
	}
	return nil
}

// claimContract fills in the contract number and name of a pending claim
// read back from the store: a pending claim keeps them only in its sealed
// record's contract part (claims written before kept them in the clear).
func claimContract(ts *tenantState, c *claim) error {
	if c.Contract == "" || c.ContractID != "" {
		return nil
	}
	if len(c.Sealed) == 0 {
		return errors.New("evidence: a pending claim names a contract without its sealed record")
	}
	var sr sealedRecord
	if err := sr.UnmarshalBinary(c.Sealed); err != nil {
		return fmt.Errorf("evidence: pending claim's sealed record: %w", err)
	}
	pt, err := event.OpenWith(ts.ContractAEAD, event.AlgAES256GCM, sr.Contract, event.SealAD(ts.ID, c.LeafHash, event.PartContract))
	if err != nil {
		return fmt.Errorf("evidence: opening a pending claim's contract: %w", err)
	}
	fields, err := event.OpenPart(pt, "")
	if err != nil {
		return fmt.Errorf("evidence: pending claim's contract: %w", err)
	}
	c.ContractID, c.Name = fields["contract.id"].Value, fields["contract.name"].Value
	if c.ContractID == "" {
		return errors.New("evidence: a pending claim's sealed record has no contract number")
	}
	return nil
}

// CountsAsEvent is the one definition of a contract's event count (事件数)
// that the console, the API and the reports print: every event the
// platform recorded naming the contract. The chain of custody
// (report.issued) is counted apart, as reports issued; the identity checks
// and registrations of its parties belong to the people and are listed
// beside the contract's events, not counted among them.
func CountsAsEvent(k event.Kind) bool {
	return !isCustody(k) && k != event.KindDataErased
}

// ContractView is a contract with its events, for GET /v1/contracts/{id}.
// Events lists every event naming the contract, report.issued included;
// EventCount counts those CountsAsEvent admits.
type ContractView struct {
	ID         string       `json:"id"`
	Name       string       `json:"name,omitempty"`
	First      time.Time    `json:"first"`
	Last       time.Time    `json:"last"`
	Status     event.Kind   `json:"status"`
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
	ref := ts.Ref("contract", id)
	cr, err := s.contractRecord(ts, ref)
	if err != nil {
		return nil, err
	}
	if cr == nil || cr.ID != id {
		return nil, ErrNotFound
	}
	v := &ContractView{ID: cr.ID, Name: cr.Name, First: cr.First, Last: cr.Last, Status: cr.Status}
	v.Events, err = s.eventEntries(contractEventsPrefix(ts.ID, ref))
	if err != nil {
		return nil, err
	}
	for _, e := range v.Events {
		if CountsAsEvent(e.Kind) {
			v.EventCount++
		}
	}
	return v, nil
}

// eventEntries reads the event entries under prefix (a contract's e/ or
// a subject's u/ rows), one event per row or several (storedEntries), in
// log order, each index once.
func (s *Service) eventEntries(prefix []byte) ([]EventEntry, error) {
	var out []EventEntry
	sorted := true
	err := s.scanPrefix(prefix, func(_, val []byte) (bool, error) {
		err := decodeEntries(val, func(e EventEntry) bool {
			if n := len(out); n > 0 && out[n-1].Index >= e.Index {
				sorted = false
			}
			out = append(out, e)
			return true
		})
		if err != nil {
			return false, fmt.Errorf("evidence: event entry: %w", err)
		}
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	if !sorted {
		// Rows of requests finalized at once by two processes interleave.
		slices.SortStableFunc(out, func(a, b EventEntry) int { return cmp.Compare(a.Index, b.Index) })
		out = slices.CompactFunc(out, func(a, b EventEntry) bool { return a.Index == b.Index })
	}
	return out, nil
}

// contractRecord reads and opens the record of contract ref, nil if absent.
func (s *Service) contractRecord(ts *tenantState, ref string) (*contractRecord, error) {
	v, found, err := s.store.get(context.Background(), contractKeyOf(ts.ID, ref))
	if err != nil {
		return nil, fmt.Errorf("evidence: reading store: %w", err)
	}
	if !found {
		return nil, nil
	}
	cr := &contractRecord{}
	if err := openContractRecord(ts, ref, v, cr); err != nil {
		return nil, err
	}
	return cr, nil
}

// DocumentMatch is a contract event that names a document hash.
type DocumentMatch struct {
	ContractID string     `json:"contract_id"`
	Index      uint64     `json:"index"`
	Kind       event.Kind `json:"kind"`
	Time       time.Time  `json:"time"`
	// Tenant is the id of the tenant the event belongs to: only its
	// principals may be told ContractID.
	Tenant string `json:"tenant"`
}

// LookupDocument returns every recorded event, of any tenant, that names
// the document with SHA-256 sha256Hex (64 lower-case hex digits): the public
// verification page uses it to say whether the ledger holds an uploaded PDF
// and under which contract number and leaf index. ErrNotFound if none.
func (s *Service) LookupDocument(sha256Hex string) ([]DocumentMatch, error) {
	if !isHex64(sha256Hex) {
		return nil, fmt.Errorf("%w: a document hash is 64 lower-case hex digits", ErrInvalidQuery)
	}
	return s.documentMatches(sha256Hex)
}

// LookupReport returns the report.issued event of the report with number
// (what the QR code of an issued PDF carries), of any tenant. ErrNotFound
// if none.
func (s *Service) LookupReport(number string) ([]DocumentMatch, error) {
	if number == "" || len(number) > 128 {
		return nil, fmt.Errorf("%w: a report number is 1 to 128 bytes", ErrInvalidQuery)
	}
	return s.documentMatches(event.ReportNumberKey(number))
}

func (s *Service) documentMatches(docKey string) ([]DocumentMatch, error) {
	var out []DocumentMatch
	prefix := docIndexPrefix(docKey)
	ids := map[string]string{} // tenant/ref -> contract number
	err := s.scanPrefix(prefix, func(k, v []byte) (bool, error) {
		var m docMatch
		if err := m.UnmarshalBinary(v); err != nil {
			return false, fmt.Errorf("evidence: document entry: %w", err)
		}
		if m.ContractID == "" {
			// Entries name the contract by reference; its number is in
			// the sealed contract record.
			parts := strings.Split(string(k[len(prefix):]), "/")
			if len(parts) != 3 {
				return false, fmt.Errorf("evidence: document entry key %q", k)
			}
			tr := parts[0] + "/" + parts[1]
			id, ok := ids[tr]
			if !ok {
				ts, err := s.reg.tenant(parts[0])
				switch {
				case errors.Is(err, ErrTenantNotFound):
					// A tenant this server cannot load (a damaged file):
					// the match stands, without its number.
				case err != nil:
					return false, err
				default:
					cr, err := s.contractRecord(ts, parts[1])
					if err != nil {
						return false, err
					}
					if cr != nil {
						id = cr.ID
					}
				}
				ids[tr] = id
			}
			m.ContractID = id
		}
		// The key is h/<document>/<tenant>/<contract ref>/<index>.
		tenant, _, _ := strings.Cut(string(k[len(prefix):]), "/")
		out = append(out, DocumentMatch{ContractID: m.ContractID, Index: m.Index, Kind: m.Kind, Time: m.Time, Tenant: tenant})
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

// hasBucket reports whether a search for name reads a name bucket.
func hasBucket(ts *tenantState, name string) bool {
	_, ok := searchBucket(ts, strings.ToLower(name))
	return ok
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
// when set, else Name (case-insensitive prefix) of two runes or more, in
// the order of the contracts' first events, else the date range; the
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
	ID     string     `json:"id"`
	Name   string     `json:"name,omitempty"`
	First  time.Time  `json:"first"`
	Last   time.Time  `json:"last"`
	Status event.Kind `json:"status"`
	Events int        `json:"events"`
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
		lower = accountContractsPrefix(ts.ID, ts.Ref("subject", q.Account))
		upper = prefixEnd(lower)
		refOf = func(k []byte) string { return string(k[len(lower):]) }
	case q.Name != "" && hasBucket(ts, q.Name):
		bucket, _ := searchBucket(ts, strings.ToLower(q.Name))
		base := nameBucketPrefix(ts.ID, bucket)
		lower, upper = base, prefixEnd(base)
		if !q.From.IsZero() {
			lower = append(slices.Clone(base), timeHex(q.From)...)
		}
		if !q.To.IsZero() {
			upper = append(slices.Clone(base), timeHex(q.To)...)
		}
		refOf = func(k []byte) string { return string(k[len(base)+timeHexLen+1:]) }
	default:
		base := dateIndexPrefix(ts.ID)
		lower, upper = base, prefixEnd(base)
		if !q.From.IsZero() {
			lower = dateIndexFrom(ts.ID, q.From)
		}
		if !q.To.IsZero() {
			upper = dateIndexFrom(ts.ID, q.To)
		}
		refOf = func(k []byte) string { return string(k[len(base)+timeHexLen+1:]) }
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
	err = s.store.scan(context.Background(), lower, upper, func(k, v []byte) (bool, error) {
		if last != nil {
			page.Next = hex.EncodeToString(last)
			return false, nil
		}
		scanned++
		ref := refOf(k)
		cr, err := s.contractRecord(ts, ref)
		if err != nil {
			return false, err
		}
		found := cr != nil
		if !found {
			cr = &contractRecord{}
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
