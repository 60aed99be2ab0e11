package web

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/cunzheng/cunzheng/ledger"
)

// corruptLog hands out proofs with one byte flipped, so the pages must say
// the proof does not check.
type corruptLog struct{ *ledger.Log }

func (c corruptLog) InclusionProof(ctx context.Context, index, size uint64) ([]tlog.Hash, error) {
	p, err := c.Log.InclusionProof(ctx, index, size)
	if len(p) > 0 {
		p[0][0] ^= 1
	}
	return p, err
}

func (c corruptLog) ConsistencyProof(ctx context.Context, n, m uint64) ([]tlog.Hash, error) {
	p, err := c.Log.ConsistencyProof(ctx, n, m)
	if len(p) > 0 {
		p[len(p)-1][5] ^= 1
	}
	return p, err
}

// publishedSizes returns the sizes of the published checkpoints.
func publishedSizes(t testing.TB, l *ledger.Log) []uint64 {
	t.Helper()
	cps, err := l.Checkpoints(context.Background(), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var out []uint64
	for _, cp := range cps {
		out = append(out, cp.Size)
	}
	return out
}

func TestLogExplorer(t *testing.T) {
	srv, l := newLogServer(t, 40)
	// More checkpoints for the chart and the consistency check.
	for i := range 3 {
		if _, err := l.Append(context.Background(), []byte(fmt.Sprintf("more %d", i))); err != nil {
			t.Fatal(err)
		}
		waitSize(t, l, l.Size())
	}
	sizes := publishedSizes(t, l)
	if len(sizes) < 2 {
		t.Fatalf("published sizes %v", sizes)
	}
	leaf5, err := l.Leaf(context.Background(), 5)
	if err != nil {
		t.Fatal(err)
	}
	lh := tlog.RecordHash(leaf5)
	for _, tc := range []struct {
		name, query string
		status      int
		want        []string
	}{
		{"page", "", 200, []string{`<svg class="chart"`, "<polyline", "Size over time"}},
		{"leaf by index", "?leaf=5", 200, []string{`data-index="5"`, "Inclusion proof checked", hex.EncodeToString(lh[:])}},
		{"leaf by hex hash", "?leaf=" + hex.EncodeToString(lh[:]), 200, []string{`data-index="5"`, "Inclusion proof checked"}},
		{"leaf by base64 hash", "?leaf=" + strings.NewReplacer("+", "%2B", "/", "%2F", "=", "%3D").Replace(base64.StdEncoding.EncodeToString(lh[:])), 200, []string{`data-index="5"`}},
		{"unknown hash", "?leaf=" + strings.Repeat("ab", 32), 404, []string{"no leaf with this hash", "a file&#39;s SHA-256 is not a leaf hash"}},
		{"beyond the checkpoint", "?leaf=99999", 404, []string{"not covered"}},
		{"garbage", "?leaf=hello", 400, []string{"give a leaf index"}},
		{"consistency", fmt.Sprintf("?old=%d&new=%d", sizes[0], sizes[len(sizes)-1]), 200, []string{"Consistency proof checked"}},
		{"consistency reversed, newest", fmt.Sprintf("?old=%d", sizes[1]), 200, []string{"Consistency proof checked"}},
		{"consistency same", fmt.Sprintf("?old=%d&new=%d", sizes[1], sizes[1]), 200, []string{"Consistency proof checked"}},
		{"consistency unpublished", "?old=1&new=99999", 404, []string{"no published checkpoint"}},
		{"consistency garbage", "?old=x", 400, []string{"give the sizes"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := get(t, srv, "/log"+tc.query, "Cookie", "lang=en")
			if w.Code != tc.status {
				t.Fatalf("%d, want %d: %s", w.Code, tc.status, w.Body)
			}
			for _, s := range tc.want {
				if !strings.Contains(w.Body.String(), s) {
					t.Errorf("page lacks %q", s)
				}
			}
		})
	}

	// With proofs that do not check, the page says so.
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	mountLogPages(r, corruptLog{l}, nil, slog.New(slog.DiscardHandler))
	for _, q := range []string{"?leaf=5", fmt.Sprintf("?old=%d&new=%d", sizes[0], sizes[len(sizes)-1])} {
		req := httptest.NewRequest("GET", "/log"+q, nil)
		req.Header.Set("Cookie", "lang=en")
		w := httptest.NewRecorder()
		r.ServeHTTP(w, req)
		if w.Code != 200 || !strings.Contains(w.Body.String(), "does not check") || strings.Contains(w.Body.String(), "proof checked") {
			t.Errorf("corrupt proof %s: %d %s", q, w.Code, w.Body)
		}
	}
}

func waitSize(t testing.TB, l *ledger.Log, size uint64) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if cp, err := l.Checkpoint(context.Background()); err == nil && cp.Size >= size {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no checkpoint of size %d", size)
		}
	}
}

func TestHomePage(t *testing.T) {
	srv, l := newLogServer(t, 7)
	w := get(t, srv, "/")
	if w.Code != 200 {
		t.Fatalf("/: %d", w.Code)
	}
	m := regexp.MustCompile(`id="log-size">(\d+)<`).FindStringSubmatch(w.Body.String())
	if m == nil || m[1] != fmt.Sprint(l.Size()) {
		t.Fatalf("home page log size %v, want %d", m, l.Size())
	}
	for _, s := range []string{`href="/verify"`, `href="/console"`, `href="/log"`, `href="/notaries"`, `name="viewport"`} {
		if !strings.Contains(w.Body.String(), s) {
			t.Errorf("home page lacks %s", s)
		}
	}
}

func TestParseCosig(t *testing.T) {
	sig := make([]byte, 76)
	binary.BigEndian.PutUint64(sig[4:12], 1700000000)
	for _, tc := range []struct {
		line string
		want cosigView
	}{
		{"— notary.example/a " + base64.StdEncoding.EncodeToString(sig) + "\n", cosigView{Name: "notary.example/a", Time: time.Unix(1700000000, 0)}},
		{"— notary.example/b " + base64.StdEncoding.EncodeToString(sig[:68]) + "\n", cosigView{Name: "notary.example/b"}},
		{"— only-a-name\n", cosigView{Name: "— only-a-name"}},
		{"", cosigView{}},
	} {
		if got := parseCosig(tc.line); got.Name != tc.want.Name || !got.Time.Equal(tc.want.Time) {
			t.Errorf("parseCosig(%q) = %+v, want %+v", tc.line, got, tc.want)
		}
	}
}

func FuzzParseCosig(f *testing.F) {
	f.Add("— notary.example/a AAAA\n")
	f.Add("— x " + base64.StdEncoding.EncodeToString(make([]byte, 76)))
	f.Fuzz(func(t *testing.T, line string) {
		v := parseCosig(line)
		if len(v.Name) > len(line) {
			t.Fatalf("name longer than the line")
		}
	})
}

// FuzzLogPageQuery: whatever the query, the explorer answers a page and
// never a server error.
func FuzzLogPageQuery(f *testing.F) {
	srv, _ := newLogServer(f, 9)
	for _, s := range [][3]string{{"0", "", ""}, {"8", "1", "9"}, {strings.Repeat("a", 64), "x", "-1"}, {"AAAA", "18446744073709551615", "0"}} {
		f.Add(s[0], s[1], s[2])
	}
	f.Fuzz(func(t *testing.T, leaf, old, newer string) {
		q := "/log?leaf=" + urlEscape(leaf) + "&old=" + urlEscape(old) + "&new=" + urlEscape(newer)
		w := get(t, srv, q)
		if w.Code >= 500 || !strings.Contains(w.Body.String(), "</html>") {
			t.Fatalf("%s: %d %s", q, w.Code, w.Body)
		}
	})
}

func urlEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		fmt.Fprintf(&b, "%%%02X", s[i])
	}
	return b.String()
}

func TestSizeChart(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		cps  []ledger.Checkpoint
		want string
	}{
		{"none", nil, "No checkpoint yet"},
		{"one", []ledger.Checkpoint{{Size: 5, Time: t0}}, "<polyline"},
		{"same time", []ledger.Checkpoint{{Size: 5, Time: t0}, {Size: 9, Time: t0}}, "<polyline"},
		{"growing", []ledger.Checkpoint{{Size: 1, Time: t0}, {Size: 10, Time: t0.Add(time.Hour)}}, ">10<"},
		// A new log's first checkpoints, seconds apart: the axis labels
		// differ (both said "01-01 08:00").
		{"within a minute", []ledger.Checkpoint{{Size: 6, Time: t0.Add(2 * time.Second)}, {Size: 9, Time: t0.Add(40 * time.Second)}}, ">01-01 08:00:02<"},
	} {
		got := string(sizeChart(tc.cps, langEN))
		if !strings.Contains(got, tc.want) || !strings.HasSuffix(got, "</svg>") || strings.Contains(got, "NaN") {
			t.Errorf("%s: %s", tc.name, got)
		}
	}
}

var _ http.Handler = (*Server)(nil)
