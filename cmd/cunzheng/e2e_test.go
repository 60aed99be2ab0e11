package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// cunzhengBinary is the cunzheng binary built once for the end-to-end tests,
// as make build builds it: cunzheng-verify beside it, its Go build ID built
// into cunzheng's hand-over of `verify` (see verifierBinary).
var cunzhengBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "cunzheng-e2e-bin-")
	if err != nil {
		return "", err
	}
	verifier := filepath.Join(dir, "cunzheng-verify")
	cmd := exec.Command("go", "build", "-o", verifier, "../cunzheng-verify")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build cunzheng-verify: %v\n%s", err, out)
	}
	id, err := exec.Command("go", "tool", "buildid", verifier).Output()
	if err != nil {
		return "", fmt.Errorf("go tool buildid: %w", err)
	}
	header := filepath.Join(dir, "verifier_id.h")
	if err := os.WriteFile(header, fmt.Appendf(nil, "#define CUNZHENG_VERIFIER_ID %q\n", strings.TrimSpace(string(id))), 0o644); err != nil {
		return "", err
	}
	target, err := filepath.Abs(filepath.Join("startup", "verifier_id.h"))
	if err != nil {
		return "", err
	}
	overlay, err := json.Marshal(map[string]map[string]string{"Replace": {target: header}})
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, "overlay.json"), overlay, 0o644); err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "cunzheng")
	out, err := exec.Command("go", "build", "-overlay", filepath.Join(dir, "overlay.json"), "-o", bin, ".").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

func cunzheng(t *testing.T, args ...string) string {
	t.Helper()
	bin, err := cunzhengBinary()
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("cunzheng %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// server is a running `cunzheng serve`.
type server struct {
	cmd    *exec.Cmd
	url    string
	stderr *bytes.Buffer
	mu     *sync.Mutex
}

var listenRE = regexp.MustCompile(`listening on (https?://\S+)`)

// startServe starts `cunzheng serve` on a free loopback port and waits until
// it answers /healthz.
func startServe(t *testing.T, args ...string) *server {
	t.Helper()
	bin, err := cunzhengBinary()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...)...)
	pipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &server{cmd: cmd, stderr: &bytes.Buffer{}, mu: &sync.Mutex{}}
	urlc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pipe)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			s.mu.Lock()
			s.stderr.WriteString(sc.Text() + "\n")
			s.mu.Unlock()
			if m := listenRE.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case urlc <- m[1]:
				default:
				}
			}
		}
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	select {
	case s.url = <-urlc:
	case <-time.After(60 * time.Second):
		t.Fatalf("serve did not start:\n%s", s.logs())
	}
	return s
}

func (s *server) logs() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stderr.String()
}

// stop sends SIGTERM and waits for a clean exit.
func (s *server) stop(t *testing.T) {
	t.Helper()
	s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- s.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve did not exit cleanly on SIGTERM: %v\n%s", err, s.logs())
		}
	case <-time.After(30 * time.Second):
		s.cmd.Process.Kill()
		t.Fatalf("serve did not stop within 30 s of SIGTERM")
	}
}

func httpGet(t *testing.T, url string) []byte {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, body)
	}
	return body
}

// httpTiles reads tiles over HTTP by their C2SP paths, the way a monitor
// that knows only the spec would.
type httpTiles struct {
	t    *testing.T
	base string
}

func (h httpTiles) Height() int { return 8 }

func (h httpTiles) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, tile := range tiles {
		// sumdb/tlog names tiles tile/H/L/N; C2SP drops the height.
		p := strings.Replace(tile.Path(), "tile/8/", "tile/", 1)
		out[i] = httpGet(h.t, h.base+"/"+p)
	}
	return out, nil
}

func (h httpTiles) SaveTiles([]tlog.Tile, [][]byte) {}

func TestE2EBenchThenServeThenVerifyWithSumdb(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	data := filepath.Join(t.TempDir(), "data")
	out := cunzheng(t, "bench", "ledger", "--entries", "3000", "--clients", "16", "--proofs", "500", "--raw=false", "--data", data)
	if !strings.Contains(out, "appends/s") || !strings.Contains(out, "kept in") {
		t.Fatalf("bench output:\n%s", out)
	}
	// Keys: 0600 files, the Ed25519 key first in note format.
	for _, f := range []string{"log-ed25519.key", "log-sm2.pem"} {
		fi, err := os.Stat(filepath.Join(data, "keys", f))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", f, fi.Mode().Perm())
		}
	}
	vkeys := strings.Fields(cunzheng(t, "keys", "--data", data))
	if len(vkeys) != 2 {
		t.Fatalf("keys printed %q", vkeys)
	}
	edV, err := note.NewVerifier(vkeys[0])
	if err != nil {
		t.Fatalf("the first key is not a sumdb/note verifier key: %v", err)
	}

	s := startServe(t, "--data", data)
	body := httpGet(t, s.url+"/checkpoint")
	n, err := note.Open(body, note.VerifierList(edV))
	if err != nil {
		t.Fatalf("sumdb/note rejects the served checkpoint: %v\n%s", err, body)
	}
	lines := strings.Split(n.Text, "\n")
	var tree tlog.Tree
	fmt.Sscan(lines[1], &tree.N)
	if tree.Hash, err = tlog.ParseHash(lines[2]); err != nil || tree.N != 3000 {
		t.Fatalf("checkpoint %q: %v", n.Text, err)
	}
	hr := tlog.TileHashReader(tree, httpTiles{t, s.url})
	if th, err := tlog.TreeHash(tree.N, hr); err != nil || th != tree.Hash {
		t.Fatalf("tlog over served tiles: %v", err)
	}
	// Every entry of the last bundle is in the tree.
	bundle := httpGet(t, s.url+"/tile/entries/011.p/184")
	for i := int64(11 * 256); len(bundle) > 0; i++ {
		ln := int(bundle[0])<<8 | int(bundle[1])
		leaf := bundle[2 : 2+ln]
		bundle = bundle[2+ln:]
		p, err := tlog.ProveRecord(tree.N, i, hr)
		if err != nil {
			t.Fatal(err)
		}
		if err := tlog.CheckRecord(p, tree.N, tree.Hash, i, tlog.RecordHash(leaf)); err != nil {
			t.Fatalf("entry %d: %v", i, err)
		}
	}
	if resp, err := http.Get(s.url + "/v1/log/proof/inclusion?index=5&size=99999"); err != nil || resp.StatusCode != 404 {
		t.Fatalf("out-of-range proof: %v %v", resp.StatusCode, err)
	}
	metrics := string(httpGet(t, s.url+"/metrics"))
	if !strings.Contains(metrics, "cunzheng_ledger_tree_size 3000") {
		t.Errorf("/metrics lacks the tree size")
	}
	s.stop(t)

	// A second start reuses the keys and the log.
	s = startServe(t, "--data", data)
	body2 := httpGet(t, s.url+"/checkpoint")
	if _, err := note.Open(body2, note.VerifierList(edV)); err != nil {
		t.Fatalf("after restart: %v", err)
	}
	s.stop(t)
}

// TestBenchIngestRuns keeps the ingest benchmark working: its events must
// pass the schema, and every one must reach the log.
func TestBenchIngestRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	for _, tc := range []struct{ per, mix string }{{"1", "flow"}, {"50", "flow"}, {"50", "signed"}} {
		out := cunzheng(t, "bench", "ingest", "--events", "300", "--clients", "4", "--per-request", tc.per, "--mix", tc.mix, "--json")
		var res ingestBenchResult
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			t.Fatalf("bench ingest --json printed %q: %v", out, err)
		}
		// The demo contract's events are in the log too.
		if res.Events != 300 || res.TreeSize < 300 || res.Mix != tc.mix || res.EventsPerSec <= 0 || res.CPUMicrosPerEvent <= 0 {
			t.Errorf("%+v: %+v", tc, res)
		}
	}
}

// TestBenchUploadRuns keeps the upload benchmark working: its PDFs must be
// verified by a real serve child process, and it must read that process's
// memory.
func TestBenchUploadRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	out := cunzheng(t, "bench", "upload", "--uploads", "6", "--mib", "2", "--addresses", "2", "--retry", "--after", "0s", "--json")
	var res uploadBenchResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("bench upload --json printed %q: %v", out, err)
	}
	if res.Verified != 6 || res.Errors != 0 || len(res.Other) != 0 || res.PeakRSSMiB <= 0 || res.RSSBeforeMiB <= 0 {
		t.Errorf("%+v", res)
	}
}
