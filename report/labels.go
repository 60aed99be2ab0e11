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

var methodLabels = map[string]string{
	"sms_code":             "短信验证码校验 SMS code",
	"face":                 "人脸识别 Face recognition",
	"password":             "签约密码 Signing password",
	"otp_token":            "动态令牌 OTP token",
	"phone3":               "手机号三要素 Phone 3-factor",
	"bankcard4":            "银行卡四要素 Bank card 4-factor",
	"enterprise4":          "企业四要素 Enterprise 4-factor",
	"remittance":           "对公打款 Corporate remittance",
	"authorization_letter": "授权书 Authorization letter",
}

var resultLabels = map[string]string{
	"pass":    "通过 Passed",
	"passed":  "通过 Passed",
	"success": "通过 Passed",
	"fail":    "未通过 Failed",
	"failed":  "未通过 Failed",
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
