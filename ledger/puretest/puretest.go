// Package puretest checks that a pure package stays pure: that nothing it
// imports, directly or not, does I/O. The pure packages' tests call Check
// (ledger/tlogfmt, evidence/event); it runs the go tool, so only tests
// import it.
package puretest

import (
	"os/exec"
	"strings"
	"testing"
)

// forbiddenAnywhere may appear nowhere in a pure package's import closure:
// network servers and clients, processes, storage engines, databases, the
// web framework, metrics registries and logging.
var forbiddenAnywhere = []string{
	"net/http", "os/exec", "os/signal", "database/sql", "log", "log/slog",
	"github.com/cockroachdb/pebble", "github.com/jackc/pgx", "github.com/gin-gonic/gin",
	"github.com/aws/", "github.com/prometheus/",
}

// forbiddenImports may not be imported by any package of the closure
// outside the standard library: files, the network, the environment. The
// standard library itself reaches os through fmt (Printf's stdout) and net
// through crypto/x509 (its IP address types) without doing I/O for us, so
// the rule is about the packages we and our dependencies write.
var forbiddenImports = []string{"os", "net", "io/fs", "syscall", "io/ioutil", "path/filepath"}

// allowed lists the exceptions, each with the reason it is harmless.
var allowed = map[string]string{
	// CPU feature detection at init: reads GODEBUG and /proc/cpuinfo, as
	// golang.org/x/sys/cpu does.
	"github.com/emmansun/gmsm/internal/deps/cpu": "os",
	// Chooses the SM4 assembly path from DISABLE_SM4NI / FORCE_SM4BLOCK_AESNI.
	"github.com/emmansun/gmsm/internal/sm4": "os",
}

// Check lists, with go list -deps, every package pkg imports, directly
// or not, and fails t on any that does I/O.
func Check(t testing.TB, pkg string) {
	t.Helper()
	// The tests run under the go command, which puts its own go first on
	// PATH.
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to list imports: %v", err)
	}
	out, err := exec.Command(goTool, "list", "-deps", "-f", "{{.ImportPath}}\t{{.Standard}}\t{{join .Imports \" \"}}", pkg).CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps %s: %v\n%s", pkg, err, out)
	}
	n := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Split(line, "\t")
		if len(f) != 3 {
			t.Fatalf("go list line %q", line)
		}
		path, std, imports := f[0], f[1] == "true", strings.Fields(f[2])
		n++
		for _, bad := range forbiddenAnywhere {
			if path == bad || strings.HasPrefix(path, strings.TrimSuffix(bad, "/")+"/") || (strings.HasSuffix(bad, "/") && strings.HasPrefix(path, bad)) {
				t.Errorf("%s imports %s (transitively)", pkg, path)
			}
		}
		if std {
			continue
		}
		for _, imp := range imports {
			for _, bad := range forbiddenImports {
				if imp == bad && allowed[path] != bad {
					t.Errorf("%s imports %s, which imports %s", pkg, path, imp)
				}
			}
		}
	}
	if n < 10 {
		t.Errorf("go list -deps %s listed only %d packages", pkg, n)
	}
}
