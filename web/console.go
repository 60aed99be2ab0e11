package web

import (
	"cmp"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/cunzheng/cunzheng/evidence"
	"github.com/cunzheng/cunzheng/evidence/event"
	"github.com/cunzheng/cunzheng/ledger"
	"github.com/cunzheng/cunzheng/notary/notarize"
	"github.com/cunzheng/cunzheng/report"
	"github.com/cunzheng/cunzheng/report/assemble"
)

// The legal console (/console): a tenant's legal team signs in with its
// legal API key, finds contracts and reads their timelines, and downloads
// the documents the report service issues. Every form carries the
// session's CSRF token; searches are POSTed so that names and accounts
// never appear in URLs, browser history or access logs.

// Console defaults.
const (
	DefaultSessionIdle      = 30 * time.Minute
	DefaultSessionMax       = 8 * time.Hour
	DefaultSignInPerMinute  = 10
	defaultMaxSessions      = 10_000
	sessionCookie           = "cz_session"
	loginCookie             = "cz_login"
	consoleFormLimit        = 64 << 10
	keyPrefixLen            = 12
	downloadWriteAllowance  = 10 * time.Minute
	consoleSearchPageLength = 25
)

// ConsoleLog is what the console reads of the ledger; *ledger.Log is one.
type ConsoleLog interface {
	Checkpoint(ctx context.Context) (ledger.Checkpoint, error)
	Leaf(ctx context.Context, index uint64) ([]byte, error)
	InclusionProof(ctx context.Context, index, size uint64) ([]tlog.Hash, error)
}

// ConsoleConfig configures MountConsole.
type ConsoleConfig struct {
	// Evidence authenticates keys, searches contracts and reads timelines.
	Evidence *evidence.Service
	// Log gives the checkpoint and the proofs the timeline checks.
	Log ConsoleLog
	// Reports issues the downloads; without it the console has none.
	Reports *report.Service
	// Notarize sends notarisation requests (申请公证); without it the
	// contract page offers none.
	Notarize *notarize.Service
	// SessionIdle and SessionMax bound a session's idle and total life.
	SessionIdle, SessionMax time.Duration
	// Sessions keeps the sessions outside the process (cluster mode: in
	// the cluster's database, web/sessionpg); nil keeps them in memory.
	Sessions SessionBackend
	// SignInPerMinute bounds sign-in attempts per client IP and, separately,
	// per key prefix.
	SignInPerMinute int
	Logger          *slog.Logger
	// Registerer registers the console's metrics (sign-in outcomes,
	// downloads); none when nil.
	Registerer prometheus.Registerer
	now        func() time.Time
}

type console struct {
	cfg      ConsoleConfig
	site     *site
	sessions *sessionStore
	byIP     *rateLimiter
	byPrefix *rateLimiter
	logger   *slog.Logger
	signIns  *prometheus.CounterVec
	issued   *prometheus.CounterVec
}

// MountConsole returns the mount of the console, which serves
//
//	GET  /console                          sign-in form, or the search form
//	POST /console/login                    sign in (form: key, csrf)
//	POST /console/logout                   sign out
//	POST /console/search                   search (number, name, account, from, to, cursor)
//	GET  /console/contracts/:id            a contract's timeline and downloads
//	POST /console/contracts/:id/download   kind, reveal, confirm
//	GET  /console/contracts/:id/documents/:sha256   an original document of the contract
//
// con is also what TenantViewer asks who is signed in.
func MountConsole(con *Console) Mount {
	h := con.h
	return func(r gin.IRouter) {
		r.GET("/console", h.index)
		r.POST("/console/login", h.login)
		r.POST("/console/logout", h.logout)
		r.POST("/console/search", h.search)
		r.GET("/console/contracts/:id", h.contract)
		r.POST("/console/contracts/:id/download", h.download)
		r.GET("/console/contracts/:id/documents/:sha256", h.document)
		mountConsoleNotary(r, h)
	}
}

// Console is the legal console: MountConsole serves it and Principal tells
// other pages who is signed in.
type Console struct{ h *console }

// NewConsole returns the console of cfg.
func NewConsole(cfg ConsoleConfig) *Console { return &Console{newConsole(cfg)} }

// Principal returns the principal of the request's live console session.
func (con *Console) Principal(c *gin.Context) (evidence.Principal, bool) {
	ss, ok := con.h.current(c)
	if !ok {
		return evidence.Principal{}, false
	}
	return ss.Principal, true
}

func newConsole(cfg ConsoleConfig) *console {
	if cfg.SessionIdle <= 0 {
		cfg.SessionIdle = DefaultSessionIdle
	}
	if cfg.SessionMax <= 0 {
		cfg.SessionMax = DefaultSessionMax
	}
	if cfg.SignInPerMinute <= 0 {
		cfg.SignInPerMinute = DefaultSignInPerMinute
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.now == nil {
		cfg.now = time.Now
	}
	signIns := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "cunzheng_console_signins_total", Help: "Console sign-in attempts by outcome.",
	}, []string{"outcome"})
	issued := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "cunzheng_console_downloads_total", Help: "Documents downloaded from the console by kind and whether unmasked.",
	}, []string{"document", "revealed"})
	if cfg.Registerer != nil {
		cfg.Registerer.MustRegister(signIns, issued)
	}
	sessions := newSessionStore(cfg.SessionIdle, cfg.SessionMax, defaultMaxSessions, cfg.now)
	sessions.backend = cfg.Sessions
	return &console{
		signIns:  signIns,
		issued:   issued,
		cfg:      cfg,
		site:     defaultSite().withLogger(cfg.Logger),
		sessions: sessions,
		byIP:     newRateLimiter(cfg.SignInPerMinute, cfg.now),
		byPrefix: newRateLimiter(cfg.SignInPerMinute, cfg.now),
		logger:   cfg.Logger,
	}
}

// setCookie sets an HttpOnly, SameSite=Strict cookie, Secure when served
// over TLS; maxAge < 0 deletes it. The session cookie is the site's (path
// /): the verification page shows a signed-in tenant the contract numbers
// of its own records. The sign-in token stays on the console's path.
func setCookie(c *gin.Context, name, value string, maxAge int) {
	path := "/console"
	if name == sessionCookie {
		path = "/"
	}
	http.SetCookie(c.Writer, &http.Cookie{Name: name, Value: value, Path: path, MaxAge: maxAge,
		HttpOnly: true, Secure: c.Request.TLS != nil, SameSite: http.SameSiteStrictMode})
}

// current returns the request's live session.
func (h *console) current(c *gin.Context) (*session, bool) {
	id, err := c.Cookie(sessionCookie)
	if err != nil {
		return nil, false
	}
	ss, ok, err := h.sessions.get(id)
	if err != nil {
		// As if signed out: signing in again answers 503 while the
		// session store is down.
		h.logger.WarnContext(c.Request.Context(), "reading the console session", "err", err)
	}
	return ss, ok
}

func (h *console) page(c *gin.Context, status int, name string, ss *session, data any) {
	v := view{Nav: "console", Data: data}
	if ss != nil {
		v.SignedIn, v.CSRF = true, ss.CSRF
	}
	h.site.renderView(c, status, name, v)
}

var (
	msgSignIn = message{TitleZH: "请先登录", TitleEN: "Please sign in",
		TextZH: "会话不存在或已过期，请使用本租户的 legal 密钥重新登录。", TextEN: "There is no session or it has expired; sign in again with your tenant's legal key.",
		Link: "/console", LinkZH: "登录", LinkEN: "Sign in"}
	msgCSRF = message{TitleZH: "请求无效", TitleEN: "Invalid request",
		TextZH: "表单校验令牌缺失或不正确（可能是页面已过期）。请返回控制台重试。", TextEN: "The form's CSRF token is missing or wrong (the page may be stale). Go back to the console and try again.",
		Link: "/console", LinkZH: "返回控制台", LinkEN: "Back to the console"}
	msgRate = message{TitleZH: "登录尝试过多", TitleEN: "Too many sign-in attempts",
		TextZH: "登录尝试过于频繁，请一分钟后再试。", TextEN: "Too many sign-in attempts; try again in a minute.",
		Link: "/console", LinkZH: "返回登录", LinkEN: "Back to sign-in"}
)

// authorized checks the session and, for POST, the CSRF token; when it
// fails it has answered.
func (h *console) authorized(c *gin.Context) (*session, bool) {
	ss, ok := h.current(c)
	if !ok {
		h.page(c, http.StatusUnauthorized, "message.html", nil, msgSignIn)
		return nil, false
	}
	if c.Request.Method == http.MethodPost {
		if !tokenEqual(c.PostForm("csrf"), ss.CSRF) {
			h.page(c, http.StatusForbidden, "message.html", ss, msgCSRF)
			return nil, false
		}
	}
	return ss, true
}

// limitForm bounds the form body: console forms are a few short fields.
func limitForm(c *gin.Context) {
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, consoleFormLimit)
}

type loginData struct {
	CSRF  string
	Error message
}

func (h *console) index(c *gin.Context) {
	if ss, ok := h.current(c); ok {
		h.page(c, http.StatusOK, "console_search.html", ss, searchData{CSRF: ss.CSRF})
		return
	}
	h.loginPage(c, http.StatusOK, message{})
}

// loginPage shows the sign-in form with a fresh pre-session CSRF token,
// double-submitted as a cookie and a hidden field.
func (h *console) loginPage(c *gin.Context, status int, m message) {
	tok := randomToken()
	setCookie(c, loginCookie, tok, 3600)
	h.page(c, status, "console_login.html", nil, loginData{CSRF: tok, Error: m})
}

func (h *console) login(c *gin.Context) {
	limitForm(c)
	want, _ := c.Cookie(loginCookie)
	if !tokenEqual(c.PostForm("csrf"), want) {
		h.signIns.WithLabelValues("csrf").Inc()
		h.loginPage(c, http.StatusForbidden, msgCSRF)
		return
	}
	key := strings.TrimSpace(c.PostForm("key"))
	prefix := key
	if len(prefix) > keyPrefixLen {
		prefix = prefix[:keyPrefixLen]
	}
	// Both buckets are charged for every attempt: a client cycling keys is
	// held by its address, many addresses at one key by its prefix.
	ipOK := h.byIP.allow(clientIP(c))
	prefixOK := h.byPrefix.allow(prefix)
	if !ipOK || !prefixOK {
		h.signIns.WithLabelValues("rate_limited").Inc()
		h.logger.WarnContext(c.Request.Context(), "console sign-in rate limited", "by_ip", !ipOK, "by_prefix", !prefixOK)
		h.loginPage(c, http.StatusTooManyRequests, msgRate)
		return
	}
	if key == "" {
		h.loginPage(c, http.StatusBadRequest, message{TitleZH: "请输入密钥", TitleEN: "Key required",
			TextZH: "请输入本租户的 legal API 密钥。", TextEN: "Enter your tenant's legal API key."})
		return
	}
	p, err := h.cfg.Evidence.Authenticate(key)
	if err != nil {
		if !errors.Is(err, evidence.ErrUnauthorized) {
			h.logger.ErrorContext(c.Request.Context(), "console sign-in", "err", err)
			h.loginPage(c, http.StatusInternalServerError, message{TitleZH: "服务器错误", TitleEN: "Server error",
				TextZH: "暂时无法登录，请稍后再试。", TextEN: "Sign-in is unavailable; try again later."})
			return
		}
		h.signIns.WithLabelValues("invalid").Inc()
		h.loginPage(c, http.StatusUnauthorized, message{TitleZH: "密钥无效", TitleEN: "Invalid key",
			TextZH: "该密钥不存在或已被撤销。", TextEN: "This key does not exist or has been revoked."})
		return
	}
	if !p.Has(evidence.RoleLegal) {
		h.signIns.WithLabelValues("forbidden").Inc()
		h.loginPage(c, http.StatusForbidden, message{TitleZH: "无权登录", TitleEN: "Not allowed",
			TextZH: "控制台需要具有 legal 角色的密钥。", TextEN: "The console needs a key with the legal role."})
		return
	}
	h.signIns.WithLabelValues("ok").Inc()
	id, _, err := h.sessions.create(p)
	if err != nil {
		h.logger.ErrorContext(c.Request.Context(), "storing the console session", "err", err)
		h.loginPage(c, http.StatusServiceUnavailable, message{TitleZH: "暂时无法登录", TitleEN: "Sign-in unavailable",
			TextZH: "会话存储暂不可用，请稍后重试。", TextEN: "The session store is unavailable; try again shortly."})
		return
	}
	setCookie(c, sessionCookie, id, 0)
	setCookie(c, loginCookie, "", -1)
	h.logger.InfoContext(c.Request.Context(), "console sign-in", "tenant", p.Tenant.ID)
	c.Redirect(http.StatusSeeOther, "/console")
}

func (h *console) logout(c *gin.Context) {
	limitForm(c)
	ss, ok := h.authorized(c)
	if !ok {
		return
	}
	_ = ss
	if id, err := c.Cookie(sessionCookie); err == nil {
		if err := h.sessions.delete(id); err != nil {
			// The cookie goes anyway; the row expires with its idle time.
			h.logger.WarnContext(c.Request.Context(), "removing the console session", "err", err)
		}
	}
	setCookie(c, sessionCookie, "", -1)
	c.Redirect(http.StatusSeeOther, "/console")
}

// searchForm is the search form's fields, echoed back into the page.
type searchForm struct {
	Number, Name, Account, From, To string
}

type searchData struct {
	CSRF     string
	Form     searchForm
	Searched bool
	Results  []evidence.ContractSummary
	Next     string
	Page     int
	Error    string
}

// parseDay reads a date field (YYYY-MM-DD, Beijing time).
func parseDay(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	return time.ParseInLocation("2006-01-02", s, beijingZone)
}

func (h *console) search(c *gin.Context) {
	limitForm(c)
	ss, ok := h.authorized(c)
	if !ok {
		return
	}
	f := searchForm{
		Number:  strings.TrimSpace(c.PostForm("number")),
		Name:    strings.TrimSpace(c.PostForm("name")),
		Account: strings.TrimSpace(c.PostForm("account")),
		From:    strings.TrimSpace(c.PostForm("from")),
		To:      strings.TrimSpace(c.PostForm("to")),
	}
	page, _ := strconv.Atoi(c.PostForm("page"))
	d, err := h.runSearch(ss.Principal, f, c.PostForm("cursor"), max(page, 1))
	status := http.StatusOK
	if err != nil {
		status = errorStatus(err)
		d.Error = err.Error()
		if status >= 500 {
			h.logger.ErrorContext(c.Request.Context(), "console search", "err", err)
			d.Error = "internal error"
		}
	}
	d.CSRF = ss.CSRF
	h.page(c, status, "console_search.html", ss, d)
}

// runSearch answers one search form. A contract number is an exact lookup
// and takes precedence over the other fields.
func (h *console) runSearch(p evidence.Principal, f searchForm, cursor string, page int) (searchData, error) {
	d := searchData{Form: f, Searched: true, Page: page, Results: []evidence.ContractSummary{}}
	if f.Number != "" {
		v, err := h.cfg.Evidence.Contract(p, f.Number)
		if errors.Is(err, evidence.ErrNotFound) {
			return d, nil
		}
		if err != nil {
			return d, err
		}
		d.Results = append(d.Results, evidence.ContractSummary{ID: v.ID, Name: v.Name, First: v.First, Last: v.Last, Status: v.Status, Events: v.EventCount})
		return d, nil
	}
	from, err := parseDay(f.From)
	if err != nil {
		return d, badRequest("起始日期格式应为 YYYY-MM-DD · from must be a date YYYY-MM-DD")
	}
	to, err := parseDay(f.To)
	if err != nil {
		return d, badRequest("截止日期格式应为 YYYY-MM-DD · to must be a date YYYY-MM-DD")
	}
	if !to.IsZero() {
		to = to.AddDate(0, 0, 1) // the form's "to" day is inclusive
	}
	res, err := h.cfg.Evidence.Search(p, evidence.Query{Name: f.Name, Account: f.Account, From: from, To: to,
		Cursor: cursor, Limit: consoleSearchPageLength})
	if err != nil {
		if errors.Is(err, evidence.ErrInvalidQuery) {
			return d, badRequest("查询条件无效 · invalid search: " + err.Error())
		}
		return d, err
	}
	d.Results, d.Next = res.Contracts, res.Next
	return d, nil
}

// timelineEntry is one event of a contract's timeline.
type timelineEntry struct {
	Index  uint64
	Kind   string
	Time   time.Time
	Method string
	// Actor is who acted, masked as the masked reports show it (the
	// unmasked documents are downloads recorded in the chain of custody).
	Actor string
	// Result is a check's result ("passed", "failed"; empty for events
	// that are not checks), with its source and CA.
	Result, Source, CA string
	// Imported marks a signature the platform recorded as imported from
	// another system (data.imported): no sending or intent check of it is
	// in this log, and the reader must see that.
	Imported bool
	LeafHash string
	// Proof: "ok" (inclusion proof checked against the newest checkpoint),
	// "pending" (not yet covered by a checkpoint) or "failed".
	Proof   string
	Problem string
	// Report is set for report.issued: the chain of custody entry.
	Report *reportEntry
	// Notarization is set for the notarization.* events.
	Notarization *notarizationEntry
}

// documentEntry is a document a leaf of the contract records.
type documentEntry struct {
	Name, SHA256 string
}

// contractDocuments lists the documents the contract's leaves record by
// hash, once each: the files sent and completed, and signed documents.
func contractDocuments(recs []evidence.Record) []documentEntry {
	var out []documentEntry
	add := func(name, h string) {
		if h == "" {
			return
		}
		for i := range out {
			if out[i].SHA256 == h {
				if out[i].Name == "" {
					out[i].Name = name
				}
				return
			}
		}
		out = append(out, documentEntry{name, h})
	}
	for _, r := range recs {
		if r.Public == nil {
			continue
		}
		if doc, ok := r.Public.Data["document"].(map[string]any); ok {
			h, _ := doc["sha256"].(string)
			add("", h)
		}
		fs, _ := r.Public.Data["files"].([]any)
		for i, f := range fs {
			fm, _ := f.(map[string]any)
			h, _ := fm["sha256"].(string)
			name := ""
			if r.Opened != nil {
				name = r.Opened.Fields[fmt.Sprintf("data.files[%d].name", i)].Value
			}
			add(name, h)
		}
	}
	return out
}

type reportEntry struct {
	Number, Document string
	Revealed         bool
}

type contractData struct {
	CSRF     string
	Contract *evidence.ContractView
	Timeline []timelineEntry
	// Events is the contract's event count (evidence.CountsAsEvent),
	// Reports the reports issued, Related the identity checks and
	// erasures of its parties listed with them.
	Events, Reports, Related int
	Checkpoint               uint64
	// Documents are the contract's files by the hashes its leaves record;
	// the originals the platform stored download from here.
	Documents []documentEntry
	Downloads bool
	Error     string
	// Notary is the 申请公证 section (nil without notarisation).
	Notary *notaryPanel
}

func (h *console) contract(c *gin.Context) {
	ss, ok := h.authorized(c)
	if !ok {
		return
	}
	d, err := h.timeline(c.Request.Context(), ss.Principal, c.Param("id"))
	if err != nil {
		h.contractError(c, ss, err)
		return
	}
	d.CSRF = ss.CSRF
	d.Notary = h.notaryPanel(d.Timeline)
	h.page(c, http.StatusOK, "console_contract.html", ss, d)
}

func (h *console) contractError(c *gin.Context, ss *session, err error) {
	status := errorStatus(err)
	if errors.Is(err, evidence.ErrNotFound) || errors.Is(err, report.ErrNotFound) {
		// Another tenant's contract reads exactly like an absent one.
		h.page(c, http.StatusNotFound, "message.html", ss, message{TitleZH: "未找到合同", TitleEN: "Contract not found",
			TextZH: "本租户没有该编号的合同。", TextEN: "Your tenant has no contract with this number.",
			Link: "/console", LinkZH: "返回搜索", LinkEN: "Back to search"})
		return
	}
	if status >= 500 && status != http.StatusServiceUnavailable {
		h.logger.ErrorContext(c.Request.Context(), "console contract", "err", err)
	}
	h.page(c, status, "message.html", ss, message{TitleZH: "无法显示合同", TitleEN: "Cannot show the contract",
		TextZH: "读取合同记录时出错，请稍后再试。", TextEN: "The contract's records could not be read; try again shortly.",
		Link: "/console", LinkZH: "返回搜索", LinkEN: "Back to search"})
}

// timeline reads a contract's records and checks each one's inclusion
// proof against the newest checkpoint.
func (h *console) timeline(ctx context.Context, p evidence.Principal, id string) (contractData, error) {
	v, recs, err := h.cfg.Evidence.Records(ctx, p, id, h.cfg.Log.Leaf)
	if err != nil {
		return contractData{}, err
	}
	cp, err := h.cfg.Log.Checkpoint(ctx)
	if err != nil {
		return contractData{}, err
	}
	d := contractData{Contract: v, Checkpoint: cp.Size, Downloads: h.cfg.Reports != nil, Events: v.EventCount}
	// An erasure of a party is a leaf of its own (data.erased), which no
	// contract or person lists: the records it shredded name it.
	type erasure struct {
		index uint64
		at    time.Time
	}
	var erasures []erasure
	seen := map[uint64]bool{}
	for _, r := range recs {
		seen[r.Index] = true
		if o := r.Opened; o != nil && o.Erased && !o.ErasurePending && !slices.ContainsFunc(erasures, func(e erasure) bool { return e.index == o.ErasureIndex }) {
			erasures = append(erasures, erasure{o.ErasureIndex, o.ErasedAt})
		}
	}
	for _, e := range erasures {
		if seen[e.index] {
			continue
		}
		leaf, err := h.cfg.Log.Leaf(ctx, e.index)
		if err != nil {
			return contractData{}, err
		}
		recs = append(recs, evidence.Record{EventEntry: evidence.EventEntry{Kind: event.KindDataErased, Time: e.at,
			Receipt: evidence.Receipt{Index: e.index}}, Leaf: leaf})
	}
	slices.SortFunc(recs, func(a, b evidence.Record) int { return cmp.Compare(a.Index, b.Index) })
	d.Documents = contractDocuments(recs)
	for _, r := range recs {
		lh := rfc6962.DefaultHasher.HashLeaf(r.Leaf)
		e := timelineEntry{Index: r.Index, Kind: string(r.Kind), Time: r.Time, LeafHash: hex.EncodeToString(lh), Proof: "pending"}
		switch {
		case r.Kind == event.KindReportIssued:
			d.Reports++
		case notarizationOf(r) != nil:
			// Notarisations are listed in their own section, not counted
			// with the parties' records.
		case r.Public == nil || r.Public.Contract == "" || !evidence.CountsAsEvent(r.Kind):
			d.Related++
		}
		if o := r.Opened; o != nil {
			switch {
			case o.Erased:
				e.Actor = "已销毁 erased"
			case o.Fields["actor.name"].Value != "":
				e.Actor = report.MaskName(o.Fields["actor.name"].Value)
			case o.Fields["actor.account"].Value != "":
				e.Actor = report.Mask(report.KindAccount, o.Fields["actor.account"].Value)
			}
			if co := o.Fields["actor.company"].Value; co != "" {
				e.Actor = strings.TrimSpace(e.Actor + " · " + co)
			}
		}
		if r.Public != nil {
			if m, ok := r.Public.Data["method"].(string); ok {
				e.Method = m
			}
			e.Result, _ = r.Public.Data["result"].(string)
			e.Source, _ = r.Public.Data["source"].(string)
			e.CA, _ = r.Public.Data["ca"].(string)
			e.Imported, _ = r.Public.Data["imported"].(bool)
			if r.Kind == event.KindReportIssued {
				rep := &reportEntry{}
				rep.Number, _ = r.Public.Data["report"].(string)
				rep.Document, _ = r.Public.Data["document"].(string)
				rep.Revealed, _ = r.Public.Data["revealed"].(bool)
				e.Report = rep
			}
		}
		e.Notarization = notarizationOf(r)
		if r.Index < cp.Size {
			hashes, err := h.cfg.Log.InclusionProof(ctx, r.Index, cp.Size)
			if err != nil {
				return contractData{}, err
			}
			raw := make([][]byte, len(hashes))
			for i := range hashes {
				raw[i] = hashes[i][:]
			}
			if err := proof.VerifyInclusion(rfc6962.DefaultHasher, r.Index, cp.Size, lh, raw, cp.Root[:]); err != nil {
				e.Proof, e.Problem = "failed", err.Error()
			} else {
				e.Proof = "ok"
			}
		}
		d.Timeline = append(d.Timeline, e)
	}
	return d, nil
}

// downloadKinds maps the form's kind to the report kind, media type and
// file name.
var downloadKinds = map[string]struct{ kind, ctype, file string }{
	"certificate":     {report.KindCertificate, "application/pdf", "certificate.pdf"},
	"evidence-report": {report.KindEvidence, "application/pdf", "evidence-report.pdf"},
	"evidence-bundle": {report.KindBundle, "application/zip", "evidence-bundle.zip"},
}

func (h *console) download(c *gin.Context) {
	limitForm(c)
	ss, ok := h.authorized(c)
	if !ok {
		return
	}
	id := c.Param("id")
	back := contractBack(id)
	k, ok := downloadKinds[c.PostForm("kind")]
	if !ok {
		m := back
		m.TitleZH, m.TitleEN, m.TextZH, m.TextEN = "请求无效", "Invalid request", "未知的文件类型。", "Unknown document kind."
		h.page(c, http.StatusBadRequest, "message.html", ss, m)
		return
	}
	reveal := c.PostForm("reveal") == "true"
	if reveal && !ss.Principal.Has(evidence.RoleLegal) {
		// The same rule as the API's ?reveal=true (sessions are only
		// opened for legal keys; this keeps the two from drifting).
		m := back
		m.TitleZH, m.TitleEN, m.TextZH, m.TextEN = "无权下载", "Not allowed", "未脱敏文件需要具有 legal 角色的密钥。", "Unmasked documents need a key with the legal role."
		h.page(c, http.StatusForbidden, "message.html", ss, m)
		return
	}
	if reveal && c.PostForm("confirm") != "yes" {
		m := back
		m.TitleZH, m.TitleEN = "需要确认", "Confirmation required"
		m.TextZH = "下载未脱敏的文件前，请勾选确认：文件将显示完整的姓名、证件号和联系方式，并记入该合同的监管链。"
		m.TextEN = "Before downloading an unmasked document, tick the confirmation: it shows full names, ID numbers and contacts, and is recorded in the contract's chain of custody."
		h.page(c, http.StatusBadRequest, "message.html", ss, m)
		return
	}
	if h.cfg.Reports == nil {
		m := back
		m.TitleZH, m.TitleEN, m.TextZH, m.TextEN = "无法下载", "No downloads", "本服务器未配置报告服务。", "This server issues no reports."
		h.page(c, http.StatusNotFound, "message.html", ss, m)
		return
	}
	// A report can take a while to sign and a large bundle to send; the
	// server's write timeout is for pages, so a download gets its own.
	_ = http.NewResponseController(c.Writer).SetWriteDeadline(h.cfg.now().Add(downloadWriteAllowance))
	p := ss.Principal
	out, is, err := h.cfg.Reports.Issue(c.Request.Context(), k.kind, p.Tenant.ID, p.Tenant.ID+"/legal", id, reveal)
	if err != nil {
		if errors.Is(err, assemble.ErrNotReady) || errors.Is(err, report.ErrBusy) {
			m := back
			m.TitleZH, m.TitleEN = "请稍后再试", "Not ready yet"
			m.TextZH = "该合同的记录尚未进入经公证处联署并加盖时间戳的检查点，通常一分钟内完成，请稍后再试。"
			m.TextEN = "The contract's records are not yet in a cosigned, time-stamped checkpoint; this usually takes under a minute. Try again shortly."
			c.Header("Retry-After", "5")
			h.page(c, http.StatusServiceUnavailable, "message.html", ss, m)
			return
		}
		h.contractError(c, ss, err)
		return
	}
	h.issued.WithLabelValues(k.kind, strconv.FormatBool(reveal)).Inc()
	h.logger.InfoContext(c.Request.Context(), "console download", "tenant", p.Tenant.ID, "kind", k.kind, "reveal", reveal, "report", is.ReportNumber)
	c.Header("Content-Disposition", `attachment; filename="`+is.ReportNumber+"-"+k.file+`"`)
	c.Header("X-Report-Number", is.ReportNumber)
	c.Data(http.StatusOK, k.ctype, out)
}

// document serves an original document of the contract, as the platform
// stored it (PUT /v1/documents), when a leaf of the contract records its
// hash.
func (h *console) document(c *gin.Context) {
	ss, ok := h.authorized(c)
	if !ok {
		return
	}
	id, sha := c.Param("id"), c.Param("sha256")
	back := contractBack(id)
	_, recs, err := h.cfg.Evidence.Records(c.Request.Context(), ss.Principal, id, h.cfg.Log.Leaf)
	if err != nil {
		h.contractError(c, ss, err)
		return
	}
	if !slices.ContainsFunc(contractDocuments(recs), func(d documentEntry) bool { return d.SHA256 == sha }) {
		m := back
		m.TitleZH, m.TitleEN, m.TextZH, m.TextEN = "未找到文件", "No such document", "该合同的记录中没有这个文件哈希。", "No record of this contract names this document hash."
		h.page(c, http.StatusNotFound, "message.html", ss, m)
		return
	}
	b, err := h.cfg.Evidence.Document(ss.Principal, sha)
	if errors.Is(err, evidence.ErrNotFound) {
		m := back
		m.TitleZH, m.TitleEN = "原件未存档", "Original not stored"
		m.TextZH = "签约平台只提交了该文件的哈希，没有提交原件（混合云模式）。"
		m.TextEN = "The signing platform sent only this document's hash, not the document (hybrid-cloud mode)."
		h.page(c, http.StatusNotFound, "message.html", ss, m)
		return
	}
	if err != nil {
		h.contractError(c, ss, err)
		return
	}
	h.logger.InfoContext(c.Request.Context(), "console original download", "tenant", ss.Principal.Tenant.ID, "sha256", sha)
	c.Header("Content-Disposition", `attachment; filename="`+sha+`.pdf"`)
	c.Header("Cache-Control", "no-store")
	c.Data(http.StatusOK, "application/pdf", b)
}

// contractBack is the message whose link leads back to the contract's
// console page, which every action on a contract answers with.
func contractBack(id string) message {
	return message{Link: "/console/contracts/" + url.PathEscape(id), LinkZH: "返回合同", LinkEN: "Back to the contract"}
}
