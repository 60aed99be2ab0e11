package verify

import (
	"fmt"
	"strings"
	"time"
)

// verdictFor builds a signature's verdict and its plain sentences.
func verdictFor(sig *Signature, ind Indication, sub SubIndication, problem string) Verdict {
	who := "签名者"
	whoEN := "the signer"
	if sig.Signer != nil {
		n := sig.Signer.CommonName
		if n == "" {
			n = sig.Signer.Organization
		}
		if n != "" {
			who, whoEN = n, n
		}
	}
	what, whatEN := "签名", "signature"
	if sig.Kind == "document-timestamp" {
		what, whatEN = "文档时间戳", "document timestamp"
	}
	var zh, en string
	switch sub {
	case "":
		zh = fmt.Sprintf("%s有效：由%s签署", what, who)
		en = fmt.Sprintf("The %s by %s is valid", whatEN, whoEN)
		if sig.ChangedAfter {
			kinds, kindsEN := changeKinds(sig.Changes)
			if kinds == "" {
				// Later updates that rewrote objects without changing them.
				zh += "；签名后文档有增量更新，但内容没有变化。"
				en += "; the document was saved again after it, without any change in content."
			} else {
				zh += fmt.Sprintf("；签名后文档有修改，均为允许的修改（%s）。", kinds)
				en += fmt.Sprintf("; the document was changed after it, only in allowed ways (%s).", kindsEN)
			}
		} else {
			zh += "，签名后文档未被修改。"
			en += " and the document has not been changed since."
		}
		return Verdict{ind, sub, Text{zh, en}}
	case HashFailure:
		zh = what + "无效：签名覆盖的内容已被篡改。"
		en = "The " + whatEN + " is invalid: the signed content has been altered."
	case SigCryptoFailure:
		zh = what + "无效：签名值无法用签名者的证书验证。"
		en = "The " + whatEN + " is invalid: its value does not verify with the signer's certificate."
	case Revoked:
		zh = "签名无效：签名者证书在签名之前已被吊销。"
		en = "The signature is invalid: the signer's certificate was revoked before signing."
	case Expired:
		zh = "签名无效：时间戳证明签名时签名者证书已过期。"
		en = "The signature is invalid: its timestamp shows the signer's certificate had expired."
	case NotYetValid:
		zh = "签名无效：签名时签名者证书尚未生效。"
		en = "The signature is invalid: the signer's certificate was not yet valid when signing."
	case FormatFailure:
		zh = "无法确定：" + what + "的结构不合规范。"
		en = "Cannot decide: the " + whatEN + " is malformed."
	case NoSigningCertificateFound:
		zh = "无法确定：找不到签名者证书。"
		en = "Cannot decide: the signer's certificate is missing."
	case NoCertificateChainFound:
		zh = "无法确定：签名者证书不能追溯到受信任的根证书。"
		en = "Cannot decide: the signer's certificate does not chain to a trusted root."
	case ChainConstraintsFailure:
		zh = "无法确定：签名者证书不允许用于签名。"
		en = "Cannot decide: the signer's certificate is not allowed to sign."
	case TryLater:
		zh = "无法确定：文件中没有证书吊销信息，无法确认签名时证书未被吊销。"
		en = "Cannot decide: the file has no revocation data to show the certificate was not revoked."
	case RevokedNoPOE:
		zh = "无法确定：签名者证书已被吊销，且没有可信时间戳证明签名早于吊销。"
		en = "Cannot decide: the signer's certificate is revoked and no timestamp proves the signature came first."
	case OutOfBoundsNoPOE:
		zh = "无法确定：签名者证书已过期，且没有可信时间戳证明签名时证书有效。"
		en = "Cannot decide: the signer's certificate has expired and no timestamp proves it was valid at signing."
	case NoPOE:
		zh = "无法确定：签名时间戳无效。"
		en = "Cannot decide: the signature timestamp is not valid."
	case SigConstraintsFailure:
		zh = what + "后文档被以不允许的方式修改。"
		en = "The document was changed after this " + whatEN + " in a way that is not allowed."
	case CryptoConstraintsFailure:
		zh = "无法确定：" + what + "使用了不被接受的算法。"
		en = "Cannot decide: the " + whatEN + " uses an algorithm that is not accepted."
	default:
		zh = "无法确定该" + what + "是否有效。"
		en = "Cannot decide whether the " + whatEN + " is valid."
	}
	if sig.ChangedAfter && sub != SigConstraintsFailure {
		zh += "此外，签名后文档被修改过。"
		en += " Also, the document was changed after this " + whatEN + "."
	}
	return Verdict{ind, sub, Text{zh, en}}
}

var kindNames = map[string][2]string{
	ChangeSignature:  {"新增签名", "a new signature"},
	ChangeTimestamp:  {"新增时间戳", "a new timestamp"},
	ChangeDSS:        {"补充验证数据", "added validation data"},
	ChangeFormFill:   {"填写表单", "form filling"},
	ChangeAnnotation: {"添加注释", "annotations"},
	ChangeMetadata:   {"文档信息", "document information"},
	ChangeOther:      {"其他修改", "other changes"},
}

func changeKinds(cs []Change) (string, string) {
	seen := map[string]bool{}
	var zh, en []string
	for _, c := range cs {
		if seen[c.Kind] {
			continue
		}
		seen[c.Kind] = true
		n := kindNames[c.Kind]
		zh = append(zh, n[0])
		en = append(en, n[1])
	}
	return strings.Join(zh, "、"), strings.Join(en, ", ")
}

// finish sets the document verdict: the worst signature verdict, and
// INDETERMINATE when there is no signature at all.
func finish(rep *Report, size int64) {
	var last *time.Time
	worst := TotalPassed
	var worstSub SubIndication
	for _, s := range rep.Signatures {
		switch {
		case s.Verdict.Indication == TotalFailed && worst != TotalFailed:
			worst, worstSub = TotalFailed, s.Verdict.SubIndication
		case s.Verdict.Indication == Indeterminate && worst == TotalPassed:
			worst, worstSub = Indeterminate, s.Verdict.SubIndication
		}
		if !s.CoverageOK || !s.DigestOK || !s.SignatureOK || s.Kind != "signature" {
			continue // an invalid signature's claims count for nothing; a document timestamp signs nothing
		}
		t := s.ClaimedSigningTime
		if s.Timestamp != nil && s.Timestamp.SignatureOK && s.Timestamp.ImprintOK {
			t = &s.Timestamp.Time
		}
		if t != nil && (last == nil || t.After(*last)) {
			tt := *t
			last = &tt
		}
		if s.CoversWholeFile {
			rep.UnsignedChanges = false
		}
	}
	rep.LastSigningTime = last
	n := len(rep.Signatures)
	if n > 0 {
		newest := rep.Signatures[n-1]
		rep.UnsignedChanges = !newest.CoversWholeFile
	}
	switch {
	case n == 0 && rep.DamagedBytes > 0:
		rep.Verdict = Verdict{Indeterminate, FormatFailure, Text{
			"无法确定：该PDF文件末尾已损坏或被截断，其中的签名无法读取；完整部分没有签名。",
			"Cannot decide: the end of the PDF is damaged or truncated, so any signature in it cannot be read; the intact part has no signatures."}}
	case n == 0:
		rep.Verdict = Verdict{Indeterminate, SignedDataNotFound, Text{
			"该PDF文件没有签名。", "The PDF has no signatures."}}
	case worst == TotalPassed:
		rep.Verdict = Verdict{TotalPassed, "", Text{
			"该PDF文件已签名且所有签名都有效。", "The PDF is signed and all signatures are valid."}}
		if rep.UnsignedChanges {
			rep.Verdict.Message.ZH += "最后一次签名之后文档有允许的修改。"
			rep.Verdict.Message.EN += " The document was changed after the last signature, in allowed ways."
		}
	case worst == TotalFailed && n == 1:
		rep.Verdict = Verdict{TotalFailed, worstSub, Text{
			"该PDF文件的签名无效：签名验证失败。", "The PDF's signature is not valid: it failed verification."}}
	case worst == TotalFailed:
		rep.Verdict = Verdict{TotalFailed, worstSub, Text{
			fmt.Sprintf("该PDF文件的签名无效：%d个签名中至少有一个验证失败。", n),
			fmt.Sprintf("The PDF's signatures are not valid: at least one of %d failed.", n)}}
	case changedNotAllowed(rep.Signatures):
		// The indication stays INDETERMINATE (SIG_CONSTRAINTS_FAILURE, as
		// EN 319 102-1 defines it); the sentence says what happened.
		rep.Verdict = Verdict{Indeterminate, SigConstraintsFailure, Text{
			"签名后文档被修改（不允许的修改）：签名之后的修订以签名者不允许的方式改动了文档。",
			"The document was changed after signing in a way that is not allowed: a later revision changed it beyond what the signer allowed."}}
	case n == 1:
		rep.Verdict = Verdict{Indeterminate, worstSub, Text{
			"无法确认该PDF文件的签名有效：签名无法确定。", "It cannot be confirmed that the PDF's signature is valid: it is undecided."}}
	default:
		rep.Verdict = Verdict{Indeterminate, worstSub, Text{
			fmt.Sprintf("无法确认该PDF文件的%d个签名全部有效：至少一个签名无法确定。", n),
			fmt.Sprintf("It cannot be confirmed that all %d signatures of the PDF are valid: at least one is undecided.", n)}}
	}
}

// changedNotAllowed reports whether a signature saw a change after it that
// is not allowed.
func changedNotAllowed(sigs []*Signature) bool {
	for _, s := range sigs {
		if s.Verdict.SubIndication == SigConstraintsFailure {
			return true
		}
	}
	return false
}
