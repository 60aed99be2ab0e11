package verify

import (
	"errors"
	"strings"
)

// The Chinese names of what verify reports in English: event kinds,
// problem lines, kinds of change, issued documents, failed bundle checks.
// The result pages (web/verifyview) and the command line (verify/cli) both
// show them, Chinese first with verify's English beside it, so they live
// here, once.

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

// ChangeKindZH names a kind of change after a signature (Change.Kind) in
// Chinese.
func ChangeKindZH(k string) string {
	switch k {
	case ChangeSignature:
		return "新增签名"
	case ChangeTimestamp:
		return "新增时间戳"
	case ChangeDSS:
		return "补充验证数据"
	case ChangeFormFill:
		return "填写表单"
	case ChangeAnnotation:
		return "添加注释"
	case ChangeMetadata:
		return "文档信息"
	}
	return "其他修改"
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
func ProblemText(en string) Text {
	for _, p := range problemTexts {
		if en == p.en {
			return Text{ZH: p.zh, EN: en}
		}
		if rest, ok := strings.CutPrefix(en, p.en); ok && (strings.HasPrefix(rest, ":") || strings.HasPrefix(rest, " ")) {
			detail := strings.TrimSpace(strings.TrimPrefix(rest, ":"))
			return Text{ZH: p.zh + "（" + detail + "）", EN: en}
		}
	}
	if strings.HasPrefix(en, "the byte range ends at ") && strings.HasSuffix(en, "which is not the end of a revision") {
		return Text{ZH: "签名范围没有在文件的某个版本末尾结束（签名范围不合规）", EN: en}
	}
	if strings.HasPrefix(en, "the byte range ") && strings.HasSuffix(en, "inside the file") {
		return Text{ZH: "签名范围的格式不合规", EN: en}
	}
	if strings.Contains(en, "does not name document") {
		return Text{ZH: "存证记录与该文档不符", EN: en}
	}
	if strings.Contains(en, "is not the issuance of report") {
		return Text{ZH: "存证记录不是该报告编号的出具记录", EN: en}
	}
	return Text{ZH: "技术细节（英文）：" + en, EN: en}
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

// BundleReason words what a failed bundle check means for the reader.
func BundleReason(err error) *Text {
	for _, r := range []struct {
		err    error
		zh, en string
	}{
		{ErrBundleSignature, "检查点的签名不能用本平台公布的日志公钥验证：该证据包不是本平台签发的，或检查点已被改动。", "The checkpoint's signature does not verify with the log key this archive publishes: the bundle was not issued by this archive, or its checkpoint was changed."},
		{ErrBundleCosignature, "缺少公证处的联署或联署无效。", "A notary office's cosignature is missing or invalid."},
		{ErrBundleTimestamp, "RFC 3161 可信时间戳未通过校验。", "An RFC 3161 timestamp does not "},
		{ErrBundleDigest, "有文件的摘要与清单不符：证据包中的文件在签发后被改动。", "A file's digest does not match the manifest: a file of the bundle was changed after it was issued."},
		{ErrBundleLeafHash, "叶子内容与其哈希不符：日志记录被改动。", "A leaf's bytes do not hash to its leaf hash: a log record was changed."},
		{ErrBundleInclusion, "包含证明未通过校验：该记录不在检查点所代表的日志中。", "An inclusion proof does not verify: the record is not in the log the checkpoint stands for."},
		{ErrBundleConsistency, "一致性证明未通过校验：日志前后两个检查点不一致。", "A consistency proof does not verify: two checkpoints of the log disagree."},
		{ErrBundleCommitment, "打开的个人信息承诺与叶子不符。", "An opened personal-data commitment does not match its leaf."},
		{ErrBundlePDF, "证据包中的PDF签名未通过校验。", "A PDF signature in the bundle does not "},
		{ErrBundleMalformed, "该文件不是格式正确的证据包。", "The file is not a well-formed evidence bundle."},
	} {
		if errors.Is(err, r.err) {
			return &Text{ZH: r.zh, EN: r.en}
		}
	}
	return nil
}
