package web

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/digitorus/timestamp"
	"github.com/gin-gonic/gin"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/cunzheng/cunzheng/ledger"
	"github.com/cunzheng/cunzheng/ledger/tlogfmt"
)

// The home page and the log explorer (/log). Every proof shown is checked
// here, on the server, with transparency-dev/merkle against the roots of
// published checkpoints; the explorer also hands the proof to a small
// external script that checks it again in the browser, but the page says
// what it says without JavaScript.

// logReader is what the pages read of the ledger; *ledger.Log is one.
type logReader interface {
	Size() uint64
	Checkpoint(ctx context.Context) (ledger.Checkpoint, error)
	CheckpointAt(ctx context.Context, size uint64) (ledger.Checkpoint, error)
	Checkpoints(ctx context.Context, after uint64, limit int) ([]ledger.Checkpoint, error)
	Leaf(ctx context.Context, index uint64) ([]byte, error)
	IndexOf(ctx context.Context, h tlog.Hash) (uint64, error)
	InclusionProof(ctx context.Context, index, size uint64) ([]tlog.Hash, error)
	ConsistencyProof(ctx context.Context, n, m uint64) ([]tlog.Hash, error)
}

type logPages struct {
	log    logReader
	alarms func(context.Context) ([]OfficeRow, error) // may be nil
	site   *site
	logger *slog.Logger
}

func mountLogPages(r gin.IRouter, l logReader, alarms func(context.Context) ([]OfficeRow, error), logger *slog.Logger) {
	h := &logPages{log: l, alarms: alarms, site: defaultSite().withLogger(logger), logger: logger}
	r.GET("/", h.home)
	r.GET("/log", h.explorer)
}

// checkpointView is a checkpoint as the pages show it.
type checkpointView struct {
	Size      uint64
	Root      string
	Time      time.Time
	Note      string
	Cosigs    []cosigView
	TSATimes  []time.Time
	TSAErrors int
}

type cosigView struct {
	Name string
	// Time is the cosignature/v1 timestamp; zero for other signature types.
	Time time.Time
}

func toCheckpointView(cp ledger.Checkpoint) checkpointView {
	v := checkpointView{Size: cp.Size, Root: base64.StdEncoding.EncodeToString(cp.Root[:]), Time: cp.Time,
		Note: strings.TrimSpace(string(cp.CosignedNote()))}
	for _, line := range cp.Cosignatures {
		v.Cosigs = append(v.Cosigs, parseCosig(string(line)))
	}
	for _, tok := range cp.Timestamps {
		ts, err := timestamp.Parse(tok)
		if err != nil {
			v.TSAErrors++
			continue
		}
		v.TSATimes = append(v.TSATimes, ts.Time)
	}
	return v
}

// parseCosig reads a cosignature line for the pages (tlogfmt parses it):
// its key name, and the time inside a C2SP cosignature/v1 signature. A line
// that does not parse is shown as it is.
func parseCosig(line string) cosigView {
	s, err := tlogfmt.ParseSignatureLine(tlogfmt.AppendSignatures(nil, []byte(line)))
	if err != nil {
		return cosigView{Name: strings.TrimSpace(line)}
	}
	t, _ := tlogfmt.CosignatureTime(s)
	return cosigView{Name: s.Name, Time: t}
}

type homeData struct {
	Size       uint64
	Checkpoint checkpointView
	// Alarmed are the offices holding a fork alarm no operator
	// acknowledged: shown in red, with where to see both notes.
	Alarmed []OfficeRow
}

func (h *logPages) home(c *gin.Context) {
	cp, err := h.log.Checkpoint(c.Request.Context())
	if err != nil {
		abortWithError(c, h.logger, err)
		return
	}
	d := homeData{Size: h.log.Size(), Checkpoint: toCheckpointView(cp)}
	if h.alarms != nil {
		rows, err := h.alarms(c.Request.Context())
		if err != nil {
			abortWithError(c, h.logger, err)
			return
		}
		d.Alarmed = UnackedOffices(rows)
	}
	h.site.render(c, http.StatusOK, "home.html", "home", d)
}

// explorerData is the data of log.html.
type explorerData struct {
	Latest checkpointView
	Chart  template.HTML
	Recent []checkpointView

	// Leaf lookup (?leaf=index or hash).
	LeafQuery string
	LeafError string
	Leaf      *leafView

	// Consistency (?old=&new=).
	OldQuery, NewQuery string
	ConsError          string
	Cons               *consistencyView
}

type leafView struct {
	Index    uint64
	Size     uint64
	LeafHash string // base64
	LeafHex  string
	Root     string
	Leaf     string // the leaf bytes as text (canonical JSON)
	LeafB64  string
	Proof    []string
	ProofB64 string // comma-separated, for the script
	Checked  bool
	Problem  string
}

type consistencyView struct {
	Old, New         uint64
	OldRoot, NewRoot string
	Proof            []string
	Checked          bool
	Problem          string
}

// chartPoints is how many checkpoints the size chart samples.
const chartPoints = 48

func (h *logPages) explorer(c *gin.Context) {
	ctx := c.Request.Context()
	cp, err := h.log.Checkpoint(ctx)
	if err != nil {
		abortWithError(c, h.logger, err)
		return
	}
	d := explorerData{Latest: toCheckpointView(cp)}
	samples, err := h.sample(ctx, cp)
	if err != nil {
		abortWithError(c, h.logger, err)
		return
	}
	d.Chart = sizeChart(samples, langOf(c))
	// The newest few sampled checkpoints, with what was collected for them.
	for i := len(samples) - 1; i >= 0 && len(d.Recent) < 8; i-- {
		full, err := h.log.CheckpointAt(ctx, samples[i].Size)
		if err != nil {
			abortWithError(c, h.logger, err)
			return
		}
		d.Recent = append(d.Recent, toCheckpointView(full))
	}
	status := http.StatusOK
	if q := strings.TrimSpace(c.Query("leaf")); q != "" {
		d.LeafQuery = q
		d.Leaf, err = h.lookupLeaf(ctx, q, cp)
		if err != nil {
			d.LeafError, status = err.Error(), errorStatus(err)
			if status >= 500 && status != http.StatusServiceUnavailable {
				h.logger.ErrorContext(ctx, "log explorer leaf lookup", "err", err)
				d.LeafError = "internal error"
			}
		}
	}
	oldQ, newQ := strings.TrimSpace(c.Query("old")), strings.TrimSpace(c.Query("new"))
	if oldQ != "" || newQ != "" {
		d.OldQuery, d.NewQuery = oldQ, newQ
		d.Cons, err = h.consistency(ctx, oldQ, newQ, cp)
		if err != nil {
			d.ConsError, status = err.Error(), errorStatus(err)
			if status >= 500 && status != http.StatusServiceUnavailable {
				h.logger.ErrorContext(ctx, "log explorer consistency", "err", err)
				d.ConsError = "internal error"
			}
		}
	}
	h.site.render(c, status, "log.html", "log", d)
}

// sample returns up to chartPoints published checkpoints spread over the
// tree's sizes, oldest first, ending with cp: one index seek each, so the
// page costs the same for a log of a hundred entries or a billion.
func (h *logPages) sample(ctx context.Context, cp ledger.Checkpoint) ([]ledger.Checkpoint, error) {
	var out []ledger.Checkpoint
	var last uint64
	for i := range uint64(chartPoints - 1) {
		after := cp.Size * i / (chartPoints - 1)
		if i > 0 && after < last {
			after = last
		}
		cps, err := h.log.Checkpoints(ctx, after, 1)
		if err != nil {
			return nil, err
		}
		if len(cps) == 0 || cps[0].Size >= cp.Size {
			break
		}
		if cps[0].Size > last {
			out = append(out, cps[0])
			last = cps[0].Size
		}
	}
	if cp.Size > 0 {
		out = append(out, cp)
	}
	return out, nil
}

// sizeChart draws log size over time as an inline SVG (no script, no
// external image): a polyline over time with the axes' extremes labelled.
func sizeChart(cps []ledger.Checkpoint, lang string) template.HTML {
	const w, hgt, padL, padB, padT, padR = 640.0, 220.0, 64.0, 28.0, 12.0, 12.0
	var b strings.Builder
	title := pick(lang, "日志大小随时间变化", "Log size over time")
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %.0f %.0f" role="img" aria-label="%s"><title>%s</title>`, w, hgt, template.HTMLEscapeString(title), template.HTMLEscapeString(title))
	fmt.Fprintf(&b, `<line x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f" stroke="#888"/>`, padL, hgt-padB, w-padR, hgt-padB)
	fmt.Fprintf(&b, `<line x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f" stroke="#888"/>`, padL, padT, padL, hgt-padB)
	if len(cps) == 0 {
		fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" font-size="14" fill="#555">%s</text></svg>`, padL+10, hgt/2, template.HTMLEscapeString(pick(lang, "暂无检查点", "No checkpoint yet")))
		return template.HTML(b.String())
	}
	t0, t1 := cps[0].Time, cps[len(cps)-1].Time
	maxSize := cps[len(cps)-1].Size
	span := t1.Sub(t0).Seconds()
	pts := make([]string, 0, len(cps)+1)
	for i, cp := range cps {
		x := padL
		if span > 0 {
			x += (w - padL - padR) * cp.Time.Sub(t0).Seconds() / span
		} else if len(cps) > 1 {
			x += (w - padL - padR) * float64(i) / float64(len(cps)-1)
		}
		y := hgt - padB
		if maxSize > 0 {
			y -= (hgt - padB - padT) * float64(cp.Size) / float64(maxSize)
		}
		pts = append(pts, fmt.Sprintf("%.1f,%.1f", x, y))
	}
	if len(pts) == 1 {
		pts = append(pts, fmt.Sprintf("%.1f,%s", w-padR, strings.Split(pts[0], ",")[1]))
	}
	fmt.Fprintf(&b, `<polyline fill="none" stroke="#2458c6" stroke-width="2" points="%s"/>`, strings.Join(pts, " "))
	fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" font-size="12" text-anchor="end" fill="#333">%d</text>`, padL-6, padT+10, maxSize)
	fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" font-size="12" text-anchor="end" fill="#333">0</text>`, padL-6, hgt-padB)
	// Minutes, or seconds when the whole span is within one minute's label
	// (a new log): two equal labels would say the chart spans no time.
	layout := "01-02 15:04"
	if t0.In(beijingZone).Format(layout) == t1.In(beijingZone).Format(layout) && span > 0 {
		layout = "01-02 15:04:05"
	}
	fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" font-size="12" fill="#333">%s</text>`, padL, hgt-8, t0.In(beijingZone).Format(layout))
	fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" font-size="12" text-anchor="end" fill="#333">%s</text>`, w-padR, hgt-8, t1.In(beijingZone).Format(layout+" (UTC+8)"))
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// lookupLeaf finds a leaf by index or leaf hash (hex or base64) and checks
// its inclusion in cp.
func (h *logPages) lookupLeaf(ctx context.Context, q string, cp ledger.Checkpoint) (*leafView, error) {
	var index uint64
	if n, err := strconv.ParseUint(q, 10, 64); err == nil && len(q) < 64 {
		index = n
	} else {
		lh, err := parseLeafHash(q)
		if err != nil {
			return nil, badRequest("输入叶子序号或叶子哈希（十六进制或 base64）· give a leaf index or a leaf hash (hex or base64)")
		}
		if index, err = h.log.IndexOf(ctx, lh); err != nil {
			if errors.Is(err, ledger.ErrNotFound) {
				return nil, notFound("日志中没有该叶子哈希（文件的 SHA-256 不是叶子哈希：查询文件请用“在线验签”）· no leaf with this hash in the log (a file's SHA-256 is not a leaf hash: to look a file up, use Verify a PDF)")
			}
			return nil, err
		}
	}
	if index >= cp.Size {
		return nil, notFound(fmt.Sprintf("叶子 %d 尚未被最新检查点（大小 %d）覆盖 · leaf %d is not covered by the newest checkpoint (size %d)", index, cp.Size, index, cp.Size))
	}
	leaf, err := h.log.Leaf(ctx, index)
	if err != nil {
		return nil, err
	}
	hashes, err := h.log.InclusionProof(ctx, index, cp.Size)
	if err != nil {
		return nil, err
	}
	lh := tlogfmt.LeafHash(leaf)
	v := &leafView{Index: index, Size: cp.Size, LeafHash: base64.StdEncoding.EncodeToString(lh[:]), LeafHex: hex.EncodeToString(lh[:]),
		Root: base64.StdEncoding.EncodeToString(cp.Root[:]), Leaf: string(leaf), LeafB64: base64.StdEncoding.EncodeToString(leaf)}
	for _, p := range hashes {
		v.Proof = append(v.Proof, base64.StdEncoding.EncodeToString(p[:]))
	}
	v.ProofB64 = strings.Join(v.Proof, ",")
	if err := tlogfmt.CheckInclusion(hashes, index, cp.Size, lh, cp.Root); err != nil {
		v.Problem = err.Error()
	} else {
		v.Checked = true
	}
	return v, nil
}

// consistency checks that the published checkpoint of the smaller size is
// a prefix of the one of the larger (the newest when new is empty).
func (h *logPages) consistency(ctx context.Context, oldQ, newQ string, latest ledger.Checkpoint) (*consistencyView, error) {
	const usage = "输入两个已发布检查点的大小 · give the sizes of two published checkpoints"
	a, err := strconv.ParseUint(oldQ, 10, 64)
	if err != nil {
		return nil, badRequest(usage)
	}
	b := latest.Size
	if newQ != "" {
		if b, err = strconv.ParseUint(newQ, 10, 64); err != nil {
			return nil, badRequest(usage)
		}
	}
	if a > b {
		a, b = b, a // either order is a question worth answering
	}
	at := func(size uint64) (ledger.Checkpoint, error) {
		if size == latest.Size {
			return latest, nil
		}
		cp, err := h.log.CheckpointAt(ctx, size)
		if errors.Is(err, ledger.ErrNotFound) {
			return cp, notFound(fmt.Sprintf("没有大小为 %d 的已发布检查点 · no published checkpoint of size %d", size, size))
		}
		return cp, err
	}
	older, err := at(a)
	if err != nil {
		return nil, err
	}
	newer, err := at(b)
	if err != nil {
		return nil, err
	}
	hashes, err := h.log.ConsistencyProof(ctx, older.Size, newer.Size)
	if err != nil {
		return nil, err
	}
	v := &consistencyView{Old: older.Size, New: newer.Size,
		OldRoot: base64.StdEncoding.EncodeToString(older.Root[:]), NewRoot: base64.StdEncoding.EncodeToString(newer.Root[:])}
	for _, p := range hashes {
		v.Proof = append(v.Proof, base64.StdEncoding.EncodeToString(p[:]))
	}
	if err := tlogfmt.CheckConsistency(hashes, older.Size, newer.Size, older.Root, newer.Root); err != nil {
		v.Problem = err.Error()
	} else {
		v.Checked = true
	}
	return v, nil
}
