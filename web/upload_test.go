package web

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/cunzheng/cunzheng/verify"
)

// waitFor polls cond: a way to learn that concurrent requests reached a
// state, never a timed assertion (the deadline only ends a hung test).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
	}
}

type pending struct {
	w    *io.PipeWriter
	resp chan *http.Response
}

// start sends a POST whose body the test writes later through the pipe.
func start(t *testing.T, url, ctype string, length int64) pending {
	t.Helper()
	pr, pw := io.Pipe()
	req, _ := http.NewRequest(http.MethodPost, url, pr)
	req.Header.Set("Content-Type", ctype)
	req.ContentLength = length
	p := pending{w: pw, resp: make(chan *http.Response, 1)}
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Errorf("POST: %v", err)
			p.resp <- nil
			return
		}
		p.resp <- resp
	}()
	return p
}

// TestUploadBudget holds uploads open beyond the budget: the uploads
// that do not fit are answered 503 with Retry-After before their body is
// read, the bytes held never exceed the budget, the ones that fit are
// verified, and afterwards nothing is held and no spool file is left.
// Before the budget, every upload was read into memory as it came.
func TestUploadBudget(t *testing.T) {
	pdf := corpusFile(t, "big-rsa-tsa.pdf").data // over spoolThreshold: spooled
	size := int64(len(pdf))
	spool := t.TempDir()
	budget := newUploadBudget(3*size + size/2)
	srv := httptest.NewServer(verifyServer(t, VerifyConfig{MaxUpload: 2 << 20, RatePerMinute: 1000, SpoolDir: spool, budget: budget}))
	t.Cleanup(srv.Close)

	// Three uploads announcing their size take 3×size up front.
	var open []pending
	for range 3 {
		open = append(open, start(t, srv.URL+"/v1/verify", "application/pdf", size))
	}
	waitFor(t, "three uploads hold their share", func() bool { return budget.Held() == 3*size })

	// A fourth of the same size does not fit: 503 before any byte is read,
	// as JSON, on the raw and multipart APIs and the HTML form.
	for _, tc := range []struct{ path, ctype string }{
		{"/v1/verify", "application/pdf"},
		{"/v1/verify", "multipart/form-data; boundary=x"},
		{"/v1/verify/batch", "multipart/form-data; boundary=x"},
		{"/verify", "multipart/form-data; boundary=x"},
	} {
		p := start(t, srv.URL+tc.path, tc.ctype, size)
		resp := <-p.resp
		p.w.Close()
		if resp == nil {
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
			t.Errorf("POST %s (%s) over the budget: %d, Retry-After %q: %.200s", tc.path, tc.ctype, resp.StatusCode, resp.Header.Get("Retry-After"), body)
		}
	}

	// An upload without Content-Length takes budget as its bytes come and
	// is refused when they no longer fit.
	chunked := start(t, srv.URL+"/v1/verify", "application/pdf", -1)
	go func() {
		chunked.w.Write(pdf) // stops when the server stops reading
		chunked.w.Close()
	}()
	if resp := <-chunked.resp; resp != nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
			t.Errorf("chunked upload over the budget: %d", resp.StatusCode)
		}
	}
	chunked.w.CloseWithError(io.ErrClosedPipe)

	// The three that fit are verified.
	for _, p := range open {
		go func() {
			p.w.Write(pdf)
			p.w.Close()
		}()
	}
	for _, p := range open {
		resp := <-p.resp
		if resp == nil {
			continue
		}
		var rep verify.Report
		err := json.NewDecoder(resp.Body).Decode(&rep)
		resp.Body.Close()
		if resp.StatusCode != 200 || err != nil || rep.Verdict.Indication == "" {
			t.Errorf("upload within the budget: %d %v", resp.StatusCode, err)
		}
	}
	if peak := budget.Peak(); peak > budget.limit {
		t.Errorf("uploads held %d bytes at once, over the budget of %d", peak, budget.limit)
	}
	waitFor(t, "every upload gave its share back", func() bool { return budget.Held() == 0 })
	if ents, _ := os.ReadDir(spool); len(ents) != 0 {
		t.Errorf("spool dir keeps %d files", len(ents))
	}
}

// TestUploadBatchHoldsOneFile sends a batch of several large files: they
// are held one at a time, so the batch never holds more than one file's
// worth, however many it carries.
func TestUploadBatchHoldsOneFile(t *testing.T) {
	f := corpusFile(t, "big-rsa-tsa.pdf")
	budget := newUploadBudget(DefaultUploadBudget)
	h := verifyServer(t, VerifyConfig{MaxUpload: 2 << 20, RatePerMinute: 1000, SpoolDir: t.TempDir(), budget: budget})
	rec := post(t, h, "/v1/verify/batch", f, f, f, f, f)
	if rec.Code != 200 || strings.Count(rec.Body.String(), `"status":200`) != 5 {
		t.Fatalf("batch: %d %.300s", rec.Code, rec.Body)
	}
	if max := int64(2<<20 + multipartSlack); budget.Peak() > max {
		t.Errorf("a batch of 5 files held %d bytes at once, want at most one file's %d", budget.Peak(), max)
	}
	if budget.Held() != 0 {
		t.Errorf("%d bytes still held", budget.Held())
	}
}

// TestSlotsGiveMemoryBack checks that after a burst the idle slots drop the
// buffers spooled files were read into.
func TestSlotsGiveMemoryBack(t *testing.T) {
	s := newVerifySlots(2, 10*time.Millisecond)
	f, err := os.CreateTemp(t.TempDir(), "spooled")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	data := bytes.Repeat([]byte("x"), 3<<20)
	f.Write(data)
	v, err := s.acquire(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	got, err := v.load(f, int64(len(data)))
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("load: %v", err)
	}
	s.release(v)
	waitFor(t, "the idle slots trimmed", func() bool { return s.trims.Load() > 0 })
	for range 2 {
		v, _ := s.acquire(t.Context())
		defer s.release(v)
		if v.buf != nil {
			t.Errorf("an idle slot keeps a %d-byte buffer", cap(v.buf))
		}
	}
}

// TestUploadSpoolFailure: when a large file cannot be spooled (a full or
// missing disk), the answer is 503 without the server's paths.
func TestUploadSpoolFailure(t *testing.T) {
	dir := t.TempDir() + "/missing/spool"
	budget := newUploadBudget(DefaultUploadBudget)
	h := verifyServer(t, VerifyConfig{MaxUpload: 2 << 20, SpoolDir: dir, budget: budget})
	rec := post(t, h, "/v1/verify", corpusFile(t, "big-rsa-tsa.pdf"))
	if rec.Code != http.StatusServiceUnavailable || strings.Contains(rec.Body.String(), "missing") {
		t.Errorf("spool failure: %d %s", rec.Code, rec.Body)
	}
	if budget.Held() != 0 {
		t.Errorf("%d bytes still held", budget.Held())
	}
	// A small file needs no spool.
	if rec := post(t, h, "/v1/verify", corpusFile(t, "sm2-tsa.pdf")); rec.Code != 200 {
		t.Errorf("small file: %d %s", rec.Code, rec.Body)
	}
}

// TestUploadExactShare: an upload that announced its length is never
// refused halfway for want of a few more bytes than it announced.
func TestUploadExactShare(t *testing.T) {
	pdf := corpusFile(t, "big-rsa-tsa.pdf").data
	budget := newUploadBudget(int64(len(pdf)))
	h := verifyServer(t, VerifyConfig{MaxUpload: 2 << 20, SpoolDir: t.TempDir(), budget: budget})
	req := httptest.NewRequest(http.MethodPost, "/v1/verify", bytes.NewReader(pdf))
	req.Header.Set("Content-Type", "application/pdf")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 200 {
		t.Errorf("a %d-byte upload in a budget of as much: %d %s", len(pdf), rec.Code, rec.Body)
	}
}
