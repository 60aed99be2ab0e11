package main

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// tmpfsMount mounts a tmpfs of size bytes on dir (created), unmounted when
// the test ends. It skips the test, saying why, where mounting is
// impossible (not root, no CAP_SYS_ADMIN): CI runs the tests as root.
func tmpfsMount(t *testing.T, dir string, size int64) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, fmt.Sprintf("size=%d,mode=0700", size)); err != nil {
		t.Skipf("cannot mount a tmpfs to fill (needs root or CAP_SYS_ADMIN; CI runs tests as root): %v", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, syscall.MNT_DETACH); err != nil {
			t.Errorf("unmounting %s: %v", dir, err)
		}
	})
}

// fillDisk writes a file into dir until its filesystem is full and
// returns the file's path; removing it frees the space.
func fillDisk(t *testing.T, dir string) string {
	t.Helper()
	name := filepath.Join(dir, "filler")
	f, err := os.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 1<<20)
	for i := range buf {
		buf[i] = byte(i)
	}
	for {
		if _, err := f.Write(buf); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			break
		}
	}
	// The last bytes, below a whole buffer.
	for _, n := range []int{64 << 10, 4 << 10, 512} {
		for {
			if _, err := f.Write(buf[:n]); err != nil {
				break
			}
		}
	}
	return name
}

// diskLoad posts events from a few clients for as long as it runs,
// keeping every receipt acknowledged and every batch refused.
type diskLoad struct {
	url, key string
	next     atomic.Int64
	stop     chan struct{}
	wg       sync.WaitGroup

	mu       sync.Mutex
	acked    map[string]diskReceipt // event id -> receipt
	refused  map[int]int            // first event of a refused batch -> its size
	statuses map[int]int
	last503  string
	lastOK   time.Time
	first503 time.Time
}

type diskReceipt struct {
	ID       string `json:"id"`
	Index    uint64 `json:"index"`
	LeafHash string `json:"leaf_hash"`
}

const diskBatch = 10

func diskBody(first, n int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"events":[`)
	for i := first; i < first+n; i++ {
		if i > first {
			b.WriteByte(',')
		}
		b.Write(flowEvent(i))
	}
	b.WriteString(`]}`)
	return b.Bytes()
}

// post sends events [first, first+n) and returns the status and body.
func (l *diskLoad) post(first, n int) (int, []byte, error) {
	req, _ := http.NewRequest(http.MethodPost, l.url+"/v1/events", bytes.NewReader(diskBody(first, n)))
	req.Header.Set("Authorization", "Bearer "+l.key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Timeout: 60 * time.Second}).Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, body, nil
}

func (l *diskLoad) record(first, n, status int, body []byte) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.statuses[status]++
	switch status {
	case http.StatusOK:
		var out struct{ Receipts []diskReceipt }
		if err := json.Unmarshal(body, &out); err != nil || len(out.Receipts) != n {
			return fmt.Errorf("bad receipts %s: %v", body, err)
		}
		for _, r := range out.Receipts {
			l.acked[r.ID] = r
		}
		delete(l.refused, first)
		l.lastOK = time.Now()
	case http.StatusServiceUnavailable:
		l.refused[first] = n
		l.last503 = string(body)
		if l.first503.IsZero() {
			l.first503 = time.Now()
		}
	default:
		return fmt.Errorf("status %d: %s", status, body)
	}
	return nil
}

func startDiskLoad(t *testing.T, url, key string, clients int) *diskLoad {
	l := &diskLoad{url: url, key: key, acked: map[string]diskReceipt{},
		refused: map[int]int{}, statuses: map[int]int{}}
	l.start(t, clients)
	return l
}

// start runs clients posting new events until halt.
func (l *diskLoad) start(t *testing.T, clients int) {
	l.stop = make(chan struct{})
	for range clients {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for {
				select {
				case <-l.stop:
					return
				default:
				}
				first := int(l.next.Add(diskBatch)) - diskBatch
				status, body, err := l.post(first, diskBatch)
				if err != nil {
					t.Errorf("posting events: %v (the server must never drop the connection)", err)
					return
				}
				if err := l.record(first, diskBatch, status, body); err != nil {
					t.Error(err)
					return
				}
				// About 200 events/s per client: enough to fill and
				// drain the stores' queues, little enough for the tmpfs.
				time.Sleep(50 * time.Millisecond)
			}
		}()
	}
}

func (l *diskLoad) halt() {
	close(l.stop)
	l.wg.Wait()
}

// sinceOK reports whether an append succeeded after t.
func (l *diskLoad) okAfter(t time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lastOK.After(t)
}

// refusedAfter returns the body of a 503 answered after t, or "".
func (l *diskLoad) refusedAfter(t time.Time) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.first503.After(t) {
		return l.last503
	}
	return ""
}

func (l *diskLoad) resetRefused() {
	l.mu.Lock()
	l.first503 = time.Time{}
	l.mu.Unlock()
}

func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(timeout); !cond(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", timeout, what)
		}
	}
}

func getStatus(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// checkReadsWork fetches what courts and notaries read while writes are
// paused: the checkpoint, a leaf, a proof, the pages, the verify page.
func checkReadsWork(t *testing.T, url string) {
	t.Helper()
	for _, p := range []string{"/checkpoint", "/v1/log/entries/0", "/v1/log/proof/inclusion?index=0&size=1", "/tile/0/000.p/1",
		"/", "/log", "/verify", "/v1/log/checkpoints"} {
		if code, body := getStatus(t, url+p); code != http.StatusOK {
			t.Errorf("GET %s while writes are paused: %d %s", p, code, body)
		}
	}
}

// noInternals fails if a client-facing text shows paths or Pebble detail.
func noInternals(t *testing.T, what, body string) {
	t.Helper()
	for _, leak := range []string{"/tmp", "data/", ".sst", ".log", ".blob", "pebble", "MANIFEST"} {
		if strings.Contains(body, leak) {
			t.Errorf("%s shows %q: %s", what, leak, body)
		}
	}
}

var metricsURLRE = regexp.MustCompile(`metrics on (http://\S+)`)

// TestDiskFull fills the disks of the ledger and of the evidence store
// (each a tmpfs of its own) under load, frees them, and restarts on full
// disks: writes answer 503 in plain words, reads go on, /healthz names the
// degraded store, writes resume by themselves once there is room, the
// process never dies or spins, and every acknowledged event is there at
// the end with the index and leaf hash it was acknowledged with.
func TestDiskFull(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary on tmpfs mounts")
	}
	data := filepath.Join(t.TempDir(), "data")
	ledgerDir, evidenceDir := filepath.Join(data, "ledger"), filepath.Join(data, "evidence")
	tmpfsMount(t, ledgerDir, 320<<20)
	tmpfsMount(t, evidenceDir, 320<<20)
	notaryDir := filepath.Join(data, "notary") // the built-in notary office's store
	tmpfsMount(t, notaryDir, 320<<20)

	s := startServe(t, "--data", data, "--demo")
	defer func() {
		if t.Failed() {
			logs := s.logs()
			if f := os.Getenv("CUNZHENG_DISKFULL_LOG"); f != "" {
				os.WriteFile(f, []byte(logs), 0o600)
			}
			t.Logf("server log (last 6000 bytes):\n%s", logs[max(0, len(logs)-6000):])
		}
	}()
	key := waitDemo(t, s)
	load := startDiskLoad(t, s.url, key, 2)
	waitFor(t, "no events acknowledged", 30*time.Second, func() bool {
		load.mu.Lock()
		defer load.mu.Unlock()
		return len(load.acked) >= 300
	})
	_, cp0 := getStatus(t, s.url+"/checkpoint")

	for _, store := range []struct{ name, dir string }{{"evidence", evidenceDir}, {"ledger", ledgerDir}} {
		t.Logf("filling the %s disk", store.name)
		load.resetRefused()
		filled := time.Now()
		filler := fillDisk(t, store.dir)
		waitFor(t, "no write refused on a full "+store.name+" disk", 60*time.Second, func() bool { return load.refusedAfter(filled) != "" })
		body := load.refusedAfter(filled)
		if !strings.Contains(body, "Disk full") {
			t.Errorf("503 on a full %s disk does not say so: %s", store.name, body)
		}
		noInternals(t, "a 503 body", body)
		code, health := getStatus(t, s.url+"/healthz")
		if code != http.StatusServiceUnavailable || !strings.Contains(health, store.name+": degraded") || !strings.Contains(health, "disk full") {
			t.Errorf("/healthz on a full %s disk: %d %s", store.name, code, health)
		}
		noInternals(t, "/healthz", health)
		checkReadsWork(t, s.url)
		time.Sleep(2 * time.Second) // a while full, under load
		if s.cmd.ProcessState != nil {
			t.Fatalf("the server exited on a full %s disk:\n%s", store.name, s.logs())
		}
		os.Remove(filler)
		freed := time.Now()
		waitFor(t, "writes did not resume after freeing the "+store.name+" disk", 60*time.Second, func() bool { return load.okAfter(freed) })
		waitFor(t, "/healthz not ok after freeing the "+store.name+" disk", 30*time.Second, func() bool {
			code, _ := getStatus(t, s.url+"/healthz")
			return code == http.StatusOK
		})
		t.Logf("%s: writes resumed %s after the space was freed", store.name, load.lastOK.Sub(freed).Round(time.Millisecond))
	}
	load.halt()

	// Restart on full disks: it must answer /healthz and reads at once.
	s.stop(t)
	fillers := []string{fillDisk(t, ledgerDir), fillDisk(t, evidenceDir), fillDisk(t, notaryDir)}
	s = startServe(t, "--data", data, "--metrics-addr", "127.0.0.1:0")
	code, health := getStatus(t, s.url+"/healthz")
	if code != http.StatusServiceUnavailable || !strings.Contains(health, "ledger: degraded") || !strings.Contains(health, "evidence: degraded") ||
		!strings.Contains(health, "notary: degraded") {
		t.Errorf("/healthz after a restart on full disks: %d %s", code, health)
	}
	checkReadsWork(t, s.url)
	load.url = s.url
	load.start(t, 1)
	cpu0 := processCPUOf(t, s.cmd.Process.Pid)
	time.Sleep(3 * time.Second)
	cpu := processCPUOf(t, s.cmd.Process.Pid) - cpu0
	if s.cmd.ProcessState != nil {
		t.Fatalf("the server exited on full disks:\n%s", s.logs())
	}
	for _, dir := range []string{ledgerDir, evidenceDir, notaryDir} {
		names, _ := os.ReadDir(dir)
		if len(names) > 200 {
			t.Errorf("%d files in %s after 3 s on a full disk: Pebble is retrying without pause", len(names), dir)
		}
	}
	// A Pebble retrying its flush without pause keeps a core busy: 3 s of
	// CPU in 3 s. Paused writes and refused requests cost next to nothing.
	if cpu > 1.5 {
		t.Errorf("the server used %.1f s of CPU in 3 s on full disks: it spins", cpu)
	}
	for _, f := range fillers {
		os.Remove(f)
	}
	freed := time.Now()
	waitFor(t, "writes did not resume after a restart on full disks once freed", 60*time.Second, func() bool { return load.okAfter(freed) })
	load.halt()

	// Metrics: on their own listener, absent from the public one.
	m := metricsURLRE.FindStringSubmatch(s.logs())
	if m == nil {
		t.Fatalf("no metrics address printed:\n%s", s.logs())
	}
	if code, body := getStatus(t, m[1]); code != http.StatusOK || !strings.Contains(body, "cunzheng_ledger_appends_paused 0") {
		t.Errorf("--metrics-addr: %d %.300s", code, body)
	}
	if code, _ := getStatus(t, s.url+"/metrics"); code != http.StatusNotFound {
		t.Errorf("/metrics on the main listener with --metrics-addr: %d, want 404", code)
	}

	// The platform retries what was refused: every refused batch now gets
	// receipts, and retrying acknowledged ones returns the same receipts.
	retry := func(first, n int) {
		status, body, err := load.post(first, n)
		if err != nil || status != http.StatusOK {
			t.Fatalf("retrying events %d..%d: %d %s %v", first, first+n, status, body, err)
		}
		if err := load.record(first, n, status, body); err != nil {
			t.Fatal(err)
		}
	}
	load.mu.Lock()
	refused := map[int]int{}
	for first, n := range load.refused {
		refused[first] = n
	}
	before := map[string]diskReceipt{}
	for id, r := range load.acked {
		before[id] = r
	}
	load.mu.Unlock()
	for first, n := range refused {
		retry(first, n)
	}
	for first := 0; first < 3*diskBatch*50; first += 50 * diskBatch {
		retry(first, diskBatch)
	}
	load.mu.Lock()
	for id, r := range before {
		if load.acked[id] != r {
			t.Errorf("event %s: receipt %+v after the incidents, %+v before", id, load.acked[id], r)
		}
	}
	acked := load.acked
	t.Logf("statuses %v; %d events acknowledged, %d batches refused and retried", load.statuses, len(acked), len(refused))
	load.mu.Unlock()

	// Every acknowledged event is in the log as acknowledged.
	work := make(chan diskReceipt)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range work {
				resp, err := http.Get(fmt.Sprintf("%s/v1/log/entries/%d", s.url, r.Index))
				if err != nil {
					t.Errorf("event %s: %v", r.ID, err)
					continue
				}
				var e struct {
					LeafHash string `json:"leaf_hash"`
				}
				err = json.NewDecoder(resp.Body).Decode(&e)
				resp.Body.Close()
				h, _ := base64.StdEncoding.DecodeString(e.LeafHash)
				if resp.StatusCode != http.StatusOK || err != nil || hex.EncodeToString(h) != r.LeafHash {
					t.Errorf("event %s: leaf %d: %d, hash %x, acknowledged %s (%v)", r.ID, r.Index, resp.StatusCode, h, r.LeafHash, err)
				}
			}
		}()
	}
	for _, r := range acked {
		work <- r
	}
	close(work)
	wg.Wait()
	// The log only grew: the first checkpoint is consistent with the last.
	var oldSize int
	fmt.Sscanf(strings.Split(cp0, "\n")[1], "%d", &oldSize)
	waitFor(t, "no checkpoint after the retries", 30*time.Second, func() bool {
		code, _ := getStatus(t, fmt.Sprintf("%s/v1/log/proof/consistency?old=%d", s.url, oldSize))
		return code == http.StatusOK
	})
	s.stop(t)
}

// processCPUOf returns the user+system CPU seconds of process pid so far.
func processCPUOf(t *testing.T, pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Logf("cannot read the CPU time of %d: %v", pid, err)
		return 0
	}
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
	var u, s float64
	fmt.Sscanf(f[11], "%g", &u)
	fmt.Sscanf(f[12], "%g", &s)
	return (u + s) / 100 // clock ticks; USER_HZ is 100 on Linux
}
