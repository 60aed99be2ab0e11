package notarize

import (
	"context"
	"log/slog"
	"time"

	"github.com/cunzheng/cunzheng/evidence"
	"github.com/cunzheng/cunzheng/notary"
)

// DefaultPollInterval is how often Poll asks the offices about the
// requests still open.
const DefaultPollInterval = time.Minute

// openRequest is a request sent and not yet answered, with what Result
// needs to record the answer.
type openRequest struct {
	p                    evidence.Principal
	contract, office, id string
}

// watch adds a request to the ones Poll asks about.
func (s *Service) watch(p evidence.Principal, contract string, rec notary.RequestRecord) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.open[rec.Office+"\x00"+rec.ID] = openRequest{p, contract, rec.Office, rec.ID}
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

// PollOnce asks each office about every request it holds that this
// process sent (or read back still pending) and that has no answer yet,
// recording each answer once through Result. An office that cannot be
// reached is asked again next time. It returns how many answers were
// recorded.
func (s *Service) PollOnce(ctx context.Context, logger *slog.Logger) int {
	s.mu.Lock()
	todo := make([]openRequest, 0, len(s.open))
	for _, o := range s.open {
		todo = append(todo, o)
	}
	s.mu.Unlock()
	recorded := 0
	for _, o := range todo {
		if ctx.Err() != nil {
			break
		}
		rec, err := s.Result(ctx, o.p, o.contract, o.office, o.id)
		if err != nil {
			// The request id and office name carry no personal data.
			logger.WarnContext(ctx, "asking the office about a notarisation request", "office", o.office, "request", o.id, "err", err)
			continue
		}
		if answered(rec) {
			recorded++
		}
	}
	return recorded
}

// Poll runs PollOnce every interval (DefaultPollInterval when 0) until ctx
// ends, so that an office's answer is recorded in the ledger without
// anyone asking for it in the console.
func (s *Service) Poll(ctx context.Context, interval time.Duration, logger *slog.Logger) {
	if interval <= 0 {
		interval = DefaultPollInterval
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.PollOnce(ctx, logger)
		}
	}
}
