package web

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/cunzheng/cunzheng/notary"
)

// Notarisation requests at the office: the log posts them (signed with its
// key) with the evidence bundle; staff see them on /requests with the
// office's own verdict on the bundle, and the 公证书 once issued with
// `cunzheng notary issue`.
//
// Anyone sees what the log's public leaves say of a request
// (RequestRecord.Public). The office's checks, a refusal's reason and the
// 公证书 name the contract by its number: they go only to the log that
// made the request (a fetch note signed by its key in the Authorization
// header, notary.LogAuth) and to the office's staff (HTTP Basic with a
// name and token of `cunzheng notary staff add`; browsers ask for them on
// /staff/requests).
//
//	POST /v1/requests                        multipart: request (signed note), bundle (zip)
//	GET  /requests                           every request, newest first (staff: in full)
//	GET  /staff/requests                     the same in full, for the staff (asks them to sign in)
//	GET  /v1/requests                        the requests as JSON (staff: in full)
//	GET  /v1/requests/:id                    one request as JSON (the requesting log, staff: in full)
//	GET  /requests/:id/certificate.pdf       the issued 公证书 (the requesting log, staff)
//	GET  /staff/requests/:id/certificate.pdf the same for the staff's browsers

func mountOfficeRequests(r gin.IRouter, h *officeHandlers) {
	r.POST("/v1/requests", h.receiveRequest)
	r.GET("/requests", h.requestsPage)
	r.GET("/staff/requests", h.staffOnly, h.requestsPage)
	r.GET("/v1/requests", h.requestsJSON)
	r.GET("/v1/requests/:id", h.requestJSON)
	r.GET("/requests/:id/certificate.pdf", h.certificate)
	r.GET("/staff/requests/:id/certificate.pdf", h.staffOnly, h.certificate)
}

// staffRealm is the HTTP Basic realm the staff sign in to.
const staffRealm = `Basic realm="notary office staff", charset="UTF-8"`

// staff returns the name of the office's staff member signed in with
// HTTP Basic, or "".
func (h *officeHandlers) staff(c *gin.Context) string {
	name, token, ok := c.Request.BasicAuth()
	if !ok || !h.office.StaffSignIn(name, token) {
		return ""
	}
	return name
}

// staffOnly lets only the signed-in staff through, asking a browser for
// the name and token.
func (h *officeHandlers) staffOnly(c *gin.Context) {
	if h.staff(c) != "" {
		c.Next()
		return
	}
	h.askStaff(c)
}

// askStaff answers 401 with the Basic challenge and how to get a token.
func (h *officeHandlers) askStaff(c *gin.Context) {
	c.Header("WWW-Authenticate", staffRealm)
	c.Header("Cache-Control", "no-store")
	msg := "仅限申请人与本公证处工作人员。工作人员请以姓名和令牌登录（令牌由 cunzheng notary staff add NAME --data DIR 生成）。\n" +
		"Only for the requester and this office's staff. Staff sign in with their name and token (made by cunzheng notary staff add NAME --data DIR).\n"
	if !h.office.HasStaff() {
		msg += "本公证处尚未设置工作人员账号。 This office has no staff accounts yet.\n"
	}
	c.Data(http.StatusUnauthorized, "text/plain; charset=utf-8", []byte(msg))
	c.Abort()
}

// fullRecord reports whether the caller may read request id in full: the
// office's staff, or the log that made it with a valid fetch note. A
// fetch note that is present but not valid is an error (the log learns why).
func (h *officeHandlers) fullRecord(c *gin.Context, id string) (bool, error) {
	if h.staff(c) != "" {
		return true, nil
	}
	err := h.office.AuthorizeFetch(c.Request.Context(), c.GetHeader("Authorization"), id, time.Now())
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, notary.ErrUnauthorized):
		return false, nil
	}
	return false, err
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

// requestsView is the /requests page: every request, in full for the
// staff member Staff, else as the public sees it.
type requestsView struct {
	Requests []notary.RequestRecord
	Staff    string
	HasStaff bool
}

func (h *officeHandlers) requests(c *gin.Context) ([]notary.RequestRecord, string, error) {
	rs, err := h.office.Requests(c.Request.Context())
	if err != nil {
		return nil, "", err
	}
	staff := h.staff(c)
	if staff == "" {
		for i := range rs {
			rs[i] = rs[i].Public()
		}
	}
	return rs, staff, nil
}

func (h *officeHandlers) requestsPage(c *gin.Context) {
	rs, staff, err := h.requests(c)
	if err != nil {
		h.fail(c, err)
		return
	}
	h.render(c, "requests.html", "requests", requestsView{Requests: rs, Staff: staff, HasStaff: h.office.HasStaff()})
}

func (h *officeHandlers) requestsJSON(c *gin.Context) {
	rs, _, err := h.requests(c)
	if err != nil {
		h.fail(c, err)
		return
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, gin.H{"requests": rs})
}

func (h *officeHandlers) requestJSON(c *gin.Context) {
	id := c.Param("id")
	rec, err := h.office.RequestByID(c.Request.Context(), id)
	if err != nil {
		h.fail(c, err)
		return
	}
	full, err := h.fullRecord(c, id)
	if err != nil {
		h.fail(c, err)
		return
	}
	if !full {
		rec = rec.Public()
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, rec)
}

// certificate serves the issued 公证书 to the log that asked for it and
// to the staff: it names the contract by its number.
func (h *officeHandlers) certificate(c *gin.Context) {
	id := c.Param("id")
	if full, err := h.fullRecord(c, id); err != nil {
		h.fail(c, err)
		return
	} else if !full {
		h.askStaff(c)
		return
	}
	pdf, err := h.office.Certificate(c.Request.Context(), id)
	if err != nil {
		h.fail(c, err)
		return
	}
	c.Header("Cache-Control", "no-store")
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
