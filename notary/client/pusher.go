package client

import (
	"bytes"
	"cmp"
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/transparency-dev/formats/witness"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/cunzheng/cunzheng/ledger/tlogfmt"
	"github.com/cunzheng/cunzheng/notary"
)

// Log is the log side of notarization, as the Pusher needs it. The ledger
// satisfies it; its contract:
//
//   - NextCheckpoint blocks until the log has published a checkpoint larger
//     than after and returns the first such: its size, its signed note
//     exactly as the log signed it, and what is already stored beside it
//     (so that a restarted pusher neither re-sends nor re-stamps what is
//     done). It returns ctx's error when ctx ends. Every published
//     checkpoint must stay retrievable.
//   - Size returns the current tree size; the pusher starts Backfill leaves
//     below it.
//   - ConsistencyProof returns the RFC 6962 proof between two published sizes.
//   - AddCosignature and AddTimestamp store a verified cosignature line or
//     RFC 3161 token beside the published checkpoint of that size.
type Log interface {
	NextCheckpoint(ctx context.Context, after uint64) (Published, error)
	// Size is the log's current tree size.
	Size() uint64
	ConsistencyProof(ctx context.Context, old, size uint64) ([]tlog.Hash, error)
	AddCosignature(ctx context.Context, size uint64, line []byte) error
	AddTimestamp(ctx context.Context, size uint64, token []byte) error
}

// Published is a checkpoint as the log published it.
type Published struct {
	Size uint64
	// Note is the signed note as the log signed it, without cosignatures.
	Note []byte
	// Cosignatures are the cosignature lines already stored beside it.
	Cosignatures [][]byte
	// Timestamps is how many RFC 3161 tokens are already stored beside it.
	Timestamps int
	// Tokens are those tokens (DER), when the log gives them: a restarted
	// pusher reads the TSA time of what an earlier run stamped from them.
	Tokens [][]byte
}

// Submitter is an in-process notary office (a *notary.Office satisfies it), for
// the built-in office of an embedded deployment.
type Submitter interface {
	AddCheckpoint(ctx context.Context, body []byte) ([]byte, error)
}

var _ Submitter = (*notary.Office)(nil)

// Office is a notary office as the log sees it: where the Pusher sends
// checkpoints (or fetches cosignatures from) and the key it checks them by.
type Office struct {
	// URL is the office's tlog-witness submission prefix: requests go to
	// URL + "/add-checkpoint". Ignored when Local is set.
	URL string
	// Local, when set, is called instead of HTTP.
	Local Submitter
	// VKey is the office's verifier key, as tlogfmt.NewCosignatureVerifier
	// reads it (cosignature/v1, or Ed25519 read as cosignature/v1).
	VKey string
	// Fetch marks an office that pulls the log itself (cunzheng notary
	// --pull) and is not pushed to: the pusher polls its GET URL/v1/logs
	// and stores the cosignatures it made of checkpoints the log
	// published. Only the checkpoints such an office happened to see get
	// its cosignature.
	Fetch bool
}

// ParseOffice parses a --notary flag value "URL=VKEY", the key as
// tlogfmt.NewCosignatureVerifier reads it. Both halves may contain "=", so
// the split is the last one that leaves a valid key; when none does, the
// error says why the key of the leftmost split (the usual one) was refused.
func ParseOffice(s string) (Office, error) {
	var keyErr error
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] != '=' || !strings.Contains(s[:i], "://") {
			continue
		}
		u, vkey := s[:i], s[i+1:]
		_, err := tlogfmt.NewCosignatureVerifier(vkey)
		if err == nil {
			return Office{URL: strings.TrimRight(u, "/"), VKey: vkey}, nil
		}
		keyErr = err
	}
	if keyErr != nil {
		return Office{}, fmt.Errorf("notary: %q is not URL=VKEY: %w", s, keyErr)
	}
	return Office{}, fmt.Errorf("notary: %q is not URL=VKEY", s)
}

// TSA is an RFC 3161 time-stamping authority, always reached over HTTP:
// the built-in one too (served on loopback), so that its tokens go
// through exactly the path and checks remote ones do, and the report
// signer, which can only post to a URL, reaches it the same way.
type TSA struct {
	// URL receives POSTed application/timestamp-query requests. Required.
	URL string
	// Name, when set, shows on the status page instead of URL (the
	// built-in TSA's loopback URL means nothing to a reader).
	Name string
	// Roots, when set, must anchor the token signer's chain.
	Roots *x509.CertPool
}

// Pusher defaults.
const (
	// DefaultPushTimeout bounds one add-checkpoint request.
	DefaultPushTimeout = time.Second
	// DefaultMinBackoff and DefaultMaxBackoff bound the wait between
	// retries to an office or TSA that failed.
	DefaultMinBackoff = 100 * time.Millisecond
	DefaultMaxBackoff = 10 * time.Second
	// DefaultFetchInterval is how often an office that pulls the log is
	// asked for its cosignatures: as often as such an office polls the
	// log by default (notary.DefaultPullInterval).
	DefaultFetchInterval = time.Second
	// DefaultBackfill is PusherConfig.Backfill's default.
	DefaultBackfill = 1 << 20
	// pendingLimit bounds the checkpoints kept in memory for the quorum.
	pendingLimit = 1024
)

// PusherConfig configures a Pusher.
type PusherConfig struct {
	// Log is the log whose checkpoints are notarized. Required.
	Log Log
	// Offices receive every checkpoint.
	Offices []Office
	// Policy is a C2SP tlog-policy style quorum (the Sigsum policy format
	// as parsed by transparency-dev/formats/witness) over the Offices' keys.
	// The default requires every office.
	Policy string
	// TSAs time-stamp every checkpoint note.
	TSAs []TSA
	// Client makes the requests. The default has DefaultPushTimeout.
	Client *http.Client
	// MinBackoff and MaxBackoff default to DefaultMinBackoff and DefaultMaxBackoff.
	MinBackoff, MaxBackoff time.Duration
	// Backfill is how far back, in leaves below the log's size at start,
	// the pusher looks for checkpoints still lacking cosignatures or tokens.
	// The default is DefaultBackfill; a log that published a checkpoint a
	// second for a year is not walked from its first one at every restart.
	Backfill uint64
	// AlarmInterval is how often each office is asked how many alarms it
	// holds. The default is DefaultAlarmInterval.
	AlarmInterval time.Duration
	// FetchInterval is how often offices with Fetch set are polled. The
	// default is DefaultFetchInterval.
	FetchInterval time.Duration
	// Logger receives operational messages. The default discards them.
	Logger *slog.Logger
	// Registry receives the pusher's metrics. The default registers none.
	Registry prometheus.Registerer
}

// Pusher sends every checkpoint the log publishes to each notary office,
// stores the cosignatures it verified, decides by the quorum policy when a
// checkpoint counts as notarized, and gets RFC 3161 tokens over each note.
// Each office and each TSA has its own goroutine and cursor, so a slow or
// dead one delays nobody else, and the log's appends never wait on any.
//
// Spec: https://c2sp.org/tlog-witness
type Pusher struct {
	log      Log
	offices  []*officeState
	tsas     []*tsaState
	policy   witness.Group
	client   *http.Client
	min, max time.Duration
	fetchInt time.Duration
	alarmInt time.Duration
	start    uint64 // cursor of every loop at start
	logger   *slog.Logger
	metrics  *pusherMetrics

	mu        sync.Mutex                // guards the fields below
	pending   map[uint64]*pendingCosign // checkpoints awaiting the quorum
	notarized uint64                    // largest size the policy is satisfied for
	notAt     time.Time
}

type pendingCosign struct {
	note  []byte
	lines [][]byte
}

// officeState is owned by the notary's goroutine except for the status
// fields, which are guarded by Pusher.mu.
type officeState struct {
	Office
	verifier note.Verifier
	old      uint64 // the size we believe the office cosigned last
	// status, guarded by Pusher.mu
	size    uint64
	at      time.Time
	lastErr string
	alarms  int // alarms the office reports holding; -1 when unknown
	unacked int // of which not acknowledged; -1 when unknown
}

type tsaState struct {
	TSA
	size    uint64
	at      time.Time
	lastErr string
}

// NewPusher validates cfg and returns a Pusher; Run starts it.
func NewPusher(cfg PusherConfig) (*Pusher, error) {
	if cfg.Log == nil {
		return nil, errors.New("notary: PusherConfig.Log is required")
	}
	p := &Pusher{log: cfg.Log, client: cfg.Client, min: cfg.MinBackoff, max: cfg.MaxBackoff, logger: cfg.Logger,
		metrics: newPusherMetrics(cfg.Registry), pending: map[uint64]*pendingCosign{}}
	if p.client == nil {
		p.client = &http.Client{Timeout: DefaultPushTimeout}
	}
	if p.min <= 0 {
		p.min = DefaultMinBackoff
	}
	backfill := cfg.Backfill
	if backfill == 0 {
		backfill = DefaultBackfill
	}
	if size := cfg.Log.Size(); size > backfill {
		p.start = size - backfill
	}
	p.alarmInt = cfg.AlarmInterval
	if p.alarmInt <= 0 {
		p.alarmInt = DefaultAlarmInterval
	}
	p.fetchInt = cfg.FetchInterval
	if p.fetchInt <= 0 {
		p.fetchInt = DefaultFetchInterval
	}
	if p.max < p.min {
		p.max = max(DefaultMaxBackoff, p.min)
	}
	if p.logger == nil {
		p.logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	for i, n := range cfg.Offices {
		v, err := tlogfmt.NewCosignatureVerifier(n.VKey)
		if err != nil {
			return nil, fmt.Errorf("notary: notary %d key: %w", i, err)
		}
		if n.Local == nil && n.URL == "" {
			return nil, fmt.Errorf("notary: notary %d has neither URL nor Local", i)
		}
		if n.Fetch && n.URL == "" {
			return nil, fmt.Errorf("notary: notary %d fetches but has no URL", i)
		}
		n.URL = strings.TrimRight(n.URL, "/")
		p.offices = append(p.offices, &officeState{Office: n, verifier: v, alarms: -1, unacked: -1})
	}
	policy := cfg.Policy
	if policy == "" && len(p.offices) > 0 {
		// Default: every notary must cosign. The URLs in a policy only
		// matter to clients that push from it; the quorum is decided by keys.
		var b strings.Builder
		var names []string
		for i, n := range p.offices {
			fmt.Fprintf(&b, "witness n%d %s https://n%d.invalid\n", i, n.VKey, i)
			names = append(names, fmt.Sprintf("n%d", i))
		}
		fmt.Fprintf(&b, "group q all %s\nquorum q\n", strings.Join(names, " "))
		policy = b.String()
	}
	if policy != "" {
		g, err := witness.ParsePolicy([]byte(policy))
		if err != nil {
			return nil, fmt.Errorf("notary: quorum policy: %w", err)
		}
		p.policy = g
	}
	if len(p.offices) == 0 && len(cfg.TSAs) == 0 {
		return nil, errors.New("notary: a pusher needs at least one notary or TSA")
	}
	for i, t := range cfg.TSAs {
		if t.URL == "" {
			return nil, fmt.Errorf("notary: TSA %d has no URL", i)
		}
		p.tsas = append(p.tsas, &tsaState{TSA: t})
	}
	return p, nil
}

// Run pushes checkpoints until ctx ends, then returns nil.
func (p *Pusher) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, n := range p.offices {
		if n.Fetch {
			wg.Go(func() { p.runFetch(ctx, n) })
		} else {
			wg.Go(func() { p.runOffice(ctx, n) })
		}
		wg.Go(func() { p.watchAlarms(ctx, n) })
	}
	for _, t := range p.tsas {
		wg.Go(func() { p.runTSA(ctx, t) })
	}
	wg.Wait()
	return nil
}

// sleep waits d or until ctx ends, and reports whether ctx is still live.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func (p *Pusher) nextBackoff(d time.Duration) time.Duration { return min(2*d, p.max) }

// runOffice sends every published checkpoint, in order, to one office.
func (p *Pusher) runOffice(ctx context.Context, n *officeState) {
	cursor := p.start
	backoff := p.min
	for ctx.Err() == nil {
		pub, err := p.log.NextCheckpoint(ctx, cursor)
		if err != nil {
			if ctx.Err() == nil {
				p.logger.WarnContext(ctx, "waiting for a checkpoint", "err", err)
				sleep(ctx, backoff)
				backoff = p.nextBackoff(backoff)
			}
			continue
		}
		backoff = p.min
		if line := cosignatureBy(n.verifier, pub); line != nil {
			// Cosigned before (by an earlier run): count it, do not resend.
			n.old = max(n.old, pub.Size)
			p.cosigned(n, pub.Size, pub.Note, line, false)
		} else {
			p.pushCheckpoint(ctx, n, pub.Size, pub.Note)
		}
		cursor = pub.Size
	}
}

// maxPermanentAttempts is how often a checkpoint is resent to an office
// that refuses it with a 4xx other than 409 before moving on to the next.
const maxPermanentAttempts = 3

// pushCheckpoint sends one checkpoint to one office until it is cosigned,
// the office is known to be past it, or the office keeps refusing it.
func (p *Pusher) pushCheckpoint(ctx context.Context, n *officeState, size uint64, msg []byte) {
	backoff := p.min
	refusals, conflicts := 0, 0
	for ctx.Err() == nil {
		if n.old > size {
			// The office already cosigned a larger checkpoint (pushed by
			// someone else or pulled): it can no longer cosign this one.
			p.setOfficeErr(n, fmt.Sprintf("office is at size %d, past checkpoint %d", n.old, size))
			p.metrics.pushes.WithLabelValues(n.verifier.Name(), "skipped").Inc()
			return
		}
		req := &tlogfmt.AddCheckpoint{Old: n.old, Checkpoint: msg}
		if n.old > 0 && n.old < size {
			prf, err := p.log.ConsistencyProof(ctx, n.old, size)
			if err != nil {
				p.fail(ctx, n, "consistency proof", err)
				if refusals++; refusals >= maxPermanentAttempts {
					return
				}
				if !sleep(ctx, backoff) {
					return
				}
				backoff = p.nextBackoff(backoff)
				continue
			}
			for _, h := range prf {
				req.Proof = append(req.Proof, bytes.Clone(h[:]))
			}
		}
		cosig, known, err := p.submit(ctx, n, req.Marshal())
		var perm *permanentError
		switch {
		case err == nil:
			line, err := verifyCosignature(n.verifier, msg, cosig)
			if err != nil {
				p.fail(ctx, n, "cosignature", err)
				p.metrics.pushes.WithLabelValues(n.verifier.Name(), "bad_cosignature").Inc()
				refusals++
				break
			}
			if err := p.log.AddCosignature(ctx, size, line); err != nil {
				p.fail(ctx, n, "storing cosignature", err)
				break
			}
			n.old = size
			p.cosigned(n, size, msg, line, true)
			return
		case known != nil:
			// 409: resend from the size the office holds.
			n.old = *known
			conflicts++
			p.metrics.pushes.WithLabelValues(n.verifier.Name(), "conflict").Inc()
			if conflicts <= 2 {
				continue
			}
			// Still 409 with an old size the office itself gave: it holds
			// another checkpoint of this size (a split view it now keeps
			// as evidence) and will never cosign this one.
			refusals++
			p.fail(ctx, n, "add-checkpoint", err)
		case errors.As(err, &perm):
			refusals++
			p.metrics.pushes.WithLabelValues(n.verifier.Name(), "refused").Inc()
			p.fail(ctx, n, "add-checkpoint", err)
		default:
			p.metrics.pushes.WithLabelValues(n.verifier.Name(), "error").Inc()
			p.fail(ctx, n, "add-checkpoint", err)
		}
		if refusals >= maxPermanentAttempts {
			p.logger.ErrorContext(ctx, "notary office keeps refusing a checkpoint; moving on", "notary", n.verifier.Name(), "size", size)
			return
		}
		if !sleep(ctx, backoff) {
			return
		}
		backoff = p.nextBackoff(backoff)
	}
}

// runFetch polls an office that pulls the log itself and stores the
// cosignatures it made of checkpoints this log published.
func (p *Pusher) runFetch(ctx context.Context, n *officeState) {
	first, err := p.log.NextCheckpoint(ctx, p.start)
	if err != nil {
		return // ctx ended
	}
	origin, _, _ := bytes.Cut(first.Note, []byte("\n"))
	cursor := p.start // the largest published size already matched
	for {
		if err := p.fetchOnce(ctx, n, string(origin), &cursor); err != nil && ctx.Err() == nil {
			p.fail(ctx, n, "fetching cosignatures", err)
		}
		if !sleep(ctx, p.fetchInt) {
			return
		}
	}
}

// maxLogsBytes bounds an office's /v1/logs or /v1/logs/cosigned answer
// (a page of 1,000 checkpoints with cosignatures is about 0.6 MiB).
const maxLogsBytes = 4 << 20

func (p *Pusher) fetchOnce(ctx context.Context, n *officeState, origin string, cursor *uint64) error {
	cosigned, err := p.fetchCosigned(ctx, n, origin, *cursor)
	if err != nil {
		return err
	}
	for _, ls := range cosigned {
		if ls.Checkpoint == "" || ls.Size <= *cursor {
			continue
		}
		// Find the checkpoint of that size among those this log
		// published; a size it never published means the office was
		// shown another history, and is reported.
		for {
			wctx, wcancel := context.WithTimeout(ctx, DefaultPushTimeout)
			pub, err := p.log.NextCheckpoint(wctx, *cursor)
			wcancel()
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return fmt.Errorf("notary: office %s cosigned size %d, which this log has not published", n.verifier.Name(), ls.Size)
			}
			if pub.Size < ls.Size {
				*cursor = pub.Size
				continue
			}
			if pub.Size > ls.Size {
				return fmt.Errorf("notary: office %s cosigned size %d, which this log has not published", n.verifier.Name(), ls.Size)
			}
			_, sigs, err := tlogfmt.SplitNote([]byte(ls.Checkpoint))
			if err != nil {
				return fmt.Errorf("notary: office %s answered a malformed checkpoint of size %d: %w", n.verifier.Name(), ls.Size, err)
			}
			var lines []byte
			for _, s := range sigs {
				lines = append(lines, tlogfmt.SignatureLine(s)...)
			}
			line, err := verifyCosignature(n.verifier, pub.Note, lines)
			if err != nil {
				return fmt.Errorf("notary: office %s cosigned another checkpoint of size %d: %w", n.verifier.Name(), ls.Size, err)
			}
			if err := p.log.AddCosignature(ctx, pub.Size, line); err != nil {
				return err
			}
			*cursor = pub.Size
			p.cosigned(n, pub.Size, pub.Note, line, true)
			break
		}
	}
	return nil
}

// fetchCosigned returns, oldest first, the checkpoints of origin above size
// after that office n cosigned: every one of them from its
// GET /v1/logs/cosigned, or, from an office that does not serve that list,
// the newest one from GET /v1/logs.
func (p *Pusher) fetchCosigned(ctx context.Context, n *officeState, origin string, after uint64) ([]notary.CosignedCheckpoint, error) {
	fctx, cancel := context.WithTimeout(ctx, DefaultPushTimeout)
	defer cancel()
	u := fmt.Sprintf("%s/v1/logs/cosigned?origin=%s&after=%d", n.URL, url.QueryEscape(origin), after)
	var list struct {
		Checkpoints []notary.CosignedCheckpoint `json:"checkpoints"`
	}
	err := getJSON(fctx, p.client, u, &list)
	if err == nil {
		return list.Checkpoints, nil
	}
	if !errors.Is(err, errNotFound) {
		return nil, err
	}
	var answer struct {
		Logs []notary.LogState `json:"logs"`
	}
	if err := getJSON(fctx, p.client, n.URL+"/v1/logs", &answer); err != nil {
		return nil, err
	}
	for _, ls := range answer.Logs {
		if ls.Origin == origin {
			return []notary.CosignedCheckpoint{{Size: ls.Size, Checkpoint: ls.Checkpoint}}, nil
		}
	}
	return nil, nil
}

// errNotFound is a 404 from an office.
var errNotFound = errors.New("notary: not found")

// getJSON GETs url from an office and decodes its JSON answer, of at most
// maxLogsBytes, into v. A 404 wraps errNotFound.
func getJSON(ctx context.Context, c *http.Client, url string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("notary: %w", err)
	}
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("notary: fetching %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return fmt.Errorf("notary: fetching %s: %w", url, errNotFound)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("notary: fetching %s: status %s", url, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxLogsBytes+1))
	if err != nil {
		return fmt.Errorf("notary: reading %s: %w", url, err)
	}
	if len(body) > maxLogsBytes {
		return fmt.Errorf("notary: %s is larger than %d bytes", url, maxLogsBytes)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("notary: %s: %w", url, err)
	}
	return nil
}

// DefaultAlarmInterval is how often the pusher asks each office how many
// split-view alarms it holds, for the status page.
const DefaultAlarmInterval = 10 * time.Second

// alarmLister is an in-process office that can list its alarms.
type alarmLister interface {
	AlarmEntries(ctx context.Context) ([]notary.AlarmEntry, error)
}

// watchAlarms keeps the number of alarms an office holds, and how many of
// them no operator acknowledged, in its status, so that a split view seen
// by any office shows on the log's /notaries page until it is handled.
func (p *Pusher) watchAlarms(ctx context.Context, n *officeState) {
	for {
		count, unacked := -1, -1
		if l, ok := n.Local.(alarmLister); ok {
			if a, err := l.AlarmEntries(ctx); err == nil {
				count, unacked = len(a), notary.Unacknowledged(a)
			}
		} else if n.URL != "" {
			fctx, cancel := context.WithTimeout(ctx, DefaultPushTimeout)
			// An office without acknowledgements (another implementation,
			// an older build) has every alarm unacknowledged.
			var answer struct {
				Alarms []struct {
					Acked json.RawMessage `json:"acked"`
				} `json:"alarms"`
			}
			err := getJSON(fctx, p.client, n.URL+"/v1/alarms", &answer)
			cancel()
			if err == nil {
				count, unacked = len(answer.Alarms), 0
				for _, a := range answer.Alarms {
					if len(a.Acked) == 0 || string(a.Acked) == "null" {
						unacked++
					}
				}
			}
		}
		p.mu.Lock()
		n.alarms, n.unacked = count, unacked
		p.mu.Unlock()
		if !sleep(ctx, p.alarmInt) {
			return
		}
	}
}

// permanentError is a 4xx answer (other than 409) from an office: resending
// the same request will not help.
type permanentError struct {
	status int
	msg    string
}

func (e *permanentError) Error() string {
	return fmt.Sprintf("notary office refused the checkpoint: %d %s", e.status, e.msg)
}

// submit sends an add-checkpoint request. On 409 it returns the size the
// office reported.
func (p *Pusher) submit(ctx context.Context, n *officeState, body []byte) (cosig []byte, known *uint64, err error) {
	if n.Local != nil {
		cosig, err := n.Local.AddCheckpoint(ctx, body)
		var ce *notary.ConflictError
		if errors.As(err, &ce) {
			return nil, &ce.Size, err
		}
		if err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) &&
			(errors.Is(err, notary.ErrMalformed) || errors.Is(err, notary.ErrUnknownLog) || errors.Is(err, notary.ErrBadSignature) || errors.Is(err, notary.ErrBadProof)) {
			return nil, nil, &permanentError{status: 400, msg: err.Error()}
		}
		return cosig, nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, DefaultPushTimeout)
	defer cancel()
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, n.URL+"/add-checkpoint", bytes.NewReader(body))
	if err != nil {
		return nil, nil, fmt.Errorf("notary: %w", err)
	}
	resp, err := p.client.Do(hreq)
	if err != nil {
		return nil, nil, fmt.Errorf("notary: add-checkpoint to %s: %w", n.URL, err)
	}
	defer resp.Body.Close()
	rb, err := io.ReadAll(io.LimitReader(resp.Body, tlogfmt.MaxAddCheckpointBytes+1))
	if err != nil {
		return nil, nil, fmt.Errorf("notary: reading answer from %s: %w", n.URL, err)
	}
	if len(rb) > tlogfmt.MaxAddCheckpointBytes {
		return nil, nil, fmt.Errorf("notary: answer from %s is too large", n.URL)
	}
	switch {
	case resp.StatusCode == http.StatusOK:
		return rb, nil, nil
	case resp.StatusCode == http.StatusConflict:
		num, ok := bytes.CutSuffix(rb, []byte("\n"))
		size, perr := tlogfmt.ParseDecimal(string(num))
		if !ok || perr != nil {
			return nil, nil, fmt.Errorf("notary: 409 from %s without a size body", n.URL)
		}
		return nil, &size, fmt.Errorf("notary: %s holds size %d", n.URL, size)
	case resp.StatusCode >= 400 && resp.StatusCode < 500 && resp.StatusCode != http.StatusTooManyRequests:
		return nil, nil, &permanentError{status: resp.StatusCode, msg: strings.TrimSpace(string(rb[:min(len(rb), 200)]))}
	default:
		return nil, nil, fmt.Errorf("notary: add-checkpoint to %s: status %s", n.URL, resp.Status)
	}
}

// verifyCosignature checks an add-checkpoint answer against the office's key
// and returns its cosignature line over msg. Lines by other keys are
// ignored, as tlog-witness requires.
func verifyCosignature(v note.Verifier, msg, answer []byte) ([]byte, error) {
	if _, err := tlogfmt.ParseSignatureLines(answer); err != nil {
		return nil, fmt.Errorf("notary: answer is not signature lines: %w", err)
	}
	sc, err := tlogfmt.Open(tlogfmt.AppendSignatures(msg, answer), note.VerifierList(v))
	if err != nil {
		return nil, fmt.Errorf("notary: cosignature does not verify: %w", err)
	}
	sig, ok := sc.Signature(v)
	if !ok {
		return nil, errors.New("notary: no cosignature by the office")
	}
	if _, ok := tlogfmt.CosignatureTime(sig); !ok {
		return nil, errors.New("notary: cosignature carries no cosignature/v1 timestamp")
	}
	return tlogfmt.SignatureLine(sig), nil
}

func (p *Pusher) fail(ctx context.Context, n *officeState, what string, err error) {
	p.logger.WarnContext(ctx, "notarization", "notary", n.verifier.Name(), "step", what, "err", err)
	p.setOfficeErr(n, what+": "+err.Error())
}

func (p *Pusher) setOfficeErr(n *officeState, msg string) {
	p.mu.Lock()
	n.lastErr = msg
	p.mu.Unlock()
}

// cosignatureBy returns the line among pub's stored cosignatures that v
// verifies, or nil.
func cosignatureBy(v note.Verifier, pub Published) []byte {
	for _, l := range pub.Cosignatures {
		if line, err := verifyCosignature(v, pub.Note, l); err == nil {
			return line
		}
	}
	return nil
}

// cosigned records a stored cosignature and re-evaluates the quorum.
func (p *Pusher) cosigned(n *officeState, size uint64, msg, line []byte, fresh bool) {
	if fresh {
		p.metrics.pushes.WithLabelValues(n.verifier.Name(), "cosigned").Inc()
	}
	at := time.Now().UTC()
	if s, err := tlogfmt.ParseSignatureLine(line); err == nil {
		if ts, ok := tlogfmt.CosignatureTime(s); ok {
			at = ts
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	n.size, n.at, n.lastErr = size, at, ""
	if size <= p.notarized {
		return
	}
	pc := p.pending[size]
	if pc == nil {
		pc = &pendingCosign{note: msg}
		p.pending[size] = pc
		if len(p.pending) > pendingLimit {
			oldest := size
			for s := range p.pending {
				oldest = min(oldest, s)
			}
			delete(p.pending, oldest)
		}
	}
	pc.lines = append(pc.lines, line)
	full := bytes.Clone(pc.note)
	for _, l := range pc.lines {
		full = append(full, l...)
	}
	if p.policy.Satisfied(full) {
		p.notarized, p.notAt = size, time.Now().UTC()
		p.metrics.notarized.Set(float64(size))
		for s := range p.pending {
			if s <= size {
				delete(p.pending, s)
			}
		}
	}
}

// runTSA gets a token over every published checkpoint note from one TSA.
func (p *Pusher) runTSA(ctx context.Context, t *tsaState) {
	cursor := p.start
	for ctx.Err() == nil {
		pub, err := p.log.NextCheckpoint(ctx, cursor)
		if err != nil {
			if ctx.Err() == nil {
				sleep(ctx, p.min)
			}
			continue
		}
		size, msg := pub.Size, pub.Note
		if pub.Timestamps >= len(p.tsas) {
			// Stamped before (by an earlier run): the status still names
			// it, so that a restart does not show "last stamped size 0".
			at := p.storedTokenTime(t, pub.Tokens)
			p.mu.Lock()
			t.size, t.at = size, at
			p.mu.Unlock()
			cursor = size
			continue
		}
		backoff := p.min
		for ctx.Err() == nil {
			tok, err := Timestamp(ctx, p.client, t.URL, msg, t.Roots)
			if err == nil {
				err = p.log.AddTimestamp(ctx, size, tok.DER)
			}
			if err == nil {
				p.metrics.timestamps.WithLabelValues("ok").Inc()
				p.mu.Lock()
				t.size, t.at, t.lastErr = size, tok.Time, ""
				p.mu.Unlock()
				break
			}
			p.metrics.timestamps.WithLabelValues("error").Inc()
			p.logger.WarnContext(ctx, "time-stamping a checkpoint", "tsa", t.URL, "size", size, "err", err)
			p.mu.Lock()
			t.lastErr = err.Error()
			p.mu.Unlock()
			if !sleep(ctx, backoff) {
				return
			}
			backoff = p.nextBackoff(backoff)
		}
		cursor = size
	}
}

// storedTokenTime is the genTime of the first stored token signed by t
// (chaining to its roots; any token when t has no roots), or zero.
func (p *Pusher) storedTokenTime(t *tsaState, tokens [][]byte) time.Time {
	for _, der := range tokens {
		if tm, err := TokenTime(der, t.Roots); err == nil {
			return tm
		}
	}
	return time.Time{}
}

// OfficeStatus is what the pusher knows of one office.
type OfficeStatus struct {
	Name      string    `json:"name"`
	URL       string    `json:"url,omitempty"`
	Size      uint64    `json:"cosigned_size"`
	Time      time.Time `json:"cosigned_at,omitzero"`
	LastError string    `json:"last_error,omitempty"`
	// Alarms is how many split-view alarms the office holds (-1: unknown).
	Alarms int `json:"alarms"`
	// Unacknowledged is how many of them no operator acknowledged yet
	// (-1: unknown); the /notaries page shows them red.
	Unacknowledged int `json:"unacknowledged_alarms"`
	// Key is the office's verifier key as configured, and Fingerprint
	// its KeyFingerprint, for reading out over the phone.
	Key         string `json:"key"`
	Fingerprint string `json:"key_fingerprint"`
}

// TSAStatus is what the pusher knows of one TSA.
type TSAStatus struct {
	URL       string    `json:"url,omitempty"`
	Size      uint64    `json:"size"`
	Time      time.Time `json:"time,omitzero"` // genTime of the latest token
	LastError string    `json:"last_error,omitempty"`
}

// Status is a snapshot for pages and health checks.
type Status struct {
	Notaries []OfficeStatus `json:"notaries"`
	TSAs     []TSAStatus    `json:"tsas"`
	// Notarized is the largest checkpoint size whose cosignatures satisfy
	// the quorum policy (0 when none yet since start).
	Notarized   uint64    `json:"notarized_size"`
	NotarizedAt time.Time `json:"notarized_at,omitzero"`
}

// Status returns the current status.
func (p *Pusher) Status() Status {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := Status{Notarized: p.notarized, NotarizedAt: p.notAt, Notaries: []OfficeStatus{}, TSAs: []TSAStatus{}}
	for _, n := range p.offices {
		s.Notaries = append(s.Notaries, OfficeStatus{Name: n.verifier.Name(), URL: n.URL, Size: n.size, Time: n.at, LastError: n.lastErr, Alarms: n.alarms, Unacknowledged: n.unacked,
			Key: n.VKey, Fingerprint: notary.KeyFingerprint(n.VKey)})
	}
	for _, t := range p.tsas {
		s.TSAs = append(s.TSAs, TSAStatus{URL: cmp.Or(t.Name, t.URL), Size: t.size, Time: t.at, LastError: t.lastErr})
	}
	return s
}

type pusherMetrics struct {
	pushes     *prometheus.CounterVec
	timestamps *prometheus.CounterVec
	notarized  prometheus.Gauge
}

func newPusherMetrics(reg prometheus.Registerer) *pusherMetrics {
	m := &pusherMetrics{
		pushes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cunzheng_notary_push_total",
			Help: "add-checkpoint attempts by notary office and result.",
		}, []string{"notary", "result"}),
		timestamps: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cunzheng_notary_timestamp_total",
			Help: "RFC 3161 time-stamp attempts by result.",
		}, []string{"result"}),
		notarized: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "cunzheng_notary_notarized_size",
			Help: "Largest checkpoint size whose cosignatures satisfy the quorum policy.",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.pushes, m.timestamps, m.notarized)
	}
	return m
}
