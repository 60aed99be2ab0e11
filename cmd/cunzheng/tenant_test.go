package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io/fs"
	"os"
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

// TestTenantClusterMakesNoMasterKey: in cluster mode `tenant create` wraps
// the tenant's key under the cluster's master key or refuses, before it
// connects to anything; it never makes a master key of its own, which the
// serve processes could not unwrap the tenant's key with.
func TestTenantClusterMakesNoMasterKey(t *testing.T) {
	data := t.TempDir()
	_, err := tenantCmd(t, "create", "--name", "acme", "--data", data, "--cluster-db", "postgres://127.0.0.1:1/none?connect_timeout=1")
	if err == nil || !strings.Contains(err.Error(), "cluster mode creates no master key") || !strings.Contains(err.Error(), evidence.MasterKeyFile) {
		t.Fatalf("tenant create in cluster mode without a master key: err = %v, want the refusal naming %s", err, evidence.MasterKeyFile)
	}
	if _, err := os.Stat(filepath.Join(data, "keys", evidence.MasterKeyFile)); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("tenant create in cluster mode left a master key file behind (stat: %v)", err)
	}
	// With the cluster's key present it goes on to the database (here
	// unreachable): the refusal is about the key, nothing else.
	if _, err := evidence.LoadMasterKey(filepath.Join(data, "keys"), noEnv); err != nil {
		t.Fatal(err)
	}
	_, err = tenantCmd(t, "create", "--name", "acme", "--data", data, "--cluster-db", "postgres://127.0.0.1:1/none?connect_timeout=1")
	if err == nil || strings.Contains(err.Error(), "master key") {
		t.Fatalf("tenant create in cluster mode with the master key: err = %v, want a database error", err)
	}
}

// TestRotateMasterNeedsAKey: rotate-master rotates an existing key; on a
// data directory without one it says so and creates nothing.
func TestRotateMasterNeedsAKey(t *testing.T) {
	data := t.TempDir()
	if _, err := tenantCmd(t, "rotate-master", "--data", data); err == nil || !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("rotate-master without a key: err = %v, want not found", err)
	}
	if _, err := os.Stat(filepath.Join(data, "keys", evidence.MasterKeyFile)); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("rotate-master without a key made one (stat: %v)", err)
	}
}
