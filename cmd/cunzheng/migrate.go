package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/cunzheng/cunzheng/ledger"
)

// runMigrate copies an embedded ledger into a cluster.
func runMigrate(ctx context.Context, args []string) error {
	fs := newFlagSet("migrate", "migrate --from DIR --to-cluster --cluster-db DSN --objects s3://BUCKET?endpoint=URL&region=R\n\nCopies the embedded ledger of data directory DIR (stop its serve first) into\na fresh cluster: every leaf, every checkpoint as signed with its\ncosignatures and timestamps, the tiles and bundles into the bucket. It\nproves every checkpoint's root unchanged, from the copied leaves and from\nthe nodes stored in the cluster, and stops at the first difference.\nThe cluster's serve processes need the same log keys: copy DIR/keys into\neach one's --data.")
	from := fs.String("from", "", "data directory of the embedded log")
	toCluster := fs.Bool("to-cluster", false, "copy into the cluster named by --cluster-db and --objects")
	db := fs.String("cluster-db", "", "PostgreSQL DSN of the cluster (fresh)")
	objects := fs.String("objects", "", "the cluster's bucket (fresh): s3://BUCKET?endpoint=URL&region=R; credentials from the environment")
	quiet := fs.Bool("quiet", false, "no progress lines")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *from == "" || !*toCluster || *db == "" || *objects == "" {
		return errors.New("migrate needs --from DIR --to-cluster --cluster-db DSN --objects URL")
	}
	if _, err := os.Stat(filepath.Join(*from, "ledger")); err != nil {
		return fmt.Errorf("no embedded ledger in %s: %w", *from, err)
	}
	src, err := ledger.OpenPebbleStore(filepath.Join(*from, "ledger"), ledger.PebbleOptions{})
	if err != nil {
		return fmt.Errorf("opening the embedded ledger (is its serve still running?): %w", err)
	}
	defer src.Close()
	dst, err := openClusterStore(ctx, *db, *objects, slog.New(slog.NewJSONHandler(os.Stderr, nil)))
	if err != nil {
		return err
	}
	defer dst.Close()
	// The copy writes tree state and checkpoints, which the cluster only
	// accepts from the lease holder; a serve process started meanwhile
	// waits for it.
	_, held, err := dst.Lease(ctx, "migrate", time.Hour)
	if err != nil {
		return err
	}
	if !held {
		return errors.New("another process holds the cluster's integration lease: migrate into a fresh cluster with no serve running")
	}
	defer dst.Release(context.Background())
	last := time.Now()
	rep, err := ledger.CopyLog(ctx, src, dst, func(done, total uint64) {
		if !*quiet && (time.Since(last) > 2*time.Second || done == total) {
			fmt.Fprintf(os.Stderr, "copied %d of %d leaves\n", done, total)
			last = time.Now()
		}
	})
	if err != nil {
		return err
	}
	fmt.Printf("迁移完成 / migrated: %d leaves, %d checkpoints (%d cosignatures, %d timestamps); every checkpoint's root proved unchanged (%d of %d)\n",
		rep.Leaves, rep.Checkpoints, rep.Cosignatures, rep.Timestamps, rep.Proved, rep.Checkpoints)
	return nil
}
