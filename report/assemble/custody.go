package assemble

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/cunzheng/cunzheng/ledger"
	"github.com/cunzheng/cunzheng/report"
)

// Appender is the part of *ledger.Log that LedgerCustody uses.
type Appender interface {
	// Append returns once the leaf is durable and integrated.
	Append(ctx context.Context, leaf []byte) (ledger.Receipt, error)
}

var _ Appender = (*ledger.Log)(nil)

// LedgerCustody records every issued report as a report.issued leaf in the
// ledger. The leaf is public, so it names the tenant by its pseudonymous id
// and carries no contract id or personal data: report number, document
// kind, requester label, whether personal data was revealed, the SHA-256 of
// the bytes served, and the time.
//
// It does not link the event to the contract's index, which the evidence
// store owns, so later reports cannot list it yet; that needs the evidence
// service to append report.issued events under the contract (with
// CustodyData as their data) so that Records returns them.
type LedgerCustody struct {
	Log Appender
}

var _ report.Custody = LedgerCustody{}

// Issued implements report.Custody.
func (c LedgerCustody) Issued(ctx context.Context, is report.Issuance) (uint64, error) {
	rec := map[string]any{
		"v":      1,
		"kind":   "report.issued",
		"tenant": is.Tenant,
		"time":   is.At.UTC().Format(time.RFC3339Nano),
		"data":   CustodyData(is),
	}
	// encoding/json sorts map keys; with HTML escaping off and only ASCII
	// strings, booleans and small integers this is the RFC 8785 form.
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(rec); err != nil {
		return 0, fmt.Errorf("assemble: report.issued record: %w", err)
	}
	r, err := c.Log.Append(ctx, bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
	if err != nil {
		return 0, fmt.Errorf("assemble: appending report.issued: %w", err)
	}
	return r.Index, nil
}
