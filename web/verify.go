package web

import (
	"bytes"
	"context"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/cunzheng/cunzheng/verify"
)

// Verification endpoints (在线验签): the public upload page and its
// result page, the JSON API for one file and for a batch, and the ledger
// lookup the CLI's --server uses. Uploads are read into memory part by
// part (never spooled to disk, never stored), bounded in size, rate limited
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
	// Logger receives errors; never file contents or names.
	Logger *slog.Logger
	// now is the rate limiter's clock (tests).
	now func() time.Time
}

type verifyHandlers struct {
	cfg   VerifyConfig
	site  *site
	limit *rateLimiter
	sem   chan struct{}
}

// MountVerify returns the mount for web.Config.Mounts that serves
//
//	GET  /verify                      upload page
//	POST /verify                      result page (multipart field "file")
//	POST /v1/verify                   JSON report (multipart field "file",
//	                                  or the PDF as an application/pdf body)
//	POST /v1/verify/batch             JSON reports, up to 50 "file" fields
//	GET  /v1/verify/lookup/{sha256}   the ledger record of a document hash
//	GET  /verify/static/verify.css
func MountVerify(cfg VerifyConfig) func(gin.IRouter) {
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
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.now == nil {
		cfg.now = time.Now
	}
	cfg.Options.MaxSize = cfg.MaxUpload
	h := &verifyHandlers{
		cfg:   cfg,
		site:  defaultSite,
		limit: newRateLimiter(cfg.RatePerMinute, cfg.now),
		sem:   make(chan struct{}, cfg.Concurrency),
	}
	return func(r gin.IRouter) {
		r.GET("/verify", h.page)
		r.POST("/verify", h.pageResult)
		r.POST("/v1/verify", h.one)
		r.POST("/v1/verify/batch", h.batch)
		r.GET("/v1/verify/lookup/:sha256", h.lookup)
		r.GET("/verify/static/verify.css", h.static("static/verify.css", "text/css; charset=utf-8"))
	}
}

var errNoFile = errors.New(`no file: send the PDF as multipart/form-data field "file"`)

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

func (h *verifyHandlers) page(c *gin.Context) {
	h.render(c, http.StatusOK, "verify.html", pageData{MaxMiB: h.cfg.MaxUpload >> 20})
}

type pageData struct {
	MaxMiB int64
	Error  string
	Name   string
	Report *verify.Report
}

func (h *verifyHandlers) render(c *gin.Context, status int, name string, data pageData) {
	h.site.render(c, status, name, "verify", data)
}

// pageResult serves the HTML form's POST: errors are shown on the page.
func (h *verifyHandlers) pageResult(c *gin.Context) {
	var rep *verify.Report
	var name string
	err := h.eachFile(c, 1, func(fname string, data []byte, err error) error {
		name = fname
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
		status := errorStatus(err)
		msg := err.Error()
		if status >= 500 && status != http.StatusServiceUnavailable {
			h.cfg.Logger.ErrorContext(c.Request.Context(), "verify page", "err", err)
			msg = "internal error"
		}
		h.render(c, status, "verify.html", pageData{MaxMiB: h.cfg.MaxUpload >> 20, Error: msg})
		return
	}
	h.render(c, http.StatusOK, "verify_result.html", pageData{Name: name, Report: rep})
}

func (h *verifyHandlers) one(c *gin.Context) {
	if c.ContentType() == "application/pdf" {
		h.oneRaw(c)
		return
	}
	var rep *verify.Report
	err := h.eachFile(c, 1, func(_ string, data []byte, err error) error {
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
	c.JSON(http.StatusOK, rep)
}

// oneRaw serves POST /v1/verify with the PDF as the whole body
// (Content-Type: application/pdf), for platforms that do not send forms.
func (h *verifyHandlers) oneRaw(c *gin.Context) {
	if !h.limit.allow(c.RemoteIP()) {
		abortWithError(c, h.cfg.Logger, errRateLimited)
		return
	}
	body := http.MaxBytesReader(c.Writer, c.Request.Body, h.cfg.MaxUpload)
	hint := int64(1 << 20)
	if c.Request.ContentLength > 0 {
		hint = min(c.Request.ContentLength, 8<<20)
	}
	var buf bytes.Buffer
	buf.Grow(int(min(h.cfg.MaxUpload, hint) + bytes.MinRead))
	if _, err := io.Copy(&buf, body); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			abortWithError(c, h.cfg.Logger, fmt.Errorf("%w: over %d bytes", verify.ErrTooLarge, mbe.Limit))
			return
		}
		abortWithError(c, h.cfg.Logger, badRequest("could not read the request body"))
		return
	}
	rep, err := h.verify(c.Request.Context(), buf.Bytes())
	if err != nil {
		abortWithError(c, h.cfg.Logger, err)
		return
	}
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
	err := h.eachFile(c, MaxVerifyBatch, func(name string, data []byte, err error) error {
		if err == nil {
			var rep *verify.Report
			rep, err = h.verify(c.Request.Context(), data)
			if err == nil {
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

// eachFile streams the multipart body and calls fn with each "file" part
// read into memory (at most MaxUpload bytes; a larger part is reported to
// fn as verify.ErrTooLarge and skipped). Nothing touches the disk. More
// than max files is a 400.
func (h *verifyHandlers) eachFile(c *gin.Context, max int, fn func(name string, data []byte, err error) error) error {
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, int64(max)*(h.cfg.MaxUpload+64<<10))
	mr, err := c.Request.MultipartReader()
	if err != nil {
		return badRequest(errNoFile.Error())
	}
	n := 0
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return fmt.Errorf("%w: request body over %d bytes", verify.ErrTooLarge, mbe.Limit)
			}
			return badRequest("malformed multipart body")
		}
		if part.FormName() != "file" {
			part.Close()
			continue
		}
		n++
		if n > max {
			part.Close()
			return badRequest(fmt.Sprintf("at most %d files per request", max))
		}
		name := cleanName(part.FileName())
		// The rate limit is taken before the file is read, so a client over
		// its limit costs no memory.
		if !h.limit.allow(c.RemoteIP()) {
			part.Close()
			if err := fn(name, nil, errRateLimited); err != nil {
				return err
			}
			continue
		}
		// One file: its size is at most the body's, so one allocation
		// usually does; the hint is capped so that a lying Content-Length
		// cannot make us allocate ahead of the bytes actually sent.
		hint := int64(1 << 20)
		if max == 1 && c.Request.ContentLength > 0 {
			hint = min(c.Request.ContentLength, 8<<20)
		}
		data, rerr := readPart(part, h.cfg.MaxUpload, hint)
		part.Close()
		var mbe *http.MaxBytesError
		if errors.As(rerr, &mbe) {
			return fmt.Errorf("%w: request body over %d bytes", verify.ErrTooLarge, mbe.Limit)
		}
		if rerr != nil && !errors.Is(rerr, verify.ErrTooLarge) {
			return badRequest("malformed multipart body")
		}
		if err := fn(name, data, rerr); err != nil {
			return err
		}
	}
}

func readPart(p *multipart.Part, max, hint int64) ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(int(min(max+1, hint) + bytes.MinRead))
	n, err := io.Copy(&buf, io.LimitReader(p, max+1))
	if err != nil {
		return nil, err
	}
	if n > max {
		return nil, fmt.Errorf("%w: over %d bytes", verify.ErrTooLarge, max)
	}
	return buf.Bytes(), nil
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

// verify runs one verification under the concurrency bound and the
// per-file deadline (eachFile has taken the rate limit).
func (h *verifyHandlers) verify(ctx context.Context, data []byte) (*verify.Report, error) {
	select {
	case h.sem <- struct{}{}:
	case <-time.After(10 * time.Second):
		return nil, errBusy
	case <-ctx.Done():
		return nil, errBusy
	}
	defer func() { <-h.sem }()
	ctx, cancel := context.WithTimeout(ctx, h.cfg.FileTimeout)
	defer cancel()
	return verify.PDFBytes(ctx, data, h.cfg.Options)
}

// lookup serves the ledger record for a document hash to clients that
// check it themselves (cunzheng verify pdf --server).
func (h *verifyHandlers) lookup(c *gin.Context) {
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
	c.JSON(http.StatusOK, rec)
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

var beijing = time.FixedZone("UTC+8", 8*3600)

var verifyFuncs = template.FuncMap{
	"when": func(t any) string {
		switch v := t.(type) {
		case time.Time:
			if v.IsZero() {
				return ""
			}
			return v.In(beijing).Format("2006-01-02 15:04:05") + " (UTC+8)"
		case *time.Time:
			if v == nil {
				return ""
			}
			return v.In(beijing).Format("2006-01-02 15:04:05") + " (UTC+8)"
		}
		return ""
	},
	"day":    func(t time.Time) string { return t.In(beijing).Format("2006-01-02") },
	"passed": func(i verify.Indication) bool { return i == verify.TotalPassed },
	"failed": func(i verify.Indication) bool { return i == verify.TotalFailed },
	"kindZH": func(k string) string {
		switch k {
		case verify.ChangeSignature:
			return "新增签名"
		case verify.ChangeTimestamp:
			return "新增时间戳"
		case verify.ChangeDSS:
			return "补充验证数据"
		case verify.ChangeFormFill:
			return "填写表单"
		case verify.ChangeAnnotation:
			return "添加注释"
		case verify.ChangeMetadata:
			return "文档信息"
		}
		return "其他修改"
	},
	"join": strings.Join,
}
