package report_test

import (
	"strings"
	"testing"
	"time"

	"github.com/cunzheng/cunzheng/report"
)

// TestNotarialChecksChineseFirst: the 公证书 names each check the office
// ran in Chinese first, the office's English record of it beside.
func TestNotarialChecksChineseFirst(t *testing.T) {
	pdf, err := report.RenderNotarial(report.Notarial{
		Number: "NR-20261206-0a1b2c3d4e5f", Office: "notary.example/log", Notary: "张公证员",
		Origin: "cunzheng.example/log", Contract: "00b0ca59", BundleSHA256: strings.Repeat("ab", 32),
		RequestedAt: time.Date(2026, 12, 6, 0, 58, 30, 0, time.UTC), IssuedAt: time.Date(2026, 12, 6, 1, 0, 0, 0, time.UTC),
		CheckpointSize: 8, Events: 8,
		Checks: []string{
			"zip: 28 files",
			"checkpoint 8 token 0: genTime 2026-12-05T16:50:03Z by cunzheng built-in TSA",
			"leaf 6 (contract.signed): leaf hash 43ccb64ecbb0… included in checkpoint 8 (3 hashes)",
			"own records: 1 checkpoint(s) are the ones this office cosigned",
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Join(strings.Fields(pdfText(t, pdf)), " ")
	for _, want := range []string{
		"压缩包 zip: 28 files",
		"检查点 8 的 RFC 3161 时间戳 0 checkpoint 8 token 0: genTime",
		"叶子 6（签署合同） leaf 6 (contract.signed): leaf hash",
		"本公证处的记录 own records: 1 checkpoint(s)",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the 公证书 lacks %q:\n%s", want, text)
		}
	}
}
