package web

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/cunzheng/cunzheng/evidence"
	"github.com/cunzheng/cunzheng/evidence/event"
	"github.com/cunzheng/cunzheng/ledger"
	"github.com/cunzheng/cunzheng/notary"
	"github.com/cunzheng/cunzheng/report"
	"github.com/cunzheng/cunzheng/report/assemble"
	"github.com/cunzheng/cunzheng/verify"
)

// statusRule maps one domain error (matched with errors.Is) to an HTTP status.
type statusRule struct {
	err    error
	status int
}

// statusRules is the one place where domain errors become HTTP statuses.
// Each area adds its sentinels here; the first match wins.
var statusRules = []statusRule{
	{ledger.ErrNotFound, http.StatusNotFound},
	{ledger.ErrPushback, http.StatusServiceUnavailable},
	{ledger.ErrClosed, http.StatusServiceUnavailable},
	{ledger.ErrStorage, http.StatusServiceUnavailable},
	{ledger.ErrTooLarge, http.StatusRequestEntityTooLarge},
	{event.ErrInvalidEvent, http.StatusBadRequest},
	{evidence.ErrIDConflict, http.StatusConflict},
	{evidence.ErrInconsistent, http.StatusUnprocessableEntity},
	{evidence.ErrNotFound, http.StatusNotFound},
	{evidence.ErrUnauthorized, http.StatusUnauthorized},
	{evidence.ErrForbidden, http.StatusForbidden},
	{evidence.ErrErased, http.StatusGone},
	{evidence.ErrInvalidDocument, http.StatusBadRequest},
	{evidence.ErrInvalidQuery, http.StatusBadRequest},
	{evidence.ErrUnavailable, http.StatusServiceUnavailable},
	{report.ErrNotFound, http.StatusNotFound},
	{assemble.ErrNotReady, http.StatusServiceUnavailable},
	{report.ErrBusy, http.StatusServiceUnavailable},
	// verify (在线验签): unreadable input is 422, never a 500.
	{verify.ErrTooLarge, http.StatusRequestEntityTooLarge},
	{verify.ErrNotPDF, http.StatusUnprocessableEntity},
	{verify.ErrDeadline, http.StatusUnprocessableEntity},
	{verify.ErrNotRecorded, http.StatusNotFound},
	{verify.ErrPending, http.StatusServiceUnavailable},
	{errNoFile, http.StatusBadRequest},
	{errRateLimited, http.StatusTooManyRequests},
	{errBusy, http.StatusServiceUnavailable},
	// notary: the C2SP tlog-witness statuses (409 is answered by the
	// handler itself, with the size body the spec requires).
	{notary.ErrMalformed, http.StatusBadRequest},
	{notary.ErrUnknownLog, http.StatusNotFound},
	{notary.ErrBadSignature, http.StatusForbidden},
	{notary.ErrBadProof, http.StatusUnprocessableEntity},
	{notary.ErrConflict, http.StatusConflict},
	{notary.ErrNotFound, http.StatusNotFound},
	{notary.ErrBadTimestampQuery, http.StatusBadRequest},
	{notary.ErrClosed, http.StatusServiceUnavailable},
}

// errorStatus returns the HTTP status for err. Errors that carry their own
// client-facing classification implement httpStatuser inside web; anything
// unknown is a 500, which the tests treat as a bug for client input.
func errorStatus(err error) int {
	for _, r := range statusRules {
		if errors.Is(err, r.err) {
			return r.status
		}
	}
	var he *httpError
	if errors.As(err, &he) {
		return he.status
	}
	var ire *ledger.InvalidRequestError
	if errors.As(err, &ire) {
		return http.StatusBadRequest
	}
	return http.StatusInternalServerError
}

// httpError is a web-level error for malformed requests that never reached a
// domain package (bad path, bad query parameter).
type httpError struct {
	status int
	msg    string
}

func (e *httpError) Error() string { return e.msg }

func badRequest(msg string) error { return &httpError{http.StatusBadRequest, msg} }
func notFound(msg string) error   { return &httpError{http.StatusNotFound, msg} }

// abortWithError answers err as a one-line plain reason (or JSON for /v1/
// paths) with the status errorStatus chooses. Server errors are logged
// without the request body; the client sees a generic line.
func abortWithError(c *gin.Context, logger *slog.Logger, err error) {
	status := errorStatus(err)
	msg := err.Error()
	if status >= 500 && status != http.StatusServiceUnavailable {
		logger.ErrorContext(c.Request.Context(), "request failed", "path", c.FullPath(), "err", err)
		msg = "internal error"
	}
	if status == http.StatusServiceUnavailable && storageFailure(err) {
		// The detail names files of the data directory: logs only.
		logger.WarnContext(c.Request.Context(), "write refused: storage", "path", c.FullPath(), "err", err)
		msg = storageMessage(err)
	}
	if status == http.StatusServiceUnavailable {
		c.Header("Retry-After", "1")
	}
	if wantsJSON(c) {
		c.AbortWithStatusJSON(status, gin.H{"error": msg})
		return
	}
	c.Header("Content-Type", "text/plain; charset=utf-8")
	c.AbortWithStatus(status)
	_, _ = c.Writer.WriteString(msg + "\n")
}

func wantsJSON(c *gin.Context) bool {
	p := c.Request.URL.Path
	return len(p) >= 4 && p[:4] == "/v1/"
}

// storageFailure reports whether err is a store refusing writes after a
// storage failure (a full disk), or an evidence store outage.
func storageFailure(err error) bool {
	return errors.Is(err, ledger.ErrStorage) || errors.Is(err, evidence.ErrUnavailable) || errors.Is(err, ledger.ErrNoSpace)
}

// storageMessage is the client's answer to a write a store refused: plain
// words, no file names, and what still works.
func storageMessage(err error) string {
	if errors.Is(err, ledger.ErrNoSpace) {
		return "存储空间已满，写入暂停；查询、证明、页面与验签照常，空间恢复后自动恢复写入，请稍后重试。 / " +
			"Disk full: writes are paused; reads, proofs, pages and verification still work, and writes resume by themselves once there is space. Retry later."
	}
	return "存储暂时无法写入，写入暂停；查询、证明、页面与验签照常，请稍后重试。 / " +
		"Storage is not taking writes for now; reads, proofs, pages and verification still work. Retry later."
}

// storageReason says in plain words why a store takes no writes, for
// /healthz: the store's own public summary when it has one (when it
// paused, and why), never the failure's detail.
func storageReason(err error) string {
	var p interface{ Public() string }
	if errors.As(err, &p) {
		return p.Public()
	}
	if errors.Is(err, ledger.ErrNoSpace) {
		return "writes paused (disk full)"
	}
	return "writes paused (storage unavailable)"
}
