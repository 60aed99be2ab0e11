package web

import (
	"errors"
	"fmt"
	"html/template"
	"net/http"

	"github.com/cunzheng/cunzheng/verify"
	"github.com/cunzheng/cunzheng/web/verifyview"
)

// The words of the verification pages that are not in the templates and
// not shared with the browser's local check: upload errors in Chinese
// (the upload code speaks English). The result's words (headline, problem
// lines, the ledger view) live in package verifyview, which the local
// check renders with too.

// uploadError is the message of a failed upload on the page.
func uploadError(err error, status int, maxUpload int64) verify.Text {
	if errors.Is(err, errEmptyFile) {
		return verifyview.EmptyFile
	}
	if t, ok := verifyview.VerifyError(err, maxUpload); ok {
		return t
	}
	switch {
	case errors.Is(err, errNoFile):
		return verify.Text{ZH: "请选择一个PDF文件。", EN: "Choose a PDF file."}
	case errors.Is(err, errRateLimited) || status == http.StatusTooManyRequests:
		return verify.Text{ZH: "本地址的验签次数过多，请一分钟后再试。", EN: "Too many verifications from this address; try again in a minute."}
	case errors.Is(err, errBusy) || status == http.StatusServiceUnavailable:
		return verify.Text{ZH: "验签服务繁忙，请稍后再试。", EN: "The verifier is busy; try again shortly."}
	case status == http.StatusRequestEntityTooLarge:
		return verify.Text{ZH: fmt.Sprintf("文件太大：最大 %d MiB。", maxUpload>>20), EN: fmt.Sprintf("The file is too large: at most %d MiB.", maxUpload>>20)}
	case status >= 500:
		return verify.Text{ZH: "服务器内部错误，请稍后再试。", EN: "Internal error; try again later."}
	}
	// err is the upload code's English: the Chinese says what to send.
	return verify.Text{ZH: "上传的内容无法处理：请以表单（multipart/form-data，字段 file）上传PDF文件。", EN: "The upload cannot be processed: " + err.Error()}
}

// verifyTextFuncs are the page functions beyond verifyview's.
var verifyTextFuncs = template.FuncMap{
	"text": func(lang string, t *verify.Text) template.HTML {
		if t == nil {
			return ""
		}
		return tr(lang, t.ZH, t.EN)
	},
}
