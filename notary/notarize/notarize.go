// Package notarize is the log's side of notarisation on request (申请公证):
// it takes a contract's evidence bundle (masked, as the report service
// issues it), records the request in the ledger (notarization.requested),
// sends it to the chosen notary office signed with the log's key, and
// records the office's answer (notarization.issued with the 公证书's
// SHA-256, or notarization.refused with the reason) when it reads it back.
// The 公证书 itself stays at the office; the log fetches it on demand and
// checks it against the SHA-256 the office reported.
package notarize

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/cunzheng/cunzheng/evidence"
	"github.com/cunzheng/cunzheng/evidence/event"
	"github.com/cunzheng/cunzheng/ledger/tlogfmt"
	"github.com/cunzheng/cunzheng/notary"
	"github.com/cunzheng/cunzheng/report"
)

// Recorder records notarisation events; *evidence.Service is one.
type Recorder interface {
	// RecordNotarization appends the event under the tenant's contract;
	// the same kind for the same request again returns the first receipt.
	RecordNotarization(ctx context.Context, p evidence.Principal, id string, n evidence.Notarization) (evidence.Receipt, error)
}

// Issuer issues a contract's evidence bundle; *report.Service is one.
type Issuer interface {
	Issue(ctx context.Context, kind, tenant, requester, id string, reveal bool) ([]byte, report.Issuance, error)
}

// Office is a notary office requests can be sent to.
type Office struct {
	// Name is the office's key name, as its verifier key carries it.
	Name string
	// URL is where the office serves /v1/requests.
	URL string
}

// Config configures a Service.
type Config struct {
	Evidence Recorder // required
	Reports  Issuer   // required
	// Signers sign requests: the log's keys. At least one is required;
	// an office checks the one it follows.
	Signers []note.Signer
	// Origin is the log's checkpoint origin. Required.
	Origin string
	// Offices are the offices a request may go to.
	Offices []Office
	// Client makes the requests. The default has notary.DefaultRequestTimeout.
	Client *http.Client
	// Pending lists the requests the ledger holds without a recorded
	// answer, in every tenant: (*evidence.Service).OpenNotarizations over
	// the log's leaves. PollOnce asks the offices about these as well as
	// about the requests this process sent, so that neither a restart nor
	// the end of the process that sent a request leaves it unasked.
	// Optional: without it only this process's requests are polled.
	Pending func(ctx context.Context) ([]evidence.OpenNotarization, error)
	// Clock gives a request's time, which also dates its number. The
	// default is time.Now.
	Clock func() time.Time
}

// Service sends notarisation requests and records their outcome.
type Service struct {
	cfg Config

	mu   sync.Mutex
	open map[string]openRequest // office NUL request id -> a request not answered yet (Poll)
	// unknown are the open requests of the ledger addressed to an office
	// no longer configured, already reported once (PollOnce).
	unknown map[string]bool
	// missing are the open requests of the ledger their office does not
	// know past inFlight, already reported once (PollOnce).
	missing map[string]bool
}

// New checks cfg.
func New(cfg Config) (*Service, error) {
	if cfg.Evidence == nil || cfg.Reports == nil || len(cfg.Signers) == 0 || cfg.Origin == "" {
		return nil, errors.New("notarize: Evidence, Reports, Signers and Origin are required")
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	return &Service{cfg: cfg, open: map[string]openRequest{}, unknown: map[string]bool{}, missing: map[string]bool{}}, nil
}

// Offices returns the offices a request may go to.
func (s *Service) Offices() []Office { return s.cfg.Offices }

// ErrUnknownOffice is a request for an office not configured.
var ErrUnknownOffice = errors.New("notarize: no such notary office")

func (s *Service) office(name string) (Office, error) {
	for _, o := range s.cfg.Offices {
		if o.Name == name {
			return o, nil
		}
	}
	return Office{}, fmt.Errorf("%w: %q", ErrUnknownOffice, name)
}

// Request sends the contract's evidence bundle to office with a signed
// request, having recorded notarization.requested; when the office refuses
// at once (its own checks of the bundle failed), the refusal is recorded
// too. requester is the label of the key that asked (sealed in the leaf).
func (s *Service) Request(ctx context.Context, p evidence.Principal, contractID, officeName, requester string) (notary.RequestRecord, error) {
	office, err := s.office(officeName)
	if err != nil {
		return notary.RequestRecord{}, err
	}
	bundle, is, err := s.cfg.Reports.Issue(ctx, report.KindBundle, p.Tenant.ID, requester, contractID, false)
	if err != nil {
		return notary.RequestRecord{}, fmt.Errorf("notarize: the evidence bundle: %w", err)
	}
	ref, err := contractRef(bundle)
	if err != nil {
		return notary.RequestRecord{}, err
	}
	var rnd [6]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return notary.RequestRecord{}, fmt.Errorf("notarize: request id: %w", err)
	}
	now := s.cfg.Clock().UTC().Truncate(time.Second)
	// Dated like report numbers (Beijing), not by the UTC date of now.
	r := notary.Request{Origin: s.cfg.Origin, ID: "NR-" + report.NumberDate(now) + "-" + hex.EncodeToString(rnd[:]),
		Contract: ref, Office: office.Name, Time: now, BundleSHA256: is.SHA256}
	msg, err := notary.SignRequest(r, s.cfg.Signers...)
	if err != nil {
		return notary.RequestRecord{}, err
	}
	// Recorded before it is sent: a request the office holds is always in
	// the ledger.
	if _, err := s.cfg.Evidence.RecordNotarization(ctx, p, contractID, evidence.Notarization{
		Kind: event.KindNotarizationRequested, Request: r.ID, Office: office.Name, Requester: requester,
		BundleSHA256: r.BundleSHA256, Time: now}); err != nil {
		return notary.RequestRecord{}, fmt.Errorf("notarize: recording the request: %w", err)
	}
	rec, err := notary.SendRequest(ctx, s.cfg.Client, office.URL, msg, bundle)
	if err != nil {
		return notary.RequestRecord{Request: r}, err
	}
	return rec, s.record(ctx, p, contractID, rec)
}

// answered reports whether rec carries the office's answer.
func answered(rec notary.RequestRecord) bool {
	return rec.Status == notary.RequestIssued || rec.Status == notary.RequestRefused
}

// Result reads the office's record of a request and records its outcome
// in the ledger once (issued or refused); a request still pending at the
// office records nothing.
func (s *Service) Result(ctx context.Context, p evidence.Principal, contractID, officeName, requestID string) (notary.RequestRecord, error) {
	office, err := s.office(officeName)
	if err != nil {
		return notary.RequestRecord{}, err
	}
	rec, err := notary.FetchRequest(ctx, s.cfg.Client, office.URL, requestID, s.auth())
	if err != nil {
		return rec, err
	}
	if rec.ID != requestID || rec.Origin != s.cfg.Origin || rec.Office != office.Name {
		return rec, fmt.Errorf("notarize: the office answered about another request")
	}
	return rec, s.record(ctx, p, contractID, rec)
}

// record records an issued or refused request (idempotently); a request
// still pending is left for Poll to ask about.
func (s *Service) record(ctx context.Context, p evidence.Principal, contractID string, rec notary.RequestRecord) error {
	n := evidence.Notarization{Request: rec.ID, Office: rec.Office, BundleSHA256: rec.BundleSHA256}
	switch rec.Status {
	case notary.RequestIssued:
		n.Kind, n.CertificateSHA256, n.Time = event.KindNotarizationIssued, rec.CertificateSHA256, rec.IssuedAt
	case notary.RequestRefused:
		n.Kind, n.Reason, n.Time = event.KindNotarizationRefused, truncate(rec.Reason, 2000), rec.ReceivedAt
	default:
		s.watch(p, contractID, rec)
		return nil
	}
	if _, err := s.cfg.Evidence.RecordNotarization(ctx, p, contractID, n); err != nil {
		s.watch(p, contractID, rec) // asked again on the next poll
		return fmt.Errorf("notarize: recording the office's answer: %w", err)
	}
	s.settle(rec)
	return nil
}

// Certificate fetches the issued 公证书 of a request from the office,
// recording the issue if not yet, and checks it is the one the office
// reported.
func (s *Service) Certificate(ctx context.Context, p evidence.Principal, contractID, officeName, requestID string) ([]byte, notary.RequestRecord, error) {
	rec, err := s.Result(ctx, p, contractID, officeName, requestID)
	if err != nil {
		return nil, rec, err
	}
	office, _ := s.office(officeName)
	pdf, err := notary.FetchCertificate(ctx, s.cfg.Client, office.URL, rec, s.auth())
	return pdf, rec, err
}

// auth signs the log's reads of an office's records: the full record and
// the 公证书 name the contract by its number, which an office gives only to
// the log that made the request (and to its own staff).
func (s *Service) auth() notary.LogAuth {
	return notary.LogAuth{Origin: s.cfg.Origin, Signers: s.cfg.Signers}
}

// contractRef is the contract's public reference, as the bundle's leaves
// carry it.
func contractRef(bundle []byte) (string, error) {
	zr, err := zip.NewReader(bytes.NewReader(bundle), int64(len(bundle)))
	if err != nil {
		return "", fmt.Errorf("notarize: reading the bundle: %w", err)
	}
	read := func(name string) ([]byte, error) {
		f, err := zr.Open(name)
		if err != nil {
			return nil, fmt.Errorf("notarize: bundle file %s: %w", name, err)
		}
		defer f.Close()
		return io.ReadAll(io.LimitReader(f, 16<<20))
	}
	mb, err := read("manifest.json")
	if err != nil {
		return "", err
	}
	m, err := tlogfmt.ParseManifest(mb)
	if err != nil {
		return "", fmt.Errorf("notarize: bundle manifest: %w", err)
	}
	for _, e := range m.Events {
		lb, err := read(e.Leaf)
		if err != nil {
			return "", err
		}
		var leaf struct {
			Contract string `json:"contract"`
		}
		if json.Unmarshal(lb, &leaf) == nil && leaf.Contract != "" {
			return leaf.Contract, nil
		}
	}
	return "", errors.New("notarize: no leaf of the bundle names the contract")
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") // a rune cut in two is dropped
}
