package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/cunzheng/cunzheng/notary"
	"github.com/cunzheng/cunzheng/notary/notarytest"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/digitorus/timestamp"
	fnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"

	"github.com/cunzheng/cunzheng/ledger/tlogfmt"
)

// officeHandler serves an office's add-checkpoint over net/http with the
// tlog-witness statuses, for tests in this package (web has the real one).
func officeHandler(o *notary.Office) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /add-checkpoint", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, tlogfmt.MaxAddCheckpointBytes))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		cosig, err := o.AddCheckpoint(r.Context(), body)
		var ce *notary.ConflictError
		switch {
		case err == nil:
			w.Write(cosig)
		case errors.As(err, &ce):
			w.Header().Set("Content-Type", "text/x.tlog.size")
			w.WriteHeader(http.StatusConflict)
			fmt.Fprintf(w, "%d\n", ce.Size)
		case errors.Is(err, notary.ErrMalformed):
			http.Error(w, err.Error(), http.StatusBadRequest)
		case errors.Is(err, notary.ErrUnknownLog):
			http.Error(w, err.Error(), http.StatusNotFound)
		case errors.Is(err, notary.ErrBadSignature):
			http.Error(w, err.Error(), http.StatusForbidden)
		case errors.Is(err, notary.ErrBadProof):
			http.Error(w, err.Error(), http.StatusUnprocessableEntity)
		default:
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})
	return mux
}

// restartableServer serves h on a fixed loopback address that survives
// Stop/Start, like a notary process killed and started again.
type restartableServer struct {
	t    *testing.T
	addr string
	srv  *http.Server
}

func startServer(t *testing.T, addr string, h http.Handler) *restartableServer {
	t.Helper()
	var ln net.Listener
	var err error
	for range 50 {
		if ln, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	s := &restartableServer{t: t, addr: ln.Addr().String(), srv: &http.Server{Handler: h}}
	go s.srv.Serve(ln)
	t.Cleanup(func() { s.srv.Close() })
	return s
}

func (s *restartableServer) url() string { return "http://" + s.addr }

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestPusher(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	lg := newTestLog(t, "cunzheng.example/log")
	dirA, dirB := t.TempDir(), t.TempDir()
	a := newTestOffice(t, dirA, lg.logKey()) // in process
	defer a.Close()
	b := newTestOffice(t, dirB, lg.logKey()) // over HTTP, killed and restarted
	srvB := startServer(t, "127.0.0.1:0", officeHandler(b))
	tsa, err := notary.LoadOrCreateTSA(filepath.Join(dirA, "tsa"), "tsa.test")
	if err != nil {
		t.Fatal(err)
	}
	tsaSrv := startServer(t, "127.0.0.1:0", notarytest.TSAHandler(tsa.Respond))
	// A second authority, named as serve names its built-in one.
	builtinSrv := startServer(t, "127.0.0.1:0", notarytest.TSAHandler(tsa.Respond))
	builtin := TSA{URL: builtinSrv.url(), Name: "built-in", Roots: tsa.Roots()}

	// Office A already cosigned size 5 (pushed by someone else): the
	// pusher starts from old 0, gets 409 and resends from 5.
	lg.Append(5)
	s5 := lg.Publish()
	if _, err := a.AddCheckpoint(ctx, req(0, nil, lg.Notes[s5])); err != nil {
		t.Fatal(err)
	}

	p, err := NewPusher(PusherConfig{
		Log: lg,
		Offices: []Office{
			{Local: a, VKey: a.VerifierKey()},
			{URL: srvB.url(), VKey: b.VerifierKey()},
		},
		TSAs:       []TSA{builtin, {URL: tsaSrv.url(), Roots: tsa.Roots()}},
		MinBackoff: 10 * time.Millisecond,
		MaxBackoff: 100 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error)
	go func() { done <- p.Run(ctx) }()

	var sizes []uint64
	for i := range 20 {
		lg.Append(1 + i*13)
		sizes = append(sizes, lg.Publish())
	}
	last := sizes[len(sizes)-1]
	cosigned := func(size uint64, want int) func() bool {
		return func() bool {
			lg.Mu.Lock()
			defer lg.Mu.Unlock()
			return len(lg.Cosigs[size]) >= want && len(lg.Tokens[size]) >= 2
		}
	}
	for _, s := range sizes {
		waitFor(t, fmt.Sprintf("cosignatures and tokens on %d", s), cosigned(s, 2))
	}
	waitFor(t, "quorum", func() bool { return p.Status().Notarized == last })
	if st := p.Status(); st.TSAs[0].URL != "built-in" || st.TSAs[1].URL != tsaSrv.url() {
		t.Errorf("TSA status = %+v, want the first named built-in", st.TSAs)
	}

	// Every stored cosignature verifies with note, beside the log's key.
	va, _ := fnote.NewVerifierForCosignatureV1(a.VerifierKey())
	vb, _ := fnote.NewVerifierForCosignatureV1(b.VerifierKey())
	lg.Mu.Lock()
	for _, s := range sizes {
		full := bytes.Clone(lg.Notes[s])
		for _, l := range lg.Cosigs[s] {
			full = append(full, l...)
		}
		n, err := note.Open(full, note.VerifierList(lg.logKey().Verifier, va, vb))
		if err != nil || len(n.Sigs) != 3 {
			t.Errorf("checkpoint %d: %v, %d verified signatures", s, err, len(n.Sigs))
		}
		for _, tok := range lg.Tokens[s] {
			ts, err := timestamp.Parse(tok)
			if err != nil || !bytes.Equal(ts.HashedMessage, sha(lg.Notes[s])) {
				t.Errorf("checkpoint %d: token: %v", s, err)
			}
		}
	}
	lg.Mu.Unlock()

	// Kill office B; the log keeps publishing and the pusher never blocks it.
	srvB.srv.Close()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	var during []uint64
	for range 5 {
		lg.Append(100)
		during = append(during, lg.Publish())
	}
	for _, s := range during {
		waitFor(t, "office A keeps cosigning", cosigned(s, 1))
	}
	if st := p.Status(); st.Notarized != last || st.Notaries[1].LastError == "" {
		t.Errorf("status while B is down: %+v", st)
	}
	// Restart B on the same address: it catches up, checking consistency
	// from the size it last cosigned, and cosigns the newest checkpoint.
	b = newTestOffice(t, dirB, lg.logKey())
	defer b.Close()
	startServer(t, srvB.addr, officeHandler(b))
	lg.Append(7)
	newest := lg.Publish()
	waitFor(t, "B cosigns the newest checkpoint", cosigned(newest, 2))
	waitFor(t, "quorum after restart", func() bool { return p.Status().Notarized == newest })
	logs, _ := b.Logs(ctx)
	if logs[0].Size != newest {
		t.Errorf("B holds %d, want %d", logs[0].Size, newest)
	}
	if alarms, _ := b.Alarms(ctx); len(alarms) != 0 {
		t.Errorf("unexpected alarms: %d", len(alarms))
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}

	// A restarted pusher counts what is stored (the quorum comes back)
	// and neither re-sends nor re-stamps old checkpoints.
	counts := func() (c, k int) {
		lg.Mu.Lock()
		defer lg.Mu.Unlock()
		for _, s := range lg.Sizes {
			c += len(lg.Cosigs[s])
			k += len(lg.Tokens[s])
		}
		return
	}
	c0, k0 := counts()
	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	p2, err := NewPusher(PusherConfig{Log: lg,
		Offices:    []Office{{Local: a, VKey: a.VerifierKey()}, {URL: srvB.url(), VKey: b.VerifierKey()}},
		TSAs:       []TSA{builtin, {URL: tsaSrv.url(), Roots: tsa.Roots()}},
		MinBackoff: 10 * time.Millisecond, MaxBackoff: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	go p2.Run(ctx2)
	waitFor(t, "quorum from stored cosignatures", func() bool { return p2.Status().Notarized == newest })
	if c, k := counts(); c != c0 || k != k0 {
		t.Errorf("restart added %d cosignatures and %d tokens to old checkpoints", c-c0, k-k0)
	}
	lg.Append(3)
	after := lg.Publish()
	waitFor(t, "the next checkpoint", cosigned(after, 2))
	if c, k := counts(); c != c0+2 || k != k0+2 {
		t.Errorf("after one more checkpoint: %d cosignatures and %d tokens added, want 2 and 2", c-c0, k-k0)
	}
}

// TestPusherFetch: an office that pulls the log itself (not pushed to)
// cosigns what it verified from the tiles, and the pusher fetches those
// cosignatures into the log.
func TestPusherFetch(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	lg := newTestLog(t, "cunzheng.example/log")
	c := newTestOffice(t, t.TempDir(), lg.logKey())
	defer c.Close()
	// officeHandler serves only add-checkpoint; /v1/logs comes from web in
	// production, reproduced here with the same JSON shape.
	mux := http.NewServeMux()
	mux.Handle("/", officeHandler(c))
	mux.HandleFunc("GET /v1/logs", func(w http.ResponseWriter, r *http.Request) {
		logs, err := c.Logs(r.Context())
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"logs": logs})
	})
	mux.HandleFunc("GET /v1/alarms", func(w http.ResponseWriter, r *http.Request) {
		a, err := c.Alarms(r.Context())
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"alarms": a})
	})
	srvC := startServer(t, "127.0.0.1:0", mux)
	logSrv := lg.Server()
	pulling := make(chan error)
	go func() { pulling <- c.Pull(ctx, notary.PullConfig{URL: logSrv.URL, Interval: 20 * time.Millisecond}) }()
	defer func() {
		cancel()
		if err := <-pulling; err != nil {
			t.Errorf("Pull: %v", err)
		}
	}()

	p, err := NewPusher(PusherConfig{Log: lg, Offices: []Office{{URL: srvC.url(), VKey: c.VerifierKey(), Fetch: true}},
		FetchInterval: 20 * time.Millisecond, MinBackoff: 10 * time.Millisecond, AlarmInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	go p.Run(ctx)
	for i := range 5 {
		lg.Append(100 + i)
		s := lg.Publish()
		waitFor(t, fmt.Sprintf("C's cosignature on %d", s), func() bool {
			lg.Mu.Lock()
			defer lg.Mu.Unlock()
			return len(lg.Cosigs[s]) == 1
		})
		lg.Mu.Lock()
		err := checkCosig(c, lg.Notes[s], lg.Cosigs[s][0])
		lg.Mu.Unlock()
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, "quorum", func() bool { return p.Status().Notarized == s })
	}
	waitFor(t, "the remote office's alarm count", func() bool { return p.Status().Notaries[0].Alarms == 0 })
}

func TestParseOffice(t *testing.T) {
	o := newTestOffice(t, t.TempDir(), newTestLog(t, "x.example/log").logKey())
	defer o.Close()
	for _, tc := range []struct {
		in      string
		wantURL string
		ok      bool
	}{
		{"http://127.0.0.1:8080/notary/=" + o.VerifierKey(), "http://127.0.0.1:8080/notary", true},
		{"https://n.example/w?a=b=" + o.VerifierKey(), "https://n.example/w?a=b", true},
		{"http://n.example/", "", false},
		{o.VerifierKey(), "", false},
		{"http://n.example=not+a+key", "", false},
	} {
		n, err := ParseOffice(tc.in)
		if (err == nil) != tc.ok || n.URL != tc.wantURL {
			t.Errorf("ParseOffice(%q) = %+v, %v", tc.in, n, err)
		}
	}
}

// TestPusherGivesUpOnFork: an office that holds another checkpoint of the
// same size answers 409 forever; the pusher moves on to the next one.
func TestPusherGivesUpOnFork(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	lg := newTestLog(t, "cunzheng.example/log")
	o := newTestOffice(t, t.TempDir(), lg.logKey())
	defer o.Close()
	lg.Append(4)
	s4 := lg.Publish()
	// The office was shown another checkpoint of size 4.
	if _, err := o.AddCheckpoint(ctx, req(0, nil, lg.Sign(s4, lg.Leaves[0]))); err != nil {
		t.Fatal(err)
	}
	p, err := NewPusher(PusherConfig{Log: lg, Offices: []Office{{Local: o, VKey: o.VerifierKey()}},
		MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond, AlarmInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { p.Run(ctx); close(done) }()
	waitFor(t, "the pusher to report the refusal", func() bool { return p.Status().Notaries[0].LastError != "" })
	waitFor(t, "the office's alarm in the status", func() bool {
		n := p.Status().Notaries[0]
		return n.Alarms == 1 && n.Unacknowledged == 1
	})
	if _, _, err := o.Acknowledge(ctx, 0, ""); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the acknowledgement in the status", func() bool {
		n := p.Status().Notaries[0]
		return n.Alarms == 1 && n.Unacknowledged == 0
	})
	lg.Mu.Lock()
	if len(lg.Cosigs[s4]) != 0 {
		t.Error("the forked size got a cosignature")
	}
	lg.Mu.Unlock()
	if alarms, _ := o.Alarms(ctx); len(alarms) != 1 || alarms[0].Kind != notary.AlarmFork {
		t.Errorf("alarms: %d", len(alarms))
	}
	cancel()
	<-done
}

// TestPusherBackfill: at start the pusher looks back only Backfill leaves.
func TestPusherBackfill(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	lg := newTestLog(t, "cunzheng.example/log")
	o := newTestOffice(t, t.TempDir(), lg.logKey())
	defer o.Close()
	var sizes []uint64
	for range 10 {
		lg.Append(10)
		sizes = append(sizes, lg.Publish())
	}
	p, err := NewPusher(PusherConfig{Log: lg, Offices: []Office{{Local: o, VKey: o.VerifierKey()}}, Backfill: 25})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { p.Run(ctx); close(done) }()
	waitFor(t, "the newest checkpoint", func() bool { return p.Status().Notarized == 100 })
	cancel()
	<-done
	lg.Mu.Lock()
	defer lg.Mu.Unlock()
	for _, s := range sizes {
		if want := s > 75; (len(lg.Cosigs[s]) == 1) != want {
			t.Errorf("checkpoint %d: %d cosignatures, want cosigned=%v", s, len(lg.Cosigs[s]), want)
		}
	}
}

// TestPusherWithOpenSSLTSA: the log side gets a token for every checkpoint
// from an independent TSA (`openssl ts -reply`), and openssl verifies each
// stored token against that TSA's CA and the checkpoint note.
func TestPusherWithOpenSSLTSA(t *testing.T) {
	notarytest.NeedOpenSSL(t)
	srv, roots := notarytest.OpenSSLTSA(t)
	lg := newTestLog(t, "cunzheng.example/log")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p, err := NewPusher(PusherConfig{Log: lg, TSAs: []TSA{{URL: srv.URL, Roots: roots}}, MinBackoff: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { p.Run(ctx); close(done) }()
	var sizes []uint64
	for i := range 3 {
		lg.Append(1 + i)
		sizes = append(sizes, lg.Publish())
	}
	waitFor(t, "a token per checkpoint", func() bool {
		lg.Mu.Lock()
		defer lg.Mu.Unlock()
		for _, s := range sizes {
			if len(lg.Tokens[s]) != 1 {
				return false
			}
		}
		return true
	})
	cancel()
	<-done
	if st := p.Status(); st.TSAs[0].Size != sizes[2] || st.TSAs[0].Time.IsZero() {
		t.Errorf("TSA status = %+v", st.TSAs[0])
	}
	dir := t.TempDir()
	for _, s := range sizes {
		lg.Mu.Lock()
		tok, msg := lg.Tokens[s][0], lg.Notes[s]
		lg.Mu.Unlock()
		if err := os.WriteFile(filepath.Join(dir, "tok.der"), tok, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "note"), msg, 0o600); err != nil {
			t.Fatal(err)
		}
		if out, err := notarytest.RunCmd(t, dir, "openssl", "ts", "-verify", "-token_in", "-in", "tok.der", "-data", "note", "-CAfile", notarytest.OpenSSLCAFile(t, srv)); err != nil {
			t.Fatalf("checkpoint %d: openssl ts -verify: %v\n%s", s, err, out)
		}
	}
}
