package main

import (
	"bytes"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/emmansun/gmsm/pkcs7"
	"github.com/emmansun/gmsm/smx509"
)

// doc is a PDF this generator writes and updates incrementally. Object
// numbers of the base document are fixed: 1 catalog, 2 pages, 3 page,
// 4 content, 5 font, 6 a text field "name".
type doc struct {
	b      []byte
	next   int
	fields []int
	annots []int
	dss    int
	perms  int
}

// newBase writes the one-page base document; pad adds that many bytes of
// extra page content (for the 1 MiB benchmark file).
func newBase(pad int) *doc {
	var content bytes.Buffer
	content.WriteString("BT /F1 18 Tf 72 760 Td (Cunzheng test contract) Tj ET\n")
	content.WriteString("BT /F1 12 Tf 72 730 Td (Party A and Party B agree to the terms below.) Tj ET\n")
	for i := 0; content.Len() < pad; i++ {
		fmt.Fprintf(&content, "BT /F1 6 Tf 72 %d Td (Clause %06d: filler text that makes the file large enough for the benchmark.) Tj ET\n", 700-(i%100)*6, i)
	}
	d := &doc{next: 7, fields: []int{6}, annots: []int{6}}
	var b bytes.Buffer
	b.WriteString("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
	offs := map[int]int{}
	obj := func(n int, body string) {
		offs[n] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", n, body)
	}
	obj(1, d.catalog())
	obj(2, "<< /Type /Pages /Kids [3 0 R] /Count 1 >>")
	obj(3, d.page())
	obj(4, fmt.Sprintf("<< /Length %d >>\nstream\n%sendstream", content.Len(), content.String()))
	obj(5, "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
	obj(6, "<< /FT /Tx /T (name) /V (Zhang San) /Type /Annot /Subtype /Widget /Rect [72 600 300 620] /F 4 /P 3 0 R /DA (/Helv 10 Tf 0 g) >>")
	xref := b.Len()
	b.WriteString("xref\n0 7\n0000000000 65535 f \n")
	for n := 1; n <= 6; n++ {
		fmt.Fprintf(&b, "%010d 00000 n \n", offs[n])
	}
	fmt.Fprintf(&b, "trailer\n<< /Size 7 /Root 1 0 R /ID [<0123456789ABCDEF0123456789ABCDEF> <0123456789ABCDEF0123456789ABCDEF>] >>\nstartxref\n%d\n%%%%EOF\n", xref)
	d.b = b.Bytes()
	return d
}

func refs(nums []int) string {
	var s []string
	for _, n := range nums {
		s = append(s, fmt.Sprintf("%d 0 R", n))
	}
	return strings.Join(s, " ")
}

func (d *doc) catalog() string {
	s := fmt.Sprintf("<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [%s] /SigFlags 3 /DA (/Helv 0 Tf 0 g) >>", refs(d.fields))
	if d.dss != 0 {
		s += fmt.Sprintf(" /DSS %d 0 R", d.dss)
	}
	if d.perms != 0 {
		s += fmt.Sprintf(" /Perms << /DocMDP %d 0 R >>", d.perms)
	}
	return s + " >>"
}

func (d *doc) page() string {
	return fmt.Sprintf("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> /Annots [%s] >>", refs(d.annots))
}

var (
	reStartxref = regexp.MustCompile(`startxref\s+(\d+)\s+%%EOF\s*$`)
	reSize      = regexp.MustCompile(`/Size\s+(\d+)`)
	reID        = regexp.MustCompile(`/ID\s*\[\s*<[0-9A-Fa-f]*>\s*<[0-9A-Fa-f]*>\s*\]`)
)

// appendUpdate appends an incremental update defining objs (number ->
// body, streams included) to any PDF written with a classic xref table.
func appendUpdate(pdf []byte, objs map[int]string) []byte {
	m := reStartxref.FindSubmatch(pdf)
	if m == nil {
		must(fmt.Errorf("no startxref at the end"))
	}
	prev, _ := strconv.Atoi(string(m[1]))
	sizes := reSize.FindAllSubmatch(pdf, -1)
	size, _ := strconv.Atoi(string(sizes[len(sizes)-1][1]))
	ids := reID.FindAll(pdf, -1)
	var b bytes.Buffer
	b.Write(pdf)
	if pdf[len(pdf)-1] != '\n' {
		b.WriteByte('\n')
	}
	var nums []int
	for n := range objs {
		nums = append(nums, n)
		if n+1 > size {
			size = n + 1
		}
	}
	sort.Ints(nums)
	offs := map[int]int{}
	for _, n := range nums {
		offs[n] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", n, objs[n])
	}
	xref := b.Len()
	b.WriteString("xref\n0 1\n0000000000 65535 f \n")
	for _, n := range nums {
		fmt.Fprintf(&b, "%d 1\n%010d 00000 n \n", n, offs[n])
	}
	id := ""
	if len(ids) > 0 {
		id = string(ids[len(ids)-1])
	}
	root := "1 0 R"
	if r := regexp.MustCompile(`/Root\s+(\d+\s+\d+\s+R)`).FindAllSubmatch(pdf, -1); len(r) > 0 {
		root = string(r[len(r)-1][1])
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root %s /Prev %d %s >>\nstartxref\n%d\n%%%%EOF\n", size, root, prev, id, xref)
	return b.Bytes()
}

// lastBody returns the newest "n 0 obj ... endobj" body of object n.
func lastBody(pdf []byte, n int) string {
	re := regexp.MustCompile(fmt.Sprintf(`(?s)(?:^|[\r\n])%d 0 obj\s*(.*?)\s*endobj`, n))
	all := re.FindAllSubmatch(pdf, -1)
	if len(all) == 0 {
		must(fmt.Errorf("object %d not found", n))
	}
	return string(all[len(all)-1][1])
}

func streamObj(data []byte) string {
	return fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(data), data)
}

func (d *doc) update(objs map[int]string) { d.b = appendUpdate(d.b, objs) }

// sigSpec says how to sign.
type sigSpec struct {
	s            signer
	certs        []*smx509.Certificate
	crls         [][]byte
	tsa          *tsa
	wrongImprint bool
	docMDP       int
	docTS        *tsa // a document timestamp instead of a signature
	field        string
	trimRange    int  // leave bytes at the end outside the range
	breakSig     bool // corrupt the signature value
	gmsm         bool // build the CMS with gmsm/pkcs7 (SM2)
	name         string
	lockFields   []string // FieldMDP: lock these fields
	signedAttrs  [][]byte // extra signed attributes
}

const holeHex = 24000

// sign adds a signature field and signs the document as it then stands.
func (d *doc) sign(sp sigSpec) {
	sigNum, fieldNum := d.next, d.next+1
	d.next += 2
	d.fields = append(d.fields, fieldNum)
	d.annots = append(d.annots, fieldNum)
	placeholder := "[0 0000000000 0000000000 0000000000]"
	var body string
	mdp := ""
	if sp.docMDP > 0 {
		d.perms = sigNum
		mdp = fmt.Sprintf(" /Reference [<< /Type /SigRef /TransformMethod /DocMDP /TransformParams << /Type /TransformParams /P %d /V /1.2 >> >>]", sp.docMDP)
	}
	if len(sp.lockFields) > 0 {
		var names []string
		for _, f := range sp.lockFields {
			names = append(names, "("+f+")")
		}
		lock := fmt.Sprintf("<< /Type /SigRef /TransformMethod /FieldMDP /TransformParams << /Type /TransformParams /Action /Include /Fields [%s] /V /1.2 >> >>", strings.Join(names, " "))
		if mdp == "" {
			mdp = " /Reference [" + lock + "]"
		} else {
			mdp = strings.TrimSuffix(mdp, "]") + " " + lock + "]"
		}
	}
	now := time.Now().UTC()
	if sp.docTS != nil {
		body = fmt.Sprintf("<< /Type /DocTimeStamp /Filter /Adobe.PPKLite /SubFilter /ETSI.RFC3161 /ByteRange %s /Contents <%s> >>", placeholder, strings.Repeat("0", holeHex))
	} else {
		body = fmt.Sprintf("<< /Type /Sig /Filter /Adobe.PPKLite /SubFilter /ETSI.CAdES.detached /ByteRange %s /Contents <%s> /M (D:%sZ) /Name (%s) /Reason (test)%s >>", placeholder, strings.Repeat("0", holeHex), now.Format("20060102150405"), sp.name, mdp)
	}
	field := sp.field
	if field == "" {
		field = fmt.Sprintf("Signature%d", fieldNum)
	}
	d.update(map[int]string{
		sigNum:   body,
		fieldNum: fmt.Sprintf("<< /FT /Sig /T (%s) /V %d 0 R /Type /Annot /Subtype /Widget /Rect [0 0 0 0] /F 132 /P 3 0 R >>", field, sigNum),
		1:        d.catalog(),
		3:        d.page(),
	})
	start := bytes.LastIndex(d.b, []byte(fmt.Sprintf("\n%d 0 obj", sigNum)))
	br := start + bytes.Index(d.b[start:], []byte(placeholder))
	lt := start + bytes.Index(d.b[start:], []byte("/Contents <")) + len("/Contents ")
	b, c := lt, lt+holeHex+2
	dd := len(d.b) - c - sp.trimRange
	rng := fmt.Sprintf("[0 %d %d %d]", b, c, dd)
	rng += strings.Repeat(" ", len(placeholder)-len(rng))
	copy(d.b[br:], rng)
	p1, p2 := d.b[:b], d.b[c:c+dd]
	var cms []byte
	switch {
	case sp.docTS != nil:
		cms = sp.docTS.token(append(append([]byte{}, p1...), p2...), sp.wrongImprint)
	case sp.gmsm:
		sd, err := pkcs7.NewSMSignedData(append(append([]byte{}, p1...), p2...))
		must(err)
		must(sd.AddSigner(sp.certs[0], sp.s.p.key, pkcs7.SignerInfoConfig{}))
		for _, c := range sp.certs[1:] {
			sd.AddCertificate(c)
		}
		sd.Detach()
		cms, err = sd.Finish()
		must(err)
	default:
		var chain []*x509.Certificate
		for _, c := range sp.certs {
			chain = append(chain, c.ToX509())
		}
		spec := cmsSpec{s: sp.s, eType: oidData, digest: sp.s.digest(p1, p2), signingTime: now, chain: chain, crls: sp.crls, breakSig: sp.breakSig, signed: sp.signedAttrs}
		if sp.tsa != nil {
			t := sp.tsa
			spec.unsigned = func(sig []byte) [][]byte { return [][]byte{tokenAttr(t.token(sig, sp.wrongImprint))} }
		}
		cms = buildCMS(spec)
	}
	h := hex.EncodeToString(cms)
	if len(h) > holeHex {
		must(fmt.Errorf("signature of %d bytes does not fit", len(cms)))
	}
	copy(d.b[lt+1:], h)
}

// addDSS appends an update with a document security store holding crls
// and certs.
func (d *doc) addDSS(crls, certs [][]byte) {
	d.b, d.next, d.dss = withDSS(d.b, d.next, crls, certs, d.catalog)
}

// withDSS appends a DSS to any PDF; catalog returns the new catalog body
// given the DSS object number (nil: patch the newest catalog body).
func withDSS(pdf []byte, next int, crls, certs [][]byte, catalog func() string) ([]byte, int, int) {
	objs := map[int]string{}
	var crlRefs, certRefs []int
	for _, c := range crls {
		objs[next] = streamObj(c)
		crlRefs = append(crlRefs, next)
		next++
	}
	for _, c := range certs {
		objs[next] = streamObj(c)
		certRefs = append(certRefs, next)
		next++
	}
	dss := next
	next++
	objs[dss] = fmt.Sprintf("<< /Type /DSS /CRLs [%s] /Certs [%s] >>", refs(crlRefs), refs(certRefs))
	var cat string
	if catalog != nil {
		cat = catalogWith(catalog, dss)
	} else {
		body := lastBody(pdf, 1)
		cat = strings.Replace(body, "<<", fmt.Sprintf("<< /DSS %d 0 R", dss), 1)
	}
	objs[1] = cat
	return appendUpdate(pdf, objs), next, dss
}

func catalogWith(catalog func() string, dss int) string {
	s := catalog()
	if !strings.Contains(s, "/DSS") {
		s = strings.Replace(s, "<<", fmt.Sprintf("<< /DSS %d 0 R", dss), 1)
	}
	return s
}
