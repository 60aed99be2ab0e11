package main

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cunzheng/cunzheng/web"
)

// A component that fails to open is an error that names it, after the
// components opened before it are closed again; it used to be a nil
// pointer panic in that cleanup.
func TestOpenAppFailureIsAnError(t *testing.T) {
	dir := t.TempDir()
	notADir := filepath.Join(dir, "file")
	if err := os.WriteFile(notADir, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	held := filepath.Join(dir, "held")
	flags := func(data string) serveFlags {
		return serveFlags{data: data, checkpointInterval: time.Second, notarize: &notarizeFlags{}, maxUpload: web.DefaultVerifyMaxUpload}
	}
	logger := slog.New(slog.DiscardHandler)
	first, err := openApp(context.Background(), flags(held), "http://127.0.0.1:0", logger, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	defer first.close(logger)
	for _, data := range []string{notADir, held} {
		a, err := openApp(context.Background(), flags(data), "http://127.0.0.1:0", logger, prometheus.NewRegistry())
		if err == nil {
			a.close(logger)
			t.Errorf("openApp(%s) succeeded", data)
			continue
		}
		t.Logf("%s: %v", filepath.Base(data), err)
	}
}

// The server runs with at least minServerProcs Ps and GOGC
// serverGCPercent, unless the environment says otherwise.
func TestServerRuntime(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	t.Setenv("GOMAXPROCS", "")
	runtime.GOMAXPROCS(2)
	serverRuntime()
	if n := runtime.GOMAXPROCS(0); n != minServerProcs {
		t.Errorf("GOMAXPROCS %d, want %d", n, minServerProcs)
	}
	runtime.GOMAXPROCS(minServerProcs + 2)
	serverRuntime()
	if n := runtime.GOMAXPROCS(0); n != minServerProcs+2 {
		t.Errorf("GOMAXPROCS lowered to %d", n)
	}
	t.Setenv("GOMAXPROCS", "2")
	runtime.GOMAXPROCS(2)
	serverRuntime()
	if n := runtime.GOMAXPROCS(0); n != 2 {
		t.Errorf("GOMAXPROCS=2 in the environment, but %d", n)
	}

	t.Setenv("GOGC", "")
	debug.SetGCPercent(100)
	serverRuntime()
	if p := debug.SetGCPercent(100); p != serverGCPercent {
		t.Errorf("GOGC %d, want %d", p, serverGCPercent)
	}
	t.Setenv("GOGC", "50")
	serverRuntime()
	if p := debug.SetGCPercent(100); p != 100 {
		t.Errorf("GOGC=50 in the environment, but the server set %d", p)
	}
}
