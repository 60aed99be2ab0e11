package evidence_test

import (
	"context"
	"flag"
	"os"
	"regexp"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

// TestLeafGolden pins the public record format: the leaves of the demo
// contract with the random parts (tenant id, references, commitments)
// replaced by placeholders. A diff here is a change of the public format
// that verifiers depend on.
func TestLeafGolden(t *testing.T) {
	e := newEnv(t)
	if _, err := e.svc.Ingest(context.Background(), e.p, demoBatch(t)); err != nil {
		t.Fatal(err)
	}
	hex64 := regexp.MustCompile(`"[0-9a-f]{64}"`)
	hex32 := regexp.MustCompile(`"[0-9a-f]{32}"`)
	var b strings.Builder
	for _, leaf := range e.log.Leaves() {
		s := strings.ReplaceAll(string(leaf), e.p.Tenant.ID, "TENANT")
		s = hex64.ReplaceAllStringFunc(s, func(m string) string {
			if strings.Contains(string(demoBatch(t)), m) {
				return m // document hashes are public and fixed
			}
			return `"COMMITMENT"`
		})
		s = hex32.ReplaceAllString(s, `"REF"`)
		b.WriteString(s + "\n")
	}
	const path = "testdata/demo_leaves.golden"
	if *update {
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if b.String() != string(want) {
		t.Errorf("leaves differ from %s (run with -update and review the diff):\n%s", path, b.String())
	}
}
