package report_test

import (
	"strings"
	"testing"

	"github.com/cunzheng/cunzheng/report"
)

// TestCertificateClosingStaysWithCheckpoint: the checkpoint block and the
// closing note with the issuer's seal share a page, however long the
// ledger references before them run (a contract that was notarised or
// had reports issued has more): before, the estimate of the block fell
// short and the closing note alone made a near-empty last page.
func TestCertificateClosingStaysWithCheckpoint(t *testing.T) {
	f := demo(t)
	s := newService(t, f, report.Config{})
	for extra := 0; extra <= 24; extra += 2 {
		c := *f.Contract
		c.Events = append(c.Events[:len(c.Events):len(c.Events)], c.Events[:min(extra, len(c.Events))]...)
		for len(c.Events) < len(f.Contract.Events)+extra {
			c.Events = append(c.Events, f.Contract.Events[0])
		}
		pdf, err := s.Certificate(&c, demoRequest(false))
		if err != nil {
			t.Fatal(err)
		}
		pages := strings.Split(pdfText(t, pdf), "\f")
		for i, p := range pages {
			if strings.Contains(p, "检查点与在线验证") && !strings.Contains(p, "签发机构") {
				t.Errorf("%d more ledger references: the checkpoint block is on page %d of %d, the closing note and seal are not", extra, i+1, len(pages)-1)
			}
		}
	}
}
