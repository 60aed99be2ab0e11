package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cunzheng/cunzheng/evidence"
	"github.com/cunzheng/cunzheng/ledger"
	"github.com/cunzheng/cunzheng/ledger/cluster"
	"github.com/cunzheng/cunzheng/notary"
	"github.com/cunzheng/cunzheng/notary/client"
	"github.com/cunzheng/cunzheng/report"
	"github.com/cunzheng/cunzheng/web"
)

// clusterFlags are serve's cluster-mode flags. With --cluster-db and
// --objects the ledger lives in PostgreSQL and the bucket, and evidence in
// the same database (openEvidenceStore); keys, which every process of a
// cluster must share (checkClusterKeys: made once by cunzheng keys
// --cluster, then copied), stay under --data.
type clusterFlags struct {
	db                 string
	objects            string
	leaseTTL           time.Duration
	integrationTimeout time.Duration
	appendTokenFile    string
}

func addClusterFlags(fs *flag.FlagSet, c *clusterFlags) {
	fs.StringVar(&c.db, "cluster-db", "", "cluster mode: PostgreSQL DSN (postgres://...) holding the ledger's sequence, tree state and checkpoints")
	fs.StringVar(&c.objects, "objects", "", "cluster mode: s3://BUCKET[/PREFIX]?endpoint=URL&region=R for tiles, entry bundles and the checkpoint (credentials from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)")
	fs.DurationVar(&c.leaseTTL, "lease-ttl", 3*time.Second, "cluster mode: integration lease length; a dead holder is replaced within this")
	fs.DurationVar(&c.integrationTimeout, "integration-timeout", 30*time.Second, "cluster mode: longest an append waits for integration before a 503")
	fs.StringVar(&c.appendTokenFile, "append-token-file", "", "enable POST /v1/log/leaves (raw leaf appends, for load tests and tools) for bearers of the token in this file")
}

func (c clusterFlags) enabled() (bool, error) {
	if (c.db == "") != (c.objects == "") {
		return false, errors.New("cluster mode needs both --cluster-db and --objects")
	}
	return c.db != "", nil
}

// errClusterBuiltinOffice refuses the built-in notary office in cluster
// mode. The office keeps its state (the checkpoints it cosigned, its key
// unless copied, the notarisation requests it received and the 公证书 it
// issued) in each process's --data: every process would run an office of
// its own, so cosignatures would change with the lease holder, a request
// made through one process would be unknown to the office every other
// process asks, and a bundle could be refused by an office that never
// cosigned its checkpoint. A cluster has one office for all its
// processes: a standalone one (and in production a partner's).
var errClusterBuiltinOffice = errors.New("cluster mode needs a standalone notary office: the built-in one keeps its state " +
	"(cosigned checkpoints, notarisation requests, 公证书) in each process's --data, so every process would run an office of its own; " +
	"run one office for the cluster (cunzheng notary --data DIR --addr HOST:PORT --log VKEY, VKEY from cunzheng keys) " +
	"and give every process --notary URL=VKEY (VKEY from cunzheng notary keys --data DIR), or --notary-fetch for an office that pulls")

// checkClusterNotary refuses cluster mode without a notary office of
// --notary or --notary-fetch (errClusterBuiltinOffice).
func checkClusterNotary(c clusterFlags, n *notarizeFlags) error {
	on, err := c.enabled()
	if err != nil || !on {
		return err
	}
	if len(n.notaries) == 0 && len(n.fetch) == 0 {
		return errClusterBuiltinOffice
	}
	return nil
}

// clusterKeysMissing lists the key files cluster mode needs in DIR/keys and
// does not find. serve creates each key on first use, which is right for
// one process and wrong for a cluster: every process would make its own
// built-in TSA (so /keys and the tokens on reports would name a root that
// changes with the process asked), its own document-signing CA and its own
// evidence master key. So in cluster mode serve creates none; `cunzheng
// keys --cluster` makes them all once, and every process gets a copy. The
// TSA is needed only without --tsa; the master key not with
// $CUNZHENG_MASTER_KEY set.
func clusterKeysMissing(data string, n *notarizeFlags, getenv func(string) string) ([]string, error) {
	dir := filepath.Join(data, "keys")
	var missing []string
	for _, name := range ledger.KeyFiles() {
		if _, err := os.Stat(filepath.Join(dir, name)); errors.Is(err, fs.ErrNotExist) {
			missing = append(missing, name)
		} else if err != nil {
			return nil, err
		}
	}
	if len(n.tsas) == 0 {
		if _, err := notary.LoadTSA(notaryTSADir(data)); errors.Is(err, fs.ErrNotExist) {
			missing = append(missing, "tsa-ca.pem, tsa-ca.key, tsa.pem, tsa.key (the built-in TSA)")
		} else if err != nil {
			return nil, err
		}
	}
	if _, err := report.LoadSigner(filepath.Join(dir, report.DemoCertFile), filepath.Join(dir, report.DemoKeyFile)); errors.Is(err, fs.ErrNotExist) {
		missing = append(missing, report.DemoCAFile+", "+report.DemoCertFile+", "+report.DemoKeyFile+" (the document-signing CA)")
	} else if err != nil {
		return nil, err
	}
	if _, err := evidence.ReadMasterKey(dir, getenv); errors.Is(err, fs.ErrNotExist) {
		missing = append(missing, evidence.MasterKeyFile)
	} else if err != nil {
		return nil, err
	}
	return missing, nil
}

// checkClusterKeys refuses cluster mode when DIR/keys lacks a key every
// process must share (clusterKeysMissing), before anything is created.
func checkClusterKeys(f serveFlags) error {
	if on, err := f.cluster.enabled(); err != nil || !on {
		return err
	}
	missing, err := clusterKeysMissing(f.data, f.notarize, os.Getenv)
	if err != nil {
		return fmt.Errorf("cluster mode: checking the keys: %w", err)
	}
	if len(missing) == 0 {
		return nil
	}
	return fmt.Errorf("集群模式不生成密钥：请用 cunzheng keys --cluster --data X 生成一次，并把 X/keys/ 复制到每个进程的 --data / "+
		"cluster mode creates no keys, since every process of a cluster must hold the same ones "+
		"(else each would publish its own TSA and document-signing roots): %s lacks %s; "+
		"make them once with cunzheng keys --cluster --data X and copy X/keys/ into every process's --data",
		filepath.Join(f.data, "keys"), strings.Join(missing, "; "))
}

// openLedgerMode opens the embedded ledger, or the cluster one when the
// cluster flags are given.
func openLedgerMode(ctx context.Context, f serveFlags, logger *slog.Logger, reg prometheus.Registerer) (*ledger.Log, *ledger.Keys, error) {
	on, err := f.cluster.enabled()
	if err != nil {
		return nil, nil, err
	}
	if !on {
		return openLedger(ctx, f.data, f.origin, f.checkpointInterval, logger, reg)
	}
	if err := os.MkdirAll(f.data, 0o700); err != nil {
		return nil, nil, fmt.Errorf("creating data directory: %w", err)
	}
	keys, err := ledger.LoadOrCreateKeys(filepath.Join(f.data, "keys"), f.origin)
	if err != nil {
		return nil, nil, err
	}
	store, err := openClusterStore(ctx, f.cluster.db, f.cluster.objects, logger)
	if err != nil {
		return nil, nil, err
	}
	// A cluster's first start may wait for another process to publish the
	// empty checkpoint; give it a few leases' time.
	octx, cancel := context.WithTimeout(ctx, 10*f.cluster.leaseTTL+30*time.Second)
	defer cancel()
	l, err := ledger.Open(octx, ledger.Config{
		Store:              store,
		Origin:             keys.Name(),
		Signers:            keys.Signers(),
		CheckpointInterval: f.checkpointInterval,
		Logger:             logger.With("component", "ledger"),
		Registerer:         reg,
		Shared:             ledger.SharedConfig{LeaseTTL: f.cluster.leaseTTL, IntegrationTimeout: f.cluster.integrationTimeout},
	})
	if err != nil {
		store.Close()
		return nil, nil, err
	}
	logger.Info("ledger in cluster mode", "objects", redactObjects(f.cluster.objects))
	return l, keys, nil
}

func openClusterStore(ctx context.Context, dsn, objects string, logger *slog.Logger) (*cluster.Store, error) {
	obj, err := cluster.OpenObjects(ctx, objects)
	if err != nil {
		return nil, err
	}
	return cluster.Open(ctx, dsn, obj, cluster.Options{Logger: logger.With("component", "cluster")})
}

func redactObjects(u string) string {
	if i := strings.IndexByte(u, '?'); i >= 0 {
		return u[:i]
	}
	return u
}

// ledgerAppendMounts mounts POST /v1/log/leaves (web.MountLogAppend) when
// --append-token-file is given.
func ledgerAppendMounts(c clusterFlags, l *ledger.Log, logger *slog.Logger) ([]web.Mount, error) {
	if c.appendTokenFile == "" {
		return nil, nil
	}
	raw, err := os.ReadFile(c.appendTokenFile)
	if err != nil {
		return nil, fmt.Errorf("reading the append token: %w", err)
	}
	token := strings.TrimSpace(string(raw))
	if len(token) < 16 {
		return nil, errors.New("the append token must be at least 16 characters")
	}
	return []web.Mount{web.MountLogAppend(l, token, logger)}, nil
}

// runWhileLeading runs the pusher while this process leads the log
// (ledger.Log.Leading). In cluster mode that is the integration lease
// holder alone: one process pushes each new checkpoint to the partner
// offices and has it time-stamped, instead of every process sending the
// same checkpoints and contending with 409s and back-offs. A new tenure
// starts the pusher again, from the tree size at its start less the
// backfill, as a pusher started then would; the checkpoints before were
// the previous holder's to send. An embedded log always leads, so there
// the pusher simply runs until ctx ends.
func (n *notarization) runWhileLeading(ctx context.Context, l *ledger.Log) error {
	return whileLeading(ctx, l, func(ctx context.Context) error {
		if s := l.Size(); s > client.DefaultBackfill {
			n.floor.Store(s - client.DefaultBackfill)
		}
		return n.Pusher.Run(ctx)
	})
}

// whileLeading calls run whenever l starts leading, and cancels its
// context when l stops. It returns when ctx ends (nil), or with run's error
// if run returns on its own.
func whileLeading(ctx context.Context, l *ledger.Log, run func(context.Context) error) error {
	for {
		leading, changed := l.Leading()
		if !leading {
			select {
			case <-ctx.Done():
				return nil
			case <-changed:
				continue
			}
		}
		rctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- run(rctx) }()
		select {
		case <-changed:
			cancel()
			<-done
		case <-ctx.Done():
			cancel()
			<-done
			return nil
		case err := <-done:
			cancel()
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
}
