package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/cunzheng/cunzheng/ledger"
	"github.com/cunzheng/cunzheng/web"
)

type serveFlags struct {
	data               string
	addr               string
	origin             string
	checkpointInterval time.Duration
}

func runServe(ctx context.Context, args []string) error {
	fs := newFlagSet("serve", "serve [--data DIR] [--addr HOST:PORT] [flags]")
	var f serveFlags
	fs.StringVar(&f.data, "data", "./data", "data directory (created on first start)")
	fs.StringVar(&f.addr, "addr", "127.0.0.1:8080", "listen address")
	fs.StringVar(&f.origin, "origin", "", "checkpoint origin and log key name (default: the stored key's, or "+ledger.DefaultOrigin+" for a new log)")
	fs.DurationVar(&f.checkpointInterval, "checkpoint-interval", ledger.DefaultCheckpointInterval, "most frequent checkpoint publication")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	logger := slog.New(slog.NewJSONHandler(os.Stderr, nil))

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	l, err := openLedger(ctx, f.data, f.origin, f.checkpointInterval, logger, reg)
	if err != nil {
		return err
	}
	defer func() {
		if err := l.Close(); err != nil {
			logger.Error("closing ledger", "err", err)
		}
	}()

	srv := web.New(web.Config{Log: l, Logger: logger, Gatherer: reg, Registerer: reg})
	return listenAndServe(ctx, f.addr, srv, logger)
}

// openLedger opens the log in DIR/ledger with keys in DIR/keys.
func openLedger(ctx context.Context, data, origin string, interval time.Duration, logger *slog.Logger, reg prometheus.Registerer) (*ledger.Log, error) {
	if err := os.MkdirAll(data, 0o700); err != nil {
		return nil, fmt.Errorf("creating data directory: %w", err)
	}
	keys, err := ledger.LoadOrCreateKeys(filepath.Join(data, "keys"), origin)
	if err != nil {
		return nil, err
	}
	store, err := ledger.OpenPebbleStore(filepath.Join(data, "ledger"), ledger.PebbleOptions{})
	if err != nil {
		return nil, err
	}
	l, err := ledger.Open(ctx, ledger.Config{
		Store:              store,
		Origin:             keys.Name(),
		Signers:            keys.Signers(),
		CheckpointInterval: interval,
		Logger:             logger.With("component", "ledger"),
		Registerer:         reg,
	})
	if err != nil {
		store.Close()
		return nil, err
	}
	return l, nil
}

// listenAndServe serves h until ctx ends, then shuts down gracefully: new
// connections stop, requests in flight (appends waiting on a commit among
// them) get up to 15 s to finish.
func listenAndServe(ctx context.Context, addr string, h http.Handler, logger *slog.Logger) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", addr, err)
	}
	hs := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       2 * time.Minute,
		WriteTimeout:      2 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	logger.Info("serving", "addr", ln.Addr().String())
	// Printed plainly too: tests and newcomers look for the address.
	fmt.Fprintf(os.Stderr, "cunzheng: listening on http://%s\n", ln.Addr())
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serving: %w", err)
	case <-ctx.Done():
	}
	logger.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shutting down: %w", err)
	}
	return nil
}
