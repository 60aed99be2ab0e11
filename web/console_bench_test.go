package web

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// benchContracts is the tenant size of the console benchmarks.
const benchContracts = 100_000

var benchNames = []string{"劳动合同", "采购合同", "租赁合同", "保密协议", "服务协议"}

// benchFixture is one console over a tenant of benchContracts contracts
// (one event each) plus the demo contract (six events and an identity
// check), built once through the evidence API and shared by the benchmarks.
var benchFixture = sync.OnceValues(func() (*consoleBench, error) {
	tb := &fixtureTB{}
	built.Lock()
	built.tb = tb
	built.Unlock()
	e := newConsoleEnv(tb)
	if tb.failed != "" {
		return nil, fmt.Errorf("%s", tb.failed)
	}
	p, err := e.svc.Authenticate(e.key)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	const batch = 1000
	for i := 0; i < benchContracts; i += batch {
		var evs []string
		for j := i; j < i+batch; j++ {
			day := time.Date(2025, 1, 1, 9, 0, 0, 0, beijingZone).Add(time.Duration(j) * 5 * time.Minute)
			evs = append(evs, fmt.Sprintf(`{"id":"b-%d","kind":"contract.sent","time":%q,"contract":{"id":"C%06d","name":"%s %06d"},`+
				`"actor":{"account":"1850%07d","name":"张三"},"data":{"signers":2}}`,
				j, day.Format(time.RFC3339), j, benchNames[j%len(benchNames)], j, j%5000))
		}
		if _, err := e.svc.Ingest(context.Background(), p, []byte(`{"events":[`+strings.Join(evs, ",")+`]}`)); err != nil {
			return nil, err
		}
	}
	demo, err := os.ReadFile("../evidence/testdata/demo_batch.json")
	if err != nil {
		return nil, err
	}
	if _, err := e.svc.Ingest(context.Background(), p, demo); err != nil {
		return nil, err
	}
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(10 * time.Millisecond) {
		if cp, err := e.log.Checkpoint(context.Background()); err == nil && cp.Size == e.log.Size() {
			break
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("no checkpoint covers the fixture")
		}
	}
	b := e.browser("192.0.2.1:1")
	csrf := b.signIn(tb, e.key)
	if tb.failed != "" {
		return nil, fmt.Errorf("%s", tb.failed)
	}
	fmt.Fprintf(os.Stderr, "console bench fixture: %d contracts, log size %d, built in %v\n", benchContracts+1, e.log.Size(), time.Since(start).Round(time.Second))
	return &consoleBench{e: e, b: b, csrf: csrf}, nil
})

type consoleBench struct {
	e    *consoleEnv
	b    *browser
	csrf string
}

// fixtureTB lets the test helpers build the shared fixture outside a test.
type fixtureTB struct {
	testing.TB
	failed  string
	cleanup []func()
}

func (f *fixtureTB) Helper()           {}
func (f *fixtureTB) Cleanup(fn func()) { f.cleanup = append(f.cleanup, fn) }
func (f *fixtureTB) TempDir() string {
	d, err := os.MkdirTemp("", "cunzheng-console-bench-")
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { os.RemoveAll(d) })
	return d
}

// built is the fixture's fixtureTB once benchFixture ran, for TestMain to
// close the fixture and remove its directories (a tenant of 100,000
// contracts is a few hundred megabytes).
var built struct {
	sync.Mutex
	tb *fixtureTB
}

func TestMain(m *testing.M) {
	code := m.Run()
	built.Lock()
	if tb := built.tb; tb != nil {
		for i := len(tb.cleanup) - 1; i >= 0; i-- {
			tb.cleanup[i]()
		}
	}
	built.Unlock()
	os.Exit(code)
}
func (f *fixtureTB) Fatal(args ...any)         { f.failed = fmt.Sprint(args...); panic(f.failed) }
func (f *fixtureTB) Fatalf(s string, a ...any) { f.failed = fmt.Sprintf(s, a...); panic(f.failed) }

// timed runs one request per iteration and reports the median.
func timed(b *testing.B, do func() *httptest.ResponseRecorder, check func(*httptest.ResponseRecorder) error) {
	b.Helper()
	if w := do(); check(w) != nil {
		b.Fatalf("%v", check(w))
	}
	durs := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for b.Loop() {
		t0 := time.Now()
		w := do()
		durs = append(durs, time.Since(t0))
		if w.Code != http.StatusOK {
			b.Fatalf("status %d", w.Code)
		}
	}
	b.StopTimer()
	slices.Sort(durs)
	b.ReportMetric(float64(durs[len(durs)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(durs[len(durs)*99/100].Nanoseconds()), "p99-ns")
}

// BenchmarkConsoleSearch is a search page rendered server-side (POST
// /console/search through the whole handler) over 100,000 contracts.
func BenchmarkConsoleSearch(b *testing.B) {
	f, err := benchFixture()
	if err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		form url.Values
		want int
	}{
		{"number", url.Values{"number": {"C054321"}}, 1},
		{"name-prefix", url.Values{"name": {"租赁合同"}}, consoleSearchPageLength},
		{"name-exact", url.Values{"name": {"租赁合同 054322"}}, 1},
		{"account", url.Values{"account": {"18500004321"}}, 20},
		{"date-range", url.Values{"from": {"2025-03-01"}, "to": {"2025-03-31"}}, consoleSearchPageLength},
		{"account-and-name", url.Values{"account": {"18500004321"}, "name": {"采购合同"}}, 20},
		{"all", url.Values{}, consoleSearchPageLength},
		// The worst case: the name drives the scan and the dates reject
		// almost all of its 20,000 entries (bounded by evidence's maxScan).
		{"name-and-narrow-dates", url.Values{"name": {"劳动合同"}, "from": {"2025-12-01"}, "to": {"2025-12-01"}}, consoleSearchPageLength},
	} {
		b.Run(tc.name, func(b *testing.B) {
			form := url.Values{}
			for k, v := range tc.form {
				form[k] = v
			}
			form.Set("csrf", f.csrf)
			timed(b, func() *httptest.ResponseRecorder { return f.b.do(b, "POST", "/console/search", form) },
				func(w *httptest.ResponseRecorder) error {
					if n := strings.Count(w.Body.String(), `<a href="/console/contracts/`); w.Code != 200 || n != tc.want {
						return fmt.Errorf("%s: %d with %d results, want %d", tc.name, w.Code, n, tc.want)
					}
					return nil
				})
		})
	}
}

// BenchmarkConsoleTimeline is a contract page: its records read and
// checked against their receipts, each inclusion proof fetched and checked
// against the newest checkpoint of a 100,000-leaf log, the page rendered.
func BenchmarkConsoleTimeline(b *testing.B) {
	f, err := benchFixture()
	if err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct{ name, id string }{{"demo-7-records", "2125270852621565954"}, {"one-record", "C077777"}} {
		b.Run(tc.name, func(b *testing.B) {
			timed(b, func() *httptest.ResponseRecorder { return f.b.do(b, "GET", "/console/contracts/"+tc.id, nil) },
				func(w *httptest.ResponseRecorder) error {
					if w.Code != 200 || !strings.Contains(w.Body.String(), `data-proof="ok"`) || strings.Contains(w.Body.String(), `data-proof="failed"`) {
						return fmt.Errorf("timeline %s: %d", tc.id, w.Code)
					}
					return nil
				})
		})
	}
}
