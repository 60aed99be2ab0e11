package report

import (
	"bytes"
	"fmt"
	"image/png"
	"math"
	"strings"
	"time"

	"github.com/jung-kurt/gofpdf"
)

// The visible signature block closes both documents: the issuer's round
// e-seal (drawn from the issuer's name, or the operator's PNG), the
// issuer, the signing time, and where the document can be verified.
//
// It is page content, not the signature widget's appearance: the PDFs
// carry a certification signature (DocMDP, no changes permitted), and
// digitorus/pdfsign draws visible widgets only for approval signatures.
// A reader sees the same block either way; the cryptographic signature is
// the one pdfsig and `cunzheng verify pdf` check.

// checkSealPNG reports whether b is a PNG gofpdf can draw.
func checkSealPNG(b []byte) error {
	cfg, err := png.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("report: issuer seal: not a PNG: %w", err)
	}
	if cfg.Width < 32 || cfg.Height < 32 || cfg.Width > 4096 || cfg.Height > 4096 {
		return fmt.Errorf("report: issuer seal: %dx%d pixels, want 32 to 4096 a side", cfg.Width, cfg.Height)
	}
	return nil
}

// sealSide is the seal's diameter in millimetres.
const sealSide = 32.0

// signatureLines wraps the signature block's lead and statement to the
// width beside the seal and returns the height of its text.
func (d *doc) signatureLines(lead, issuer, verifyURL string) (leadLines, stmt []string, h float64) {
	w := pageW - marginR - sealSide - 2 - marginL - 4
	base := verifyURL
	if i := strings.IndexByte(base, '?'); i >= 0 {
		base = base[:i]
	}
	d.font(8.5)
	if lead != "" {
		leadLines = d.split(lead, w)
	}
	d.font(9)
	stmt = d.split("本文件由 "+issuer+" 签发，可在 "+base+" 验证。 Issued by "+issuer+"; verify it at "+base+".", w)
	h = float64(len(leadLines))*4.4 + 2 + 6 + 5.5 + float64(len(stmt))*4.8
	return leadLines, stmt, h
}

// signatureBlockHeight is the room signatureBlock keeps on its page.
func (d *doc) signatureBlockHeight(lead, issuer, verifyURL string) float64 {
	_, _, h := d.signatureLines(lead, issuer, verifyURL)
	return max(h, sealSide) + 2
}

// signatureBlock draws the block at the end of the document's text: lead
// (a closing paragraph, may be empty), then the issuer, the signing time
// and where to verify, beside the seal. The whole block stays on one page.
func (d *doc) signatureBlock(lead string, issuer string, at time.Time, verifyURL string, sealPNG []byte) error {
	const side = sealSide
	x := pageW - marginR - side - 2
	w := x - marginL - 4
	leadLines, stmt, h := d.signatureLines(lead, issuer, verifyURL)
	d.keep(d.signatureBlockHeight(lead, issuer, verifyURL))
	d.space(1)
	top := d.y()
	if len(sealPNG) > 0 {
		opt := gofpdf.ImageOptions{ImageType: "PNG", ReadDpi: false}
		d.pdf.RegisterImageOptionsReader("issuer-seal", opt, bytes.NewReader(sealPNG))
		if err := d.pdf.Error(); err != nil {
			return fmt.Errorf("report: issuer seal: %w", err)
		}
		d.pdf.ImageOptions("issuer-seal", x, top+max(0, h-side)/2, side, side, false, opt, 0, "")
	} else {
		d.drawSeal(issuer, x+side/2, top+max(h, side)/2, side/2)
	}
	d.pdf.SetXY(marginL, top)
	d.font(8.5)
	d.color(colText)
	for _, l := range leadLines {
		d.pdf.SetX(marginL)
		d.cell(w, 4.4, l, "L", true, false)
	}
	if len(leadLines) > 0 {
		d.space(2)
	}
	d.font(10)
	d.color(colNavy)
	d.pdf.SetX(marginL)
	d.cell(w, 6, "签发机构 Issuer："+issuer, "L", true, false)
	d.font(9)
	d.color(colText)
	d.pdf.SetX(marginL)
	d.cell(w, 5.5, "签署时间 Signed at："+fmtTime(at), "L", true, false)
	for _, l := range stmt {
		d.pdf.SetX(marginL)
		d.cell(w, 4.8, l, "L", true, false)
	}
	d.pdf.SetXY(marginL, max(d.y(), top+side+1))
	return nil
}

// drawSeal draws a round seal in seal red: a double ring, the issuer's
// name along the upper arc, a five-pointed star and 报告专用章 under it.
func (d *doc) drawSeal(name string, cx, cy, r float64) {
	pdf := d.pdf
	pdf.SetDrawColor(0xc8, 0x10, 0x2e)
	pdf.SetFillColor(0xc8, 0x10, 0x2e)
	pdf.SetTextColor(0xc8, 0x10, 0x2e)
	pdf.SetLineWidth(1.1)
	pdf.Circle(cx, cy, r-0.6, "D")
	pdf.SetLineWidth(0.3)
	pdf.Circle(cx, cy, r-2.2, "D")
	// Star.
	var pts []gofpdf.PointType
	for i := range 10 {
		rr := r * 0.26
		if i%2 == 1 {
			rr = r * 0.105
		}
		a := -math.Pi/2 + float64(i)*math.Pi/5
		pts = append(pts, gofpdf.PointType{X: cx + rr*math.Cos(a), Y: cy + rr*math.Sin(a)})
	}
	pdf.Polygon(pts, "F")
	// The name along the upper arc, each character upright to the rim.
	for _, g := range d.sealRing(name, r) {
		d.size = g.size
		d.setRunFont(isLatin(g.c))
		px, py := cx+g.radius*math.Cos(g.angle), cy-g.radius*math.Sin(g.angle)
		pdf.TransformBegin()
		pdf.TransformRotate((g.angle-math.Pi/2)*180/math.Pi, px, py)
		pdf.Text(px-g.width/2, py+g.size*0.3528*0.35, string(g.c))
		pdf.TransformEnd()
	}
	// The seal's use under the star.
	d.size = 7.5
	d.setRunFont(false)
	label := "报告专用章"
	pdf.Text(cx-pdf.GetStringWidth(label)/2, cy+r*0.55, label)
	pdf.SetLineWidth(0.2)
	d.color(colText)
}

// sealGlyph is one character of the seal's ring text: its angle (radians,
// counter-clockwise from the seal's right), the radius of its baseline
// centre, its font size and its width in millimetres at that size.
type sealGlyph struct {
	c                          rune
	angle, radius, size, width float64
}

// sealRing lays the issuer's name out along the upper arc of a seal of
// radius r, as a carved seal spaces it: each character takes the arc its
// own width needs (a CJK character about twice a Latin letter's), with an
// even gap between, the whole centred on the top. Equal angles per
// character, the simpler rule, crowded CJK names into each other. The
// size starts at 11 pt and shrinks until the name fits 240° of the arc;
// a name too long even at 6 pt loses its last characters (the signature
// block beside the seal names the issuer in full).
func (d *doc) sealRing(name string, r float64) []sealGlyph {
	const (
		maxSize, minSize = 11.0, 6.0
		maxSpan          = 240 * math.Pi / 180
		ptMM             = 0.3528
		track            = 0.15 // the gap between characters, in character heights
	)
	// A space between words keeps its width but is not drawn.
	rs := []rune(strings.Join(strings.Fields(name), " "))
	if len(rs) == 0 {
		return nil
	}
	// Widths at maxSize; a glyph's width is proportional to the size.
	widths := make([]float64, len(rs))
	d.size = maxSize
	for i, c := range rs {
		d.setRunFont(isLatin(c))
		widths[i] = d.pdf.GetStringWidth(string(c))
	}
	// The baseline moves outward as the characters get smaller, so that
	// their tops keep the same distance from the inner ring.
	radius := func(size float64) float64 { return r - 2.8 - 0.62*size*ptMM }
	arc := func(n int, size float64) float64 {
		l := 0.0
		for _, w := range widths[:n] {
			l += w * size / maxSize
		}
		return l + float64(n-1)*track*size*ptMM
	}
	n, size := len(rs), maxSize
	for range 8 {
		fit := maxSpan * radius(size) / arc(n, size)
		if fit >= 1 {
			break
		}
		size = math.Max(minSize, size*fit*0.999)
		if size == minSize {
			break
		}
	}
	for n > 1 && arc(n, size) > maxSpan*radius(size) {
		n--
	}
	R := radius(size)
	out := make([]sealGlyph, 0, n)
	pos := -arc(n, size) / 2 // arc length from the top, clockwise
	for i, c := range rs[:n] {
		w := widths[i] * size / maxSize
		if c != ' ' {
			out = append(out, sealGlyph{c: c, angle: math.Pi/2 - (pos+w/2)/R, radius: R, size: size, width: w})
		}
		pos += w + track*size*ptMM
	}
	return out
}
