package web

import (
	"bytes"
	"embed"
	"html/template"
	"io/fs"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/cunzheng/cunzheng/report"
	"github.com/cunzheng/cunzheng/web/verifyview"
)

// The site: every HTML page is a content template rendered inside one
// layout (header, navigation, language switch, footer), with one style
// sheet and no inline script, so that a single Content-Security-Policy
// covers every page.

//go:embed templates/*.html
var templatesFS embed.FS

//go:embed static
var staticFS embed.FS

// Languages. Chinese is the default; the English switch (?lang=en) is
// remembered in a cookie.
const (
	langZH     = "zh"
	langEN     = "en"
	langCookie = "lang"
)

// contentSecurityPolicy forbids inline script (and inline style): scripts
// and styles come from this origin only, and no page may be framed.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// securityHeaders is the server-wide middleware behind every response.
// HSTS only over TLS: sent over plain HTTP it is ignored at best and, on a
// loopback development server, pins a name to HTTPS at worst.
func securityHeaders(c *gin.Context) {
	h := c.Writer.Header()
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	if c.Request.TLS != nil {
		h.Set("Strict-Transport-Security", "max-age=31536000")
	}
	c.Next()
}

// langOf returns the page language: ?lang= (remembered in a cookie), then
// the cookie, then Chinese.
func langOf(c *gin.Context) string {
	if q := c.Query("lang"); q == langEN || q == langZH {
		http.SetCookie(c.Writer, &http.Cookie{Name: langCookie, Value: q, Path: "/", MaxAge: 365 * 24 * 3600,
			HttpOnly: true, Secure: c.Request.TLS != nil, SameSite: http.SameSiteLaxMode})
		return q
	}
	if v, err := c.Cookie(langCookie); err == nil && v == langEN {
		return langEN
	}
	return langZH
}

// view is what the layout renders: the page's own data is Data.
type view struct {
	Lang string
	// Nav is the active navigation entry: home, verify, console, log, notaries.
	Nav string
	// Path is the page's path, for the language switch links.
	Path string
	// SignedIn shows the console's sign-out form, which needs CSRF.
	SignedIn bool
	CSRF     string
	Data     any
}

// En reports whether the page is in English.
func (v view) En() bool { return v.Lang == langEN }

// tr renders a user-facing text: Chinese with its English beside it, or
// English alone after the switch.
func tr(lang, zh, en string) template.HTML { return verifyview.Tr(lang, zh, en) }

// pick is tr for attributes (placeholders, titles): one plain string.
func pick(lang, zh, en string) string {
	if lang == langEN {
		return en
	}
	return zh + " · " + en
}

var beijingZone = time.FixedZone("UTC+8", 8*3600)

var siteFuncs = template.FuncMap{
	"tr":   tr,
	"pick": pick,
	// at shows a time in Beijing time, the time the customers' courts use.
	"at": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.In(beijingZone).Format("2006-01-02 15:04:05") + " (UTC+8)"
	},
	"date": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.In(beijingZone).Format("2006-01-02")
	},
	"short": func(s string) string {
		if len(s) > 16 {
			return s[:16] + "…"
		}
		return s
	},
	"kindLabel": verifyview.KindLabel,
	"methodLabel": func(lang, m string) template.HTML {
		if m == "" {
			return ""
		}
		zh, en := methodLabel(m)
		return tr(lang, zh, en)
	},
	"add": func(a, b int) int { return a + b },
	// pathEscape makes an id one URL path segment ("HT/2026/001" is a
	// valid contract number).
	"pathEscape": url.PathEscape,
	// unmaskedKinds are the console's unmasked downloads, in the order shown.
	"unmaskedKinds": func() []struct{ Kind, ID, Confirm, ZH, EN string } {
		return []struct{ Kind, ID, Confirm, ZH, EN string }{
			{"certificate", "certificate-revealed", "confirm-certificate-reveal", "签约存证页，未脱敏（PDF）", "Signing certificate page, unmasked (PDF)"},
			{"evidence-report", "revealed", "confirm-reveal", "证据报告，未脱敏（PDF）", "Evidence report, unmasked (PDF)"},
			{"evidence-bundle", "bundle-revealed", "confirm-bundle-reveal", "离线校验包，未脱敏（ZIP）", "Offline evidence bundle, unmasked (ZIP)"},
		}
	},
	"documentLabel": func(lang, doc string) template.HTML {
		switch doc {
		case "certificate":
			return tr(lang, "签约存证页", "signing certificate page")
		case "evidence-report":
			return tr(lang, "证据报告", "evidence report")
		case "evidence-bundle":
			return tr(lang, "离线校验包", "evidence bundle")
		}
		return template.HTML(template.HTMLEscapeString(doc))
	},
}

// methodLabel names an identity or intent verification method, in the
// words of the reports (one table, report.MethodLabel).
func methodLabel(m string) (zh, en string) { return report.MethodLabel(m) }

// site renders the pages.
type site struct {
	pages  map[string]*template.Template
	logger *slog.Logger
}

// newSite parses the layout with each page template.
func newSite(logger *slog.Logger) *site {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	base := template.Must(template.New("layout.html").Funcs(siteFuncs).Funcs(verifyFuncs).Funcs(verifyTextFuncs).Funcs(keysFuncs).ParseFS(templatesFS, "templates/layout.html", "templates/_*.html"))
	names, err := fs.Glob(templatesFS, "templates/*.html")
	if err != nil {
		panic(err)
	}
	s := &site{pages: map[string]*template.Template{}, logger: logger}
	for _, n := range names {
		name := path.Base(n)
		if name == "layout.html" || strings.HasPrefix(name, "_") {
			continue // the layout, and blocks every page may use
		}
		s.pages[name] = template.Must(template.Must(base.Clone()).ParseFS(templatesFS, n))
	}
	return s
}

// defaultSite is shared by the mounts: the templates are embedded, so they
// parse the same everywhere. They are parsed on first use, not at package
// initialisation: every command of the binary (verify pdf among them)
// would otherwise pay for them at start-up. Each mount takes them with its
// own logger (withLogger), so that a template error reaches the server's log.
var defaultSite = sync.OnceValue(func() *site { return newSite(nil) })

// withLogger returns the site sharing s's parsed pages, logging to logger.
func (s *site) withLogger(logger *slog.Logger) *site {
	if logger == nil {
		return s
	}
	return &site{pages: s.pages, logger: logger}
}

// render writes page name with data in the layout; a template error is a
// bug and answers a plain 500.
func (s *site) render(c *gin.Context, status int, name, nav string, data any) {
	s.renderView(c, status, name, view{Nav: nav, Data: data})
}

func (s *site) renderView(c *gin.Context, status int, name string, v view) {
	if v.Lang == "" {
		v.Lang = langOf(c)
	}
	// The escaped path: a contract id holding "/" must stay one segment.
	v.Path = switchPath(c.Request.Method, c.Request.URL.EscapedPath())
	t, ok := s.pages[name]
	var buf bytes.Buffer
	var err error
	if !ok {
		err = errUnknownPage
	} else {
		err = t.ExecuteTemplate(&buf, "layout.html", v)
	}
	if err != nil {
		// The cause names the template, the line and what failed; a page
		// error is always a bug, so it is logged at error level.
		s.logger.ErrorContext(c.Request.Context(), "rendering page", "page", name, "path", c.FullPath(), "err", err.Error())
		c.Data(http.StatusInternalServerError, "text/plain; charset=utf-8", []byte("internal error\n"))
		return
	}
	c.Header("Cache-Control", "no-store")
	c.Data(status, "text/html; charset=utf-8", buf.Bytes())
}

// switchPath is where the language switch of a page leads: the page
// itself, or for the answer to a form, the page the form is on (a GET of a
// POST-only path would be a 405).
func switchPath(method, p string) string {
	if method == http.MethodGet || method == http.MethodHead {
		return p
	}
	if rest, ok := strings.CutSuffix(p, "/download"); ok && strings.HasPrefix(rest, "/console/contracts/") {
		return rest
	}
	if strings.HasPrefix(p, "/console/") {
		return "/console"
	}
	return p
}

var errUnknownPage = httpErrorf(http.StatusInternalServerError, "unknown page")

func httpErrorf(status int, msg string) error { return &httpError{status, msg} }

// message is the data of message.html: a titled message with a way on.
type message struct {
	Kind             messageKind
	TitleZH, TitleEN string
	TextZH, TextEN   string
	Link, LinkZH     string
	LinkEN           string
}

// messageKind says how message.html shows a message: a success must not
// look like the failure beside it (已申请公证 once showed in the error's pink).
type messageKind int

const (
	msgError   messageKind = iota // the zero value: a message that does not say otherwise is an error
	msgSuccess                    // what the user asked for was done
	msgNotice                     // an outcome that is neither: an office refused a request
)

// Class is the alert's CSS class beside "alert".
func (k messageKind) Class() string {
	switch k {
	case msgSuccess:
		return "success"
	case msgNotice:
		return "notice"
	}
	return "error"
}

// Role is the ARIA role: only an error interrupts a screen reader.
func (k messageKind) Role() string {
	if k == msgError {
		return "alert"
	}
	return "status"
}

// mountStatic serves the embedded style sheet and script under /static/.
func mountStatic(r gin.IRouter) {
	sub, err := fs.Sub(staticFS, "static")
	if err != nil {
		panic(err)
	}
	r.GET("/static/*file", func(c *gin.Context) {
		name := strings.TrimPrefix(c.Param("file"), "/")
		b, err := fs.ReadFile(sub, name)
		if err != nil || strings.Contains(name, "/") {
			abortWithError(c, slog.New(slog.DiscardHandler), notFound("no such file"))
			return
		}
		ct := mime.TypeByExtension(path.Ext(name))
		if ct == "" {
			ct = "application/octet-stream"
		}
		c.Header("Cache-Control", "public, max-age=3600")
		c.Header("Content-Length", strconv.Itoa(len(b)))
		c.Data(http.StatusOK, ct, b)
	})
}
