package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"
	"golang.org/x/mod/sumdb/note"

	"github.com/cunzheng/cunzheng/verify"
)

// The local check of /verify: package verify compiled to WebAssembly
// (cmd/verifywasm, built by `make wasm` into web/wasm/) runs in the
// browser, so the court's PDF never leaves its computer. The server gives
// it the module, Go's wasm_exec.js, a signed bundle of its trust roots and
// keys (GET /v1/verify/roots), and answers the ledger lookup by hash
// (GET /v1/verify/lookup?sha256=…). The result is rendered in the browser
// by the same templates as the server's result page (web/verifyview).
//
// Pinning: the trust bundle is a signed note signed with the log's Ed25519
// key, the key /keys publishes and the notaries cosign under. The page
// carries that key (data-log-key) and shows its fingerprint; the script
// remembers the first key it saw for this site (localStorage) and refuses
// the local check with a warning if a later page names another one. The
// page, the script and the module come from this server too, so the
// signature does not protect against the server itself: it binds what the
// local check trusts to the published log key, which a court can compare
// with the copy a notary office publishes, and it keeps a cached or relayed
// roots response from being swapped on its own.

// wasmFS holds the generated module, its compressed copies and
// wasm_exec.js, or only the README in a build that skipped `make wasm`.
//
//go:embed wasm
var wasmFS embed.FS

// localCSP is the page's policy with WebAssembly compilation allowed
// ('wasm-unsafe-eval' permits compiling a module, not eval of script).
var localCSP = strings.Replace(contentSecurityPolicy, "script-src 'self'", "script-src 'self' 'wasm-unsafe-eval'", 1)

// localModule is the embedded module, ready to serve.
type localModule struct {
	wasm, gz, br []byte
	exec         []byte
	hash         string // first 16 hex digits of the module's SHA-256
	execHash     string
}

// loadLocalModule reads the module from fs; nil when it was not built.
// Compressed copies are used only when made from this very module.
func loadLocalModule(fsys fs.FS) *localModule {
	raw, err := fs.ReadFile(fsys, "wasm/verify.wasm")
	if err != nil || len(raw) == 0 {
		return nil
	}
	exec, err := fs.ReadFile(fsys, "wasm/wasm_exec.js")
	if err != nil {
		return nil
	}
	sum := sha256.Sum256(raw)
	m := &localModule{wasm: raw, exec: exec, hash: hex.EncodeToString(sum[:8])}
	es := sha256.Sum256(exec)
	m.execHash = hex.EncodeToString(es[:8])
	if s, err := fs.ReadFile(fsys, "wasm/verify.wasm.sum"); err == nil && strings.TrimSpace(string(s)) == hex.EncodeToString(sum[:]) {
		m.gz, _ = fs.ReadFile(fsys, "wasm/verify.wasm.gz")
		m.br, _ = fs.ReadFile(fsys, "wasm/verify.wasm.br")
	}
	return m
}

// localPage is what the /verify page needs to offer the local check.
type localPage struct {
	WasmURL, ExecURL string
	LogKey           string
	// LogKeyFP is the first 16 hex digits of the SHA-256 of LogKey, the
	// fingerprint /keys shows.
	LogKeyFP string
	MaxSize  int64
}

// localTrust is the signed trust bundle and the key it checks against.
type localTrust struct {
	note []byte
	key  string
}

// newLocalTrust signs the trust bundle once: it is static for the life of
// the process. Nil when the server has nothing to sign it with.
func newLocalTrust(tb *verify.TrustBundle, signer note.Signer, key string) (*localTrust, error) {
	if tb == nil || signer == nil || key == "" {
		return nil, nil
	}
	msg, err := verify.SignTrustBundle(*tb, signer)
	if err != nil {
		return nil, err
	}
	return &localTrust{note: msg, key: key}, nil
}

// localPageData is nil when the local check cannot be offered.
func (h *verifyHandlers) localPageData() *localPage {
	if h.module == nil || h.trust == nil {
		return nil
	}
	fp := sha256.Sum256([]byte(h.trust.key))
	return &localPage{
		WasmURL:  "/verify/wasm/verify-" + h.module.hash + ".wasm",
		ExecURL:  "/verify/wasm/wasm_exec-" + h.module.execHash + ".js",
		LogKey:   h.trust.key,
		LogKeyFP: hex.EncodeToString(fp[:8]),
		MaxSize:  h.cfg.MaxUpload,
	}
}

// wasmAsset serves the module and wasm_exec.js by content-hash name,
// cached immutably; the module precompressed as the client accepts.
func (h *verifyHandlers) wasmAsset(c *gin.Context) {
	m := h.module
	name := c.Param("name")
	switch {
	case m != nil && name == "verify-"+m.hash+".wasm":
		c.Header("Cache-Control", "public, max-age=31536000, immutable")
		h.serveModule(c)
	case m != nil && name == "wasm_exec-"+m.execHash+".js":
		c.Header("Cache-Control", "public, max-age=31536000, immutable")
		c.Data(http.StatusOK, "text/javascript; charset=utf-8", m.exec)
	default:
		abortWithError(c, h.cfg.Logger, notFound("no such file"))
	}
}

// latestModule serves /verify/verify.wasm, the current module under a
// stable name: revalidated on every use (its ETag is its hash).
func (h *verifyHandlers) latestModule(c *gin.Context) {
	if h.module == nil {
		abortWithError(c, h.cfg.Logger, notFound("this server was built without the local check module (make wasm)"))
		return
	}
	c.Header("Cache-Control", "no-cache")
	h.serveModule(c)
}

func (h *verifyHandlers) serveModule(c *gin.Context) {
	m := h.module
	etag := `"` + m.hash + `"`
	body, enc := m.wasm, ""
	accept := c.GetHeader("Accept-Encoding")
	switch {
	case m.br != nil && acceptsEncoding(accept, "br"):
		body, enc = m.br, "br"
	case m.gz != nil && acceptsEncoding(accept, "gzip"):
		body, enc = m.gz, "gzip"
	}
	c.Header("Vary", "Accept-Encoding")
	if enc != "" {
		etag = `"` + m.hash + "." + enc + `"`
		c.Header("Content-Encoding", enc)
	}
	c.Header("ETag", etag)
	if etagMatches(c.GetHeader("If-None-Match"), etag) {
		c.Status(http.StatusNotModified)
		return
	}
	c.Header("Content-Length", strconv.Itoa(len(body)))
	c.Data(http.StatusOK, "application/wasm", body)
}

// acceptsEncoding reports whether an Accept-Encoding header accepts enc.
func acceptsEncoding(header, enc string) bool {
	for _, part := range strings.Split(header, ",") {
		e, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(e), enc) && strings.ReplaceAll(params, " ", "") != "q=0" {
			return true
		}
	}
	return false
}

// roots serves the signed trust bundle (text/plain, a C2SP signed note).
func (h *verifyHandlers) roots(c *gin.Context) {
	if h.trust == nil {
		abortWithError(c, h.cfg.Logger, notFound("this server publishes no trust bundle"))
		return
	}
	c.Header("Cache-Control", "no-cache")
	c.Data(http.StatusOK, "text/plain; charset=utf-8", bytes.Clone(h.trust.note))
}

// lookupQuery serves GET /v1/verify/lookup?sha256=…, the local check's
// ledger lookup: the same answer as /v1/verify/lookup/{sha256}.
func (h *verifyHandlers) lookupQuery(c *gin.Context) {
	c.Params = append(c.Params, gin.Param{Key: "sha256", Value: c.Query("sha256")})
	h.lookup(c)
}
