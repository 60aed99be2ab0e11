package web

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/cunzheng/cunzheng/ledger"
	"github.com/cunzheng/cunzheng/ledger/tlogfmt"
	"github.com/cunzheng/cunzheng/notary"
	"github.com/cunzheng/cunzheng/notary/client"
)

// notaryHandlers serve one notary office (公证处) and its TSA.
type notaryHandlers struct {
	office *notary.Office
	tsa    *notary.TSA
	logger *slog.Logger
}

// MountNotary returns the mount of a notary office's routes:
//
//	POST /add-checkpoint             C2SP tlog-witness
//	POST /timestamp                  RFC 3161 (when tsa is not nil)
//	GET  /v1/fingerprints/:leaf_hash leaf hashes held from pull mode
//	GET  /v1/alarms                  split-view evidence
//	GET  /v1/logs                    latest cosigned checkpoint of each log
//	GET  /v1/logs/cosigned?origin=O&after=S[&limit=N]
//	                                 every checkpoint of O cosigned above size S
//	GET  /v1/key                     the office's cosignature verifier key
//	GET  /v1/tsa/ca.pem              the TSA's root certificate
//
// The standalone office mounts them at the root (NotaryHandler); cunzheng
// serve mounts its built-in office on a "/notary" group. Either o or tsa may
// be nil, leaving its routes out.
//
// Spec: https://c2sp.org/tlog-witness, https://www.rfc-editor.org/rfc/rfc3161
func MountNotary(o *notary.Office, tsa *notary.TSA, logger *slog.Logger) Mount {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	h := &notaryHandlers{office: o, tsa: tsa, logger: logger}
	return func(r gin.IRouter) {
		if o != nil {
			r.POST("/add-checkpoint", h.addCheckpoint)
			r.GET("/v1/fingerprints/:leaf_hash", h.fingerprint)
			r.GET("/v1/alarms", h.alarms)
			r.GET("/v1/logs", h.logs)
			r.GET("/v1/logs/cosigned", h.cosigned)
			r.GET("/v1/key", h.key)
		}
		if tsa != nil {
			r.POST("/timestamp", h.timestamp)
			r.GET("/v1/tsa/ca.pem", h.tsaCA)
		}
	}
}

// NotaryHandler is the whole HTTP face of a standalone notary office
// (cunzheng notary): its routes and its pages (MountOfficePages) at the
// root, /healthz, and the access log and panic recovery of the main
// server. A nil gatherer serves no /metrics.
func NotaryHandler(o *notary.Office, tsa *notary.TSA, logger *slog.Logger, gatherer prometheus.Gatherer) http.Handler {
	mounts := []Mount{MountNotary(o, tsa, logger)}
	if o != nil {
		mounts = append(mounts, MountOfficePages(o, logger))
	}
	return New(Config{Logger: logger, Gatherer: gatherer, Mounts: mounts})
}

// NotaryMounts returns the mounts cunzheng serve adds for notarization: the
// built-in office and TSA (each when not nil) under /notary — so the TSA's
// root certificate is at /notary/v1/tsa/ca.pem for verifiers of its
// tokens, and the office's own pages are at /notary/ as a standalone
// office serves them at its root — and the /notaries page.
//
// The built-in office's notarisation requests are left out: their checks
// and 公证书 name the contract by its number, which the log's public pages
// never show. The log reaches them on the office's loopback listener
// (NotaryHandler), its legal teams through the console.
func NotaryMounts(office *notary.Office, tsa *notary.TSA, page NotariesPage, logger *slog.Logger) []Mount {
	var m []Mount
	if office != nil || tsa != nil {
		mounts := []Mount{MountNotary(office, tsa, logger)}
		if office != nil {
			mounts = append(mounts, mountOfficePagesAt(office, officeMount{base: "/notary"}, logger))
		}
		m = append(m, func(r gin.IRouter) {
			g := r.Group("/notary")
			for _, mount := range mounts {
				mount(g)
			}
		})
	}
	if page.Log != nil {
		m = append(m, MountNotariesPage(page, logger))
	}
	return m
}

func (h *notaryHandlers) fail(c *gin.Context, err error) { abortWithError(c, h.logger, err) }

func (h *notaryHandlers) addCheckpoint(c *gin.Context) {
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, tlogfmt.MaxAddCheckpointBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			h.fail(c, &httpError{http.StatusRequestEntityTooLarge, "request body too large"})
			return
		}
		h.fail(c, badRequest("reading request body"))
		return
	}
	cosig, err := h.office.AddCheckpoint(c.Request.Context(), body)
	var ce *notary.ConflictError
	if errors.As(err, &ce) {
		// tlog-witness: 409 with the size of the latest cosigned
		// checkpoint, in decimal and a newline, as text/x.tlog.size.
		c.Data(http.StatusConflict, "text/x.tlog.size", fmt.Appendf(nil, "%d\n", ce.Size))
		return
	}
	if err != nil {
		h.fail(c, err)
		return
	}
	c.Data(http.StatusOK, "text/plain; charset=utf-8", cosig)
}

func (h *notaryHandlers) timestamp(c *gin.Context) {
	if mt, _, err := mime.ParseMediaType(c.GetHeader("Content-Type")); err != nil || mt != notary.TimestampQueryType {
		h.fail(c, &httpError{http.StatusUnsupportedMediaType, "Content-Type must be " + notary.TimestampQueryType})
		return
	}
	q, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, notary.MaxTimestampQueryBytes))
	if err != nil {
		h.fail(c, &httpError{http.StatusRequestEntityTooLarge, "time-stamp query too large"})
		return
	}
	resp, err := h.tsa.Respond(q)
	if err != nil {
		h.fail(c, err)
		return
	}
	c.Data(http.StatusOK, notary.TimestampReplyType, resp)
}

func (h *notaryHandlers) tsaCA(c *gin.Context) {
	c.Data(http.StatusOK, "application/x-pem-file", h.tsa.CACertPEM())
}

func (h *notaryHandlers) key(c *gin.Context) {
	c.Data(http.StatusOK, "text/plain; charset=utf-8", []byte(h.office.VerifierKey()+"\n"))
}

func (h *notaryHandlers) fingerprint(c *gin.Context) {
	lh, err := parseLeafHash(c.Param("leaf_hash"))
	if err != nil {
		h.fail(c, err)
		return
	}
	fps, err := h.office.Fingerprints(c.Request.Context(), lh[:])
	if errors.Is(err, notary.ErrNotFound) {
		c.JSON(http.StatusNotFound, gin.H{"leaf_hash": hex.EncodeToString(lh[:]), "found": false})
		return
	}
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"leaf_hash": hex.EncodeToString(lh[:]), "found": true, "holdings": fps})
}

func (h *notaryHandlers) alarms(c *gin.Context) {
	a, err := h.office.AlarmEntries(c.Request.Context())
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"alarms": a, "unacknowledged": notary.Unacknowledged(a)})
}

func (h *notaryHandlers) logs(c *gin.Context) {
	l, err := h.office.Logs(c.Request.Context())
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"name": h.office.Name(), "key": h.office.VerifierKey(), "logs": l})
}

func (h *notaryHandlers) cosigned(c *gin.Context) {
	origin, ok := c.GetQuery("origin")
	if !ok || origin == "" {
		h.fail(c, badRequest("missing query parameter origin"))
		return
	}
	after, _, err := queryUint(c, "after", false)
	if err != nil {
		h.fail(c, err)
		return
	}
	limit, _, err := queryUint(c, "limit", false)
	if err != nil {
		h.fail(c, err)
		return
	}
	cps, err := h.office.Cosigned(c.Request.Context(), origin, after, int(min(limit, notary.MaxCosignedPage)))
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"checkpoints": cps})
}

// CheckpointSource is the log side of the /notaries page; *ledger.Log
// satisfies it.
type CheckpointSource interface {
	Checkpoint(ctx context.Context) (ledger.Checkpoint, error)
}

// NotariesPage is what the /notaries page shows.
type NotariesPage struct {
	// Log gives the newest checkpoint and its cosignatures. Required.
	Log CheckpointSource
	// Pusher gives each notary's last cosigned size and time, the quorum
	// and the TSA times. Optional.
	Pusher *client.Pusher
	// Office is the built-in office, whose alarms the page lists. Optional.
	Office *notary.Office
}

type notariesView struct {
	Size        uint64
	Root        string
	Time        time.Time
	Note        string
	Cosigs      int
	Tokens      int
	Status      *client.Status
	Offices     []OfficeRow
	Alarms      []notary.AlarmEntry
	AlarmsKnown bool
}

// MountNotariesPage returns the mount of GET /notaries, the page that shows
// the latest cosigned checkpoint, each notary office's last cosigned size
// and time, the TSA time and the alarms of the built-in office.
func MountNotariesPage(p NotariesPage, logger *slog.Logger) Mount {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	site := defaultSite().withLogger(logger)
	return func(r gin.IRouter) {
		r.GET("/notaries", func(c *gin.Context) {
			ctx := c.Request.Context()
			cp, err := p.Log.Checkpoint(ctx)
			if err != nil {
				abortWithError(c, logger, err)
				return
			}
			v := notariesView{Size: cp.Size, Root: base64.StdEncoding.EncodeToString(cp.Root[:]), Time: cp.Time,
				Note: strings.TrimSpace(string(cp.CosignedNote())), Cosigs: len(cp.Cosignatures), Tokens: len(cp.Timestamps)}
			if p.Pusher != nil {
				st := p.Pusher.Status()
				v.Status = &st
			}
			if v.Offices, err = p.NotaryAlarms(ctx); err != nil {
				abortWithError(c, logger, err)
				return
			}
			if p.Office != nil {
				a, err := p.Office.AlarmEntries(ctx)
				if err != nil {
					abortWithError(c, logger, err)
					return
				}
				v.Alarms, v.AlarmsKnown = a, true
			}
			site.render(c, http.StatusOK, "notaries.html", "notaries", v)
		})
	}
}
