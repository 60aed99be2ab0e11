package web

import (
	"context"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"golang.org/x/mod/sumdb/note"

	"github.com/cunzheng/cunzheng/evidence"
	"github.com/cunzheng/cunzheng/report"
	"github.com/cunzheng/cunzheng/verify"
	"github.com/cunzheng/cunzheng/web/verifyview"
)

// Verification endpoints (在线验签): the public upload page and its
// result page, the JSON API for one file and for a batch, and the ledger
// lookup the CLI's --server uses. Uploads are received part by part under
// a byte budget (small files in memory, larger ones spooled to an unlinked
// temp file, never stored: see upload.go), bounded in size, rate limited
// per client IP and verified under a per-file deadline.

//go:embed static/verify*
var verifyFS embed.FS

// Defaults of VerifyConfig.
const (
	DefaultVerifyMaxUpload     = verify.DefaultMaxSize
	DefaultVerifyFileTimeout   = 20 * time.Second
	DefaultVerifyRatePerMinute = 30
	DefaultVerifyConcurrency   = 4
	MaxVerifyBatch             = 50
)

// VerifyConfig configures MountVerify.
type VerifyConfig struct {
	// Options are passed to verify.PDF: trust roots, ledger lookup and its
	// verifier keys, metrics. MaxSize is set from MaxUpload.
	Options verify.Options
	// MaxUpload bounds one file. The default is DefaultVerifyMaxUpload (50 MiB).
	MaxUpload int64
	// FileTimeout is the deadline for verifying one file. The default is 20 s.
	FileTimeout time.Duration
	// RatePerMinute is how many files one client IP may have verified per
	// minute (burst of the same size). The default is 30.
	RatePerMinute int
	// Concurrency bounds simultaneous verifications, which bounds memory:
	// each holds its file plus at most 64 MiB of decoded streams. The
	// default is 4.
	Concurrency int
	// UploadBudget bounds the bytes of all files being received or waiting
	// for a verification slot, in memory or spooled; beyond it uploads are
	// answered 503 with Retry-After before their body is read. The default
	// is DefaultUploadBudget (256 MiB).
	UploadBudget int64
	// SpoolDir is where files over 1 MiB wait for their slot, in temp
	// files unlinked as soon as they are created. The default is
	// os.TempDir().
	SpoolDir string
	// Logger receives errors; never file contents or names.
	Logger *slog.Logger
	// Viewer names the tenant the request speaks for (a console session or
	// an API key), "" for a stranger; an error for a presented key that is
	// not valid. A ledger record's contract number is shown only to its
	// owning tenant. Nil: everyone is a stranger.
	Viewer func(c *gin.Context) (tenant string, err error)
	// Reports finds an issued report's ledger record by its number, for
	// /verify?report=N (what the QR code of an issued PDF opens). Nil: the
	// page says it cannot look reports up.
	Reports ReportLookup
	// Trust is what the browser's local check trusts (GET /v1/verify/roots),
	// signed with TrustSigner (the log's Ed25519 key) whose verifier key is
	// TrustKey. Any of them unset: the page offers only the server check.
	Trust       *verify.TrustBundle
	TrustSigner note.Signer
	TrustKey    string
	// wasm replaces the embedded web/wasm directory (tests).
	wasm fs.FS
	// now is the rate limiter's clock (tests).
	now func() time.Time
	// budget replaces the one made from UploadBudget (tests read it).
	budget *uploadBudget
}

// ReportLookup finds the report.issued record of a report number.
type ReportLookup interface {
	// LookupReport must return verify.ErrNotRecorded (possibly wrapped)
	// when no report has that number, and otherwise fill LeafIndex, Leaf,
	// Proof and Checkpoint as verify.DocumentLookup does.
	LookupReport(ctx context.Context, number string) (verify.LedgerRecord, error)
}

type verifyHandlers struct {
	cfg    VerifyConfig
	site   *site
	limit  *rateLimiter
	slots  *verifySlots
	budget *uploadBudget
	module *localModule // nil: built without `make wasm`
	trust  *localTrust  // nil: no trust bundle configured
}

// MountVerify returns the mount for web.Config.Mounts that serves
//
//	GET  /verify                      upload page
//	POST /verify                      result page (multipart field "file")
//	POST /v1/verify                   JSON report (multipart field "file",
//	                                  or the PDF as an application/pdf body)
//	POST /v1/verify/batch             JSON reports, up to 50 "file" fields
//	GET  /v1/verify/lookup/{sha256}   the ledger record of a document hash
//	GET  /v1/verify/lookup?sha256=…   the same (the page's local check)
//	GET  /v1/verify/roots             the signed trust bundle of the local check
//	GET  /verify/verify.wasm          the local check's module (revalidated)
//	GET  /verify/wasm/{name}          the module and wasm_exec.js by content hash
//	GET  /verify/static/verify.css, verify-local.js
func MountVerify(cfg VerifyConfig) Mount {
	if cfg.MaxUpload <= 0 {
		cfg.MaxUpload = DefaultVerifyMaxUpload
	}
	if cfg.FileTimeout <= 0 {
		cfg.FileTimeout = DefaultVerifyFileTimeout
	}
	if cfg.RatePerMinute <= 0 {
		cfg.RatePerMinute = DefaultVerifyRatePerMinute
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = DefaultVerifyConcurrency
	}
	if cfg.UploadBudget <= 0 {
		cfg.UploadBudget = DefaultUploadBudget
	}
	if cfg.SpoolDir == "" {
		cfg.SpoolDir = os.TempDir()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.now == nil {
		cfg.now = time.Now
	}
	cfg.Options.MaxSize = cfg.MaxUpload
	h := &verifyHandlers{
		cfg:    cfg,
		site:   defaultSite().withLogger(cfg.Logger),
		limit:  newRateLimiter(cfg.RatePerMinute, cfg.now),
		slots:  newVerifySlots(cfg.Concurrency, slotIdle),
		budget: cfg.budget,
	}
	if h.budget == nil {
		h.budget = newUploadBudget(cfg.UploadBudget)
	}
	if cfg.wasm == nil {
		cfg.wasm = wasmFS
	}
	h.module = loadLocalModule(cfg.wasm)
	trust, err := newLocalTrust(cfg.Trust, cfg.TrustSigner, cfg.TrustKey)
	if err != nil {
		panic(err) // the server's own keys and roots: a configuration bug
	}
	h.trust = trust
	return func(r gin.IRouter) {
		r.GET("/verify", h.page)
		r.POST("/verify", h.pageResult)
		r.POST("/v1/verify", h.one)
		r.POST("/v1/verify/batch", h.batch)
		r.GET("/v1/verify/lookup/:sha256", h.lookup)
		r.GET("/verify/static/verify.css", h.static("static/verify.css", "text/css; charset=utf-8"))
		r.GET("/v1/verify/lookup", h.lookupQuery)
		r.GET("/v1/verify/roots", h.roots)
		r.GET("/verify/verify.wasm", h.latestModule)
		r.GET("/verify/wasm/:name", h.wasmAsset)
		r.GET("/verify/static/verify-local.js", h.static("static/verify-local.js", "text/javascript; charset=utf-8"))
	}
}

var errNoFile = errors.New(`no file: send the PDF as multipart/form-data field "file"`)

// errEmptyFile is an upload of 0 bytes: not a readable PDF (422, and
// errors.Is(err, verify.ErrNotPDF) for callers), said as what it is.
var errEmptyFile = fmt.Errorf("%w: the file is empty (0 bytes)", verify.ErrNotPDF)

// errRateLimited and errBusy become 429 and 503 (see statusRules).
var (
	errRateLimited = errors.New("too many verifications from this address; try again in a minute")
	errBusy        = errors.New("the verifier is busy; try again shortly")
)

func (h *verifyHandlers) static(name, ctype string) gin.HandlerFunc {
	b, err := verifyFS.ReadFile(name)
	if err != nil {
		panic(err) // embedded at build time
	}
	return func(c *gin.Context) {
		c.Header("Cache-Control", "public, max-age=3600")
		c.Data(http.StatusOK, ctype, b)
	}
}

// page serves the upload form, and with ?report=N (the QR code of an
// issued PDF) that report's ledger record and inclusion proof.
func (h *verifyHandlers) page(c *gin.Context) {
	d := pageData{MaxMiB: h.cfg.MaxUpload >> 20, Ledgered: h.cfg.Options.Lookup != nil, Local: h.localPageData()}
	status := http.StatusOK
	if n := report.CanonicalNumber(c.Query("report")); n != "" {
		if len(n) > 128 {
			n = n[:128]
		}
		d.ReportNumber = n
		var problem *issuedProblem
		d.Issued, problem = h.issuedReport(c, n)
		if problem != nil {
			d.IssuedProblem, status = &problem.Text, problem.status
		}
	}
	h.render(c, status, "verify.html", d)
}

// issuedProblem is why /verify?report=N shows no record, with the status
// the page is answered with (a number the log never issued is a 404, so
// that a link checker or a court's clerk's script sees it too).
type issuedProblem struct {
	verify.Text
	status int
}

// issuedReport looks up report number n and checks its record against the
// log's keys; the record shown is the report.issued leaf that names n.
func (h *verifyHandlers) issuedReport(c *gin.Context, n string) (*verify.LedgerRecord, *issuedProblem) {
	if h.cfg.Reports == nil {
		return nil, &issuedProblem{verify.Text{ZH: "本服务器不能按报告编号查询。", EN: "This server cannot look reports up by number."}, http.StatusNotFound}
	}
	// A lookup costs a proof and a signature check: it takes a token of
	// the address's verification budget, so numbers cannot be tried in
	// bulk.
	if !h.limit.allow(clientIP(c)) {
		t := uploadError(errRateLimited, http.StatusTooManyRequests, h.cfg.MaxUpload)
		return nil, &issuedProblem{t, http.StatusTooManyRequests}
	}
	rec, err := h.cfg.Reports.LookupReport(c.Request.Context(), n)
	if errors.Is(err, verify.ErrNotRecorded) {
		return nil, &issuedProblem{verify.Text{ZH: "存证日志中没有该报告编号的出具记录。", EN: "The log holds no issued report with this number."}, http.StatusNotFound}
	}
	if errors.Is(err, verify.ErrPending) {
		return nil, &issuedProblem{verify.Text{ZH: "该报告的出具记录已写入存证日志，正在等待下一个检查点（通常几秒钟），请稍后刷新本页。", EN: "The report's issuance is recorded and awaits the next checkpoint (usually seconds); reload this page shortly."}, http.StatusOK}
	}
	if err != nil {
		h.cfg.Logger.ErrorContext(c.Request.Context(), "report lookup", "err", err)
		return nil, &issuedProblem{verify.Text{ZH: "暂时无法查询存证日志，请稍后再试。", EN: "The log cannot be queried right now; try again later."}, http.StatusServiceUnavailable}
	}
	verify.CheckLedgerRecord(&rec, h.cfg.Options.LedgerOrigin, h.cfg.Options.LedgerVerifiers)
	if rec.ProofOK && (!rec.Issued() || rec.Report != n) {
		rec.ProofOK, rec.Problem = false, fmt.Sprintf("the checked leaf is not the issuance of report %s", n)
	}
	h.redact(c, &rec)
	return &rec, nil
}

type pageData struct {
	MaxMiB int64
	Error  *verify.Text
	Name   string
	Report *verify.Report
	// Ledgered is set when the server has a ledger to look documents up
	// in, so that "not recorded" can be said.
	Ledgered bool
	// Local offers the browser's local check; nil: the server check only.
	Local *localPage
	// ReportNumber, Issued and IssuedProblem answer /verify?report=N.
	ReportNumber  string
	Issued        *verify.LedgerRecord
	IssuedProblem *verify.Text
	// Bundle is the result of an evidence bundle posted to the page.
	Bundle template.HTML
}

func (h *verifyHandlers) render(c *gin.Context, status int, name string, data pageData) {
	if data.Local != nil {
		c.Header("Content-Security-Policy", localCSP)
	}
	h.site.render(c, status, name, "verify", data)
}

// pageResult serves the HTML form's POST: errors are shown on the page.
func (h *verifyHandlers) pageResult(c *gin.Context) {
	var rep *verify.Report
	var bundle *verifyview.BundleData
	var name string
	err := h.eachFile(c, 1, func(fname string, data *uploadFile, err error) error {
		name = fname
		if err != nil {
			return err
		}
		if h.cfg.Trust != nil && isZip(data) {
			// An evidence bundle: the page offers it to the local check,
			// and a browser without scripts posts it here.
			d, err := h.checkBundle(c.Request.Context(), fname, data)
			bundle = &d
			return err
		}
		rep, err = h.verify(c.Request.Context(), data)
		return err
	})
	if err == nil && bundle != nil {
		html, err := verifyview.BundleContent(langOf(c), *bundle)
		if err != nil {
			h.cfg.Logger.ErrorContext(c.Request.Context(), "verify page: bundle result", "err", err)
			c.AbortWithStatus(http.StatusInternalServerError)
			return
		}
		h.render(c, http.StatusOK, "verify_bundle.html", pageData{Name: name, Bundle: template.HTML(html)})
		return
	}
	if err == nil && rep == nil {
		err = errNoFile
	}
	if err != nil {
		status := errorStatus(err)
		if status >= 500 && status != http.StatusServiceUnavailable {
			h.cfg.Logger.ErrorContext(c.Request.Context(), "verify page", "err", err)
		}
		msg := uploadError(err, status, h.cfg.MaxUpload)
		h.render(c, status, "verify.html", pageData{MaxMiB: h.cfg.MaxUpload >> 20, Error: &msg, Ledgered: h.cfg.Options.Lookup != nil, Local: h.localPageData()})
		return
	}
	h.redactReport(c, rep)
	h.render(c, http.StatusOK, "verify_result.html", pageData{Name: name, Report: rep, Ledgered: h.cfg.Options.Lookup != nil})
}

// viewer returns the tenant the request speaks for, "" for a stranger.
func (h *verifyHandlers) viewer(c *gin.Context) (string, error) {
	if h.cfg.Viewer == nil {
		return "", nil
	}
	return h.cfg.Viewer(c)
}

// redact clears what only the owning tenant may see of rec: the contract
// number. Everyone may see what the public leaf says.
func (h *verifyHandlers) redact(c *gin.Context, rec *verify.LedgerRecord) {
	if rec == nil {
		return
	}
	t, err := h.viewer(c)
	if err != nil || t == "" || rec.Owner == "" || t != rec.Owner {
		rec.ContractNumber = ""
	}
}

// redactReport redacts every ledger record of rep.
func (h *verifyHandlers) redactReport(c *gin.Context, rep *verify.Report) {
	if rep == nil {
		return
	}
	h.redact(c, rep.Ledger)
	for _, s := range rep.Signatures {
		h.redact(c, s.Ledger)
	}
	for _, r := range rep.RevisionLedger {
		h.redact(c, r.Ledger)
	}
}

func (h *verifyHandlers) one(c *gin.Context) {
	if c.ContentType() == "application/pdf" {
		h.oneRaw(c)
		return
	}
	var rep *verify.Report
	err := h.eachFile(c, 1, func(_ string, data *uploadFile, err error) error {
		if err != nil {
			return err
		}
		rep, err = h.verify(c.Request.Context(), data)
		return err
	})
	if err == nil && rep == nil {
		err = errNoFile
	}
	if err != nil {
		abortWithError(c, h.cfg.Logger, err)
		return
	}
	h.redactReport(c, rep)
	c.JSON(http.StatusOK, rep)
}

// oneRaw serves POST /v1/verify with the PDF as the whole body
// (Content-Type: application/pdf), for platforms that do not send forms.
func (h *verifyHandlers) oneRaw(c *gin.Context) {
	// The budget first: an upload refused for a full server must not
	// cost its client a verification of its rate.
	res, err := h.newReservation(c, false)
	if err != nil {
		abortWithError(c, h.cfg.Logger, err)
		return
	}
	defer res.release()
	if !h.limit.allow(clientIP(c)) {
		abortWithError(c, h.cfg.Logger, errRateLimited)
		return
	}
	data, err := h.receiveRaw(c, res)
	if err != nil {
		abortWithError(c, h.cfg.Logger, err)
		return
	}
	defer data.Close()
	rep, err := h.verify(c.Request.Context(), data)
	if err != nil {
		abortWithError(c, h.cfg.Logger, err)
		return
	}
	h.redactReport(c, rep)
	c.JSON(http.StatusOK, rep)
}

// batchResult is one file's outcome in a batch.
type batchResult struct {
	Name   string         `json:"name"`
	Report *verify.Report `json:"report,omitempty"`
	Error  string         `json:"error,omitempty"`
	Status int            `json:"status"`
}

func (h *verifyHandlers) batch(c *gin.Context) {
	var results []batchResult
	err := h.eachFile(c, MaxVerifyBatch, func(name string, data *uploadFile, err error) error {
		if err == nil {
			var rep *verify.Report
			rep, err = h.verify(c.Request.Context(), data)
			if err == nil {
				h.redactReport(c, rep)
				results = append(results, batchResult{Name: name, Report: rep, Status: http.StatusOK})
				return nil
			}
		}
		status := errorStatus(err)
		if status >= 500 && status != http.StatusServiceUnavailable {
			return err // a server fault ends the batch
		}
		results = append(results, batchResult{Name: name, Error: err.Error(), Status: status})
		return nil
	})
	if err == nil && len(results) == 0 {
		err = errNoFile
	}
	if err != nil {
		abortWithError(c, h.cfg.Logger, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"results": results})
}

// cleanName keeps a file name for display only (it is never used as a path).
func cleanName(s string) string {
	if i := strings.LastIndexAny(s, `/\`); i >= 0 {
		s = s[i+1:]
	}
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}

// lookup serves the ledger record for a document hash to clients that
// check it themselves (cunzheng verify pdf --server). Anyone gets what the
// public leaves say (checked here too: kind, time, leaf, proof); the
// contract number only a session or API key of the owning tenant.
func (h *verifyHandlers) lookup(c *gin.Context) {
	if _, err := h.viewer(c); err != nil {
		// A key was presented and is not valid: say so rather than answer
		// as to a stranger.
		abortWithError(c, h.cfg.Logger, err)
		return
	}
	if h.cfg.Options.Lookup == nil {
		abortWithError(c, h.cfg.Logger, notFound("this server has no ledger index"))
		return
	}
	raw, err := hex.DecodeString(c.Param("sha256"))
	if err != nil || len(raw) != 32 {
		abortWithError(c, h.cfg.Logger, badRequest("want a hex SHA-256"))
		return
	}
	var sum [32]byte
	copy(sum[:], raw)
	rec, err := h.cfg.Options.Lookup.LookupDocument(c.Request.Context(), sum)
	if err != nil {
		abortWithError(c, h.cfg.Logger, err)
		return
	}
	rec.DocumentHex = hex.EncodeToString(sum[:])
	verify.CheckLedgerRecord(&rec, h.cfg.Options.LedgerOrigin, h.cfg.Options.LedgerVerifiers)
	h.redact(c, &rec)
	c.JSON(http.StatusOK, rec)
}

// TenantViewer returns the VerifyConfig.Viewer of a server: the tenant of
// the request's API key (Authorization: Bearer, any role; an invalid key is
// evidence.ErrUnauthorized) or else of its console session.
func TenantViewer(ev *evidence.Service, con *Console) func(*gin.Context) (string, error) {
	return func(c *gin.Context) (string, error) {
		if h := c.GetHeader("Authorization"); h != "" {
			tok, ok := strings.CutPrefix(h, "Bearer ")
			if !ok {
				tok, ok = strings.CutPrefix(h, "bearer ")
			}
			if !ok || strings.TrimSpace(tok) == "" {
				return "", evidence.ErrUnauthorized
			}
			p, err := ev.Authenticate(strings.TrimSpace(tok))
			if err != nil {
				return "", err
			}
			return p.Tenant.ID, nil
		}
		if con != nil {
			if p, ok := con.Principal(c); ok {
				return p.Tenant.ID, nil
			}
		}
		return "", nil
	}
}

// rateLimiter is a token bucket per client address: rate tokens a minute,
// burst of rate. Idle buckets are dropped so the map stays small.
type rateLimiter struct {
	mu      sync.Mutex // guards buckets and sweep
	buckets map[string]*bucket
	rate    float64 // tokens per second
	burst   float64
	now     func() time.Time
	sweep   time.Time
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newRateLimiter(perMinute int, now func() time.Time) *rateLimiter {
	return &rateLimiter{buckets: map[string]*bucket{}, rate: float64(perMinute) / 60, burst: float64(perMinute), now: now}
}

func (l *rateLimiter) allow(key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if now.Sub(l.sweep) > time.Minute {
		for k, b := range l.buckets {
			if now.Sub(b.last) > 2*time.Minute {
				delete(l.buckets, k)
			}
		}
		l.sweep = now
	}
	b, ok := l.buckets[key]
	if !ok {
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[key] = b
	}
	b.tokens += now.Sub(b.last).Seconds() * l.rate
	if b.tokens > l.burst {
		b.tokens = l.burst
	}
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// verifyFuncs are the result templates' functions, shared with the
// browser's local check.
var verifyFuncs = verifyview.Funcs()
