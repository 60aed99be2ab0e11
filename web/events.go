package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"html/template"
	"log/slog"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/cunzheng/cunzheng/evidence"
	"github.com/cunzheng/cunzheng/evidence/event"
)

// principalKey is where RequireTenant leaves the authenticated principal.
const principalKey = "cunzheng.principal"

// RequireTenant authenticates the request's "Authorization: Bearer <API
// key>" against svc and requires one of roles (any role when none are
// given). It answers 401 (with WWW-Authenticate) for a missing or unknown
// key and 403 for a key without the role. Handlers behind it read the
// principal with TenantOf. Report and console routes use it too.
func RequireTenant(svc *evidence.Service, logger *slog.Logger, roles ...evidence.Role) gin.HandlerFunc {
	return func(c *gin.Context) {
		h := c.GetHeader("Authorization")
		tok, ok := strings.CutPrefix(h, "Bearer ")
		if !ok {
			tok, ok = strings.CutPrefix(h, "bearer ")
		}
		if !ok || tok == "" {
			c.Header("WWW-Authenticate", `Bearer realm="cunzheng"`)
			abortWithError(c, logger, evidence.ErrUnauthorized)
			return
		}
		p, err := svc.Authenticate(strings.TrimSpace(tok))
		if err != nil {
			if errors.Is(err, evidence.ErrUnauthorized) {
				c.Header("WWW-Authenticate", `Bearer realm="cunzheng", error="invalid_token"`)
			}
			abortWithError(c, logger, err)
			return
		}
		if len(roles) > 0 && !slices.ContainsFunc(roles, p.Has) {
			abortWithError(c, logger, evidence.ErrForbidden)
			return
		}
		c.Set(principalKey, p)
		c.Next()
	}
}

// TenantOf returns the principal RequireTenant authenticated.
func TenantOf(c *gin.Context) (evidence.Principal, bool) {
	v, ok := c.Get(principalKey)
	if !ok {
		return evidence.Principal{}, false
	}
	p, ok := v.(evidence.Principal)
	return p, ok
}

type eventHandlers struct {
	svc    *evidence.Service
	logger *slog.Logger
}

// MountEvents returns the mount of the evidence API:
//
//	POST   /v1/events              ingest one event or {"events":[...]} (role ingest)
//	GET    /v1/schema/events       the JSON Schema of the body (public)
//	GET    /docs/events            the schema as an HTML page (public)
//	GET    /v1/contracts           search: name, account, from, to, cursor, limit (ingest or legal)
//	GET    /v1/contracts/:id       one contract's events with receipts (ingest or legal)
//	DELETE /v1/subjects/:account   crypto-shred a data subject (role ingest)
//	PUT    /v1/documents/:sha256   store a document encrypted (role ingest)
//	GET    /v1/documents/:sha256   fetch a stored document (ingest or legal)
func MountEvents(svc *evidence.Service, logger *slog.Logger) Mount {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	h := &eventHandlers{svc: svc, logger: logger}
	ingest := RequireTenant(svc, logger, evidence.RoleIngest)
	read := RequireTenant(svc, logger, evidence.RoleIngest, evidence.RoleLegal)
	return func(r gin.IRouter) {
		r.GET("/v1/schema/events", h.schema)
		r.GET("/docs/events", h.schemaPage)
		r.POST("/v1/events", ingest, h.ingest)
		r.GET("/v1/contracts", read, h.search)
		r.GET("/v1/contracts/:id", read, h.contract)
		r.DELETE("/v1/subjects/:account", ingest, h.erase)
		r.PUT("/v1/documents/:sha256", ingest, h.putDocument)
		r.GET("/v1/documents/:sha256", read, h.getDocument)
	}
}

func (h *eventHandlers) fail(c *gin.Context, err error) {
	var ve *event.ValidationError
	if errors.As(err, &ve) {
		c.AbortWithStatusJSON(http.StatusBadRequest, gin.H{"error": ve.Error(), "path": ve.Path})
		return
	}
	abortWithError(c, h.logger, err)
}

// mediaType returns the request's media type, lower case, without
// parameters; "" when absent or malformed.
func mediaType(c *gin.Context) (string, map[string]string) {
	mt, params, err := mime.ParseMediaType(c.GetHeader("Content-Type"))
	if err != nil {
		return "", nil
	}
	return mt, params
}

// preallocMax bounds what readBody allocates before the body arrives.
const preallocMax = 1 << 20

// readBody reads at most limit bytes of the body; beyond that it is a 413.
func readBody(c *gin.Context, limit int64) ([]byte, error) {
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, limit)
	// Read into a buffer of the announced size rather than one that
	// doubles from 512 bytes (a batch of a hundred events is 73 KB). Only
	// up to preallocMax: a client announcing a large body and sending
	// nothing must not make the server hold that much memory for it.
	var buf bytes.Buffer
	if n := c.Request.ContentLength; n > 0 && n <= limit {
		buf.Grow(int(min(n, preallocMax)) + bytes.MinRead) // ReadFrom wants MinRead free to look for EOF
	}
	_, err := buf.ReadFrom(c.Request.Body)
	b := buf.Bytes()
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, &httpError{http.StatusRequestEntityTooLarge, "body larger than " + strconv.FormatInt(limit, 10) + " bytes"}
		}
		return nil, badRequest("reading body: " + err.Error())
	}
	return b, nil
}

func (h *eventHandlers) ingest(c *gin.Context) {
	mt, params := mediaType(c)
	if mt != "application/json" || (params["charset"] != "" && !strings.EqualFold(params["charset"], "utf-8")) {
		h.fail(c, &httpError{http.StatusUnsupportedMediaType, "Content-Type must be application/json (UTF-8)"})
		return
	}
	body, err := readBody(c, event.MaxBodyBytes)
	if err != nil {
		h.fail(c, err)
		return
	}
	p, _ := TenantOf(c)
	rs, err := h.svc.Ingest(c.Request.Context(), p, body)
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"receipts": rs})
}

func (h *eventHandlers) schema(c *gin.Context) {
	c.Header("Cache-Control", "public, max-age=300")
	c.Data(http.StatusOK, "application/schema+json", event.SchemaJSON)
}

func (h *eventHandlers) contract(c *gin.Context) {
	p, _ := TenantOf(c)
	v, err := h.svc.Contract(p, c.Param("id"))
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, v)
}

func (h *eventHandlers) search(c *gin.Context) {
	p, _ := TenantOf(c)
	q := evidence.Query{Name: c.Query("name"), Account: c.Query("account"), Cursor: c.Query("cursor")}
	for _, f := range []struct {
		name string
		dst  *time.Time
	}{{"from", &q.From}, {"to", &q.To}} {
		if s := c.Query(f.name); s != "" {
			t, err := time.Parse(time.RFC3339, s)
			if err != nil {
				h.fail(c, badRequest(f.name+" must be an RFC 3339 time"))
				return
			}
			*f.dst = t
		}
	}
	if s := c.Query("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > evidence.MaxSearchLimit {
			h.fail(c, badRequest("limit must be 1 to "+strconv.Itoa(evidence.MaxSearchLimit)))
			return
		}
		q.Limit = n
	}
	page, err := h.svc.Search(p, q)
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, page)
}

func (h *eventHandlers) erase(c *gin.Context) {
	p, _ := TenantOf(c)
	r, err := h.svc.Erase(c.Request.Context(), p, c.Param("account"))
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"erased": true, "receipt": r})
}

func (h *eventHandlers) putDocument(c *gin.Context) {
	switch mt, _ := mediaType(c); mt {
	case "application/pdf", "application/octet-stream":
	default:
		h.fail(c, &httpError{http.StatusUnsupportedMediaType, "Content-Type must be application/pdf or application/octet-stream"})
		return
	}
	body, err := readBody(c, evidence.MaxDocumentBytes)
	if err != nil {
		h.fail(c, err)
		return
	}
	p, _ := TenantOf(c)
	created, err := h.svc.PutDocument(p, c.Param("sha256"), body)
	if err != nil {
		h.fail(c, err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	c.JSON(status, gin.H{"sha256": c.Param("sha256"), "stored": true})
}

func (h *eventHandlers) getDocument(c *gin.Context) {
	p, _ := TenantOf(c)
	b, err := h.svc.Document(p, c.Param("sha256"))
	if err != nil {
		h.fail(c, err)
		return
	}
	c.Header("Cache-Control", "private, no-store")
	c.Data(http.StatusOK, "application/octet-stream", b)
}

// schemaDoc is the data of the schema page.
type schemaDoc struct {
	Description string
	Kinds       []kindDoc
	Objects     []kindDoc
}

type kindDoc struct {
	Name, Description string
	Fields            []fieldDoc
}

type fieldDoc struct {
	Name, Type, Description string
	Required                bool
}

// describeSchema turns the served schema into the page's tables, so the
// page cannot disagree with what is enforced.
func describeSchema() (schemaDoc, error) {
	var root map[string]any
	if err := json.Unmarshal(event.SchemaJSON, &root); err != nil {
		return schemaDoc{}, err
	}
	defs, _ := root["$defs"].(map[string]any)
	doc := schemaDoc{}
	doc.Description, _ = root["description"].(string)
	describe := func(name string) kindDoc {
		d, _ := defs[name].(map[string]any)
		k := kindDoc{Name: name}
		k.Description, _ = d["description"].(string)
		req := map[string]bool{}
		if rs, ok := d["required"].([]any); ok {
			for _, r := range rs {
				s, _ := r.(string)
				req[s] = true
			}
		}
		props, _ := d["properties"].(map[string]any)
		names := make([]string, 0, len(props))
		for n := range props {
			names = append(names, n)
		}
		slices.Sort(names)
		for _, n := range names {
			p, _ := props[n].(map[string]any)
			f := fieldDoc{Name: n, Required: req[n]}
			f.Description, _ = p["description"].(string)
			f.Type = typeText(p, defs)
			k.Fields = append(k.Fields, f)
		}
		return k
	}
	ev := describe("event")
	doc.Objects = append(doc.Objects, ev, describe("contract"), describe("actor"), describe("file"))
	kinds, _ := defs["event"].(map[string]any)["properties"].(map[string]any)["kind"].(map[string]any)["enum"].([]any)
	for _, k := range kinds {
		name, _ := k.(string)
		defName := name
		if name == "contract.rejected" || name == "contract.revoked" {
			defName = "contract.ended"
		}
		kd := describe(defName)
		kd.Name = name
		doc.Kinds = append(doc.Kinds, kd)
	}
	return doc, nil
}

func typeText(p map[string]any, defs map[string]any) string {
	if ref, ok := p["$ref"].(string); ok {
		name := strings.TrimPrefix(ref, "#/$defs/")
		if d, ok := defs[name].(map[string]any); ok {
			if t, ok := d["type"].(string); ok && t == "string" {
				if pat, ok := d["pattern"].(string); ok {
					return "string " + pat
				}
			}
		}
		return name
	}
	if e, ok := p["enum"].([]any); ok {
		parts := make([]string, len(e))
		for i, v := range e {
			parts[i], _ = v.(string)
		}
		return strings.Join(parts, " | ")
	}
	t, _ := p["type"].(string)
	if t == "array" {
		if it, ok := p["items"].(map[string]any); ok {
			return "array of " + typeText(it, defs)
		}
	}
	if f, ok := p["format"].(string); ok {
		return t + " (" + f + ")"
	}
	if pat, ok := p["pattern"].(string); ok {
		return t + " " + pat
	}
	if t == "" {
		if _, ok := p["anyOf"]; ok {
			return "string (IPv4 or IPv6)"
		}
	}
	return t
}

// schemaPage is parsed on first use (see defaultSite).
var schemaPage = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("events").Parse(`<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>cunzheng events · 事件格式</title>
<link rel="stylesheet" href="/static/site.css"></head><body><main>
<h1>Events 事件格式</h1>
<p>{{.Description}}</p>
<p>Machine-readable: <a href="/v1/schema/events"><code>GET /v1/schema/events</code></a> (JSON Schema draft 2020-12). Post with
<code>POST /v1/events</code>, <code>Authorization: Bearer &lt;API key&gt;</code>, <code>Content-Type: application/json</code>.
Errors are <code>400 {"error": "...", "path": "$.events[3].data.positions[0].page"}</code>; a batch is written whole or not at all.
The answer is <code>{"receipts":[{"id","index","leaf_hash","checkpoint"}]}</code>; a retried id returns the same receipt.</p>
{{range .Objects}}<h2 id="{{.Name}}"><code>{{.Name}}</code></h2><p>{{.Description}}</p>
<table><tr><th>field</th><th>type</th><th>description</th></tr>
{{range .Fields}}<tr><td><code>{{.Name}}</code>{{if .Required}} <span class="req">required</span>{{end}}</td><td><code>{{.Type}}</code></td><td>{{.Description}}</td></tr>
{{end}}</table>{{end}}
<h2>Kinds and their <code>data</code></h2>
{{range .Kinds}}<h3 id="{{.Name}}"><code>{{.Name}}</code></h3><p>{{.Description}}</p>
{{if .Fields}}<table><tr><th>data field</th><th>type</th><th>description</th></tr>
{{range .Fields}}<tr><td><code>{{.Name}}</code>{{if .Required}} <span class="req">required</span>{{end}}</td><td><code>{{.Type}}</code></td><td>{{.Description}}</td></tr>
{{end}}</table>{{else}}<p>No data fields.</p>{{end}}{{end}}
</main></body></html>
`))
})

func (h *eventHandlers) schemaPage(c *gin.Context) {
	doc, err := describeSchema()
	if err != nil {
		h.fail(c, err)
		return
	}
	c.Header("Content-Type", "text/html; charset=utf-8")
	c.Status(http.StatusOK)
	if err := schemaPage().Execute(c.Writer, doc); err != nil {
		h.logger.Error("rendering schema page", "err", err)
	}
}
