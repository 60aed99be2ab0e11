package verify

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/digitorus/timestamp"
	"github.com/transparency-dev/formats/proof"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/cunzheng/cunzheng/ledger/tlogfmt"
)

// The evidence bundle's format (manifest.json and the file names) is
// defined in tlogfmt: report writes it, Bundle checks it.

// Limits on a bundle, so that a hostile zip cannot exhaust memory.
const (
	maxBundleFiles    = 20000
	maxBundleFileSize = 64 << 20
	maxBundleTotal    = 512 << 20
)

// BundleOptions configure Bundle.
type BundleOptions struct {
	// LogKeys are the log's verifier keys. Every one must have signed every
	// checkpoint. Empty means the keys in the bundle, which proves only that
	// the bundle is self-consistent: BundleResult.Pinned is then false.
	LogKeys []note.Verifier
	// NotaryKeys are notary verifier keys; each must have cosigned every
	// checkpoint. Empty means those in the bundle.
	NotaryKeys []note.Verifier
	// TSARoots are trusted TSA roots. Nil means those in the bundle.
	TSARoots *x509.CertPool
	// Step, if set, is called with each check as it passes.
	Step func(BundleStep)
}

// BundleStep is one passed check, for printing.
type BundleStep struct {
	Name   string
	Detail string
}

// BundleResult summarises a verified bundle.
type BundleResult struct {
	Manifest *tlogfmt.Manifest
	Steps    []BundleStep
	// Pinned reports whether log and notary keys came from the caller.
	Pinned bool
}

// BundleError is the first check that failed: Step names what broke.
type BundleError struct {
	Step string
	Err  error
}

func (e *BundleError) Error() string { return e.Step + ": " + e.Err.Error() }
func (e *BundleError) Unwrap() error { return e.Err }

// Errors a BundleError wraps, for callers and tests that branch on them.
var (
	ErrBundleMalformed   = errors.New("malformed bundle")
	ErrBundleDigest      = errors.New("file digest does not match the manifest")
	ErrBundleLeafHash    = errors.New("leaf bytes do not hash to the leaf hash")
	ErrBundleInclusion   = errors.New("inclusion proof does not verify")
	ErrBundleConsistency = errors.New("consistency proof does not verify")
	ErrBundleSignature   = errors.New("checkpoint signature does not verify")
	ErrBundleCosignature = errors.New("notary cosignature missing or invalid")
	ErrBundleTimestamp   = errors.New("RFC 3161 token does not verify")
	ErrBundleCommitment  = errors.New("opened commitment does not match the leaf")
	ErrBundlePDF         = errors.New("PDF signature does not verify")
)

// bundleChecker holds the state of one Bundle call.
type bundleChecker struct {
	raw    []byte
	files  map[string][]byte
	m      *tlogfmt.Manifest
	opts   BundleOptions
	res    *BundleResult
	cps    map[uint64]checkedCheckpoint
	leaves map[uint64][]byte
}

type checkedCheckpoint struct {
	size     uint64
	root     tlog.Hash
	cosigned []byte
}

// Bundle verifies an evidence bundle offline: every leaf hash, inclusion
// and consistency proof (tlogfmt), every checkpoint
// signature and notary cosignature (sumdb/note with tlogfmt's verifiers),
// every RFC 3161 token (digitorus/timestamp; its imprint must
// be the SHA-256 of the signed checkpoint note), every opened commitment and
// the digest of every file. It stops at the first failure and returns a
// *BundleError naming it.
func Bundle(zipBytes []byte, opts BundleOptions) (*BundleResult, error) {
	b := &bundleChecker{raw: zipBytes, opts: opts, res: &BundleResult{}, cps: map[uint64]checkedCheckpoint{}, leaves: map[uint64][]byte{}}
	steps := []func() error{b.open, b.manifest, b.keys, b.checkpoints, b.events, b.consistency, b.openings, b.tenant, b.documents, b.digests, b.pdfs}
	for _, s := range steps {
		if err := s(); err != nil {
			return nil, err
		}
	}
	return b.res, nil
}

func (b *bundleChecker) pass(name, format string, args ...any) {
	s := BundleStep{Name: name, Detail: fmt.Sprintf(format, args...)}
	b.res.Steps = append(b.res.Steps, s)
	if b.opts.Step != nil {
		b.opts.Step(s)
	}
}

func fail(step string, sentinel error, format string, args ...any) error {
	return &BundleError{Step: step, Err: fmt.Errorf("%w: %s", sentinel, fmt.Sprintf(format, args...))}
}

func (b *bundleChecker) open() error {
	zr, err := zip.NewReader(bytes.NewReader(b.raw), int64(len(b.raw)))
	if err != nil {
		return fail("zip", ErrBundleMalformed, "%v", err)
	}
	if len(zr.File) > maxBundleFiles {
		return fail("zip", ErrBundleMalformed, "%s", count(len(zr.File), "file", "files"))
	}
	b.files = make(map[string][]byte, len(zr.File))
	var total int64
	for _, f := range zr.File {
		name := f.Name
		if name != path.Clean(name) || strings.HasPrefix(name, "/") || strings.HasPrefix(name, "../") || name == ".." {
			return fail("zip", ErrBundleMalformed, "unsafe path %q", name)
		}
		if strings.HasSuffix(name, "/") {
			continue
		}
		if _, dup := b.files[name]; dup {
			return fail("zip", ErrBundleMalformed, "duplicate file %q", name)
		}
		rc, err := f.Open()
		if err != nil {
			return fail("zip", ErrBundleMalformed, "%s: %v", name, err)
		}
		data, err := io.ReadAll(io.LimitReader(rc, maxBundleFileSize+1))
		rc.Close()
		if err != nil {
			return fail("zip", ErrBundleMalformed, "%s: %v", name, err)
		}
		if len(data) > maxBundleFileSize {
			return fail("zip", ErrBundleMalformed, "%s larger than %d bytes", name, maxBundleFileSize)
		}
		if total += int64(len(data)); total > maxBundleTotal {
			return fail("zip", ErrBundleMalformed, "bundle larger than %d bytes", maxBundleTotal)
		}
		b.files[name] = data
	}
	b.pass("zip", "%s", count(len(b.files), "file", "files"))
	return nil
}

func (b *bundleChecker) file(step, name string) ([]byte, error) {
	data, ok := b.files[name]
	if !ok {
		return nil, fail(step, ErrBundleMalformed, "missing file %q", name)
	}
	return data, nil
}

func (b *bundleChecker) manifest() error {
	data, err := b.file("manifest", tlogfmt.BundleManifest)
	if err != nil {
		return err
	}
	m, err := tlogfmt.ParseManifest(data)
	if err != nil {
		return fail("manifest", ErrBundleMalformed, "%v", err)
	}
	b.m = m
	b.res.Manifest = m
	b.pass("manifest", "report %s, contract %s, %s, checkpoint %d", m.ReportNumber, m.Contract, count(len(m.Events), "event", "events"), m.Checkpoint)
	return nil
}

func (b *bundleChecker) keys() error {
	b.res.Pinned = len(b.opts.LogKeys) > 0 && (len(b.opts.NotaryKeys) > 0 || len(b.m.Keys.Notary) == 0)
	if len(b.opts.LogKeys) == 0 {
		for _, k := range b.m.Keys.Log {
			v, err := tlogfmt.NewVerifier(k)
			if err != nil {
				// A key this checker cannot parse is skipped, not trusted.
				continue
			}
			b.opts.LogKeys = append(b.opts.LogKeys, v)
		}
	}
	if len(b.opts.NotaryKeys) == 0 {
		for _, k := range b.m.Keys.Notary {
			v, err := tlogfmt.NewCosignatureVerifier(k)
			if err != nil {
				return fail("keys", ErrBundleMalformed, "notary key: %v", err)
			}
			b.opts.NotaryKeys = append(b.opts.NotaryKeys, v)
		}
	}
	if len(b.opts.LogKeys) == 0 {
		return fail("keys", ErrBundleMalformed, "no usable log key")
	}
	if b.opts.TSARoots == nil && b.m.Keys.TSARoots != "" {
		data, err := b.file("keys", b.m.Keys.TSARoots)
		if err != nil {
			return err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(data) {
			return fail("keys", ErrBundleMalformed, "no certificate in %s", b.m.Keys.TSARoots)
		}
		b.opts.TSARoots = pool
	}
	src := "pinned by the caller"
	if !b.res.Pinned {
		src = "taken from the bundle (NOT pinned: pass --log-key and --notary-key from a published source)"
	}
	b.pass("keys", "%s, %s, %s", count(len(b.opts.LogKeys), "log key", "log keys"), count(len(b.opts.NotaryKeys), "notary key", "notary keys"), src)
	return nil
}

func (b *bundleChecker) checkpoints() error {
	for _, mc := range b.m.Checkpoints {
		step := fmt.Sprintf("checkpoint %d", mc.Size)
		signed, err := b.file(step, mc.Signed)
		if err != nil {
			return err
		}
		cp, err := tlogfmt.Open(signed, note.VerifierList(b.opts.LogKeys...))
		if errors.Is(err, tlogfmt.ErrMalformed) {
			return fail(step, ErrBundleMalformed, "%s: %v", mc.Signed, err)
		}
		if err != nil {
			return fail(step, ErrBundleSignature, "%s: %v", mc.Signed, err)
		}
		if err := cp.RequireSigned(b.opts.LogKeys...); err != nil {
			return fail(step, ErrBundleSignature, "%s: log key: %v", mc.Signed, err)
		}
		if cp.Origin != b.m.Origin || cp.Size != mc.Size || base64.StdEncoding.EncodeToString(cp.Root[:]) != mc.Root {
			return fail(step, ErrBundleMalformed, "signed note is %s size %d, manifest says %s size %d", cp.Origin, cp.Size, b.m.Origin, mc.Size)
		}
		b.pass(step, "log signature valid (%s, root %s)", cp.Origin, mc.Root)

		cosigned, err := b.file(step, mc.Cosigned)
		if err != nil {
			return err
		}
		if !bytes.HasPrefix(cosigned, signed) {
			return fail(step, ErrBundleCosignature, "%s does not extend %s", mc.Cosigned, mc.Signed)
		}
		all := append(append([]note.Verifier(nil), b.opts.LogKeys...), b.opts.NotaryKeys...)
		cn, err := tlogfmt.Open(cosigned, note.VerifierList(all...))
		if err != nil {
			return fail(step, ErrBundleCosignature, "%s: %v", mc.Cosigned, err)
		}
		for _, k := range b.opts.NotaryKeys {
			sig, ok := cn.Signature(k)
			if !ok {
				return fail(step, ErrBundleCosignature, "notary %s did not cosign", k.Name())
			}
			at := ""
			if t, ok := tlogfmt.CosignatureTime(sig); ok {
				at = " at " + t.Format(time.RFC3339)
			}
			b.pass(step, "cosigned by notary %s%s", k.Name(), at)
		}

		if mc.Size == b.m.Checkpoint && len(mc.Timestamps) == 0 {
			return fail(step, ErrBundleTimestamp, "the checkpoint of the inclusion proofs carries no RFC 3161 token")
		}
		for i, tp := range mc.Timestamps {
			tstep := fmt.Sprintf("%s token %d", step, i)
			tok, err := b.file(tstep, tp)
			if err != nil {
				return err
			}
			ts, err := timestamp.Parse(tok)
			if err != nil {
				return fail(tstep, ErrBundleTimestamp, "%s: %v", tp, err)
			}
			h := ts.HashAlgorithm.New()
			h.Write(signed)
			if !bytes.Equal(h.Sum(nil), ts.HashedMessage) {
				return fail(tstep, ErrBundleTimestamp, "%s: imprint is not the %v of %s", tp, ts.HashAlgorithm, mc.Signed)
			}
			chain := "TSA chain not checked (no roots)"
			if b.opts.TSARoots != nil {
				if len(ts.Certificates) == 0 {
					return fail(tstep, ErrBundleTimestamp, "%s: no TSA certificate in token", tp)
				}
				inter := x509.NewCertPool()
				for _, c := range ts.Certificates[1:] {
					inter.AddCert(c)
				}
				if _, err := ts.Certificates[0].Verify(x509.VerifyOptions{Roots: b.opts.TSARoots, Intermediates: inter,
					CurrentTime: ts.Time, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping}}); err != nil {
					return fail(tstep, ErrBundleTimestamp, "%s: TSA certificate: %v", tp, err)
				}
				chain = "TSA certificate chains to a trusted root"
			}
			b.pass(tstep, "genTime %s by %s; %s", ts.Time.UTC().Format(time.RFC3339), subjectOf(ts), chain)
		}
		b.cps[mc.Size] = checkedCheckpoint{size: mc.Size, root: cp.Root, cosigned: cosigned}
	}
	return nil
}

func subjectOf(ts *timestamp.Timestamp) string {
	if len(ts.Certificates) == 0 {
		return "unknown TSA"
	}
	return ts.Certificates[0].Subject.CommonName
}

func (b *bundleChecker) events() error {
	cp, ok := b.cps[b.m.Checkpoint]
	if !ok {
		return fail("events", ErrBundleMalformed, "checkpoint %d is not in the bundle", b.m.Checkpoint)
	}
	for _, e := range b.m.Events {
		step := fmt.Sprintf("leaf %d (%s)", e.Index, e.Kind)
		leaf, err := b.file(step, e.Leaf)
		if err != nil {
			return err
		}
		want, err := hex.DecodeString(e.LeafHash)
		if err != nil || len(want) != tlog.HashSize {
			return fail(step, ErrBundleMalformed, "leaf_hash %q", e.LeafHash)
		}
		got := tlogfmt.LeafHash(leaf)
		if !bytes.Equal(got[:], want) {
			return fail(step, ErrBundleLeafHash, "%s hashes to %x, manifest says %s", e.Leaf, got[:], e.LeafHash)
		}
		pf, err := b.file(step, e.Proof)
		if err != nil {
			return err
		}
		var p proof.TLogProof
		if err := p.Unmarshal(pf); err != nil {
			return fail(step, ErrBundleMalformed, "%s: %v", e.Proof, err)
		}
		if p.Index != e.Index {
			return fail(step, ErrBundleInclusion, "%s is for index %d", e.Proof, p.Index)
		}
		if !bytes.Equal(p.Checkpoint, cp.cosigned) {
			return fail(step, ErrBundleInclusion, "%s names a checkpoint other than the verified checkpoint %d", e.Proof, cp.size)
		}
		hashes := make([]tlog.Hash, len(p.Hashes))
		for i, h := range p.Hashes {
			hashes[i] = h
		}
		if err := tlogfmt.CheckInclusion(hashes, e.Index, cp.size, got, cp.root); err != nil {
			return fail(step, ErrBundleInclusion, "%s against checkpoint %d: %v", e.Proof, cp.size, err)
		}
		b.leaves[e.Index] = leaf
		b.pass(step, "leaf hash %x… included in checkpoint %d (%s)", got[:6], cp.size, count(len(hashes), "hash", "hashes"))
	}
	return nil
}

func (b *bundleChecker) consistency() error {
	for _, c := range b.m.Consistency {
		step := fmt.Sprintf("consistency %d→%d", c.Old, c.New)
		oldCP, ok1 := b.cps[c.Old]
		newCP, ok2 := b.cps[c.New]
		if !ok1 || !ok2 {
			return fail(step, ErrBundleMalformed, "checkpoints %d and %d must both be in the bundle", c.Old, c.New)
		}
		data, err := b.file(step, c.Proof)
		if err != nil {
			return err
		}
		hashes, err := tlogfmt.ParseHashLines(data)
		if err != nil {
			return fail(step, ErrBundleMalformed, "%s: %v", c.Proof, err)
		}
		if err := tlogfmt.CheckConsistency(hashes, oldCP.size, newCP.size, oldCP.root, newCP.root); err != nil {
			return fail(step, ErrBundleConsistency, "%s: %v", c.Proof, err)
		}
		b.pass(step, "checkpoint %d is a prefix of checkpoint %d", c.Old, c.New)
	}
	return nil
}

func (b *bundleChecker) openings() error {
	for _, o := range b.m.Openings {
		step := fmt.Sprintf("opening leaf %d %s", o.Index, o.Pointer)
		leaf, ok := b.leaves[o.Index]
		if !ok {
			return fail(step, ErrBundleCommitment, "leaf %d is not a verified event of the bundle", o.Index)
		}
		var doc any
		if err := json.Unmarshal(leaf, &doc); err != nil {
			return fail(step, ErrBundleCommitment, "leaf is not JSON: %v", err)
		}
		at, err := jsonPointer(doc, o.Pointer)
		if err != nil {
			return fail(step, ErrBundleCommitment, "%v", err)
		}
		s, ok := at.(string)
		if !ok {
			return fail(step, ErrBundleCommitment, "value at pointer is not a string")
		}
		com, err := decodeCommitment(s)
		if err != nil {
			return fail(step, ErrBundleCommitment, "%v", err)
		}
		salt, err := base64.StdEncoding.DecodeString(o.Salt)
		if err != nil {
			return fail(step, ErrBundleMalformed, "salt: %v", err)
		}
		sum := sha256.Sum256(append(salt, o.Value...))
		if !bytes.Equal(sum[:], com) {
			return fail(step, ErrBundleCommitment, "SHA-256(salt || value) is %x, leaf commits to %x", sum[:], com)
		}
		b.pass(step, "SHA-256(salt || value) matches the commitment")
	}
	return nil
}

// documents checks each original document against the ledger: its bytes
// hash to the SHA-256 that a verified leaf records for it.
func (b *bundleChecker) documents() error {
	for _, d := range b.m.Documents {
		step := "document " + d.Path
		data, err := b.file(step, d.Path)
		if err != nil {
			return err
		}
		if sha256Hex(data) != d.SHA256 {
			return fail(step, ErrBundleDigest, "SHA-256 is %s, manifest says %s", sha256Hex(data), d.SHA256)
		}
		leaf, ok := b.leaves[d.Index]
		if !ok {
			return fail(step, ErrBundleDigest, "leaf %d is not a verified event of the bundle", d.Index)
		}
		var rec struct {
			Data struct {
				Document struct {
					SHA256 string `json:"sha256"`
				} `json:"document"`
				Files []struct {
					SHA256 string `json:"sha256"`
				} `json:"files"`
			} `json:"data"`
		}
		if err := json.Unmarshal(leaf, &rec); err != nil {
			return fail(step, ErrBundleDigest, "leaf %d is not JSON: %v", d.Index, err)
		}
		found := rec.Data.Document.SHA256 == d.SHA256
		for _, f := range rec.Data.Files {
			found = found || f.SHA256 == d.SHA256
		}
		if !found {
			return fail(step, ErrBundleDigest, "leaf %d does not record SHA-256 %s", d.Index, d.SHA256)
		}
		b.pass(step, "SHA-256 %s… is the document leaf %d records", d.SHA256[:12], d.Index)
	}
	return nil
}

func (b *bundleChecker) digests() error {
	listed := map[string]bool{tlogfmt.BundleManifest: true}
	for _, f := range b.m.Files {
		step := "file " + f.Path
		data, err := b.file(step, f.Path)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		if hex.EncodeToString(sum[:]) != strings.ToLower(f.SHA256) {
			return fail(step, ErrBundleDigest, "SHA-256 is %x, manifest says %s", sum[:], f.SHA256)
		}
		listed[f.Path] = true
	}
	for name := range b.files {
		if !listed[name] {
			return fail("file "+name, ErrBundleMalformed, "not listed in the manifest")
		}
	}
	b.pass("files", "%s the manifest", count(len(b.m.Files), "file digest matches", "file digests match"))
	return nil
}

// pdfs checks the signature of each PDF in the bundle with this package's
// PDF verifier: the signed ranges cover the whole file, the digest and the
// signature verify, nothing changed after signing, and the signer is the
// bundle's document-signing certificate. Trust in that certificate (and
// revocation) is for `cunzheng verify pdf` with the platform's CA: the
// manifest is unsigned, so this step proves integrity, not authorship.
func (b *bundleChecker) pdfs() error {
	var signer []byte
	if b.m.Keys.DocumentSigning != "" {
		data, err := b.file("pdf", b.m.Keys.DocumentSigning)
		if err != nil {
			return err
		}
		certs, err := PEMCertificates(data)
		if err != nil || len(certs) == 0 {
			return fail("pdf", ErrBundleMalformed, "%s holds no certificate", b.m.Keys.DocumentSigning)
		}
		signer = certs[0].Raw
	}
	for _, name := range []string{tlogfmt.BundleCertificatePDF, tlogfmt.BundleEvidencePDF} {
		data, ok := b.files[name]
		if !ok {
			continue
		}
		step := "pdf " + name
		rep, err := PDF(context.Background(), bytes.NewReader(data), int64(len(data)), Options{MaxSize: int64(len(data)) + 1})
		if err != nil {
			return fail(step, ErrBundlePDF, "%v", err)
		}
		if len(rep.Signatures) == 0 {
			return fail(step, ErrBundlePDF, "not signed")
		}
		for _, sig := range rep.Signatures {
			if !sig.CoverageOK || !sig.CoversWholeFile || !sig.DigestOK || !sig.SignatureOK || sig.ChangedAfter || rep.UnsignedChanges {
				return fail(step, ErrBundlePDF, "signature %d: coverage %v, whole file %v, digest %v, signature %v, changed after %v",
					sig.Index, sig.CoverageOK, sig.CoversWholeFile, sig.DigestOK, sig.SignatureOK, sig.ChangedAfter)
			}
			if signer != nil && (sig.Signer == nil || sig.Signer.SHA256 != sha256Hex(signer)) {
				return fail(step, ErrBundlePDF, "signature %d is not by the bundle's document-signing certificate", sig.Index)
			}
		}
		b.pass(step, "signature intact over the whole file, by %s", rep.Signatures[0].Signer.Subject)
	}
	return nil
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// jsonPointer resolves an RFC 6901 pointer in a decoded JSON document.
func jsonPointer(doc any, ptr string) (any, error) {
	if ptr == "" {
		return doc, nil
	}
	if !strings.HasPrefix(ptr, "/") {
		return nil, fmt.Errorf("pointer %q does not start with /", ptr)
	}
	cur := doc
	for _, tok := range strings.Split(ptr[1:], "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		switch v := cur.(type) {
		case map[string]any:
			next, ok := v[tok]
			if !ok {
				return nil, fmt.Errorf("pointer %q: no member %q", ptr, tok)
			}
			cur = next
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(v) {
				return nil, fmt.Errorf("pointer %q: bad index %q", ptr, tok)
			}
			cur = v[i]
		default:
			return nil, fmt.Errorf("pointer %q: %q is not in an object or array", ptr, tok)
		}
	}
	return cur, nil
}

// decodeCommitment decodes a 32-byte commitment written as hex or base64,
// optionally prefixed "sha256:".
func decodeCommitment(s string) ([]byte, error) {
	s = strings.TrimPrefix(s, "sha256:")
	if b, err := hex.DecodeString(s); err == nil && len(b) == sha256.Size {
		return b, nil
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil && len(b) == sha256.Size {
			return b, nil
		}
	}
	return nil, fmt.Errorf("commitment %q is not a SHA-256 in hex or base64", s)
}

// PEMCertificates parses every CERTIFICATE block of a PEM file.
func PEMCertificates(data []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for {
		var blk *pem.Block
		blk, data = pem.Decode(data)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}
