package verifyview

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/cunzheng/cunzheng/verify"
)

func TestBundleStepZH(t *testing.T) {
	for _, tt := range []struct{ en, zh string }{
		{"zip", "压缩包"},
		{"checkpoint 8", "检查点 8"},
		{"checkpoint 8 token 0", "检查点 8 的 RFC 3161 时间戳 0"},
		{"leaf 6 (contract.signed)", "叶子 6（签署合同）"},
		{"tenant of the events", "事件所属租户"},
		{"document contract/5aca.pdf", "合同原件 contract/5aca.pdf"},
		{"pdf certificate.pdf", "PDF 签名 certificate.pdf"},
		{"opening leaf 3 /data/name", "叶子 3 /data/name 的承诺打开值"},
		{"consistency 8→14", "一致性证明 8→14"},
		{"something new", "校验步骤 something new"},
	} {
		if got := BundleStepZH(tt.en); got != tt.zh {
			t.Errorf("BundleStepZH(%q) = %q, want %q", tt.en, got, tt.zh)
		}
	}
}

// TestBundleStepZHCoversVerify: every step name verify.Bundle can give
// (read from its source) has a Chinese name of its own.
func TestBundleStepZHCoversVerify(t *testing.T) {
	var src string
	for _, f := range []string{"../../verify/bundle.go", "../../verify/bundletenant.go"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		src += string(b)
	}
	var steps []string
	for _, re := range []string{`b\.pass\("([^"]+)"`, `fail\("([^"]+)"`, `step :?= "([^"]+)"`, `step :?= fmt\.Sprintf\("([^"]+)"`, `const step = "([^"]+)"`} {
		for _, m := range regexp.MustCompile(re).FindAllStringSubmatch(src, -1) {
			steps = append(steps, m[1])
		}
	}
	if len(steps) < 12 {
		t.Fatalf("found %d step names in verify's source; the patterns no longer match it", len(steps))
	}
	for _, s := range steps {
		s = strings.NewReplacer("%s token %d", "checkpoint 8 token 0", "%d→%d", "8→14", "%d", "3", "%s", "contract.signed").Replace(s)
		if zh := BundleStepZH(s); strings.HasPrefix(zh, "校验步骤") {
			t.Errorf("verify's step %q has no Chinese name", s)
		}
	}
}

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
