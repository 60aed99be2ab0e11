package web

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/cunzheng/cunzheng/notary"
)

// TestOfficePages drives a real office store through add-checkpoint,
// forges a fork (a second checkpoint of a cosigned size, signed with the
// log's key) and walks the office's pages and JSON before and after the
// alarm is acknowledged.
func TestOfficePages(t *testing.T) {
	lg := newWitnessLog(t)
	o, tsa := newTestNotary(t, lg)
	h := NotaryHandler(o, tsa, nil, nil)
	origin := "cunzheng.example/log"

	get := func(path string) (int, string, string) {
		t.Helper()
		w := do(t, h, "GET", path, "", nil)
		return w.Code, w.Body.String(), w.Header().Get("Content-Security-Policy")
	}

	// Before anything: the overview, no banner.
	code, body, csp := get("/")
	if code != 200 || !strings.Contains(body, strings.ReplaceAll(o.VerifierKey(), "+", "&#43;")) || !strings.Contains(body, notary.KeyFingerprint(o.VerifierKey())) ||
		strings.Contains(body, "alarm-banner") || csp != contentSecurityPolicy || strings.Contains(body, "<script") {
		t.Fatalf("GET / before: %d csp=%q\n%s", code, csp, body)
	}

	// Cosign 60 checkpoints so that /cosigned has two pages.
	var sizes []int64
	var old int64
	for range 60 {
		lg.grow(1)
		w := do(t, h, "POST", "/add-checkpoint", "", lg.body(old, lg.n, lg.note(lg.n, nil)))
		if w.Code != 200 {
			t.Fatalf("add-checkpoint %d: %d %s", lg.n, w.Code, w.Body)
		}
		old = lg.n
		sizes = append(sizes, lg.n)
	}
	fork := lg.note(sizes[9], &tlog.Hash{7})
	if w := do(t, h, "POST", "/add-checkpoint", "", lg.body(0, sizes[9], fork)); w.Code != 409 {
		t.Fatalf("fork: %d %s", w.Code, w.Body)
	}

	banner := "alarm-banner"
	for _, path := range []string{"/", "/cosigned", "/alarms", "/?lang=en"} {
		if code, body, _ := get(path); code != 200 || !strings.Contains(body, banner) {
			t.Errorf("GET %s with an unacknowledged alarm: %d, banner shown: %v", path, code, strings.Contains(body, banner))
		}
	}
	_, body, _ = get("/?lang=en")
	if !strings.Contains(body, "Fork alarm: 1 alarm not acknowledged") || !strings.Contains(body, "push") || !strings.Contains(body, fmt.Sprint(sizes[59])) {
		t.Errorf("GET /?lang=en:\n%s", body)
	}
	_, body, _ = get("/alarms")
	a, err := o.AlarmEntries(context.Background())
	if err != nil || len(a) != 1 {
		t.Fatalf("alarms: %+v %v", a, err)
	}
	for _, want := range []string{string(a[0].Held), string(fork), "/alarms/0/held.txt", "/alarms/0/got.txt", "未确认", "分叉"} {
		if !strings.Contains(body, strings.ReplaceAll(want, "+", "&#43;")) {
			t.Errorf("/alarms lacks %q", want)
		}
	}
	for path, want := range map[string]string{"/alarms/0/held.txt": string(a[0].Held), "/alarms/0/got.txt": string(fork)} {
		w := do(t, h, "GET", path, "", nil)
		if w.Code != 200 || w.Body.String() != want || !strings.Contains(w.Header().Get("Content-Disposition"), "attachment") {
			t.Errorf("GET %s: %d %q", path, w.Code, w.Body)
		}
	}
	for path, status := range map[string]int{"/alarms/1/got.txt": 404, "/alarms/x/got.txt": 400, "/alarms/0/secret": 404,
		"/cosigned/note?size=99999": 404, "/cosigned/note": 400, "/cosigned?after=-1": 400, "/cosigned?origin=other": 404} {
		if code, _, _ := get(path); code != status {
			t.Errorf("GET %s: %d, want %d", path, code, status)
		}
	}

	// /cosigned: 50 on the first page, the rest on the next.
	_, body, _ = get("/cosigned")
	if n := strings.Count(body, "/cosigned/note?"); n != 50 {
		t.Errorf("first cosigned page has %d notes, want 50", n)
	}
	next := fmt.Sprintf("after=%d", sizes[49])
	if !strings.Contains(body, next) {
		t.Errorf("first page has no link to %s", next)
	}
	_, body, _ = get("/cosigned?origin=" + url.QueryEscape(origin) + "&" + next)
	if n := strings.Count(body, "/cosigned/note?"); n != 10 || strings.Contains(body, "下一页") {
		t.Errorf("second page has %d notes", n)
	}
	w := do(t, h, "GET", fmt.Sprintf("/cosigned/note?size=%d", sizes[9]), "", nil)
	if w.Code != 200 || !strings.HasPrefix(w.Body.String(), string(lg.note(sizes[9], nil))) || !strings.Contains(w.Body.String(), "— notary.test ") {
		t.Errorf("cosigned note: %d %s", w.Code, w.Body)
	}

	// JSON.
	var ov notary.Overview
	w = do(t, h, "GET", "/v1/office", "", nil)
	if err := json.Unmarshal(w.Body.Bytes(), &ov); err != nil || ov.Unacked != 1 || ov.Key != o.VerifierKey() || len(ov.Logs) != 1 || ov.Logs[0].Size != uint64(sizes[59]) {
		t.Errorf("/v1/office: %v %s", err, w.Body)
	}
	var cj struct {
		Checkpoints []notary.CosignedCheckpoint
		Next        uint64 `json:"next_after"`
	}
	w = do(t, h, "GET", "/v1/cosigned?limit=20&after="+fmt.Sprint(sizes[29]), "", nil)
	if err := json.Unmarshal(w.Body.Bytes(), &cj); err != nil || len(cj.Checkpoints) != 20 || cj.Checkpoints[0].Size != uint64(sizes[30]) || cj.Next != uint64(sizes[49]) {
		t.Errorf("/v1/cosigned: %v %s", err, w.Body)
	}

	// Acknowledged: shown, not red, no banner.
	if _, _, err := o.Acknowledge(context.Background(), 0, "operator"); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/", "/cosigned", "/alarms"} {
		if _, body, _ := get(path); strings.Contains(body, banner) {
			t.Errorf("GET %s after the acknowledgement still shows the banner", path)
		}
	}
	_, body, _ = get("/alarms")
	if !strings.Contains(body, "已确认") || strings.Contains(body, "未确认") || !strings.Contains(body, string(fork[:20])) {
		t.Errorf("/alarms after the acknowledgement:\n%s", body)
	}
	var aj struct {
		Alarms         []notary.AlarmEntry
		Unacknowledged int
	}
	w = do(t, h, "GET", "/v1/alarms", "", nil)
	if err := json.Unmarshal(w.Body.Bytes(), &aj); err != nil || aj.Unacknowledged != 0 || len(aj.Alarms) != 1 || aj.Alarms[0].Acked == nil || aj.Alarms[0].Acked.By != "operator" {
		t.Errorf("/v1/alarms: %v %s", err, w.Body)
	}
}
