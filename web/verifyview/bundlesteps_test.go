package verifyview

import (
	"regexp"
	"strings"
	"testing"

	"github.com/cunzheng/cunzheng/verify"
)

// TestBundleResultChineseFirst: on the Chinese page every check of a
// bundle starts with its Chinese name, verify's English beside it; the
// English page is English only.
func TestBundleResultChineseFirst(t *testing.T) {
	ok := BundleData{Name: "b.zip", SHA256: "00", Result: &verify.BundleResult{Pinned: true, Steps: []verify.BundleStep{
		{Name: "zip", Detail: "28 files"},
		{Name: "leaf 6 (contract.signed)", Detail: "leaf hash 90da… included in checkpoint 8 (3 hashes)"},
	}}}
	bad := BundleResult("b.zip", []byte("PK\x03\x04 not a zip"), verify.BundleOptions{})
	han := regexp.MustCompile(`\p{Han}`)
	for _, tt := range []struct {
		d          BundleData
		zh, nevers []string
	}{
		{ok, []string{"<li>压缩包 <code>zip</code>", "<li>叶子 6（签署合同） <code>leaf 6 (contract.signed)</code>"}, nil},
		{bad, []string{"校验在“压缩包”一步失败", "该文件不是格式正确的证据包。"}, []string{"在“zip”一步"}},
	} {
		zh, err := BundleContent(LangZH, tt.d)
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range tt.zh {
			if !strings.Contains(string(zh), w) {
				t.Errorf("Chinese page lacks %q:\n%s", w, zh)
			}
		}
		for _, w := range tt.nevers {
			if strings.Contains(string(zh), w) {
				t.Errorf("Chinese page says %q", w)
			}
		}
		en, err := BundleContent(LangEN, tt.d)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range regexp.MustCompile(`<(h1|li|p)[^>]*>[^<]*`).FindAllString(string(en), -1) {
			if han.MatchString(m) {
				t.Errorf("English page: Chinese in %q", m)
			}
		}
	}
}
