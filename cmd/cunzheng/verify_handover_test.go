package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/cunzheng/cunzheng/cmd/cunzheng/startup"
	"github.com/cunzheng/cunzheng/report/reporttest"
)

// run is one process's stdout, stderr and exit status.
type run struct {
	stdout, stderr string
	code           int
}

// runBinary runs bin with args and extra environment variables, stdin from
// stdin when not empty.
func runBinary(t *testing.T, bin string, env []string, stdin string, args ...string) run {
	t.Helper()
	cmd := exec.Command(bin, args...)
	// The first of duplicate variables wins: drop ours that the test sets.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, startup.InProcessEnv+"=") && !strings.HasPrefix(kv, "GODEBUG=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("%s %s: timed out", bin, strings.Join(args, " "))
	}
	r := run{stdout: stdout.String(), stderr: stderr.String()}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return r
}

// handOverWorks skips the test where the hand-over cannot happen (it is
// built with cgo for Linux and glibc) and fails where it should but the
// binary does not find its verifier. Under make test
// (CUNZHENG_REQUIRE_HANDOVER, which installs gcc) a missing C compiler fails
// the test instead of skipping it.
func handOverWorks(t *testing.T, bin string) {
	t.Helper()
	skip := t.Skip
	if os.Getenv("CUNZHENG_REQUIRE_HANDOVER") != "" {
		skip = t.Fatal
	}
	if runtime.GOOS != "linux" {
		skip("the hand-over is Linux only")
	}
	out, err := exec.Command("go", "env", "CGO_ENABLED").Output()
	if err != nil || strings.TrimSpace(string(out)) != "1" {
		skip("built without cgo (no C compiler?): no hand-over")
	}
	// The heavy libraries initialise only in process.
	r := runBinary(t, bin, []string{"GODEBUG=inittrace=1"}, "", "verify", "pdf", "../../testdata/pdf/base.pdf")
	if strings.Contains(r.stderr, "init github.com/prometheus/client_golang/prometheus ") || !strings.Contains(r.stderr, "init ") {
		t.Fatalf("cunzheng verify did not hand over to cunzheng-verify:\n%s", r.stderr)
	}
}

var checkedAt = regexp.MustCompile(`("checkedAt": )"[^"]*"`)

// TestVerifyHandOver runs `cunzheng verify` as make build builds it, handed
// over to cunzheng-verify, and in process, on PDFs of every verdict, an
// unreadable file, evidence bundles and command-line errors: the two paths
// must give the same output and exit status.
func TestVerifyHandOver(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binaries")
	}
	bin, err := cunzhengBinary()
	if err != nil {
		t.Fatal(err)
	}
	handOverWorks(t, bin)
	in := runBinary(t, bin, []string{"GODEBUG=inittrace=1", startup.InProcessEnv + "=1"}, "", "verify", "pdf", "../../testdata/pdf/base.pdf")
	if !strings.Contains(in.stderr, "init github.com/prometheus/client_golang/prometheus ") {
		t.Fatalf("%s=1 did not keep verify in process:\n%s", startup.InProcessEnv, in.stderr)
	}

	f, z, err := reporttest.Bundle(reporttest.Options{Reveal: true, SM2: true}, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	bundle := filepath.Join(dir, "bundle.zip")
	if err := os.WriteFile(bundle, z, 0o600); err != nil {
		t.Fatal(err)
	}
	corrupt := filepath.Join(dir, "corrupt.zip")
	if err := os.WriteFile(corrupt, z[:len(z)/2], 0o600); err != nil {
		t.Fatal(err)
	}

	const pdfs = "../../testdata/pdf/"
	roots := pdfs + "roots"
	for _, tc := range []struct {
		name string
		code int
		args []string
	}{
		{"passed", 0, []string{"pdf", pdfs + "sm2-tsa.pdf", "--trust-roots", roots, "--system-roots=false"}},
		{"passed json", 0, []string{"pdf", "--json", "--trust-roots", roots, "--system-roots=false", pdfs + "sm2-tsa.pdf"}},
		{"failed", 3, []string{"pdf", "--trust-roots", roots, pdfs + "byte-flip.pdf"}},
		{"indeterminate", 4, []string{"pdf", pdfs + "rsa-sha256-tsa.pdf"}},
		{"unreadable", 5, []string{"pdf", pdfs + "generate.sh"}},
		{"absent", 1, []string{"pdf", pdfs + "absent.pdf"}},
		{"bundle pinned", 0, []string{"bundle", bundle, "--log-key", f.LogVKey, "--log-key", f.SM2VKey}},
		{"bundle unpinned", 0, []string{"bundle", bundle}},
		{"bundle corrupt", 3, []string{"bundle", corrupt}},
		{"bad flag", 1, []string{"pdf", "--no-such-flag", pdfs + "base.pdf"}},
		{"help", 0, []string{"pdf", "--help"}},
		{"no target", 1, nil},
		{"unknown target", 1, []string{"xml"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"verify"}, tc.args...)
			handed := runBinary(t, bin, nil, "", args...)
			inProcess := runBinary(t, bin, []string{startup.InProcessEnv + "=1"}, "", args...)
			// The one line that differs by when it ran.
			handed.stdout = checkedAt.ReplaceAllString(handed.stdout, "$1")
			inProcess.stdout = checkedAt.ReplaceAllString(inProcess.stdout, "$1")
			if handed != inProcess {
				t.Fatalf("handed over: exit %d\n%s%s\nin process: exit %d\n%s%s", handed.code, handed.stdout, handed.stderr, inProcess.code, inProcess.stdout, inProcess.stderr)
			}
			if handed.code != tc.code {
				t.Fatalf("exit %d, want %d\n%s%s", handed.code, tc.code, handed.stdout, handed.stderr)
			}
			if tc.code != 0 && !strings.HasPrefix(handed.stderr, "cunzheng verify: ") && !strings.Contains(handed.stderr, "\ncunzheng verify: ") {
				t.Errorf("stderr does not name the command:\n%s", handed.stderr)
			}
		})
	}
}

// TestVerifyNotHandedToAnotherBuild puts beside a copy of the binary a
// cunzheng-verify of another build, one that only records that it ran, and
// a file that is not ELF: neither may run, and verify runs in process.
func TestVerifyNotHandedToAnotherBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binaries")
	}
	bin, err := cunzhengBinary()
	if err != nil {
		t.Fatal(err)
	}
	handOverWorks(t, bin)
	dir := t.TempDir()
	marker := filepath.Join(dir, "ran")
	src := filepath.Join(dir, "impostor.go")
	if err := os.WriteFile(src, []byte(`package main

import "os"

func main() {
	os.WriteFile(os.Getenv("MARKER"), []byte("ran"), 0o600)
	os.Stdout.WriteString("IMPOSTOR\n")
	os.Exit(0)
}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	impostor := filepath.Join(dir, "impostor")
	if out, err := exec.Command("go", "build", "-o", impostor, src).CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	exe, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	impostorExe, err := os.ReadFile(impostor)
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"verify", "pdf", "--trust-roots", "../../testdata/pdf/roots", "../../testdata/pdf/byte-flip.pdf"}
	want := runBinary(t, bin, []string{startup.InProcessEnv + "=1"}, "", args...)
	for _, sibling := range []struct {
		name string
		data []byte
	}{
		{"another Go build", impostorExe},
		{"not ELF", []byte("#!/bin/sh\necho IMPOSTOR; touch \"$MARKER\"\n")},
		{"absent", nil},
	} {
		t.Run(sibling.name, func(t *testing.T) {
			d := filepath.Join(dir, strings.ReplaceAll(sibling.name, " ", "-"))
			if err := os.MkdirAll(d, 0o755); err != nil {
				t.Fatal(err)
			}
			self := filepath.Join(d, "cunzheng")
			if err := os.WriteFile(self, exe, 0o755); err != nil {
				t.Fatal(err)
			}
			if sibling.data != nil {
				if err := os.WriteFile(filepath.Join(d, "cunzheng-verify"), sibling.data, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			// The sibling does run when asked to directly.
			if sibling.data != nil {
				r := runBinary(t, filepath.Join(d, "cunzheng-verify"), []string{"MARKER=" + marker}, "")
				if !strings.Contains(r.stdout, "IMPOSTOR") {
					t.Fatalf("the impostor does not run on its own: %+v", r)
				}
				os.Remove(marker)
			}
			got := runBinary(t, self, []string{"MARKER=" + marker}, "", args...)
			if _, err := os.Stat(marker); err == nil || strings.Contains(got.stdout, "IMPOSTOR") {
				t.Fatalf("cunzheng verify ran the %s beside it", sibling.name)
			}
			if got != want {
				t.Fatalf("got exit %d\n%s%s\nwant (in process) exit %d\n%s%s", got.code, got.stdout, got.stderr, want.code, want.stdout, want.stderr)
			}
		})
	}
}
