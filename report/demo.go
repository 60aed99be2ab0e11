package report

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"
)

// DemoContract renders the demo contract of `serve --demo` (the seed's
// 劳动合同 between 伟伟集团 and 叶建华, contract number number) as sent to
// its two signers at sentAt, and signs it at completion (signAt) with the
// service's document signer and TSA: the documents the signing platform
// would hand over, so that the demo's ledger records name files a court can
// upload. The platform signs once, as a certification signature permitting
// no later change, appended to the sent document as an incremental update:
// the sent PDF (what both signers were shown, named by their signing
// events) is the signed PDF's first revision, byte for byte. The people
// and terms are made up.
func (s *Service) DemoContract(ctx context.Context, number string, sentAt, signAt time.Time) (sent, signed []byte, err error) {
	at := sentAt
	d := newDoc(nil, "劳动合同", "Employment contract (demo)", number, "伟伟集团 (demo)", at)
	d.numberLabel = "合同编号 Contract No. "
	d.pdf.AddPage()
	d.titleBlock("劳动合同", "Employment contract — demonstration document")
	d.kv([][2]string{
		{"合同编号 Number", number},
		{"签约平台 Platform", s.cfg.Issuer},
		{"!甲方（用人单位）Employer", "伟伟集团（演示）"},
		{"!乙方（劳动者）Employee", "叶建华（演示）"},
	})
	// The term starts on the first of the month after the contract is
	// sent (and signed, minutes later) and runs three years, so that the
	// contract and its signature agree.
	local := at.In(reportZone)
	start := time.Date(local.Year(), local.Month()+1, 1, 0, 0, 0, 0, reportZone)
	end := start.AddDate(3, 0, -1)
	ymd := func(t time.Time) string { return fmt.Sprintf("%d 年 %d 月 %d 日", t.Year(), t.Month(), t.Day()) }
	clauses := [][3]string{
		{"一、合同期限", "Term", "本合同为固定期限劳动合同，自 " + ymd(start) + "起至 " + ymd(end) + "止，其中试用期三个月。"},
		{"二、工作内容和工作地点", "Work and place", "乙方同意根据甲方工作需要，担任软件工程师岗位，工作地点为浙江省杭州市。"},
		{"三、工作时间和休息休假", "Hours and leave", "甲方实行标准工时制度，乙方每日工作不超过八小时，每周工作不超过四十小时，依法享受法定节假日、年休假等假期。"},
		{"四、劳动报酬", "Pay", "甲方每月十五日前以货币形式足额支付乙方上月工资，试用期工资不低于转正工资的百分之八十。"},
		{"五、社会保险和福利待遇", "Social insurance", "甲乙双方依法参加社会保险，按时足额缴纳社会保险费。"},
		{"六、合同的解除和终止", "Termination", "本合同的解除和终止按照《中华人民共和国劳动合同法》的有关规定执行。"},
		{"七、其他", "Other", "本合同一式两份，甲乙双方各执一份，经双方以电子签名方式签署后生效，与纸质合同具有同等法律效力。本文件为演示文档，当事人与条款均为虚构。"},
	}
	for i, c := range clauses {
		if i == 5 {
			// The signatures are on page 2, about where the demo's
			// contract.signed event places them (0.63 and 0.70 down).
			d.pdf.AddPage()
		}
		d.heading(c[0], c[1])
		d.para(c[2], 10.5)
	}
	if top := 0.56 * pageH; d.y() < top {
		d.space(top - d.y())
	}
	d.heading("签署", "Signatures")
	d.kv([][2]string{
		{"甲方（盖章）Employer", "伟伟集团（演示）"},
		{"乙方（签字）Employee", "叶建华（演示）"},
		{"发送日期 Sent", at.In(reportZone).Format("2006-01-02")},
		{"签署方式 Method", "电子签名 Electronic signature"},
		{"签署时间 Signed", "见签约存证页 See the signing certificate page"},
	})
	sent, err = d.finish()
	if err != nil {
		return nil, nil, err
	}
	signed, err = s.sign(ctx, sent, "劳动合同 "+number+" 签署完成 Contract completed (demo)", signAt)
	if err != nil {
		return nil, nil, fmt.Errorf("report: signing the demo contract: %w", err)
	}
	if !bytes.HasPrefix(signed, sent) {
		return nil, nil, errors.New("report: the signed demo contract does not extend the sent one")
	}
	return sent, signed, nil
}
