package report

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"strings"

	"github.com/transparency-dev/formats/proof"

	"github.com/cunzheng/cunzheng/ledger/tlogfmt"
)

// writeBundle writes the evidence bundle (a zip; format in tlogfmt.Manifest):
// the leaf bytes, an inclusion proof per event as a C2SP tlog-proof file,
// the checkpoints as signed and as cosigned with their RFC 3161 tokens, the
// consistency proof to the newest checkpoint, the openings the request may
// see, the keys, both signed PDFs, a README and the manifest. `cunzheng
// verify bundle` (verify.Bundle) checks it offline.
func writeBundle(c *Contract, req Request, certPDF, evPDF []byte, signer *DocSigner) ([]byte, error) {
	ni, err := parseCheckpoint(c.Checkpoint)
	if err != nil {
		return nil, err
	}
	m := tlogfmt.Manifest{
		Format:       tlogfmt.BundleFormat,
		ReportNumber: req.ReportNumber,
		Contract:     c.ID,
		IssuedAt:     req.IssuedAt.UTC(),
		Origin:       ni.Origin,
		Checkpoint:   c.Checkpoint.Size,
		Keys:         tlogfmt.ManifestKeys{Log: c.Keys.Log, Notary: c.Keys.Notary},
	}
	var files []bundleFile
	add := func(name string, data []byte) string {
		files = append(files, bundleFile{name, data})
		sum := sha256.Sum256(data)
		m.Files = append(m.Files, tlogfmt.ManifestFile{Path: name, SHA256: hex.EncodeToString(sum[:])})
		return name
	}

	cps := []Checkpoint{c.Checkpoint}
	if c.Latest.Size > c.Checkpoint.Size {
		cps = append(cps, c.Latest)
	}
	for _, cp := range cps {
		mc := tlogfmt.ManifestCheckpoint{
			Size:     cp.Size,
			Root:     base64.StdEncoding.EncodeToString(cp.Root[:]),
			Signed:   add(fmt.Sprintf("checkpoints/%d.note.signed", cp.Size), cp.Note),
			Cosigned: add(fmt.Sprintf("checkpoints/%d.note", cp.Size), cp.CosignedNote()),
		}
		for i, tok := range cp.Timestamps {
			mc.Timestamps = append(mc.Timestamps, add(fmt.Sprintf("checkpoints/%d.tst.%d", cp.Size, i), tok))
		}
		m.Checkpoints = append(m.Checkpoints, mc)
	}
	cosigned := c.Checkpoint.CosignedNote()
	for _, e := range c.Events {
		if len(e.Leaf) == 0 {
			return nil, fmt.Errorf("%w: leaf %d: no leaf bytes", ErrEvidence, e.LeafIndex)
		}
		p := proof.TLogProof{Index: e.LeafIndex, Checkpoint: cosigned}
		for _, h := range e.Inclusion {
			p.Hashes = append(p.Hashes, h)
		}
		m.Events = append(m.Events, tlogfmt.ManifestEvent{
			Index:    e.LeafIndex,
			Kind:     e.Kind,
			Leaf:     add(fmt.Sprintf("leaves/%d.leaf", e.LeafIndex), e.Leaf),
			LeafHash: hashHex(e.LeafHash),
			Proof:    add(fmt.Sprintf("proofs/%d.tlog-proof", e.LeafIndex), p.Marshal()),
		})
	}
	if c.Latest.Size > c.Checkpoint.Size {
		m.Consistency = append(m.Consistency, tlogfmt.ManifestConsistency{
			Old: c.Checkpoint.Size, New: c.Latest.Size,
			Proof: add(fmt.Sprintf("proofs/consistency-%d-%d.txt", c.Checkpoint.Size, c.Latest.Size), tlogfmt.MarshalHashLines(c.Consistency)),
		})
	}
	if req.Reveal {
		for _, o := range c.Openings {
			m.Openings = append(m.Openings, tlogfmt.ManifestOpening{Index: o.LeafIndex, Pointer: o.Pointer, Salt: base64.StdEncoding.EncodeToString(o.Salt), Value: o.Value})
		}
	}

	roots, untrusted, err := tsaPEM(c.Keys)
	if err != nil {
		return nil, err
	}
	if len(roots) > 0 {
		m.Keys.TSARoots = add(bundleTSARoots, roots)
	}
	if len(untrusted) > 0 {
		m.Keys.TSACerts = append(m.Keys.TSACerts, add(bundleTSAUntrusted, untrusted))
	}
	add("keys/log.vkey", []byte(strings.Join(c.Keys.Log, "\n")+"\n"))
	if len(c.Keys.Notary) > 0 {
		add("keys/notary.vkey", []byte(strings.Join(c.Keys.Notary, "\n")+"\n"))
	}
	if signer != nil {
		var chain []byte
		for _, cert := range append([]*x509.Certificate{signer.Cert}, signer.Chain...) {
			chain = append(chain, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})...)
		}
		m.Keys.DocumentSigning = add("keys/document-signing.pem", chain)
	}
	for _, o := range c.Originals {
		m.Documents = append(m.Documents, tlogfmt.ManifestDocument{
			Path: add("contract/"+o.SHA256+".pdf", o.Data), Name: o.Name, SHA256: o.SHA256, Index: o.LeafIndex,
		})
	}
	add(tlogfmt.BundleCertificatePDF, certPDF)
	add(tlogfmt.BundleEvidencePDF, evPDF)
	readme, err := bundleReadme(c, req, ni)
	if err != nil {
		return nil, err
	}
	add("README.txt", []byte(readme))

	manifest, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("report: manifest: %w", err)
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	write := func(name string, data []byte) error {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: req.IssuedAt})
		if err != nil {
			return err
		}
		_, err = w.Write(data)
		return err
	}
	if err := write(tlogfmt.BundleManifest, append(manifest, '\n')); err != nil {
		return nil, fmt.Errorf("report: bundle: %w", err)
	}
	for _, f := range files {
		if err := write(f.name, f.data); err != nil {
			return nil, fmt.Errorf("report: bundle: %w", err)
		}
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("report: bundle: %w", err)
	}
	return buf.Bytes(), nil
}

type bundleFile struct {
	name string
	data []byte
}

// BundleFileName is the name under which the service serves the bundle of
// report number n, the name its README's commands use.
func BundleFileName(n string) string { return n + "-" + KindBundle + ".zip" }

func bundleReadme(c *Contract, req Request, ni noteInfo) (string, error) {
	steps, err := verifySteps(c, BundleFileName(req.ReportNumber), []string{tlogfmt.BundleCertificatePDF, tlogfmt.BundleEvidencePDF})
	if err != nil {
		return "", err
	}
	// Chinese first, each paragraph then in English; the commands are the
	// same for both readers, indented, so that no prose line starts like
	// a command.
	zipName := BundleFileName(req.ReportNumber)
	var sb strings.Builder
	fmt.Fprintf(&sb, "cunzheng 证据包（离线校验包）%s\n合同 %s，检查点 %s 大小 %d\n\n", req.ReportNumber, c.ID, ni.Origin, ni.Size)
	fmt.Fprintf(&sb, "cunzheng evidence bundle %s\ncontract %s, checkpoint %s size %d\n\n", req.ReportNumber, c.ID, ni.Origin, ni.Size)
	sb.WriteString("离线校验：公钥请从公开渠道（本平台 /keys 页面、公证处、纸质报告）取得并固定。在存放\n" +
		zipName + " 的目录中依次执行以下命令：先用 cunzheng verify bundle 校验，\n" +
		"再在解包后的目录中用 OpenSSL 校验 RFC 3161 可信时间戳，用 poppler 的 pdfsig 校验 PDF 签名。\n")
	sb.WriteString("Check it offline, pinning the keys from a published source. Run these commands in the directory\n" +
		"that holds " + zipName + " (cunzheng verify bundle; then, in the unpacked bundle, the RFC 3161\n" +
		"tokens with OpenSSL and the PDF signatures with poppler's pdfsig):\n\n")
	for _, l := range steps {
		sb.WriteString("  " + l + "\n")
	}
	if len(c.Originals) > 0 {
		sb.WriteString("\n原始合同文件在 contract/ 目录中，以其 SHA-256 命名；verify bundle 会与记录它的叶子核对。\n" +
			"自行查看哈希：\n")
		sb.WriteString("The original contract documents are in contract/, named by their SHA-256, which verify bundle\n" +
			"checks against the leaf that records it; to see the hashes yourself:\n\n  sha256sum contract/*.pdf\n")
		for _, o := range c.Originals {
			fmt.Fprintf(&sb, "  # %s  leaf %d: %s\n", o.SHA256, o.LeafIndex, o.Name)
		}
	}
	sb.WriteString("\n目录结构：manifest.json 列出每个文件及其 SHA-256；leaves/<序号>.leaf 是记入日志的原始字节；\n" +
		"proofs/<序号>.tlog-proof 是 C2SP tlog-proof 格式的包含证明；checkpoints/<大小>.note.signed 是日志签名的\n" +
		"检查点（时间戳所覆盖的内容），checkpoints/<大小>.note 另附公证处联署；keys/ 目录存放上述命令所用的\n" +
		"公钥与证书。\n")
	sb.WriteString("Layout: manifest.json lists every file with its SHA-256; leaves/<index>.leaf are the logged bytes;\n" +
		"proofs/<index>.tlog-proof are C2SP tlog-proof inclusion proofs; checkpoints/<size>.note.signed is the note as\n" +
		"the log signed it (what the tokens cover), checkpoints/<size>.note adds the notaries' cosignatures;\n" +
		"keys/ holds the public keys and certificates the commands above use.\n")
	sb.WriteString("\n叶子属于哪个租户：版本 1 的叶子（\"v\":1）在 \"tenant\" 中写明租户；版本 2 的叶子不写，其\n" +
		"commitments.tenant 为 SHA-256(盐值 || 租户编号)，盐值为该叶子独有、只有租户能推导，因此读公开日志的人\n" +
		"无法分辨哪些叶子属于同一租户。两种叶子的校验方式相同。证据包披露个人信息时，manifest.json 打开每一项\n" +
		"承诺（openings：指针、base64 盐值、原值），包括 /commitments/tenant；cunzheng verify bundle 逐一与叶子\n" +
		"核对，并确认各叶子写明或打开的租户是同一个。\n")
	sb.WriteString("Whose leaves: a version 1 leaf (\"v\":1) names its tenant in \"tenant\". A version 2 leaf does not: its\n" +
		"commitments.tenant is SHA-256(salt || tenant id), with a salt of that leaf's own that only the tenant can\n" +
		"derive, so nobody reading the public log can tell which leaves are one tenant's. Both kinds verify alike.\n" +
		"Where the bundle reveals personal data, manifest.json opens each commitment (openings: pointer, base64 salt,\n" +
		"value), /commitments/tenant included; `cunzheng verify bundle` checks every opening against its leaf and\n" +
		"that every tenant a leaf names or opens is the same one.\n")
	return sb.String(), nil
}
