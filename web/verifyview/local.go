package verifyview

import (
	"context"
	"errors"
	"fmt"

	"github.com/cunzheng/cunzheng/verify"
)

// The browser's local check (cmd/verifywasm) in plain Go, so that it is
// tested natively and the WebAssembly main is only the JavaScript glue.

// LocalRequest is what the /verify page passes the local check besides
// the file's bytes.
type LocalRequest struct {
	// TrustBundle is the signed note of GET /v1/verify/roots.
	TrustBundle string `json:"trustBundle"`
	// LogKey is the log's Ed25519 verifier key the page pinned; the trust
	// bundle must be signed by it.
	LogKey string `json:"logKey"`
	// Name is the file's name, for display only.
	Name string `json:"name"`
	// Lang is the page's language, "zh" or "en".
	Lang string `json:"lang"`
	// Ledgered is set when the server has a ledger to look documents up in.
	Ledgered bool `json:"ledgered"`
	// MaxSize bounds the file as the server's upload limit does.
	MaxSize int64 `json:"maxSize"`
}

// LocalResult is the local check's answer to the page: the report (the
// JSON the server path's POST /v1/verify answers) and the result's HTML
// (what the server's result page shows in its <main>), or an error
// message in the page's words.
type LocalResult struct {
	Report *verify.Report       `json:"report,omitempty"`
	Bundle *verify.BundleResult `json:"bundle,omitempty"`
	HTML   string               `json:"html,omitempty"`
	Error  *verify.Text         `json:"error,omitempty"`
}

// EmptyFile is the page's message for a file of 0 bytes: "not a readable
// PDF" (what verify says of it) sends the reader looking for damage when
// the browser or a failed download handed over nothing.
var EmptyFile = verify.Text{ZH: "该文件是空的（0 字节）：请选择要验签的PDF文件，或重新下载后再试。", EN: "The file is empty (0 bytes): choose the PDF to verify, or download it again."}

// VerifyError words an error of verify.PDF for the page; ok is false for
// an error that is not the file's fault.
func VerifyError(err error, maxSize int64) (verify.Text, bool) {
	switch {
	case errors.Is(err, verify.ErrTooLarge):
		return verify.Text{ZH: fmt.Sprintf("文件太大：最大 %d MiB。", maxSize>>20), EN: fmt.Sprintf("The file is too large: at most %d MiB.", maxSize>>20)}, true
	case errors.Is(err, verify.ErrNotPDF):
		return verify.Text{ZH: "无法读取该文件：它不是可读的PDF文件（或已严重损坏）。", EN: "The file cannot be read: it is not a readable PDF (or is badly damaged)."}, true
	case errors.Is(err, verify.ErrDeadline):
		return verify.Text{ZH: "该文件验签超时：文件过于复杂，无法在时限内完成验签。", EN: "Verifying this file took too long: it is too complex to check within the time limit."}, true
	}
	return verify.Text{}, false
}

// trustFailed is the page's message when the trust bundle does not check.
func trustFailed(err error) *verify.Text {
	return &verify.Text{
		ZH: "无法在本机验签：平台的信任根清单未通过签名校验（" + err.Error() + "）。请使用服务器验签，或核对 /keys 上的日志公钥。",
		EN: "Cannot verify on this computer: the archive's trust bundle does not check (" + err.Error() + "). Use the server check, or compare the log key on /keys.",
	}
}

// CheckPDF verifies a PDF with the trust bundle's roots and keys; lookup
// (nil: none) is asked about the file's and each signed revision's hash.
func CheckPDF(ctx context.Context, data []byte, req LocalRequest, lookup verify.DocumentLookup) LocalResult {
	tb, err := verify.OpenTrustBundle([]byte(req.TrustBundle), req.LogKey)
	if err != nil {
		return LocalResult{Error: trustFailed(err)}
	}
	opts, err := tb.Options()
	if err != nil {
		return LocalResult{Error: trustFailed(err)}
	}
	opts.Lookup = lookup
	opts.MaxSize = req.MaxSize
	if len(data) == 0 {
		return LocalResult{Error: &EmptyFile}
	}
	rep, err := verify.PDFBytes(ctx, data, opts)
	if err != nil {
		t, ok := VerifyError(err, opts.MaxSize)
		if !ok {
			t = verify.Text{ZH: "本机验签出错：" + err.Error(), EN: "The local check failed: " + err.Error()}
		}
		return LocalResult{Error: &t}
	}
	html, err := Content(req.Lang, req.Name, rep, req.Ledgered)
	if err != nil {
		return LocalResult{Error: &verify.Text{ZH: "无法显示结果：" + err.Error(), EN: "Cannot show the result: " + err.Error()}}
	}
	return LocalResult{Report: rep, HTML: string(html)}
}

// CheckBundle verifies an evidence bundle (zip) against the keys and TSA
// roots of the trust bundle, which pins them.
func CheckBundle(data []byte, req LocalRequest) LocalResult {
	tb, err := verify.OpenTrustBundle([]byte(req.TrustBundle), req.LogKey)
	if err != nil {
		return LocalResult{Error: trustFailed(err)}
	}
	opts, err := tb.BundleOptions()
	if err != nil {
		return LocalResult{Error: trustFailed(err)}
	}
	d := BundleResult(req.Name, data, opts)
	html, err := BundleContent(req.Lang, d)
	if err != nil {
		return LocalResult{Error: &verify.Text{ZH: "无法显示结果：" + err.Error(), EN: "Cannot show the result: " + err.Error()}}
	}
	return LocalResult{Bundle: d.Result, HTML: string(html)}
}
