package evidence

import (
	"context"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/cunzheng/cunzheng/evidence/event"
)

// isCustody reports whether k is a record the server keeps about a
// contract (an issued report, a notarisation) rather than a step of it.
func isCustody(k event.Kind) bool {
	switch k {
	case event.KindReportIssued, event.KindNotarizationRequested, event.KindNotarizationIssued, event.KindNotarizationRefused:
		return true
	}
	return false
}

// Notarization is one notarisation event. None of it is personal data:
// Office is the office's key name, Request the request id; Requester (the
// label of the key that asked, which names the tenant) is sealed with the
// contract's fields, as for report.issued.
type Notarization struct {
	Kind      event.Kind
	Request   string // request id, unique per request
	Office    string // the office's key name
	Requester string // label of the requesting key (requested only)
	// BundleSHA256 is the evidence bundle sent (64 lower-case hex digits).
	BundleSHA256 string
	// CertificateSHA256 is the issued 公证书 PDF (issued only).
	CertificateSHA256 string
	// Reason is the office's reason (refused only).
	Reason string
	Time   time.Time
}

func (n Notarization) data() map[string]any {
	d := map[string]any{"request": n.Request, "office": n.Office, "bundle_sha256": n.BundleSHA256}
	if n.Requester != "" {
		d["requester"] = n.Requester
	}
	if n.CertificateSHA256 != "" {
		d["certificate_sha256"] = n.CertificateSHA256
	}
	if n.Reason != "" {
		d["reason"] = n.Reason
	}
	return d
}

func (n Notarization) check() error {
	bad := func(field, msg string) error {
		return fmt.Errorf("%w: %s %s %s", event.ErrInvalidEvent, n.Kind, field, msg)
	}
	switch {
	case n.Kind != event.KindNotarizationRequested && n.Kind != event.KindNotarizationIssued && n.Kind != event.KindNotarizationRefused:
		return fmt.Errorf("%w: %q is not a notarisation kind", event.ErrInvalidEvent, n.Kind)
	case !printable(n.Request, 128):
		return bad("request", "must be 1 to 128 bytes of printable UTF-8")
	case !printable(n.Office, 128):
		return bad("office", "must be 1 to 128 bytes of printable UTF-8")
	case n.Requester != "" && (n.Kind != event.KindNotarizationRequested || !printable(n.Requester, 200)):
		return bad("requester", "is given on a request only, at most 200 bytes of printable UTF-8")
	case !isHex64(n.BundleSHA256):
		return bad("bundle_sha256", "must be 64 lower-case hex digits")
	case (n.Kind == event.KindNotarizationIssued) != (n.CertificateSHA256 != ""),
		n.CertificateSHA256 != "" && !isHex64(n.CertificateSHA256):
		return bad("certificate_sha256", "must be 64 lower-case hex digits on an issue, absent otherwise")
	case (n.Kind == event.KindNotarizationRefused) != (n.Reason != ""),
		n.Reason != "" && !utf8.ValidString(n.Reason), len(n.Reason) > 2000:
		return bad("reason", "must be given on a refusal only, at most 2000 bytes")
	case n.Time.Year() < 1970 || n.Time.Year() >= 2200:
		return bad("time", "must be within the years 1970 to 2199")
	}
	return nil
}

// RecordNotarization records a notarisation event under the contract with
// id of the principal's tenant, as RecordReport does for reports: the leaf
// names the contract by the tenant's reference only. Recording the same
// kind for the same request twice returns the first receipt (the same facts)
// or ErrIDConflict (others). ErrNotFound for another tenant's or an absent
// contract.
func (s *Service) RecordNotarization(ctx context.Context, p Principal, id string, n Notarization) (Receipt, error) {
	if !p.Has(RoleLegal) {
		return Receipt{}, ErrForbidden
	}
	if err := n.check(); err != nil {
		return Receipt{}, err
	}
	return s.recordServerEvent(ctx, p, id, notarizationName(n.Kind, n.Request), n.Kind, n.Time, n.data())
}

// notarizationNames is what the server ids of every notarisation event
// start with (recordServerEvent prepends a NUL): OpenNotarizations finds
// them by this prefix.
const notarizationNames = "notarization/"

// notarizationName is the server id of the kind's event for request.
func notarizationName(kind event.Kind, request string) string {
	return notarizationNames + string(kind) + "/" + request
}
