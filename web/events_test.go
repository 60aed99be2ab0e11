package web

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/cunzheng/cunzheng/evidence"
	"github.com/cunzheng/cunzheng/evidence/event"
	"github.com/cunzheng/cunzheng/evidence/evidencetest"
	"github.com/cunzheng/cunzheng/evidence/ledgerlog"
	"github.com/cunzheng/cunzheng/ledger"
)

type eventsEnv struct {
	backend
	srv *httptest.Server
}

// backend is what the web tests serve: a ledger on in-memory Pebble and an
// evidence service with the tenant 伟伟集团, both logging JSON to logBuf.
type backend struct {
	log    *ledger.Log
	svc    *evidence.Service
	dir    string
	master evidence.MasterKey
	key    string // 伟伟集团's key, both roles
	logBuf *syncBuffer
	logger *slog.Logger
}

func newBackend(t testing.TB) backend {
	t.Helper()
	b := backend{dir: t.TempDir(), logBuf: &syncBuffer{}}
	b.logger = slog.New(slog.NewJSONHandler(b.logBuf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	store, err := ledger.OpenPebbleStore("ledger", ledger.PebbleOptions{FS: vfs.NewMem()})
	if err != nil {
		t.Fatal(err)
	}
	keys, err := ledger.LoadOrCreateKeys(filepath.Join(b.dir, "keys"), "cunzheng.example/test")
	if err != nil {
		t.Fatal(err)
	}
	b.log, err = ledger.Open(context.Background(), ledger.Config{Store: store, Origin: keys.Name(), Signers: keys.Signers(),
		CheckpointInterval: 10 * time.Millisecond, Logger: b.logger})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.log.Close() })
	b.master, _ = evidence.GenerateMasterKey()
	if _, b.key, err = evidence.CreateTenant(filepath.Join(b.dir, "evidence"), b.master, "伟伟集团", nil, time.Now()); err != nil {
		t.Fatal(err)
	}
	b.svc, err = evidence.Open(context.Background(), evidence.Config{
		Dir: filepath.Join(b.dir, "evidence"), Master: b.master, Log: ledgerlog.New(b.log),
		Logger: b.logger, FS: vfs.NewMem(), ReloadInterval: -1,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.svc.Close() })
	return b
}

// newKey creates another tenant and returns its key.
func (b *backend) newKey(t testing.TB, name string, roles ...evidence.Role) string {
	t.Helper()
	_, k, err := evidence.CreateTenant(filepath.Join(b.dir, "evidence"), b.master, name, roles, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := b.svc.ReloadTenants(); err != nil {
		t.Fatal(err)
	}
	return k
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) Bytes() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]byte(nil), s.b.Bytes()...)
}

func newEventsEnv(t *testing.T) *eventsEnv {
	t.Helper()
	e := &eventsEnv{backend: newBackend(t)}
	logger := e.logger
	cfg := Config{Log: e.log, Logger: logger}
	cfg.Mounts = append(cfg.Mounts, MountEvents(e.svc, logger))
	srv := New(cfg)
	e.srv = httptest.NewServer(srv)
	t.Cleanup(e.srv.Close)
	return e
}

func (e *eventsEnv) do(t *testing.T, method, path, key, ctype string, body []byte) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, e.srv.URL+path, bytes.NewReader(body))
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func demoBody(t *testing.T) []byte {
	b, err := os.ReadFile("../evidence/testdata/demo_batch.json")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

const jsonType = "application/json"

func TestEventsAPI(t *testing.T) {
	e := newEventsEnv(t)
	demo := demoBody(t)

	status, body := e.do(t, "POST", "/v1/events", e.key, jsonType, demo)
	if status != 200 {
		t.Fatalf("ingest: %d %s", status, body)
	}
	var got struct{ Receipts []evidence.Receipt }
	if err := json.Unmarshal(body, &got); err != nil || len(got.Receipts) != 6 {
		t.Fatalf("receipts: %s", body)
	}
	// Retry: same answer, no new leaves.
	if status, body2 := e.do(t, "POST", "/v1/events", e.key, "application/json; charset=utf-8", demo); status != 200 || !bytes.Equal(body, body2) {
		t.Errorf("retry: %d %s", status, body2)
	}
	if e.log.Size() != 6 {
		t.Errorf("ledger size %d", e.log.Size())
	}

	legal := e.newKey(t, "other", evidence.RoleLegal)
	deep := []byte(strings.Repeat(`{"a":`, 40) + "1" + strings.Repeat("}", 40))
	bad := bytes.Replace(demo, []byte(`"page":2,"x":0.60`), []byte(`"page":0,"x":0.60`), 1)
	// A signature of a contract never sent, and one citing an intent not
	// recorded: refused with 422 (the demo's own events are recorded).
	demoSigned := func(contract, intent string) []byte {
		var d struct{ Events []map[string]any }
		if err := json.Unmarshal(demo, &d); err != nil {
			t.Fatal(err)
		}
		for _, ev := range d.Events {
			if ev["kind"] == "contract.signed" {
				ev["id"] = "late-signed"
				ev["contract"].(map[string]any)["id"] = contract
				ev["data"].(map[string]any)["intents"] = []any{intent}
				b, _ := json.Marshal(ev)
				return b
			}
		}
		t.Fatal("no signature in the demo")
		return nil
	}
	neverSent := demoSigned("2125270852621565999", "demo-intent")
	unknownIntent := demoSigned("2125270852621565954", "nope")
	tests := []struct {
		name, method, path, key, ctype string
		body                           []byte
		status                         int
		want                           string
	}{
		{"no key", "POST", "/v1/events", "", jsonType, demo, 401, "missing or unknown API key"},
		{"unknown key", "POST", "/v1/events", "czk_x", jsonType, demo, 401, "missing or unknown"},
		{"legal cannot ingest", "POST", "/v1/events", legal, jsonType, demo, 403, "lacks the role"},
		{"wrong content type", "POST", "/v1/events", e.key, "text/plain", demo, 415, "application/json"},
		{"no content type", "POST", "/v1/events", e.key, "", demo, 415, "application/json"},
		{"too large", "POST", "/v1/events", e.key, jsonType, bytes.Repeat([]byte(" "), event.MaxBodyBytes+1), 413, "larger than"},
		{"deep", "POST", "/v1/events", e.key, jsonType, deep, 400, "nested deeper"},
		{"invalid utf8", "POST", "/v1/events", e.key, jsonType, []byte("{\"id\":\"\xc3\x28\"}"), 400, "not valid UTF-8"},
		{"batch with one bad event", "POST", "/v1/events", e.key, jsonType, bad, 400, `"path":"$.events[4].data.positions[0].page"`},
		{"signature never sent", "POST", "/v1/events", e.key, jsonType, neverSent, 422, `签署的合同未发送`},
		{"signature never sent, English", "POST", "/v1/events", e.key, jsonType, neverSent, 422, `contract.signed of a contract never sent`},
		{"signature citing an unknown intent", "POST", "/v1/events", e.key, jsonType, unknownIntent, 422, `$.data.intents[0]: 意愿认证 \"nope\" 不存在`},
		{"contract", "GET", "/v1/contracts/2125270852621565954", legal, "", nil, 404, `{"error":"未找到 / not found"}`},
		{"absent contract", "GET", "/v1/contracts/nope", legal, "", nil, 404, `{"error":"未找到 / not found"}`},
		{"own contract", "GET", "/v1/contracts/2125270852621565954", e.key, "", nil, 200, `"status":"contract.completed"`},
		{"search", "GET", "/v1/contracts?name=劳动", e.key, "", nil, 200, `"id":"2125270852621565954"`},
		{"search bad limit", "GET", "/v1/contracts?limit=0", e.key, "", nil, 400, "limit"},
		{"schema", "GET", "/v1/schema/events", "", "", nil, 200, `"$schema": "https://json-schema.org/draft/2020-12/schema"`},
		{"schema page", "GET", "/docs/events", "", "", nil, 200, "contract.signed"},
		{"schema page fields", "GET", "/docs/events", "", "", nil, 200, `<code>positions</code> <span class="req">required</span></td><td><code>array of object</code>`},
		{"schema page enums", "GET", "/docs/events", "", "", nil, 200, `<code>sms_code | face | password | otp_token | liveness</code>`},
		{"doc wrong type", "PUT", "/v1/documents/" + strings.Repeat("a", 64), e.key, jsonType, []byte("x"), 415, "application/pdf"},
		{"doc mismatch", "PUT", "/v1/documents/" + strings.Repeat("a", 64), e.key, "application/pdf", []byte("x"), 400, "SHA-256"},
		{"erase unknown", "DELETE", "/v1/subjects/nobody", e.key, "", nil, 404, "not found"},
		{"legal cannot erase", "DELETE", "/v1/subjects/18501775544", legal, "", nil, 403, "role"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body := e.do(t, tc.method, tc.path, tc.key, tc.ctype, tc.body)
			if status != tc.status || !strings.Contains(string(body), tc.want) {
				t.Errorf("%s %s = %d %.300s\nwant %d containing %s", tc.method, tc.path, status, body, tc.status, tc.want)
			}
		})
	}
	if e.log.Size() != 6 {
		t.Errorf("rejected requests changed the ledger: size %d", e.log.Size())
	}

	pdf := []byte("%PDF-1.7\n劳动合同\n%%EOF\n")
	sum := fmt.Sprintf("%x", sha256Sum(pdf))
	if status, body := e.do(t, "PUT", "/v1/documents/"+sum, e.key, "application/pdf", pdf); status != 201 {
		t.Errorf("put document: %d %s", status, body)
	}
	if status, body := e.do(t, "GET", "/v1/documents/"+sum, e.key, "", nil); status != 200 || !bytes.Equal(body, pdf) {
		t.Errorf("get document: %d %q", status, body)
	}
	if status, _ := e.do(t, "GET", "/v1/documents/"+sum, legal, "", nil); status != 404 {
		t.Errorf("other tenant's document: %d", status)
	}
	status, body = e.do(t, "DELETE", "/v1/subjects/18501775544", e.key, "", nil)
	if status != 200 || !strings.Contains(string(body), `"index":6`) {
		t.Errorf("erase: %d %s", status, body)
	}
}

// TestNoPIIServed ingests events full of personal data over HTTP and checks
// that none of it is in the checkpoint, tiles, entry bundles or log lines.
func TestNoPIIServed(t *testing.T) {
	e := newEventsEnv(t)
	if status, body := e.do(t, "POST", "/v1/events", e.key, jsonType, demoBody(t)); status != 200 {
		t.Fatalf("ingest: %d %s", status, body)
	}
	// A contract using every 实名认证 and 意愿认证 method of the schema.
	flows, err := os.ReadFile("../report/assemble/testdata/golden_flows.json")
	if err != nil {
		t.Fatal(err)
	}
	if status, body := e.do(t, "POST", "/v1/events", e.key, jsonType, flows); status != 200 {
		t.Fatalf("ingest every method: %d %s", status, body)
	}
	if status, body := e.do(t, "DELETE", "/v1/subjects/18501775544", e.key, "", nil); status != 200 {
		t.Fatalf("erase: %d %s", status, body)
	}
	const size = 6 + 20 + 1
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := e.log.WaitCheckpoint(ctx, size-1); err != nil {
		t.Fatal(err)
	}
	var public []byte
	paths := []string{"/checkpoint", fmt.Sprintf("/tile/entries/000.p/%d", size), fmt.Sprintf("/tile/0/000.p/%d", size)}
	for i := range size {
		paths = append(paths, fmt.Sprintf("/v1/log/entries/%d", i))
	}
	for _, p := range paths {
		status, body := e.do(t, "GET", p, "", "", nil)
		if status != 200 {
			t.Fatalf("GET %s: %d %s", p, status, body)
		}
		public = append(public, body...)
	}
	public = append(public, e.logBuf.Bytes()...)
	for _, s := range []string{"叶建华", "戴文潘", "伟伟集团", "330106198801012345", "18501775544",
		"weimei_pan@bestsign.cn", "60.12.241.194", "112.17.116.54", "2125270852621565954", "劳动合同",
		"548f6d36e1bf4c578fde8327c38f6fb1", "demo-signed",
		// every method's personal values
		"周子涵", "王武", "奥巴马", "330102199203034567", "330103197805051236", "13755556666", "13911110000", "13755550000",
		"6222020200112233445", "1102020509000012345", "杭州供应链有限公司", "91330100MA27XYZ12Q", "legal@supplier.example",
		"姓名周子涵", "法定代表人王武", strings.Repeat("a1", 32), strings.Repeat("c3", 32), strings.Repeat("d4", 32),
		strings.Repeat("07", 32), "7a7b7c7d7e7f", "0839", "5172", "SF-2026-0001", "供货框架合同"} {
		if evidencetest.Leaks(public, s) { // the face digits 0839 and 5172 on their own
			t.Errorf("public bytes contain %q", s)
		}
	}
	if !bytes.Contains(public, []byte(`"method":"remittance"`)) || !bytes.Contains(public, []byte(`"method":"otp_token"`)) {
		t.Error("the entries lack the methods' public facts (test is not looking at them)")
	}
	if !bytes.Contains(public, []byte(`"kind":"contract.signed"`)) {
		t.Error("the entry bundle does not hold the leaves (test is not looking at them)")
	}
}

// TestConcurrentPostsSameIDs: many clients posting the same ids at once
// produce exactly one leaf per id.
func TestConcurrentPostsSameIDs(t *testing.T) {
	e := newEventsEnv(t)
	demo := demoBody(t)
	var wg sync.WaitGroup
	bodies := make([][]byte, 12)
	for i := range bodies {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest("POST", e.srv.URL+"/v1/events", bytes.NewReader(demo))
			req.Header.Set("Authorization", "Bearer "+e.key)
			req.Header.Set("Content-Type", jsonType)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			defer resp.Body.Close()
			bodies[i], _ = io.ReadAll(resp.Body)
		}()
	}
	wg.Wait()
	for i := range bodies {
		if !bytes.Equal(bodies[i], bodies[0]) {
			t.Errorf("client %d got %s, client 0 %s", i, bodies[i], bodies[0])
		}
	}
	if e.log.Size() != 6 {
		t.Errorf("ledger has %d leaves for 6 ids", e.log.Size())
	}
}

func sha256Sum(b []byte) [32]byte { return sha256.Sum256(b) }

// BenchmarkIngestHTTP posts single events with PII (the signatures ~1 KB)
// from 64 parallel clients over loopback to the real server, ledger and evidence store on
// disk (every event durable on return). Reports events/s.
func BenchmarkIngestHTTP(b *testing.B) {
	dir := b.TempDir()
	store, err := ledger.OpenPebbleStore(filepath.Join(dir, "ledger"), ledger.PebbleOptions{})
	if err != nil {
		b.Fatal(err)
	}
	keys, err := ledger.LoadOrCreateKeys(filepath.Join(dir, "keys"), "cunzheng.example/bench")
	if err != nil {
		b.Fatal(err)
	}
	l, err := ledger.Open(context.Background(), ledger.Config{Store: store, Origin: keys.Name(), Signers: keys.Signers()})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	master, _ := evidence.GenerateMasterKey()
	_, key, err := evidence.CreateTenant(filepath.Join(dir, "evidence"), master, "bench", nil, time.Now())
	if err != nil {
		b.Fatal(err)
	}
	svc, err := evidence.Open(context.Background(), evidence.Config{Dir: filepath.Join(dir, "evidence"), Master: master, Log: ledgerlog.New(l)})
	if err != nil {
		b.Fatal(err)
	}
	defer svc.Close()
	srv := httptest.NewServer(New(Config{Log: l, Mounts: []Mount{MountEvents(svc, nil)}}))
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 128}}
	var n atomic.Int64
	b.SetParallelism(32)
	start := time.Now()
	var contracts atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		// Each client posts whole contracts in order, as the platform
		// does: the sending, then the intent check and the signature of
		// each of two new signers (a signature is refused before them).
		var k, intent int64
		step := 5
		for pb.Next() {
			if step == 5 {
				k, step = contracts.Add(1), 0
			}
			i := n.Add(1)
			signer := 2*k + int64(step-1)/2
			actor := fmt.Sprintf(`"actor":{"account":"1850%07d","name":"叶建华","id_number":"330106198801012345","phone":"1850%07d",`+
				`"email":"ye.jianhua@example.cn","ip":"112.17.116.54","company":"杭州伟伟集团有限公司","credit_code":"91330106MA2B3C4D5E"}`,
				signer%9999999, signer%9999999)
			head := fmt.Sprintf(`{"id":"b-%d","time":"2018-11-14T17:22:36.123+08:00","contract":{"id":"2125270852%09d","name":"劳动合同（2026年度）"},%s,`,
				i, k, actor)
			var body string
			switch {
			case step == 0:
				body = head + `"kind":"contract.sent","data":{"signers":2}}`
			case step%2 == 1:
				body = head + `"kind":"intent.verified","data":{"method":"sms_code","result":"passed"}}`
				intent = i
			default:
				body = head + fmt.Sprintf(`"kind":"contract.signed","data":{"document":{"sha256":"%064x","sm3":"%064x"},"cert_serial":"548f6d36e1bf4c578fde8327c38f6fb1",`+
					`"positions":[{"page":2,"x":0.6,"y":0.63},{"page":2,"x":0.73,"y":0.7}],"intents":["b-%d"]}}`, i, i, intent)
			}
			step++
			req, _ := http.NewRequest("POST", srv.URL+"/v1/events", strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+key)
			req.Header.Set("Content-Type", "application/json")
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
	b.ReportMetric(float64(n.Load())/time.Since(start).Seconds(), "events/s")
}
