package web

import (
	"context"
	"encoding/hex"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cunzheng/cunzheng/report"
	"github.com/cunzheng/cunzheng/report/reporttest"
	"github.com/cunzheng/cunzheng/verify"
)

// journeyBatch uses the methods the console must name in Chinese: identity
// checks of a person (a failed bank card check, then a passed one) and of
// an enterprise (four-factor, remittance, authorization letter), intent by
// OTP token.
const journeyBatch = `{"events":[
{"id":"j-sent","kind":"contract.sent","time":"2026-02-01T10:00:00+08:00","contract":{"id":"J-1","name":"服务合同"},
 "actor":{"account":"sender@example.com","name":"戴文潘","company":"伟伟集团"},"data":{"signers":2}},
{"id":"j-recv","kind":"contract.received","time":"2026-02-01T10:01:00+08:00","contract":{"id":"J-1"},"actor":{"account":"18501775544","name":"叶建华"}},
{"id":"j-id-1","kind":"identity.checked","time":"2026-02-01T10:02:00+08:00","actor":{"account":"18501775544","name":"叶建华"},
 "data":{"method":"bankcard4","source":"银联","result":"failed"}},
{"id":"j-id-2","kind":"identity.checked","time":"2026-02-01T10:03:00+08:00","actor":{"account":"18501775544","name":"叶建华"},
 "data":{"method":"bankcard4","source":"银联","result":"passed","ca":"CFCA","cert_serial":"0a0b"}},
{"id":"j-recv-e","kind":"contract.received","time":"2026-02-01T10:01:30+08:00","contract":{"id":"J-1"},
 "actor":{"account":"agent@supplier.example","name":"李经办","company":"杭州供应链有限公司"}},
{"id":"j-id-e1","kind":"identity.checked","time":"2026-02-01T10:04:00+08:00","actor":{"account":"agent@supplier.example","name":"李经办","company":"杭州供应链有限公司"},
 "data":{"method":"enterprise4","source":"工商","result":"passed"}},
{"id":"j-id-e2","kind":"identity.checked","time":"2026-02-01T10:05:00+08:00","actor":{"account":"agent@supplier.example","name":"李经办","company":"杭州供应链有限公司"},
 "data":{"method":"remittance","source":"银联","result":"passed"}},
{"id":"j-id-e3","kind":"identity.checked","time":"2026-02-01T10:06:00+08:00","actor":{"account":"agent@supplier.example","name":"李经办","company":"杭州供应链有限公司"},
 "data":{"method":"authorization_letter","source":"工商","result":"passed"}},
{"id":"j-intent","kind":"intent.verified","time":"2026-02-01T10:07:00+08:00","contract":{"id":"J-1"},"actor":{"account":"18501775544","name":"叶建华"},
 "data":{"method":"otp_token","result":"passed"}}
]}`

// TestConsoleTimelineNamesEveryCheck: methods in Chinese with their
// English names, a pass/fail column that tells a failed check from a
// passed one, an actor column, an erasure in the timeline, and the event
// count the API gives.
func TestConsoleTimelineNamesEveryCheck(t *testing.T) {
	e := newConsoleEnv(t)
	p, err := e.svc.Authenticate(e.key)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Ingest(context.Background(), p, []byte(journeyBatch)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Erase(context.Background(), p, "agent@supplier.example"); err != nil {
		t.Fatal(err)
	}
	waitCovered(t, e.log)
	b := e.browser("192.0.2.7:1")
	b.signIn(t, e.key)
	w := b.do(t, "GET", "/console/contracts/J-1", nil)
	if w.Code != 200 {
		t.Fatalf("timeline: %d %s", w.Code, w.Body)
	}
	page := w.Body.String()
	for _, want := range []string{"银行卡四要素", "企业四要素", "企业对公打款", "授权书认证", "动态令牌", "银联", "CA CFCA",
		`data-result="failed"`, "✗ 未通过", `data-result="passed"`, "✓ 通过", `class="actor">叶*华`, `data-kind="data.erased"`, "已销毁 erased"} {
		if !strings.Contains(page, want) {
			t.Errorf("timeline lacks %q", want)
		}
	}
	for _, raw := range []string{">bankcard4<", ">otp_token<", ">remittance<", "叶建华"} {
		if strings.Contains(page, raw) {
			t.Errorf("timeline shows %q", raw)
		}
	}
	v, err := e.svc.Contract(p, "J-1")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`id="event-count">(\d+)<`).FindStringSubmatch(page)
	if m == nil || m[1] != "4" || v.EventCount != 4 {
		t.Errorf("event count: page %v, API %d; want 4", m, v.EventCount)
	}
}

// TestConsoleTimelineShowsImported: a signature the platform marked
// imported (accepted without a recorded sending) says so in the timeline.
func TestConsoleTimelineShowsImported(t *testing.T) {
	e := newConsoleEnv(t)
	p, err := e.svc.Authenticate(e.key)
	if err != nil {
		t.Fatal(err)
	}
	imported := `{"events":[{"id":"imp-1","kind":"contract.signed","time":"2019-03-01T10:00:00+08:00","contract":{"id":"IMP-1"},
 "actor":{"account":"18501775544","name":"叶建华"},"data":{"document":{"sha256":"` + strings.Repeat("ab", 32) + `"},"cert_serial":"548f6d36e1bf4c578fde8327c38f6fb1","positions":[{"page":1,"x":0.5,"y":0.5}],"imported":true}}]}`
	if _, err := e.svc.Ingest(context.Background(), p, []byte(imported)); err != nil {
		t.Fatal(err)
	}
	waitCovered(t, e.log)
	b := e.browser("192.0.2.8:1")
	b.signIn(t, e.key)
	w := b.do(t, "GET", "/console/contracts/IMP-1", nil)
	if w.Code != 200 {
		t.Fatalf("timeline: %d %s", w.Code, w.Body)
	}
	if !strings.Contains(w.Body.String(), "历史导入") {
		t.Errorf("timeline of an imported signature does not say it is imported")
	}
}

// anyTenantSource serves the report fixture for any tenant.
type anyTenantSource struct{ c *report.Contract }

func (s anyTenantSource) Contract(_ context.Context, _, id string, _ bool) (*report.Contract, error) {
	if id != s.c.ID {
		return nil, report.ErrNotFound
	}
	return s.c, nil
}

// TestConsoleUnmaskedDownloads: the unmasked certificate page and bundle
// are downloadable from the console, behind the same confirmation as the
// unmasked report, and the unmasked bundle verifies with its openings.
func TestConsoleUnmaskedDownloads(t *testing.T) {
	f, err := reporttest.Build(reporttest.Options{Reveal: true})
	if err != nil {
		t.Fatal(err)
	}
	rs, err := report.New(report.Config{KeyDir: t.TempDir(), Source: anyTenantSource{f.Contract}, Custody: &reportCustody{}})
	if err != nil {
		t.Fatal(err)
	}
	e := &consoleEnv{backend: newBackend(t)}
	reg := prometheus.NewRegistry()
	cfg := Config{Log: e.log, Logger: e.logger, Gatherer: reg}
	cfg.Mounts = append(cfg.Mounts, MountConsole(NewConsole(ConsoleConfig{Evidence: e.svc, Log: e.log, Reports: rs, Logger: e.logger, Registerer: reg})))
	e.h = New(cfg)
	e.ingest(t, e.key, [3]string{f.Contract.ID, "劳动合同", "18501775544"})
	waitCovered(t, e.log)
	b := e.browser("192.0.2.8:1")
	tok := b.signIn(t, e.key)
	page := b.do(t, "GET", "/console/contracts/"+f.Contract.ID, nil).Body.String()
	for _, id := range []string{"dl-certificate-revealed", "dl-revealed", "dl-bundle-revealed", "dl-bundle", "dl-certificate"} {
		if !strings.Contains(page, `id="`+id+`"`) {
			t.Errorf("contract page lacks the %s download", id)
		}
	}
	// Every masked download says it is masked, as the unmasked ones say
	// they are not: the certificate page is masked by default too.
	for _, id := range []string{"dl-certificate", "dl-report", "dl-bundle"} {
		if !regexp.MustCompile(`id="` + id + `">[^<]*个人信息脱敏`).MatchString(page) {
			t.Errorf("the %s download does not say it is masked", id)
		}
	}
	dl := func(kind string, reveal bool, confirm bool) *http.Response {
		form := url.Values{"csrf": {tok}, "kind": {kind}}
		if reveal {
			form.Set("reveal", "true")
		}
		if confirm {
			form.Set("confirm", "yes")
		}
		return b.do(t, "POST", "/console/contracts/"+f.Contract.ID+"/download", form).Result()
	}
	if r := dl("certificate", true, false); r.StatusCode != http.StatusBadRequest {
		t.Errorf("unconfirmed unmasked certificate: %d", r.StatusCode)
	}
	r := dl("certificate", true, true)
	if r.StatusCode != 200 || r.Header.Get("Content-Type") != "application/pdf" {
		t.Fatalf("unmasked certificate: %d %s", r.StatusCode, r.Header.Get("Content-Type"))
	}
	r = dl("evidence-bundle", true, true)
	if r.StatusCode != 200 {
		t.Fatalf("unmasked bundle: %d", r.StatusCode)
	}
	var body strings.Builder
	if _, err := readAll(&body, r); err != nil {
		t.Fatal(err)
	}
	res, err := verify.Bundle([]byte(body.String()), verify.BundleOptions{})
	if err != nil {
		t.Fatalf("unmasked bundle from the console: %v", err)
	}
	if len(res.Manifest.Openings) == 0 {
		t.Error("the unmasked bundle carries no openings")
	}
}

func readAll(dst *strings.Builder, r *http.Response) (int64, error) {
	defer r.Body.Close()
	return io.Copy(dst, r.Body)
}

// TestConsoleOriginalDownload: the original the platform stored downloads
// from the contract page; a hash the contract does not record does not.
func TestConsoleOriginalDownload(t *testing.T) {
	e := newConsoleEnv(t)
	p, err := e.svc.Authenticate(e.key)
	if err != nil {
		t.Fatal(err)
	}
	original := []byte("%PDF-1.7\n% signed contract\n%%EOF\n")
	h := sha256Hex(original)
	if _, err := e.svc.PutDocument(p, h, original); err != nil {
		t.Fatal(err)
	}
	other := []byte("%PDF-1.7\n% another contract\n%%EOF\n")
	if _, err := e.svc.PutDocument(p, sha256Hex(other), other); err != nil {
		t.Fatal(err)
	}
	batch := strings.ReplaceAll(`{"events":[{"id":"o-done","kind":"contract.completed","time":"2026-05-01T10:00:00+08:00","contract":{"id":"O-1","name":"供货合同"},"data":{"files":[{"name":"供货合同.pdf","sha256":"HASH"}]}}]}`, "HASH", h)
	if _, err := e.svc.Ingest(context.Background(), p, []byte(batch)); err != nil {
		t.Fatal(err)
	}
	waitCovered(t, e.log)
	b := e.browser("192.0.2.9:1")
	b.signIn(t, e.key)
	page := b.do(t, "GET", "/console/contracts/O-1", nil).Body.String()
	link := "/console/contracts/O-1/documents/" + h
	if !strings.Contains(page, `href="`+link+`"`) || !strings.Contains(page, "供货合同.pdf") {
		t.Fatalf("contract page lacks the original's link:\n%s", page)
	}
	w := b.do(t, "GET", link, nil)
	if w.Code != 200 || w.Body.String() != string(original) || w.Header().Get("Content-Type") != "application/pdf" {
		t.Fatalf("original: %d %q", w.Code, w.Header().Get("Content-Type"))
	}
	if w := b.do(t, "GET", "/console/contracts/O-1/documents/"+sha256Hex(other), nil); w.Code != http.StatusNotFound {
		t.Errorf("another contract's document through O-1: %d", w.Code)
	}
	if w := e.browser("192.0.2.10:1").do(t, "GET", link, nil); w.Code != http.StatusUnauthorized {
		t.Errorf("without a session: %d", w.Code)
	}
}

func sha256Hex(b []byte) string {
	s := sha256Sum(b)
	return hex.EncodeToString(s[:])
}
