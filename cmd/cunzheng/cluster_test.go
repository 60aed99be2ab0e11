package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/jackc/pgx/v5"
	"github.com/transparency-dev/formats/log"
	fnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/cunzheng/cunzheng/ledger"
	"github.com/cunzheng/cunzheng/ledger/cluster/clustertest"
	"github.com/cunzheng/cunzheng/ledger/tlogfmt"
)

// testCluster is one database and one bucket with the keys and flags the
// `cunzheng serve` processes of a test share.
type testCluster struct {
	pg      *clustertest.PG
	s3      *clustertest.S3Server
	dsn     string
	bucket  string
	objects string
	keys    string // a keys directory every process copies
	token   string
	tokenF  string
	dir     string
	// office is the cluster's one notary office, started by the first
	// serve without --notary or --notary-fetch of its own (cluster mode
	// refuses the built-in office).
	office *clusterNotary
}

func newTestCluster(t *testing.T) *testCluster {
	t.Helper()
	for _, kv := range clustertest.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	c := &testCluster{pg: clustertest.StartPostgres(t), s3: clustertest.StartS3(t), dir: t.TempDir()}
	c.dsn = c.pg.NewDatabase(t)
	c.bucket = c.s3.NewBucket(t)
	c.objects = fmt.Sprintf("s3://%s?endpoint=%s&region=%s", c.bucket, c.s3.Endpoint, clustertest.Region)
	seed := filepath.Join(c.dir, "seed")
	cunzheng(t, "keys", "--cluster", "--data", seed, "--origin", "cluster.test/log")
	c.keys = filepath.Join(seed, "keys")
	c.token = "cluster-test-append-token"
	c.tokenF = filepath.Join(c.dir, "token")
	if err := os.WriteFile(c.tokenF, []byte(c.token), 0o600); err != nil {
		t.Fatal(err)
	}
	return c
}

// dataDir returns the data directory of process i, with a copy of the
// cluster's keys.
func (c *testCluster) dataDir(t *testing.T, i int) string {
	d := filepath.Join(c.dir, fmt.Sprintf("p%d", i))
	kd := filepath.Join(d, "keys")
	if _, err := os.Stat(kd); err == nil {
		return d
	}
	if err := os.MkdirAll(kd, 0o700); err != nil {
		t.Fatal(err)
	}
	// All of them, as docs/deploy.md says: cluster mode makes none.
	if err := copyKeys(c.keys, kd); err != nil {
		t.Fatal(err)
	}
	return d
}

func (c *testCluster) serve(t *testing.T, i int, extra ...string) *server {
	args := []string{"--data", c.dataDir(t, i), "--cluster-db", c.dsn, "--objects", c.objects,
		"--append-token-file", c.tokenF, "--lease-ttl", "1s", "--checkpoint-interval", "100ms"}
	if !slices.Contains(extra, "--notary") && !slices.Contains(extra, "--notary-fetch") {
		if c.office == nil {
			c.office = startClusterNotary(t, c)
		}
		args = append(args, "--notary", c.office.url()+"="+c.office.vkey)
	}
	return startServe(t, append(args, extra...)...)
}

func (c *testCluster) db(t *testing.T) *pgx.Conn {
	conn, err := pgx.Connect(context.Background(), c.dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// leader returns the pid and token of the live lease holder, or 0.
func leader(conn *pgx.Conn) (pid int, token int64) {
	var holder string
	err := conn.QueryRow(context.Background(), "SELECT holder, token FROM ledger_lease WHERE id = 1 AND expires > now()").Scan(&holder, &token)
	if err != nil {
		return 0, 0
	}
	parts := strings.Split(holder, "/")
	if len(parts) < 3 {
		return 0, 0
	}
	pid, _ = strconv.Atoi(parts[len(parts)-2])
	return pid, token
}

type appendResp struct {
	Index     uint64 `json:"index"`
	TreeSize  uint64 `json:"tree_size"`
	Duplicate bool   `json:"duplicate"`
	Error     string `json:"error"`
}

var appendClient = &http.Client{Timeout: 20 * time.Second}

func (c *testCluster) append(url string, leaf []byte) (int, appendResp, error) {
	req, _ := http.NewRequest("POST", url+"/v1/log/leaves", bytes.NewReader(leaf))
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := appendClient.Do(req)
	if err != nil {
		return 0, appendResp{}, err
	}
	defer resp.Body.Close()
	var r appendResp
	body, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(body, &r); err != nil {
		return resp.StatusCode, r, fmt.Errorf("status %d, body %q", resp.StatusCode, body)
	}
	return resp.StatusCode, r, nil
}

// bucketTiles serves sumdb/tlog the tiles straight from the bucket.
type bucketTiles struct {
	c      *s3.Client
	bucket string
}

func (b bucketTiles) Height() int { return ledger.TileHeight }

func (b bucketTiles) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, t := range tiles {
		key := tlogfmt.TilePathOf(t).String()
		o, err := b.c.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(b.bucket), Key: aws.String(key)})
		if err != nil {
			return nil, fmt.Errorf("GET %s: %w", key, err)
		}
		out[i], err = io.ReadAll(o.Body)
		o.Body.Close()
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (bucketTiles) SaveTiles([]tlog.Tile, [][]byte) {}

// verifier checks notes with the cluster's log keys.
func (c *testCluster) verifier(t *testing.T) note.Verifiers {
	keys, err := ledger.LoadOrCreateKeys(c.keys, "")
	if err != nil {
		t.Fatal(err)
	}
	vs, err := keys.Verifiers()
	if err != nil {
		t.Fatal(err)
	}
	return vs
}

func openCheckpoint(t *testing.T, vs note.Verifiers, raw []byte) tlog.Tree {
	t.Helper()
	n, err := note.Open(raw, vs)
	if err != nil {
		t.Fatalf("checkpoint %q: %v", raw, err)
	}
	var cp log.Checkpoint
	if _, err := cp.Unmarshal([]byte(n.Text)); err != nil {
		t.Fatal(err)
	}
	return tlog.Tree{N: int64(cp.Size), Hash: tlog.Hash(cp.Hash)}
}

// checkFinal waits for a checkpoint covering every acknowledged index and
// checks, with sumdb/tlog reading only the bucket: each acknowledged leaf
// is in the tree at its index, every checkpoint ever served is consistent
// with the final one, no two served checkpoints share a size, and the
// checkpoints stored were signed under non-decreasing fencing tokens (no
// stale holder signed after a newer one).
func (c *testCluster) checkFinal(t *testing.T, url string, acked map[string]uint64, served map[int64][]byte) {
	t.Helper()
	vs := c.verifier(t)
	var maxIdx uint64
	for _, i := range acked {
		maxIdx = max(maxIdx, i)
	}
	var final tlog.Tree
	var finalNote []byte
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(url + "/checkpoint")
		if err == nil {
			finalNote, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
			final = openCheckpoint(t, vs, finalNote)
			if final.N > int64(maxIdx) {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no checkpoint covers index %d: %v", maxIdx, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	served[final.N] = finalNote
	hr := tlog.TileHashReader(final, bucketTiles{c: c.s3.Client(), bucket: c.bucket})
	for leaf, idx := range acked {
		p, err := tlog.ProveRecord(final.N, int64(idx), hr)
		if err != nil {
			t.Fatalf("proving acknowledged index %d from the bucket: %v", idx, err)
		}
		if err := tlog.CheckRecord(p, final.N, final.Hash, int64(idx), tlog.RecordHash([]byte(leaf))); err != nil {
			t.Fatalf("acknowledged leaf %q at %d: %v", leaf, idx, err)
		}
	}
	for n, raw := range served {
		tr := openCheckpoint(t, vs, raw)
		if tr.N > final.N || tr.N == 0 {
			continue // served after the final one was fetched; or empty
		}
		if tr.N == final.N {
			if tr.Hash != final.Hash {
				t.Fatalf("two roots for size %d", tr.N)
			}
			continue
		}
		p, err := tlog.ProveTree(final.N, tr.N, hr)
		if err != nil {
			t.Fatalf("consistency %d -> %d: %v", n, final.N, err)
		}
		if err := tlog.CheckTree(p, final.N, final.Hash, tr.N, tr.Hash); err != nil {
			t.Fatalf("checkpoint %d inconsistent with the final %d: %v", n, final.N, err)
		}
	}
	rows, err := c.db(t).Query(context.Background(), "SELECT size, token FROM ledger_checkpoints ORDER BY size")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var lastTok int64
	var count int
	for rows.Next() {
		var size, tok int64
		if err := rows.Scan(&size, &tok); err != nil {
			t.Fatal(err)
		}
		if tok < lastTok {
			t.Fatalf("checkpoint %d signed under token %d after one under %d", size, tok, lastTok)
		}
		lastTok = tok
		count++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	t.Logf("final tree %d leaves, %d acknowledged appends, %d checkpoints served, %d stored, last token %d", final.N, len(acked), len(served), count, lastTok)
}

// loadClients appends unique leaves to the live servers from many clients
// until stop is closed, recording what was acknowledged and which
// checkpoints were served.
type load struct {
	c       *testCluster
	mu      sync.Mutex
	urls    []string
	acked   map[string]uint64
	served  map[int64][]byte
	errs    atomic.Int64
	n       atomic.Int64
	stop    chan struct{}
	wg      sync.WaitGroup
	failure chan error
}

func startLoad(c *testCluster, urls []string, clients int) *load {
	l := &load{c: c, urls: urls, acked: make(map[string]uint64), served: make(map[int64][]byte), stop: make(chan struct{}), failure: make(chan error, clients+1)}
	for k := 0; k < clients; k++ {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for i := 0; ; i++ {
				select {
				case <-l.stop:
					return
				default:
				}
				leaf := fmt.Appendf(nil, "client %d leaf %d", k, i)
				for {
					status, r, err := c.append(l.url(), leaf)
					if err == nil && status == 200 {
						if r.TreeSize <= r.Index {
							select {
							case l.failure <- fmt.Errorf("receipt %+v does not cover its index", r):
							default:
							}
							return
						}
						l.mu.Lock()
						l.acked[string(leaf)] = r.Index
						l.mu.Unlock()
						l.n.Add(1)
						break
					}
					// Killed server, 503 during a takeover: retry elsewhere.
					l.errs.Add(1)
					select {
					case <-l.stop:
						return
					case <-time.After(20 * time.Millisecond):
					}
				}
			}
		}()
	}
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		for {
			select {
			case <-l.stop:
				return
			case <-time.After(30 * time.Millisecond):
			}
			resp, err := http.Get(l.url() + "/checkpoint")
			if err != nil {
				continue
			}
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				continue
			}
			size := checkpointSize(raw)
			l.mu.Lock()
			// Each process's built-in notary adds its own cosignature line;
			// what must be unique per size is what the log signed.
			if prev, ok := l.served[size]; ok && !bytes.Equal(logSigned(prev), logSigned(raw)) {
				select {
				case l.failure <- fmt.Errorf("two different checkpoints served for size %d:\n%s\n%s", size, prev, raw):
				default:
				}
			}
			l.served[size] = raw
			l.mu.Unlock()
		}
	}()
	return l
}

// logSigned returns the note text and the log's own signature lines,
// without cosignatures.
func logSigned(raw []byte) []byte {
	text, sigs, ok := bytes.Cut(raw, []byte("\n\n"))
	if !ok {
		return raw
	}
	origin, _, _ := bytes.Cut(text, []byte("\n"))
	prefix := "— " + string(origin) + " "
	out := append(bytes.Clone(text), "\n\n"...)
	for _, line := range bytes.SplitAfter(sigs, []byte("\n")) {
		if bytes.HasPrefix(line, []byte(prefix)) {
			out = append(out, line...)
		}
	}
	return out
}

func checkpointSize(raw []byte) int64 {
	lines := strings.SplitN(string(raw), "\n", 3)
	if len(lines) < 2 {
		return -1
	}
	n, _ := strconv.ParseInt(lines[1], 10, 64)
	return n
}

func (l *load) url() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.urls[rand.IntN(len(l.urls))]
}

func (l *load) setURL(i int, url string) {
	l.mu.Lock()
	l.urls[i] = url
	l.mu.Unlock()
}

func (l *load) finish(t *testing.T) {
	close(l.stop)
	l.wg.Wait()
	close(l.failure)
	for err := range l.failure {
		t.Fatal(err)
	}
}

// waitLeader waits until a live lease holder other than notPID exists.
func waitLeader(t *testing.T, conn *pgx.Conn, notPID int, within time.Duration) (int, int64) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		if pid, tok := leader(conn); pid != 0 && pid != notPID {
			return pid, tok
		}
		if time.Now().After(deadline) {
			t.Fatalf("no new lease holder within %v", within)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestClusterFailover: three serve processes, appends from many clients,
// the lease holder killed with SIGKILL several times.
func TestClusterFailover(t *testing.T) {
	c := newTestCluster(t)
	conn := c.db(t)
	// A partner notary office, pushed to by whichever process signs: it
	// must never see two histories, whoever is killed when.
	no := startClusterNotary(t, c)
	srvs := make([]*server, 3)
	urls := make([]string, 3)
	notaryFlag := []string{"--notary", no.url() + "=" + no.vkey}
	for i := range srvs {
		srvs[i] = c.serve(t, i, notaryFlag...)
		urls[i] = srvs[i].url
	}
	ld := startLoad(c, urls, 16)
	kills := 3
	if testing.Short() {
		kills = 1
	}
	var takeovers []time.Duration
	for k := 0; k < kills; k++ {
		time.Sleep(700 * time.Millisecond)
		pid, _ := waitLeader(t, conn, 0, 10*time.Second)
		victim := -1
		for i, s := range srvs {
			if s.cmd.Process.Pid == pid {
				victim = i
			}
		}
		if victim < 0 {
			t.Fatalf("lease holder pid %d is none of ours", pid)
		}
		before := ld.n.Load()
		killed := time.Now()
		srvs[victim].cmd.Process.Signal(syscall.SIGKILL)
		srvs[victim].cmd.Wait()
		newPID, _ := waitLeader(t, conn, pid, 15*time.Second)
		takeovers = append(takeovers, time.Since(killed))
		t.Logf("kill %d: holder pid %d killed after %d acknowledged appends; pid %d took over in %v", k+1, pid, before, newPID, time.Since(killed).Round(time.Millisecond))
		// Restarted as it was started: with the partner office. (Before
		// there was one pusher, the restarts pushed to built-in offices of
		// their own, and the first processes still pushed to the partner.)
		srvs[victim] = c.serve(t, victim, notaryFlag...)
		ld.setURL(victim, srvs[victim].url)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, s := range srvs {
				var lines []string
				for _, line := range strings.Split(s.logs(), "\n") {
					if strings.Contains(line, "notar") || strings.Contains(line, "lease") {
						lines = append(lines, line)
					}
				}
				t.Logf("process %d's log (notarization and lease):\n%s", s.cmd.Process.Pid, tail(strings.Join(lines, "\n"), 4000))
			}
		}
	})
	time.Sleep(500 * time.Millisecond)
	ld.finish(t)
	if ld.n.Load() == 0 {
		t.Fatal("no append was acknowledged")
	}
	t.Logf("takeovers: %v; %d failed attempts retried", takeovers, ld.errs.Load())
	c.checkFinal(t, srvs[0].url, ld.acked, ld.served)
	no.checkNoFork(t, c, srvs[0].url)
	// One designated pusher, the lease holder: a process that never held
	// the lease sent nothing, so the office is not fought over with 409s.
	// A new holder may meet one 409 per tenure (its first push, from a
	// stale idea of the office).
	conflicts := 0.0
	for _, s := range srvs {
		conflicts += pushMetric(t, s.url, `result="conflict"`)
		led := strings.Contains(s.logs(), "integration lease taken")
		if pushes := pushMetric(t, s.url, ""); pushes > 0 && !led {
			t.Errorf("process %d never held the lease but pushed %v times to the notary office", s.cmd.Process.Pid, pushes)
		}
	}
	if conflicts > float64(kills)+1 {
		t.Fatalf("%v 409 conflicts at the notary office; want at most one per takeover", conflicts)
	}
	for _, s := range srvs {
		s.stop(t)
	}
}

// pushMetric sums cunzheng_notary_push_total samples served at url's
// /metrics whose labels contain match.
func pushMetric(t *testing.T, url, match string) float64 {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var sum float64
	for _, line := range strings.Split(string(raw), "\n") {
		if !strings.HasPrefix(line, "cunzheng_notary_push_total{") || !strings.Contains(line, match) {
			continue
		}
		var v float64
		if _, err := fmt.Sscan(line[strings.LastIndexByte(line, ' ')+1:], &v); err == nil {
			sum += v
		}
	}
	return sum
}

// clusterNotary is a partner notary office (cunzheng notary) for a cluster.
type clusterNotary struct {
	*notaryProc
	vkey string
}

func startClusterNotary(t *testing.T, c *testCluster) *clusterNotary {
	t.Helper()
	bin, err := cunzhengBinary()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(c.dir, "notary")
	out, err := exec.Command(bin, "notary", "keys", "--data", dir, "--name", "notary.cluster.test").Output()
	if err != nil {
		t.Fatal(err)
	}
	logKeys, err := ledger.LoadOrCreateKeys(c.keys, "")
	if err != nil {
		t.Fatal(err)
	}
	p := &notaryProc{t: t, bin: bin, addr: freeAddr(t), args: []string{"--data", dir, "--log", logKeys.VerifierKeys()[0]}}
	p.start()
	t.Cleanup(p.kill)
	return &clusterNotary{notaryProc: p, vkey: strings.TrimSpace(string(out))}
}

// checkNoFork checks that the office recorded no split view and holds a
// cosigned checkpoint of the cluster's log, verifiable with the log's and
// its own key, and caught up with the checkpoint served at url within a
// few seconds (one process pushes: the lease holder).
func (n *clusterNotary) checkNoFork(t *testing.T, c *testCluster, url string) {
	t.Helper()
	vs := c.verifier(t)
	resp, err := http.Get(url + "/checkpoint")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	final := openCheckpoint(t, vs, raw)
	var logs struct {
		Logs []struct {
			Size       uint64 `json:"size"`
			Checkpoint string `json:"checkpoint"`
		} `json:"logs"`
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if code := getJSON(t, n.url()+"/v1/logs", &logs); code != 200 || len(logs.Logs) != 1 {
			t.Fatalf("notary logs: %d %+v", code, logs)
		}
		if logs.Logs[0].Size >= uint64(final.N) || time.Now().After(deadline) {
			break
		}
	}
	if logs.Logs[0].Size < uint64(final.N) {
		t.Fatalf("the notary cosigned up to size %d; the cluster serves %d", logs.Logs[0].Size, final.N)
	}
	var alarms struct{ Alarms []json.RawMessage }
	if code := getJSON(t, n.url()+"/v1/alarms", &alarms); code != 200 || len(alarms.Alarms) != 0 {
		t.Fatalf("notary alarms: %d %d: %s", code, len(alarms.Alarms), alarms.Alarms)
	}
	cv, err := fnote.NewVerifierForCosignatureV1(n.vkey)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := note.Open([]byte(logs.Logs[0].Checkpoint), vs); err != nil {
		t.Fatalf("notary's checkpoint: %v", err)
	}
	if nn, err := note.Open([]byte(logs.Logs[0].Checkpoint), note.VerifierList(cv)); err != nil || len(nn.Sigs) != 1 {
		t.Fatalf("notary's cosignature: %v", err)
	}
	t.Logf("notary: cosigned up to size %d of %d served, no alarm", logs.Logs[0].Size, final.N)
}

// TestClusterStaleLeader pauses the lease holder (SIGSTOP) past its lease,
// lets another process take over and append, then resumes it: it must give
// up the lease without writing tree state or signing.
func TestClusterStaleLeader(t *testing.T) {
	c := newTestCluster(t)
	conn := c.db(t)
	srvs := []*server{c.serve(t, 0), c.serve(t, 1)}
	ld := startLoad(c, []string{srvs[0].url, srvs[1].url}, 4)
	time.Sleep(500 * time.Millisecond)
	pid, tok := waitLeader(t, conn, 0, 10*time.Second)
	var stale, other *server
	for _, s := range srvs {
		if s.cmd.Process.Pid == pid {
			stale = s
		} else {
			other = s
		}
	}
	if stale == nil {
		t.Fatalf("holder %d is none of ours", pid)
	}
	ld.setURL(0, other.url)
	ld.setURL(1, other.url)
	stale.cmd.Process.Signal(syscall.SIGSTOP)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("the other process's log:\n%s", tail(other.logs(), 4000))
			var locks string
			conn.QueryRow(context.Background(), `SELECT coalesce(string_agg(format('%s %s %s %s', pid, state, wait_event, left(query, 80)), E'\n'), '') FROM pg_stat_activity WHERE datname = current_database()`).Scan(&locks)
			t.Logf("database sessions:\n%s", locks)
		}
	})
	newPID, newTok := waitLeader(t, conn, pid, 15*time.Second)
	if newTok <= tok {
		t.Fatalf("token %d after takeover, was %d", newTok, tok)
	}
	time.Sleep(700 * time.Millisecond) // the new holder integrates and signs
	stale.cmd.Process.Signal(syscall.SIGCONT)
	time.Sleep(1500 * time.Millisecond)
	// The resumed process may win the lease again later (e.g. if the new
	// holder misses a renewal on this loaded machine), but only as a new
	// tenure with a new token, never under the one it was paused with.
	if p, cur := leader(conn); p != newPID && (p != pid || cur <= newTok) {
		t.Fatalf("lease holder %d token %d after the stale one resumed; want %d, or a later token than %d", p, cur, newPID, newTok)
	}
	if !strings.Contains(stale.logs(), "integration lease lost") {
		t.Fatalf("the resumed process did not notice it lost the lease:\n%s", stale.logs())
	}
	// The resumed process serves reads and takes appends again.
	ld.setURL(0, stale.url)
	time.Sleep(500 * time.Millisecond)
	ld.finish(t)
	c.checkFinal(t, other.url, ld.acked, ld.served)
	for _, s := range srvs {
		s.stop(t)
	}
}

// TestClusterOutage stops the database, then the object store: appends fail
// with 503 and a reason, and succeed again once the server is back; nothing
// acknowledged is lost and the bucket checks out.
func TestClusterOutage(t *testing.T) {
	c := newTestCluster(t)
	s := c.serve(t, 0, "--integration-timeout", "3s")
	acked := make(map[string]uint64)
	appendOK := func(leaf string) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			status, r, err := c.append(s.url, []byte(leaf))
			if err == nil && status == 200 {
				acked[leaf] = r.Index
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("append %q after recovery: %d %+v %v", leaf, status, r, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	appendOK("before")

	if err := c.pg.Stop(); err != nil {
		t.Fatal(err)
	}
	status, r, err := c.append(s.url, []byte("during db outage"))
	if err != nil || status != http.StatusServiceUnavailable || !strings.Contains(r.Error, "database") {
		t.Fatalf("append with the database down: %d %+v %v; want 503 naming the database", status, r, err)
	}
	if err := c.pg.Start(); err != nil {
		t.Fatal(err)
	}
	appendOK("after db outage")

	c.s3.Stop()
	// Integration uploads full tiles only (partial ones wait for a
	// checkpoint), so appends go on until a batch completes a tile: at most
	// 256 leaves, then 503 naming the object store.
	refused := ""
	for i := 0; i <= 256 && refused == ""; i++ {
		leaf := fmt.Sprintf("during object store outage %d", i)
		status, r, err = c.append(s.url, []byte(leaf))
		switch {
		case err == nil && status == 200:
			acked[leaf] = r.Index
		case err == nil && status == http.StatusServiceUnavailable && strings.Contains(r.Error, "object store"):
			refused = leaf
		default:
			t.Fatalf("append with the object store down: %d %+v %v; want 200 or 503 naming the object store", status, r, err)
		}
	}
	if refused == "" {
		t.Fatal("257 appends with the object store down, none refused")
	}
	if err := c.s3.Start(); err != nil {
		t.Fatal(err)
	}
	// The refused leaf was sequenced, not acknowledged; a retry gets its
	// index once the bucket is back.
	appendOK(refused)
	appendOK("after object store outage")
	c.checkFinal(t, s.url, acked, map[int64][]byte{})
	s.stop(t)
}

// TestClusterMigrate copies an embedded log, served and stopped, into a
// fresh cluster, whose serve then continues it: the checkpoints the
// embedded server published stay consistent with the cluster's.
func TestClusterMigrate(t *testing.T) {
	c := newTestCluster(t)
	src := c.dataDir(t, 9) // the cluster's keys
	s := startServe(t, "--data", src, "--append-token-file", c.tokenF, "--checkpoint-interval", "50ms")
	acked := make(map[string]uint64)
	served := make(map[int64][]byte)
	for round := 0; round < 4; round++ {
		for i := 0; i < 40*round+1; i++ {
			leaf := fmt.Sprintf("embedded %d/%d", round, i)
			status, r, err := c.append(s.url, []byte(leaf))
			if err != nil || status != 200 {
				t.Fatalf("embedded append: %d %+v %v", status, r, err)
			}
			acked[leaf] = r.Index
		}
		time.Sleep(200 * time.Millisecond)
		resp, err := http.Get(s.url + "/checkpoint")
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		served[checkpointSize(raw)] = raw
	}
	s.stop(t)

	out := cunzheng(t, "migrate", "--from", src, "--to-cluster", "--cluster-db", c.dsn, "--objects", c.objects, "--quiet")
	var leaves, cps, cos, ts, proved, of int
	if _, err := fmt.Sscanf(out, "迁移完成 / migrated: %d leaves, %d checkpoints (%d cosignatures, %d timestamps); every checkpoint's root proved unchanged (%d of %d)",
		&leaves, &cps, &cos, &ts, &proved, &of); err != nil {
		t.Fatalf("migrate output %q: %v", out, err)
	}
	if leaves != len(acked) || cps < 4 || proved != cps || of != cps {
		t.Fatalf("migrate: %q, want %d leaves and every checkpoint proved", out, len(acked))
	}
	t.Logf("%s", strings.TrimSpace(out))
	// A second migration into the same cluster is refused.
	bin, _ := cunzhengBinary()
	if out, err := exec.Command(bin, "migrate", "--from", src, "--to-cluster", "--cluster-db", c.dsn, "--objects", c.objects).CombinedOutput(); err == nil || !strings.Contains(string(out), "already holds") {
		t.Fatalf("second migration: %v %s", err, out)
	}

	cs := c.serve(t, 0)
	resp, err := http.Get(cs.url + "/checkpoint")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if checkpointSize(raw) != int64(len(acked)) {
		t.Fatalf("cluster's first checkpoint %q, want size %d", raw, len(acked))
	}
	for i := 0; i < 20; i++ {
		leaf := fmt.Sprintf("cluster %d", i)
		status, r, err := c.append(cs.url, []byte(leaf))
		if err != nil || status != 200 {
			t.Fatalf("cluster append after migration: %d %+v %v", status, r, err)
		}
		acked[leaf] = r.Index
	}
	c.checkFinal(t, cs.url, acked, served)
	cs.stop(t)
}

// TestBenchLedgerCluster runs the cluster benchmark small: two logs on one
// database and bucket append every entry once, and a second run on the same
// cluster is refused (it needs a fresh one).
func TestBenchLedgerCluster(t *testing.T) {
	c := newTestCluster(t)
	out := cunzheng(t, "bench", "ledger", "--entries", "600", "--clients", "16", "--proofs", "100", "--raw=false", "--json",
		"--cluster-db", c.dsn, "--objects", c.objects, "--processes", "2")
	var res ledgerBenchResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("bench output %q: %v", out, err)
	}
	cr := res.Cluster
	if cr == nil || cr.Processes != 2 || cr.FinalTreeSize != 600 || cr.AppendsPerSec <= 0 || cr.SequenceTx == 0 || cr.CommitTx == 0 || cr.Uploads == 0 || cr.RatioToEmbed <= 0 {
		t.Fatalf("cluster result %+v", cr)
	}
	bin, _ := cunzhengBinary()
	if out, err := exec.Command(bin, "bench", "ledger", "--entries", "10", "--clients", "1", "--raw=false", "--proofs", "1",
		"--cluster-db", c.dsn, "--objects", c.objects).CombinedOutput(); err == nil || !strings.Contains(string(out), "fresh database") {
		t.Fatalf("bench on a used cluster: %v %s", err, out)
	}
}

// TestBenchIngestCluster runs the ingest benchmark's cluster run small: two
// real serve processes on one database and bucket take every event, each
// answered once integrated, and a second run on the same cluster is refused.
func TestBenchIngestCluster(t *testing.T) {
	c := newTestCluster(t)
	out := cunzheng(t, "bench", "ingest", "--events", "600", "--clients", "4", "--per-request", "50", "--json",
		"--cluster-db", c.dsn, "--objects", c.objects, "--processes", "2")
	var res ingestBenchResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("bench output %q: %v", out, err)
	}
	cr := res.Cluster
	if cr == nil || cr.Processes != 2 || cr.TreeSize != 600 || cr.EventsPerSec <= 0 || cr.P99Millis <= 0 || cr.RatioToEmbed <= 0 {
		t.Fatalf("cluster result %+v", cr)
	}
	bin, _ := cunzhengBinary()
	if out, err := exec.Command(bin, "bench", "ingest", "--events", "10", "--clients", "1", "--per-request", "10",
		"--cluster-db", c.dsn, "--objects", c.objects).CombinedOutput(); err == nil || !strings.Contains(string(out), "fresh database") {
		t.Fatalf("bench on a used cluster: %v %s", err, out)
	}
}

// tail returns at most the last n bytes of s.
func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
