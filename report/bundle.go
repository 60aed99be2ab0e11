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

	var roots, others []byte
	n := 0
	for _, der := range c.Keys.TSACert {
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, fmt.Errorf("%w: TSA certificate: %w", ErrEvidence, err)
		}
		blk := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
		if bytes.Equal(cert.RawIssuer, cert.RawSubject) && cert.CheckSignatureFrom(cert) == nil {
			roots = append(roots, blk...)
			continue
		}
		m.Keys.TSACerts = append(m.Keys.TSACerts, add(fmt.Sprintf("keys/tsa-%d.pem", n), blk))
		n++
		others = append(others, blk...)
	}
	if len(roots) > 0 {
		m.Keys.TSARoots = add("keys/tsa-ca.pem", roots)
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
	add(tlogfmt.BundleCertificatePDF, certPDF)
	add(tlogfmt.BundleEvidencePDF, evPDF)
	add("README.txt", []byte(bundleReadme(c, req, ni, m.Keys.TSACerts)))

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

// bundleReadme is README.txt; tsaCerts are the bundle's TSA certificates
// that are not roots (none when the TSA signs with its root).
func bundleReadme(c *Contract, req Request, ni noteInfo, tsaCerts []string) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "cunzheng evidence bundle %s\ncontract %s, checkpoint %s size %d\n\n", req.ReportNumber, c.ID, ni.Origin, ni.Size)
	sb.WriteString("Verify offline, pinning the keys from a published source:\n\n  cunzheng verify bundle evidence-bundle.zip")
	for _, k := range c.Keys.Log {
		sb.WriteString(" \\\n    --log-key '" + k + "'")
	}
	for _, k := range c.Keys.Notary {
		sb.WriteString(" \\\n    --notary-key '" + k + "'")
	}
	fmt.Fprintf(&sb, "\n\nRFC 3161 tokens with OpenSSL:\n\n  openssl ts -verify -data checkpoints/%d.note.signed -in checkpoints/%d.tst.0 -token_in \\\n    -CAfile keys/tsa-ca.pem", ni.Size, ni.Size)
	if len(tsaCerts) > 0 {
		// Only a TSA signing with an intermediate has one; the file must
		// exist, or openssl fails before verifying anything.
		sb.WriteString(" -untrusted " + tsaCerts[0])
	}
	sb.WriteString("\n")
	sb.WriteString("\nPDF signatures:\n\n  pdfsig certificate.pdf\n  pdfsig evidence-report.pdf\n")
	sb.WriteString("\nLayout: manifest.json lists every file with its SHA-256; leaves/<index>.leaf are the logged bytes;\n" +
		"proofs/<index>.tlog-proof are C2SP tlog-proof inclusion proofs; checkpoints/<size>.note.signed is the note as\n" +
		"the log signed it (what the tokens cover), checkpoints/<size>.note adds the notaries' cosignatures.\n")
	sb.WriteString("\nWhose leaves: a version 1 leaf (\"v\":1) names its tenant in \"tenant\". A version 2 leaf does not: its\n" +
		"commitments.tenant is SHA-256(salt || tenant id), with a salt of that leaf's own that only the tenant can\n" +
		"derive, so nobody reading the public log can tell which leaves are one tenant's. Both kinds verify alike.\n" +
		"Where the bundle reveals personal data, manifest.json opens each commitment (openings: pointer, base64 salt,\n" +
		"value), /commitments/tenant included; `cunzheng verify bundle` checks every opening against its leaf and\n" +
		"that every tenant a leaf names or opens is the same one.\n")
	return sb.String()
}
