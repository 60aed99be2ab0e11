package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cunzheng/cunzheng/evidence"
	"github.com/cunzheng/cunzheng/evidence/evidencetest"
)

func noEnv(string) string { return "" }

func tenantCmd(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	err := runTenantTo(context.Background(), args, &out, noEnv)
	return out.String(), err
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return lines[len(lines)-1]
}

func openEvidence(t *testing.T, data string) *evidence.Service {
	t.Helper()
	master, err := evidence.LoadMasterKey(filepath.Join(data, "keys"), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := evidence.Open(context.Background(), evidence.Config{
		Dir: filepath.Join(data, "evidence"), Master: master, Log: evidencetest.NewLog(), ReloadInterval: -1,
	})
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

// TestTenantCreateWithoutServer: the CLI on a fresh data dir, then a server
// opening it accepts the key.
func TestTenantCreateWithoutServer(t *testing.T) {
	data := t.TempDir()
	out, err := tenantCmd(t, "create", "--data", data, "--name", "伟伟集团")
	if err != nil {
		t.Fatal(err)
	}
	key := lastLine(out)
	if !strings.HasPrefix(key, "czk_") {
		t.Fatalf("last line %q is not a key", key)
	}
	legalOut, err := tenantCmd(t, "key", "--data", data, "--tenant", "伟伟集团", "--role", "legal")
	if err != nil {
		t.Fatal(err)
	}
	svc := openEvidence(t, data)
	defer svc.Close()
	p, err := svc.Authenticate(key)
	if err != nil || !p.Has(evidence.RoleIngest) || !p.Has(evidence.RoleLegal) || p.Tenant.Name != "伟伟集团" {
		t.Fatalf("key from the CLI: %+v %v", p, err)
	}
	p, err = svc.Authenticate(lastLine(legalOut))
	if err != nil || p.Has(evidence.RoleIngest) || !p.Has(evidence.RoleLegal) {
		t.Fatalf("legal key: %+v %v", p, err)
	}
	if _, err := tenantCmd(t, "create", "--data", data, "--name", "伟伟集团"); !errors.Is(err, evidence.ErrTenantExists) {
		t.Errorf("duplicate name: %v", err)
	}
}

// TestTenantCreateWhileServing: the server holds the Pebble lock; the CLI
// still works and the server picks the key up without a restart.
func TestTenantCreateWhileServing(t *testing.T) {
	data := t.TempDir()
	svc := openEvidence(t, data)
	defer svc.Close()
	out, err := tenantCmd(t, "create", "--data", data, "--name", "叶氏", "--role", "ingest")
	if err != nil {
		t.Fatal(err)
	}
	p, err := svc.Authenticate(lastLine(out))
	if err != nil || !p.Has(evidence.RoleIngest) || p.Has(evidence.RoleLegal) {
		t.Fatalf("key created while serving: %+v %v", p, err)
	}
	list, err := tenantCmd(t, "list", "--data", data)
	if err != nil || !strings.Contains(list, "叶氏") {
		t.Errorf("list: %q %v", list, err)
	}
}

func TestTenantCommandErrors(t *testing.T) {
	data := t.TempDir()
	for _, args := range [][]string{
		{"create", "--data", data},
		{"create", "--data", data, "--name", "x", "--role", "admin"},
		{"key", "--data", data, "--tenant", "nobody"},
		{"frobnicate"},
		{"create", "--data", data, "--name", "x", "extra"},
	} {
		if _, err := tenantCmd(t, args...); err == nil {
			t.Errorf("%q succeeded", args)
		}
	}
	if _, err := tenantCmd(t, "create", "--help"); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("--help: %v", err)
	}
}

func TestTenantRotateMaster(t *testing.T) {
	data := t.TempDir()
	out, err := tenantCmd(t, "create", "--data", data, "--name", "a")
	if err != nil {
		t.Fatal(err)
	}
	before, _ := evidence.LoadMasterKey(filepath.Join(data, "keys"), noEnv)
	if _, err := tenantCmd(t, "rotate-master", "--data", data); err != nil {
		t.Fatal(err)
	}
	after, _ := evidence.LoadMasterKey(filepath.Join(data, "keys"), noEnv)
	if before.ID() == after.ID() {
		t.Fatal("master key unchanged")
	}
	svc := openEvidence(t, data)
	defer svc.Close()
	if _, err := svc.Authenticate(lastLine(out)); err != nil {
		t.Fatalf("after rotation: %v", err)
	}
}
