package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cunzheng/cunzheng/report/reporttest"
)

func TestVerifyBundleCommand(t *testing.T) {
	f, z, err := reporttest.Bundle(reporttest.Options{Reveal: true, SM2: true}, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	good := filepath.Join(dir, "good.zip")
	if err := os.WriteFile(good, z, 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{good, "--log-key", f.LogVKey, "--log-key", f.SM2VKey}
	for _, n := range f.Notaries {
		args = append(args, "--notary-key", n.VKey)
	}
	var out bytes.Buffer
	if err := Bundle(context.Background(), "cunzheng verify", args, &out); err != nil {
		t.Fatalf("good bundle: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "结论 PASS  证据包 CZ-1 已用指定的公钥校验通过 evidence bundle CZ-1 verified against the pinned keys") || !strings.Contains(out.String(), "通过 ok    叶子 ") {
		t.Errorf("output:\n%s", out.String())
	}

	if !strings.Contains(out.String(), "2 log keys, ") {
		t.Errorf("the SM2 log key was not used:\n%s", out.String())
	}
	if strings.Contains(out.String(), "(s)") {
		t.Errorf("output says (s) where it can count:\n%s", out.String())
	}

	// A key the bundle was not signed with: fails, exit status 3, names the step.
	other, err := reporttest.Build(reporttest.Options{Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	out.Reset()
	err = Bundle(context.Background(), "cunzheng verify", []string{good, "--log-key", other.LogVKey}, &out)
	if ExitCode(err) != ExitBundleFailed {
		t.Fatalf("wrong key: err = %v, want exit status %d", err, ExitBundleFailed)
	}
	if !strings.Contains(out.String(), "失败 FAIL  检查点 ") {
		t.Errorf("output does not name the failing step:\n%s", out.String())
	}

	// Unpinned: passes but says so.
	out.Reset()
	if err := Bundle(context.Background(), "cunzheng verify", []string{good}, &out); err != nil || !strings.Contains(out.String(), "NOT pinned") {
		t.Errorf("unpinned: err = %v\n%s", err, out.String())
	}
	if err := Bundle(context.Background(), "cunzheng verify", []string{filepath.Join(dir, "absent.zip")}, &out); err == nil || ExitCode(err) != 1 {
		t.Errorf("absent file: err = %v, want a plain error", err)
	}
}
