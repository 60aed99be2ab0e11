// Package verifyview renders the result of a PDF verification as HTML: the
// templates, words and functions shared by the server's result page
// (package web) and the browser's local check (cmd/verifywasm), so that
// both paths show the same report in the same words. It knows nothing of
// HTTP.
package verifyview

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"strings"
	"sync"
	"time"

	"github.com/cunzheng/cunzheng/verify"
	"github.com/cunzheng/cunzheng/web/templates"
)

// Languages of the pages: Chinese is the default.
const (
	LangZH = "zh"
	LangEN = "en"
)

// Tr renders a user-facing text: Chinese with its English beside it, or
// English alone after the switch.
func Tr(lang, zh, en string) template.HTML {
	if lang == LangEN {
		return template.HTML(template.HTMLEscapeString(en))
	}
	return template.HTML(template.HTMLEscapeString(zh) + ` <span class="en" lang="en">` + template.HTMLEscapeString(en) + `</span>`)
}

// Plural writes a count with its English noun: "1 signature", "2
// signatures". Chinese needs no plural; its sentences keep their own %d.
func Plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// KindLabel names an event kind in the user's words.
func KindLabel(lang, kind string) template.HTML {
	zh, en := KindWords(kind)
	return Tr(lang, zh, en)
}

// KindWords names an event kind in Chinese and English.
func KindWords(kind string) (zh, en string) {
	zh, en = kind, kind
	switch kind {
	case "account.registered":
		zh, en = "注册账号", "account registered"
	case "identity.checked":
		zh, en = "实名认证", "identity checked"
	case "intent.verified":
		zh, en = "意愿认证", "intent verified"
	case "contract.signed":
		zh, en = "签署合同", "contract signed"
	case "contract.sent":
		zh, en = "发送合同", "contract sent"
	case "contract.received":
		zh, en = "接收合同", "contract received"
	case "contract.completed":
		zh, en = "合同签署完成", "contract completed"
	case "contract.rejected":
		zh, en = "拒签", "contract rejected"
	case "contract.revoked":
		zh, en = "撤销合同", "contract revoked"
	case "data.erased":
		zh, en = "个人数据删除", "personal data erased"
	case "report.issued":
		zh, en = "出具报告", "report issued"
	case "notarization.requested":
		zh, en = "申请公证", "notarisation requested"
	case "notarization.issued":
		zh, en = "出具公证书", "notarial certificate issued"
	case "notarization.refused":
		zh, en = "公证处拒绝", "notarisation refused"
	}
	return zh, en
}

var beijing = time.FixedZone("UTC+8", 8*3600)

// Funcs are the template functions of the result templates.
func Funcs() template.FuncMap {
	m := template.FuncMap{
		"tr":        Tr,
		"kindLabel": KindLabel,
		"when": func(t any) string {
			switch v := t.(type) {
			case time.Time:
				if v.IsZero() {
					return ""
				}
				return v.In(beijing).Format("2006-01-02 15:04:05") + " (UTC+8)"
			case *time.Time:
				if v == nil {
					return ""
				}
				return v.In(beijing).Format("2006-01-02 15:04:05") + " (UTC+8)"
			}
			return ""
		},
		"day":    func(t time.Time) string { return t.In(beijing).Format("2006-01-02") },
		"passed": func(i verify.Indication) bool { return i == verify.TotalPassed },
		"failed": func(i verify.Indication) bool { return i == verify.TotalFailed },
		"kindZH": func(k string) string {
			switch k {
			case verify.ChangeSignature:
				return "新增签名"
			case verify.ChangeTimestamp:
				return "新增时间戳"
			case verify.ChangeDSS:
				return "补充验证数据"
			case verify.ChangeFormFill:
				return "填写表单"
			case verify.ChangeAnnotation:
				return "添加注释"
			case verify.ChangeMetadata:
				return "文档信息"
			}
			return "其他修改"
		},
		"join":   strings.Join,
		"plural": Plural,
	}
	for k, v := range textFuncs {
		m[k] = v
	}
	return m
}

// View is what the result templates render, the shape of package web's
// page view: the language and the page's data.
type View struct {
	Lang string
	Data any
}

// En reports whether the page is in English.
func (v View) En() bool { return v.Lang == LangEN }

// PageData is the data of the result page.
type PageData struct {
	// Name is the file's name, for display only.
	Name   string
	Report *verify.Report
	// Ledgered is set when the server has a ledger to look documents up
	// in, so that "not recorded" can be said.
	Ledgered bool
}

// parsed are the result templates, parsed once on first use.
var parsed = sync.OnceValues(func() (*template.Template, error) {
	return template.New("result").Funcs(Funcs()).ParseFS(templates.Result, "*.html")
})

// Content renders the result page's content (what the server's page shows
// inside its layout's <main>) for rep in lang.
func Content(lang, name string, rep *verify.Report, ledgered bool) ([]byte, error) {
	return execute("content", View{Lang: lang, Data: PageData{Name: name, Report: rep, Ledgered: ledgered}})
}

// BundleContent renders the result of checking an evidence bundle.
func BundleContent(lang string, data BundleData) ([]byte, error) {
	return execute("bundle-result", View{Lang: lang, Data: data})
}

func execute(name string, v View) ([]byte, error) {
	t, err := parsed()
	if err != nil {
		return nil, fmt.Errorf("verifyview: parsing the templates: %w", err)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, name, v); err != nil {
		return nil, fmt.Errorf("verifyview: rendering %s: %w", name, err)
	}
	return buf.Bytes(), nil
}

// HeadlineText is the title and colour of a verification result. The ETSI
// indication is shown beside it unchanged: the headline only says in
// words what the signatures' findings mean for the document.
type HeadlineText struct {
	ZH, EN string
	Class  string // passed, failed, indeterminate (the colour)
}

// Headline chooses the headline: any failed signature makes the
// document fail; a later revision that changed the document in a way not
// allowed is said plainly, although its indication is INDETERMINATE
// (SIG_CONSTRAINTS_FAILURE) as EN 319 102-1 defines it.
func Headline(rep *verify.Report) HeadlineText {
	if rep == nil {
		return HeadlineText{}
	}
	switch rep.Verdict.Indication {
	case verify.TotalPassed:
		return HeadlineText{"PDF文件验签成功", "Verification passed", "passed"}
	case verify.TotalFailed:
		return HeadlineText{"PDF文件验签失败", "Verification failed", "failed"}
	}
	for _, s := range rep.Signatures {
		if s.Verdict.SubIndication == verify.SigConstraintsFailure || s.ChangedAfter && !s.ChangesAllowed {
			return HeadlineText{"签名后文档被修改（不允许的修改）", "Changed after signing (not allowed)", "failed"}
		}
	}
	if len(rep.Signatures) == 0 {
		return HeadlineText{"该PDF文件没有电子签名", "The PDF has no signatures", "indeterminate"}
	}
	return HeadlineText{"PDF文件验签结果无法确定", "Verification indeterminate", "indeterminate"}
}

// CardClass is the colour of one signature's card.
func CardClass(s *verify.Signature) string {
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
	{"the signature timestamp is not trusted", "签名时间戳不受信任"},
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

// ProblemText is a problem line in Chinese with the English beside it.
func ProblemText(en string) verify.Text {
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

// ledgerData is what the "ledger" block of the result pages renders: one
// checked ledger record, in the page's language.
type ledgerData struct {
	Lang string
	R    *verify.LedgerRecord
	// Revision is the signed revision the record is of, inside a
	// signature's card (the file changed after it); 0 for the file itself.
	Revision int
}

var textFuncs = template.FuncMap{
	"headline":  Headline,
	"pending":   func(r *verify.LedgerRecord) bool { return !r.ProofOK && r.Problem == verify.ErrPending.Error() },
	"cardClass": CardClass,
	"problem": func(lang, en string) template.HTML {
		t := ProblemText(en)
		return Tr(lang, t.ZH, t.EN)
	},
	"text": func(lang string, t *verify.Text) template.HTML {
		if t == nil {
			return ""
		}
		return Tr(lang, t.ZH, t.EN)
	},
	"ledgerView": func(lang string, r *verify.LedgerRecord) ledgerData { return ledgerData{Lang: lang, R: r} },
	"revisionLedgerView": func(lang string, rev int, r *verify.LedgerRecord) ledgerData {
		return ledgerData{Lang: lang, R: r, Revision: rev}
	},
	"kindText": func(lang, kind string) string {
		zh, en := KindWords(kind)
		if lang == LangEN {
			return en
		}
		return zh
	},
	"docZH":    func(d string) string { zh, _ := DocumentWords(d); return zh },
	"objectZH": ChangeObjectZH,
	"stepZH": func(step string) string {
		return verify.BundleStepZH(step, func(k string) string { zh, _ := KindWords(k); return zh })
	},
	"docEN": func(d string) string { _, en := DocumentWords(d); return en },
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

// DocumentWords names a kind of issued document.
func DocumentWords(d string) (zh, en string) {
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

// BundleResult checks an evidence bundle with verify.Bundle and fills the
// result page's data: the result when every check passed, otherwise the
// step that failed and why. The browser's check and the server's upload
// path both use it, so the two pages say the same for the same file.
func BundleResult(name string, data []byte, opts verify.BundleOptions) BundleData {
	sum := sha256.Sum256(data)
	d := BundleData{Name: name, SHA256: hex.EncodeToString(sum[:])}
	res, err := verify.Bundle(data, opts)
	if err != nil {
		var be *verify.BundleError
		if !errors.As(err, &be) {
			be = &verify.BundleError{Step: "bundle", Err: err}
		}
		d.FailedStep, d.Problem = be.Step, be.Err.Error()
		d.Reason = bundleReason(be.Err)
		return d
	}
	d.Result = res
	return d
}

// bundleReason words what a failed bundle check means for the reader.
func bundleReason(err error) *verify.Text {
	for _, r := range []struct {
		err    error
		zh, en string
	}{
		{verify.ErrBundleSignature, "检查点的签名不能用本平台公布的日志公钥验证：该证据包不是本平台签发的，或检查点已被改动。", "The checkpoint's signature does not verify with the log key this archive publishes: the bundle was not issued by this archive, or its checkpoint was changed."},
		{verify.ErrBundleCosignature, "缺少公证处的联署或联署无效。", "A notary office's cosignature is missing or invalid."},
		{verify.ErrBundleTimestamp, "RFC 3161 可信时间戳未通过校验。", "An RFC 3161 timestamp does not verify."},
		{verify.ErrBundleDigest, "有文件的摘要与清单不符：证据包中的文件在签发后被改动。", "A file's digest does not match the manifest: a file of the bundle was changed after it was issued."},
		{verify.ErrBundleLeafHash, "叶子内容与其哈希不符：日志记录被改动。", "A leaf's bytes do not hash to its leaf hash: a log record was changed."},
		{verify.ErrBundleInclusion, "包含证明未通过校验：该记录不在检查点所代表的日志中。", "An inclusion proof does not verify: the record is not in the log the checkpoint stands for."},
		{verify.ErrBundleConsistency, "一致性证明未通过校验：日志前后两个检查点不一致。", "A consistency proof does not verify: two checkpoints of the log disagree."},
		{verify.ErrBundleCommitment, "打开的个人信息承诺与叶子不符。", "An opened personal-data commitment does not match its leaf."},
		{verify.ErrBundlePDF, "证据包中的PDF签名未通过校验。", "A PDF signature in the bundle does not verify."},
		{verify.ErrBundleMalformed, "该文件不是格式正确的证据包。", "The file is not a well-formed evidence bundle."},
	} {
		if errors.Is(err, r.err) {
			return &verify.Text{ZH: r.zh, EN: r.en}
		}
	}
	return nil
}

// BundleData is the result of checking an evidence bundle in the browser.
type BundleData struct {
	// Name is the bundle file's name, for display only.
	Name string
	// Result is set when every check passed.
	Result *verify.BundleResult
	// FailedStep and Problem name the first check that failed
	// (verify.BundleError); Problem is verify's English words.
	FailedStep string
	Problem    string
	// Reason says in words what the failed check means, from the kind of
	// error verify gave (nil when it gave none of its sentinels).
	Reason *verify.Text
	// SHA256 is the hex SHA-256 of the bundle file.
	SHA256 string
	// Server is set when the server checked the bundle (the upload path),
	// not the browser.
	Server bool
}
