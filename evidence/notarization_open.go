package evidence

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/cunzheng/cunzheng/evidence/event"
)

// OpenNotarization is a notarisation the log asked an office for and has
// recorded no answer to yet: a notarization.requested without a
// notarization.issued or .refused of the same request.
type OpenNotarization struct {
	Tenant Tenant
	// Contract is the contract number, as RecordNotarization takes it.
	Contract string
	// Request is the request id, Office the office's key name.
	Request, Office string
	// Requested is when it was requested.
	Requested time.Time
}

// OpenNotarizations returns the open notarisations of every tenant, oldest
// first, so that a log that restarted asks the offices about them again
// without anyone asking in the console.
//
// It reads no index of its own: the claims of the events the service
// writes itself sort first under each tenant (serverClaimsPrefix), so one
// short range scan per tenant finds every notarisation event ever recorded
// (a handful per contract that was notarised), and the store says the same
// on Pebble and on PostgreSQL. A request recorded before this was written
// is found the same way. The office's name comes from the request's public
// leaf, read with leaf and checked against its claim's leaf hash; the
// contract number from the (sealed) contract record. A request whose claim
// is still pending is left out: recovery finishes it when the service
// opens, and in a cluster the process appending it watches it itself. A
// request whose leaf or contract cannot be read is logged and left out; an
// error is returned only when the store cannot be read.
func (s *Service) OpenNotarizations(ctx context.Context, leaf LeafReader) ([]OpenNotarization, error) {
	if err := s.reg.reload(); err != nil {
		return nil, err
	}
	var out []OpenNotarization
	for _, ts := range s.reg.all() {
		open, err := s.openNotarizations(ctx, ts, leaf)
		if err != nil {
			return nil, err
		}
		out = append(out, open...)
	}
	slices.SortFunc(out, func(a, b OpenNotarization) int {
		return cmp.Or(a.Requested.Compare(b.Requested), strings.Compare(a.Request, b.Request))
	})
	return out, nil
}

// openNotarizations is OpenNotarizations for one tenant.
func (s *Service) openNotarizations(ctx context.Context, ts *tenantState, leaf LeafReader) ([]OpenNotarization, error) {
	prefix := serverClaimsPrefix(ts.ID, notarizationNames)
	requested := map[string]claim{}
	answered := map[string]bool{}
	err := s.store.scan(ctx, prefix, prefixEnd(prefix), func(k, v []byte) (bool, error) {
		// The name after the prefix is "<kind>/<request>"; kinds hold no '/'.
		kind, request, ok := strings.Cut(string(k[len(prefix):]), "/")
		if !ok {
			return true, nil
		}
		switch event.Kind(kind) {
		case event.KindNotarizationIssued, event.KindNotarizationRefused:
			answered[request] = true
		case event.KindNotarizationRequested:
			var c claim
			if err := decodeValue(k, v, &c); err != nil {
				return false, err
			}
			if c.State == "done" {
				requested[request] = c
			}
		}
		return true, nil
	})
	if err != nil {
		return nil, fmt.Errorf("evidence: reading the notarisations of tenant %s: %w", ts.ID, err)
	}
	var out []OpenNotarization
	for request, c := range requested {
		if answered[request] {
			continue
		}
		n, err := s.openNotarization(ctx, ts, request, c, leaf)
		if err != nil {
			// One request that cannot be read (its leaf unreadable or not
			// the request's) must not keep the others from being asked
			// about. The request id and tenant id are no personal data.
			s.logger.ErrorContext(ctx, "evidence: an open notarisation left out", "tenant", ts.ID, "request", request, "err", err)
			continue
		}
		out = append(out, n)
	}
	return out, nil
}

// openNotarization reads what the claim of a request does not hold: the
// contract number and the office.
func (s *Service) openNotarization(ctx context.Context, ts *tenantState, request string, c claim, leaf LeafReader) (OpenNotarization, error) {
	n := OpenNotarization{Tenant: ts.Tenant, Request: request, Requested: c.Time}
	v, found, err := s.store.get(ctx, contractKeyOf(ts.ID, c.Contract))
	if err != nil {
		return n, fmt.Errorf("evidence: reading the contract of notarisation %s: %w", request, err)
	}
	if !found {
		return n, fmt.Errorf("evidence: notarisation %s: its contract is not indexed", request)
	}
	var cr contractRecord
	if err := openContractRecord(ts, c.Contract, v, &cr); err != nil {
		return n, err
	}
	n.Contract = cr.ID
	_, pr, err := checkedLeaf(ctx, leaf, c.Index, c.LeafHash, "the claim of notarisation "+request)
	if err != nil {
		return n, err
	}
	n.Office, _ = pr.Data["office"].(string)
	if got, _ := pr.Data["request"].(string); got != request || pr.Kind != event.KindNotarizationRequested || n.Office == "" {
		return n, fmt.Errorf("evidence: leaf %d is not the request %s", c.Index, request)
	}
	return n, nil
}

// all returns every tenant loaded.
func (r *registry) all() []*tenantState {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]*tenantState, 0, len(r.byID))
	for _, ts := range r.byID {
		out = append(out, ts)
	}
	return out
}
