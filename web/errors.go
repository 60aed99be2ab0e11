package web

import (
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"unicode"

	"github.com/gin-gonic/gin"

	"github.com/cunzheng/cunzheng/evidence"
	"github.com/cunzheng/cunzheng/evidence/event"
	"github.com/cunzheng/cunzheng/ledger"
	"github.com/cunzheng/cunzheng/notary"
	"github.com/cunzheng/cunzheng/report"
	"github.com/cunzheng/cunzheng/report/assemble"
	"github.com/cunzheng/cunzheng/verify"
)

// statusRule maps one domain error (matched with errors.Is) to an HTTP status
// and to the Chinese words put before the error's English detail: the
// platforms and people who read these answers read Chinese first.
type statusRule struct {
	err    error
	status int
	zh     string
}

// statusRules is the one place where domain errors become HTTP statuses.
// Each area adds its sentinels here; the first match wins.
var statusRules = []statusRule{
	{ledger.ErrNotFound, http.StatusNotFound, "未找到"},
	{ledger.ErrPushback, http.StatusServiceUnavailable, "服务繁忙，请稍后重试"},
	{ledger.ErrClosed, http.StatusServiceUnavailable, "服务正在停止，请稍后重试"},
	{ledger.ErrStorage, http.StatusServiceUnavailable, ""},
	{ledger.ErrTooLarge, http.StatusRequestEntityTooLarge, "请求过大"},
	{event.ErrInvalidEvent, http.StatusBadRequest, "事件格式不正确"},
	{evidence.ErrIDConflict, http.StatusConflict, "事件编号已用于另一个不同的事件"},
	{evidence.ErrInconsistent, http.StatusUnprocessableEntity, "事件与已记录的事实不一致"},
	{evidence.ErrNotFound, http.StatusNotFound, "未找到"},
	{evidence.ErrUnauthorized, http.StatusUnauthorized, "缺少 API 密钥或密钥未知"},
	{evidence.ErrForbidden, http.StatusForbidden, "该密钥无权执行此操作"},
	{evidence.ErrErased, http.StatusGone, "数据已依申请销毁"},
	{evidence.ErrInvalidDocument, http.StatusBadRequest, "文档不正确"},
	{evidence.ErrInvalidQuery, http.StatusBadRequest, "查询参数不正确"},
	{evidence.ErrUnavailable, http.StatusServiceUnavailable, ""},
	{report.ErrNotFound, http.StatusNotFound, "未找到报告"},
	{assemble.ErrNotReady, http.StatusServiceUnavailable, "证据尚未入账，请稍后重试"},
	{report.ErrBusy, http.StatusServiceUnavailable, "报告生成繁忙，请稍后重试"},
	// verify (在线验签): unreadable input is 422, never a 500.
	{verify.ErrTooLarge, http.StatusRequestEntityTooLarge, "文件过大"},
	{verify.ErrNotPDF, http.StatusUnprocessableEntity, "不是可读取的 PDF 文件"},
	{verify.ErrDeadline, http.StatusUnprocessableEntity, "验签超时"},
	{verify.ErrNotRecorded, http.StatusNotFound, "账本中没有该文件的记录"},
	{verify.ErrPending, http.StatusServiceUnavailable, "尚未入账，请稍后重试"},
	{errNoFile, http.StatusBadRequest, "未上传文件"},
	{errRateLimited, http.StatusTooManyRequests, "请求过于频繁，请稍后重试"},
	{errBusy, http.StatusServiceUnavailable, "服务繁忙，请稍后重试"},
	// notary: the C2SP tlog-witness statuses (409 is answered by the
	// handler itself, with the size body the spec requires).
	{notary.ErrMalformed, http.StatusBadRequest, "请求格式不正确"},
	{notary.ErrUnknownLog, http.StatusNotFound, "未知的日志"},
	{notary.ErrBadSignature, http.StatusForbidden, "签名无效"},
	{notary.ErrBadProof, http.StatusUnprocessableEntity, "证明无效"},
	{notary.ErrConflict, http.StatusConflict, "与已记录的检查点冲突"},
	{notary.ErrNotFound, http.StatusNotFound, "未找到"},
	{notary.ErrUnauthorized, http.StatusUnauthorized, "仅限申请人与公证处工作人员"},
	{notary.ErrBadTimestampQuery, http.StatusBadRequest, "时间戳请求格式不正确"},
	{notary.ErrClosed, http.StatusServiceUnavailable, "服务正在停止，请稍后重试"},
}

// errorStatus returns the HTTP status for err. Errors that carry their own
// client-facing classification implement httpStatuser inside web; anything
// unknown is a 500, which the tests treat as a bug for client input.
func errorStatus(err error) int {
	status, _ := classify(err)
	return status
}

// classify returns err's HTTP status and the Chinese words for it ("" for
// a server error, whose detail the client never sees).
func classify(err error) (int, string) {
	for _, r := range statusRules {
		if errors.Is(err, r.err) {
			return r.status, r.zh
		}
	}
	var he *httpError
	if errors.As(err, &he) {
		if he.status == http.StatusNotFound {
			return he.status, "未找到"
		}
		return he.status, "请求不正确"
	}
	var ire *ledger.InvalidRequestError
	if errors.As(err, &ire) {
		return http.StatusBadRequest, "请求不正确"
	}
	return http.StatusInternalServerError, ""
}

// chineseFirst puts zh before an English-only message; messages that
// already carry their own Chinese (the consistency refusals, the storage
// answers) are kept as they are.
func chineseFirst(zh, msg string) string {
	if zh == "" || strings.ContainsFunc(msg, func(r rune) bool { return unicode.Is(unicode.Han, r) }) {
		return msg
	}
	return zh + " / " + msg
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
	status, zh := classify(err)
	msg := chineseFirst(zh, err.Error())
	if status >= 500 && status != http.StatusServiceUnavailable {
		logger.ErrorContext(c.Request.Context(), "request failed", "path", c.FullPath(), "err", err)
		msg = "内部错误 / internal error"
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
