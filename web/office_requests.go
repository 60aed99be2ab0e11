package web

import (
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/cunzheng/cunzheng/notary"
)

// Notarisation requests at the office: the log posts them (signed with its
// key) with the evidence bundle; staff see them on /requests with the
// office's own verdict on the bundle, and the 公证书 once issued with
// `cunzheng notary issue`.
//
//	POST /v1/requests                        multipart: request (signed note), bundle (zip)
//	GET  /requests                           every request, newest first
//	GET  /v1/requests                        the same as JSON
//	GET  /v1/requests/:id                    one request as JSON (the log polls it for the result)
//	GET  /requests/:id/certificate.pdf       the issued 公证书

func mountOfficeRequests(r gin.IRouter, h *officeHandlers) {
	r.POST("/v1/requests", h.receiveRequest)
	r.GET("/requests", h.requestsPage)
	r.GET("/v1/requests", h.requestsJSON)
	r.GET("/v1/requests/:id", h.requestJSON)
	r.GET("/requests/:id/certificate.pdf", h.certificate)
}

func (h *officeHandlers) receiveRequest(c *gin.Context) {
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, notary.MaxBundleBytes+notary.MaxRequestNoteBytes+64<<10)
	part := func(name string, limit int64) ([]byte, error) {
		f, _, err := c.Request.FormFile(name)
		if err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				return nil, &httpError{http.StatusRequestEntityTooLarge, "request too large"}
			}
			return nil, badRequest(fmt.Sprintf("multipart field %q missing", name))
		}
		defer f.Close()
		b, err := io.ReadAll(io.LimitReader(f, limit+1))
		if err != nil {
			return nil, badRequest(fmt.Sprintf("reading %q: %v", name, err))
		}
		if int64(len(b)) > limit {
			return nil, &httpError{http.StatusRequestEntityTooLarge, name + " too large"}
		}
		return b, nil
	}
	msg, err := part("request", notary.MaxRequestNoteBytes)
	if err != nil {
		h.fail(c, err)
		return
	}
	bundle, err := part("bundle", notary.MaxBundleBytes)
	if err != nil {
		h.fail(c, err)
		return
	}
	rec, err := h.office.Receive(c.Request.Context(), msg, bundle)
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, rec)
}

func (h *officeHandlers) requestsPage(c *gin.Context) {
	rs, err := h.office.Requests(c.Request.Context())
	if err != nil {
		h.fail(c, err)
		return
	}
	h.render(c, "requests.html", "requests", struct{ Requests []notary.RequestRecord }{rs})
}

func (h *officeHandlers) requestsJSON(c *gin.Context) {
	rs, err := h.office.Requests(c.Request.Context())
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"requests": rs})
}

func (h *officeHandlers) requestJSON(c *gin.Context) {
	rec, err := h.office.RequestByID(c.Request.Context(), c.Param("id"))
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, rec)
}

func (h *officeHandlers) certificate(c *gin.Context) {
	id := c.Param("id")
	pdf, err := h.office.Certificate(c.Request.Context(), id)
	if err != nil {
		h.fail(c, err)
		return
	}
	c.Header("Content-Disposition", fmt.Sprintf(`attachment; filename="notarial-certificate-%s.pdf"`, safeFilename(id)))
	c.Data(http.StatusOK, "application/pdf", pdf)
}

// safeFilename keeps the characters of id a filename may carry in a header.
func safeFilename(id string) string {
	b := []byte(id)
	for i, ch := range b {
		if !(ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || ch == '-' || ch == '_' || ch == '.') {
			b[i] = '_'
		}
	}
	return string(b)
}
