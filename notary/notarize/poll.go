package notarize

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/cunzheng/cunzheng/evidence"
	"github.com/cunzheng/cunzheng/notary"
)

// DefaultPollInterval is how often Poll asks the offices about the
// requests still open.
const DefaultPollInterval = time.Minute

// inFlight is how long after a request is recorded in the ledger an office
// may still not know it without a warning: Request records it before it
// sends the bundle, so another process of a cluster polling the ledger's
// open requests can ask in between (as can this one, after a restart
// during the send).
const inFlight = 5 * time.Minute

// openRequest is a request not yet answered, with what Result needs to
// record the answer. requested is set for a request read from the ledger
// (zero for one this process sent, which the office acknowledged).
type openRequest struct {
	p                    evidence.Principal
	contract, office, id string
	requested            time.Time
}

// watch adds a request to the ones Poll asks about.
func (s *Service) watch(p evidence.Principal, contract string, rec notary.RequestRecord) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.open[rec.Office+"\x00"+rec.ID] = openRequest{p: p, contract: contract, office: rec.Office, id: rec.ID}
}

// settle drops an answered request from the ones Poll asks about.
func (s *Service) settle(rec notary.RequestRecord) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.open, rec.Office+"\x00"+rec.ID)
}

// Open returns how many requests Poll still asks about.
func (s *Service) Open() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.open)
}

// PollOnce asks each office about every request that has no answer yet:
// the ones this process sent (or read back still pending) and, with
// Config.Pending, every one the ledger holds open, in any tenant, sent by
// this process before a restart or by another process. Each answer is
// recorded once through Result. An office that cannot be reached is asked
// again next time; a request to an office no longer configured is reported
// once and left open in the ledger. It returns how many answers were
// recorded.
func (s *Service) PollOnce(ctx context.Context, logger *slog.Logger) int {
	recorded := 0
	for _, o := range s.toPoll(ctx, logger) {
		if ctx.Err() != nil {
			break
		}
		rec, err := s.Result(ctx, o.p, o.contract, o.office, o.id)
		if err != nil {
			// The request id and office name carry no personal data.
			if errors.Is(err, notary.ErrNotFound) && !o.requested.IsZero() {
				s.notYetAtOffice(ctx, logger, o, err)
				continue
			}
			logger.WarnContext(ctx, "asking the office about a notarisation request", "office", o.office, "request", o.id, "err", err)
			continue
		}
		if answered(rec) {
			recorded++
		}
	}
	return recorded
}

// toPoll is what PollOnce asks about: this process's open requests and
// the ledger's, each once.
func (s *Service) toPoll(ctx context.Context, logger *slog.Logger) []openRequest {
	var pending []evidence.OpenNotarization
	if s.cfg.Pending != nil {
		var err error
		if pending, err = s.cfg.Pending(ctx); err != nil {
			logger.WarnContext(ctx, "listing the open notarisation requests of the ledger", "err", err)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	todo := make([]openRequest, 0, len(s.open)+len(pending))
	for _, o := range s.open {
		todo = append(todo, o)
	}
	for _, n := range pending {
		k := n.Office + "\x00" + n.Request
		if _, mine := s.open[k]; mine {
			continue
		}
		if _, err := s.office(n.Office); err != nil {
			if !s.unknown[k] {
				s.unknown[k] = true
				logger.WarnContext(ctx, "an open notarisation request names an office not configured; not asked", "office", n.Office, "request", n.Request)
			}
			continue
		}
		// The answer is recorded as the tenant's legal team would record
		// it from the console (the requester, a key of that role, asked).
		p := evidence.Principal{Tenant: n.Tenant, Roles: []evidence.Role{evidence.RoleLegal}}
		todo = append(todo, openRequest{p: p, contract: n.Contract, office: n.Office, id: n.Request, requested: n.Requested})
	}
	return todo
}

// notYetAtOffice logs a request of the ledger the office does not know:
// quietly while it may still be on its way (inFlight), then once as a
// warning (its send failed: the legal team can request again); it is
// asked about again at every poll either way.
func (s *Service) notYetAtOffice(ctx context.Context, logger *slog.Logger, o openRequest, err error) {
	if s.cfg.Clock().Sub(o.requested) < inFlight {
		logger.DebugContext(ctx, "a notarisation request is not at the office yet", "office", o.office, "request", o.id)
		return
	}
	k := o.office + "\x00" + o.id
	s.mu.Lock()
	warned := s.missing[k]
	s.missing[k] = true
	s.mu.Unlock()
	if !warned {
		logger.WarnContext(ctx, "the office does not know a notarisation request the ledger holds open (its sending failed?)", "office", o.office, "request", o.id, "requested", o.requested, "err", err)
	}
}

// Poll runs PollOnce at once and then every interval (DefaultPollInterval
// when 0) until ctx ends, so that an office's answer is recorded in the
// ledger without anyone asking for it in the console, also for the
// requests open when the process started.
func (s *Service) Poll(ctx context.Context, interval time.Duration, logger *slog.Logger) {
	if interval <= 0 {
		interval = DefaultPollInterval
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		s.PollOnce(ctx, logger)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
