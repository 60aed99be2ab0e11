package web

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/digitorus/timestamp"
	"github.com/gin-gonic/gin"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/cunzheng/cunzheng/ledger"
	"github.com/cunzheng/cunzheng/ledger/tlogfmt"
	"github.com/cunzheng/cunzheng/notary"
)

// witnessLog is a small Merkle tree (Go's sumdb tlog) with a signing key,
// enough to drive an office through HTTP.
type witnessLog struct {
	t      *testing.T
	signer note.Signer
	vkey   string
	stored []tlog.Hash
	n      int64
	// entries are leaves other than "leaf N", by index (growEntries).
	entries map[int64][]byte
}

func newWitnessLog(t *testing.T) *witnessLog {
	skey, vkey, err := note.GenerateKey(rand.Reader, "cunzheng.example/log")
	if err != nil {
		t.Fatal(err)
	}
	s, _ := note.NewSigner(skey)
	return &witnessLog{t: t, signer: s, vkey: vkey}
}

func (l *witnessLog) read(idx []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(idx))
	for i, x := range idx {
		out[i] = l.stored[x]
	}
	return out, nil
}

func (l *witnessLog) grow(k int) {
	for range k {
		h, err := tlog.StoredHashes(l.n, []byte(fmt.Sprint("leaf ", l.n)), tlog.HashReaderFunc(l.read))
		if err != nil {
			l.t.Fatal(err)
		}
		l.stored = append(l.stored, h...)
		l.n++
	}
}

func (l *witnessLog) note(size int64, root *tlog.Hash) []byte {
	if root == nil {
		h, err := tlog.TreeHash(size, tlog.HashReaderFunc(l.read))
		if err != nil {
			l.t.Fatal(err)
		}
		root = &h
	}
	msg, err := note.Sign(&note.Note{Text: fmt.Sprintf("cunzheng.example/log\n%d\n%s\n", size, base64.StdEncoding.EncodeToString(root[:]))}, l.signer)
	if err != nil {
		l.t.Fatal(err)
	}
	return msg
}

func (l *witnessLog) body(old, size int64, msg []byte) []byte {
	r := &tlogfmt.AddCheckpoint{Old: uint64(old), Checkpoint: msg}
	if old > 0 && old < size {
		p, err := tlog.ProveTree(size, old, tlog.HashReaderFunc(l.read))
		if err != nil {
			l.t.Fatal(err)
		}
		for _, h := range p {
			r.Proof = append(r.Proof, bytes.Clone(h[:]))
		}
	}
	return r.Marshal()
}

func newTestNotary(t *testing.T, lg *witnessLog) (*notary.Office, *notary.TSA) {
	dir := t.TempDir()
	skey, err := notary.LoadOrCreateKey(filepath.Join(dir, "notary.key"), "notary.test")
	if err != nil {
		t.Fatal(err)
	}
	v, err := tlogfmt.NewVerifier(lg.vkey)
	if err != nil {
		t.Fatal(err)
	}
	lk := notary.LogKey{Origin: v.Name(), Verifier: v}
	o, err := notary.Open(context.Background(), notary.Config{Dir: filepath.Join(dir, "db"), Key: skey, Logs: []notary.LogKey{lk}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { o.Close() })
	tsa, err := notary.LoadOrCreateTSA(filepath.Join(dir, "tsa"), "notary.test")
	if err != nil {
		t.Fatal(err)
	}
	return o, tsa
}

func do(t *testing.T, h http.Handler, method, path, ctype string, body []byte) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, path, bytes.NewReader(body))
	if ctype != "" {
		r.Header.Set("Content-Type", ctype)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestNotaryHandlers(t *testing.T) {
	lg := newWitnessLog(t)
	o, tsa := newTestNotary(t, lg)
	other := newWitnessLog(t) // same origin, another key
	for _, mount := range []struct {
		name    string
		prefix  string
		handler http.Handler
	}{
		{"standalone at the root", "", NotaryHandler(o, tsa, nil, nil)},
		{"built-in under /notary", "/notary", New(Config{Mounts: []Mount{func(r gin.IRouter) { MountNotary(o, tsa, nil)(r.Group("/notary")) }}})},
	} {
		t.Run(mount.name, func(t *testing.T) {
			h, p := mount.handler, mount.prefix
			start := lg.n
			lg.grow(10)
			s1 := lg.n
			lg.grow(5)
			s2 := lg.n
			fork := lg.note(s1, &tlog.Hash{1})
			r1, err := tlog.TreeHash(s1, tlog.HashReaderFunc(lg.read))
			if err != nil {
				t.Fatal(err)
			}
			steps := []struct {
				name   string
				body   []byte
				status int
				want   string // body prefix
			}{
				{"malformed", []byte("old one\n\nx"), 400, ""},
				{"unknown log", []byte("old 0\n\nother.example/log\n1\nAAAA\n\n— x abc\n"), 404, ""},
				{"bad signature", lg.body(0, s1, other.note(s1, &r1)), 403, ""},
				{"first", lg.body(start, s1, lg.note(s1, nil)), 200, "— notary.test "},
				{"stale old", lg.body(start, s2, lg.note(s2, nil)), 409, fmt.Sprintf("%d\n", s1)},
				{"bad proof", []byte(strings.Replace(string(lg.body(s1, s2, lg.note(s2, nil))), "\n", "\n"+base64.StdEncoding.EncodeToString(make([]byte, 32))+"\n", 1)), 422, ""},
				{"extend", lg.body(s1, s2, lg.note(s2, nil)), 200, "— notary.test "},
				{"fork", lg.body(s2, s1, fork), 400, ""},
				{"fork, old ok", lg.body(0, s1, fork), 409, fmt.Sprintf("%d\n", s2)},
				{"too large", bytes.Repeat([]byte("x"), tlogfmt.MaxAddCheckpointBytes+1), 413, ""},
			}
			if start == 0 {
				steps[4].want = fmt.Sprintf("%d\n", s1)
			}
			for _, st := range steps {
				w := do(t, h, "POST", p+"/add-checkpoint", "", st.body)
				if w.Code != st.status || !strings.HasPrefix(w.Body.String(), st.want) {
					t.Errorf("%s: %d %q, want %d %q", st.name, w.Code, w.Body.String(), st.status, st.want)
				}
				if w.Code == 409 && w.Header().Get("Content-Type") != "text/x.tlog.size" {
					t.Errorf("%s: content type %q", st.name, w.Header().Get("Content-Type"))
				}
			}

			w := do(t, h, "GET", p+"/v1/alarms", "", nil)
			var alarms struct{ Alarms []notary.Alarm }
			if err := json.Unmarshal(w.Body.Bytes(), &alarms); w.Code != 200 || err != nil || len(alarms.Alarms) == 0 {
				t.Errorf("alarms: %d %s", w.Code, w.Body)
			} else if a := alarms.Alarms[len(alarms.Alarms)-1]; a.Kind != notary.AlarmFork || !bytes.Equal(a.Got, fork) {
				t.Errorf("last alarm = %+v", a)
			}
			w = do(t, h, "GET", p+"/v1/logs", "", nil)
			if w.Code != 200 || !strings.Contains(w.Body.String(), fmt.Sprintf(`"size":%d`, s2)) {
				t.Errorf("logs: %d %s", w.Code, w.Body)
			}
			w = do(t, h, "GET", p+"/v1/logs/cosigned?origin="+url.QueryEscape("cunzheng.example/log")+"&after=0", "", nil)
			if w.Code != 200 || !strings.Contains(w.Body.String(), fmt.Sprintf(`"size":%d`, s2)) {
				t.Errorf("logs/cosigned: %d %s", w.Code, w.Body)
			}
			for path, want := range map[string]int{
				"/v1/logs/cosigned":                   400,
				"/v1/logs/cosigned?origin=nobody":     404,
				"/v1/logs/cosigned?origin=x&after=-1": 400,
			} {
				if w := do(t, h, "GET", p+path, "", nil); w.Code != want {
					t.Errorf("GET %s: %d, want %d", path, w.Code, want)
				}
			}
			w = do(t, h, "GET", p+"/v1/key", "", nil)
			if w.Code != 200 || w.Body.String() != o.VerifierKey()+"\n" {
				t.Errorf("key: %d %s", w.Code, w.Body)
			}
			for path, want := range map[string]int{
				"/v1/fingerprints/zz":                          400,
				"/v1/fingerprints/" + strings.Repeat("ab", 32): 404,
			} {
				if w := do(t, h, "GET", p+path, "", nil); w.Code != want {
					t.Errorf("GET %s: %d, want %d", path, w.Code, want)
				}
			}

			q, err := timestamp.CreateRequest(strings.NewReader("checkpoint note"), &timestamp.RequestOptions{Hash: crypto.SHA256, Certificates: true})
			if err != nil {
				t.Fatal(err)
			}
			if w := do(t, h, "POST", p+"/timestamp", "text/plain", q); w.Code != 415 {
				t.Errorf("timestamp with wrong type: %d", w.Code)
			}
			if w := do(t, h, "POST", p+"/timestamp", notary.TimestampQueryType, []byte("junk")); w.Code != 400 {
				t.Errorf("timestamp junk: %d", w.Code)
			}
			w = do(t, h, "POST", p+"/timestamp", notary.TimestampQueryType, q)
			if w.Code != 200 || w.Header().Get("Content-Type") != notary.TimestampReplyType {
				t.Fatalf("timestamp: %d %q", w.Code, w.Header().Get("Content-Type"))
			}
			if ts, err := timestamp.ParseResponse(w.Body.Bytes()); err != nil || time.Since(ts.Time) > time.Minute {
				t.Errorf("timestamp reply: %v", err)
			}
			if w := do(t, h, "GET", p+"/v1/tsa/ca.pem", "", nil); w.Code != 200 || !bytes.Equal(w.Body.Bytes(), tsa.CACertPEM()) {
				t.Errorf("ca.pem: %d", w.Code)
			}
		})
	}
}

type fixedCheckpoint struct{ cp ledger.Checkpoint }

func (f fixedCheckpoint) Checkpoint(context.Context) (ledger.Checkpoint, error) { return f.cp, nil }

func TestNotariesPage(t *testing.T) {
	lg := newWitnessLog(t)
	o, _ := newTestNotary(t, lg)
	lg.grow(3)
	msg := lg.note(3, nil)
	resp := do(t, NotaryHandler(o, nil, nil, nil), "POST", "/add-checkpoint", "", lg.body(0, 3, msg))
	if resp.Code != 200 {
		t.Fatal(resp.Body.String())
	}
	// A fork, so that the page has an alarm to show.
	do(t, NotaryHandler(o, nil, nil, nil), "POST", "/add-checkpoint", "", lg.body(3, 3, lg.note(3, &tlog.Hash{7})))
	cp := ledger.Checkpoint{Size: 3, Time: time.Now(), Note: msg, Cosignatures: [][]byte{resp.Body.Bytes()}}
	s := New(Config{Mounts: []Mount{MountNotariesPage(NotariesPage{Log: fixedCheckpoint{cp}, Office: o}, nil)}})
	w := do(t, s, "GET", "/notaries", "", nil)
	body := w.Body.String()
	if w.Code != 200 {
		t.Fatalf("%d %s", w.Code, body)
	}
	for _, want := range []string{"公证处", "Notary offices", "— notary.test ", "#0 fork", "Alarms"} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(strings.ToLower(body), "<script") {
		t.Error("page has a script")
	}
	if !strings.Contains(body, `<h3 class="bad">#0 fork`) {
		t.Error("an unacknowledged alarm is not red")
	}
	// Acknowledged: still listed, no longer red.
	if _, _, err := o.Acknowledge(context.Background(), 0, ""); err != nil {
		t.Fatal(err)
	}
	body = do(t, s, "GET", "/notaries", "", nil).Body.String()
	if !strings.Contains(body, "<h3>#0 fork") || strings.Contains(body, `class="bad">#0`) || !strings.Contains(body, "已确认") {
		t.Errorf("acknowledged alarm on /notaries:\n%s", body)
	}
	_ = io.Discard
}

func TestNotaryMountsTSAOnly(t *testing.T) {
	_, tsa := newTestNotary(t, newWitnessLog(t))
	s := New(Config{Mounts: NotaryMounts(nil, tsa, NotariesPage{}, nil)})
	if w := do(t, s, "GET", "/notary/v1/tsa/ca.pem", "", nil); w.Code != 200 || !bytes.Equal(w.Body.Bytes(), tsa.CACertPEM()) {
		t.Errorf("ca.pem: %d", w.Code)
	}
	if w := do(t, s, "POST", "/notary/add-checkpoint", "", []byte("old 0\n\n")); w.Code != 404 {
		t.Errorf("add-checkpoint without an office: %d", w.Code)
	}
}

// TestNotaryMountsOfficePages: the built-in office's pages are served
// under /notary as a standalone office serves them at its root, every link
// under /notary too, but not its notarisation requests (their checks and
// certificates name contract numbers), which a standalone office serves.
func TestNotaryMountsOfficePages(t *testing.T) {
	o, tsa := newTestNotary(t, newWitnessLog(t))
	s := New(Config{Mounts: NotaryMounts(o, tsa, NotariesPage{}, nil)})
	hrefRE := regexp.MustCompile(`(?:href|action)="(/[^"]*)"`)
	for _, path := range []string{"/notary/", "/notary/alarms", "/notary/cosigned", "/notary/fingerprints"} {
		w := do(t, s, "GET", path, "", nil)
		if w.Code != 200 {
			t.Errorf("GET %s: %d", path, w.Code)
			continue
		}
		links := hrefRE.FindAllStringSubmatch(w.Body.String(), -1)
		if len(links) < 10 {
			t.Errorf("GET %s: %d links", path, len(links))
		}
		for _, l := range links {
			if !strings.HasPrefix(l[1], "/notary/") && l[1] != "/static/site.css" || strings.HasPrefix(l[1], "/notary/requests") {
				t.Errorf("GET %s links to %s", path, l[1])
			}
		}
		// A link that shows a path shows the one it goes to (the footer's
		// API links once read /v1/office for /notary/v1/office).
		shown := regexp.MustCompile(`<a href="(/[^"]*)">(/[^<]*)</a>`).FindAllStringSubmatch(w.Body.String(), -1)
		if len(shown) < 5 {
			t.Errorf("GET %s: %d links showing their path, want the footer's five", path, len(shown))
		}
		for _, l := range shown {
			if href, _, _ := strings.Cut(l[1], "?"); l[2] != href {
				t.Errorf("GET %s: link %s reads %s", path, l[1], l[2])
			}
		}
	}
	for _, r := range []struct{ method, path string }{{"GET", "/notary/requests"}, {"GET", "/notary/v1/requests"}, {"GET", "/notary/v1/requests/NR-1"},
		{"POST", "/notary/v1/requests"}, {"GET", "/notary/requests/NR-1/certificate.pdf"}} {
		if w := do(t, s, r.method, r.path, "", nil); w.Code != 404 {
			t.Errorf("%s %s on the log's server: %d, want 404", r.method, r.path, w.Code)
		}
	}
	// The standalone office (and the built-in one on its loopback
	// listener) serves them, its links at the root.
	h := NotaryHandler(o, tsa, nil, nil)
	if w := do(t, h, "GET", "/requests", "", nil); w.Code != 200 || !strings.Contains(w.Body.String(), `href="/requests"`) || !strings.Contains(w.Body.String(), `href="/alarms"`) {
		t.Errorf("standalone /requests: %d\n%s", w.Code, w.Body)
	}
	if w := do(t, h, "GET", "/v1/requests", "", nil); w.Code != 200 {
		t.Errorf("standalone /v1/requests: %d", w.Code)
	}
}
