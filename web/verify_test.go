package web

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cunzheng/cunzheng/verify"
)

const pdfCorpus = "../testdata/pdf"

func verifyServer(t *testing.T, cfg VerifyConfig) http.Handler {
	t.Helper()
	roots, err := verify.LoadRoots(filepath.Join(pdfCorpus, "roots"), false)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Options.Roots = roots
	return New(Config{Mounts: []Mount{MountVerify(cfg)}})
}

type upload struct {
	name string
	data []byte
}

func multipartBody(t *testing.T, files ...upload) (*bytes.Buffer, string) {
	t.Helper()
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	for _, f := range files {
		fw, err := w.CreateFormFile("file", f.name)
		if err != nil {
			t.Fatal(err)
		}
		fw.Write(f.data)
	}
	w.Close()
	return &b, w.FormDataContentType()
}

func corpusFile(t *testing.T, name string) upload {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(pdfCorpus, name))
	if err != nil {
		t.Fatal(err)
	}
	return upload{name, b}
}

func post(t *testing.T, h http.Handler, path string, files ...upload) *httptest.ResponseRecorder {
	t.Helper()
	body, ctype := multipartBody(t, files...)
	req := httptest.NewRequest(http.MethodPost, path, body)
	req.Header.Set("Content-Type", ctype)
	req.RemoteAddr = "192.0.2.1:1234"
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestVerifyAPI(t *testing.T) {
	h := verifyServer(t, VerifyConfig{MaxUpload: 1 << 20})
	tests := []struct {
		name       string
		files      []upload
		wantStatus int
		wantVerd   string
	}{
		{"passed", []upload{corpusFile(t, "sm2-tsa.pdf")}, 200, "TOTAL-PASSED"},
		{"failed", []upload{corpusFile(t, "byte-flip.pdf")}, 200, "TOTAL-FAILED"},
		{"indeterminate", []upload{corpusFile(t, "pdfsig-rsa.pdf")}, 200, "INDETERMINATE"},
		{"garbage", []upload{{"x.pdf", []byte("not a pdf at all")}}, 422, ""},
		{"too large", []upload{{"big.pdf", make([]byte, 1<<20+1)}}, 413, ""},
		{"no file", nil, 400, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := post(t, h, "/v1/verify", tt.files...)
			if rec.Code != tt.wantStatus {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.wantStatus, rec.Body.String())
			}
			if tt.wantVerd == "" {
				var e struct{ Error string }
				if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error == "" {
					t.Fatalf("error body %q is not {\"error\": ...}", rec.Body.String())
				}
				return
			}
			var rep verify.Report
			if err := json.Unmarshal(rec.Body.Bytes(), &rep); err != nil {
				t.Fatal(err)
			}
			if string(rep.Verdict.Indication) != tt.wantVerd {
				t.Fatalf("verdict %s, want %s", rep.Verdict.Indication, tt.wantVerd)
			}
		})
	}
}

func TestVerifyRawBody(t *testing.T) {
	h := verifyServer(t, VerifyConfig{MaxUpload: 1 << 20})
	for _, tt := range []struct {
		body []byte
		want int
	}{
		{corpusFile(t, "ecdsa-sha384-tsa.pdf").data, 200},
		{[]byte("junk"), 422},
		{make([]byte, 1<<20+1), 413},
	} {
		req := httptest.NewRequest(http.MethodPost, "/v1/verify", bytes.NewReader(tt.body))
		req.Header.Set("Content-Type", "application/pdf")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != tt.want {
			t.Errorf("%d-byte body: status %d, want %d: %s", len(tt.body), rec.Code, tt.want, rec.Body.String())
		}
	}
}

func TestVerifyBatch(t *testing.T) {
	h := verifyServer(t, VerifyConfig{RatePerMinute: 100})
	rec := post(t, h, "/v1/verify/batch", corpusFile(t, "rsa-sha256-tsa.pdf"), upload{"junk.pdf", []byte("junk")}, corpusFile(t, "untrusted.pdf"))
	if rec.Code != 200 {
		t.Fatalf("status %d: %s", rec.Code, rec.Body.String())
	}
	var out struct{ Results []batchResult }
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range out.Results {
		v := r.Error
		if r.Report != nil {
			v = string(r.Report.Verdict.Indication)
		}
		got = append(got, fmt.Sprintf("%s %d %s", r.Name, r.Status, strings.SplitN(v, ":", 2)[0]))
	}
	want := []string{"rsa-sha256-tsa.pdf 200 TOTAL-PASSED", "junk.pdf 422 verify", "untrusted.pdf 200 INDETERMINATE"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("batch results:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	var many []upload
	for i := 0; i <= MaxVerifyBatch; i++ {
		many = append(many, upload{fmt.Sprintf("%d.pdf", i), []byte("x")})
	}
	if rec := post(t, h, "/v1/verify/batch", many...); rec.Code != 400 {
		t.Fatalf("%d files: status %d, want 400", len(many), rec.Code)
	}
}

func TestVerifyRateLimit(t *testing.T) {
	now := time.Unix(1e9, 0)
	h := verifyServer(t, VerifyConfig{RatePerMinute: 2, now: func() time.Time { return now }})
	f := corpusFile(t, "base.pdf")
	for i, want := range []int{200, 200, 429} {
		if rec := post(t, h, "/v1/verify", f); rec.Code != want {
			t.Fatalf("request %d: status %d, want %d", i, rec.Code, want)
		}
	}
	now = now.Add(31 * time.Second) // one token back
	if rec := post(t, h, "/v1/verify", f); rec.Code != 200 {
		t.Fatalf("after refill: status %d", rec.Code)
	}
}

func TestVerifyPage(t *testing.T) {
	h := verifyServer(t, VerifyConfig{})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/verify", nil))
	body := rec.Body.String()
	if rec.Code != 200 || !strings.Contains(body, "在线验签") || !strings.Contains(body, `enctype="multipart/form-data"`) {
		t.Fatalf("upload page: %d\n%s", rec.Code, body)
	}
	if strings.Contains(body, "<script") || !strings.Contains(rec.Header().Get("Content-Security-Policy"), "default-src 'none'") {
		t.Fatal("the page must work without scripts and forbid them")
	}
	rec = post(t, h, "/verify", corpusFile(t, "update-annotation.pdf"))
	body = rec.Body.String()
	for _, want := range []string{"PDF文件验签成功", "该PDF文件已签名且所有签名都有效", "该PDF文件包含1个电子签名", "张三", "添加注释", "TOTAL-PASSED"} {
		if !strings.Contains(body, want) {
			t.Errorf("result page lacks %q", want)
		}
	}
	rec = post(t, h, "/verify", corpusFile(t, "report-signed.pdf"))
	if !strings.Contains(rec.Body.String(), "文档被锁定") {
		t.Errorf("a certification signature with DocMDP P=1 is not shown as locking the document")
	}
	rec = post(t, h, "/verify", upload{"x.pdf", []byte("junk")})
	if rec.Code != 422 || !strings.Contains(rec.Body.String(), "not a readable PDF") {
		t.Fatalf("junk on the page: %d %s", rec.Code, rec.Body.String())
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/verify/static/verify.css", nil))
	if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/css") {
		t.Fatalf("css: %d %s", rec.Code, rec.Header().Get("Content-Type"))
	}
}

// mapLookup is an in-memory ledger index.
type mapLookup map[[32]byte]verify.LedgerRecord

func (m mapLookup) LookupDocument(_ context.Context, sum [32]byte) (verify.LedgerRecord, error) {
	r, ok := m[sum]
	if !ok {
		return r, verify.ErrNotRecorded
	}
	return r, nil
}

func TestVerifyLookupRoute(t *testing.T) {
	var sum [32]byte
	sum[0] = 0xab
	h := verifyServer(t, VerifyConfig{Options: verify.Options{Lookup: mapLookup{sum: {ContractNumber: "HT-1", LeafIndex: 7}}}})
	for path, want := range map[string]int{
		"/v1/verify/lookup/ab" + strings.Repeat("00", 31): 200,
		"/v1/verify/lookup/" + strings.Repeat("00", 32):   404,
		"/v1/verify/lookup/xyz":                           400,
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if rec.Code != want {
			t.Errorf("%s: %d, want %d (%s)", path, rec.Code, want, rec.Body.String())
		}
	}
}

// TestVerifyPageEnglishCounts: one signature, one CRL, the result page in
// English says so in the singular; it said "1 electronic signature(s)"
// and "at least one of 1 failed".
func TestVerifyPageEnglishCounts(t *testing.T) {
	h := verifyServer(t, VerifyConfig{})
	for _, tc := range []struct {
		file      string
		want, bad []string
	}{
		{"update-annotation.pdf", []string{"The PDF holds 1 electronic signature."}, []string{"signature(s)", "revision(s)", "CRL(s)", "response(s)"}},
		{"byte-flip.pdf", []string{"The PDF&#39;s signature is not valid: it failed verification."}, []string{"at least one of 1", "signature(s)"}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			body := post(t, h, "/verify?lang=en", corpusFile(t, tc.file)).Body.String()
			for _, w := range tc.want {
				if !strings.Contains(body, w) {
					t.Errorf("result page lacks %q", w)
				}
			}
			for _, b := range tc.bad {
				if strings.Contains(body, b) {
					t.Errorf("result page says %q", b)
				}
			}
		})
	}
}
