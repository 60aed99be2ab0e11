package web

import (
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/cunzheng/cunzheng/evidence"
	"github.com/cunzheng/cunzheng/report"
)

type reportHandlers struct {
	svc    *report.Service
	logger *slog.Logger
}

// MountReports returns the mount of the report downloads, each behind auth
// (the server passes RequireTenant(evidenceService, logger,
// evidence.RoleLegal)):
//
//	GET /v1/contracts/:id/certificate.pdf       signing certificate page
//	GET /v1/contracts/:id/evidence-report.pdf   evidence report
//	GET /v1/contracts/:id/evidence-bundle.zip   offline-verifiable evidence bundle
//
// Personal data is masked unless ?reveal=true on a legal key. Another
// tenant's contract is 404, the same as an absent one. Every document
// served has first been recorded as report.issued (report.Service.Issue).
func MountReports(svc *report.Service, auth gin.HandlerFunc, logger *slog.Logger) Mount {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	h := &reportHandlers{svc: svc, logger: logger}
	return func(r gin.IRouter) {
		r.GET("/v1/contracts/:id/certificate.pdf", auth, h.serve(report.KindCertificate, "application/pdf", "certificate.pdf"))
		r.GET("/v1/contracts/:id/evidence-report.pdf", auth, h.serve(report.KindEvidence, "application/pdf", "evidence-report.pdf"))
		r.GET("/v1/contracts/:id/evidence-bundle.zip", auth, h.serve(report.KindBundle, "application/zip", "evidence-bundle.zip"))
	}
}

func (h *reportHandlers) serve(kind, contentType, filename string) gin.HandlerFunc {
	return func(c *gin.Context) {
		p, ok := TenantOf(c)
		if !ok {
			abortWithError(c, h.logger, evidence.ErrUnauthorized)
			return
		}
		reveal := false
		if v, ok := c.GetQuery("reveal"); ok {
			b, err := strconv.ParseBool(v)
			if err != nil {
				abortWithError(c, h.logger, badRequest("reveal must be true or false"))
				return
			}
			reveal = b
		}
		if reveal && !p.Has(evidence.RoleLegal) {
			abortWithError(c, h.logger, evidence.ErrForbidden)
			return
		}
		id := c.Param("id")
		if id == "" || len(id) > 128 {
			abortWithError(c, h.logger, badRequest("bad contract id"))
			return
		}
		// Signing a report and sending a bundle may outlast the server's
		// write timeout, which is sized for pages.
		_ = http.NewResponseController(c.Writer).SetWriteDeadline(time.Now().Add(downloadWriteAllowance))
		out, is, err := h.svc.Issue(c.Request.Context(), kind, p.Tenant.ID, p.Tenant.ID+"/legal", id, reveal)
		if err != nil {
			abortWithError(c, h.logger, err)
			return
		}
		c.Header("Content-Disposition", `attachment; filename="`+is.ReportNumber+"-"+filename+`"`)
		c.Header("X-Report-Number", is.ReportNumber)
		c.Header("Cache-Control", "no-store")
		c.Data(http.StatusOK, contentType, out)
	}
}
