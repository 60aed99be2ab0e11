package report_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/cunzheng/cunzheng/report"
	"github.com/cunzheng/cunzheng/report/reporttest"
)

// TestDumpDocuments writes the fixture's documents under
// $CUNZHENG_ARTIFACTS (skipped when unset), to look at them.
func TestDumpDocuments(t *testing.T) {
	dir := os.Getenv("CUNZHENG_ARTIFACTS")
	if dir == "" {
		t.Skip("CUNZHENG_ARTIFACTS not set")
	}
	for _, o := range []struct {
		name string
		opts reporttest.Options
	}{{"demo", reporttest.Options{}}, {"four", reporttest.Options{ExtraSigners: 2, Erase: true}}} {
		f, err := reporttest.Build(o.opts)
		if err != nil {
			t.Fatal(err)
		}
		s := newService(t, f, report.Config{})
		cert, err := s.Certificate(f.Contract, demoRequest(false))
		if err != nil {
			t.Fatal(err)
		}
		ev, err := s.EvidenceReport(f.Contract, demoRequest(false))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, o.name+"-certificate.pdf"), cert, 0o644)
		os.WriteFile(filepath.Join(dir, o.name+"-evidence.pdf"), ev, 0o644)
	}
}
