package web

import (
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/gin-gonic/gin"

	"github.com/cunzheng/cunzheng/evidence"
	"github.com/cunzheng/cunzheng/evidence/event"
	"github.com/cunzheng/cunzheng/notary"
	"github.com/cunzheng/cunzheng/notary/notarize"
)

// Notarisation on request from the legal console (申请公证):
//
//	POST /console/contracts/:id/notarize                      office: send the bundle to that office
//	POST /console/contracts/:id/notarizations/:req/result     office: read the office's answer back
//	GET  /console/contracts/:id/notarizations/:req/certificate.pdf?office=O   the issued 公证书
//
// The requests and answers are ledger events of the contract
// (notarization.requested, .issued, .refused), listed on its page.

func mountConsoleNotary(r gin.IRouter, h *console) {
	if h.cfg.Notarize == nil {
		return
	}
	r.POST("/console/contracts/:id/notarize", h.notarize)
	r.POST("/console/contracts/:id/notarizations/:req/result", h.notarizationResult)
	r.GET("/console/contracts/:id/notarizations/:req/certificate.pdf", h.notarialCertificate)
}

// notarizationEntry is a notarisation event of the timeline.
type notarizationEntry struct {
	Request, Office, Kind string
	CertificateSHA256     string
	Reason                string
}

// notarizationOf reads a notarisation event's public data; nil for other
// kinds.
func notarizationOf(r evidence.Record) *notarizationEntry {
	switch r.Kind {
	case event.KindNotarizationRequested, event.KindNotarizationIssued, event.KindNotarizationRefused:
	default:
		return nil
	}
	if r.Public == nil {
		return nil
	}
	n := &notarizationEntry{Kind: string(r.Kind)}
	n.Request, _ = r.Public.Data["request"].(string)
	n.Office, _ = r.Public.Data["office"].(string)
	n.CertificateSHA256, _ = r.Public.Data["certificate_sha256"].(string)
	n.Reason, _ = r.Public.Data["reason"].(string)
	return n
}

// notaryPanel is the contract page's 申请公证 section: the offices to ask,
// and every request with its outcome so far.
type notaryPanel struct {
	Offices  []notarize.Office
	Requests []notarizationEntry // by request, the newest state
}

func (h *console) notaryPanel(tl []timelineEntry) *notaryPanel {
	if h.cfg.Notarize == nil {
		return nil
	}
	p := &notaryPanel{Offices: h.cfg.Notarize.Offices()}
	for _, e := range tl {
		n := e.Notarization
		if n == nil {
			continue
		}
		i := slices.IndexFunc(p.Requests, func(x notarizationEntry) bool { return x.Request == n.Request && x.Office == n.Office })
		if i < 0 {
			p.Requests = append(p.Requests, *n)
		} else if n.Kind != string(event.KindNotarizationRequested) {
			p.Requests[i] = *n
		}
	}
	return p
}

func (h *console) notarize(c *gin.Context) {
	limitForm(c)
	ss, ok := h.authorized(c)
	if !ok {
		return
	}
	id := c.Param("id")
	back := contractBack(id)
	rec, err := h.cfg.Notarize.Request(c.Request.Context(), ss.Principal, id, c.PostForm("office"), ss.Principal.Tenant.ID+"/legal")
	if err != nil {
		h.notarizeError(c, ss, back, err)
		return
	}
	h.logger.InfoContext(c.Request.Context(), "notarisation requested", "tenant", ss.Principal.Tenant.ID, "request", rec.ID, "office", rec.Office, "status", rec.Status)
	h.page(c, http.StatusOK, "message.html", ss, notarizationMessage(back, rec))
}

func (h *console) notarizationResult(c *gin.Context) {
	limitForm(c)
	ss, ok := h.authorized(c)
	if !ok {
		return
	}
	id := c.Param("id")
	back := contractBack(id)
	rec, err := h.cfg.Notarize.Result(c.Request.Context(), ss.Principal, id, c.PostForm("office"), c.Param("req"))
	if err != nil {
		h.notarizeError(c, ss, back, err)
		return
	}
	h.page(c, http.StatusOK, "message.html", ss, notarizationMessage(back, rec))
}

func (h *console) notarialCertificate(c *gin.Context) {
	ss, ok := h.authorized(c)
	if !ok {
		return
	}
	id := c.Param("id")
	back := contractBack(id)
	pdf, rec, err := h.cfg.Notarize.Certificate(c.Request.Context(), ss.Principal, id, c.Query("office"), c.Param("req"))
	if err != nil {
		h.notarizeError(c, ss, back, err)
		return
	}
	c.Header("Content-Disposition", fmt.Sprintf(`attachment; filename="notarial-certificate-%s.pdf"`, safeFilename(rec.ID)))
	c.Data(http.StatusOK, "application/pdf", pdf)
}

func notarizationMessage(m message, rec notary.RequestRecord) message {
	switch rec.Status {
	case notary.RequestRefused:
		m.Kind = msgNotice
		m.TitleZH, m.TitleEN = "公证处拒绝", "The office refused"
		m.TextZH = fmt.Sprintf("公证处 %s 拒绝了申请 %s：%s", rec.Office, rec.ID, rec.Reason)
		m.TextEN = fmt.Sprintf("The office %s refused request %s: %s", rec.Office, rec.ID, rec.Reason)
	case notary.RequestIssued:
		m.Kind = msgSuccess
		m.TitleZH, m.TitleEN = "已出具公证书", "Certificate issued"
		m.TextZH = fmt.Sprintf("公证处 %s 已就申请 %s 出具公证书（SHA-256 %s），已记入存证日志。", rec.Office, rec.ID, rec.CertificateSHA256)
		m.TextEN = fmt.Sprintf("The office %s issued the notarial certificate of request %s (SHA-256 %s); recorded in the log.", rec.Office, rec.ID, rec.CertificateSHA256)
	default:
		m.Kind = msgSuccess
		m.TitleZH, m.TitleEN = "已申请公证", "Notarisation requested"
		m.TextZH = fmt.Sprintf("申请 %s 已记入存证日志并发送至公证处 %s；公证处已自行核验证据包，待公证员出具公证书。公证处出具或拒绝后，存证服务会自动查询并记入日志，也可在合同页点“查询结果”。", rec.ID, rec.Office)
		m.TextEN = fmt.Sprintf("Request %s is recorded in the log and was sent to the office %s, which checked the bundle itself; a notary will issue the certificate. Once the office issues or refuses, the service asks for the answer by itself and records it; “Check the office's answer” on the contract's page asks at once.", rec.ID, rec.Office)
	}
	return m
}

func (h *console) notarizeError(c *gin.Context, ss *session, m message, err error) {
	switch {
	case errors.Is(err, notarize.ErrUnknownOffice):
		m.TitleZH, m.TitleEN, m.TextZH, m.TextEN = "请求无效", "Invalid request", "未配置该公证处。", "No such notary office is configured."
		h.page(c, http.StatusBadRequest, "message.html", ss, m)
	case errors.Is(err, evidence.ErrNotFound), errors.Is(err, notary.ErrNotFound):
		m.TitleZH, m.TitleEN, m.TextZH, m.TextEN = "未找到", "Not found", "没有该合同或公证书。", "No such contract or certificate."
		h.page(c, http.StatusNotFound, "message.html", ss, m)
	default:
		h.logger.WarnContext(c.Request.Context(), "notarisation", "err", err)
		m.TitleZH, m.TitleEN = "公证处暂时无法处理", "The office could not be reached"
		m.TextZH = "与公证处通信失败或证据尚未完成联署，请稍后再试：" + err.Error()
		m.TextEN = "The notary office could not be reached, or the evidence is not cosigned yet; try again shortly: " + err.Error()
		h.page(c, http.StatusBadGateway, "message.html", ss, m)
	}
}
