package report

func RenderCertificateForTest(c *Contract, req Request) ([]byte, error) {
	return renderCertificate(c, req, render{Issuer: "cunzheng 存证平台", VerifyURL: "https://cunzheng.example/verify"})
}

func RenderEvidenceForTest(c *Contract, req Request) ([]byte, error) {
	return renderEvidence(c, req, render{Issuer: "cunzheng 存证平台", VerifyURL: "https://cunzheng.example/verify"})
}
