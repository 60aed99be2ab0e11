package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/cunzheng/cunzheng/cmd/cunzheng/startup"
)

// TestStartupInitsFirst checks, in the built binary's GODEBUG=inittrace
// output, that package startup's init (which puts initialisation on one P)
// runs before those of the heavy libraries: an import added to it that
// delayed its turn would silently undo the gain.
func TestStartupInitsFirst(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin, err := cunzhengBinary()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "verify", "pdf", "../../testdata/pdf/bad-sig-value.pdf")
	// The first of duplicate variables wins: drop any GODEBUG of ours.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GODEBUG=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	// In process: handed over, this binary's libraries never initialise.
	cmd.Env = append(cmd.Env, "GODEBUG=inittrace=1", startup.InProcessEnv+"=1")
	out, _ := cmd.CombinedOutput() // exits non-zero for the verdict
	pos := map[string]int{}
	for i, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) > 1 && f[0] == "init" {
			if _, seen := pos[f[1]]; !seen {
				pos[f[1]] = i
			}
		}
	}
	first, ok := pos["github.com/cunzheng/cunzheng/cmd/cunzheng/startup"]
	if !ok {
		t.Fatalf("no init line of package startup in:\n%s", out)
	}
	for _, heavy := range []string{
		"github.com/prometheus/client_golang/prometheus",
		"github.com/go-playground/validator/v10",
		"github.com/digitorus/pdf",
		"github.com/aws/aws-sdk-go-v2/service/s3/internal/endpoints",
		"github.com/cockroachdb/pebble/v2",
		"encoding/gob",
	} {
		at, ok := pos[heavy]
		if !ok {
			continue // no longer linked: nothing to run before
		}
		if at < first {
			t.Errorf("%s initialises before package startup", heavy)
		}
	}
}
