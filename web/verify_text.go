package web

import (
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"strings"

	"github.com/cunzheng/cunzheng/verify"
)

// The words of the verification pages that are not in the templates: the
// headline of a result, the problem lines and upload errors in Chinese
// (verify and the upload code speak English), and the view of a ledger
// record. A judge reads these; each says plainly what happened.

// headline is the title and colour of a verification result. The ETSI
// indication is shown beside it unchanged: the headline only says in
// words what the signatures' findings mean for the document.
type headline struct {
	ZH, EN string
	Class  string // passed, failed, indeterminate (the colour)
}

// resultHeadline chooses the headline: any failed signature makes the
// document fail; a later revision that changed the document in a way not
// allowed is said plainly, although its indication is INDETERMINATE
// (SIG_CONSTRAINTS_FAILURE) as EN 319 102-1 defines it.
func resultHeadline(rep *verify.Report) headline {
	if rep == nil {
		return headline{}
	}
	switch rep.Verdict.Indication {
	case verify.TotalPassed:
		return headline{"PDF文件验签成功", "Verification passed", "passed"}
	case verify.TotalFailed:
		return headline{"PDF文件验签失败", "Verification failed", "failed"}
	}
	for _, s := range rep.Signatures {
		if s.Verdict.SubIndication == verify.SigConstraintsFailure || s.ChangedAfter && !s.ChangesAllowed {
			return headline{"签名后文档被修改（不允许的修改）", "Changed after signing (not allowed)", "failed"}
		}
	}
	if len(rep.Signatures) == 0 {
		return headline{"该PDF文件没有电子签名", "The PDF has no signatures", "indeterminate"}
	}
	return headline{"PDF文件验签结果无法确定", "Verification indeterminate", "indeterminate"}
}

// cardClass is the colour of one signature's card.
func cardClass(s *verify.Signature) string {
	switch {
	case s.Verdict.Indication == verify.TotalPassed:
		return "passed"
	case s.Verdict.Indication == verify.TotalFailed, s.ChangedAfter && !s.ChangesAllowed:
		return "failed"
	}
	return "indeterminate"
}

// problemTexts translates the problem lines of verify by their English
// lead; what follows a lead's colon (a detail from a parser or a
// certificate) is kept as it is, in parentheses.
var problemTexts = []struct{ en, zh string }{
	{"the signed bytes were changed: their digest does not match the signature", "签名覆盖的内容被改动：摘要与签名不一致（文档在签名后被篡改）"},
	{"the signature value does not verify with the signer's public key", "签名值无法用签名者的公钥验证"},
	{"the signature has no valid /ByteRange or /Contents", "签名缺少有效的签名范围（/ByteRange）或签名值（/Contents）"},
	{"the gap in the byte range is not exactly the signature's hex string", "签名范围中的空缺与签名值不完全对应"},
	{"the gap in the byte range holds something other than the signature's hex digits", "签名范围中的空缺含有签名值以外的内容"},
	{"the gap in the byte range is not the /Contents of this signature", "签名范围中的空缺不是本签名的签名值"},
	{"the signed revision cannot be read", "签名所覆盖的版本无法读取"},
	{"the signature dictionary that holds the gap is not part of the signed revision", "包含签名值的签名字典不在签名所覆盖的版本中"},
	{"signature format /SubFilter", "不支持的签名格式"},
	{"a PDF signature must be detached CMS with exactly one signer", "PDF签名必须是只有一个签名者的分离式CMS"},
	{"digest algorithm", "不支持的摘要算法"},
	{"the signer's certificate is not in the signature", "签名中没有签名者证书"},
	{"the signer's certificate does not chain to a trusted root", "签名者证书不能追溯到受信任的根证书"},
	{"the signature timestamp is not valid", "签名时间戳无效"},
	{"the signer's certificate was not yet valid when the document was signed", "签署时签名者证书尚未生效"},
	{"the timestamp proves the signature was made after the signer's certificate expired", "时间戳证明签名时签名者证书已过期"},
	{"the signer's certificate has expired and no timestamp proves the signature was made while it was valid", "签名者证书已过期，且没有时间戳证明签名时证书有效"},
	{"the signer's certificate does not allow digital signatures (key usage)", "签名者证书的用途不包括数字签名"},
	{"the document was changed after this signature in a way the signer did not allow", "签名后文档被以签名者不允许的方式修改"},
	{"the document was changed after this timestamp in a way that is not allowed", "时间戳之后文档被以不允许的方式修改"},
	{"the signer's certificate was revoked before the document was signed", "签署前签名者证书已被吊销"},
	{"the signer's certificate is revoked and no timestamp proves the signature is older", "签名者证书已被吊销，且没有时间戳证明签名早于吊销"},
	{"the file carries no revocation data (CRL or OCSP) for the signer's certificate chain", "文件中没有签名者证书链的吊销信息（CRL 或 OCSP）"},
	{"the signature uses SHA-1, which is no longer accepted", "签名使用了不再被接受的 SHA-1 算法"},
	{"the timestamp uses SHA-1, which is no longer accepted", "时间戳使用了不再被接受的 SHA-1 算法"},
	{"the claimed signing time is later than the signature timestamp", "声称的签署时间晚于签名时间戳"},
	{"the certificate was revoked after the timestamped signing time", "证书在时间戳证明的签署时间之后被吊销"},
	{"timestamp token is not a single-signer TSTInfo", "时间戳令牌格式不正确"},
	{"timestamp token", "时间戳令牌无法解析"},
	{"the timestamp authority's certificate is not in the token", "时间戳令牌中没有时间戳机构证书"},
	{"the timestamp authority's signature does not verify", "时间戳机构的签名无法验证"},
	{"timestamp imprint algorithm", "不支持的时间戳摘要算法"},
	{"the timestamp's message imprint does not match the signed data", "时间戳的消息摘要与签名数据不一致"},
	{"the timestamp certificate lacks the timeStamping extended key usage", "时间戳证书不具备时间戳用途"},
	{"the timestamp authority is not trusted", "时间戳机构不受信任"},
	{"the timestamp authority's certificate was revoked before the timestamp", "时间戳机构证书在加盖时间戳前已被吊销"},
	{"no revocation data for the timestamp authority's certificate", "没有时间戳机构证书的吊销信息"},
	// Ledger record checks (verify's CheckLedgerRecord).
	{"no ledger verifier keys configured", "未配置存证日志的验证公钥"},
	{"checkpoint signature", "检查点签名无法验证"},
	{"checkpoint body", "检查点格式不正确"},
	{"checkpoint origin", "检查点不属于本存证日志"},
	{"inclusion proof", "包含证明无法验证"},
	{"ledger lookup failed", "查询存证日志失败"},
	{"verify: recorded, awaiting the next checkpoint", "已记录在存证日志中，正在等待下一个检查点（通常几秒钟），请稍后重新验签"},
}

// problemText is a problem line in Chinese with the English beside it.
func problemText(en string) verify.Text {
	for _, p := range problemTexts {
		if en == p.en {
			return verify.Text{ZH: p.zh, EN: en}
		}
		if rest, ok := strings.CutPrefix(en, p.en); ok && (strings.HasPrefix(rest, ":") || strings.HasPrefix(rest, " ")) {
			detail := strings.TrimSpace(strings.TrimPrefix(rest, ":"))
			return verify.Text{ZH: p.zh + "（" + detail + "）", EN: en}
		}
	}
	if strings.HasPrefix(en, "the byte range ends at ") && strings.HasSuffix(en, "which is not the end of a revision") {
		return verify.Text{ZH: "签名范围没有在文件的某个版本末尾结束（签名范围不合规）", EN: en}
	}
	if strings.HasPrefix(en, "the byte range ") && strings.HasSuffix(en, "inside the file") {
		return verify.Text{ZH: "签名范围的格式不合规", EN: en}
	}
	if strings.Contains(en, "does not name document") {
		return verify.Text{ZH: "存证记录与该文档不符", EN: en}
	}
	if strings.Contains(en, "is not the issuance of report") {
		return verify.Text{ZH: "存证记录不是该报告编号的出具记录", EN: en}
	}
	return verify.Text{ZH: "技术细节（英文）：" + en, EN: en}
}

// uploadError is the message of a failed upload on the page.
func uploadError(err error, status int, maxUpload int64) verify.Text {
	switch {
	case errors.Is(err, verify.ErrTooLarge):
		return verify.Text{ZH: fmt.Sprintf("文件太大：最大 %d MiB。", maxUpload>>20), EN: fmt.Sprintf("The file is too large: at most %d MiB.", maxUpload>>20)}
	case errors.Is(err, verify.ErrNotPDF):
		return verify.Text{ZH: "无法读取该文件：它不是可读的PDF文件（或已严重损坏）。", EN: "The file cannot be read: it is not a readable PDF (or is badly damaged)."}
	case errors.Is(err, verify.ErrDeadline):
		return verify.Text{ZH: "该文件验签超时：文件过于复杂，无法在时限内完成验签。", EN: "Verifying this file took too long: it is too complex to check within the time limit."}
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
	return verify.Text{ZH: "上传的内容无法处理：" + err.Error(), EN: "The upload cannot be processed: " + err.Error()}
}

// ledgerData is what the "ledger" block of the result pages renders: one
// checked ledger record, in the page's language.
type ledgerData struct {
	Lang string
	R    *verify.LedgerRecord
}

var verifyTextFuncs = template.FuncMap{
	"headline":  resultHeadline,
	"pending":   func(r *verify.LedgerRecord) bool { return !r.ProofOK && r.Problem == verify.ErrPending.Error() },
	"cardClass": cardClass,
	"problem": func(lang, en string) template.HTML {
		t := problemText(en)
		return tr(lang, t.ZH, t.EN)
	},
	"text": func(lang string, t *verify.Text) template.HTML {
		if t == nil {
			return ""
		}
		return tr(lang, t.ZH, t.EN)
	},
	"ledgerView": func(lang string, r *verify.LedgerRecord) ledgerData { return ledgerData{Lang: lang, R: r} },
	"kindText": func(lang, kind string) string {
		zh, en := kindWords(kind)
		if lang == langEN {
			return en
		}
		return zh
	},
	"docZH": func(d string) string { zh, _ := documentWords(d); return zh },
	"docEN": func(d string) string { _, en := documentWords(d); return en },
	"fieldZH": func(f string) string {
		if f == "" {
			return ""
		}
		return "（字段 " + f + "）"
	},
	"fieldEN": func(f string) string {
		if f == "" {
			return ""
		}
		return " (field " + f + ")"
	},
	"allowedZH": func(ok bool) string {
		if ok {
			return "允许"
		}
		return "不允许"
	},
	"allowedEN": func(ok bool) string {
		if ok {
			return "allowed"
		}
		return "NOT allowed"
	},
}

// documentWords names a kind of issued document.
func documentWords(d string) (zh, en string) {
	switch d {
	case "certificate":
		return "签约存证页", "signing certificate page"
	case "evidence-report":
		return "证据报告", "evidence report"
	case "evidence-bundle":
		return "离线校验包", "evidence bundle"
	}
	return d, d
}
