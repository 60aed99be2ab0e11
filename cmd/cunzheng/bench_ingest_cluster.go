package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/cunzheng/cunzheng/evidence"
	"github.com/cunzheng/cunzheng/ledger"
)

// ingestClusterResult is `bench ingest --cluster-db ... --objects ...`.
type ingestClusterResult struct {
	Processes    int     `json:"processes"`
	Seconds      float64 `json:"seconds"`
	EventsPerSec float64 `json:"events_per_sec"`
	P50Millis    float64 `json:"request_p50_ms"`
	P90Millis    float64 `json:"request_p90_ms"`
	P99Millis    float64 `json:"request_p99_ms"`
	MaxMillis    float64 `json:"request_max_ms"`
	RatioToEmbed float64 `json:"cluster_to_embedded_ratio"`
	TreeSize     uint64  `json:"final_tree_size"`
}

// listeningRE finds the address serve logs when it listens.
var listeningRE = regexp.MustCompile(`listening on (https?://\S+)`)

// benchIngestCluster posts the events to `processes` serve processes of
// this binary in cluster mode, as an operator runs them: the same log keys
// and evidence master key in each, a tenant created in the cluster
// database, no fakes. The database and bucket must be fresh.
func benchIngestCluster(ctx context.Context, dsn, objects string, processes int, m ingestMix, requests, clients, per, sampleBytes int) (*ingestClusterResult, error) {
	quiet := slog.New(slog.DiscardHandler)
	st, err := openClusterStore(ctx, dsn, objects, quiet)
	if err != nil {
		return nil, err
	}
	s, err := st.LoadState(ctx)
	if err == nil {
		if _, cerr := st.LatestCheckpoint(ctx); s.Size != 0 || cerr == nil {
			err = errors.New("the cluster run needs a fresh database and bucket (this one holds a log)")
		}
	}
	st.Close()
	if err != nil {
		return nil, err
	}
	bin, err := os.Executable()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "cunzheng-bench-ingest-cluster-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	// The log keys every process of the cluster holds.
	logKeys, err := ledger.LoadOrCreateKeys(filepath.Join(dir, "seed", "keys"), "")
	if err != nil {
		return nil, err
	}
	if err := makeClusterKeys(filepath.Join(dir, "seed")); err != nil {
		return nil, err
	}
	master, err := evidence.GenerateMasterKey()
	if err != nil {
		return nil, err
	}
	env := append(os.Environ(), evidence.MasterKeyEnv+"="+master.Hex())
	getenv := func(k string) string {
		if k == evidence.MasterKeyEnv {
			return master.Hex()
		}
		return os.Getenv(k)
	}
	var out bytes.Buffer
	if err := runTenantTo(ctx, []string{"create", "--data", filepath.Join(dir, "seed"), "--cluster-db", dsn, "--name", "bench"}, &out, getenv); err != nil {
		return nil, fmt.Errorf("creating the tenant: %w", err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	apiKey := strings.TrimSpace(lines[len(lines)-1])

	var procs []*benchProc
	defer func() {
		for _, p := range procs {
			p.stop()
		}
	}()
	// One notary office for the whole cluster, as an operator runs it
	// (cluster mode refuses the built-in office: see checkClusterNotary).
	officeDir := filepath.Join(dir, "office")
	vkey, err := exec.CommandContext(ctx, bin, "notary", "keys", "--data", officeDir, "--name", "notary.bench").Output()
	if err != nil {
		return nil, fmt.Errorf("the cluster's notary office keys: %w", err)
	}
	office, err := startBenchCmd(ctx, bin, env, "notary", "--data", officeDir, "--addr", "127.0.0.1:0", "--log", logKeys.VerifierKeys()[0])
	if err != nil {
		return nil, err
	}
	defer office.stop()
	notaryFlag := office.url + "=" + strings.TrimSpace(string(vkey))
	for i := range processes {
		data := filepath.Join(dir, fmt.Sprintf("p%d", i))
		if err := copyKeys(filepath.Join(dir, "seed", "keys"), filepath.Join(data, "keys")); err != nil {
			return nil, err
		}
		p, err := startBenchServe(ctx, bin, env, "--addr", "127.0.0.1:0", "--data", data, "--cluster-db", dsn, "--objects", objects, "--notary", notaryFlag)
		if err != nil {
			return nil, err
		}
		procs = append(procs, p)
	}
	var urls []string
	for _, p := range procs {
		if err := p.waitHealthy(ctx, 60*time.Second); err != nil {
			return nil, err
		}
		urls = append(urls, p.url+"/v1/events")
	}
	hist, elapsed, err := postMix(ctx, urls, apiKey, m, requests, clients, per, sampleBytes, func() {})
	if err != nil {
		return nil, err
	}
	res := &ingestClusterResult{Processes: processes, Seconds: elapsed.Seconds(), EventsPerSec: float64(requests*per) / elapsed.Seconds(),
		P50Millis: hist.quantile(0.5), P90Millis: hist.quantile(0.9), P99Millis: hist.quantile(0.99), MaxMillis: hist.max()}
	// The tree covers every answered event: each answer waited for it.
	if st, err := openClusterStore(ctx, dsn, objects, quiet); err == nil {
		if s, err := st.LoadState(ctx); err == nil {
			res.TreeSize = s.Size
		}
		st.Close()
	}
	return res, nil
}

// copyKeys copies the keys a cluster's processes share: all of from.
func copyKeys(from, to string) error {
	if err := os.MkdirAll(to, 0o700); err != nil {
		return err
	}
	entries, err := os.ReadDir(from)
	if err != nil {
		return err
	}
	for _, e := range entries {
		name := e.Name()
		b, err := os.ReadFile(filepath.Join(from, name))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(to, name), b, 0o600); err != nil {
			return err
		}
	}
	return nil
}

// benchProc is a serve process started by a benchmark.
type benchProc struct {
	cmd  *exec.Cmd
	url  string
	mu   sync.Mutex
	logs bytes.Buffer // its stderr, for the error when it fails
	done chan struct{}
}

func startBenchServe(ctx context.Context, bin string, env []string, args ...string) (*benchProc, error) {
	return startBenchCmd(ctx, bin, env, append([]string{"serve"}, args...)...)
}

// startBenchCmd starts bin with args (a subcommand that serves: serve or
// notary) and waits until it says where it listens.
func startBenchCmd(ctx context.Context, bin string, env []string, args ...string) (*benchProc, error) {
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	pipe, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &benchProc{cmd: cmd, done: make(chan struct{})}
	urlc := make(chan string, 1)
	go func() {
		defer close(p.done)
		sc := bufio.NewScanner(pipe)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			p.mu.Lock()
			if p.logs.Len() < 1<<20 {
				p.logs.WriteString(sc.Text() + "\n")
			}
			p.mu.Unlock()
			if m := listeningRE.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case urlc <- m[1]:
				default:
				}
			}
		}
	}()
	select {
	case p.url = <-urlc:
		return p, nil
	case <-p.done:
	case <-time.After(60 * time.Second):
	case <-ctx.Done():
	}
	p.stop()
	return nil, fmt.Errorf("%s did not start:\n%s", args[0], p.stderr())
}

func (p *benchProc) stderr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.logs.String()
}

// waitHealthy waits until the process answers /healthz with 200 (its
// ledger has joined the cluster).
func (p *benchProc) waitHealthy(ctx context.Context, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		resp, err := http.Get(p.url + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("serve at %s not healthy after %v:\n%s", p.url, limit, p.stderr())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// stop ends the process as an operator would (SIGTERM), killing it if it
// has not exited after 30s.
func (p *benchProc) stop() {
	if p.cmd.ProcessState != nil {
		return
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	exited := make(chan struct{})
	go func() { p.cmd.Wait(); close(exited) }()
	select {
	case <-exited:
	case <-time.After(30 * time.Second):
		p.cmd.Process.Kill()
		<-exited
	}
}
