package verify

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden verdicts in testdata/pdf")

const corpus = "../testdata/pdf"

// summary is the part of a report the golden files pin down: verdicts,
// what each signature covers, and what changed after it.
type summary struct {
	Error      string       `json:"error,omitempty"`
	Verdict    string       `json:"verdict,omitempty"`
	Signatures []sigSummary `json:"signatures,omitempty"`
	Unsigned   bool         `json:"unsignedChanges,omitempty"`
}

type sigSummary struct {
	Kind      string   `json:"kind"`
	Verdict   string   `json:"verdict"`
	Algorithm string   `json:"algorithm,omitempty"`
	Revision  int      `json:"revision"`
	Timestamp bool     `json:"timestamp,omitempty"`
	Changes   []string `json:"changes,omitempty"`
}

func verdictString(v Verdict) string {
	if v.SubIndication == "" {
		return string(v.Indication)
	}
	return string(v.Indication) + "/" + string(v.SubIndication)
}

func summarize(rep *Report, err error) summary {
	if err != nil {
		return summary{Error: err.Error()}
	}
	s := summary{Verdict: verdictString(rep.Verdict), Unsigned: rep.UnsignedChanges}
	for _, sig := range rep.Signatures {
		ss := sigSummary{Kind: sig.Kind, Verdict: verdictString(sig.Verdict), Algorithm: sig.Algorithm, Revision: sig.Revision, Timestamp: sig.Timestamp != nil && sig.Kind == "signature"}
		for _, c := range sig.Changes {
			a := "allowed"
			if !c.Allowed {
				a = "NOT allowed"
			}
			ss.Changes = append(ss.Changes, c.Kind+" ("+a+")")
		}
		s.Signatures = append(s.Signatures, ss)
	}
	return s
}

func testOptions(t testing.TB) Options {
	t.Helper()
	roots, err := LoadRoots(filepath.Join(corpus, "roots"), false)
	if err != nil {
		t.Fatal(err)
	}
	return Options{Roots: roots}
}

func verifyFile(t testing.TB, path string, opts Options) (*Report, error) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return PDF(ctx, bytes.NewReader(b), int64(len(b)), opts)
}

// TestCorpus verifies every PDF in testdata/pdf against its golden
// verdict (NAME.golden.json). Regenerate with -update and review the diff.
func TestCorpus(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(corpus, "*.pdf"))
	if len(files) < 20 {
		t.Fatalf("corpus has %d PDFs; run testdata/pdf/generate.sh", len(files))
	}
	opts := testOptions(t)
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".pdf")
		t.Run(name, func(t *testing.T) {
			got := summarize(verifyFile(t, f, opts))
			golden := filepath.Join(corpus, name+".golden.json")
			if *update {
				b, _ := json.MarshalIndent(got, "", "  ")
				if err := os.WriteFile(golden, append(b, '\n'), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			b, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("no golden verdict (run with -update): %v", err)
			}
			var want summary
			if err := json.Unmarshal(b, &want); err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("verdict differs from %s (-want +got):\n%s", golden, d)
			}
		})
	}
}
