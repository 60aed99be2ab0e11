package report

import (
	"bytes"
	_ "embed"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/boombuler/barcode/qr"
	"github.com/jung-kurt/gofpdf"
)

// cjkFont is Debian fonts-droid-fallback's DroidSansFallbackFull.ttf
// (Apache-2.0, see fonts/NOTICE). gofpdf subsets it, so a document carries
// only the glyphs it uses.
//
//go:embed fonts/DroidSansFallbackFull.ttf
var cjkFont []byte

// latinFont and monoFont are Debian fonts-dejavu-core's DejaVu Sans
// Condensed and DejaVu Sans Mono (Bitstream Vera licence, see fonts/NOTICE):
// the CJK font has no Latin glyphs, and a court copy must not depend on the
// reader's substitutes for the non-embedded standard fonts.
//
//go:embed fonts/DejaVuSansCondensed.ttf
var latinFont []byte

//go:embed fonts/DejaVuSansMono.ttf
var monoFont []byte

// reportZone is China Standard Time. Reports print times in it, with the
// offset, whatever the server's zone; a fixed zone needs no tzdata.
var reportZone = time.FixedZone("CST", 8*3600)

// Page geometry in millimetres (A4 portrait).
const (
	pageW       = 210.0
	pageH       = 297.0
	marginL     = 16.0
	marginR     = 16.0
	marginT     = 22.0
	marginB     = 18.0
	contentW    = pageW - marginL - marginR
	fontFamily  = "droid"
	latinFamily = "dejavu"
	monoFamily  = "dejavumono"
)

// Colours of the document: navy headings, grey label cells.
var (
	colNavy  = [3]int{0x1f, 0x3a, 0x5f}
	colText  = [3]int{0x1a, 0x1a, 0x1a}
	colMuted = [3]int{0x55, 0x5b, 0x66}
	colLabel = [3]int{0xec, 0xf0, 0xf5}
	colRule  = [3]int{0x9a, 0xa5, 0xb4}
	colHead  = [3]int{0xd5, 0xde, 0xea}
)

// doc wraps one gofpdf document with the house layout: a header with the
// document title and report number on every page, a footer with page n of
// N, and helpers for headings, paragraphs and tables that never overflow a
// cell (text wraps; rows move to the next page whole).
type doc struct {
	pdf    *gofpdf.Fpdf
	size   float64 // current font size (points)
	isMono bool    // current text is monospace
	widths map[widthKey]float64
	pool   *docPool
	fonts  *fontBytes // owned until finish
	title  string     // printed in the header
	number string     // report number, printed in the header
	// numberLabel names what number is ("报告编号 Report No. " unless the
	// document is not a report: a 公证书 prints its request, the demo
	// contract its contract number).
	numberLabel string
	issuer      string
	// heading is the section heading waiting for its first block: it is
	// printed with that block, on the page that block starts on, so that
	// a heading never ends a page above a table kept whole on the next.
	pendingHeading *[2]string
}

func newDoc(pool *docPool, title, titleEN, number, issuer string, issued time.Time) *doc {
	pr := pool.get()
	pdf := pr.pdf
	pdf.SetMargins(marginL, marginT, marginR)
	pdf.SetAutoPageBreak(false, marginB)
	pdf.SetCellMargin(0)
	pdf.SetLineWidth(0.2)
	pdf.SetTitle(title+" "+titleEN, true)
	pdf.SetSubject(number, true)
	pdf.SetAuthor(issuer, true)
	pdf.SetCreator("cunzheng", true)
	pdf.SetProducer("cunzheng report (gofpdf)", true)
	pdf.SetCreationDate(issued)
	pdf.SetModificationDate(issued)
	pdf.SetCatalogSort(true)
	d := &doc{pdf: pdf, title: title + "  " + titleEN, number: number, numberLabel: "报告编号 Report No. ", issuer: issuer, pool: pool, fonts: pr.fonts}
	pdf.SetHeaderFunc(d.header)
	return d
}

// fontBytes is one private copy of the three embedded fonts.
//
// Each document needs its own fresh copy: gofpdf writes into the font
// bytes it is given (padding appended to table slices in generateChecksum,
// and at least one hmtx byte while subsetting), which on the shared
// embedded fonts would be a data race and would change the font for every
// later document. A copy is therefore never reused, even sequentially
// (TestFontCopyMutated shows why).
type fontBytes struct{ cjk, latin, mono []byte }

func newFontBytes() *fontBytes {
	return &fontBytes{bytes.Clone(cjkFont), bytes.Clone(latinFont), bytes.Clone(monoFont)}
}

// prepared is an empty A4 document with the three fonts added, and the
// font copy it owns until it is rendered.
type prepared struct {
	pdf   *gofpdf.Fpdf
	fonts *fontBytes
}

// fontedDoc adds the fonts to a new document. Adding them is most of the
// cost of a report: gofpdf parses the 4 MB CJK font (49,382 glyphs) for
// every document and cannot share a parsed font between documents.
func fontedDoc(fb *fontBytes) prepared {
	pdf := gofpdf.New("P", "mm", "A4", "")
	pdf.AddUTF8FontFromBytes(fontFamily, "", fb.cjk)
	pdf.AddUTF8FontFromBytes(latinFamily, "", fb.latin)
	pdf.AddUTF8FontFromBytes(monoFamily, "", fb.mono)
	return prepared{pdf, fb}
}

// docPool keeps a few documents with their fonts already parsed, so that a
// request finds one ready and the next is prepared on another core while
// this one renders. It lowers the latency of a single download by the font
// copy and parse (about 30 ms); under sustained load it saves nothing,
// since every document still costs one copy and one parse. The rejected alternative, sharing one parsed font
// between documents, is impossible: gofpdf keeps the parse and the
// per-document subset state in the same unexported structure.
//
// A nil *docPool prepares every document inline with fresh font copies.
type docPool struct {
	ready chan prepared
}

func newDocPool(n int) *docPool {
	p := &docPool{ready: make(chan prepared, n)}
	go p.refill()
	return p
}

func (p *docPool) get() prepared {
	if p == nil {
		return fontedDoc(newFontBytes())
	}
	// Every taken document is replaced by one refill, so the number of
	// refill goroutines in flight is bounded by the requests in flight.
	go p.refill()
	select {
	case d := <-p.ready:
		return d
	default:
		return fontedDoc(newFontBytes())
	}
}

func (p *docPool) refill() {
	d := fontedDoc(newFontBytes())
	select {
	case p.ready <- d:
	default: // full: drop it
	}
}

func (d *doc) color(c [3]int)      { d.pdf.SetTextColor(c[0], c[1], c[2]) }
func (d *doc) fill(c [3]int)       { d.pdf.SetFillColor(c[0], c[1], c[2]) }
func (d *doc) draw(c [3]int)       { d.pdf.SetDrawColor(c[0], c[1], c[2]) }
func (d *doc) font(size float64)   { d.size, d.isMono = size, false }
func (d *doc) mono(size float64)   { d.size, d.isMono = size, true }
func (d *doc) y() float64          { return d.pdf.GetY() }
func (d *doc) space(h float64)     { d.pdf.SetY(d.y() + h) }
func (d *doc) bottom() float64     { return pageH - marginB }
func (d *doc) room(h float64) bool { return d.y()+h <= d.bottom() }

// ensure starts a new page unless h millimetres still fit on this one.
func (d *doc) ensure(h float64) {
	d.flushHeading(h)
	if !d.room(h) {
		d.pdf.AddPage()
	}
}

func (d *doc) header() {
	d.font(8.5)
	d.color(colMuted)
	d.pdf.SetXY(marginL, 9)
	d.cell(contentW/2, 5, d.issuer+" · "+d.title, "L", false, false)
	d.cell(contentW/2, 5, d.numberLabel+d.number, "R", false, false)
	d.draw(colNavy)
	d.pdf.SetLineWidth(0.4)
	d.pdf.Line(marginL, 15, pageW-marginR, 15)
	d.pdf.SetLineWidth(0.2)
	d.pdf.SetXY(marginL, marginT)
	d.color(colText)
}

// footer draws page n's footer; finish calls it for every page once the
// page count is known (gofpdf's {nb} alias would leave a gap where the
// alias was wider than the number).
func (d *doc) footer(n, total int) {
	d.pdf.SetPage(n)
	d.draw(colRule)
	d.pdf.Line(marginL, pageH-13, pageW-marginR, pageH-13)
	d.font(8)
	d.color(colMuted)
	d.pdf.SetXY(marginL, pageH-12)
	d.cell(contentW*0.6, 5, "本文件经电子签名，任何改动均可被发现 · Digitally signed; any change is detectable", "L", false, false)
	d.cell(contentW*0.4, 5, fmt.Sprintf("第 %d 页 / 共 %d 页   Page %d of %d", n, total, n, total), "R", false, false)
	d.color(colText)
}

// finish writes the closing line, which names the page count as legal
// documents do, then the footers, and renders the PDF.
func (d *doc) finish() ([]byte, error) {
	d.flushHeading(0)
	// The closing line never opens a page of its own: it takes the last
	// few millimetres above the footer rule when that is all there is.
	switch {
	case d.room(10):
		d.space(4)
	case d.y()+5 <= pageH-13.5:
	default:
		d.pdf.AddPage()
	}
	d.font(9)
	d.color(colMuted)
	n := d.pdf.PageNo()
	d.pdf.SetX(marginL)
	d.cell(contentW, 5, fmt.Sprintf("—— 本文件共 %d 页，以下无正文  End of document (%s) ——", n, plural(n, "page", "pages")), "C", true, false)
	for p := 1; p <= n; p++ {
		d.footer(p, n)
	}
	var buf bytes.Buffer
	if err := d.pdf.Output(&buf); err != nil {
		return nil, fmt.Errorf("report: rendering pdf: %w", err)
	}
	d.pdf, d.fonts = nil, nil
	return buf.Bytes(), nil
}

// titleBlock prints the document's title, Chinese over English.
func (d *doc) titleBlock(zh, en string) {
	d.font(19)
	d.color(colNavy)
	d.pdf.SetX(marginL)
	d.cell(contentW, 10, zh, "C", true, false)
	d.font(11)
	d.color(colMuted)
	d.pdf.SetX(marginL)
	d.cell(contentW, 6, en, "C", true, false)
	d.color(colText)
	d.space(3)
}

// heading prints a numbered section heading with a rule under it, with
// the block that follows it (flushHeading): a heading never ends a page,
// neither with fewer than 30 mm left nor above a table kept whole on the
// next page.
func (d *doc) heading(zh, en string) {
	d.flushHeading(0)
	d.pendingHeading = &[2]string{zh, en}
}

// headingHeight is the height of a printed section heading.
const headingHeight = 2 + 7 + 2.5

// flushHeading prints the waiting section heading, if any, where a block
// of height next can follow it: on a new page unless both fit (and at
// least 30 mm remain).
func (d *doc) flushHeading(next float64) {
	if d.pendingHeading == nil {
		return
	}
	zh, en := d.pendingHeading[0], d.pendingHeading[1]
	d.pendingHeading = nil
	// The block being printed has chosen its font and colour already.
	size, isMono := d.size, d.isMono
	r, g, b := d.pdf.GetTextColor()
	defer func() {
		d.size, d.isMono = size, isMono
		d.pdf.SetTextColor(r, g, b)
	}()
	if !d.room(max(30, headingHeight+min(next, pageH-marginT-marginB-headingHeight))) {
		d.pdf.AddPage()
	}
	d.space(2)
	d.font(12.5)
	d.color(colNavy)
	d.pdf.SetX(marginL)
	d.cell(contentW, 7, zh+"  "+en, "L", true, false)
	d.draw(colNavy)
	d.pdf.Line(marginL, d.y(), pageW-marginR, d.y())
	d.color(colText)
	d.space(2.5)
}

// subheading is a smaller heading inside a section.
func (d *doc) subheading(text string) {
	d.ensure(22)
	d.space(1)
	d.font(10)
	d.color(colNavy)
	d.pdf.SetX(marginL)
	d.cell(contentW, 6, text, "L", true, false)
	d.color(colText)
}

// para prints wrapped text.
func (d *doc) para(text string, size float64) {
	d.font(size)
	lh := size * 0.52
	for _, line := range d.split(text, contentW) {
		d.ensure(lh)
		d.pdf.SetX(marginL)
		d.cell(contentW, lh, line, "L", true, false)
	}
	d.space(1)
}

// code prints preformatted ASCII lines in a monospace font on a grey
// background (commands, keys, notes). A line too wide for the page is set
// in a smaller size rather than wrapped, down to minCodeSize, so that a
// command or key copied from the page is one line as printed; only a line
// too long even then wraps.
func (d *doc) code(lines []string) {
	const minCodeSize = 4.6
	// One size for the whole block: lines of mixed sizes read (and copy)
	// as separate paragraphs.
	size := 7.6
	d.mono(size)
	for _, l := range lines {
		if w := d.width(l); w > contentW-2*cellPad {
			size = min(size, max(minCodeSize, 7.6*(contentW-2*cellPad)/w*0.995))
		}
	}
	d.mono(size)
	lh := max(2.6, size*0.47)
	for _, l := range lines {
		for _, part := range d.split(l, contentW) {
			d.ensure(lh)
			d.fill(colLabel)
			d.pdf.SetX(marginL)
			d.cell(contentW, lh, part, "L", true, true)
		}
	}
	d.space(2)
}

// cell is one table cell.
type cell struct {
	text  string
	label bool // shaded label cell
	mono  bool // monospace (hashes, keys)
	head  bool // table header cell
	align string
	size  float64 // text size when not the default (textSize or monoSize)
}

func lbl(s string) cell  { return cell{text: s, label: true} }
func val(s string) cell  { return cell{text: s} }
func hash(s string) cell { return cell{text: s, mono: true} }

// recorded is the cell of a value the platform may not have recorded: a
// dash then, as kv shows, so that the empty cell never reads as lost.
func recorded(s string) cell {
	if strings.TrimSpace(s) == "" {
		s = "—"
	}
	return val(s)
}

const (
	cellPadY = 1.3
	textSize = 9.0
	monoSize = 7.6
)

func lineHeight(c cell) float64 {
	switch {
	case c.size > 0:
		return c.size * 0.49
	case c.mono:
		return 3.4
	}
	return 4.4
}

// small returns c set in a smaller size, for dense tables.
func small(c cell) cell { c.size = 7.8; return c }

// row prints one table row with the given column widths. Every cell wraps
// its text; the row is as tall as its tallest cell and moves whole to the
// next page when it does not fit, reprinting header (if any) there.
func (d *doc) row(widths []float64, cells []cell, header []cell) {
	lines := make([][]string, len(cells))
	h := 0.0
	for i, c := range cells {
		d.setCellFont(c)
		lines[i] = d.split(c.text, widths[i])
		if len(lines[i]) == 0 {
			lines[i] = []string{""}
		}
		h = max(h, float64(len(lines[i]))*lineHeight(c)+2*cellPadY)
	}
	d.flushHeading(h)
	if !d.room(h) {
		d.pdf.AddPage()
		if header != nil {
			d.row(widths, header, nil)
		}
	}
	x, y := marginL, d.y()
	d.draw(colRule)
	for i, c := range cells {
		style := "D"
		switch {
		case c.head:
			d.fill(colHead)
			style = "FD"
		case c.label:
			d.fill(colLabel)
			style = "FD"
		}
		d.pdf.Rect(x, y, widths[i], h, style)
		d.setCellFont(c)
		lh := lineHeight(c)
		align := c.align
		if align == "" {
			align = "L"
		}
		for j, l := range lines[i] {
			d.pdf.SetXY(x, y+cellPadY+float64(j)*lh)
			d.cell(widths[i], lh, l, align, false, false)
		}
		x += widths[i]
	}
	d.pdf.SetXY(marginL, y+h)
	d.color(colText)
}

func (d *doc) setCellFont(c cell) {
	switch {
	case c.mono:
		d.mono(monoSize)
	default:
		d.font(textSize)
	}
	if c.size > 0 {
		d.size = c.size
	}
	switch {
	case c.label || c.head:
		d.color(colNavy)
	default:
		d.color(colText)
	}
}

// table prints a header row and rows under it.
func (d *doc) table(widths []float64, header []string, rows [][]cell) {
	d.tableSized(widths, header, rows, 0)
}

// tableSized is table with the header in size (0: the default).
func (d *doc) tableSized(widths []float64, header []string, rows [][]cell, size float64) {
	hc := make([]cell, len(header))
	for i, h := range header {
		hc[i] = cell{text: h, head: true, size: size}
	}
	// A short table (up to a third of a page) never splits; a longer one
	// keeps its header with its first two rows, and repeats the header
	// on every page it continues on.
	h := d.rowHeight(widths, hc) // the space after it may fall below the page
	first := 0.0
	for i, r := range rows {
		h += d.rowHeight(widths, r)
		if i == 1 {
			first = h
		}
	}
	if first == 0 || h <= (pageH-marginT-marginB)/3 {
		first = h
	}
	// One call, with all the table needs on this page, so that a waiting
	// section heading goes where the table goes.
	d.keep(first)
	d.ensure(16)
	d.row(widths, hc, nil)
	for _, r := range rows {
		d.row(widths, r, hc)
	}
	d.space(3)
}

// kv prints label/value pairs two to a row (four columns), as the seed's
// certificate page does; a pair whose value is long takes a whole row.
func (d *doc) kv(pairs [][2]string) {
	for _, r := range d.kvRows(pairs) {
		d.row(r.widths, r.cells, nil)
	}
	d.space(3)
}

// kvHeight is the height kv(pairs) takes, so that a block can be kept on
// one page.
func (d *doc) kvHeight(pairs [][2]string) float64 {
	h := 3.0
	for _, r := range d.kvRows(pairs) {
		h += d.rowHeight(r.widths, r.cells)
	}
	return h
}

type kvRow struct {
	widths []float64
	cells  []cell
}

func (d *doc) kvRows(pairs [][2]string) []kvRow {
	const lw, vw = 37.0, contentW/2 - 37.0
	var out []kvRow
	var pending [][2]string
	flush := func() {
		switch len(pending) {
		case 1:
			out = append(out, kvRow{[]float64{lw, contentW - lw}, []cell{lbl(pending[0][0]), val(pending[0][1])}})
		case 2:
			out = append(out, kvRow{[]float64{lw, vw, lw, vw}, []cell{lbl(pending[0][0]), val(pending[0][1]), lbl(pending[1][0]), val(pending[1][1])}})
		}
		pending = pending[:0]
	}
	d.font(textSize)
	for _, p := range pairs {
		if strings.TrimSpace(p[1]) == "" {
			// Nothing recorded: a dash, so that an empty cell never reads
			// as a value lost or cut off.
			p[1] = "—"
		}
		if d.width(p[1]) > vw-2*cellPad || strings.HasPrefix(p[0], "!") {
			flush()
			p[0] = strings.TrimPrefix(p[0], "!")
			pending = append(pending, p)
			flush()
			continue
		}
		pending = append(pending, p)
		if len(pending) == 2 {
			flush()
		}
	}
	flush()
	return out
}

// rowHeight is the height row(widths, cells, ...) takes.
func (d *doc) rowHeight(widths []float64, cells []cell) float64 {
	h := 0.0
	for i, c := range cells {
		d.setCellFont(c)
		n := max(1, len(d.split(c.text, widths[i])))
		h = max(h, float64(n)*lineHeight(c)+2*cellPadY)
	}
	return h
}

// subheadingHeight is what subheading takes.
const subheadingHeight = 7.0

// keep starts a new page unless a block of height h fits on this one, so
// that a block no taller than a page never splits.
func (d *doc) keep(h float64) {
	if h <= pageH-marginT-marginB {
		d.ensure(h)
	}
}

// split wraps text (cleaned for the fonts) to fit a cell of width w in the
// current font. Lines break at spaces and between CJK characters; a run
// with no break opportunity (a hash) is cut where it overflows.
func (d *doc) split(text string, w float64) []string {
	var out []string
	for _, para := range strings.Split(clean(text), "\n") {
		if para == "" {
			out = append(out, "")
			continue
		}
		out = append(out, d.wrap(para, w-2*cellPad)...)
	}
	return out
}

// qrCode draws a QR code for text with its top-left corner at (x, y) and
// the given side length, as vector squares (sharp at any zoom or print
// resolution). The encoder is boombuler/barcode (gofpdf's own barcode
// companion): go-qr, used before, fills a 512 KiB Kanji table in its
// package initialiser, 2 ms of every start of the binary (verify pdf too).
// qr_test.go still decodes the page with go-qr, an independent decoder.
func (d *doc) qrCode(text string, x, y, side float64) error {
	q, err := qr.Encode(text, qr.M, qr.Auto)
	if err != nil {
		return fmt.Errorf("report: qr code: %w", err)
	}
	n := q.Bounds().Dx()
	dark := func(c, r int) bool {
		l, _, _, _ := q.At(c, r).RGBA()
		return l < 0x8000
	}
	const quiet = 2 // modules of white border inside side
	m := side / float64(n+2*quiet)
	d.pdf.SetFillColor(255, 255, 255)
	d.pdf.Rect(x, y, side, side, "F")
	d.pdf.SetFillColor(0, 0, 0)
	for r := range n {
		for c := 0; c < n; {
			if !dark(c, r) {
				c++
				continue
			}
			start := c
			for c < n && dark(c, r) {
				c++
			}
			d.pdf.Rect(x+float64(quiet+start)*m, y+float64(quiet+r)*m, float64(c-start)*m+0.01, m+0.01, "F")
		}
	}
	return nil
}

// clean makes text safe for the embedded font and gofpdf: invalid UTF-8
// and characters outside the Basic Multilingual Plane (which gofpdf's
// width table cannot index) become U+FFFD, control characters other than
// newline become spaces.
func clean(s string) string {
	if !strings.ContainsFunc(s, needsCleaning) && utf8.ValidString(s) {
		return s
	}
	s = strings.ToValidUTF8(s, "\uFFFD")
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\n':
			return r
		case r > 0xFFFF:
			return '\uFFFD'
		case unicode.IsControl(r):
			return ' '
		}
		return r
	}, s)
}

func needsCleaning(r rune) bool {
	return r > 0xFFFF || (r != '\n' && unicode.IsControl(r))
}

// fmtShortTime prints a time in China Standard Time without the offset,
// for tables whose heading says the zone.
func fmtShortTime(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.In(reportZone).Format("2006-01-02 15:04:05")
}

// fmtTime prints a time in China Standard Time with its offset, or a dash
// for the zero time.
func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.In(reportZone).Format("2006-01-02 15:04:05 -07:00")
}

// The embedded CJK font has no Latin glyphs, so text is drawn in runs:
// characters below U+2E80 (Latin, punctuation, symbols) in DejaVu, and the
// CJK blocks from U+2E80 on in Droid Sans Fallback. gofpdf has no font
// fallback of its own.

const cellPad = 1.6 // horizontal padding inside a cell, mm

func isLatin(r rune) bool { return r < 0x2E80 }

// setRunFont selects the font for a run of latin or CJK characters.
func (d *doc) setRunFont(latin bool) {
	switch {
	case !latin:
		d.pdf.SetFont(fontFamily, "", d.size)
	case d.isMono:
		d.pdf.SetFont(monoFamily, "", d.size)
	default:
		d.pdf.SetFont(latinFamily, "", d.size)
	}
}

// runs splits s into maximal runs of latin or CJK characters.
func runs(s string) (out []string) {
	start := 0
	var prev bool
	for i, r := range s {
		l := isLatin(r)
		if i > 0 && l != prev {
			out = append(out, s[start:i])
			start = i
		}
		prev = l
	}
	if start < len(s) {
		out = append(out, s[start:])
	}
	return out
}

// runeWidth returns the width of r in mm in the current font and size.
func (d *doc) runeWidth(r rune) float64 {
	k := widthKey{r, d.isMono && isLatin(r), d.size}
	if w, ok := d.widths[k]; ok {
		return w
	}
	d.setRunFont(isLatin(r))
	w := d.pdf.GetStringWidth(string(r))
	if d.widths == nil {
		d.widths = make(map[widthKey]float64)
	}
	d.widths[k] = w
	return w
}

type widthKey struct {
	r    rune
	mono bool
	size float64
}

// width returns the width of s in mm in the current font and size.
func (d *doc) width(s string) float64 {
	w := 0.0
	for _, r := range clean(s) {
		w += d.runeWidth(r)
	}
	return w
}

// wrap breaks one paragraph (no newlines) into lines no wider than w.
func (d *doc) wrap(s string, w float64) []string {
	var lines []string
	rs := []rune(s)
	start, lastBreak := 0, -1
	cur := 0.0
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		cw := d.runeWidth(r)
		if cur+cw > w && i > start {
			end := i
			if lastBreak > start {
				end = lastBreak
			}
			lines = append(lines, strings.TrimRight(string(rs[start:end]), " "))
			start = end
			for start < len(rs) && rs[start] == ' ' {
				start++
			}
			lastBreak = -1
			cur = 0
			i = start - 1
			continue
		}
		cur += cw
		switch {
		case r == ' ':
			lastBreak = i + 1
		case (r == '?' || r == '&') && i > start:
			// A URL breaks before its query or a parameter, never
			// inside a value (a report number).
			lastBreak = i
		case !isLatin(r) && r >= 0x2E80:
			// A CJK character may start or end a line.
			lastBreak = i + 1
			if i+1 < len(rs) && isLatin(rs[i+1]) && rs[i+1] != ' ' {
				lastBreak = i + 1
			}
		case i+1 < len(rs) && !isLatin(rs[i+1]) && rs[i+1] >= 0x2E80:
			lastBreak = i + 1
		}
	}
	if start < len(rs) {
		lines = append(lines, string(rs[start:]))
	}
	return lines
}

// cell draws one line of text in a box of width w and height h at the
// current position, with padding, aligned L, C or R. With ln the position
// moves to the start of the next line, otherwise to the right of the box.
func (d *doc) cell(w, h float64, text, align string, ln, fill bool) {
	x, y := d.pdf.GetXY()
	if fill {
		d.pdf.Rect(x, y, w, h, "F")
	}
	text = clean(text)
	tw := d.width(text)
	tx := x + cellPad
	switch align {
	case "C":
		tx = x + (w-tw)/2
	case "R":
		tx = x + w - cellPad - tw
	}
	for _, run := range runs(text) {
		r, _ := utf8.DecodeRuneInString(run)
		latin := isLatin(r)
		rw := d.width(run)
		d.setRunFont(latin)
		out := run
		d.pdf.SetXY(tx, y)
		d.pdf.CellFormat(rw, h, out, "", 0, "L", false, 0, "")
		tx += rw
	}
	if ln {
		d.pdf.SetXY(marginL, y+h)
	} else {
		d.pdf.SetXY(x+w, y)
	}
}
