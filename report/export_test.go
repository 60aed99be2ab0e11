package report

import "bytes"

func RenderCertificateForTest(c *Contract, req Request) ([]byte, error) {
	return renderCertificate(c, req, render{Issuer: "cunzheng 存证平台", VerifyURL: "https://cunzheng.example/verify"})
}

func RenderEvidenceForTest(c *Contract, req Request) ([]byte, error) {
	return renderEvidence(c, req, render{Issuer: "cunzheng 存证平台", VerifyURL: "https://cunzheng.example/verify"})
}

// FontCopyMutated renders one document from a fresh copy of the fonts and
// reports whether gofpdf changed the copy.
func FontCopyMutated(c *Contract, req Request) (bool, error) {
	fb := newFontBytes()
	p := &docPool{ready: make(chan prepared, 1)}
	p.ready <- fontedDoc(fb)
	if _, err := renderEvidence(c, req, render{Issuer: "i", VerifyURL: "https://v", pool: p}); err != nil {
		return false, err
	}
	return !bytes.Equal(fb.cjk, cjkFont) || !bytes.Equal(fb.latin, latinFont) || !bytes.Equal(fb.mono, monoFont), nil
}

var Plural = plural
