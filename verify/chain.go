package verify

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
	"golang.org/x/crypto/ocsp"
)

func isSM2Key(k any) bool {
	p, ok := k.(*ecdsa.PublicKey)
	return ok && p.Curve == sm2.P256()
}

// LoadRoots builds the trust anchor pool: the system roots when system is
// true, then every certificate in the PEM files (*.pem, *.crt, *.cer) of
// dir when dir is not empty, then extra.
func LoadRoots(dir string, system bool, extra ...*smx509.Certificate) (*smx509.CertPool, error) {
	pool := smx509.NewCertPool()
	if system {
		if sp, err := smx509.SystemCertPool(); err == nil && sp != nil {
			pool = sp
		}
	}
	err := eachRootFile(dir, func(name string, b []byte) error {
		if !pool.AppendCertsFromPEM(b) {
			return fmt.Errorf("verify: no PEM certificate in %s", name)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, c := range extra {
		pool.AddCert(c)
	}
	return pool, nil
}

// eachRootFile calls f with the name and contents of every PEM file
// (*.pem, *.crt, *.cer) in dir, the files a trust-roots directory is read
// from. An empty dir has none.
func eachRootFile(dir string, f func(name string, b []byte) error) error {
	if dir == "" {
		return nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("verify: reading trust roots: %w", err)
	}
	for _, e := range entries {
		ext := strings.ToLower(filepath.Ext(e.Name()))
		if e.IsDir() || (ext != ".pem" && ext != ".crt" && ext != ".cer") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return fmt.Errorf("verify: reading trust roots: %w", err)
		}
		if err := f(e.Name(), b); err != nil {
			return err
		}
	}
	return nil
}

// revData is the revocation material found for one signature: from the
// CMS crls field, the adbe-revocationInfoArchival signed attribute, the
// timestamp token, and the document security store (ISO 32000-2 §12.8.4.3).
type revData struct {
	crls  [][]byte
	ocsps [][]byte
	certs []*smx509.Certificate // extra certificates for chain building
}

func (r *revData) add(o *revData) {
	if o == nil {
		return
	}
	r.crls = append(r.crls, o.crls...)
	r.ocsps = append(r.ocsps, o.ocsps...)
	r.certs = append(r.certs, o.certs...)
}

// parseRevInfoArchival reads Adobe's RevocationInfoArchival attribute:
// SEQUENCE { crl [0] EXPLICIT SEQUENCE OF CRL OPTIONAL,
// ocsp [1] EXPLICIT SEQUENCE OF OCSPResponse OPTIONAL, ... }.
func parseRevInfoArchival(der []byte) *revData {
	out := &revData{}
	in := cryptobyte.String(der)
	var seq cryptobyte.String
	if !in.ReadASN1(&seq, cbasn1.SEQUENCE) {
		return out
	}
	for !seq.Empty() {
		var field cryptobyte.String
		var tag cbasn1.Tag
		if !seq.ReadAnyASN1(&field, &tag) {
			return out
		}
		var list cryptobyte.String
		if !field.ReadASN1(&list, cbasn1.SEQUENCE) {
			continue
		}
		for !list.Empty() {
			var item cryptobyte.String
			var itag cbasn1.Tag
			if !list.ReadAnyASN1Element(&item, &itag) {
				break
			}
			switch tag {
			case cbasn1.Tag(0).Constructed().ContextSpecific():
				out.crls = append(out.crls, item)
			case cbasn1.Tag(1).Constructed().ContextSpecific():
				out.ocsps = append(out.ocsps, item)
			}
		}
	}
	return out
}

// chainResult is the outcome of path building and revocation checking.
type chainResult struct {
	chain     []*smx509.Certificate
	err       error // nil when a chain to a trust anchor was found
	revs      []Revocation
	unknown   bool       // some certificate has no usable revocation data
	revokedAt *time.Time // earliest revocation in the chain, if any
}

// checkChain builds a path from leaf to opts.Roots valid at 'at', then
// checks every certificate below the anchor against the embedded
// revocation data as of 'ref' (the time the signature is proven or claimed
// to exist).
func checkChain(leaf *smx509.Certificate, pool []*smx509.Certificate, roots *smx509.CertPool, system bool, at, ref time.Time, eku x509.ExtKeyUsage, rd *revData) chainResult {
	var res chainResult
	if system {
		roots = withSystemRoots(roots, append([]*smx509.Certificate{leaf}, pool...))
	}
	if roots == nil {
		res.err = errors.New("no trust roots configured")
		return res
	}
	inter := smx509.NewCertPool()
	for _, c := range pool {
		inter.AddCert(c)
	}
	chains, err := leaf.Verify(smx509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: at, KeyUsages: []x509.ExtKeyUsage{eku}})
	if err != nil || len(chains) == 0 {
		res.err = err
		if res.err == nil {
			res.err = errors.New("no chain")
		}
		return res
	}
	res.chain = chains[0]
	for i := 0; i+1 < len(res.chain); i++ {
		c, issuer := res.chain[i], res.chain[i+1]
		r := revocationStatus(c, issuer, ref, rd)
		if r.Status == "unknown" {
			res.unknown = true
		}
		if r.Status == "revoked" && (res.revokedAt == nil || r.RevokedAt.Before(*res.revokedAt)) {
			res.revokedAt = r.RevokedAt
		}
		res.revs = append(res.revs, r)
	}
	return res
}

// revocationStatus looks for a CRL or OCSP response by issuer about c that
// speaks for time ref: it was current at ref (thisUpdate <= ref <=
// nextUpdate) or issued after ref.
func revocationStatus(c, issuer *smx509.Certificate, ref time.Time, rd *revData) Revocation {
	out := Revocation{Subject: c.Subject.String(), Status: "unknown"}
	covers := func(this, next time.Time) bool {
		return !this.Before(ref) || (next.IsZero() || !next.Before(ref)) && !this.After(ref)
	}
	for _, raw := range rd.ocsps {
		resp, err := ocsp.ParseResponseForCert(raw, c.ToX509(), issuer.ToX509())
		if err != nil || !covers(resp.ThisUpdate, resp.NextUpdate) {
			continue
		}
		// x/crypto/ocsp accepts any certificate the issuer signed as a
		// delegated responder. RFC 6960 §4.2.2.2 requires the
		// id-kp-OCSPSigning purpose, without which any sibling
		// end-entity certificate (the signer's own, even) could vouch
		// for a revoked one.
		if rc := resp.Certificate; rc != nil && !delegatedResponder(rc, resp.ProducedAt) {
			continue
		}
		p := resp.ProducedAt.UTC()
		switch resp.Status {
		case ocsp.Good:
			if out.Status == "unknown" {
				out.Status, out.Source, out.Produced = "good", "OCSP", &p
			}
		case ocsp.Revoked:
			t := resp.RevokedAt.UTC()
			return Revocation{Subject: out.Subject, Status: "revoked", Source: "OCSP", RevokedAt: &t, Produced: &p}
		}
	}
	for _, raw := range rd.crls {
		rl, err := smx509.ParseRevocationList(raw)
		if err != nil || !bytes.Equal(rl.RawIssuer, issuer.RawSubject) || rl.CheckSignatureFrom(issuer) != nil {
			continue
		}
		if !covers(rl.ThisUpdate, rl.NextUpdate) {
			continue
		}
		p := rl.ThisUpdate.UTC()
		for _, e := range rl.RevokedCertificateEntries {
			if e.SerialNumber != nil && e.SerialNumber.Cmp(c.SerialNumber) == 0 {
				t := e.RevocationTime.UTC()
				return Revocation{Subject: out.Subject, Status: "revoked", Source: "CRL", RevokedAt: &t, Produced: &p}
			}
		}
		if out.Status == "unknown" {
			out.Status, out.Source, out.Produced = "good", "CRL", &p
		}
	}
	return out
}

// delegatedResponder reports whether rc may sign OCSP responses for its
// issuer at time t.
func delegatedResponder(rc *x509.Certificate, t time.Time) bool {
	if t.Before(rc.NotBefore) || t.After(rc.NotAfter) {
		return false
	}
	for _, e := range rc.ExtKeyUsage {
		if e == x509.ExtKeyUsageOCSPSigning {
			return true
		}
	}
	return false
}

// systemBundles are where Linux distributions keep the system's trusted
// roots as one PEM file (the list crypto/x509 reads); SSL_CERT_FILE
// overrides them as it does for crypto/x509.
var systemBundles = []string{
	"/etc/ssl/certs/ca-certificates.crt",
	"/etc/pki/tls/certs/ca-bundle.crt",
	"/etc/ssl/ca-bundle.pem",
	"/etc/pki/tls/cacert.pem",
	"/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
	"/etc/ssl/cert.pem",
}

// rootIndex says where in the system bundle each root's PEM block is, by
// the root's raw subject.
type rootIndex struct {
	file  string
	spans map[string][]pemSpan
}

// pemSpan is a PEM block's byte range in the bundle, BEGIN line to END line.
type pemSpan struct{ off, end int64 }

// systemIndex indexes the system roots by subject, once per process.
// Neither whole certificates nor the bundle are kept: parsing the ~150
// roots costs tens of milliseconds, and holding the bundle and their DER
// (some 400 KiB of fresh heap, a page fault per 4 KiB) was about 3 ms of a
// one-file verification. A chain that needs a root reads its block again.
var systemIndex = sync.OnceValue(func() *rootIndex {
	files := systemBundles
	if f := os.Getenv("SSL_CERT_FILE"); f != "" {
		files = []string{f}
	}
	for _, f := range files {
		if ix, err := indexBundle(f); err == nil && len(ix.spans) > 0 {
			return ix
		}
	}
	return &rootIndex{}
})

// indexBundle reads a PEM bundle line by line, decoding one certificate
// at a time into a reused buffer, and keeps each one's subject and span.
// A bundle of CA certificates has no PEM headers, so a block's body is
// plain base64; header lines (with a colon) are skipped here, and the
// lookup decodes the block with encoding/pem, which judges it.
func indexBundle(file string) (*rootIndex, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	begin, end := []byte("-----BEGIN CERTIFICATE-----"), []byte("-----END CERTIFICATE-----")
	ix := &rootIndex{file: file, spans: map[string][]pemSpan{}}
	r := bufio.NewReaderSize(f, 16<<10)
	var body, der []byte
	var off, start int64
	in, long := false, false
	for {
		line, err := r.ReadSlice('\n')
		lineStart := off
		off += int64(len(line))
		if err == bufio.ErrBufferFull {
			// Not a line of a PEM block: skip the rest of it.
			long, in = true, false
			continue
		}
		if long {
			long = false
			continue
		}
		t := bytes.TrimSpace(line)
		switch {
		case bytes.Equal(t, begin):
			in, start, body = true, lineStart, body[:0]
		case in && bytes.Equal(t, end):
			in = false
			if n := base64.StdEncoding.DecodedLen(len(body)); cap(der) < n {
				der = make([]byte, n)
			}
			n, derr := base64.StdEncoding.Decode(der[:cap(der)], body)
			if derr != nil {
				break
			}
			if subj, ok := rawSubject(der[:n]); ok {
				ix.spans[string(subj)] = append(ix.spans[string(subj)], pemSpan{start, off})
			}
		case in && bytes.IndexByte(t, ':') < 0:
			body = append(body, t...)
		}
		if err == io.EOF {
			return ix, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// roots returns the system roots whose subject is name, read again from
// the bundle (f, opened by the caller); a block that no longer holds such
// a certificate (the bundle changed meanwhile) is skipped.
func (ix *rootIndex) roots(f *os.File, name []byte) []*smx509.Certificate {
	var out []*smx509.Certificate
	for _, sp := range ix.spans[string(name)] {
		buf := make([]byte, sp.end-sp.off)
		if _, err := f.ReadAt(buf, sp.off); err != nil {
			continue
		}
		block, _ := pem.Decode(buf)
		if block == nil || block.Type != "CERTIFICATE" {
			continue
		}
		if rc, err := smx509.ParseCertificate(block.Bytes); err == nil && bytes.Equal(rc.RawSubject, name) {
			out = append(out, rc)
		}
	}
	return out
}

// rawSubject returns the DER of a certificate's subject Name (RFC 5280
// §4.1: the sixth field of TBSCertificate, after an optional version).
func rawSubject(der []byte) ([]byte, bool) {
	in := cryptobyte.String(der)
	var cert, tbs cryptobyte.String
	if !in.ReadASN1(&cert, cbasn1.SEQUENCE) || !cert.ReadASN1(&tbs, cbasn1.SEQUENCE) {
		return nil, false
	}
	if !tbs.SkipOptionalASN1(cbasn1.Tag(0).Constructed().ContextSpecific()) ||
		!tbs.SkipASN1(cbasn1.INTEGER) || !tbs.SkipASN1(cbasn1.SEQUENCE) ||
		!tbs.SkipASN1(cbasn1.SEQUENCE) || !tbs.SkipASN1(cbasn1.SEQUENCE) {
		return nil, false
	}
	var subj cryptobyte.String
	if !tbs.ReadASN1Element(&subj, cbasn1.SEQUENCE) {
		return nil, false
	}
	return subj, true
}

// withSystemRoots returns roots plus the system roots that issued (or
// are) one of certs; roots itself when none does.
func withSystemRoots(roots *smx509.CertPool, certs []*smx509.Certificate) *smx509.CertPool {
	idx := systemIndex()
	var add []*smx509.Certificate
	var bundle *os.File
	seen := map[string]bool{}
	for _, c := range certs {
		for _, name := range [][]byte{c.RawIssuer, c.RawSubject} {
			if seen[string(name)] || len(idx.spans[string(name)]) == 0 {
				continue
			}
			seen[string(name)] = true
			if bundle == nil {
				f, err := os.Open(idx.file)
				if err != nil {
					return roots
				}
				defer f.Close()
				bundle = f
			}
			add = append(add, idx.roots(bundle, name)...)
		}
	}
	if len(add) == 0 {
		return roots
	}
	out := smx509.NewCertPool()
	if roots != nil {
		out = roots.Clone()
	}
	for _, c := range add {
		out.AddCert(c)
	}
	return out
}
