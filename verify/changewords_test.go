package verify

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

func TestChangeObjectZH(t *testing.T) {
	for _, tt := range []struct{ en, zh string }{
		{"object 4", "对象 4"},
		{"object 4 (a stream)", "对象 4（数据流）"},
		{"object 4 (a /XObject stream)", "对象 4（/XObject 数据流）"},
		{"object 12 (/Page)", "对象 12（/Page）"},
		{"object 9 deleted", "对象 9 被删除"},
		{"object 3: page: /Contents changed", "对象 3：页面的 /Contents 被修改"},
		{"object 3: rewritten in place but also used by object 5 /Annots in the signed revision", "对象 3：被原地改写，但已签名版本中的 对象 5 /Annots 也引用它"},
		{`form field "Name" changed type`, `表单域 "Name" 的类型被改变`},
		{`signature field "Sig1": /V changed`, `签名域 "Sig1" 的 /V 被修改`},
		{"120 bytes after the last end-of-file marker", "最后一个文件结束标记之后还有 120 字节"},
		{"/Perms was removed", "/Perms 被删除"},
		{"something verify never said", "详见英文说明"},
		{"object 4 (something new)", "对象 4（详见英文说明）"},
	} {
		if got := ChangeObjectZH(tt.en); got != tt.zh {
			t.Errorf("ChangeObjectZH(%q) = %q, want %q", tt.en, got, tt.zh)
		}
	}
}

// TestChangeObjectZHCoversVerify reads every description verify's change
// analysis can give (the format strings in its source) and checks that
// each reads in Chinese: no English word left, nothing sent to the
// English for want of a translation.
func TestChangeObjectZHCoversVerify(t *testing.T) {
	var src string
	for _, f := range []string{"diff.go", "changes.go"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		src += string(b)
	}
	str := `"((?:[^"\\]|\\.)*)"`
	var formats []string
	for _, re := range []string{
		`d\.finding\([^,]+, ` + str,
		`d\.reasons\[[^\]]+\] = fmt\.Sprintf\(` + str,
		`Object: ` + str,
		`Object: fmt\.Sprintf\(` + str,
		`Object: obj \+ ` + str,
		`return fmt\.Sprintf\(" \(` + `((?:[^"\\]|\\.)*)"`,
	} {
		for _, m := range regexp.MustCompile(re).FindAllStringSubmatch(src, -1) {
			formats = append(formats, strings.ReplaceAll(m[1], `\"`, `"`))
		}
	}
	if len(formats) < 40 {
		t.Fatalf("found %d formats in verify's source; the patterns above no longer match it", len(formats))
	}
	english := regexp.MustCompile(`[a-z]{3,}`)
	for _, f := range formats {
		var s string
		switch {
		case strings.HasPrefix(f, "%s: "): // obj + ": " + why
			s = "object 7: " + f[4:]
		case strings.HasSuffix(f, " stream)") || strings.HasPrefix(f, "/%s)"): // describe
			s = "object 7 (" + f
		case f == ": ": // obj + ": " + why, each why checked on its own
			continue
		case strings.HasPrefix(f, " "): // obj + " deleted"
			s = "object 7" + f
		default:
			s = f
		}
		s = strings.NewReplacer("%s: rewritten", "object 7: rewritten", "used by %s", "used by object 5 /Annots",
			"/%s", "/Annots", "%s", "Sig1", "%q", `"Sig1"`, "%d", "12").Replace(s)
		zh := ChangeObjectZH(s)
		rest := regexp.MustCompile(`/[A-Za-z]+|"[^"]*"`).ReplaceAllString(zh, "")
		if strings.Contains(zh, "详见英文说明") || english.MatchString(rest) {
			t.Errorf("%q (verify's %q) reads %q in Chinese", s, f, zh)
		}
	}
}
