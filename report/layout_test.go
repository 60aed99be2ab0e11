package report_test

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/cunzheng/cunzheng/report"
	"github.com/cunzheng/cunzheng/report/reporttest"
)

// TestLayoutKeepsBlocksWhole renders contracts of several sizes and checks
// the layout a court reads: no signer's block and no event's proof split
// across pages, no page that starts with a table row cut from its heading,
// no near-empty last page, report numbers whole, and every key and command
// on one line as printed.
func TestLayoutKeepsBlocksWhole(t *testing.T) {
	for _, o := range []reporttest.Options{{}, {ExtraSigners: 1}, {ExtraSigners: 2, Erase: true}, {ExtraSigners: 3, MinEvents: 30}, {SM2: true}} {
		t.Run(fmt.Sprintf("%d-signers-%d-events-sm2-%v", 2+o.ExtraSigners, o.MinEvents, o.SM2), func(t *testing.T) {
			f, err := reporttest.Build(o)
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
			for name, text := range map[string]string{"certificate": pdfText(t, cert), "evidence report": pdfText(t, ev)} {
				pages := strings.Split(strings.TrimSuffix(text, "\f"), "\f")
				for i, p := range pages {
					// A signer's block: its heading and its last row on one page.
					if c, l := len(regexp.MustCompile(`Signer \d+`).FindAllString(p, -1)), strings.Count(p, "签署文件及位置"); name == "certificate" && c != l {
						t.Errorf("%s page %d: %d signer headings but %d signer blocks end there", name, i+1, c, l)
					}
					if c, l := strings.Count(p, "事件 ")-strings.Count(p, "事件 Event"), strings.Count(p, "叶子哈希 Leaf hash"); name == "evidence report" && strings.Contains(p, "叶子哈希") && c < l {
						t.Errorf("%s page %d: a proof without its heading", name, i+1)
					}
					// A section heading never ends a page (its table kept
					// whole on the next one left it alone there).
					if last := lastContentLine(p); sectionHeading.MatchString(last) {
						t.Errorf("%s page %d ends with the heading %q", name, i+1, last)
					}
					first := firstContentLine(p)
					for _, bad := range []string{"路径 Path", "日志 Log ", "签约主体", "证书序列号", "检查点 Checkpoint", "证明 Proof"} {
						if strings.HasPrefix(first, bad) {
							t.Errorf("%s page %d starts with a table row cut from its heading: %q", name, i+1, first)
						}
					}
				}
				if last := pages[len(pages)-1]; len(pages) > 1 && contentLines(last) < 6 {
					t.Errorf("%s: near-empty last page (%d lines):\n%s", name, contentLines(last), last)
				}
				for _, k := range append(append([]string{}, f.Contract.Keys.Log...), f.Contract.Keys.Notary...) {
					if name == "evidence report" && !strings.Contains(text, k) {
						t.Errorf("%s: key %s is not on one line", name, k)
					}
				}
			}
			evText := pdfText(t, ev)
			for _, c := range f.Contract.Custody {
				if !strings.Contains(evText, c.ReportNumber) {
					t.Errorf("report number %s wrapped", c.ReportNumber)
				}
			}
			if !regexp.MustCompile(`(?m)^\s*--log-key '` + regexp.QuoteMeta(f.Contract.Keys.Log[0]) + `' \\$`).MatchString(evText) {
				t.Errorf("the verify command's key line is broken:\n%s", evText[strings.Index(evText, "cunzheng verify bundle"):])
			}
		})
	}
}

// sectionHeading is a numbered section heading ("七、可信时间戳 ...").
var sectionHeading = regexp.MustCompile(`^[一二三四五六七八九十]+、`)

// lastContentLine is the last line above a page's running footer.
func lastContentLine(page string) string {
	lines := strings.Split(page, "\n")
	last := ""
	for _, l := range lines {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "本文件经电子签名") {
			last = l
		}
	}
	return last
}

// firstContentLine is the first line under a page's running header.
func firstContentLine(page string) string {
	lines := strings.Split(page, "\n")
	for _, l := range lines[1:] {
		if l = strings.TrimSpace(l); l != "" {
			return l
		}
	}
	return ""
}

// contentLines counts a page's lines besides the running header, the
// footer and the closing line.
func contentLines(page string) int {
	n := 0
	for _, l := range strings.Split(page, "\n")[1:] {
		l = strings.TrimSpace(l)
		if l != "" && !strings.Contains(l, "Digitally signed") && !strings.Contains(l, "End of document") {
			n++
		}
	}
	return n
}
