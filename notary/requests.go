package notary

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/cockroachdb/pebble/v2"
	fnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"

	"github.com/cunzheng/cunzheng/ledger/pebbledb"
	"github.com/cunzheng/cunzheng/verify"
)

// Notarisation requests at the office: received with their evidence
// bundle, checked by the office itself, then issued (a 公证书 PDF signed
// with the office's certificate) or refused with a reason.

// Request states.
const (
	// RequestVerified is a request whose bundle passed every check: the
	// office may issue its 公证书.
	RequestVerified = "verified"
	// RequestRefused is a request whose bundle is inconsistent with the
	// log's keys, the office's own cosignatures or the leaves it holds;
	// Reason says why. Nothing is issued for it.
	RequestRefused = "refused"
	// RequestIssued is a request whose 公证书 was issued.
	RequestIssued = "issued"
)

// MaxBundleBytes bounds the evidence bundle sent with a request.
const MaxBundleBytes = 64 << 20

// RequestRecord is a request as the office keeps it.
type RequestRecord struct {
	Request
	// Note is the signed request as received.
	Note       string    `json:"note"`
	ReceivedAt time.Time `json:"received_at"`
	Status     string    `json:"status"`
	// Reason is why the office refused the request.
	Reason string `json:"reason,omitempty"`
	// Checks are the checks the bundle passed, in order.
	Checks []string `json:"checks,omitempty"`
	// ContractNumber is the contract's number as the verified bundle's
	// manifest names it: for the staff and the 公证书, never public.
	ContractNumber string `json:"contract_number,omitempty"`
	// Events and CheckpointSize describe the verified bundle.
	Events         int    `json:"events,omitempty"`
	CheckpointSize uint64 `json:"checkpoint_size,omitempty"`
	// Certificate* describe the issued 公证书.
	CertificateSHA256 string    `json:"certificate_sha256,omitempty"`
	IssuedAt          time.Time `json:"issued_at,omitzero"`
	IssuedBy          string    `json:"issued_by,omitempty"`
}

const (
	tagRequest     = 'q' // q id -> RequestRecord JSON
	tagRequestZip  = 'Q' // Q id -> the evidence bundle as received
	tagCertificate = 'P' // P id -> the issued 公证书 PDF
)

func requestKey(tag byte, id string) []byte { return append([]byte{tag}, id...) }

// Receive checks a notarisation request and its bundle and keeps both.
// A request not signed by a log the office follows, not addressed to it,
// or whose bundle is not the one it names is an error and is not kept. A
// bundle that fails the office's checks is kept as a refused request with
// the reason. Receiving the same request again returns the first record.
func (o *Office) Receive(ctx context.Context, msg, bundle []byte) (RequestRecord, error) {
	release, err := o.acquire()
	if err != nil {
		return RequestRecord{}, err
	}
	defer release()
	r, l, err := o.openRequest(msg)
	if err != nil {
		return RequestRecord{}, err
	}
	if len(bundle) > MaxBundleBytes {
		return RequestRecord{}, fmt.Errorf("%w: bundle larger than %d bytes", ErrMalformed, MaxBundleBytes)
	}
	if sum := sha256.Sum256(bundle); hex.EncodeToString(sum[:]) != r.BundleSHA256 {
		return RequestRecord{}, fmt.Errorf("%w: the bundle's SHA-256 is not the one the request names", ErrMalformed)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if prev, err := o.loadRequest(r.ID); err == nil {
		if prev.Note != string(msg) {
			return RequestRecord{}, fmt.Errorf("%w: request id %q already used for another request", ErrMalformed, r.ID)
		}
		return prev, nil
	} else if !errors.Is(err, ErrNotFound) {
		return RequestRecord{}, err
	}
	rec := RequestRecord{Request: r, Note: string(msg), ReceivedAt: time.Now().UTC(), Status: RequestVerified}
	if err := o.checkBundle(ctx, l, bundle, &rec); err != nil {
		rec.Status, rec.Reason = RequestRefused, err.Error()
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return RequestRecord{}, fmt.Errorf("notary: encoding request: %w", err)
	}
	batch := o.db.NewBatch()
	defer batch.Close()
	_ = batch.Set(requestKey(tagRequest, r.ID), b, nil)
	_ = batch.Set(requestKey(tagRequestZip, r.ID), bundle, nil)
	if err := o.commit(batch, pebble.Sync); err != nil {
		return RequestRecord{}, fmt.Errorf("notary: committing request: %w", err)
	}
	o.logger.InfoContext(ctx, "notarization request received", "id", r.ID, "status", rec.Status)
	return rec, nil
}

// checkBundle runs the checks of `cunzheng verify bundle` pinned to the
// log's key the office follows and to the office's own cosignature key,
// then checks the bundle against the office's own records: every
// checkpoint must be one the office cosigned, with the same root, and every
// leaf the office holds a copy of must be the bundle's. o.mu must be held.
func (o *Office) checkBundle(ctx context.Context, l logEntry, bundle []byte, rec *RequestRecord) error {
	own, err := fnote.NewVerifierForCosignatureV1(o.vkey)
	if err != nil {
		return fmt.Errorf("the office's own key: %w", err)
	}
	res, err := verify.Bundle(bundle, verify.BundleOptions{
		LogKeys: []note.Verifier{l.Verifier}, NotaryKeys: []note.Verifier{own},
		Step: func(s verify.BundleStep) { rec.Checks = append(rec.Checks, s.Name+": "+s.Detail) },
	})
	if err != nil {
		return fmt.Errorf("校验失败 / verification failed: %w", err)
	}
	m := res.Manifest
	if m.Origin != l.Origin {
		return fmt.Errorf("证据包来自日志 %q，而非申请所称的 %q / the bundle is of log %q, not %q", m.Origin, l.Origin, m.Origin, l.Origin)
	}
	for _, cp := range m.Checkpoints {
		held, err := o.get(historyKey(l.id, cp.Size))
		if errors.Is(err, ErrNotFound) {
			return fmt.Errorf("本公证处没有联署过大小 %d 的检查点 / the office holds no cosigned checkpoint of size %d", cp.Size, cp.Size)
		} else if err != nil {
			return err
		}
		hv, err := o.openCheckpoint(held)
		if err != nil {
			return err
		}
		if base64.StdEncoding.EncodeToString(hv.cp.Root[:]) != cp.Root {
			return fmt.Errorf("大小 %d 的检查点与本公证处联署的根哈希不同 / the checkpoint of size %d differs from the one the office cosigned", cp.Size, cp.Size)
		}
	}
	rec.Checks = append(rec.Checks, fmt.Sprintf("own records: %d checkpoint(s) are the ones this office cosigned", len(m.Checkpoints)))
	ps, err := o.loadPull(l.id)
	if err != nil {
		return err
	}
	held := 0
	for _, e := range m.Events {
		if e.Index >= ps.Size {
			continue
		}
		row, err := o.get(tileKey(l.id, e.Index/tileWidth))
		if err != nil {
			return err
		}
		off := (e.Index % tileWidth) * sha256.Size
		if uint64(len(row)) < off+sha256.Size || hex.EncodeToString(row[off:off+sha256.Size]) != strings.ToLower(e.LeafHash) {
			return fmt.Errorf("第 %d 号叶子与本公证处保存的叶哈希不同 / leaf %d differs from the leaf hash this office holds", e.Index, e.Index)
		}
		held++
	}
	if held > 0 {
		rec.Checks = append(rec.Checks, fmt.Sprintf("own copy: %d leaf hash(es) match the ones this office pulled", held))
	}
	rec.Events, rec.CheckpointSize, rec.ContractNumber = len(m.Events), m.Checkpoint, m.Contract
	return nil
}

func (o *Office) loadRequest(id string) (RequestRecord, error) {
	var rec RequestRecord
	b, err := o.get(requestKey(tagRequest, id))
	if err != nil {
		return rec, err
	}
	if err := json.Unmarshal(b, &rec); err != nil {
		return rec, fmt.Errorf("notary: decoding request %q: %w", id, err)
	}
	return rec, nil
}

// Requests returns every request the office received, newest first.
func (o *Office) Requests(ctx context.Context) ([]RequestRecord, error) {
	release, err := o.acquire()
	if err != nil {
		return nil, err
	}
	defer release()
	it, err := o.db.NewIter(&pebble.IterOptions{LowerBound: []byte{tagRequest}, UpperBound: []byte{tagRequest + 1}})
	if err != nil {
		return nil, fmt.Errorf("notary: reading requests: %w", err)
	}
	defer it.Close()
	out := []RequestRecord{}
	for ok := it.First(); ok; ok = it.Next() {
		var rec RequestRecord
		if err := json.Unmarshal(it.Value(), &rec); err != nil {
			return nil, fmt.Errorf("notary: decoding request: %w", err)
		}
		out = append(out, rec)
	}
	if err := it.Error(); err != nil {
		return nil, fmt.Errorf("notary: reading requests: %w", err)
	}
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j].ReceivedAt.After(out[j-1].ReceivedAt); j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out, nil
}

// RequestByID returns one request, or ErrNotFound.
func (o *Office) RequestByID(ctx context.Context, id string) (RequestRecord, error) {
	release, err := o.acquire()
	if err != nil {
		return RequestRecord{}, err
	}
	defer release()
	return o.loadRequest(id)
}

// Certificate returns the issued 公证书 of request id, or ErrNotFound.
func (o *Office) Certificate(ctx context.Context, id string) ([]byte, error) {
	release, err := o.acquire()
	if err != nil {
		return nil, err
	}
	defer release()
	return o.get(requestKey(tagCertificate, id))
}

// ErrNotIssuable is an issue of a request that is not verified (refused,
// or issued already).
var ErrNotIssuable = errors.New("notary: request cannot be issued")

// Issue makes the 公证书 of a verified request with render (which draws
// and signs the PDF) and keeps it. A refused request is not issued: the
// error carries the office's reason.
func (o *Office) Issue(ctx context.Context, id, by string, render func(RequestRecord) ([]byte, error)) (RequestRecord, error) {
	release, err := o.acquire()
	if err != nil {
		return RequestRecord{}, err
	}
	defer release()
	o.mu.Lock()
	defer o.mu.Unlock()
	rec, err := o.loadRequest(id)
	if errors.Is(err, ErrNotFound) {
		return rec, fmt.Errorf("%w: no request %q", ErrNotFound, id)
	} else if err != nil {
		return rec, err
	}
	switch rec.Status {
	case RequestRefused:
		return rec, fmt.Errorf("%w: the office refused it: %s", ErrNotIssuable, rec.Reason)
	case RequestIssued:
		return rec, fmt.Errorf("%w: issued already at %s (SHA-256 %s)", ErrNotIssuable, rec.IssuedAt.Format(time.RFC3339), rec.CertificateSHA256)
	}
	rec.IssuedAt, rec.IssuedBy = time.Now().UTC(), by
	pdf, err := render(rec)
	if err != nil {
		return rec, fmt.Errorf("notary: making the certificate: %w", err)
	}
	sum := sha256.Sum256(pdf)
	rec.Status, rec.CertificateSHA256 = RequestIssued, hex.EncodeToString(sum[:])
	b, err := json.Marshal(rec)
	if err != nil {
		return rec, fmt.Errorf("notary: encoding request: %w", err)
	}
	batch := o.db.NewBatch()
	defer batch.Close()
	_ = batch.Set(requestKey(tagRequest, id), b, nil)
	_ = batch.Set(requestKey(tagCertificate, id), pdf, nil)
	if err := o.commit(batch, pebble.Sync); err != nil {
		return rec, fmt.Errorf("notary: committing the certificate: %w", err)
	}
	return rec, nil
}

// OpenStore opens the office store in dir without its keys or logs (the
// office process must not hold it: Pebble locks it), for the commands that
// work on a stopped office. Close it after use.
func OpenStore(dir string, logger *slog.Logger) (*Office, error) {
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	store, err := pebbledb.Open(pebbledb.Config{Name: "notary", Dir: dir, Logger: logger,
		Options: func() *pebble.Options { return &pebble.Options{ErrorIfNotExists: true} }})
	if err != nil {
		return nil, fmt.Errorf("notary: opening store %s (stop the office first: it holds the store while it runs): %w", dir, err)
	}
	o := &Office{store: store, logger: logger, metrics: newMetrics(nil), logs: map[string]logEntry{}, stop: make(chan struct{})}
	if o.h, err = store.Acquire(); err != nil {
		store.Close()
		return nil, fmt.Errorf("notary: opening store: %w", err)
	}
	o.db = o.h.DB()
	return o, nil
}
