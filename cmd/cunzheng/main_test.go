package main

import (
	"fmt"
	"os"
	"testing"

	"github.com/cunzheng/cunzheng/cmd/cunzheng/startup"
)

// TestMain gives the package's tests a temporary directory of their own and
// removes it at the end: the binary built once for the end-to-end tests
// (cunzhengBinary, ~75 MB) used to stay behind in /tmp after every run.
// The directory is traversable (0755) because the PostgreSQL test servers
// run as their own user under it.
func TestMain(m *testing.M) {
	// The tests run in-process servers: give them the runtime's default
	// Ps, as main does for every command but verify.
	startup.Restore()
	dir, err := os.MkdirTemp("", "cunzheng-cmd-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Setenv("TMPDIR", dir)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
