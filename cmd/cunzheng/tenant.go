package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/cunzheng/cunzheng/evidence"
)

const tenantUsage = `tenant <create|key|list|rotate-master> [flags]

  create --data DIR --name NAME [--role ingest|legal]
        create a tenant; prints its API key as the last line (without --role
        the key has both roles)
  key --data DIR --tenant NAME|ID [--role ingest|legal]
        add an API key to a tenant; prints it as the last line
  list --data DIR
        list tenants
  rotate-master --data DIR
        rewrap every tenant key under a new master key; the new key is
        ` + "$" + evidence.MasterKeyEnv + `_NEW when set, else generated into DIR/keys

Works whether or not 'cunzheng serve' is running on DIR: tenants are files
under DIR/evidence/tenants that the server re-reads; in cluster mode, with
--cluster-db DSN (serve's), rows of the cluster database that every serve
process re-reads. API keys are shown once and stored only as SHA-256 hashes. The master key comes from
$` + evidence.MasterKeyEnv + ` or DIR/keys/` + evidence.MasterKeyFile + ` (created on first use).`

func runTenant(ctx context.Context, args []string) error {
	return runTenantTo(ctx, args, os.Stdout, os.Getenv)
}

// runTenantTo is runTenant with its output and environment injected, for
// tests.
func runTenantTo(ctx context.Context, args []string, out io.Writer, getenv func(string) string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fs := newFlagSet("tenant", tenantUsage)
		fs.Usage()
		if len(args) == 0 {
			return errors.New("missing tenant subcommand")
		}
		return nil
	}
	sub, args := args[0], args[1:]
	fs := newFlagSet("tenant "+sub, tenantUsage)
	data := fs.String("data", "./data", "data directory of cunzheng serve")
	clusterDB := fs.String("cluster-db", "", "cluster mode: the tenants are in this PostgreSQL database (serve's --cluster-db)")
	var name, tenant, role *string
	switch sub {
	case "create":
		name = fs.String("name", "", "tenant name (required, unique)")
		role = fs.String("role", "", "role of the key: ingest or legal (default both)")
	case "key":
		tenant = fs.String("tenant", "", "tenant name or ID (required)")
		role = fs.String("role", "", "role of the key: ingest or legal (default both)")
	case "list", "rotate-master":
	default:
		return fmt.Errorf("unknown tenant subcommand %q (want create, key, list or rotate-master)", sub)
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	keysDir := filepath.Join(*data, "keys")
	// A new tenant's key is wrapped under the master key; in cluster mode
	// that must be the key every serve process holds, never one made here
	// on the spot (serve would not unwrap the tenant's key). Checked before
	// anything is opened.
	loadMaster := evidence.LoadMasterKey
	if *clusterDB != "" {
		loadMaster = evidence.ReadMasterKey
	}
	var master evidence.MasterKey
	if sub == "create" {
		var err error
		if master, err = loadMaster(keysDir, getenv); errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("集群模式不生成主密钥：请设置 $%s，或把集群的 keys/%s 复制到 %s / "+
				"cluster mode creates no master key (the cluster's serve processes would not unwrap a tenant key wrapped under a new one): "+
				"set $%s or copy keys/%s of the cluster (cunzheng keys --cluster) into %s",
				evidence.MasterKeyEnv, evidence.MasterKeyFile, keysDir, evidence.MasterKeyEnv, evidence.MasterKeyFile, keysDir)
		} else if err != nil {
			return err
		}
	}
	tenants, st, err := tenantsAt(ctx, *data, *clusterDB)
	if err != nil {
		return err
	}
	if st != nil {
		defer st.Close()
	}
	var roles []evidence.Role
	if role != nil && *role != "" {
		r, err := evidence.ParseRole(*role)
		if err != nil {
			return err
		}
		roles = []evidence.Role{r}
	}
	now := time.Now()
	switch sub {
	case "create":
		if *name == "" {
			return errors.New("--name is required")
		}
		t, key, err := tenants.Create(ctx, master, *name, roles, now)
		if err != nil {
			return err
		}
		printKey(out, t, roles, key)
	case "key":
		if *tenant == "" {
			return errors.New("--tenant is required")
		}
		t, key, err := tenants.AddKey(ctx, *tenant, roles, now)
		if err != nil {
			return err
		}
		printKey(out, t, roles, key)
	case "list":
		ts, err := tenants.List(ctx)
		if err != nil {
			return err
		}
		for _, t := range ts {
			fmt.Fprintf(out, "%s\t%s\t%s\n", t.ID, t.Created.Format(time.RFC3339), t.Name)
		}
	case "rotate-master":
		return rotateMaster(ctx, out, tenants, keysDir, getenv)
	}
	return nil
}

func printKey(out io.Writer, t evidence.Tenant, roles []evidence.Role, key string) {
	if len(roles) == 0 {
		roles = evidence.AllRoles
	}
	rs := make([]string, len(roles))
	for i, r := range roles {
		rs[i] = string(r)
	}
	fmt.Fprintf(out, "tenant %s (%s)\nroles %s\n# the API key is shown only now; keep it secret:\n%s\n",
		t.ID, t.Name, strings.Join(rs, ","), key)
}

// rotateMaster rewraps the tenant keys. With a key file, the new key is
// first written beside it (…new), then the tenants are rewrapped, then the
// new file replaces the old: a rotation interrupted at any point is finished
// by running it again.
func rotateMaster(ctx context.Context, out io.Writer, tenants evidence.Tenants, keysDir string, getenv func(string) string) error {
	// Only an existing key is rotated: one made here would wrap nothing.
	old, err := evidence.ReadMasterKey(keysDir, getenv)
	if err != nil {
		return fmt.Errorf("rotate-master: the current master key: %w", err)
	}
	if v := getenv(evidence.MasterKeyEnv); v != "" {
		nv := getenv(evidence.MasterKeyEnv + "_NEW")
		if nv == "" {
			return fmt.Errorf("the master key comes from $%s: set $%s_NEW to the new key (64 hex digits)", evidence.MasterKeyEnv, evidence.MasterKeyEnv)
		}
		newKey, err := evidence.ParseMasterKey(nv)
		if err != nil {
			return err
		}
		n, err := tenants.RotateMasterKey(ctx, old, newKey)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "rewrapped %d tenant keys under master key %s; set $%s to the new key and restart serve\n", n, newKey.ID(), evidence.MasterKeyEnv)
		return nil
	}
	path := filepath.Join(keysDir, evidence.MasterKeyFile)
	pending := path + ".new"
	var newKey evidence.MasterKey
	if b, err := os.ReadFile(pending); err == nil {
		if newKey, err = evidence.ParseMasterKey(string(b)); err != nil {
			return fmt.Errorf("%s: %w", pending, err)
		}
	} else if errors.Is(err, fs.ErrNotExist) {
		if newKey, err = evidence.GenerateMasterKey(); err != nil {
			return err
		}
		if err := writeSynced(pending, []byte(newKey.Hex()+"\n")); err != nil {
			return err
		}
	} else {
		return err
	}
	// An interrupted earlier run may have rewrapped some tenants already;
	// RotateMasterKey skips those.
	n, err := tenants.RotateMasterKey(ctx, old, newKey)
	if err != nil {
		return err
	}
	if err := os.Rename(pending, path); err != nil {
		return fmt.Errorf("installing the new master key: %w", err)
	}
	fmt.Fprintf(out, "rewrapped %d tenant keys under master key %s (was %s); restart serve to use it\n", n, newKey.ID(), old.ID())
	return nil
}

func writeSynced(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
