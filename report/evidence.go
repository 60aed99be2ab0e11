package report

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// renderEvidence lays out the evidence report (电子签约数据证据报告): cover,
// summary, parties and identity checks, intent verifications, the full
// timeline, per-event ledger proofs against the cosigned and time-stamped
// checkpoint, the consistency proof to the newest checkpoint, notary
// cosignatures and TSA tokens, public keys, erasures and chain of custody,
// and a page telling the reader how to check all of it without us.
func renderEvidence(c *Contract, req Request, r render) ([]byte, error) {
	ni, err := parseCheckpoint(c.Checkpoint)
	if err != nil {
		return nil, err
	}
	var latest noteInfo
	if c.Latest.Size > c.Checkpoint.Size {
		if latest, err = parseCheckpoint(c.Latest); err != nil {
			return nil, err
		}
	}
	tokens := make([]tokenInfo, 0, len(c.Checkpoint.Timestamps))
	for _, tok := range c.Checkpoint.Timestamps {
		ti, err := parseToken(tok, c.Checkpoint.Note)
		if err != nil {
			return nil, err
		}
		tokens = append(tokens, ti)
	}
	show := func(p Personal) string { return p.Show(req.Reveal) }
	link := r.verifyLink(c, req)

	d := newDoc(r.pool, "电子签约数据证据报告", "Evidence Report", req.ReportNumber, r.Issuer, req.IssuedAt)

	// Cover.
	d.pdf.AddPage()
	d.space(28)
	d.titleBlock("电子签约数据证据报告", "Electronic Signing Evidence Report")
	d.space(10)
	masking := personalData(req.Reveal)
	d.kv([][2]string{
		{"!报告编号 Report number", req.ReportNumber},
		{"!出具机构 Issuer", r.Issuer},
		{"!出具时间 Issued at", fmtTime(req.IssuedAt)},
		{"!申请方 Requester", requester(c, req.Requester)},
		{"!合同名称 Contract", c.Name},
		{"!合同编号 Contract number", c.ID},
		{"!个人信息 Personal data", masking},
		{"!在线验证 Verify online", link},
	})
	const qrSide = 42.0
	qy := d.y() + 4
	if err := d.qrCode(link, (pageW-qrSide)/2, qy, qrSide); err != nil {
		return nil, err
	}
	d.pdf.SetXY(marginL, qy+qrSide+1)
	d.font(8)
	d.color(colMuted)
	d.cell(contentW, 4, "扫码在线验证 Scan to verify online", "C", true, false)
	d.color(colText)

	d.pdf.AddPage()
	d.heading("一、摘要", "Summary")
	cosigners := make([]string, 0, len(ni.Cosigs))
	for _, s := range ni.Cosigs {
		cosigners = append(cosigners, s.Name)
	}
	tsaTimes := make([]string, 0, len(tokens))
	for _, t := range tokens {
		tsaTimes = append(tsaTimes, fmtTime(t.GenTime))
	}
	d.para(fmt.Sprintf("合同《%s》（编号 %s）共记录 %d 个合同事件，全部写入存证账本（RFC 6962 默克尔日志 %s）。"+
		"本报告中的每一事件均附叶子序号、叶子哈希及相对于检查点（树大小 %d）的包含证明；该检查点由日志签名，"+
		"经 %d 家公证处联署（%s），并取得 %d 个 RFC 3161 可信时间戳（%s）。",
		c.Name, c.ID, c.EventCount, ni.Origin, ni.Size, len(ni.Cosigs), strings.Join(cosigners, "、"), len(tokens), strings.Join(tsaTimes, "、")), 9.5)
	d.para(fmt.Sprintf("Contract %q (number %s) has %s, all appended to the evidence ledger (RFC 6962 Merkle log %s). "+
		"Each event below carries its leaf index, leaf hash and an inclusion proof against the checkpoint of size %d, "+
		"which the log signed, %s cosigned (%s), time-stamped by %s.",
		c.Name, c.ID, plural(c.EventCount, "recorded contract event", "recorded contract events"), ni.Origin, ni.Size,
		plural(len(ni.Cosigs), "notary office", "notary offices"), strings.Join(cosigners, ", "),
		plural(len(tokens), "RFC 3161 token", "RFC 3161 tokens")), 9)
	summary := [][2]string{
		{"合同名称 Contract", c.Name},
		{"合同编号 Number", c.ID},
		{"发起平台 Platform", c.Platform},
		{"所属企业 Company", c.Company},
		{"发送时间 Sent", fmtTime(c.SentAt)},
		{"完成时间 Completed", fmtTime(c.CompletedAt)},
		{"合同状态 Status", label(statusLabels, c.Status)},
		{"状态时间 As of", fmtTime(c.StatusAt)},
		{"签署人数 Signers", strconv.Itoa(signerCount(c))},
		{"事件数 Events", strconv.Itoa(c.EventCount)},
		{"检查点 Checkpoint", fmt.Sprintf("size %d", ni.Size)},
		{"最新检查点 Newest", fmt.Sprintf("size %d", max(c.Latest.Size, ni.Size))},
	}
	d.kv(summary)
	if len(c.Files) > 0 {
		var rows [][]cell
		for i, f := range c.Files {
			digest := "SHA-256 " + f.SHA256
			if f.SM3 != "" {
				digest += "\nSM3     " + f.SM3
			}
			rows = append(rows, []cell{val(strconv.Itoa(i + 1)), val(f.Name), hash(digest)})
		}
		for _, f := range c.SentFiles {
			digest := "发送文件（签署方所签）As sent, signed by the signers\nSHA-256 " + f.SHA256
			if f.SM3 != "" {
				digest += "\nSM3     " + f.SM3
			}
			rows = append(rows, []cell{val("发送时 As sent"), val(f.Name), hash(digest)})
		}
		d.table([]float64{12, 42, contentW - 54}, []string{"序号 No.", "文件 File", "完成文件哈希 Digests"}, rows)
	}

	d.heading("二、当事人及实名认证", "Parties and identity checks")
	var pr [][]cell
	for i, s := range c.Signers {
		signed := fmtTime(s.SignedAt)
		switch {
		case s.Rejected && !s.Signed:
			signed = "已拒签 Rejected"
		case !s.Signed:
			signed = "未签署 Not signed"
		}
		if s.Imported {
			signed += "\n历史导入 Imported"
		}
		pr = append(pr, []cell{val(strconv.Itoa(i + 1)), recorded(show(s.Name)), recorded(show(s.Account)), recorded(joinNonEmpty("\n", s.Company, s.CreditCode)), val(signed), recorded(show(s.SignIP))})
	}
	d.table([]float64{10, 26, 40, 28, 48, contentW - 152}, []string{"序号 No.", "姓名 Name", "账号 Account", "企业 Company", "签署时间 Signed", "IP"}, pr)
	for i, ic := range c.IdentityChecks {
		pairs := [][2]string{
			{"主体 Subject", show(ic.Subject)},
			{"证件号码 ID number", show(ic.IDNumber)},
			{"企业 Company", ic.Company},
			{"统一社会信用代码 Credit code", ic.CreditCode},
			{"手机号 Phone", show(ic.Phone)},
			{"结果 Result", label(resultLabels, ic.Result)},
			{"方式 Method", label(methodLabels, ic.Method)},
			{"时间 Time", fmtTime(ic.At)},
			{"!核验来源 Source", ic.Source},
			{"!数字证书 Certificate", strings.TrimSpace(ic.CA + "  " + ic.CertSerial)},
			{"叶子序号 Leaf", "#" + strconv.FormatUint(ic.LeafIndex, 10)},
		}
		pairs = append(pairs, detailPairs(ic.Details, show)...)
		pairs = slices.DeleteFunc(pairs, func(p [2]string) bool { return p[1] == "" })
		d.keep(subheadingHeight + 1 + d.kvHeight(pairs))
		d.subheading(fmt.Sprintf("实名认证 %d  Identity check %d", i+1, i+1))
		d.kv(pairs)
	}

	endings(d, c, show)

	d.heading("三、意愿认证", "Intent verifications")
	var vr [][]cell
	for _, iv := range c.Intents {
		method := label(methodLabels, iv.Method)
		for _, p := range detailPairs(iv.Details, show) {
			method += "\n" + strings.TrimPrefix(p[0], "!") + " " + p[1]
		}
		vr = append(vr, []cell{recorded(show(iv.Subject)), val(method), val(label(resultLabels, iv.Result)), recorded(show(iv.IP)), val(fmtTime(iv.At)), val("#" + strconv.FormatUint(iv.LeafIndex, 10))})
	}
	if len(vr) == 0 {
		d.para("无意愿认证记录。 No intent verification was recorded for this contract.", textSize)
	} else {
		d.table([]float64{26, 44, 20, 28, 46, contentW - 164}, []string{"主体 Subject", "方式 Method", "结果 Result", "IP", "时间 Time", "叶子 Leaf"}, vr)
	}

	d.heading("四、签约时间线", "Timeline")
	var tr [][]cell
	for i, e := range c.Events {
		tr = append(tr, []cell{val(strconv.Itoa(i + 1)), val(fmtTime(e.At)), val(label(kindLabels, e.Kind)), recorded(show(e.Actor)), val("#" + strconv.FormatUint(e.LeafIndex, 10))})
	}
	d.table([]float64{10, 48, 62, 36, contentW - 156}, []string{"序号 No.", "时间 Time", "事件 Event", "主体 Actor", "叶子 Leaf"}, tr)

	d.heading("五、账本包含证明", "Inclusion proofs")
	d.para(fmt.Sprintf("以下每一事件的叶子哈希为 SHA-256(0x00 || 叶子字节)，审计路径自叶子向根排列，可对照检查点（树大小 %d，根哈希 %s）逐一验证。"+
		" Each leaf hash is SHA-256(0x00 || leaf bytes); the audit path runs from the leaf up and verifies against the checkpoint of size %d.",
		ni.Size, hashB64(ni.Root), ni.Size), 8.5)
	for i, e := range c.Events {
		rows := [][]cell{
			{lbl("叶子哈希 Leaf hash"), hash(hashHex(e.LeafHash))},
			{lbl("检查点 Checkpoint"), val(fmt.Sprintf("size %d  root %s", ni.Size, hashB64(ni.Root)))},
		}
		for j, h := range e.Inclusion {
			rows = append(rows, []cell{lbl(fmt.Sprintf("路径 Path %d", j+1)), hash(hashHex(h))})
		}
		// An event's proof is one block: never a path without its leaf.
		h := subheadingHeight + 2.5
		for _, r := range rows {
			h += d.rowHeight([]float64{38, contentW - 38}, r)
		}
		d.keep(h)
		d.subheading(fmt.Sprintf("事件 %d · %s · 叶子 #%d", i+1, label(kindLabels, e.Kind), e.LeafIndex))
		for _, r := range rows {
			d.row([]float64{38, contentW - 38}, r, nil)
		}
		d.space(1.5)
	}

	var cr [][]cell
	for _, s := range ni.Sigs {
		cr = append(cr, []cell{val("日志 Log"), val(s.Name), val(fmt.Sprintf("%08x", s.KeyHash)), val("—")})
	}
	for _, s := range ni.Cosigs {
		cr = append(cr, []cell{val("公证处 Notary"), val(s.Name), val(fmt.Sprintf("%08x", s.KeyHash)), val(fmtTime(s.Time))})
	}
	crWidths := []float64{28, 66, 26, contentW - 120}
	crHead := []string{"签署方 Role", "名称 Name", "密钥哈希 Key hash", "联署时间 Cosigned at"}
	noteLines := strings.Split(strings.TrimSuffix(string(c.Checkpoint.CosignedNote()), "\n"), "\n")
	// The note and the table of its signatures are one block with their
	// heading: the table alone atop the next page would read as the
	// continuation of the proofs.
	block := 11.5 + subheadingHeight + 2 + 3.6*float64(len(noteLines)) + d.rowHeight(crWidths, []cell{{text: crHead[2], head: true}})
	for _, r := range cr {
		block += d.rowHeight(crWidths, r)
	}
	d.keep(block)
	d.heading("六、检查点、公证联署与一致性证明", "Checkpoint, cosignatures and consistency")
	d.subheading("检查点签名便笺 Signed checkpoint note (C2SP signed-note)")
	d.code(noteLines)
	d.table(crWidths, crHead, cr)
	if c.Latest.Size > ni.Size {
		rows := [][]cell{{lbl("最新根 Newest root"), val(hashB64(latest.Root))}}
		for j, h := range c.Consistency {
			rows = append(rows, []cell{lbl(fmt.Sprintf("证明 Proof %d", j+1)), hash(hashHex(h))})
		}
		h := subheadingHeight + 1
		for _, r := range rows {
			h += d.rowHeight([]float64{38, contentW - 38}, r)
		}
		d.keep(h)
		d.subheading(fmt.Sprintf("一致性证明 Consistency proof: size %d → %d", ni.Size, latest.Size))
		for _, r := range rows {
			d.row([]float64{38, contentW - 38}, r, nil)
		}
		d.space(2)
	}

	d.heading("七、可信时间戳", "RFC 3161 time-stamp tokens")
	noteSum := sha256.Sum256(c.Checkpoint.Note)
	for i, t := range tokens {
		match := "一致 matches"
		if !t.ImprintsOK {
			match = "不一致 DOES NOT MATCH"
		}
		pairs := [][2]string{
			{"!时间戳机构 TSA", t.TSA},
			{"!时间 genTime", fmtTime(t.GenTime)},
			{"!序列号 Serial", t.Serial},
			{"!策略 Policy", t.Policy},
			{"!摘要 Imprint", t.Hash + " " + t.Imprint},
			{"!检查点便笺摘要 SHA-256(note)", hex.EncodeToString(noteSum[:]) + "  " + match},
		}
		d.keep(subheadingHeight + 1 + d.kvHeight(pairs))
		d.subheading(fmt.Sprintf("时间戳 %d  Token %d", i+1, i+1))
		d.kv(pairs)
	}

	d.heading("八、公钥", "Public keys")
	var kl []string
	for _, k := range c.Keys.Log {
		kl = append(kl, "log    "+k)
	}
	for _, k := range c.Keys.Notary {
		kl = append(kl, "notary "+k)
	}
	d.code(kl)
	var tr2 [][]cell
	for _, der := range c.Keys.TSACert {
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, fmt.Errorf("%w: TSA certificate: %w", ErrEvidence, err)
		}
		sum := sha256.Sum256(der)
		tr2 = append(tr2, []cell{val(cert.Subject.String()), val(cert.Issuer.String()), hash(hex.EncodeToString(sum[:]))})
	}
	if len(tr2) > 0 {
		d.table([]float64{50, 50, contentW - 100}, []string{"时间戳证书 TSA certificate", "签发者 Issuer", "SHA-256"}, tr2)
	}
	if r.signer != nil {
		var sr [][]cell
		for _, cert := range append([]*x509.Certificate{r.signer.Cert}, r.signer.Chain...) {
			sum := sha256.Sum256(cert.Raw)
			sr = append(sr, []cell{val(cert.Subject.String()), val(cert.Issuer.String()), hash(hex.EncodeToString(sum[:]))})
		}
		d.table([]float64{50, 50, contentW - 100}, []string{"本报告签名证书 Document signing", "签发者 Issuer", "SHA-256"}, sr)
	}

	d.heading("九、数据销毁与报告出具记录", "Erasures and chain of custody")
	if len(c.Erased) == 0 {
		d.para("无数据销毁记录。 No personal data of this contract has been erased.", 9)
	} else {
		var er [][]cell
		for _, e := range c.Erased {
			leaf := "—"
			if e.ErasureLeaf != 0 {
				leaf = "#" + strconv.FormatUint(e.ErasureLeaf, 10)
			}
			er = append(er, []cell{val(e.Field), val("已销毁 erased"), val(fmtTime(e.ErasedAt)), val(leaf)})
		}
		d.table([]float64{60, 30, 50, contentW - 140}, []string{"字段 Field", "状态 State", "时间 Time", "销毁事件叶子 Leaf"}, er)
	}
	if len(c.Custody) == 0 {
		d.para("此前未出具报告。 No earlier report was issued for this contract.", 9)
	} else {
		var cr2 [][]cell
		for _, e := range c.Custody {
			rev := "脱敏 masked"
			if e.Revealed {
				rev = "完整 revealed"
			}
			cr2 = append(cr2, []cell{hash(e.ReportNumber), val(label(custodyLabels, e.Kind)), val(requester(c, e.Requester)), val(rev), val(fmtTime(e.At)), val("#" + strconv.FormatUint(e.LeafIndex, 10))})
		}
		d.table([]float64{38, 30, 34, 22, 40, contentW - 164}, []string{"报告编号 Report", "类型 Kind", "申请方 Requester", "个人信息 PII", "时间 Time", "叶子 Leaf"}, cr2)
	}

	d.keep(120)
	d.heading("十、自行验证方法", "How to verify this report yourself")
	bundleFile := r.bundleFile
	if bundleFile == "" {
		bundleFile = BundleFileDefault
	}
	d.para("本报告的每一项结论均可脱离本平台独立验证。请下载本合同的证据包（evidence bundle），并从公开渠道取得日志与公证处公钥。"+
		" Everything this report states can be checked without us: download the contract's evidence bundle and obtain the log's and notaries' public keys from a published source.", 9)
	d.subheading("1. 用命令行离线验证证据包 Verify the bundle offline")
	d.para(fmt.Sprintf("将证据包保存为 %s，在其所在目录依次执行以下命令：本平台验证程序（公钥已固定），解包后用 OpenSSL 验证 RFC 3161 可信时间戳，用 poppler 的 pdfsig 验证 PDF 签名。"+
		" Save the bundle as %s and run these commands in its directory: our verifier with the keys pinned, then, in the unpacked bundle, OpenSSL on the RFC 3161 tokens and poppler's pdfsig on the PDFs.", bundleFile, bundleFile), 9)
	steps, err := verifySteps(c, bundleFile, []string{"certificate.pdf", "evidence-report.pdf"})
	if err != nil {
		return nil, err
	}
	// One block per command: the verifier's long key lines are set small
	// enough not to wrap, the others at the normal size.
	for _, cmd := range splitCommands(steps) {
		d.code(cmd)
	}
	d.subheading("2. 用 Go 标准库验证默克尔证明 Check the Merkle proofs with Go's sumdb/tlog")
	d.code([]string{
		"// golang.org/x/mod/sumdb/tlog and golang.org/x/mod/sumdb/note",
		"n, _ := note.Open(checkpointNote, note.VerifierList(logVerifier, notaryVerifiers...))",
		"tlog.CheckRecord(proof, size, root, index, tlog.RecordHash(leafBytes))  // each proofs/<index>.tlog-proof",
		"tlog.CheckTree(consistency, newSize, newRoot, oldSize, oldRoot)",
	})
	d.para("每个包含证明同时以 C2SP tlog-proof 格式提供（proofs/<叶子序号>.tlog-proof），可用该生态的任何工具检查。"+
		" Every inclusion proof is also provided as a C2SP tlog-proof file (proofs/<index>.tlog-proof) for the tools of that ecosystem.", 9)
	if err := d.signatureBlock("", r.Issuer, req.IssuedAt, r.VerifyURL, r.seal); err != nil {
		return nil, err
	}
	return d.finish()
}

// requester names who asked for a report: the tenant's name with the key
// label the chain of custody records ("<tenant id>/legal").
func requester(c *Contract, label string) string {
	if c.Tenant == "" {
		return label
	}
	if _, role, ok := strings.Cut(label, "/"); ok {
		return c.Tenant + "（" + role + "）"
	}
	return c.Tenant
}

// personalData says on both documents whether their personal values are
// masked or, at an authorised request, shown in full: a reader of a printed
// page must be able to tell the two apart.
func personalData(reveal bool) string {
	if reveal {
		return "个人信息完整显示（经授权） Personal data shown in full (authorised request)"
	}
	return "个人信息已按规定脱敏 Personal data masked"
}
