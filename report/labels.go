package report

import "fmt"

// Bilingual labels for the vocabulary of the evidence model (issue 3) and
// the seed's certificate page. Unknown codes print as themselves.

var kindLabels = map[string]string{
	"account.registered": "账户注册 Account registered",
	"identity.checked":   "实名认证 Identity checked",
	"intent.verified":    "意愿认证 Intent verified",
	"contract.sent":      "发送合同 Contract sent",
	"contract.received":  "接收合同 Contract received",
	"contract.signed":    "签署合同 Contract signed",
	"contract.completed": "签约完成 Contract completed",
	"contract.rejected":  "拒签 Contract rejected",
	"contract.revoked":   "撤销 Contract revoked",
	"data.erased":        "数据销毁 Data erased",
	"report.issued":      "出具报告 Report issued",
	// Notarisation (公证) records, as the server writes them.
	"notarization.requested": "申请公证 Notarisation requested",
	"notarization.issued":    "出具公证书 Notarial certificate issued",
	"notarization.refused":   "公证处拒绝 Notarisation refused",
}

// methodNames are the verification methods of the seed's flows, in
// Chinese and English: 实名认证 of people and enterprises, and 意愿认证.
var methodNames = map[string][2]string{
	// 意愿认证 Intent verification.
	"sms_code":  {"短信验证码校验", "SMS code"},
	"password":  {"签约密码", "Signing password"},
	"otp_token": {"动态令牌", "OTP token"},
	"face":      {"人脸识别", "Face recognition"},
	"liveness":  {"活体识别", "Liveness detection"},
	// 实名认证 of a person.
	"phone3":          {"手机号三要素", "Phone 3-factor"},
	"bankcard4":       {"银行卡四要素", "Bank card 4-factor"},
	"mobile_identity": {"手机身份认证", "Mobile identity"},
	// 实名认证 of an enterprise.
	"enterprise3":          {"企业三要素", "Enterprise 3-factor"},
	"enterprise4":          {"企业四要素", "Enterprise 4-factor"},
	"enterprise_unified":   {"统一企业信息认证", "Unified enterprise check"},
	"authorization_letter": {"授权书认证", "Authorization letter"},
	"remittance":           {"企业对公打款", "Corporate remittance"},
}

// MethodLabel names a verification method in Chinese and English, the
// words every document and page uses; an unknown code is its own name.
func MethodLabel(code string) (zh, en string) {
	if n, ok := methodNames[code]; ok {
		return n[0], n[1]
	}
	return code, code
}

var methodLabels = func() map[string]string {
	m := make(map[string]string, len(methodNames))
	for k, n := range methodNames {
		m[k] = n[0] + " " + n[1]
	}
	return m
}()

var resultLabels = map[string]string{
	"pass":    "通过 Passed",
	"passed":  "通过 Passed",
	"success": "通过 Passed",
	"fail":    "未通过 Failed",
	"failed":  "未通过 Failed",
}

// ResultLabel names a check's result; passed reports whether it passed.
func ResultLabel(code string) (zh, en string, passed bool) {
	switch code {
	case "pass", "passed", "success":
		return "通过", "passed", true
	case "fail", "failed":
		return "未通过", "failed", false
	}
	return code, code, false
}

var statusLabels = map[string]string{
	StatusCompleted:  "已完成 Completed",
	StatusRejected:   "已拒签 Rejected",
	StatusRevoked:    "已撤销 Revoked",
	StatusInProgress: "签署中 In progress",
}

var custodyLabels = map[string]string{
	"certificate":     "签约存证页 Certificate",
	"evidence-report": "证据报告 Evidence report",
	"evidence-bundle": "证据包 Evidence bundle",
}

func label(m map[string]string, code string) string {
	if l, ok := m[code]; ok {
		return l
	}
	return code
}

// detailLabels name the facts of a check (Detail.Field).
var detailLabels = map[string]string{
	"role":                            "身份 Role",
	"id_type":                         "证件类型 ID type",
	"id_front_sha256":                 "身份证正面 ID front SHA-256",
	"id_back_sha256":                  "身份证反面 ID back SHA-256",
	"ocr":                             "OCR 识别结果 OCR result",
	"card_number":                     "银行卡号 Card number",
	"reserved_phone":                  "预留手机号 Reserved phone",
	"face.digits":                     "朗读数字 Digits read",
	"face.similarity":                 "相似度 Similarity",
	"face.liveness":                   "活体检测 Liveness",
	"face.video_sha256":               "视频 Video SHA-256",
	"face.photo_sha256":               "照片 Photo SHA-256",
	"licence_sha256":                  "营业执照 Licence SHA-256",
	"licence_ocr":                     "营业执照识别 Licence OCR",
	"authorization.letter_sha256":     "授权书 Letter SHA-256",
	"authorization.authorized_person": "被授权人 Authorised person",
	"remittance.account_name":         "户名 Account name",
	"remittance.bank":                 "开户银行 Bank",
	"remittance.branch":               "支行 Branch",
	"remittance.account_number":       "账号 Account number",
	"remittance.location":             "开户行所在地 Location",
	"remittance.amount":               "打款金额 Amount (CNY)",
	"remittance.result":               "打款核验 Remittance check",
}

// valueLabels name the coded public values of details.
var valueLabels = map[string]string{
	"legal_representative": "法定代表人 Legal representative",
	"agent":                "经办人 Agent",
	"authorized":           "被授权人 Authorised person",
	"resident_id":          "居民身份证 Resident ID card",
	"residence_permit":     "港澳台居民居住证 Residence permit (HK/Macao/Taiwan)",
	"passport":             "护照 Passport",
	"other":                "其他 Other",
	"passed":               "通过 Passed",
	"failed":               "未通过 Failed",
}

// detailPairs prints details as label/value pairs.
func detailPairs(ds []Detail, show func(Personal) string) [][2]string {
	var out [][2]string
	for _, dt := range ds {
		v := label(valueLabels, dt.Public)
		if dt.Public == "" {
			v = show(dt.Value)
		}
		if v == "" {
			continue
		}
		l := label(detailLabels, dt.Field)
		if len(v) > 40 {
			l = "!" + l
		}
		out = append(out, [2]string{l, v})
	}
	return out
}

// plural writes a count with its English noun: "1 page", "2 pages".
// Chinese needs no plural.
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
