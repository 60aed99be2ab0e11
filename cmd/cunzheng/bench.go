package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/cunzheng/cunzheng/ledger"
)

// benchCommands are the benchmarks of `cunzheng bench`; other issues add
// theirs here.
var benchCommands = map[string]func(ctx context.Context, args []string) error{
	"ledger": runBenchLedger,
	"ingest": runBenchIngest,
	"upload": runBenchUpload,
	"verify": runBenchVerify,
}

func runBench(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintln(os.Stderr, "usage: cunzheng bench <ledger|ingest|upload|verify> [flags]")
		if len(args) == 0 {
			return errors.New("name a benchmark")
		}
		return nil
	}
	run, ok := benchCommands[args[0]]
	if !ok {
		return fmt.Errorf("unknown benchmark %q", args[0])
	}
	return run(ctx, args[1:])
}

type ledgerBenchResult struct {
	Entries         int                 `json:"entries"`
	Clients         int                 `json:"clients"`
	EntryBytes      int                 `json:"entry_bytes"`
	Seconds         float64             `json:"seconds"`
	AppendsPerSec   float64             `json:"appends_per_sec"`
	P50Millis       float64             `json:"append_p50_ms"`
	P99Millis       float64             `json:"append_p99_ms"`
	MaxMillis       float64             `json:"append_max_ms"`
	PeakRSSMiB      float64             `json:"peak_rss_mib"`
	CPUMicros       float64             `json:"cpu_us_per_append"`
	Proofs          int                 `json:"proofs"`
	ProofsPerSec    float64             `json:"inclusion_proofs_per_sec"`
	RawPebblePerSec float64             `json:"raw_pebble_appends_per_sec,omitempty"`
	RawP99Millis    float64             `json:"raw_pebble_p99_ms,omitempty"`
	RatioToRaw      float64             `json:"ledger_to_raw_ratio,omitempty"`
	Data            string              `json:"data,omitempty"`
	Size            uint64              `json:"final_tree_size"`
	Cluster         *clusterBenchResult `json:"cluster,omitempty"`
}

func runBenchLedger(ctx context.Context, args []string) error {
	fs := newFlagSet("bench ledger", "bench ledger [--entries N] [--clients C] [--data DIR] [--json] [--cluster-db DSN --objects s3://... [--processes P]]\n\nAppends N entries of about 300 bytes from C concurrent clients into a fresh\nledger (every acknowledged append fsynced), then measures inclusion proofs,\nthen writes the same entries with a plain Pebble loop under the same sync\npolicy for comparison.")
	entries := fs.Int("entries", 200000, "entries to append")
	clients := fs.Int("clients", 64, "concurrent appending clients")
	entrySize := fs.Int("entry-bytes", 300, "bytes per entry")
	data := fs.String("data", "", "a new data directory to keep (serve --data DIR can serve it); default a temporary one")
	proofs := fs.Int("proofs", 200000, "inclusion proofs to compute afterwards")
	raw := fs.Bool("raw", true, "also run the plain Pebble baseline")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the ledger phase to this file")
	clusterDB := fs.String("cluster-db", "", "also run the same appends on a cluster: a fresh PostgreSQL database (DSN)")
	objects := fs.String("objects", "", "the cluster's fresh bucket: s3://BUCKET?endpoint=URL&region=R")
	processes := fs.Int("processes", 1, "cluster logs appending at once (each with its own pool and lease candidacy)")
	clusterProfile := fs.String("cluster-cpuprofile", "", "write a CPU profile of the cluster phase to this file")
	batchLeaves := fs.Int("cluster-batch-leaves", 0, "cluster: a sequencing batch smaller than this waits for company (default: the serve default, 128)")
	batchAge := fs.Duration("cluster-batch-age", 0, "cluster: how long a small sequencing batch waits for company (default: the serve default, 5ms)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	serverRuntime()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	if *entries <= 0 || *clients <= 0 || *entrySize < 32 || *entrySize > ledger.MaxLeafSize {
		return errors.New("--entries and --clients must be positive, --entry-bytes 32-65535")
	}
	dir := *data
	if dir == "" {
		tmp, err := os.MkdirTemp("", "cunzheng-bench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	} else if ents, err := os.ReadDir(dir); err == nil && len(ents) > 0 {
		return fmt.Errorf("--data %s is not empty; the benchmark needs a fresh store", dir)
	}

	res := ledgerBenchResult{Entries: *entries, Clients: *clients, EntryBytes: *entrySize}
	if *data != "" {
		res.Data = dir
	}
	l, _, err := openLedger(ctx, dir, "", ledger.DefaultCheckpointInterval, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		return err
	}
	cpu0 := processCPU()
	hist, elapsed, err := drive(*entries, *clients, *entrySize, func(i int, entry []byte) error {
		_, err := l.Append(ctx, entry)
		return err
	})
	if err != nil {
		l.Close()
		return err
	}
	res.CPUMicros = float64((processCPU() - cpu0).Microseconds()) / float64(*entries)
	res.Seconds = elapsed.Seconds()
	res.AppendsPerSec = float64(*entries) / elapsed.Seconds()
	res.P50Millis, res.P99Millis, res.MaxMillis = hist.quantile(0.50), hist.quantile(0.99), hist.max()
	res.Size = l.Size()

	// Inclusion proofs at the final size, from the same number of clients.
	size := l.Size()
	res.Proofs = *proofs
	var next atomic.Int64
	start := time.Now()
	var wg sync.WaitGroup
	var proofErr atomic.Pointer[error]
	for c := 0; c < *clients; c++ {
		wg.Add(1)
		go func(seed uint64) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, 7))
			for next.Add(1) <= int64(*proofs) {
				if _, err := l.InclusionProof(ctx, rng.Uint64N(size), size); err != nil {
					proofErr.Store(&err)
					return
				}
			}
		}(uint64(c))
	}
	wg.Wait()
	if errp := proofErr.Load(); errp != nil {
		l.Close()
		return *errp
	}
	res.ProofsPerSec = float64(*proofs) / time.Since(start).Seconds()
	res.PeakRSSMiB = peakRSSMiB()
	if err := l.Close(); err != nil {
		return err
	}
	if *cpuProfile != "" {
		pprof.StopCPUProfile()
	}

	if *raw {
		rawDir, err := os.MkdirTemp("", "cunzheng-bench-raw-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(rawDir)
		db, err := pebble.Open(rawDir, &pebble.Options{MemTableSize: 32 << 20, Logger: silentPebble{}})
		if err != nil {
			return err
		}
		rhist, relapsed, err := drive(*entries, *clients, *entrySize, func(i int, entry []byte) error {
			var k [8]byte
			binary.BigEndian.PutUint64(k[:], uint64(i))
			return db.Set(k[:], entry, pebble.Sync)
		})
		db.Close()
		if err != nil {
			return err
		}
		res.RawPebblePerSec = float64(*entries) / relapsed.Seconds()
		res.RawP99Millis = rhist.quantile(0.99)
		res.RatioToRaw = res.AppendsPerSec / res.RawPebblePerSec
	}
	if *clusterDB != "" || *objects != "" {
		if *clusterDB == "" || *objects == "" {
			return errors.New("the cluster benchmark needs both --cluster-db and --objects")
		}
		if *clusterProfile != "" {
			f, err := os.Create(*clusterProfile)
			if err != nil {
				return err
			}
			defer f.Close()
			if err := pprof.StartCPUProfile(f); err != nil {
				return err
			}
		}
		cr, err := benchCluster(ctx, *clusterDB, *objects, *processes, *entries, *clients, *entrySize,
			ledger.SharedConfig{BatchLeaves: *batchLeaves, BatchAge: *batchAge})
		if *clusterProfile != "" {
			pprof.StopCPUProfile()
		}
		if err != nil {
			return fmt.Errorf("cluster benchmark: %w", err)
		}
		cr.RatioToEmbed = cr.AppendsPerSec / res.AppendsPerSec
		res.Cluster = cr
	}
	if err := printBench(os.Stdout, res, *asJSON); err != nil {
		return err
	}
	if res.Cluster != nil && !*asJSON {
		printClusterBench(os.Stdout, res.Cluster)
	}
	return nil
}

func printBench(w io.Writer, res ledgerBenchResult, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	fmt.Fprintf(w, "ledger: %d entries of %d bytes from %d clients in %.2fs (%d cores)\n", res.Entries, res.EntryBytes, res.Clients, res.Seconds, runtime.NumCPU())
	fmt.Fprintf(w, "  appends/s            %10.0f\n", res.AppendsPerSec)
	fmt.Fprintf(w, "  append p50 / p99     %7.2f ms / %.2f ms (max %.2f ms)\n", res.P50Millis, res.P99Millis, res.MaxMillis)
	fmt.Fprintf(w, "  CPU per append       %7.1f µs (this process, clients included)\n", res.CPUMicros)
	fmt.Fprintf(w, "  inclusion proofs/s   %10.0f  (%d proofs at size %d)\n", res.ProofsPerSec, res.Proofs, res.Size)
	fmt.Fprintf(w, "  peak RSS             %7.1f MiB\n", res.PeakRSSMiB)
	if res.RawPebblePerSec > 0 {
		fmt.Fprintf(w, "raw pebble, same entries, Sync per write: %.0f writes/s, p99 %.2f ms\n", res.RawPebblePerSec, res.RawP99Millis)
		fmt.Fprintf(w, "  ledger / raw         %10.2f\n", res.RatioToRaw)
	}
	if res.Data != "" {
		fmt.Fprintf(w, "kept in %s: cunzheng serve --data %s\n", res.Data, filepath.Clean(res.Data))
	}
	return nil
}

// drive runs op for entries 0..n-1 from c goroutines and returns the latency
// histogram and the wall time. With size > 0 op gets a fresh benchEntry of
// that many bytes.
func drive(n, c, size int, op func(i int, entry []byte) error) (*latencyHist, time.Duration, error) {
	var next atomic.Int64
	hists := make([]*latencyHist, c)
	var firstErr atomic.Pointer[error]
	var wg sync.WaitGroup
	start := time.Now()
	for g := 0; g < c; g++ {
		hists[g] = &latencyHist{}
		wg.Add(1)
		go func(h *latencyHist) {
			defer wg.Done()
			buf := make([]byte, size)
			for {
				i := int(next.Add(1) - 1)
				if i >= n || firstErr.Load() != nil {
					return
				}
				if size > 0 {
					benchEntry(buf, i)
				}
				t := time.Now()
				if err := op(i, buf); err != nil {
					err = fmt.Errorf("entry %d: %w", i, err)
					firstErr.CompareAndSwap(nil, &err)
					return
				}
				h.add(time.Since(t))
			}
		}(hists[g])
	}
	wg.Wait()
	elapsed := time.Since(start)
	if errp := firstErr.Load(); errp != nil {
		return nil, 0, *errp
	}
	total := &latencyHist{}
	for _, h := range hists {
		total.merge(h)
	}
	return total, elapsed, nil
}

// benchEntry fills buf with a unique, JSON-looking entry i.
func benchEntry(buf []byte, i int) {
	head := fmt.Appendf(buf[:0], `{"kind":"bench.entry","seq":%d,"pad":"`, i)
	for j := len(head); j < len(buf)-2; j++ {
		buf[j] = 'a' + byte((i+j)%26)
	}
	buf[len(buf)-2] = '"'
	buf[len(buf)-1] = '}'
}

// latencyHist is a log-bucketed histogram (2% resolution), so that ten
// million samples cost a few kilobytes instead of 80 MB.
type latencyHist struct {
	buckets [1200]uint64
	count   uint64
	maxNs   int64
}

const histBase = 1.02

func (h *latencyHist) add(d time.Duration) {
	ns := max(int64(d), 1)
	b := int(math.Log(float64(ns)) / math.Log(histBase))
	b = min(b, len(h.buckets)-1)
	h.buckets[b]++
	h.count++
	h.maxNs = max(h.maxNs, ns)
}

func (h *latencyHist) merge(o *latencyHist) {
	for i, v := range o.buckets {
		h.buckets[i] += v
	}
	h.count += o.count
	h.maxNs = max(h.maxNs, o.maxNs)
}

// quantile returns the q-quantile in milliseconds (upper bucket bound).
func (h *latencyHist) quantile(q float64) float64 {
	target := uint64(math.Ceil(q * float64(h.count)))
	var seen uint64
	for i, v := range h.buckets {
		seen += v
		if seen >= target && v > 0 {
			return math.Pow(histBase, float64(i+1)) / 1e6
		}
	}
	return h.max()
}

func (h *latencyHist) max() float64 { return float64(h.maxNs) / 1e6 }

// peakRSSMiB returns the process's peak resident set size.
func peakRSSMiB() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Maxrss) / 1024 // Linux reports KiB
}

// processCPU is the CPU time the process has used, user and system.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// silentPebble keeps the baseline store's informational logs off the output.
type silentPebble struct{}

func (silentPebble) Infof(string, ...any)  {}
func (silentPebble) Errorf(string, ...any) {}
func (silentPebble) Fatalf(format string, args ...any) {
	panic(fmt.Sprintf(format, args...))
}
