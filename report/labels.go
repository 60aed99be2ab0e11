package report

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
