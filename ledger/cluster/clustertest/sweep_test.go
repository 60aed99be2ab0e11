package clustertest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestSweepOrphans: a server whose owning test process is gone is stopped
// and its directory removed by the next harness user.
func TestSweepOrphans(t *testing.T) {
	pg := StartPostgres(t)
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(pg.dir, ownerFile), []byte(strconv.Itoa(dead.Process.Pid)), 0o644); err != nil {
		t.Fatal(err)
	}
	sweepOrphans(pg.bin, pg.runAs)
	if _, err := os.Stat(pg.dir); !os.IsNotExist(err) {
		t.Fatalf("orphan's directory still there: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if c, err := pgx.Connect(ctx, pg.DSN("postgres")); err == nil {
		c.Close(ctx)
		t.Fatal("the orphan server still answers")
	}
	pg.running = false // nothing left for the cleanup to stop
}
