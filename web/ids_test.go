package web

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/cunzheng/cunzheng/report"
	"github.com/cunzheng/cunzheng/report/reporttest"
)

// Ids the schema accepts and that URLs must carry as one path segment:
// contract numbers are printable ASCII without spaces, accounts anything.
var (
	oddContractIDs = []string{"HT/2026/001", "50%off", "a%2Fb", "x+y", "../up", "q?a=1#f"}
	oddAccounts    = []string{"dept/acct-1", "100% 张三", "叶 建华/研发部", "+8613800000000", "a%2Fb", "/lead", "q?x#y", "tab\there", ".."}
)

// TestOddIDsReachable ingests contracts and data subjects whose ids hold
// "/", "%", "+", spaces and Chinese, then reads each contract and erases
// each subject over real HTTP, with the id escaped as one path segment.
// Before the server routed on the escaped path, "HT%2F2026%2F001" was
// three segments and a 404, so such a person could never be erased.
func TestOddIDsReachable(t *testing.T) {
	e := newEventsEnv(t)
	var evs []string
	for i, id := range oddContractIDs {
		evs = append(evs, fmt.Sprintf(`{"id":"c-%d","kind":"contract.sent","time":"2026-02-01T10:00:00+08:00",`+
			`"contract":{"id":%q,"name":"劳动合同"},"actor":{"account":"owner","name":"张三"},"data":{"signers":2}}`, i, id))
	}
	for i, acct := range oddAccounts {
		evs = append(evs, fmt.Sprintf(`{"id":"s-%d","kind":"contract.sent","time":"2026-02-01T10:00:00+08:00",`+
			`"contract":{"id":"HT-%d","name":"劳动合同"},"actor":{"account":%q,"name":"叶建华"},"data":{"signers":2}}`, i, i, acct))
	}
	if status, body := e.do(t, "POST", "/v1/events", e.key, jsonType, []byte(`{"events":[`+strings.Join(evs, ",")+`]}`)); status != 200 {
		t.Fatalf("ingest: %d %s", status, body)
	}
	for _, id := range oddContractIDs {
		t.Run("contract "+id, func(t *testing.T) {
			status, body := e.do(t, "GET", "/v1/contracts/"+url.PathEscape(id), e.key, "", nil)
			if status != 200 || !strings.Contains(string(body), fmt.Sprintf(`"id":%q`, id)) {
				t.Errorf("GET contract %q: %d %.300s", id, status, body)
			}
		})
	}
	for _, acct := range oddAccounts {
		t.Run("erase "+acct, func(t *testing.T) {
			status, body := e.do(t, "DELETE", "/v1/subjects/"+url.PathEscape(acct), e.key, "", nil)
			if status != 200 || !strings.Contains(string(body), `"erased":true`) {
				t.Errorf("DELETE subject %q: %d %.300s", acct, status, body)
			}
		})
	}
	// A "+" stays a "+": the phone-number account and an account " 8613800000000"
	// are different people.
	if status, _ := e.do(t, "DELETE", "/v1/subjects/%208613800000000", e.key, "", nil); status != http.StatusNotFound {
		t.Errorf("erasing an account nobody has: %d, want 404", status)
	}
}

// TestOddIDsInConsole follows the console's own links for a contract
// whose number holds "/" and "%": search result, timeline, download form.
func TestOddIDsInConsole(t *testing.T) {
	e := newConsoleEnv(t)
	for i, id := range oddContractIDs {
		e.ingest(t, e.key, [3]string{id, fmt.Sprintf("合同 %d", i), "acct"})
	}
	waitCovered(t, e.log)
	b := e.browser("192.0.2.7:1")
	tok := b.signIn(t, e.key)
	for _, id := range oddContractIDs {
		t.Run(id, func(t *testing.T) {
			w := b.do(t, "POST", "/console/search", url.Values{"csrf": {tok}, "number": {id}})
			m := regexp.MustCompile(`<a href="(/console/contracts/[^"]+)">`).FindStringSubmatch(w.Body.String())
			if w.Code != 200 || m == nil {
				t.Fatalf("search %q: %d, no link in %.500s", id, w.Code, w.Body)
			}
			link := strings.ReplaceAll(m[1], "&#43;", "+")
			if want := "/console/contracts/" + url.PathEscape(id); link != want {
				t.Errorf("link %s, want %s", link, want)
			}
			w = b.do(t, "GET", link, nil)
			if w.Code != 200 || !strings.Contains(w.Body.String(), `data-proof="ok"`) {
				t.Fatalf("timeline at %s: %d %.500s", link, w.Code, w.Body)
			}
			// The language switch leads back to this page, not to a prefix of it.
			if !strings.Contains(strings.ReplaceAll(w.Body.String(), "&#43;", "+"), `href="`+link+`?lang=en"`) {
				t.Errorf("language switch of %s does not lead back to it", link)
			}
		})
	}
}

// TestOddIDsInReports downloads the documents of a contract whose number
// holds "/".
func TestOddIDsInReports(t *testing.T) {
	f, err := reporttest.Build(reporttest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	f.Contract.ID = "HT/2026/001"
	svc, err := report.New(report.Config{KeyDir: t.TempDir(), Source: reportSource{f.Contract}, Custody: &reportCustody{}})
	if err != nil {
		t.Fatal(err)
	}
	s := New(Config{Mounts: []Mount{MountReports(svc, fakeAuth, nil)}})
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	for _, doc := range []string{"certificate.pdf", "evidence-report.pdf", "evidence-bundle.zip"} {
		req, _ := http.NewRequest("GET", srv.URL+"/v1/contracts/"+url.PathEscape(f.Contract.ID)+"/"+doc, nil)
		req.Header.Set("X-Test-Key", "t_a")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("%s of %s: %d", doc, f.Contract.ID, resp.StatusCode)
		}
	}
}
