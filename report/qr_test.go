package report_test

import (
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	qr "github.com/piglig/go-qr"

	"github.com/cunzheng/cunzheng/report"
)

// TestQRCodeDecodes renders the certificate's last page (where the QR code
// sits) with pdftoppm and decodes the code from the pixels.
func TestQRCodeDecodes(t *testing.T) {
	if testing.Short() {
		t.Skip("renders a page")
	}
	f := demo(t)
	s := newService(t, f, report.Config{})
	pdf, err := s.Certificate(f.Contract, demoRequest(false))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	in := filepath.Join(dir, "c.pdf")
	if err := os.WriteFile(in, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	tool := needTool(t, "pdftoppm")
	if out, err := exec.Command(tool, "-png", "-r", "150", "-l", "2", "-f", "2", in, filepath.Join(dir, "p")).CombinedOutput(); err != nil {
		t.Fatalf("pdftoppm: %v %s", err, out)
	}
	matches, _ := filepath.Glob(filepath.Join(dir, "p*.png"))
	if len(matches) != 1 {
		t.Fatalf("rendered %v", matches)
	}
	fh, err := os.Open(matches[0])
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	img, err := png.Decode(fh)
	if err != nil {
		t.Fatal(err)
	}
	got, err := qr.Decode(img)
	if err != nil {
		t.Fatalf("decoding the QR code: %v", err)
	}
	want := "https://cunzheng.example/verify?report=CZ-20181116-0000a1b2&size=46"
	if !strings.EqualFold(got, want) {
		t.Errorf("QR code says %q, want %q", got, want)
	}
}
