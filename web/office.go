package web

import (
	"bytes"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/gin-gonic/gin"

	"github.com/cunzheng/cunzheng/notary"
)

// The notary office's own pages (cunzheng notary): an overview, the
// checkpoints it cosigned and its alarms, with the same data as JSON under
// /v1/. They have their own layout and navigation (the office is another
// party than the log), the log's style sheet and the same CSP: no script.

//go:embed templates/office/*.html
var officeTemplatesFS embed.FS

// officePageSize is how many cosigned checkpoints one page shows.
const officePageSize = 50

// officeSites are the office's templates by where they are served: the
// path they are mounted under ("" for a standalone office, "/notary" for
// the one built into cunzheng serve), which every link starts with
// ({{base}}), and whether the notarisation requests are served there
// ({{requests}}).
var officeSites sync.Map // officeMount -> map[string]*template.Template

// officeMount is where an office's pages are served.
type officeMount struct {
	base     string
	requests bool
}

func officeSite(at officeMount) map[string]*template.Template {
	if pages, ok := officeSites.Load(at); ok {
		return pages.(map[string]*template.Template)
	}
	funcs := template.FuncMap{"b64": base64.StdEncoding.EncodeToString, "hex": hex.EncodeToString,
		"base": func() string { return at.base }, "requests": func() bool { return at.requests }}
	layout := template.Must(template.New("layout.html").Funcs(siteFuncs).Funcs(verifyFuncs).Funcs(funcs).
		ParseFS(officeTemplatesFS, "templates/office/layout.html"))
	pages := map[string]*template.Template{}
	for _, n := range []string{"home.html", "alarms.html", "cosigned.html", "fingerprints.html", "requests.html"} {
		pages[n] = template.Must(template.Must(layout.Clone()).ParseFS(officeTemplatesFS, "templates/office/"+n))
	}
	got, _ := officeSites.LoadOrStore(at, pages)
	return got.(map[string]*template.Template)
}

// officePage is what the office layout renders: the red banner needs the
// number of unacknowledged alarms on every page.
type officePage struct {
	Unacked int
	Page    any
}

type officeHandlers struct {
	office *notary.Office
	logger *slog.Logger
	at     officeMount
}

// MountOfficePages returns the mount of the standalone office's pages and
// their JSON:
//
//	GET /                        overview: logs followed, key, health
//	GET /alarms                  every alarm with both signed notes
//	GET /alarms/:seq/:file       held.txt, got.txt, proof.txt of one alarm
//	GET /cosigned?origin=O&after=S
//	                             cosigned checkpoints, paged
//	GET /cosigned/note?origin=O&size=N
//	                             one cosigned checkpoint, as a download
//	GET /fingerprints?hash=H     look a leaf hash up in the office's own copy
//	GET /v1/fingerprints?hash=H  the same as JSON, with the inclusion proofs
//	GET /v1/office               the overview as JSON
//	... and the notarisation requests (mountOfficeRequests)
//	GET /v1/cosigned?origin=O&after=S&limit=N
//	                             cosigned checkpoints as JSON, with next_after
//
// /v1/alarms is mounted by MountNotary.
func MountOfficePages(o *notary.Office, logger *slog.Logger) Mount {
	return mountOfficePagesAt(o, officeMount{requests: true}, logger)
}

// mountOfficePagesAt is MountOfficePages for pages mounted under at.base
// (which the caller's router group adds), their links starting with it,
// and without the notarisation requests unless at.requests.
func mountOfficePagesAt(o *notary.Office, at officeMount, logger *slog.Logger) Mount {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	h := &officeHandlers{office: o, logger: logger, at: at}
	return func(r gin.IRouter) {
		r.GET("/", h.home)
		r.GET("/alarms", h.alarmsPage)
		r.GET("/alarms/:seq/:file", h.alarmFile)
		r.GET("/cosigned", h.cosignedPage)
		r.GET("/cosigned/note", h.cosignedNote)
		r.GET("/fingerprints", h.fingerprintsPage)
		r.GET("/v1/fingerprints", h.fingerprintsJSON)
		r.GET("/v1/office", h.overviewJSON)
		r.GET("/v1/cosigned", h.cosignedJSON)
		if at.requests {
			mountOfficeRequests(r, h)
		}
	}
}

func (h *officeHandlers) fail(c *gin.Context, err error) { abortWithError(c, h.logger, err) }

// render renders an office page with the alarm banner.
func (h *officeHandlers) render(c *gin.Context, name, nav string, page any) {
	alarms, err := h.office.AlarmEntries(c.Request.Context())
	if err != nil {
		h.fail(c, err)
		return
	}
	v := view{Lang: langOf(c), Nav: nav, Path: c.Request.URL.EscapedPath(), Data: officePage{Unacked: notary.Unacknowledged(alarms), Page: page}}
	var buf bytes.Buffer
	if err := officeSite(h.at)[name].ExecuteTemplate(&buf, "layout.html", v); err != nil {
		h.logger.ErrorContext(c.Request.Context(), "rendering office page", "page", name, "err", err)
		c.Data(http.StatusInternalServerError, "text/plain; charset=utf-8", []byte("internal error\n"))
		return
	}
	c.Header("Cache-Control", "no-store")
	c.Data(http.StatusOK, "text/html; charset=utf-8", buf.Bytes())
}

func (h *officeHandlers) home(c *gin.Context) {
	ov, err := h.office.Overview(c.Request.Context())
	if err != nil {
		h.fail(c, err)
		return
	}
	h.render(c, "home.html", "office", ov)
}

func (h *officeHandlers) overviewJSON(c *gin.Context) {
	ov, err := h.office.Overview(c.Request.Context())
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, ov)
}

func (h *officeHandlers) alarmsPage(c *gin.Context) {
	a, err := h.office.AlarmEntries(c.Request.Context())
	if err != nil {
		h.fail(c, err)
		return
	}
	h.render(c, "alarms.html", "alarms", struct{ Alarms []notary.AlarmEntry }{a})
}

// alarmFile serves one piece of an alarm's evidence as a download, byte for
// byte as the office received it, so that the signatures can be checked
// with any note verifier.
func (h *officeHandlers) alarmFile(c *gin.Context) {
	seq, err := strconv.ParseUint(c.Param("seq"), 10, 64)
	if err != nil {
		h.fail(c, badRequest("alarm id must be a decimal number"))
		return
	}
	a, err := h.office.AlarmEntries(c.Request.Context())
	if err != nil {
		h.fail(c, err)
		return
	}
	var found *notary.AlarmEntry
	for i := range a {
		if a[i].Seq == seq {
			found = &a[i]
		}
	}
	if found == nil {
		h.fail(c, notFound("no such alarm"))
		return
	}
	var body []byte
	switch c.Param("file") {
	case "held.txt":
		body = found.Held
	case "got.txt":
		body = found.Got
	case "proof.txt":
		var b strings.Builder
		for _, p := range found.Proof {
			b.WriteString(base64.StdEncoding.EncodeToString(p) + "\n")
		}
		body = []byte(b.String())
	default:
		h.fail(c, notFound("no such file: held.txt, got.txt or proof.txt"))
		return
	}
	c.Header("Content-Disposition", fmt.Sprintf(`attachment; filename="alarm-%d-%s"`, seq, c.Param("file")))
	c.Data(http.StatusOK, "text/plain; charset=utf-8", body)
}

// cosignedQuery reads origin (default: the first log) and after.
func (h *officeHandlers) cosignedQuery(c *gin.Context) (origin string, after uint64, err error) {
	origin = c.Query("origin")
	if origin == "" {
		if o := h.office.Origins(); len(o) > 0 {
			origin = o[0]
		}
	}
	after, _, err = queryUint(c, "after", false)
	return origin, after, err
}

type cosignedView struct {
	Origin      string                      `json:"origin"`
	Origins     []string                    `json:"-"`
	After       uint64                      `json:"after"`
	Checkpoints []notary.CosignedCheckpoint `json:"checkpoints"`
	// Next is the after of the next page, 0 on the last one.
	Next uint64 `json:"next_after,omitempty"`
}

func (h *officeHandlers) cosigned(c *gin.Context, limit int) (cosignedView, error) {
	origin, after, err := h.cosignedQuery(c)
	if err != nil {
		return cosignedView{}, err
	}
	// One more than asked tells whether a next page exists.
	cps, err := h.office.Cosigned(c.Request.Context(), origin, after, limit+1)
	if err != nil {
		return cosignedView{}, err
	}
	v := cosignedView{Origin: origin, Origins: h.office.Origins(), After: after, Checkpoints: cps}
	if len(cps) > limit {
		v.Checkpoints = cps[:limit]
		v.Next = cps[limit-1].Size
	}
	return v, nil
}

func (h *officeHandlers) cosignedPage(c *gin.Context) {
	v, err := h.cosigned(c, officePageSize)
	if err != nil {
		h.fail(c, err)
		return
	}
	h.render(c, "cosigned.html", "cosigned", v)
}

func (h *officeHandlers) cosignedJSON(c *gin.Context) {
	limit, _, err := queryUint(c, "limit", false)
	if err != nil {
		h.fail(c, err)
		return
	}
	if limit == 0 || limit >= notary.MaxCosignedPage {
		limit = notary.MaxCosignedPage - 1
	}
	v, err := h.cosigned(c, int(limit))
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, v)
}

func (h *officeHandlers) cosignedNote(c *gin.Context) {
	origin, _, err := h.cosignedQuery(c)
	if err != nil {
		h.fail(c, err)
		return
	}
	size, _, err := queryUint(c, "size", true)
	if err != nil {
		h.fail(c, err)
		return
	}
	cp, err := h.office.CosignedNote(c.Request.Context(), origin, size)
	if err != nil {
		h.fail(c, err)
		return
	}
	c.Header("Content-Disposition", fmt.Sprintf(`attachment; filename="checkpoint-%d.txt"`, size))
	c.Data(http.StatusOK, "text/plain; charset=utf-8", []byte(cp.Checkpoint))
}
