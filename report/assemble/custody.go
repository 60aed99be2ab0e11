package assemble

import (
	"context"
	"fmt"

	"github.com/cunzheng/cunzheng/evidence"
	"github.com/cunzheng/cunzheng/report"
)

// Recorder is the part of *evidence.Service that Custody uses.
type Recorder interface {
	// RecordReport appends a report.issued event under the tenant's
	// contract and returns its receipt once durable; evidence.ErrNotFound
	// for another tenant's or an absent contract.
	RecordReport(ctx context.Context, p evidence.Principal, id string, r evidence.ReportIssued) (evidence.Receipt, error)
}

var _ Recorder = (*evidence.Service)(nil)

// Custody records every issued report as a report.issued event of the
// contract through the evidence service, so that the contract's records
// include it and every later report lists it in its chain of custody. The
// leaf is public: it names the contract by the tenant's reference only and
// carries the report number, document kind, requester label, whether
// personal data was revealed, the SHA-256 of the bytes served and the time
// (the members CustodyData names).
type Custody struct {
	Evidence Recorder
}

var _ report.Custody = Custody{}

// Issued implements report.Custody.
func (c Custody) Issued(ctx context.Context, is report.Issuance) (uint64, error) {
	p := evidence.Principal{Tenant: evidence.Tenant{ID: is.Tenant}, Roles: []evidence.Role{evidence.RoleLegal}}
	r, err := c.Evidence.RecordReport(ctx, p, is.Contract, evidence.ReportIssued{
		Report: is.ReportNumber, Document: is.Kind, Requester: is.Requester,
		Revealed: is.Revealed, SHA256: is.SHA256, Time: is.At,
	})
	if err != nil {
		return 0, fmt.Errorf("assemble: recording report.issued: %w", err)
	}
	return r.Index, nil
}
