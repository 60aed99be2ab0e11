package verifyview

import (
	"context"
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/cunzheng/cunzheng/verify"
)

// TestLocalCheckErrors: what the page shows when the local check cannot
// give a report: a trust bundle that does not check, a file that is not a
// PDF or is too large, a zip that is not a bundle. Each is a message in
// Chinese and English, never a report.
func TestLocalCheckErrors(t *testing.T) {
	skey, vkey, err := note.GenerateKey(rand.Reader, "cunzheng.test/log")
	if err != nil {
		t.Fatal(err)
	}
	signer, _ := note.NewSigner(skey)
	_, otherKey, _ := note.GenerateKey(rand.Reader, "cunzheng.test/log")
	roots, err := verify.RootCertificates(filepath.Join("..", "..", "testdata", "pdf", "roots"))
	if err != nil {
		t.Fatal(err)
	}
	tb, err := verify.SignTrustBundle(verify.TrustBundle{Origin: "cunzheng.test/log", LogKeys: []string{vkey}, Roots: roots}, signer)
	if err != nil {
		t.Fatal(err)
	}
	pdf, err := os.ReadFile(filepath.Join("..", "..", "testdata", "pdf", "base.pdf"))
	if err != nil {
		t.Fatal(err)
	}
	req := LocalRequest{TrustBundle: string(tb), LogKey: vkey, Name: "x.pdf", Lang: LangZH}
	for _, tc := range []struct {
		name   string
		data   []byte
		req    func(LocalRequest) LocalRequest
		bundle bool
		want   string
	}{
		{"another key", pdf, func(r LocalRequest) LocalRequest { r.LogKey = otherKey; return r }, false, "信任根清单未通过签名校验"},
		{"edited bundle", pdf, func(r LocalRequest) LocalRequest {
			r.TrustBundle = strings.Replace(r.TrustBundle, "origin cunzheng.test/log", "origin evil/log", 1)
			return r
		}, false, "信任根清单未通过签名校验"},
		{"not a PDF", []byte("junk"), nil, false, "不是可读的PDF文件"},
		{"too large", pdf, func(r LocalRequest) LocalRequest { r.MaxSize = 10; return r }, false, "文件太大"},
		{"bundle, another key", []byte("PK\x03\x04"), func(r LocalRequest) LocalRequest { r.LogKey = otherKey; return r }, true, "信任根清单未通过签名校验"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := req
			if tc.req != nil {
				r = tc.req(r)
			}
			var res LocalResult
			if tc.bundle {
				res = CheckBundle(tc.data, r)
			} else {
				res = CheckPDF(context.Background(), tc.data, r, nil)
			}
			if res.Error == nil || !strings.Contains(res.Error.ZH, tc.want) || res.Error.EN == "" || res.Report != nil || res.HTML != "" {
				t.Errorf("got %+v, want the error %q", res, tc.want)
			}
		})
	}
	// A zip that is no bundle gets a failed bundle page, not an error.
	res := CheckBundle([]byte("PK\x03\x04 not really a zip"), req)
	if res.Error != nil || res.Bundle != nil || !strings.Contains(res.HTML, "离线校验包验证失败") {
		t.Errorf("a broken zip: %+v", res)
	}
	// And the base PDF checks out into a report and its page.
	res = CheckPDF(context.Background(), pdf, req, nil)
	if res.Error != nil || res.Report == nil || !strings.Contains(res.HTML, `id="verify-headline"`) {
		t.Errorf("base.pdf: %+v", res.Error)
	}
}
