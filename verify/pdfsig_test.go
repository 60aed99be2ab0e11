package verify

import (
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestAgreesWithPdfsig checks the cryptographic part of every verdict
// against poppler's pdfsig (Debian poppler-utils), a verifier we did not
// write: where pdfsig can judge a signature (not SM2, not a document
// timestamp) and the byte range is well formed, "Signature is Valid" must
// match our digest and signature checks. Where we are stricter (a byte
// range that leaves part of the revision unsigned, which pdfsig calls
// valid) the corpus golden files pin our verdict.
func TestAgreesWithPdfsig(t *testing.T) {
	if testing.Short() {
		t.Skip("runs pdfsig on the corpus")
	}
	if _, err := exec.LookPath("pdfsig"); err != nil {
		t.Fatal("pdfsig not installed: run make deps (apt-get install poppler-utils)")
	}
	files, _ := filepath.Glob(filepath.Join(corpus, "*.pdf"))
	opts := testOptions(t)
	re := regexp.MustCompile(`Signature Validation: (.*)`)
	compared := 0
	for _, f := range files {
		rep, err := verifyFile(t, f, opts)
		if err != nil || len(rep.Signatures) == 0 {
			continue
		}
		out, _ := exec.Command("pdfsig", "-no-ocsp", "-nocert", f).CombinedOutput()
		theirs := re.FindAllStringSubmatch(string(out), -1)
		if len(theirs) != len(rep.Signatures) {
			t.Logf("%s: pdfsig sees %d signatures, we see %d", filepath.Base(f), len(theirs), len(rep.Signatures))
			continue
		}
		for i, s := range rep.Signatures {
			if s.Kind != "signature" || !s.CoverageOK || strings.Contains(s.Algorithm, "SM2") {
				continue
			}
			pdfsigValid := strings.HasPrefix(theirs[i][1], "Signature is Valid")
			ours := s.DigestOK && s.SignatureOK
			if pdfsigValid != ours {
				t.Errorf("%s signature %d: pdfsig says %q, we say digest=%v signature=%v", filepath.Base(f), i+1, theirs[i][1], s.DigestOK, s.SignatureOK)
			}
			compared++
		}
	}
	if compared < 10 {
		t.Fatalf("compared only %d signatures with pdfsig", compared)
	}
	t.Logf("%d signatures agree with pdfsig", compared)
}
