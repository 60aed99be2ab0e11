package evidence

import (
	"context"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/cunzheng/cunzheng/evidence/event"
)

// ReportIssued is one report issued for a contract: an entry of the chain
// of custody. None of it is personal data: Requester is the label of the
// API key that asked, not a person.
type ReportIssued struct {
	Report    string    // report number, unique per issuance
	Document  string    // "certificate", "evidence-report", "evidence-bundle"
	Requester string    // label of the requesting key
	Revealed  bool      // whether personal data was shown in full
	SHA256    string    // 64 lower-case hex digits: the bytes served
	Time      time.Time // when it was issued
}

// data is the event's data object; report/assemble reads these members
// back from the leaf.
func (r ReportIssued) data() map[string]any {
	return map[string]any{"report": r.Report, "document": r.Document, "requester": r.Requester,
		"revealed": r.Revealed, "sha256": r.SHA256}
}

// printable reports whether s is 1 to max bytes of UTF-8 without control
// characters: what the service accepts in the fields of the events it
// writes itself (report numbers, request ids, office names, requesters).
func printable(s string, max int) bool {
	if s == "" || len(s) > max || !utf8.ValidString(s) {
		return false
	}
	for _, c := range s {
		if c < 0x20 || c == 0x7f {
			return false
		}
	}
	return true
}

func (r ReportIssued) check() error {
	bad := func(field, msg string) error {
		return fmt.Errorf("%w: report.issued %s %s", event.ErrInvalidEvent, field, msg)
	}
	switch {
	case !printable(r.Report, 128):
		return bad("report", "must be 1 to 128 bytes of printable UTF-8")
	case !printable(r.Document, 64):
		return bad("document", "must be 1 to 64 bytes of printable UTF-8")
	case r.Requester != "" && !printable(r.Requester, 200):
		return bad("requester", "must be at most 200 bytes of printable UTF-8")
	case !isHex64(r.SHA256):
		return bad("sha256", "must be 64 lower-case hex digits")
	case r.Time.Year() < 1970 || r.Time.Year() >= 2200:
		return bad("time", "must be within the years 1970 to 2199")
	}
	return nil
}

// RecordReport records that a report was issued for the contract with id of
// the principal's tenant: a report.issued event appended to the log and
// indexed under the contract, so that Records returns it and later reports
// list it in their chain of custody. The leaf names the contract only by the
// tenant's reference, like every contract event; report number, document
// kind, revealed flag and SHA-256 of the served bytes are public, the
// requester label (which names the tenant's key) is sealed with the
// contract's fields ("data.requester"). It neither changes the contract's status nor its first and last
// activity times. Recording the same report number twice returns the first
// receipt. ErrNotFound for another tenant's or an absent contract.
func (s *Service) RecordReport(ctx context.Context, p Principal, id string, r ReportIssued) (Receipt, error) {
	if !p.Has(RoleLegal) {
		return Receipt{}, ErrForbidden
	}
	if err := r.check(); err != nil {
		return Receipt{}, err
	}
	return s.recordServerEvent(ctx, p, id, "report/"+r.Report, event.KindReportIssued, r.Time, r.data())
}

// recordServerEvent appends one event the service itself writes about the
// contract with id of the principal's tenant (a report issued, a
// notarisation requested or answered) under the server id "\x00"+name:
// a NUL never occurs in client ids (the schema refuses control
// characters), so server ids cannot collide with them, and recording the
// same name twice returns the first receipt.
func (s *Service) recordServerEvent(ctx context.Context, p Principal, id, name string, kind event.Kind, at time.Time, data map[string]any) (Receipt, error) {
	if _, err := s.Contract(p, id); err != nil {
		return Receipt{}, err
	}
	ts, err := s.reg.tenant(p.Tenant.ID)
	if err != nil {
		return Receipt{}, err
	}
	ev, err := event.ServerEvent("\x00"+name, kind, at, id, data)
	if err != nil {
		return Receipt{}, fmt.Errorf("evidence: %s: %w", kind, err)
	}
	rs, err := s.ingest(ctx, ts, []event.Event{ev})
	if err != nil {
		return Receipt{}, err
	}
	rs[0].ID = ""
	return rs[0], nil
}
