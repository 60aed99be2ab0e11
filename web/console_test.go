package web

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cunzheng/cunzheng/evidence"
	"github.com/cunzheng/cunzheng/ledger"
)

// consoleEnv is a server with the console on a real ledger and evidence
// service (in memory), a fake clock for sessions and rate limits, and the
// access log captured.
type consoleEnv struct {
	backend // its key has the legal and ingest roles
	h       *Server
	mu      sync.Mutex
	now     time.Time
}

func (e *consoleEnv) clock() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.now
}

func (e *consoleEnv) advance(d time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.now = e.now.Add(d)
}

func newConsoleEnv(t testing.TB) *consoleEnv {
	t.Helper()
	e := &consoleEnv{backend: newBackend(t), now: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
	logger := e.logger
	reg := prometheus.NewRegistry()
	cfg := Config{Log: e.log, Logger: logger, Gatherer: reg}
	cfg.Mounts = append(cfg.Mounts, MountConsole(NewConsole(ConsoleConfig{Evidence: e.svc, Log: e.log, Logger: logger, Registerer: reg, now: e.clock})))
	e.h = New(cfg)
	return e
}

// ingest records one contract.sent event per contract (id, name, account).
func (e *consoleEnv) ingest(t testing.TB, key string, contracts ...[3]string) {
	t.Helper()
	p, err := e.svc.Authenticate(key)
	if err != nil {
		t.Fatal(err)
	}
	var evs []string
	for i, c := range contracts {
		evs = append(evs, fmt.Sprintf(`{"id":"ev-%s-%d","kind":"contract.sent","time":"2026-02-%02dT10:00:00+08:00",`+
			`"contract":{"id":%q,"name":%q},"actor":{"account":%q,"name":"张三"},"data":{"signers":2}}`,
			c[0], i, 1+i%28, c[0], c[1], c[2]))
	}
	if _, err := e.svc.Ingest(context.Background(), p, []byte(`{"events":[`+strings.Join(evs, ",")+`]}`)); err != nil {
		t.Fatal(err)
	}
}

// browser is a cookie-keeping client of the handler at one remote address.
type browser struct {
	e       *consoleEnv
	remote  string
	cookies map[string]*http.Cookie
}

func (e *consoleEnv) browser(remote string) *browser {
	return &browser{e: e, remote: remote, cookies: map[string]*http.Cookie{}}
}

func (b *browser) do(t testing.TB, method, target string, form url.Values) *httptest.ResponseRecorder {
	t.Helper()
	var req *http.Request
	if form != nil {
		req = httptest.NewRequest(method, target, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else {
		req = httptest.NewRequest(method, target, nil)
	}
	req.RemoteAddr = b.remote
	for _, c := range b.cookies {
		req.AddCookie(c)
	}
	w := httptest.NewRecorder()
	b.e.h.ServeHTTP(w, req)
	for _, c := range w.Result().Cookies() {
		if c.MaxAge < 0 {
			delete(b.cookies, c.Name)
		} else {
			b.cookies[c.Name] = c
		}
	}
	return w
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func csrfOf(t testing.TB, body string) string {
	t.Helper()
	m := csrfRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no CSRF token in page:\n%s", body)
	}
	return m[1]
}

// signIn signs b in with key and returns the session's CSRF token.
func (b *browser) signIn(t testing.TB, key string) string {
	t.Helper()
	w := b.do(t, "GET", "/console", nil)
	w = b.do(t, "POST", "/console/login", url.Values{"csrf": {csrfOf(t, w.Body.String())}, "key": {key}})
	if w.Code != http.StatusSeeOther {
		t.Fatalf("sign-in: %d %s", w.Code, w.Body)
	}
	w = b.do(t, "GET", "/console", nil)
	if w.Code != 200 || !strings.Contains(w.Body.String(), `action="/console/search"`) {
		t.Fatalf("console after sign-in: %d %s", w.Code, w.Body)
	}
	return csrfOf(t, w.Body.String())
}

func waitCovered(t testing.TB, l *ledger.Log) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		cp, err := l.Checkpoint(context.Background())
		if err == nil && cp.Size == l.Size() && cp.Size > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("no checkpoint covers the log")
		}
	}
}

func TestConsoleSignIn(t *testing.T) {
	e := newConsoleEnv(t)
	ingestOnly := e.newKey(t, "ingest only", evidence.RoleIngest)
	b := e.browser("192.0.2.1:1234")
	w := b.do(t, "GET", "/console", nil)
	if w.Code != 200 || !strings.Contains(w.Body.String(), `action="/console/login"`) {
		t.Fatalf("GET /console without a session: %d %s", w.Code, w.Body)
	}
	tok := csrfOf(t, w.Body.String())
	for _, tc := range []struct {
		name, key, csrf string // csrf: "none", "wrong" or "ok"
		want            int
		text            string
	}{
		{"no csrf", e.key, "none", http.StatusForbidden, "CSRF"},
		{"wrong csrf", e.key, "wrong", http.StatusForbidden, "CSRF"},
		{"empty key", "", "ok", http.StatusBadRequest, "Key required"},
		{"unknown key", "czk_nope", "ok", http.StatusUnauthorized, "密钥无效"},
		{"ingest key", ingestOnly, "ok", http.StatusForbidden, "legal"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			form := url.Values{"key": {tc.key}}
			switch tc.csrf {
			case "wrong":
				form.Set("csrf", tok[:len(tok)-1]+"x")
			case "ok":
				form.Set("csrf", tok)
			}
			w := b.do(t, "POST", "/console/login", form)
			if w.Code != tc.want || !strings.Contains(w.Body.String(), tc.text) {
				t.Fatalf("%d (want %d) %s", w.Code, tc.want, w.Body)
			}
			if _, ok := b.cookies[sessionCookie]; ok {
				t.Fatal("a session cookie after a failed sign-in")
			}
			tok = csrfOf(t, w.Body.String()) // each form answer carries a fresh token
		})
	}
	w = b.do(t, "POST", "/console/login", url.Values{"key": {e.key}, "csrf": {tok}})
	if w.Code != http.StatusSeeOther {
		t.Fatalf("sign-in: %d %s", w.Code, w.Body)
	}
	var sc *http.Cookie
	for _, c := range w.Result().Cookies() {
		if c.Name == sessionCookie {
			sc = c
		}
	}
	if sc == nil || !sc.HttpOnly || sc.SameSite != http.SameSiteStrictMode || sc.Secure || sc.Path != "/" {
		// Path /: the verification page shows a signed-in tenant its own
		// contract numbers.
		t.Fatalf("session cookie over plain HTTP: %+v", sc)
	}
	// Over TLS the cookies are Secure and HSTS is sent.
	reqTLS2 := httptest.NewRequest("GET", "https://example.test/console", nil)
	wt2 := httptest.NewRecorder()
	e.h.ServeHTTP(wt2, reqTLS2)
	if got := wt2.Header().Get("Strict-Transport-Security"); !strings.Contains(got, "max-age=") {
		t.Errorf("no HSTS over TLS: %q", got)
	}
	var secure *http.Cookie
	for _, c := range wt2.Result().Cookies() {
		if c.Name == loginCookie {
			secure = c
		}
	}
	if secure == nil || !secure.Secure {
		t.Errorf("console cookie over TLS is not Secure: %+v", secure)
	}
	if got := w.Header().Get("Strict-Transport-Security"); got != "" {
		t.Errorf("HSTS over plain HTTP: %q", got)
	}

	// Signed in; sign out ends the session (and needs the CSRF token).
	tok = csrfOf(t, b.do(t, "GET", "/console", nil).Body.String())
	if w := b.do(t, "POST", "/console/logout", url.Values{}); w.Code != http.StatusForbidden {
		t.Fatalf("logout without csrf: %d", w.Code)
	}
	if w := b.do(t, "POST", "/console/logout", url.Values{"csrf": {tok}}); w.Code != http.StatusSeeOther {
		t.Fatalf("logout: %d", w.Code)
	}
	if w := b.do(t, "POST", "/console/search", url.Values{"csrf": {tok}, "name": {"劳"}}); w.Code != http.StatusUnauthorized {
		t.Fatalf("search after logout: %d", w.Code)
	}
}

func TestConsoleSessionExpiry(t *testing.T) {
	e := newConsoleEnv(t)
	b := e.browser("192.0.2.1:1")
	tok := b.signIn(t, e.key)
	e.advance(DefaultSessionIdle - time.Minute)
	if w := b.do(t, "POST", "/console/search", url.Values{"csrf": {tok}}); w.Code != 200 {
		t.Fatalf("search within the idle limit: %d", w.Code)
	}
	e.advance(DefaultSessionIdle + time.Second)
	if w := b.do(t, "POST", "/console/search", url.Values{"csrf": {tok}}); w.Code != http.StatusUnauthorized || !strings.Contains(w.Body.String(), "Please sign in") {
		t.Fatalf("search after the idle limit: %d %s", w.Code, w.Body)
	}
	// The absolute limit holds even for a session in constant use.
	tok = b.signIn(t, e.key)
	for range int(DefaultSessionMax / (DefaultSessionIdle / 2)) {
		e.advance(DefaultSessionIdle / 2)
		b.do(t, "GET", "/console", nil)
	}
	e.advance(time.Minute)
	if w := b.do(t, "POST", "/console/search", url.Values{"csrf": {tok}}); w.Code != http.StatusUnauthorized {
		t.Fatalf("search after the absolute limit: %d", w.Code)
	}
}

func TestConsoleSignInRateLimit(t *testing.T) {
	e := newConsoleEnv(t)
	// Per address: wrong keys from one address, each with another prefix.
	b := e.browser("198.51.100.7:5555")
	var w *httptest.ResponseRecorder
	for i := range DefaultSignInPerMinute + 1 {
		g := b.do(t, "GET", "/console", nil)
		w = b.do(t, "POST", "/console/login", url.Values{"csrf": {csrfOf(t, g.Body.String())}, "key": {fmt.Sprintf("czk_%08d_wrong", i)}})
	}
	if w.Code != http.StatusTooManyRequests || !strings.Contains(w.Body.String(), "登录尝试过多") || !strings.Contains(w.Body.String(), "Too many sign-in attempts") {
		t.Fatalf("attempt %d from one address: %d %s", DefaultSignInPerMinute+1, w.Code, w.Body)
	}
	// Even the right key is refused while limited.
	g := b.do(t, "GET", "/console", nil)
	if w := b.do(t, "POST", "/console/login", url.Values{"csrf": {csrfOf(t, g.Body.String())}, "key": {e.key}}); w.Code != http.StatusTooManyRequests {
		t.Fatalf("right key while limited: %d", w.Code)
	}
	// Per key prefix: one guess each from many addresses at the same prefix.
	prefix := e.key[:keyPrefixLen]
	for i := range DefaultSignInPerMinute + 1 {
		bi := e.browser(fmt.Sprintf("203.0.113.%d:1", i+1))
		g := bi.do(t, "GET", "/console", nil)
		w = bi.do(t, "POST", "/console/login", url.Values{"csrf": {csrfOf(t, g.Body.String())}, "key": {prefix + fmt.Sprintf("guess%d", i)}})
	}
	if w.Code != http.StatusTooManyRequests {
		t.Fatalf("attempt %d at one prefix: %d %s", DefaultSignInPerMinute+1, w.Code, w.Body)
	}
	metrics := e.browser("127.0.0.1:1").do(t, "GET", "/metrics", nil).Body.String()
	for _, want := range []string{`cunzheng_console_signins_total{outcome="rate_limited"}`, `cunzheng_console_signins_total{outcome="invalid"}`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	// A minute later both buckets have refilled.
	e.advance(time.Minute)
	if tok := b.signIn(t, e.key); tok == "" {
		t.Fatal("no sign-in after the limit refilled")
	}
}

func TestConsoleSearchAndTimeline(t *testing.T) {
	e := newConsoleEnv(t)
	var cs [][3]string
	for i := range 30 {
		cs = append(cs, [3]string{fmt.Sprintf("C%04d", i), fmt.Sprintf("劳动合同 %02d", i), fmt.Sprintf("1850177%04d", i%3)})
	}
	cs = append(cs, [3]string{"X-1", "采购合同", "buyer@example.com"})
	e.ingest(t, e.key, cs...)
	waitCovered(t, e.log)
	b := e.browser("192.0.2.1:1")
	tok := b.signIn(t, e.key)
	search := func(t *testing.T, f url.Values) string {
		t.Helper()
		f.Set("csrf", tok)
		w := b.do(t, "POST", "/console/search", f)
		if w.Code != 200 {
			t.Fatalf("search %v: %d %s", f, w.Code, w.Body)
		}
		return w.Body.String()
	}
	rows := regexp.MustCompile(`<a href="/console/contracts/([^"]+)">`)
	ids := func(body string) []string {
		var out []string
		for _, m := range rows.FindAllStringSubmatch(body, -1) {
			out = append(out, m[1])
		}
		return out
	}
	for _, tc := range []struct {
		name string
		form url.Values
		want int
	}{
		{"number", url.Values{"number": {"C0007"}}, 1},
		{"number of nothing", url.Values{"number": {"C9999"}}, 0},
		{"name prefix", url.Values{"name": {"采购"}}, 1},
		{"name prefix, first page", url.Values{"name": {"劳动合同"}}, consoleSearchPageLength},
		{"account", url.Values{"account": {"buyer@example.com"}}, 1},
		{"account with name", url.Values{"account": {"18501770001"}, "name": {"劳动合同 0"}}, 3}, // 01 04 07
		{"date range", url.Values{"from": {"2026-02-01"}, "to": {"2026-02-02"}}, 4},          // days 1 and 2: i = 0,1,28,29
		{"everything", url.Values{}, consoleSearchPageLength},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := search(t, tc.form)
			if got := ids(body); len(got) != tc.want {
				t.Fatalf("%d results, want %d: %v", len(got), tc.want, got)
			}
		})
	}
	// Paging: the second page holds the rest, none twice.
	body := search(t, url.Values{"name": {"劳动合同"}})
	first := ids(body)
	next := regexp.MustCompile(`name="cursor" value="([^"]+)"`).FindStringSubmatch(body)
	if next == nil {
		t.Fatal("no next page")
	}
	body = search(t, url.Values{"name": {"劳动合同"}, "cursor": {next[1]}, "page": {"2"}})
	second := ids(body)
	if len(first)+len(second) != 30 || strings.Contains(body, `name="cursor"`) {
		t.Fatalf("pages of %d and %d (want 30 in all, no third)", len(first), len(second))
	}
	for _, id := range second {
		if strings.Contains(strings.Join(first, " "), id) {
			t.Fatalf("%s on both pages", id)
		}
	}
	for _, bad := range []url.Values{{"from": {"yesterday"}}, {"to": {"2026-13-01"}}, {"cursor": {"zz"}}} {
		bad.Set("csrf", tok)
		if w := b.do(t, "POST", "/console/search", bad); w.Code != http.StatusBadRequest {
			t.Errorf("search %v: %d, want 400", bad, w.Code)
		}
	}

	// The timeline, each record's proof checked.
	w := b.do(t, "GET", "/console/contracts/C0007", nil)
	if w.Code != 200 {
		t.Fatalf("timeline: %d %s", w.Code, w.Body)
	}
	page := w.Body.String()
	for _, want := range []string{"劳动合同 07", `data-kind="contract.sent"`, `data-proof="ok"`, "proof checked", `/log?leaf=`} {
		if !strings.Contains(page, want) {
			t.Errorf("timeline lacks %q", want)
		}
	}
	if strings.Contains(page, `data-proof="failed"`) {
		t.Error("a proof failed")
	}
}

func TestConsoleTenantIsolationAndCSRF(t *testing.T) {
	e := newConsoleEnv(t)
	e.ingest(t, e.key, [3]string{"A-1", "甲方合同", "a@example.com"})
	other := e.newKey(t, "乙公司")
	e.ingest(t, other, [3]string{"B-1", "乙方合同", "b@example.com"})
	waitCovered(t, e.log)
	anon := e.browser("192.0.2.1:1")
	for _, r := range []struct{ method, path string }{
		{"GET", "/console/contracts/A-1"}, {"POST", "/console/search"}, {"POST", "/console/contracts/A-1/download"}, {"POST", "/console/logout"},
	} {
		if w := anon.do(t, r.method, r.path, url.Values{"kind": {"certificate"}}); w.Code != http.StatusUnauthorized {
			t.Errorf("%s %s without a session: %d", r.method, r.path, w.Code)
		}
	}
	a := e.browser("192.0.2.2:1")
	tokA := a.signIn(t, e.key)
	bb := e.browser("192.0.2.3:1")
	tokB := bb.signIn(t, other)
	if w := bb.do(t, "GET", "/console/contracts/A-1", nil); w.Code != http.StatusNotFound || strings.Contains(w.Body.String(), "甲方合同") {
		t.Fatalf("another tenant's contract: %d %s", w.Code, w.Body)
	}
	if w := bb.do(t, "POST", "/console/search", url.Values{"csrf": {tokB}, "number": {"A-1"}}); strings.Contains(w.Body.String(), "甲方合同") {
		t.Fatal("another tenant's contract in search")
	}
	if w := bb.do(t, "POST", "/console/search", url.Values{"csrf": {tokB}, "name": {"甲"}}); strings.Contains(w.Body.String(), "甲方合同") {
		t.Fatal("another tenant's contract in a name search")
	}
	// One session's token does not work in another's.
	if w := bb.do(t, "POST", "/console/search", url.Values{"csrf": {tokA}}); w.Code != http.StatusForbidden {
		t.Fatalf("search with another session's CSRF token: %d", w.Code)
	}
	for _, f := range []url.Values{{}, {"csrf": {""}}, {"csrf": {tokA[:10]}}} {
		f.Set("kind", "certificate")
		if w := a.do(t, "POST", "/console/contracts/A-1/download", f); w.Code != http.StatusForbidden {
			t.Errorf("download with csrf %q: %d", f.Get("csrf"), w.Code)
		}
	}
	// Unmasked report without the confirmation: refused before anything is issued.
	w := a.do(t, "POST", "/console/contracts/A-1/download", url.Values{"csrf": {tokA}, "kind": {"evidence-report"}, "reveal": {"true"}})
	if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), "Confirmation required") {
		t.Fatalf("reveal without confirmation: %d %s", w.Code, w.Body)
	}
	if w := a.do(t, "POST", "/console/contracts/A-1/download", url.Values{"csrf": {tokA}, "kind": {"secrets"}}); w.Code != http.StatusBadRequest {
		t.Fatalf("unknown kind: %d", w.Code)
	}
}

func TestConsoleEscapesNames(t *testing.T) {
	e := newConsoleEnv(t)
	const evil = `<script>alert("x")</script><img src=x onerror=alert(1)>`
	e.ingest(t, e.key, [3]string{"E-1", evil, "e@example.com"})
	waitCovered(t, e.log)
	b := e.browser("192.0.2.1:1")
	tok := b.signIn(t, e.key)
	for _, w := range []*httptest.ResponseRecorder{
		b.do(t, "POST", "/console/search", url.Values{"csrf": {tok}, "name": {"<script>"}}),
		b.do(t, "GET", "/console/contracts/E-1", nil),
	} {
		body := w.Body.String()
		if w.Code != 200 || strings.Contains(body, "<script>alert") || strings.Contains(body, "<img src=x") || !strings.Contains(body, "&lt;script&gt;") {
			t.Fatalf("%d, name not escaped:\n%s", w.Code, body)
		}
	}
}

func TestAccessLogHasNoPersonalData(t *testing.T) {
	e := newConsoleEnv(t)
	e.ingest(t, e.key, [3]string{"P-1", "保密合同名", "secret.person@example.com"})
	waitCovered(t, e.log)
	b := e.browser("192.0.2.1:1")
	tok := b.signIn(t, e.key)
	b.do(t, "POST", "/console/search", url.Values{"csrf": {tok}, "name": {"保密合同名"}})
	b.do(t, "POST", "/console/search", url.Values{"csrf": {tok}, "account": {"secret.person@example.com"}})
	b.do(t, "GET", "/log?leaf=0", nil)
	logs := string(e.logBuf.Bytes())
	if !strings.Contains(logs, `"route":"/console/search"`) {
		t.Fatalf("no access log lines:\n%s", logs)
	}
	for _, secret := range []string{e.key, e.key[:keyPrefixLen+4], "保密合同名", "secret.person", tok, "leaf=0"} {
		if strings.Contains(logs, secret) {
			t.Errorf("access log holds %q", secret)
		}
	}
}

func TestSecurityHeadersEverywhere(t *testing.T) {
	e := newConsoleEnv(t)
	e.ingest(t, e.key, [3]string{"H-1", "合同", "h@example.com"})
	waitCovered(t, e.log)
	b := e.browser("192.0.2.1:1")
	for _, path := range []string{"/", "/log", "/log?leaf=0", "/console", "/static/site.css", "/checkpoint", "/nope", "/healthz"} {
		w := b.do(t, "GET", path, nil)
		h := w.Header()
		csp := h.Get("Content-Security-Policy")
		if !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") || !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Errorf("%s: CSP %q", path, csp)
		}
		if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") == "" {
			t.Errorf("%s: headers %v", path, h)
		}
		if strings.HasSuffix(path, ".css") {
			continue
		}
		// No inline script or style anywhere: the CSP would block it.
		if body := w.Body.String(); regexp.MustCompile(`<script>|<script [^>]*>[^<]|<style|style="|onclick=|onload=`).MatchString(body) {
			t.Errorf("%s: inline script or style in the page", path)
		}
	}
	w := b.do(t, "GET", "/static/log.js", nil)
	if w.Code != 200 || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/javascript") {
		t.Errorf("log.js: %d %q", w.Code, w.Header().Get("Content-Type"))
	}
	if w := b.do(t, "GET", "/static/../server.go", nil); w.Code != http.StatusNotFound {
		t.Errorf("static traversal: %d", w.Code)
	}
}

func TestLanguageSwitch(t *testing.T) {
	e := newConsoleEnv(t)
	b := e.browser("192.0.2.1:1")
	w := b.do(t, "GET", "/", nil)
	if !strings.Contains(w.Body.String(), `lang="zh-CN"`) || !strings.Contains(w.Body.String(), "电子签约存证") {
		t.Fatalf("default page is not Chinese: %s", w.Body)
	}
	w = b.do(t, "GET", "/log?lang=en", nil)
	if !strings.Contains(w.Body.String(), `<html lang="en">`) || strings.Contains(w.Body.String(), "存证日志</h1>") {
		t.Fatalf("?lang=en: %s", w.Body)
	}
	// Remembered in a cookie.
	w = b.do(t, "GET", "/console", nil)
	if !strings.Contains(w.Body.String(), `<html lang="en">`) || !strings.Contains(w.Body.String(), "Sign in") {
		t.Fatalf("language not remembered")
	}
	w = b.do(t, "GET", "/?lang=zh", nil)
	if !strings.Contains(w.Body.String(), `lang="zh-CN"`) {
		t.Fatal("?lang=zh did not switch back")
	}
}

func TestSessionStoreBounded(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := newSessionStore(time.Hour, 8*time.Hour, 2, func() time.Time { return now })
	p := evidence.Principal{Tenant: evidence.Tenant{ID: "t"}}
	a, _, _ := s.create(p)
	now = now.Add(time.Minute)
	b, _, _ := s.create(p)
	now = now.Add(time.Minute)
	if _, ok, _ := s.get(a); !ok { // a is now the most recently seen
		t.Fatal("session a missing")
	}
	now = now.Add(time.Minute)
	c, _, _ := s.create(p) // full: the one idle longest (b) goes
	if _, ok, _ := s.get(b); ok {
		t.Error("the longest-idle session survived")
	}
	for _, id := range []string{a, c} {
		if _, ok, _ := s.get(id); !ok {
			t.Errorf("live session dropped")
		}
	}
	if s.len() != 2 {
		t.Errorf("%d sessions, want 2", s.len())
	}
	if _, ok, _ := s.get(""); ok {
		t.Error("empty id matched")
	}
	if tokenEqual("", "") || tokenEqual("x", "") || !tokenEqual("abc", "abc") {
		t.Error("tokenEqual")
	}
}

// FuzzConsoleSearch: whatever the search form holds, the answer is a page
// and never a server error.
func FuzzConsoleSearch(f *testing.F) {
	e := newConsoleEnv(f)
	e.ingest(f, e.key, [3]string{"F-1", "合同", "f@example.com"})
	b := e.browser("192.0.2.1:1")
	tok := b.signIn(f, e.key)
	f.Add("F-1", "", "", "", "", "")
	f.Add("", "合", "f@example.com", "2026-01-01", "2026-12-31", "")
	f.Add("", "", "", "2026-02-30", "x", "00")
	f.Add(strings.Repeat("9", 70), "\x00", "", "", "", "6e")
	f.Fuzz(func(t *testing.T, number, name, account, from, to, cursor string) {
		w := b.do(t, "POST", "/console/search", url.Values{"csrf": {tok}, "number": {number}, "name": {name},
			"account": {account}, "from": {from}, "to": {to}, "cursor": {cursor}})
		if w.Code >= 500 || !strings.Contains(w.Body.String(), "</html>") {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
	})
}

// TestConsoleCountsInEnglish: the timeline's summary says "1 contract
// event", "1 record", "0 reports" (it said "1 identity checks").
func TestConsoleCountsInEnglish(t *testing.T) {
	e := newConsoleEnv(t)
	p, err := e.svc.Authenticate(e.key)
	if err != nil {
		t.Fatal(err)
	}
	body := `{"events":[{"id":"one-sent","kind":"contract.sent","time":"2026-02-01T10:00:00+08:00",` +
		`"contract":{"id":"ONE-1","name":"采购合同"},"actor":{"account":"13800138000","name":"张三"},"data":{"signers":1}},` +
		`{"id":"one-id","kind":"identity.checked","time":"2026-02-01T10:01:00+08:00",` +
		`"actor":{"account":"13800138000","name":"张三","phone":"13800138000"},"data":{"method":"phone3","source":"运营商","result":"passed"}}]}`
	if _, err := e.svc.Ingest(context.Background(), p, []byte(body)); err != nil {
		t.Fatal(err)
	}
	waitCovered(t, e.log)
	b := e.browser("192.0.2.1:1")
	b.signIn(t, e.key)
	w := b.do(t, "GET", "/console/contracts/ONE-1?lang=en", nil)
	if w.Code != 200 {
		t.Fatalf("timeline: %d %s", w.Code, w.Body)
	}
	page := w.Body.String()
	want := "1 contract event; also listed: 1 record of its parties (identity checks, registrations, erasures) and 0 reports issued."
	if !strings.Contains(page, want) {
		t.Errorf("timeline summary is not %q:\n%s", want, page)
	}
}
