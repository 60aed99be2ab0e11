package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	fnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/cunzheng/cunzheng/ledger"
	"github.com/cunzheng/cunzheng/ledger/tlogfmt"
	"github.com/cunzheng/cunzheng/notary"
	"github.com/cunzheng/cunzheng/web"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// notaryProc is a `cunzheng notary` process.
type notaryProc struct {
	t    *testing.T
	bin  string
	args []string
	addr string
	cmd  *exec.Cmd
}

func (p *notaryProc) start() {
	p.t.Helper()
	p.cmd = exec.Command(p.bin, append([]string{"notary", "--addr", p.addr}, p.args...)...)
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		p.t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	listening := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		once := sync.Once{}
		for sc.Scan() {
			if strings.Contains(sc.Text(), "listening on") {
				once.Do(func() { close(listening) })
			}
		}
	}()
	select {
	case <-listening:
	case <-time.After(30 * time.Second):
		p.t.Fatal("notary process did not start")
	}
	p.t.Cleanup(p.kill)
}

func (p *notaryProc) kill() {
	if p.cmd != nil && p.cmd.Process != nil {
		p.cmd.Process.Kill()
		p.cmd.Wait()
	}
}

func (p *notaryProc) url() string { return "http://" + p.addr }

func getJSON(t *testing.T, url string, v any) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("%s: %v", url, err)
	}
	return resp.StatusCode
}

// TestNotaryProcesses: one log, two notary office processes (A pushed to,
// B pulling tiles itself), appends under load, A killed -9 and restarted;
// every checkpoint gets A's cosignature and a token, the newest also B's,
// note verifies the served checkpoint with both, B answers fingerprints
// from its own copy, a fork is refused and kept as evidence and a rollback
// gets 409.
func TestNotaryProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs processes")
	}
	bin, err := cunzhengBinary() // built once, shared with e2e_test.go
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	data := t.TempDir()
	logger := slog.New(slog.DiscardHandler)
	l, keys, err := openLedger(ctx, filepath.Join(data, "log"), "", 50*time.Millisecond, logger, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	logVKey := keys.VerifierKeys()[0]
	logSrv := httptest.NewServer(web.New(web.Config{Log: l}))
	defer logSrv.Close()

	vkeyOf := func(dir string) string {
		out, err := exec.Command(bin, "notary", "keys", "--data", dir, "--name", filepath.Base(dir)+".test").Output()
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(out))
	}
	dirA, dirB := filepath.Join(data, "a"), filepath.Join(data, "b")
	vkA, vkB := vkeyOf(dirA), vkeyOf(dirB)
	if again := vkeyOf(dirA); again != vkA {
		t.Fatalf("key not reused: %s vs %s", again, vkA)
	}
	if fi, err := os.Stat(notaryKeyFile(dirA)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode: %v %v", fi.Mode(), err)
	}
	a := &notaryProc{t: t, bin: bin, addr: freeAddr(t), args: []string{"--data", dirA, "--log", logVKey}}
	b := &notaryProc{t: t, bin: bin, addr: freeAddr(t), args: []string{"--data", dirB, "--log", logVKey, "--pull", logSrv.URL}}
	a.start()
	b.start()

	// A is pushed to; B is not: it pulls the log's tiles itself and the
	// log fetches its cosignatures.
	f := &notarizeFlags{notaries: repeated{a.url() + "=" + vkA}, fetch: repeated{b.url() + "=" + vkB}, maxBackoff: 500 * time.Millisecond}
	n, err := setupNotarization(ctx, filepath.Join(data, "log"), l, keys, f, logger, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if n.Office != nil || n.TSA == nil {
		t.Fatalf("notarization with two notaries: office %v tsa %v", n.Office, n.TSA)
	}
	pdone := make(chan struct{})
	go func() { n.Pusher.Run(ctx); close(pdone) }()

	var leafHashes []tlog.Hash
	var mu sync.Mutex
	appendLoad := func(workers, each int) {
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				for i := range each {
					r, err := l.Append(ctx, fmt.Appendf(nil, "event %d/%d %d", w, i, time.Now().UnixNano()))
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					leafHashes = append(leafHashes, r.Hash)
					mu.Unlock()
				}
			})
		}
		wg.Wait()
	}
	t0 := time.Now()
	appendLoad(8, 250)
	a.kill() // kill -9 while the log keeps appending
	appendLoad(8, 250)
	time.Sleep(300 * time.Millisecond)
	a.start()
	appendLoad(8, 250)

	// Every published checkpoint gets a token and both cosignatures: A's,
	// pushed to it, and B's, which B makes stepping through every checkpoint
	// the log lists and the log fetches back.
	lv, _ := note.NewVerifier(logVKey)
	va, _ := fnote.NewVerifierForCosignatureV1(vkA)
	vb, _ := fnote.NewVerifierForCosignatureV1(vkB)
	by := func(c ledger.Checkpoint, v note.Verifier) bool {
		full := bytes.Clone(c.Note)
		for _, l := range c.Cosignatures {
			full = append(full, l...)
		}
		n, err := note.Open(full, note.VerifierList(v))
		return err == nil && len(n.Sigs) == 1
	}
	deadline := time.Now().Add(60 * time.Second)
	var cps []ledger.Checkpoint
	var fromB int
	for {
		cps = cps[:0]
		var after uint64
		for {
			page, err := l.Checkpoints(ctx, after, 100)
			if err != nil {
				t.Fatal(err)
			}
			if len(page) == 0 {
				break
			}
			cps = append(cps, page...)
			after = page[len(page)-1].Size
		}
		missing := 0
		fromB = 0
		var newest ledger.Checkpoint
		for _, c := range cps {
			full, err := l.CheckpointAt(ctx, c.Size)
			if err != nil {
				t.Fatal(err)
			}
			if !by(full, va) || !by(full, vb) || len(full.Timestamps) < 1 {
				missing++
			}
			if by(full, vb) {
				fromB++
			}
			newest = full
		}
		if missing == 0 && newest.Size == l.Size() && by(newest, vb) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d checkpoints lack A's or B's cosignature or a token (B cosigned %d), newest has B's: %v (%+v)", missing, len(cps), fromB, by(newest, vb), n.Pusher.Status())
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("%d checkpoints, %d leaves: all cosigned by A (pushed) and B (pulling, %d) and time-stamped, %v after the first append", len(cps), l.Size(), fromB, time.Since(t0))

	// The served checkpoint verifies with note: log key plus both offices.
	resp, err := http.Get(logSrv.URL + "/checkpoint")
	if err != nil {
		t.Fatal(err)
	}
	served, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	nt, err := note.Open(served, note.VerifierList(lv, va, vb))
	if err != nil || len(nt.Sigs) != 3 {
		t.Fatalf("served checkpoint: %v (%d sigs)\n%s", err, len(nt.Sigs), served)
	}

	// B holds the fingerprints itself.
	total := l.Size()
	waitUntil(t, "B pulls every leaf", func() bool {
		var logs struct{ Logs []notary.LogState }
		getJSON(t, b.url()+"/v1/logs", &logs)
		return len(logs.Logs) == 1 && logs.Logs[0].PulledSize >= total
	})
	for _, h := range []tlog.Hash{leafHashes[0], leafHashes[len(leafHashes)/2], leafHashes[len(leafHashes)-1]} {
		var fp struct {
			Found    bool
			Holdings []notary.Fingerprint
		}
		if code := getJSON(t, b.url()+"/v1/fingerprints/"+hex.EncodeToString(h[:]), &fp); code != 200 || !fp.Found {
			t.Fatalf("fingerprint %x: %d %+v", h, code, fp)
		}
		idx, err := l.IndexOf(ctx, h)
		if err != nil || fp.Holdings[0].Index != idx {
			t.Fatalf("fingerprint %x at %d, log says %d (%v)", h, fp.Holdings[0].Index, idx, err)
		}
	}

	// A, killed and restarted, caught up through consistency proofs alone.
	var alarms struct{ Alarms []notary.Alarm }
	if getJSON(t, a.url()+"/v1/alarms", &alarms); len(alarms.Alarms) != 0 {
		t.Fatalf("alarms before the fork: %+v", alarms)
	}

	// Fork: the log's key signs another root for a size A cosigned.
	last := cps[len(cps)-1]
	body := fmt.Sprintf("%s\n%d\n%s\n", l.Origin(), last.Size, base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{9}, 32)))
	forked, err := note.Sign(&note.Note{Text: body}, keys.Signers()...)
	if err != nil {
		t.Fatal(err)
	}
	post := func(old uint64, msg []byte) (int, string) {
		r := &tlogfmt.AddCheckpoint{Old: old, Checkpoint: msg}
		resp, err := http.Post(a.url()+"/add-checkpoint", "text/plain", bytes.NewReader(r.Marshal()))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := post(last.Size, forked); code != 409 || body != fmt.Sprintf("%d\n", last.Size) {
		t.Errorf("fork: %d %q", code, body)
	}
	getJSON(t, a.url()+"/v1/alarms", &alarms)
	if len(alarms.Alarms) != 1 || alarms.Alarms[0].Kind != notary.AlarmFork || !bytes.Equal(alarms.Alarms[0].Got, forked) {
		t.Errorf("alarms after fork: %+v", alarms)
	}
	// Rollback: an older checkpoint is refused with the size A knows.
	if code, body := post(cps[0].Size, cps[0].Note); code != 409 || body != fmt.Sprintf("%d\n", last.Size) {
		t.Errorf("rollback: %d %q", code, body)
	}

	cancel()
	<-pdone
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out: %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestBuiltinNotarization: serve's default with no notary configured: a
// built-in office and TSA in the process, each with its own keys and store;
// every checkpoint is cosigned and time-stamped, the token verifies with
// `openssl ts -verify`, the office is served under /notary/ and the
// /notaries page shows the chain.
func TestBuiltinNotarization(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	data := t.TempDir()
	logger := slog.New(slog.DiscardHandler)
	l, keys, err := openLedger(ctx, data, "", 20*time.Millisecond, logger, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	n, err := setupNotarization(ctx, data, l, keys, &notarizeFlags{}, logger, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if n.Office == nil || n.TSA == nil {
		t.Fatal("no built-in office or TSA")
	}
	// One path to the built-in TSA: the report signer and the pusher both
	// post to its loopback server.
	if u := n.ReportTSAURL(); !strings.HasPrefix(u, "http://127.0.0.1:") || u != n.builtinTSAURL {
		t.Errorf("report signer's TSA %q, built-in TSA served at %q", u, n.builtinTSAURL)
	}
	if st := n.Pusher.Status(); len(st.TSAs) != 1 || st.TSAs[0].URL != "built-in" {
		t.Errorf("pusher's TSAs %+v, want the built-in one", st.TSAs)
	}
	for _, f := range []string{notaryKeyFile(data), filepath.Join(notaryTSADir(data), "tsa.key")} {
		if fi, err := os.Stat(f); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v %v", f, fi.Mode(), err)
		}
	}
	pctx, stop := context.WithCancel(ctx)
	pdone := make(chan struct{})
	go func() { n.Pusher.Run(pctx); close(pdone) }()
	defer func() { stop(); <-pdone }()
	srv := httptest.NewServer(web.New(web.Config{Log: l, Mounts: web.NotaryMounts(n.Office, n.TSA,
		web.NotariesPage{Log: l, Pusher: n.Pusher, Office: n.Office}, logger)}))
	defer srv.Close()

	for i := range 50 {
		if _, err := l.Append(ctx, fmt.Appendf(nil, "event %d", i)); err != nil {
			t.Fatal(err)
		}
	}
	var cp ledger.Checkpoint
	waitUntil(t, "the newest checkpoint cosigned and stamped", func() bool {
		cp, err = l.Checkpoint(ctx)
		return err == nil && cp.Size == 50 && len(cp.Cosignatures) == 1 && len(cp.Timestamps) == 1
	})
	waitUntil(t, "the quorum", func() bool { return n.Pusher.Status().Notarized == 50 })

	var logs struct {
		Key  string
		Logs []notary.LogState
	}
	if code := getJSON(t, srv.URL+"/notary/v1/logs", &logs); code != 200 || logs.Logs[0].Size != 50 {
		t.Fatalf("/notary/v1/logs: %d %+v", code, logs)
	}
	lv, _ := tlogfmt.NewVerifier(mustKeys(t, data).VerifierKeys()[0])
	cv, _ := fnote.NewVerifierForCosignatureV1(logs.Key)
	if nt, err := note.Open(cp.CosignedNote(), note.VerifierList(lv, cv)); err != nil || len(nt.Sigs) != 2 {
		t.Fatalf("cosigned note: %v", err)
	}

	resp, err := http.Get(srv.URL + "/notaries")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"公证处", "Notary offices", logs.Key[:strings.IndexByte(logs.Key, '+')], "built-in", "无告警"} {
		if !strings.Contains(string(page), want) {
			t.Errorf("/notaries lacks %q", want)
		}
	}

	if _, err := exec.LookPath("openssl"); err != nil {
		t.Fatal("openssl not installed: run make deps (apt-get install openssl)")
	}
	dir := t.TempDir()
	caResp, err := http.Get(srv.URL + "/notary/v1/tsa/ca.pem")
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := io.ReadAll(caResp.Body)
	caResp.Body.Close()
	for name, b := range map[string][]byte{"ca.pem": ca, "tok.der": cp.Timestamps[0], "note": cp.Note} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("openssl", "ts", "-verify", "-token_in", "-in", "tok.der", "-data", "note", "-CAfile", "ca.pem")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("openssl ts -verify: %v\n%s", err, out)
	}
}

func mustKeys(t *testing.T, data string) *ledger.Keys {
	k, err := ledger.LoadOrCreateKeys(filepath.Join(data, "keys"), "")
	if err != nil {
		t.Fatal(err)
	}
	return k
}
