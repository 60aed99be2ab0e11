package web

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

// TestVerifyPagesInEnglish: the verification pages follow the language
// switch like every other page.
func TestVerifyPagesInEnglish(t *testing.T) {
	h := verifyServer(t, VerifyConfig{})
	han := regexp.MustCompile(`\p{Han}`)
	body, ctype := multipartBody(t, corpusFile(t, "update-annotation.pdf"))
	for _, tc := range []struct {
		name string
		req  *http.Request
		want string
	}{
		{"upload page", httptest.NewRequest(http.MethodGet, "/verify?lang=en", nil), "PDF signature verification"},
		{"result page", func() *http.Request {
			r := httptest.NewRequest(http.MethodPost, "/verify", body)
			r.Header.Set("Content-Type", ctype)
			r.Header.Set("Cookie", "lang=en")
			return r
		}(), "Verification passed"},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, tc.req)
		page := rec.Body.String()
		if rec.Code != 200 || !strings.Contains(page, `<html lang="en">`) || !strings.Contains(page, tc.want) {
			t.Fatalf("%s: %d\n%s", tc.name, rec.Code, page)
		}
		// Headings and labels are English; only the language switch (and
		// names from the document) may be Chinese.
		for _, m := range regexp.MustCompile(`<(h1|h2|h3|dt)>[^<]*`).FindAllString(page, -1) {
			if han.MatchString(m) && !strings.Contains(m, "张三") {
				t.Errorf("%s: Chinese in %q", tc.name, m)
			}
		}
	}
}

func TestSwitchPath(t *testing.T) {
	for _, tc := range []struct{ method, path, want string }{
		{"GET", "/log", "/log"},
		{"POST", "/verify", "/verify"},
		{"POST", "/console/login", "/console"},
		{"POST", "/console/search", "/console"},
		{"POST", "/console/contracts/A-1/download", "/console/contracts/A-1"},
		{"GET", "/console/contracts/A-1", "/console/contracts/A-1"},
	} {
		if got := switchPath(tc.method, tc.path); got != tc.want {
			t.Errorf("switchPath(%s %s) = %s, want %s", tc.method, tc.path, got, tc.want)
		}
	}
}
