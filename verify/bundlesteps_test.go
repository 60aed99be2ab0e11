package verify_test

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/cunzheng/cunzheng/verify"
)

func kindZH(k string) string { return map[string]string{"contract.signed": "签署合同"}[k] }

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
		if got := verify.BundleStepZH(tt.en, kindZH); got != tt.zh {
			t.Errorf("BundleStepZH(%q) = %q, want %q", tt.en, got, tt.zh)
		}
	}
}

// TestBundleStepZHCoversVerify: every step name verify.Bundle can give
// (read from its source) has a Chinese name of its own.
func TestBundleStepZHCoversVerify(t *testing.T) {
	var src string
	for _, f := range []string{"bundle.go", "bundletenant.go"} {
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
		if zh := verify.BundleStepZH(s, kindZH); strings.HasPrefix(zh, "校验步骤") {
			t.Errorf("verify's step %q has no Chinese name", s)
		}
	}
}
