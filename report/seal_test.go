package report_test

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"strings"
	"testing"

	"github.com/cunzheng/cunzheng/report"
)

// TestSignatureBlock: both documents close with the issuer's name, the
// signing time and where to verify them, beside the issuer's seal, drawn
// from the name or the operator's PNG; a file that is not a PNG is refused
// at start.
func TestSignatureBlock(t *testing.T) {
	f := demo(t)
	img := image.NewRGBA(image.Rect(0, 0, 64, 64))
	for i := range 64 {
		img.Set(i, i, color.RGBA{200, 16, 46, 255})
	}
	var sealPNG bytes.Buffer
	if err := png.Encode(&sealPNG, img); err != nil {
		t.Fatal(err)
	}
	for _, seal := range [][]byte{nil, sealPNG.Bytes()} {
		s := newService(t, f, report.Config{Issuer: "杭州存证科技有限公司", IssuerSeal: seal}) // verify page https://cunzheng.example/verify
		req := demoRequest(false)
		for name, render := range map[string]func(*report.Contract, report.Request) ([]byte, error){"certificate": s.Certificate, "evidence report": s.EvidenceReport} {
			pdf, err := render(f.Contract, req)
			if err != nil {
				t.Fatal(err)
			}
			text := pdfText(t, pdf)
			pages := strings.Split(strings.TrimSuffix(text, "\f"), "\f")
			last := strings.Join(strings.Fields(pages[len(pages)-1]), " ")
			for _, want := range []string{"签发机构 Issuer：杭州存证科技有限公司", "签署时间 Signed at：2018-11-16 10:00:00 +08:00",
				"本文件由 杭州存证科技有限公司 签发，可在 https://cunzheng.example/verify 验证"} {
				if !strings.Contains(last, want) {
					t.Errorf("%s (seal PNG %v): last page lacks %q:\n%s", name, seal != nil, want, last)
				}
			}
			if out := pdfsig(t, pdf); !strings.Contains(out, "Signature is Valid.") {
				t.Errorf("%s: pdfsig:\n%s", name, out)
			}
		}
	}
	if _, err := report.New(report.Config{KeyDir: t.TempDir(), IssuerSeal: []byte("GIF89a not a png")}); err == nil {
		t.Error("a seal that is not a PNG was accepted")
	}
}
