package report

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Defaults of Config.
const (
	DefaultIssuer    = "cunzheng 存证平台"
	DefaultVerifyURL = "https://cunzheng.example/verify"
	// DefaultPreparedDocuments is the default Config.PreparedDocuments.
	DefaultPreparedDocuments = 2
	// DefaultSignTimeout is the default Config.SignTimeout.
	DefaultSignTimeout = 20 * time.Second
	// DefaultMaxSigning is the default Config.MaxSigning.
	DefaultMaxSigning = 16
)

// ErrNotFound is returned by a Source (and passed up by the Service) when
// the tenant has no such contract: web answers 404, the same as absent.
var ErrNotFound = errors.New("report: contract not found")

// Source gives the service its view model. The server implements it over
// evidence (events, sealed fields, tenant scoping), ledger (leaves, proofs,
// checkpoints) and notary (cosignatures, tokens).
type Source interface {
	// Contract returns contract id as tenant sees it, with every event's
	// leaf, leaf hash and inclusion proof against a cosigned and
	// time-stamped checkpoint, the consistency proof to the newest
	// checkpoint and, when reveal is set, the openings of the commitments.
	// It must return an error wrapping ErrNotFound when the tenant has no
	// such contract.
	Contract(ctx context.Context, tenant, id string, reveal bool) (*Contract, error)
}

// Custody records an issued report in the ledger (a report.issued event),
// so that later reports show who took what.
type Custody interface {
	// Issued appends the report.issued event and returns its leaf index. It
	// must be durable on return.
	Issued(ctx context.Context, is Issuance) (uint64, error)
}

// Issuance is one issued report, as recorded in the chain of custody. It
// holds no personal data: Requester is the tenant's key label.
type Issuance struct {
	Tenant       string
	Requester    string
	Contract     string
	ReportNumber string
	Kind         string // "certificate", "evidence-report", "evidence-bundle"
	Revealed     bool
	At           time.Time
	SHA256       string // hex digest of the bytes served
}

// Kinds of documents, as Issuance.Kind and metric labels.
const (
	KindCertificate = "certificate"
	KindEvidence    = "evidence-report"
	KindBundle      = "evidence-bundle"
)

// Config configures a Service.
type Config struct {
	// Source provides contracts. Required for Issue.
	Source Source
	// Custody records issued reports. Required for Issue.
	Custody Custody
	// Signer signs the PDFs. When nil, New loads CertFile and KeyFile or,
	// when those are empty, makes a demo CA and certificate in KeyDir.
	Signer *DocSigner
	// CertFile and KeyFile are a CA-issued signing certificate chain and
	// its key (PEM). The default is the demo certificate in KeyDir.
	CertFile, KeyFile string
	// KeyDir is where the demo CA and signing key live ("DIR/keys").
	KeyDir string
	// TSAURL is the RFC 3161 authority for the PDF signature timestamp
	// (PAdES B-T). The default is none: the signature has no timestamp.
	TSAURL string
	// Issuer names the issuing platform on every page. The default is
	// DefaultIssuer.
	Issuer string
	// IssuerSeal is a PNG of the issuer's e-seal, drawn in the signature
	// block; the default draws a round seal from Issuer.
	IssuerSeal []byte
	// VerifyURL is the online verification page the QR codes point to. The
	// default is DefaultVerifyURL.
	VerifyURL string
	// Logger receives issuance logs (never personal data). The default
	// discards.
	Logger *slog.Logger
	// Registerer registers the report metrics. The default registers none.
	Registerer prometheus.Registerer
	// Clock gives the issue time. The default is time.Now.
	Clock func() time.Time
	// SignTimeout bounds how long a request waits for its signature (the
	// TSA round trip). The default is DefaultSignTimeout.
	SignTimeout time.Duration
	// MaxSigning bounds the signatures in progress. The default is
	// DefaultMaxSigning.
	MaxSigning int
	// PreparedDocuments is how many empty documents with their fonts
	// already parsed are kept ready (about 15 MB each), so that a single
	// download does not wait for the font parse. The default is
	// DefaultPreparedDocuments; negative keeps none.
	PreparedDocuments int
}

// Service renders, signs and bundles reports.
type Service struct {
	cfg     Config
	signer  *DocSigner
	metrics *metrics
	pool    *docPool
	slots   chan struct{} // one per signature in progress
}

type metrics struct {
	issued   *prometheus.CounterVec
	failures *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		issued: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "cunzheng", Subsystem: "report", Name: "issued_total",
			Help: "Reports issued, by kind and whether personal data was revealed.",
		}, []string{"kind", "revealed"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "cunzheng", Subsystem: "report", Name: "failures_total",
			Help: "Report requests that failed after authorisation, by kind.",
		}, []string{"kind"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "cunzheng", Subsystem: "report", Name: "render_seconds",
			Help:    "Time to render and sign a document, by kind.",
			Buckets: []float64{.01, .025, .05, .1, .15, .25, .5, 1, 2.5},
		}, []string{"kind"}),
	}
	if reg != nil {
		reg.MustRegister(m.issued, m.failures, m.duration)
	}
	return m
}

// New validates cfg and loads (or makes) the signing certificate.
func New(cfg Config) (*Service, error) {
	if cfg.Issuer == "" {
		cfg.Issuer = DefaultIssuer
	}
	if cfg.VerifyURL == "" {
		cfg.VerifyURL = DefaultVerifyURL
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.PreparedDocuments == 0 {
		cfg.PreparedDocuments = DefaultPreparedDocuments
	}
	if cfg.SignTimeout <= 0 {
		cfg.SignTimeout = DefaultSignTimeout
	}
	if cfg.MaxSigning <= 0 {
		cfg.MaxSigning = DefaultMaxSigning
	}
	if cfg.IssuerSeal != nil {
		if err := checkSealPNG(cfg.IssuerSeal); err != nil {
			return nil, err
		}
	}
	s := cfg.Signer
	var err error
	switch {
	case s != nil:
	case cfg.CertFile != "" || cfg.KeyFile != "":
		s, err = LoadSigner(cfg.CertFile, cfg.KeyFile)
	case cfg.KeyDir != "":
		s, err = DemoSigner(filepath.Clean(cfg.KeyDir), "cunzheng", cfg.Clock())
	default:
		err = errors.New("report: no signing certificate: set Signer, CertFile and KeyFile, or KeyDir")
	}
	if err != nil {
		return nil, err
	}
	if cfg.TSAURL != "" {
		cp := *s
		cp.TSAURL = cfg.TSAURL
		s = &cp
	}
	var pool *docPool
	if cfg.PreparedDocuments > 0 {
		pool = newDocPool(cfg.PreparedDocuments)
	}
	return &Service{cfg: cfg, signer: s, metrics: newMetrics(cfg.Registerer), pool: pool, slots: make(chan struct{}, cfg.MaxSigning)}, nil
}

// Signer returns the document signer (its certificate is published for
// verifiers).
func (s *Service) Signer() *DocSigner { return s.signer }

// Certificate renders and signs the signing certificate page of c.
func (s *Service) Certificate(c *Contract, req Request) ([]byte, error) {
	return s.pdf(context.Background(), KindCertificate, c, req, "")
}

// EvidenceReport renders and signs the evidence report of c.
func (s *Service) EvidenceReport(c *Contract, req Request) ([]byte, error) {
	return s.pdf(context.Background(), KindEvidence, c, req, "")
}

// Bundle renders both PDFs and packs the evidence bundle of c.
func (s *Service) Bundle(c *Contract, req Request) ([]byte, error) {
	return s.bundle(context.Background(), c, req)
}

func (s *Service) bundle(ctx context.Context, c *Contract, req Request) ([]byte, error) {
	start := time.Now()
	cert, err := s.pdf(ctx, KindCertificate, c, req, BundleFileName(req.ReportNumber))
	if err != nil {
		return nil, err
	}
	ev, err := s.pdf(ctx, KindEvidence, c, req, BundleFileName(req.ReportNumber))
	if err != nil {
		return nil, err
	}
	z, err := writeBundle(c, req, cert, ev, s.signer)
	if err != nil {
		return nil, err
	}
	s.metrics.duration.WithLabelValues(KindBundle).Observe(time.Since(start).Seconds())
	return z, nil
}

// pdf renders and signs one document; bundleFile names the bundle it goes
// into, if any.
func (s *Service) pdf(ctx context.Context, kind string, c *Contract, req Request, bundleFile string) ([]byte, error) {
	start := time.Now()
	if req.IssuedAt.IsZero() {
		req.IssuedAt = s.cfg.Clock()
	}
	if err := checkProofs(c); err != nil {
		return nil, err
	}
	r := render{Issuer: s.cfg.Issuer, VerifyURL: s.cfg.VerifyURL, pool: s.pool, signer: s.signer, bundleFile: bundleFile, seal: s.cfg.IssuerSeal}
	var (
		doc    []byte
		err    error
		reason string
	)
	switch kind {
	case KindCertificate:
		doc, err = renderCertificate(c, req, r)
		reason = "签约存证页 Signing certificate " + req.ReportNumber
	default:
		doc, err = renderEvidence(c, req, r)
		reason = "电子签约数据证据报告 Evidence report " + req.ReportNumber
	}
	if err != nil {
		return nil, err
	}
	signed, err := s.sign(ctx, doc, reason, req.IssuedAt)
	if err != nil {
		return nil, err
	}
	s.metrics.duration.WithLabelValues(kind).Observe(time.Since(start).Seconds())
	return signed, nil
}

// Issue produces a document for tenant's contract id: it fetches the view
// model from the Source, renders and signs it, records the issuance in the
// ledger through Custody, and only then returns the bytes. A report whose
// issuance cannot be recorded is not served.
func (s *Service) Issue(ctx context.Context, kind, tenant, requester, id string, reveal bool) ([]byte, Issuance, error) {
	if s.cfg.Source == nil || s.cfg.Custody == nil {
		return nil, Issuance{}, errors.New("report: service has no Source or Custody")
	}
	c, err := s.cfg.Source.Contract(ctx, tenant, id, reveal)
	if err != nil {
		return nil, Issuance{}, fmt.Errorf("report: contract: %w", err)
	}
	now := s.cfg.Clock()
	req := Request{ReportNumber: newReportNumber(now), Requester: requester, Reveal: reveal, IssuedAt: now}
	var out []byte
	switch kind {
	case KindCertificate, KindEvidence:
		out, err = s.pdf(ctx, kind, c, req, "")
	case KindBundle:
		out, err = s.bundle(ctx, c, req)
	default:
		return nil, Issuance{}, fmt.Errorf("report: unknown kind %q", kind)
	}
	if err != nil {
		s.metrics.failures.WithLabelValues(kind).Inc()
		return nil, Issuance{}, err
	}
	is := Issuance{Tenant: tenant, Requester: requester, Contract: id, ReportNumber: req.ReportNumber,
		Kind: kind, Revealed: reveal, At: now, SHA256: sha256Hex(out)}
	if _, err := s.cfg.Custody.Issued(ctx, is); err != nil {
		s.metrics.failures.WithLabelValues(kind).Inc()
		return nil, Issuance{}, fmt.Errorf("report: recording issuance: %w", err)
	}
	s.metrics.issued.WithLabelValues(kind, fmt.Sprint(reveal)).Inc()
	s.cfg.Logger.InfoContext(ctx, "report issued", "kind", kind, "report", req.ReportNumber, "tenant", tenant, "revealed", reveal)
	return out, is, nil
}

// ErrBusy means every signing slot is taken by a signature still waiting
// for the TSA: web answers 503 rather than queue more.
var ErrBusy = errors.New("report: signing is busy")

// sign signs doc within SignTimeout and the caller's context.
//
// digitorus/pdfsign asks the TSA with an http.Client that has no timeout
// and no context, so a TSA that accepts and never answers would hold a
// request forever. The signature runs in its own goroutine: the caller
// stops waiting at the deadline, and a semaphore of MaxSigning slots (held
// until the goroutine really ends) bounds how many such calls can hang, so
// a dead TSA costs at most that many goroutines, then fast ErrBusy answers.
func (s *Service) sign(ctx context.Context, doc []byte, reason string, at time.Time) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.SignTimeout)
	defer cancel()
	select {
	case s.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: %w", ErrBusy, ctx.Err())
	}
	type result struct {
		b   []byte
		err error
	}
	done := make(chan result, 1)
	go func() {
		defer func() { <-s.slots }()
		b, err := s.signer.Sign(doc, reason, at)
		done <- result{b, err}
	}()
	select {
	case r := <-done:
		return r.b, r.err
	case <-ctx.Done():
		return nil, fmt.Errorf("report: signing (waiting for the TSA): %w", ctx.Err())
	}
}

// CanonicalNumber writes a report number as newReportNumber does
// ("CZ-" upper case, the hex digits lower case, no spaces around), so
// that a number typed from a printed page in any case finds its report.
// Anything else comes back trimmed, unchanged.
func CanonicalNumber(s string) string {
	s = strings.TrimSpace(s)
	prefix, rest, ok := strings.Cut(s, "-")
	if !ok || !strings.EqualFold(prefix, "CZ") {
		return s
	}
	return "CZ-" + strings.ToLower(rest)
}

// newReportNumber returns "CZ-YYYYMMDD-" and 8 random hex digits.
func newReportNumber(t time.Time) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return "CZ-" + NumberDate(t) + "-" + hex.EncodeToString(b[:])
}

// NumberDate is the date part (YYYYMMDD) of a number the service gives to
// what it issues: report numbers (CZ-) and notarisation requests (NR-).
// It is the Beijing date, the one the documents print, so that a report
// and a request made on the same evening carry the same date (the UTC date
// is a day behind from 16:00 UTC on).
func NumberDate(t time.Time) string {
	return t.In(reportZone).Format("20060102")
}
