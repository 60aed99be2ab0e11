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
