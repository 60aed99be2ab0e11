package report

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/cunzheng/cunzheng/verify"
)

// Notarial is what a notary office's 公证书 (notarial certificate) on an
// evidence bundle states: which request, which log and contract, what the
// office checked itself, and who issued it. The office signs the PDF with
// its own certificate (DocSigner), not the platform's.
type Notarial struct {
	// Number is the request id, printed in the header.
	Number string
	// Office is the office's key name; Notary the notary who issues.
	Office, Notary string
	// Origin is the log's checkpoint origin; Contract the tenant's
	// contract reference its leaves use (no personal data);
	// ContractNumber the contract's number as the bundle names it (the
	// 公证书 goes to the requester alone). Optional.
	Origin, Contract, ContractNumber string
	RequestedAt                      time.Time
	IssuedAt                         time.Time
	BundleSHA256                     string
	CheckpointSize                   uint64
	Events                           int
	// Checks are the checks the office ran on the bundle, in order.
	Checks []string
}

// checkZH names one of the office's checks (its record: "step: detail",
// the step of verify.Bundle or the office's own) in Chinese; the record
// itself stays beside it in English, as the office kept it.
func checkZH(check string) string {
	step, _, _ := strings.Cut(check, ": ")
	if step == "own records" {
		return "本公证处的记录"
	}
	return verify.BundleStepZH(step, func(kind string) string {
		if l, ok := kindLabels[kind]; ok {
			zh, _, _ := strings.Cut(l, " ")
			return zh
		}
		return kind
	})
}

// RenderNotarial renders the 公证书 of n, unsigned; sign it with the
// office's DocSigner.
func RenderNotarial(n Notarial) ([]byte, error) {
	if n.Number == "" || n.Office == "" || n.Notary == "" || n.BundleSHA256 == "" {
		return nil, fmt.Errorf("report: a notarial certificate needs the request, office, notary and bundle digest")
	}
	d := newDoc(nil, "公证书", "Notarial Certificate", n.Number, n.Office, n.IssuedAt)
	d.numberLabel = "申请编号 Request No. "
	d.pdf.AddPage()
	d.titleBlock("公证书", "Notarial Certificate — preservation of electronic evidence")
	d.heading("一、申请", "Request")
	d.kv([][2]string{
		{"!申请编号 Request", n.Number},
		{"!日志 Log", n.Origin},
		{"!合同编号 Contract No.", n.ContractNumber},
		{"!合同标识 Contract reference", n.Contract},
		{"申请时间 Requested", fmtTime(n.RequestedAt)},
		{"检查点大小 Checkpoint size", strconv.FormatUint(n.CheckpointSize, 10)},
		{"事件数 Events", strconv.Itoa(n.Events)},
	})
	d.heading("二、证据包", "Evidence bundle")
	d.table([]float64{40, contentW - 40}, []string{"项目 Item", "值 Value"}, [][]cell{
		{val("SHA-256"), hash(n.BundleSHA256)},
	})
	d.heading("三、本公证处的核验", "What this office checked itself")
	d.para("本公证处未询问日志，而是以其所跟随的日志公钥、本公证处自己的联署签名及其自行保存的记录，逐项核验了上述证据包：", 10)
	d.para("This office did not ask the log: it checked the bundle above against the log key it follows, its own cosignatures and its own records:", 9)
	rows := make([][]cell, 0, len(n.Checks))
	for i, c := range n.Checks {
		rows = append(rows, []cell{val(strconv.Itoa(i + 1)), small(val(checkZH(c) + " " + c))})
	}
	d.table([]float64{12, contentW - 12}, []string{"序号 No.", "核验项 Check"}, rows)
	d.heading("四、证明", "Attestation")
	d.para(fmt.Sprintf("兹证明：上述证据包中的每一条记录均载于日志 %s 大小为 %d 的检查点，该检查点经本公证处核验其只增不改并联署；证据包与本公证处所保存的记录一致。", n.Origin, n.CheckpointSize), 10.5)
	d.para(fmt.Sprintf("This certifies that every record of the bundle above is in the checkpoint of size %d of the log %s, which this office checked to extend every earlier one and cosigned, and that the bundle agrees with the records this office keeps.", n.CheckpointSize, n.Origin), 9)
	d.kv([][2]string{
		{"!公证处 Office", n.Office},
		{"公证员 Notary", n.Notary},
		{"出具时间 Issued", fmtTime(n.IssuedAt)},
	})
	return d.finish()
}
