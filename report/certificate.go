package report

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// render carries what every document needs besides the contract.
type render struct {
	Issuer    string     // issuing platform, printed in headers and on the cover
	VerifyURL string     // online verification page; the QR code points here
	pool      *docPool   // documents with fonts parsed; nil prepares inline
	signer    *DocSigner // its certificates are listed in the evidence report
	// bundleFile is the bundle's file name when the document is rendered
	// for a bundle, which the evidence report's commands then use.
	bundleFile string
	// seal is the operator's seal PNG; nil draws one from Issuer.
	seal []byte
}

// verifyLink is the online verification address printed and encoded in the
// QR code: the verification page with the report number and the contract's
// checkpoint, so the page can look both up.
func (r render) verifyLink(c *Contract, req Request) string {
	q := url.Values{}
	q.Set("report", req.ReportNumber)
	q.Set("size", strconv.FormatUint(c.Checkpoint.Size, 10))
	sep := "?"
	if strings.Contains(r.VerifyURL, "?") {
		sep = "&"
	}
	return r.VerifyURL + sep + q.Encode()
}

// renderCertificate lays out the signing certificate page (签约存证页): the
// seed's five questions — what contract, who signed, when and how, where,
// and the document's fingerprint — plus the ledger references that make the
// page checkable. It fits one A4 page for a two-signer contract and two for
// larger ones.
func renderCertificate(c *Contract, req Request, r render) ([]byte, error) {
	ni, err := parseCheckpoint(c.Checkpoint)
	if err != nil {
		return nil, err
	}
	d := newDoc(r.pool, "签约存证页", "Signing Certificate", req.ReportNumber, r.Issuer, req.IssuedAt)
	d.pdf.AddPage()
	d.titleBlock("签约存证页", "Signing Certificate")
	show := func(p Personal) string { return p.Show(req.Reveal) }

	d.heading("一、合同信息", "Contract")
	d.kv([][2]string{
		{"!合同名称 Contract", c.Name},
		{"合同编号 Number", c.ID},
		{"签署人数 Signers", strconv.Itoa(signerCount(c))},
		{"发送时间 Sent", fmtTime(c.SentAt)},
		{"签约完成时间 Completed", fmtTime(c.CompletedAt)},
		{"合同状态 Status", label(statusLabels, c.Status)},
		{"状态时间 As of", fmtTime(c.StatusAt)},
		{"发件人账号 Sender", strings.TrimSpace(show(c.Sender.Name) + " " + show(c.Sender.Account))},
		{"所属企业 Company", joinNonEmpty(" ", c.Company, creditCode(c.Sender.CreditCode))},
		{"发起平台 Platform", c.Platform},
		{"发起IP Sender IP", show(c.SenderIP)},
		{"个人信息 Personal data", personalData(req.Reveal)},
	})

	if c.FilesAsSent {
		d.heading("二、文件清单（发送时，合同未完成）", "Files as sent (not completed)")
	} else {
		d.heading("二、文件清单", "Files")
	}
	rows := make([][]cell, 0, len(c.Files))
	for i, f := range c.Files {
		digest := "SHA-256 " + f.SHA256
		if f.SM3 != "" {
			digest += "\nSM3     " + f.SM3
		}
		rows = append(rows, []cell{val(fmt.Sprintf("文件%d", i+1)), val(f.Name), hash(digest)})
	}
	for _, f := range c.SentFiles {
		digest := "发送文件（签署方所签）As sent, signed by the signers\nSHA-256 " + f.SHA256
		if f.SM3 != "" {
			digest += "\nSM3     " + f.SM3
		}
		rows = append(rows, []cell{val("发送时 As sent"), val(f.Name), hash(digest)})
	}
	d.table([]float64{14, 30, contentW - 44}, []string{"序号 No.", "文件名称 File", "完成文件哈希 Digest of the completed file"}, rows)

	d.heading("三、签署记录", "Signing record")
	// Each signer is one compact block (the seed's fields, grouped), so
	// that a two-signer contract fits two pages.
	for i, s := range c.Signers {
		var checks []string
		for _, m := range s.Methods {
			checks = append(checks, joinNonEmpty("  ", label(methodLabels, m.Name), label(resultLabels, m.Result), fmtTime(m.At)))
		}
		var ids []string
		for _, ic := range c.IdentityChecks {
			if ic.Account.Same(s.Account) {
				ids = append(ids, joinNonEmpty("  ", label(methodLabels, ic.Method), label(resultLabels, ic.Result),
					ic.Source, strings.TrimSpace(ic.CA+" "+ic.CertSerial), fmtTime(ic.At)))
			}
		}
		var pos []string
		for _, p := range s.Positions {
			pos = append(pos, fmt.Sprintf("第%d页 page %d (X %.2f, Y %.2f)", p.Page, p.Page, p.X, p.Y))
		}
		signedAt, leaf := fmtTime(s.SignedAt), "#"+strconv.FormatUint(s.SignedLeafIndex, 10)
		switch {
		case s.Rejected && !s.Signed:
			signedAt, leaf = "未签署，已拒签 Rejected", "—"
		case !s.Signed:
			signedAt, leaf = "未签署 Not signed", "—"
		}
		if s.Imported {
			signedAt += "\n历史导入 Imported"
		}
		pairs := [][2]string{
			{"签约主体 Signer", show(s.Name)},
			{"签署人账号 Account", show(s.Account)},
		}
		if s.Company != "" {
			pairs = append(pairs, [2]string{"!所属企业 Company", joinNonEmpty(" ", s.Company, creditCode(s.CreditCode))})
		}
		pairs = append(pairs, [][2]string{
			{"接收合同时间 Received", fmtTime(s.ReceivedAt)},
			{"接收合同账号 Received by", show(s.ReceiveAccount)},
			{"接收合同手机号 Receiving phone", show(s.ReceivePhone)},
			{"接收合同邮箱 Receiving email", show(s.ReceiveEmail)},
			{"签署合同时间 Signed", signedAt},
			{"签署IP Sign IP", show(s.SignIP)},
			{"签署事件叶子 Leaf", leaf},
			{"!实名认证 Identity checks", strings.Join(ids, "\n")},
			{"!签署校验方式 Checks", strings.Join(checks, "\n")},
			{"!证书序列号 Cert. serial", s.CertSerial + issuerSuffix(s.CertIssuer)},
			{"!签署文件及位置 File, positions", joinNonEmpty("\n", s.SignedFile, strings.Join(pos, "\n"))},
		}...)
		if s.SealID != "" {
			pairs = append(pairs, [2]string{"!印章 Seal", s.SealID + "  SHA-256 " + s.SealSHA256})
		}
		// A signer's block never splits across pages.
		pairs = slices.DeleteFunc(pairs, func(p [2]string) bool { return p[0] == "!实名认证 Identity checks" && p[1] == "" })
		d.keep(subheadingHeight + 1 + d.kvHeight(pairs))
		d.subheading(fmt.Sprintf("签署方 %d  Signer %d", i+1, i+1))
		d.kv(pairs)
	}
	endings(d, c, show)

	d.heading("四、存证信息", "Ledger references")
	// Two events to a row: a contract's timeline is most of the page
	// otherwise, and the checkpoint block would be left alone on a page.
	var er [][]cell
	for i := 0; i < len(c.Events); i += 2 {
		row := []cell{}
		for _, e := range c.Events[i:min(i+2, len(c.Events))] {
			row = append(row, small(val(fmtShortTime(e.At))), small(val(label(kindLabels, e.Kind))), small(val("#"+strconv.FormatUint(e.LeafIndex, 10))))
		}
		for len(row) < 6 {
			row = append(row, small(val("")))
		}
		er = append(er, row)
	}
	const tw, kw = 31.0, 44.0
	lw := contentW/2 - tw - kw
	d.tableSized([]float64{tw, kw, lw, tw, kw, lw}, []string{"时间 Time (UTC+8)", "事件 Event", "叶子 Leaf", "时间 Time (UTC+8)", "事件 Event", "叶子 Leaf"}, er, 7.8)

	// The checkpoint block sits beside the QR code, under its own
	// heading, whole on one page with the closing note and seal: kept by
	// their measured heights (a fixed estimate fell short once the
	// TSA and link rows wrapped, leaving the closing note alone on a last
	// page).
	const qrSide = 38.0
	pairs := [][2]string{
		{"日志 Log", ni.Origin},
		{"检查点 Checkpoint", fmt.Sprintf("树大小 size %d", ni.Size)},
		{"根哈希 Root", hashB64(ni.Root)},
	}
	for _, s := range ni.Cosigs {
		pairs = append(pairs, [2]string{"公证处联署 Cosigned", s.Name + "  " + fmtTime(s.Time)})
	}
	for _, tok := range c.Checkpoint.Timestamps {
		ti, err := parseToken(tok, c.Checkpoint.Note)
		if err != nil {
			return nil, err
		}
		pairs = append(pairs, [2]string{"可信时间 RFC 3161", fmtTime(ti.GenTime) + "  " + ti.TSA})
	}
	link := r.verifyLink(c, req)
	pairs = append(pairs, [2]string{"在线验证 Verify online", link})
	w := contentW - qrSide - 4
	rowsH := 0.0
	for _, p := range pairs {
		rowsH += d.rowHeight([]float64{34, w - 34}, []cell{lbl(p[0]), val(p[1])})
	}
	lead := "本页由存证平台依据账本记录出具。每一事件均以叶子序号记入 RFC 6962 默克尔日志，" +
		"该日志检查点经公证处联署并取得 RFC 3161 可信时间戳；完整证明见《电子签约数据证据报告》及证据包。" +
		" This page is issued from the ledger. Every event is a leaf of an RFC 6962 Merkle log whose checkpoint " +
		"is cosigned by notary offices and time-stamped (RFC 3161); the evidence report and the evidence bundle carry the full proofs."
	d.keep(subheadingHeight + 1 + max(rowsH, qrSide+6) + 2 + d.signatureBlockHeight(lead, r.Issuer, r.VerifyURL))
	d.subheading("检查点与在线验证 Checkpoint and online verification")
	top := d.y()
	for _, p := range pairs {
		d.row([]float64{34, w - 34}, []cell{lbl(p[0]), val(p[1])}, nil)
	}
	rowsEnd := d.y()
	if err := d.qrCode(link, pageW-marginR-qrSide, top, qrSide); err != nil {
		return nil, err
	}
	d.font(7.5)
	d.color(colMuted)
	d.pdf.SetXY(pageW-marginR-qrSide, top+qrSide+0.5)
	d.cell(qrSide, 4, "扫码在线验证 Scan to verify", "C", false, false)
	d.pdf.SetXY(marginL, max(rowsEnd, top+qrSide+6))
	d.space(2)
	if err := d.signatureBlock(lead, r.Issuer, req.IssuedAt, r.VerifyURL, r.seal); err != nil {
		return nil, err
	}
	return d.finish()
}

func joinNonEmpty(sep string, parts ...string) string {
	var out []string
	for _, p := range parts {
		if p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, sep)
}

func issuerSuffix(issuer string) string {
	if issuer == "" {
		return ""
	}
	return "  (" + issuer + ")"
}

// signerCount is the 签署人数 a document prints: what contract.sent
// recorded, or the signers seen when it recorded none.
func signerCount(c *Contract) int {
	if c.SignerCount > 0 {
		return c.SignerCount
	}
	return len(c.Signers)
}

func creditCode(code string) string {
	if code == "" {
		return ""
	}
	return "（统一社会信用代码 " + code + "）"
}

// endings prints the rejections and revocations with their reasons.
func endings(d *doc, c *Contract, show func(Personal) string) {
	if len(c.Endings) == 0 {
		return
	}
	d.heading("拒签与撤销", "Rejection and revocation")
	for _, e := range c.Endings {
		d.kv([][2]string{
			{"事件 Event", label(kindLabels, e.Kind)},
			{"时间 Time", fmtTime(e.At)},
			{"操作人 By", joinNonEmpty(" ", show(e.Actor), show(e.Account))},
			{"叶子序号 Leaf", "#" + strconv.FormatUint(e.LeafIndex, 10)},
			{"!原因 Reason", show(e.Reason)},
		})
	}
}
