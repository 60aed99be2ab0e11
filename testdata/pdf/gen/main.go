// Command gen writes the PDF test corpus of package verify: keys and
// certificates (step "keys"), then the signed variants (step "variants").
// testdata/pdf/generate.sh runs both around poppler's pdfsig, which signs
// with an NSS database so that the corpus holds signatures made by a tool
// we did not write.
//
// Usage: go run ./testdata/pdf/gen -dir testdata/pdf -step keys|variants
package main

import (
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/emmansun/gmsm/smx509"
	"golang.org/x/crypto/ocsp"

	"github.com/cunzheng/cunzheng/report"
)

func main() {
	dir := flag.String("dir", "testdata/pdf", "corpus directory")
	step := flag.String("step", "", "keys or variants")
	flag.Parse()
	switch *step {
	case "keys":
		keys(*dir)
	case "variants":
		variants(*dir)
	default:
		must(fmt.Errorf("unknown -step %q", *step))
	}
}

func name(cn, o string) pkix.Name {
	return pkix.Name{CommonName: cn, Organization: []string{o}, Country: []string{"CN"}}
}

func keys(dir string) {
	kd := filepath.Join(dir, "keys")
	now := time.Now()
	long := now.AddDate(10, 0, 0)
	past := now.AddDate(-1, 0, 0)
	rsaRoot := issue("rsa-root", "rsa", name("Cunzheng Test RSA Root", "存证测试"), nil, true, past, long, nil)
	ecRoot := issue("ec-root", "ec", name("Cunzheng Test ECDSA Root", "存证测试"), nil, true, past, long, nil)
	sm2Root := issue("sm2-root", "sm2", name("存证测试 SM2 根证书", "存证测试"), nil, true, past, long, nil)
	untrustedRoot := issue("untrusted-root", "rsa", name("Somebody Else's Root", "Elsewhere"), nil, true, past, long, nil)
	ps := []*party{rsaRoot, ecRoot, sm2Root, untrustedRoot,
		issue("rsa-signer", "rsa", name("张三", "测试_伟伟集团"), rsaRoot, false, past, long, nil),
		issue("rsa-signer2", "rsa", name("李四", "测试_上上签防篡改"), rsaRoot, false, past, long, nil),
		issue("ec-signer", "ec", name("王五", "测试_伟伟集团"), ecRoot, false, past, long, nil),
		issue("sm2-signer", "sm2", name("杭州尚南签网络科技有限公司", "杭州尚南签网络科技有限公司"), sm2Root, false, past, long, nil),
		issue("tsa", "rsa", name("Cunzheng Test TSA", "存证测试"), rsaRoot, false, past, long, []x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping}),
		issue("untrusted-signer", "rsa", name("Mallory", "Elsewhere"), untrustedRoot, false, past, long, nil),
		issue("expired-signer", "rsa", name("赵六 (expired)", "测试_伟伟集团"), rsaRoot, false, past, now.AddDate(0, 0, -30), nil),
		issue("revoked-signer", "rsa", name("钱七 (revoked)", "测试_伟伟集团"), rsaRoot, false, past, long, nil),
	}
	for _, p := range ps {
		savePartyKey(kd, p)
	}
	var revoked *party
	for _, p := range ps {
		if p.name == "revoked-signer" {
			revoked = p
		}
	}
	writePEM(filepath.Join(kd, "rsa-root.crl"), "X509 CRL", crl(rsaRoot, map[*party]time.Time{revoked: now.Add(-2 * time.Hour)}))
	writePEM(filepath.Join(kd, "ec-root.crl"), "X509 CRL", crl(ecRoot, nil))
	writePEM(filepath.Join(kd, "sm2-root.crl"), "X509 CRL", crl(sm2Root, nil))
	writePEM(filepath.Join(kd, "untrusted-root.crl"), "X509 CRL", crl(untrustedRoot, nil))
	for _, r := range []*party{rsaRoot, ecRoot, sm2Root} {
		writePEM(filepath.Join(dir, "roots", r.name+".pem"), "CERTIFICATE", r.cert.Raw)
	}
	// The report service's own document signer (package report), so that
	// the corpus holds the PDFs the platform itself produces.
	rs, err := report.DemoSigner(filepath.Join(kd, "report"), "存证测试", now)
	must(err)
	_ = rs
	ca, err := os.ReadFile(filepath.Join(kd, "report", report.DemoCAFile))
	must(err)
	must(os.WriteFile(filepath.Join(dir, "roots", "report-demo-ca.pem"), ca, 0o644))
	must(os.WriteFile(filepath.Join(dir, "base.pdf"), newBase(0).b, 0o644))
	must(os.WriteFile(filepath.Join(dir, "big.pdf"), newBase(1<<20).b, 0o644))
}

func readCRL(dir, name string) []byte {
	b, err := os.ReadFile(filepath.Join(dir, "keys", name+".crl"))
	must(err)
	s := strings.TrimSpace(string(b))
	blk := pemDecode([]byte(s))
	return blk
}

func smx(p *party) *smx509.Certificate {
	c, err := smx509.ParseCertificate(p.cert.Raw)
	must(err)
	return c
}

func variants(dir string) {
	kd := filepath.Join(dir, "keys")
	load := func(n string) *party { return loadParty(kd, n) }
	rsaRoot, ecRoot, sm2Root := load("rsa-root"), load("ec-root"), load("sm2-root")
	rsaSigner, rsaSigner2, ecSigner, sm2Signer := load("rsa-signer"), load("rsa-signer2"), load("ec-signer"), load("sm2-signer")
	untrusted, untrustedRoot := load("untrusted-signer"), load("untrusted-root")
	expired, revoked := load("expired-signer"), load("revoked-signer")
	rsaCRL, ecCRL, sm2CRL, untrustedCRL := readCRL(dir, "rsa-root"), readCRL(dir, "ec-root"), readCRL(dir, "sm2-root"), readCRL(dir, "untrusted-root")
	ts := &tsa{s: signer{load("tsa"), "rsa", crypto.SHA256}, chain: []*x509.Certificate{load("tsa").cert, rsaRoot.cert}, crls: [][]byte{rsaCRL}, at: time.Now()}
	rsa := signer{rsaSigner, "rsa", crypto.SHA256}
	chain := func(ps ...*party) []*smx509.Certificate {
		var out []*smx509.Certificate
		for _, p := range ps {
			out = append(out, smx(p))
		}
		return out
	}
	write := func(name string, b []byte) {
		must(os.WriteFile(filepath.Join(dir, name), b, 0o644))
	}
	signed := func(pad int, sp sigSpec) *doc {
		d := newBase(pad)
		d.sign(sp)
		return d
	}
	rsaTSA := sigSpec{s: rsa, certs: chain(rsaSigner, rsaRoot), crls: [][]byte{rsaCRL}, tsa: ts, name: "Zhang San"}

	d := signed(0, rsaTSA)
	write("rsa-sha256-tsa.pdf", d.b)
	flipped := append([]byte{}, d.b...)
	i := strings.Index(string(flipped), "Party A")
	flipped[i] = 'Q'
	write("byte-flip.pdf", flipped)
	write("truncated.pdf", d.b[:len(d.b)*2/3])
	write("big-rsa-tsa.pdf", signed(1<<20, rsaTSA).b)

	sp := rsaTSA
	sp.breakSig = true
	write("bad-sig-value.pdf", signed(0, sp).b)
	sp = rsaTSA
	sp.wrongImprint = true
	write("wrong-imprint.pdf", signed(0, sp).b)
	sp = rsaTSA
	sp.trimRange = 40
	write("coverage-gap.pdf", signed(0, sp).b)
	sp = rsaTSA
	sp.tsa, sp.crls = nil, nil
	write("no-revocation.pdf", signed(0, sp).b)

	write("rsa-pss-sha512.pdf", signed(0, sigSpec{s: signer{rsaSigner, "pss", crypto.SHA512}, certs: chain(rsaSigner, rsaRoot), crls: [][]byte{rsaCRL}, name: "PSS"}).b)
	write("ecdsa-sha384-tsa.pdf", signed(0, sigSpec{s: signer{ecSigner, "ecdsa", crypto.SHA384}, certs: chain(ecSigner, ecRoot), crls: [][]byte{ecCRL}, tsa: ts, name: "ECDSA"}).b)
	write("sm2-tsa.pdf", signed(0, sigSpec{s: signer{sm2Signer, "sm2", 0}, certs: chain(sm2Signer, sm2Root), crls: [][]byte{sm2CRL}, tsa: ts, name: "SM2"}).b)
	d = signed(0, sigSpec{s: signer{sm2Signer, "sm2", 0}, certs: chain(sm2Signer, sm2Root), gmsm: true})
	write("sm2-gmsm-no-revocation.pdf", d.b)
	d.addDSS([][]byte{sm2CRL}, nil)
	write("sm2-gmsm-dss.pdf", d.b)

	write("untrusted.pdf", signed(0, sigSpec{s: signer{untrusted, "rsa", crypto.SHA256}, certs: chain(untrusted, untrustedRoot), crls: [][]byte{untrustedCRL}, tsa: ts, name: "Mallory"}).b)
	write("expired-no-tsa.pdf", signed(0, sigSpec{s: signer{expired, "rsa", crypto.SHA256}, certs: chain(expired, rsaRoot), crls: [][]byte{rsaCRL}, name: "expired"}).b)
	write("expired-tsa.pdf", signed(0, sigSpec{s: signer{expired, "rsa", crypto.SHA256}, certs: chain(expired, rsaRoot), crls: [][]byte{rsaCRL}, tsa: ts, name: "expired"}).b)
	write("revoked-tsa.pdf", signed(0, sigSpec{s: signer{revoked, "rsa", crypto.SHA256}, certs: chain(revoked, rsaRoot), crls: [][]byte{rsaCRL}, tsa: ts, name: "revoked"}).b)
	write("revoked-no-tsa.pdf", signed(0, sigSpec{s: signer{revoked, "rsa", crypto.SHA256}, certs: chain(revoked, rsaRoot), crls: [][]byte{rsaCRL}, name: "revoked"}).b)

	// Incremental updates after signing.
	annot := func(d *doc) {
		n := d.next
		d.next++
		d.annots = append(d.annots, n)
		d.update(map[int]string{n: "<< /Type /Annot /Subtype /Text /Rect [400 700 420 720] /Contents (a reviewer's note) /P 3 0 R >>", 3: d.page()})
	}
	fill := func(d *doc) {
		d.update(map[int]string{6: "<< /FT /Tx /T (name) /V (Li Si) /Type /Annot /Subtype /Widget /Rect [72 600 300 620] /F 4 /P 3 0 R /DA (/Helv 10 Tf 0 g) >>"})
	}
	content := func(d *doc) {
		d.update(map[int]string{4: streamObj([]byte("BT /F1 18 Tf 72 760 Td (Party A pays Party B ten times more.) Tj ET"))})
	}
	d = signed(0, rsaTSA)
	annot(d)
	write("update-annotation.pdf", d.b)
	d = signed(0, rsaTSA)
	content(d)
	write("update-content.pdf", d.b)
	d = signed(0, rsaTSA)
	fill(d)
	write("update-formfill.pdf", d.b)
	for _, p := range []int{1, 2} {
		sp := rsaTSA
		sp.docMDP = p
		d = signed(0, sp)
		fill(d)
		write(fmt.Sprintf("docmdp%d-formfill.pdf", p), d.b)
	}
	sp = rsaTSA
	sp.docMDP = 2
	d = signed(0, sp)
	annot(d)
	write("docmdp2-annotation.pdf", d.b)

	// Document timestamps.
	d = signed(0, rsaTSA)
	d.sign(sigSpec{docTS: ts})
	write("doc-timestamp.pdf", d.b)
	d = signed(0, rsaTSA)
	d.sign(sigSpec{docTS: ts, wrongImprint: true})
	write("doc-timestamp-wrong-imprint.pdf", d.b)

	// FieldMDP: the signer locks the field "name"; filling it is not allowed.
	sp = rsaTSA
	sp.lockFields = []string{"name"}
	d = signed(0, sp)
	fill(d)
	write("fieldmdp-locked-formfill.pdf", d.b)

	// Incremental saving attack: a later update rewrites the signature
	// dictionary itself (here its /Reason), keeping /ByteRange and /Contents.
	d = signed(0, rsaTSA)
	sigNum := d.next - 2
	d.update(map[int]string{sigNum: strings.Replace(lastBody(d.b, sigNum), "/Reason (test)", "/Reason (changed later)", 1)})
	write("sig-dict-rewritten.pdf", d.b)

	// OCSP in Adobe's revocationInfoArchival signed attribute, no CRL.
	resp, err := ocsp.CreateResponse(rsaRoot.cert, rsaRoot.cert, ocsp.Response{
		Status: ocsp.Good, SerialNumber: rsaSigner.cert.SerialNumber,
		ThisUpdate: time.Now().Add(-time.Hour), NextUpdate: time.Now().AddDate(10, 0, 0),
	}, rsaRoot.key)
	must(err)
	sp = rsaTSA
	sp.crls = nil
	sp.signedAttrs = [][]byte{revInfoArchival(resp)}
	write("ocsp-revinfo.pdf", signed(0, sp).b)

	// Two signatures, the second invalid.
	d = signed(0, rsaTSA)
	sp = sigSpec{s: signer{rsaSigner2, "rsa", crypto.SHA256}, certs: chain(rsaSigner2, rsaRoot), crls: [][]byte{rsaCRL}, tsa: ts, name: "Li Si", breakSig: true}
	d.sign(sp)
	write("two-sigs-second-invalid.pdf", d.b)
	d = signed(0, rsaTSA)
	sp.breakSig = false
	d.sign(sp)
	write("two-sigs.pdf", d.b)

	// PDFs signed by the report service (digitorus/pdfsign underneath):
	// a certification signature that permits no changes.
	rs, err := report.DemoSigner(filepath.Join(kd, "report"), "存证测试", time.Now())
	must(err)
	rb, err := rs.Sign(newBase(0).b, "存证报告 evidence report", time.Now())
	must(err)
	write("report-signed.pdf", rb)
	rd := &doc{b: rb}
	write("report-signed-annotated.pdf", appendUpdate(rd.b, map[int]string{
		90: "<< /Type /Annot /Subtype /Text /Rect [400 700 420 720] /Contents (added later) /P 3 0 R >>",
		3:  strings.Replace(lastBody(rb, 3), "/Annots [", "/Annots [90 0 R ", 1),
	}))

	// Files signed by poppler's pdfsig (generate.sh made them).
	pdfsig := func(n string) []byte {
		b, err := os.ReadFile(filepath.Join(dir, n))
		must(err)
		return b
	}
	if _, err := os.Stat(filepath.Join(dir, "pdfsig-rsa.pdf")); err == nil {
		b := pdfsig("pdfsig-rsa.pdf")
		flipped := append([]byte{}, b...)
		i := strings.Index(string(flipped), "Party A")
		flipped[i] = 'Q'
		write("pdfsig-rsa-byte-flip.pdf", flipped)
		write("pdfsig-rsa-truncated.pdf", b[:len(b)-200])
		withCRL, _, _ := withDSS(b, 100, [][]byte{rsaCRL}, nil, nil)
		write("pdfsig-rsa-dss.pdf", withCRL)
		two := pdfsig("pdfsig-two.pdf")
		withCRL, _, _ = withDSS(two, 100, [][]byte{rsaCRL}, nil, nil)
		write("pdfsig-two-dss.pdf", withCRL)
		// Change the second signature's /M date: inside its signed
		// range, after the first signature's.
		j := strings.LastIndex(string(two), "/M (D:")
		two = append([]byte{}, two...)
		two[j+len("/M (D:")+3]++
		withCRL, _, _ = withDSS(two, 100, [][]byte{rsaCRL}, nil, nil)
		write("pdfsig-two-second-flipped.pdf", withCRL)
		ec := pdfsig("pdfsig-ecdsa.pdf")
		withCRL, _, _ = withDSS(ec, 100, [][]byte{ecCRL}, nil, nil)
		write("pdfsig-ecdsa-dss.pdf", withCRL)
	}
}
