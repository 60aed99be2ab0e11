package verify

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// pyHankoCorpus is the shared copy of pyHanko's test PDFs beside the
// checkout (see its README); CUNZHENG_PYHANKO_CORPUS overrides it.
func pyHankoCorpus() string {
	if d := os.Getenv("CUNZHENG_PYHANKO_CORPUS"); d != "" {
		return d
	}
	return filepath.Join("..", "..", "shared", "corpus", "pyhanko")
}

// pyHankoCheck is what one kind of pyHanko assertion means for our report.
type pyHankoCheck struct {
	category string // the row of the README table
	marker   string // text of EXPECTED.tsv that selects this check
	check    func(rep *Report, err error) string
}

// pyHankoChecks are tried in order; the first whose marker occurs in the
// assertion applies. Every assertion in EXPECTED.tsv must match one.
var pyHankoChecks = []pyHankoCheck{
	{"later revisions not allowed", "SuspiciousModification", firstSigDisallowed},
	{"later revisions not allowed", "level OTHER", firstSigDisallowed},
	{"later revisions not allowed", ": OTHER", firstSigDisallowed},
	{"later revisions allowed", "FORM_FILLING", firstSigAllowed},
	{"byte range anomalies", "intact but coverage", coverageIntact},
	{"byte range anomalies", "coverage", coverageRejected},
	{"crypto constraints", "CRYPTO_CONSTRAINTS_FAILURE", cryptoConstraints},
	{"signature rejected", "rejected", detachedOnly},
	{"encrypted, needs a private key", "private key", encrypted},
	{"valid signatures", "md shake256", func(rep *Report, err error) string {
		if why := allValid(rep, err); why != "" {
			return why
		}
		if a := rep.Signatures[0].DigestAlgorithm; a != "SHAKE256" {
			return "digest algorithm " + a
		}
		return ""
	}},
	{"valid signatures", "valid", allValid},
	{"valid signatures", "val_trusted", allValid},
	{"unsigned or reader robustness", "no assertion", robust},
	{"unsigned or reader robustness", "no test", robust},
}

// TestPyHankoCorpus checks that `verify pdf` agrees with every assertion
// pyHanko's own test suite makes about its test files, and that the
// agreement table in the README is current (-update rewrites it).
func TestPyHankoCorpus(t *testing.T) {
	dir := pyHankoCorpus()
	expected, err := os.ReadFile(filepath.Join(dir, "EXPECTED.tsv"))
	if err != nil {
		t.Skipf("pyHanko corpus not present at %s (see README, \"Agreement with pyHanko\")", dir)
	}
	type row struct{ files, agree int }
	rows := map[string]*row{}
	var disagreements []string
	sc := bufio.NewScanner(bytes.NewReader(expected))
	sc.Scan() // header
	n := 0
	for sc.Scan() {
		name, assertion, ok := strings.Cut(sc.Text(), "\t")
		if !ok {
			continue
		}
		n++
		var pc *pyHankoCheck
		for i := range pyHankoChecks {
			if strings.Contains(assertion, pyHankoChecks[i].marker) {
				pc = &pyHankoChecks[i]
				break
			}
		}
		if pc == nil {
			t.Errorf("%s: no check for assertion %q", name, assertion)
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		rep, verr := PDFBytes(ctx, data, Options{})
		cancel()
		r := rows[pc.category]
		if r == nil {
			r = &row{}
			rows[pc.category] = r
		}
		r.files++
		if why := pc.check(rep, verr); why != "" {
			disagreements = append(disagreements, fmt.Sprintf("| %s | %s | %s |", name, assertion, why))
			t.Errorf("%s: pyHanko asserts %q; we disagree: %s", name, assertion, why)
			continue
		}
		r.agree++
	}
	if n != 130 {
		t.Errorf("EXPECTED.tsv lists %d files, the corpus has 130", n)
	}
	var cats []string
	for c := range rows {
		cats = append(cats, c)
	}
	sort.Strings(cats)
	var b strings.Builder
	b.WriteString("| pyHanko's assertion | files | agreeing | disagreeing |\n|---|---|---|---|\n")
	total, agree := 0, 0
	for _, c := range cats {
		r := rows[c]
		fmt.Fprintf(&b, "| %s | %d | %d | %d |\n", c, r.files, r.agree, r.files-r.agree)
		total += r.files
		agree += r.agree
	}
	fmt.Fprintf(&b, "| **all** | %d | %d | %d |\n", total, agree, total-agree)
	if len(disagreements) > 0 {
		b.WriteString("\n| file | pyHanko | why we disagree |\n|---|---|---|\n")
		b.WriteString(strings.Join(disagreements, "\n") + "\n")
	}
	t.Logf("agreement with pyHanko:\n%s", b.String())
	checkReadmeSection(t, "pyhanko-agreement", b.String())
}

// checkReadmeSection compares the README's text between the markers
// <!-- begin NAME --> and <!-- end NAME --> with want, or rewrites it
// under -update.
func checkReadmeSection(t *testing.T, name, want string) {
	t.Helper()
	path := filepath.Join("..", "README.md")
	readme, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	begin, end := "<!-- begin "+name+" -->\n", "<!-- end "+name+" -->"
	i := bytes.Index(readme, []byte(begin))
	j := bytes.Index(readme, []byte(end))
	if i < 0 || j < i {
		t.Fatalf("README.md has no %q … %q section", begin, end)
	}
	got := string(readme[i+len(begin) : j])
	if got == want {
		return
	}
	if *update {
		out := append(append(append([]byte{}, readme[:i+len(begin)]...), want...), readme[j:]...)
		if err := os.WriteFile(path, out, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("README.md section %s is stale (run go test ./verify -run TestPyHankoCorpus -update):\n got:\n%s\nwant:\n%s", name, got, want)
}

func firstSig(rep *Report, err error) (*Signature, string) {
	if err != nil {
		return nil, "not read: " + err.Error()
	}
	if len(rep.Signatures) == 0 {
		return nil, "no signature found"
	}
	return rep.Signatures[0], ""
}

// firstSigDisallowed: pyHanko's diff analysis rejects a later revision.
func firstSigDisallowed(rep *Report, err error) string {
	s, why := firstSig(rep, err)
	if why != "" {
		return why
	}
	if !s.ChangedAfter || s.ChangesAllowed {
		return "the changes after the first signature are judged allowed"
	}
	if rep.Verdict.Indication == TotalPassed {
		return "the document passes"
	}
	if s.Verdict.SubIndication != SigConstraintsFailure {
		return "the first signature's verdict is " + verdictString(s.Verdict) + ", not the disallowed change"
	}
	return ""
}

// firstSigAllowed: the later revisions are form filling, signing or
// long-term-validation updates, all allowed, and the signature is intact.
func firstSigAllowed(rep *Report, err error) string {
	s, why := firstSig(rep, err)
	if why != "" {
		return why
	}
	if !s.DigestOK || !s.SignatureOK {
		return "the first signature does not verify"
	}
	if !s.ChangesAllowed {
		for _, c := range s.Changes {
			if !c.Allowed {
				return fmt.Sprintf("change judged not allowed: revision %d, %s %s", c.Revision, c.Kind, c.Object)
			}
		}
	}
	if s.Verdict.Indication == TotalFailed {
		return "the first signature is TOTAL-FAILED"
	}
	return ""
}

// allValid: every signature is intact and cryptographically valid, no
// change after it is disallowed; trust is the test CA's, which we do not
// hold, so the chain may be undecided but nothing may fail.
func allValid(rep *Report, err error) string {
	if err != nil {
		return "not read: " + err.Error()
	}
	if len(rep.Signatures) == 0 {
		return "no signature found"
	}
	for _, s := range rep.Signatures {
		switch {
		case !s.CoverageOK || !s.DigestOK || !s.SignatureOK:
			return fmt.Sprintf("signature %d does not verify: %s", s.Index, strings.Join(s.Problems, "; "))
		case !s.ChangesAllowed:
			return fmt.Sprintf("signature %d: changes after it judged not allowed", s.Index)
		case s.Verdict.Indication == TotalFailed:
			return fmt.Sprintf("signature %d is %s", s.Index, verdictString(s.Verdict))
		case s.Verdict.SubIndication == CryptoConstraintsFailure || s.Verdict.SubIndication == FormatFailure:
			return fmt.Sprintf("signature %d is %s", s.Index, verdictString(s.Verdict))
		}
	}
	return ""
}

// coverageIntact: the digest over the (odd) byte range matches, but the
// coverage is not acceptable.
func coverageIntact(rep *Report, err error) string {
	s, why := firstSig(rep, err)
	if why != "" {
		return why
	}
	if !s.DigestOK {
		return "the digest over the byte range is not reported intact"
	}
	return coverageRejected(rep, err)
}

func coverageRejected(rep *Report, err error) string {
	s, why := firstSig(rep, err)
	if why != "" {
		return why
	}
	if s.CoverageOK || rep.Verdict.Indication == TotalPassed {
		return "the byte range is accepted"
	}
	return ""
}

func cryptoConstraints(rep *Report, err error) string {
	s, why := firstSig(rep, err)
	if why != "" {
		return why
	}
	if s.Verdict.SubIndication != CryptoConstraintsFailure {
		return "verdict " + verdictString(s.Verdict)
	}
	return ""
}

// detachedOnly: a PDF signature with encapsulated content is not valid.
func detachedOnly(rep *Report, err error) string {
	s, why := firstSig(rep, err)
	if why != "" {
		return why
	}
	if s.Verdict.Indication == TotalPassed || s.SignatureOK {
		return "accepted"
	}
	return ""
}

func encrypted(rep *Report, err error) string {
	if !errors.Is(err, ErrNotPDF) || !strings.Contains(err.Error(), "encrypted") {
		return fmt.Sprintf("expected the encrypted-PDF error, got %v", err)
	}
	return ""
}

// robust: no assertion from pyHanko; reading ends in a report or a
// classified error, and nothing unsigned passes.
func robust(rep *Report, err error) string {
	if err != nil {
		if errors.Is(err, ErrNotPDF) {
			return ""
		}
		return "unclassified error: " + err.Error()
	}
	if rep.Verdict.Indication == TotalPassed {
		return "passes"
	}
	return ""
}
