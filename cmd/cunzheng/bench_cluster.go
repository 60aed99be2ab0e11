package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/cunzheng/cunzheng/ledger"
	"github.com/cunzheng/cunzheng/ledger/cluster"
)

// clusterBenchResult is `bench ledger --cluster-db ... --objects ...`.
type clusterBenchResult struct {
	Processes     int     `json:"processes"`
	Seconds       float64 `json:"seconds"`
	AppendsPerSec float64 `json:"appends_per_sec"`
	P50Millis     float64 `json:"append_p50_ms"`
	P99Millis     float64 `json:"append_p99_ms"`
	MaxMillis     float64 `json:"append_max_ms"`
	RatioToEmbed  float64 `json:"cluster_to_embedded_ratio"`
	// CPUMicros is this process's CPU time per append: the appending logs
	// and the clients, not the database or the object store.
	CPUMicros float64 `json:"cpu_us_per_append"`
	// Where the time went, summed over the processes.
	SequenceTx      int64   `json:"sequence_transactions"`
	SequenceMillis  float64 `json:"sequence_tx_mean_ms"`
	LeavesPerSeqTx  float64 `json:"leaves_per_sequence_tx"`
	CommitTx        int64   `json:"integration_commits"`
	CommitMillis    float64 `json:"integration_tx_mean_ms"`
	LeavesPerCommit float64 `json:"leaves_per_integration"`
	Flushes         int64   `json:"sequence_flushes"`
	FlushMillis     float64 `json:"sequence_flush_mean_ms"`
	UploadRounds    int64   `json:"upload_rounds"`
	UploadMillis    float64 `json:"upload_round_mean_ms"`
	Uploads         int64   `json:"objects_uploaded"`
	UploadMiB       float64 `json:"uploaded_mib"`
	FinalTreeSize   uint64  `json:"final_tree_size"`
	CheckpointCount int     `json:"checkpoints"`
}

// benchCluster appends the benchmark's entries into a cluster through
// `processes` independent logs (each with its own connection pool and lease
// candidacy, as separate serve processes would have; in one OS process so
// that HTTP does not blur the storage figures). The database and bucket
// must be fresh.
func benchCluster(ctx context.Context, dsn, objects string, processes, entries, clients, entrySize int, shared ledger.SharedConfig) (*clusterBenchResult, error) {
	if processes < 1 {
		return nil, errors.New("--processes must be at least 1")
	}
	keyDir, err := os.MkdirTemp("", "cunzheng-bench-keys-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(keyDir)
	keys, err := ledger.LoadOrCreateKeys(filepath.Join(keyDir, "keys"), "")
	if err != nil {
		return nil, err
	}
	quiet := slog.New(slog.DiscardHandler)
	var stores []*cluster.Store
	var logs []*ledger.Log
	defer func() {
		for _, l := range logs {
			l.Close()
		}
	}()
	for p := 0; p < processes; p++ {
		st, err := openClusterStore(ctx, dsn, objects, quiet)
		if err != nil {
			return nil, err
		}
		if p == 0 {
			s, err := st.LoadState(ctx)
			if err != nil {
				st.Close()
				return nil, err
			}
			if _, cerr := st.LatestCheckpoint(ctx); s.Size != 0 || cerr == nil {
				st.Close()
				return nil, errors.New("the cluster benchmark needs a fresh database and bucket (this one holds a log)")
			}
		}
		l, err := ledger.Open(ctx, ledger.Config{Store: st, Signers: keys.Signers(), Origin: keys.Name(), Logger: quiet,
			Shared: ledger.SharedConfig{Holder: fmt.Sprintf("bench-%d", p), BatchLeaves: shared.BatchLeaves, BatchAge: shared.BatchAge}})
		if err != nil {
			st.Close()
			return nil, err
		}
		stores = append(stores, st)
		logs = append(logs, l)
	}
	cpu0 := processCPU()
	hist, elapsed, err := drive(entries, clients, entrySize, func(i int, entry []byte) error {
		_, err := logs[i%len(logs)].Append(ctx, entry)
		return err
	})
	if err != nil {
		return nil, err
	}
	res := &clusterBenchResult{Processes: processes, Seconds: elapsed.Seconds(), AppendsPerSec: float64(entries) / elapsed.Seconds(),
		P50Millis: hist.quantile(0.5), P99Millis: hist.quantile(0.99), MaxMillis: hist.max(),
		CPUMicros: float64((processCPU() - cpu0).Microseconds()) / float64(entries)}
	var sum cluster.Stats
	for _, st := range stores {
		s := st.Stats()
		sum.SequenceTx += s.SequenceTx
		sum.SequenceTime += s.SequenceTime
		sum.CommitTx += s.CommitTx
		sum.CommitTime += s.CommitTime
		sum.Uploads += s.Uploads
		sum.UploadRounds += s.UploadRounds
		sum.UploadTime += s.UploadTime
		sum.UploadBytes += s.UploadBytes
		sum.Flushes += s.Flushes
		sum.FlushTime += s.FlushTime
	}
	ms := func(d time.Duration, n int64) float64 {
		if n == 0 {
			return 0
		}
		return d.Seconds() * 1000 / float64(n)
	}
	res.SequenceTx, res.SequenceMillis = sum.SequenceTx, ms(sum.SequenceTime, sum.SequenceTx)
	if sum.SequenceTx > 0 {
		res.LeavesPerSeqTx = float64(entries) / float64(sum.SequenceTx)
	}
	res.CommitTx, res.CommitMillis = sum.CommitTx, ms(sum.CommitTime, sum.CommitTx)
	if sum.CommitTx > 0 {
		res.LeavesPerCommit = float64(entries) / float64(sum.CommitTx)
	}
	res.Flushes, res.FlushMillis = sum.Flushes, ms(sum.FlushTime, sum.Flushes)
	res.UploadRounds, res.UploadMillis = sum.UploadRounds, ms(sum.UploadTime, sum.UploadRounds)
	res.Uploads, res.UploadMiB = sum.Uploads, float64(sum.UploadBytes)/(1<<20)
	// Each log's tree covers the appends it answered; the others may be a
	// notification behind (even the integrating one, for the moment
	// between its commit and its own head moving).
	for _, l := range logs {
		res.FinalTreeSize = max(res.FinalTreeSize, l.Size())
	}
	cps, err := logs[0].Checkpoints(ctx, 0, 1<<20)
	if err == nil {
		res.CheckpointCount = len(cps)
	}
	return res, nil
}

func printClusterBench(w io.Writer, r *clusterBenchResult) {
	fmt.Fprintf(w, "cluster (PostgreSQL + S3), %s, same entries and clients: %.2fs\n", plural(r.Processes, "process", "processes"), r.Seconds)
	fmt.Fprintf(w, "  appends/s            %10.0f   (cluster / embedded %.3f)\n", r.AppendsPerSec, r.RatioToEmbed)
	fmt.Fprintf(w, "  append p50 / p99     %7.2f ms / %.2f ms (max %.2f ms)\n", r.P50Millis, r.P99Millis, r.MaxMillis)
	fmt.Fprintf(w, "  CPU per append       %7.1f µs (the appending logs and clients; not the database or object store)\n", r.CPUMicros)
	fmt.Fprintf(w, "  sequence tx          %10d   mean %.2f ms, %.1f leaves each\n", r.SequenceTx, r.SequenceMillis, r.LeavesPerSeqTx)
	fmt.Fprintf(w, "  integration          %10d   commits, mean tx %.2f ms, %.1f leaves each\n", r.CommitTx, r.CommitMillis, r.LeavesPerCommit)
	fmt.Fprintf(w, "  sequence flushes     %10d   mean %.2f ms (durable reads of sequenced leaves, one per integration round)\n", r.Flushes, r.FlushMillis)
	fmt.Fprintf(w, "  uploads              %10d   rounds, mean %.2f ms (%d objects, %.1f MiB; overlapping the previous commit)\n", r.UploadRounds, r.UploadMillis, r.Uploads, r.UploadMiB)
}

// plural is "1 process", "3 processes".
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
