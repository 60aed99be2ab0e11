package verify_test

import (
	"archive/zip"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/cunzheng/cunzheng/ledger/tlogfmt"
	"github.com/cunzheng/cunzheng/report"
	"github.com/cunzheng/cunzheng/report/reporttest"
	"github.com/cunzheng/cunzheng/verify"
)

var (
	bundleOnce    sync.Once
	bundleFix     *reporttest.Fixture
	bundleZip     []byte
	bundleOnceErr error
)

// testBundle returns a revealed evidence bundle of the demo contract, built
// by the report service from real Merkle math, note signatures,
// cosignatures and RFC 3161 tokens.
func testBundle(t testing.TB) (*reporttest.Fixture, []byte) {
	t.Helper()
	bundleOnce.Do(func() {
		bundleFix, bundleOnceErr = reporttest.Build(reporttest.Options{Reveal: true})
		if bundleOnceErr != nil {
			return
		}
		var s *report.Service
		s, bundleOnceErr = report.New(report.Config{KeyDir: t.TempDir()})
		if bundleOnceErr != nil {
			return
		}
		bundleZip, bundleOnceErr = s.Bundle(bundleFix.Contract, report.Request{
			ReportNumber: "CZ-20181116-0000a1b2", Requester: "t_7f3a9c/legal-1", Reveal: true,
			IssuedAt: time.Date(2018, 11, 16, 2, 0, 0, 0, time.UTC)})
	})
	if bundleOnceErr != nil {
		t.Fatal(bundleOnceErr)
	}
	return bundleFix, bundleZip
}

func pinned(t testing.TB, f *reporttest.Fixture) verify.BundleOptions {
	t.Helper()
	var o verify.BundleOptions
	v, err := tlogfmt.NewVerifier(f.LogVKey)
	if err != nil {
		t.Fatal(err)
	}
	o.LogKeys = []note.Verifier{v}
	for _, n := range f.Notaries {
		v, err := tlogfmt.NewVerifier(n.VKey)
		if err != nil {
			t.Fatal(err)
		}
		o.NotaryKeys = append(o.NotaryKeys, v)
	}
	return o
}

func unzip(t testing.TB, z []byte) map[string][]byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(z), int64(len(z)))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		out[f.Name], err = io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func rezip(t testing.TB, files map[string][]byte) []byte {
	t.Helper()
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, n := range names {
		w, err := zw.Create(n)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(files[n]); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func manifestOf(t testing.TB, files map[string][]byte) tlogfmt.Manifest {
	t.Helper()
	var m tlogfmt.Manifest
	if err := json.Unmarshal(files[tlogfmt.BundleManifest], &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func setManifest(t testing.TB, files map[string][]byte, m tlogfmt.Manifest) {
	t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	files[tlogfmt.BundleManifest] = b
}

func TestBundleVerifies(t *testing.T) {
	f, z := testBundle(t)
	var printed []string
	opts := pinned(t, f)
	opts.Step = func(s verify.BundleStep) { printed = append(printed, s.Name) }
	res, err := verify.Bundle(z, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Pinned {
		t.Error("keys given but result not pinned")
	}
	if len(printed) != len(res.Steps) || len(printed) < len(f.Contract.Events)+6 {
		t.Errorf("%d steps printed, %d in result", len(printed), len(res.Steps))
	}
	// Without pinned keys the bundle's own keys are used, and said so.
	res, err = verify.Bundle(z, verify.BundleOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Pinned {
		t.Error("no keys given but result pinned")
	}
}

// TestBundleTampering changes one thing at a time and checks that the
// checker fails at the right step with the right reason.
func TestBundleTampering(t *testing.T) {
	f, z := testBundle(t)
	base := unzip(t, z)
	m := manifestOf(t, base)
	cpSize := m.Checkpoint
	ev := m.Events[3]
	var latest uint64
	for _, c := range m.Checkpoints {
		latest = max(latest, c.Size)
	}
	other, err := reporttest.Build(reporttest.Options{ExtraSigners: 1, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	otherNotary, err := tlogfmt.NewVerifier(other.Notaries[0].VKey)
	if err != nil {
		t.Fatal(err)
	}
	flip := func(name string, at func(b []byte) int) func(map[string][]byte) {
		return func(files map[string][]byte) {
			b := bytes.Clone(files[name])
			b[at(b)] ^= 0x01
			files[name] = b
		}
	}
	replace := func(name, old, new string) func(map[string][]byte) {
		return func(files map[string][]byte) {
			if !bytes.Contains(files[name], []byte(old)) {
				t.Fatalf("%s does not contain %q", name, old)
			}
			files[name] = bytes.Replace(files[name], []byte(old), []byte(new), 1)
		}
	}
	tests := []struct {
		name     string
		tamper   func(files map[string][]byte)
		opts     func(o *verify.BundleOptions)
		wantErr  error
		wantStep string
	}{
		{"leaf byte", flip(ev.Leaf, func(b []byte) int { return len(b) / 2 }), nil, verify.ErrBundleLeafHash, fmt.Sprintf("leaf %d", ev.Index)},
		{"inclusion hash", func(files map[string][]byte) {
			lines := strings.Split(string(files[ev.Proof]), "\n")
			h, _ := base64.StdEncoding.DecodeString(lines[2])
			h[0] ^= 1
			lines[2] = base64.StdEncoding.EncodeToString(h)
			files[ev.Proof] = []byte(strings.Join(lines, "\n"))
		}, nil, verify.ErrBundleInclusion, fmt.Sprintf("leaf %d", ev.Index)},
		{"inclusion index", replace(ev.Proof, fmt.Sprintf("index %d\n", ev.Index), fmt.Sprintf("index %d\n", ev.Index+1)), nil, verify.ErrBundleInclusion, fmt.Sprintf("leaf %d", ev.Index)},
		{"proof against other checkpoint", func(files map[string][]byte) {
			p := files[ev.Proof]
			i := bytes.Index(p, []byte("\n\n"))
			files[ev.Proof] = append(bytes.Clone(p[:i+2]), files[fmt.Sprintf("checkpoints/%d.note", latest)]...)
		}, nil, verify.ErrBundleInclusion, fmt.Sprintf("leaf %d", ev.Index)},
		{"checkpoint root", func(files map[string][]byte) {
			name := fmt.Sprintf("checkpoints/%d.note.signed", cpSize)
			lines := strings.SplitN(string(files[name]), "\n", 4)
			r, _ := base64.StdEncoding.DecodeString(lines[2])
			r[0] ^= 1
			files[name] = []byte(lines[0] + "\n" + lines[1] + "\n" + base64.StdEncoding.EncodeToString(r) + "\n" + lines[3])
		}, nil, verify.ErrBundleSignature, fmt.Sprintf("checkpoint %d", cpSize)},
		{"log signature", flip(fmt.Sprintf("checkpoints/%d.note.signed", cpSize), func(b []byte) int { return len(b) - 10 }), nil, verify.ErrBundleSignature, fmt.Sprintf("checkpoint %d", cpSize)},
		{"cosignature removed", func(files map[string][]byte) {
			name := fmt.Sprintf("checkpoints/%d.note", cpSize)
			lines := strings.Split(strings.TrimSuffix(string(files[name]), "\n"), "\n")
			files[name] = []byte(strings.Join(lines[:len(lines)-1], "\n") + "\n")
		}, nil, verify.ErrBundleCosignature, fmt.Sprintf("checkpoint %d", cpSize)},
		{"cosignature byte", flip(fmt.Sprintf("checkpoints/%d.note", cpSize), func(b []byte) int { return len(b) - 10 }), nil, verify.ErrBundleCosignature, fmt.Sprintf("checkpoint %d", cpSize)},
		{"token byte", flip(fmt.Sprintf("checkpoints/%d.tst.0", cpSize), func(b []byte) int { return len(b) - 20 }), nil, verify.ErrBundleTimestamp, fmt.Sprintf("checkpoint %d token 0", cpSize)},
		{"token of other checkpoint", func(files map[string][]byte) {
			files[fmt.Sprintf("checkpoints/%d.tst.0", cpSize)] = files[fmt.Sprintf("checkpoints/%d.tst.0", latest)]
		}, nil, verify.ErrBundleTimestamp, fmt.Sprintf("checkpoint %d token 0", cpSize)},
		{"token dropped", func(files map[string][]byte) {
			mm := manifestOf(t, files)
			for i := range mm.Checkpoints {
				if mm.Checkpoints[i].Size == cpSize {
					for _, tp := range mm.Checkpoints[i].Timestamps {
						delete(files, tp)
					}
					mm.Checkpoints[i].Timestamps = nil
				}
			}
			setManifest(t, files, mm)
		}, nil, verify.ErrBundleTimestamp, fmt.Sprintf("checkpoint %d", cpSize)},
		{"consistency hash", func(files map[string][]byte) {
			name := m.Consistency[0].Proof
			lines := strings.Split(string(files[name]), "\n")
			h, _ := base64.StdEncoding.DecodeString(lines[0])
			h[31] ^= 1
			lines[0] = base64.StdEncoding.EncodeToString(h)
			files[name] = []byte(strings.Join(lines, "\n"))
		}, nil, verify.ErrBundleConsistency, fmt.Sprintf("consistency %d→%d", cpSize, latest)},
		{"opening value", func(files map[string][]byte) {
			mm := manifestOf(t, files)
			mm.Openings[0].Value = "叶建辉"
			setManifest(t, files, mm)
		}, nil, verify.ErrBundleCommitment, "opening leaf"},
		{"opening salt", func(files map[string][]byte) {
			mm := manifestOf(t, files)
			s, _ := base64.StdEncoding.DecodeString(mm.Openings[1].Salt)
			s[0] ^= 1
			mm.Openings[1].Salt = base64.StdEncoding.EncodeToString(s)
			setManifest(t, files, mm)
		}, nil, verify.ErrBundleCommitment, "opening leaf"},
		{"pdf byte", flip(tlogfmt.BundleEvidencePDF, func(b []byte) int { return len(b) / 3 }), nil, verify.ErrBundleDigest, "file " + tlogfmt.BundleEvidencePDF},
		{"pdf re-signed digests updated", func(files map[string][]byte) {
			// Change a byte of the signed PDF and fix up the manifest's
			// digest: the file digests pass, the PDF signature must not.
			b := bytes.Clone(files[tlogfmt.BundleCertificatePDF])
			b[len(b)/4] ^= 0x01
			files[tlogfmt.BundleCertificatePDF] = b
			mm := manifestOf(t, files)
			for i := range mm.Files {
				if mm.Files[i].Path == tlogfmt.BundleCertificatePDF {
					sum := sha256.Sum256(b)
					mm.Files[i].SHA256 = hex.EncodeToString(sum[:])
				}
			}
			setManifest(t, files, mm)
		}, nil, verify.ErrBundlePDF, "pdf " + tlogfmt.BundleCertificatePDF},
		{"unlisted file", func(files map[string][]byte) { files["leaves/9999.leaf"] = []byte("{}") }, nil, verify.ErrBundleMalformed, "file leaves/9999.leaf"},
		{"missing leaf", func(files map[string][]byte) { delete(files, ev.Leaf) }, nil, verify.ErrBundleMalformed, fmt.Sprintf("leaf %d", ev.Index)},
		{"manifest not json", func(files map[string][]byte) { files[tlogfmt.BundleManifest] = []byte("{") }, nil, verify.ErrBundleMalformed, "manifest"},
		{"wrong pinned log key", nil, func(o *verify.BundleOptions) {
			v, err := tlogfmt.NewVerifier(other.LogVKey)
			if err != nil {
				t.Fatal(err)
			}
			// Same name, different key: the real signature does not verify.
			o.LogKeys = []note.Verifier{v}
		}, verify.ErrBundleSignature, fmt.Sprintf("checkpoint %d", cpSize)},
		{"unknown notary pinned", nil, func(o *verify.BundleOptions) {
			o.NotaryKeys = append(o.NotaryKeys, otherNotary)
		}, verify.ErrBundleCosignature, fmt.Sprintf("checkpoint %d", cpSize)},
		{"TSA not under pinned root", nil, func(o *verify.BundleOptions) {
			pool := x509.NewCertPool()
			pool.AddCert(selfSigned(t))
			o.TSARoots = pool
		}, verify.ErrBundleTimestamp, fmt.Sprintf("checkpoint %d token 0", cpSize)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := map[string][]byte{}
			for k, v := range base {
				files[k] = v
			}
			if tt.tamper != nil {
				tt.tamper(files)
			}
			opts := pinned(t, f)
			if tt.opts != nil {
				tt.opts(&opts)
			}
			_, err := verify.Bundle(rezip(t, files), opts)
			t.Log(err)
			var be *verify.BundleError
			if !errors.As(err, &be) {
				t.Fatalf("err = %v, want a *BundleError", err)
			}
			if !errors.Is(err, tt.wantErr) || !strings.HasPrefix(be.Step, tt.wantStep) {
				t.Errorf("err = %v\nwant %v at step %q", err, tt.wantErr, tt.wantStep)
			}
		})
	}
}

func TestBundleRejectsHostileZip(t *testing.T) {
	for _, z := range [][]byte{nil, []byte("PK\x03\x04garbage"), []byte("not a zip")} {
		if _, err := verify.Bundle(z, verify.BundleOptions{}); !errors.Is(err, verify.ErrBundleMalformed) {
			t.Errorf("err = %v, want ErrBundleMalformed", err)
		}
	}
	files := map[string][]byte{"../etc/passwd": []byte("x")}
	if _, err := verify.Bundle(rezip(t, files), verify.BundleOptions{}); !errors.Is(err, verify.ErrBundleMalformed) {
		t.Errorf("path traversal: err = %v", err)
	}
}

func FuzzBundle(f *testing.F) {
	_, z := testBundle(f)
	f.Add(z)
	f.Add([]byte("PK\x05\x06" + strings.Repeat("\x00", 18)))
	f.Fuzz(func(t *testing.T, data []byte) {
		res, err := verify.Bundle(data, verify.BundleOptions{})
		if err == nil && res == nil {
			t.Fatal("nil result without error")
		}
	})
}

func selfSigned(t testing.TB) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(9), Subject: pkix.Name{CommonName: "some other root"},
		NotBefore: time.Unix(0, 0), NotAfter: time.Now().AddDate(30, 0, 0), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestBundleSM2 pins the log's SM2/SM3 key beside its Ed25519 key: both
// lines must verify, and a broken SM2 line is caught.
func TestBundleSM2(t *testing.T) {
	f, err := reporttest.Build(reporttest.Options{SM2: true, Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	s, err := report.New(report.Config{KeyDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	z, err := s.Bundle(f.Contract, report.Request{ReportNumber: "CZ-SM2", IssuedAt: time.Unix(1542300000, 0)})
	if err != nil {
		t.Fatal(err)
	}
	opts := pinned(t, f)
	sm2v, err := tlogfmt.NewVerifier(f.SM2VKey)
	if err != nil {
		t.Fatal(err)
	}
	opts.LogKeys = append(opts.LogKeys, sm2v)
	if _, err := verify.Bundle(z, opts); err != nil {
		t.Fatal(err)
	}
	files := unzip(t, z)
	m := manifestOf(t, files)
	name := m.Checkpoints[0].Signed
	lines := strings.Split(strings.TrimSuffix(string(files[name]), "\n"), "\n")
	last := lines[len(lines)-1] // the SM2 line is signed second
	sig := last[strings.LastIndex(last, " ")+1:]
	raw, _ := base64.StdEncoding.DecodeString(sig)
	raw[len(raw)-3] ^= 1
	lines[len(lines)-1] = strings.TrimSuffix(last, sig) + base64.StdEncoding.EncodeToString(raw)
	files[name] = []byte(strings.Join(lines, "\n") + "\n")
	_, err = verify.Bundle(rezip(t, files), opts)
	if !errors.Is(err, verify.ErrBundleSignature) {
		t.Errorf("broken SM2 line: err = %v, want ErrBundleSignature", err)
	}
}
