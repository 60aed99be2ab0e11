package cli

import (
	"os/exec"
	"strings"
	"testing"
)

// TestNoServerLibraries lists what this package and cmd/cunzheng-verify
// link (go list -deps) and fails on any module outside those verification
// needs, and in particular on the server's libraries, whose initialisers
// would run in every `verify` process: the point of the separate verifier.
// A new dependency of package verify must be added here on purpose, after
// measuring what its initialisers cost a `verify pdf` process.
func TestNoServerLibraries(t *testing.T) {
	allowed := map[string]bool{
		"github.com/cunzheng/cunzheng":        true,
		"filippo.io/mldsa":                    true,
		"github.com/cloudflare/circl":         true,
		"github.com/digitorus/pkcs7":          true,
		"github.com/digitorus/timestamp":      true,
		"github.com/emmansun/gmsm":            true,
		"github.com/transparency-dev/formats": true,
		"github.com/transparency-dev/merkle":  true,
		"golang.org/x/crypto":                 true,
		"golang.org/x/mod":                    true,
		"golang.org/x/sys":                    true,
	}
	// Packages of allowed modules and of the standard library that must
	// not be linked either.
	denied := []string{
		"github.com/cunzheng/cunzheng/web",
		"github.com/cunzheng/cunzheng/ledger/", // tlogfmt alone is allowed
		"github.com/cunzheng/cunzheng/evidence",
		"github.com/cunzheng/cunzheng/report",
		"github.com/cunzheng/cunzheng/notary",
		"github.com/cunzheng/cunzheng/verify/verifymetrics",
		"encoding/gob",
	}
	for _, pkg := range []string{".", "../../cmd/cunzheng-verify"} {
		out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}} {{if not .Standard}}{{with .Module}}{{.Path}}{{end}}{{end}}", pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps %s: %v\n%s", pkg, err, out)
		}
		n := 0
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			path, module, _ := strings.Cut(line, " ")
			n++
			if module != "" && !allowed[module] {
				t.Errorf("%s links %s (module %s)", pkg, path, module)
			}
			for _, d := range denied {
				if (path == d || strings.HasPrefix(path, d+"/") || strings.HasSuffix(d, "/") && strings.HasPrefix(path, d)) && path != "github.com/cunzheng/cunzheng/ledger/tlogfmt" {
					t.Errorf("%s links %s", pkg, path)
				}
			}
		}
		if n < 20 {
			t.Fatalf("go list -deps %s listed only %d packages:\n%s", pkg, n, out)
		}
	}
}
