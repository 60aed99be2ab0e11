package report_test

import (
	"archive/zip"
	"bytes"
	"io"
	"path"
	"regexp"
	"strings"
	"testing"

	"github.com/cunzheng/cunzheng/report"
)

// TestBundleReadmeNamesItsFiles: every file the README's commands name is
// in the bundle, whether the TSA signs with an intermediate certificate
// or with its root.
func TestBundleReadmeNamesItsFiles(t *testing.T) {
	for _, intermediate := range []bool{true, false} {
		f := demo(t)
		c := *f.Contract // the fixture is shared: change a copy
		if !intermediate {
			c.Keys.TSACert = c.Keys.TSACert[1:] // the root only
		}
		s := newService(t, f, report.Config{})
		z, err := s.Bundle(&c, demoRequest(true))
		if err != nil {
			t.Fatal(err)
		}
		zr, err := zip.NewReader(bytes.NewReader(z), int64(len(z)))
		if err != nil {
			t.Fatal(err)
		}
		files := map[string][]byte{}
		for _, zf := range zr.File {
			r, err := zf.Open()
			if err != nil {
				t.Fatal(err)
			}
			files[zf.Name], _ = io.ReadAll(r)
			r.Close()
		}
		named := regexp.MustCompile(`(?:keys|checkpoints|proofs|leaves)/[^\s'\\<>]+`).FindAllString(string(files["README.txt"]), -1)
		if len(named) == 0 {
			t.Fatalf("README names no file:\n%s", files["README.txt"])
		}
		for _, n := range named {
			n = strings.TrimRight(n, ";")
			if strings.Contains(n, "*") {
				// A shell glob in a printed loop: it must match a file.
				if !globMatchesAny(t, n, files) {
					t.Errorf("intermediate %v: README's %s matches no file of the bundle", intermediate, n)
				}
				continue
			}
			if _, ok := files[n]; !ok {
				t.Errorf("intermediate %v: README names %s, which the bundle lacks", intermediate, n)
			}
		}
	}
}

func globMatchesAny(t *testing.T, pattern string, files map[string][]byte) bool {
	t.Helper()
	for name := range files {
		ok, err := path.Match(pattern, name)
		if err != nil {
			t.Fatalf("README glob %s: %v", pattern, err)
		}
		if ok {
			return true
		}
	}
	return false
}

// TestBundleReadmeChineseFirst: the README a legal team opens first reads
// in Chinese, English beside it: every paragraph of English prose follows
// the same paragraph in Chinese (commands, indented, are the same in both).
func TestBundleReadmeChineseFirst(t *testing.T) {
	f := demo(t)
	s := newService(t, f, report.Config{})
	z, err := s.Bundle(f.Contract, demoRequest(true))
	if err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(z), int64(len(z)))
	if err != nil {
		t.Fatal(err)
	}
	var readme string
	for _, zf := range zr.File {
		if zf.Name == "README.txt" {
			r, err := zf.Open()
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(r)
			r.Close()
			readme = string(b)
		}
	}
	hasCJK := func(s string) bool {
		for _, r := range s {
			if r >= 0x4E00 && r <= 0x9FFF {
				return true
			}
		}
		return false
	}
	// Paragraphs of prose: runs of unindented lines.
	var paras []string
	cur := ""
	for _, l := range strings.Split(readme, "\n") {
		if l == "" || strings.HasPrefix(l, "  ") {
			if cur != "" {
				paras = append(paras, cur)
				cur = ""
			}
			continue
		}
		cur += l + "\n"
	}
	if cur != "" {
		paras = append(paras, cur)
	}
	if len(paras) < 4 {
		t.Fatalf("README has %d paragraphs of prose:\n%s", len(paras), readme)
	}
	if !hasCJK(strings.SplitN(readme, "\n", 2)[0]) {
		t.Errorf("README's first line is not Chinese: %q", strings.SplitN(readme, "\n", 2)[0])
	}
	for i, p := range paras {
		if hasCJK(p) {
			continue
		}
		if i == 0 || !hasCJK(paras[i-1]) {
			t.Errorf("English-only paragraph with no Chinese before it:\n%s", p)
		}
	}
}
