package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime/pprof"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cunzheng/cunzheng/web"
)

type ingestBenchResult struct {
	Events       int     `json:"events"`
	Clients      int     `json:"clients"`
	PerRequest   int     `json:"events_per_request"`
	Mix          string  `json:"mix"`
	EventBytes   int     `json:"event_bytes"`
	Seconds      float64 `json:"seconds"`
	EventsPerSec float64 `json:"events_per_sec"`
	P50Millis    float64 `json:"request_p50_ms"`
	P90Millis    float64 `json:"request_p90_ms"`
	P99Millis    float64 `json:"request_p99_ms"`
	MaxMillis    float64 `json:"request_max_ms"`
	// CPUMicrosPerEvent is the process's CPU time (server and clients
	// alike) per event: steadier than events/s on a shared machine whose
	// disk and neighbours vary from hour to hour.
	CPUMicrosPerEvent float64 `json:"cpu_us_per_event"`
	PeakRSSMiB        float64 `json:"peak_rss_mib"`
	TreeSize          uint64  `json:"final_tree_size"`
	// Cluster is the same run against serve processes in cluster mode
	// (--cluster-db, --objects).
	Cluster *ingestClusterResult `json:"cluster,omitempty"`
}

// runBenchIngest drives the real HTTP server over loopback: serve's whole
// stack (ledger, evidence, built-in notary and TSA) in this process, and C
// HTTP clients posting realistic events with personal data in every one.
func runBenchIngest(ctx context.Context, args []string) error {
	fs := newFlagSet("bench ingest", "bench ingest [--events N] [--clients C] [--per-request K] [--mix flow|signed] [--json]\n             [--cluster-db DSN --objects s3://... [--processes P]]\n\nPosts N events (personal data in every one) to POST /v1/events of a freshly\nstarted server on loopback from C clients, K events per request, and reports\nevents/s, request latency and the process's CPU time per event (server and\nclients). Every event is durable when its response arrives.\n\nMix flow (the default) is whole contracts as the platform sends them: the\ncontract.sent, then for each of three signers identity.checked,\nintent.verified and contract.signed (about 490, 470 and 730 bytes), each\nclient posting a contract's events in order. Mix signed posts only\ncontract.signed events, each of a new signer: the heavier case (their\ncontracts' sendings and intent checks are recorded first, untimed).\n\nThe defaults are the peak the service is sized for, 4,000 signatures a\nsecond at three events each, posted batched as a platform at that rate\nwould: the target is 12,000 events/s or more with request p99 under 100 ms\non 2 cores.\n\nWith --cluster-db and --objects, the same events are then posted to P real serve\nprocesses (this binary) in cluster mode on that database and bucket, which must\nbe fresh: a tenant is created there, the clients are spread over the\nprocesses, and the figures are printed beside the embedded run's with their\nratio to it.")
	// One event per request would measure the HTTP round trip more than
	// ingest; the README lists that figure too.
	events := fs.Int("events", 200000, "events to post")
	clients := fs.Int("clients", 4, "concurrent HTTP clients")
	per := fs.Int("per-request", 100, "events per request (1 to 1000)")
	mix := fs.String("mix", "flow", "events: flow (identity, intent, signature of each signer) or signed (signatures of new signers)")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the run to this file")
	clusterDB := fs.String("cluster-db", "", "then run the same events against serve processes in cluster mode on this fresh PostgreSQL database (DSN)")
	objects := fs.String("objects", "", "the cluster's fresh bucket: s3://BUCKET?endpoint=URL&region=R (credentials from AWS_* in the environment)")
	processes := fs.Int("processes", 1, "cluster mode: serve processes to start, the clients spread over them")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if (*clusterDB == "") != (*objects == "") {
		return errors.New("the cluster run needs both --cluster-db and --objects")
	}
	if *processes < 1 {
		return errors.New("--processes must be at least 1")
	}
	serverRuntime()
	if *events <= 0 || *clients <= 0 || *per < 1 || *per > 1000 {
		return errors.New("--events and --clients must be positive, --per-request 1-1000")
	}
	m, ok := ingestMixes[*mix]
	if !ok {
		return fmt.Errorf("--mix %q: want flow or signed", *mix)
	}
	dir, err := os.MkdirTemp("", "cunzheng-bench-ingest-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	logger := slog.New(slog.DiscardHandler)
	f := serveFlags{data: dir, checkpointInterval: time.Second, notarize: &notarizeFlags{}, maxUpload: web.DefaultVerifyMaxUpload}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	a, err := openApp(ctx, f, "http://"+ln.Addr().String(), logger, prometheus.NewRegistry())
	if err != nil {
		ln.Close()
		return err
	}
	closed := false
	defer func() {
		if !closed {
			a.close(logger)
		}
	}()
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	go a.notarization.Pusher.Run(runCtx)
	demo, err := a.evidence.LoadDemo(ctx, nil)
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: web.New(web.Config{Log: a.log, Logger: logger, Mounts: a.mounts}), ReadHeaderTimeout: 10 * time.Second}
	go hs.Serve(ln)
	defer hs.Close()
	url := "http://" + ln.Addr().String() + "/v1/events"

	sampleBytes := 0
	for i := range m.unit {
		sampleBytes += len(m.event(i))
	}
	sampleBytes /= m.unit
	requests := (*events + *per - 1) / *per
	var pf *os.File
	if *cpuProfile != "" {
		if pf, err = os.Create(*cpuProfile); err != nil {
			return err
		}
		defer pf.Close()
	}
	var cpuBefore time.Duration
	hist, elapsed, err := postMix(ctx, []string{url}, demo.APIKey, m, requests, *clients, *per, sampleBytes, func() {
		if pf != nil {
			pprof.StartCPUProfile(pf)
		}
		cpuBefore = processCPU()
	})
	if pf != nil {
		pprof.StopCPUProfile()
	}
	if err != nil {
		return err
	}
	cpu := processCPU() - cpuBefore
	res := ingestBenchResult{
		Events: requests * *per, Clients: *clients, PerRequest: *per, Mix: *mix, EventBytes: sampleBytes,
		Seconds: elapsed.Seconds(), EventsPerSec: float64(requests**per) / elapsed.Seconds(),
		P50Millis: hist.quantile(0.5), P90Millis: hist.quantile(0.9), P99Millis: hist.quantile(0.99), MaxMillis: hist.max(),
		CPUMicrosPerEvent: float64(cpu.Microseconds()) / float64(requests**per),
		PeakRSSMiB:        peakRSSMiB(), TreeSize: a.log.Size(),
	}
	if *clusterDB != "" {
		// The embedded server stops first: the cluster run gets the
		// machine to itself, as the embedded one had.
		stop()
		hs.Close()
		a.close(logger)
		closed = true
		cr, err := benchIngestCluster(ctx, *clusterDB, *objects, *processes, m, requests, *clients, *per, sampleBytes)
		if err != nil {
			return fmt.Errorf("cluster run: %w", err)
		}
		cr.RatioToEmbed = cr.EventsPerSec / res.EventsPerSec
		res.Cluster = cr
	}
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	fmt.Printf("ingest: %d events (mix %s, ~%d bytes), %d per request, from %d HTTP clients in %.2fs\n", res.Events, res.Mix, res.EventBytes, res.PerRequest, res.Clients, res.Seconds)
	fmt.Printf("  events/s             %10.0f\n", res.EventsPerSec)
	fmt.Printf("  request p50/p90/p99  %7.2f / %.2f / %.2f ms (max %.2f ms)\n", res.P50Millis, res.P90Millis, res.P99Millis, res.MaxMillis)
	fmt.Printf("  CPU per event        %7.0f µs (server and clients, %.0f%% of one core)\n", res.CPUMicrosPerEvent, 100*cpu.Seconds()/elapsed.Seconds())
	fmt.Printf("  peak RSS             %7.1f MiB, tree size %d\n", res.PeakRSSMiB, res.TreeSize)
	if c := res.Cluster; c != nil {
		fmt.Printf("cluster (PostgreSQL + S3), %s, same events and clients: %.2fs\n", plural(c.Processes, "serve process", "serve processes"), c.Seconds)
		fmt.Printf("  events/s             %10.0f   (cluster / embedded %.3f)\n", c.EventsPerSec, c.RatioToEmbed)
		fmt.Printf("  request p50/p90/p99  %7.2f / %.2f / %.2f ms (max %.2f ms)\n", c.P50Millis, c.P90Millis, c.P99Millis, c.MaxMillis)
		fmt.Printf("  tree size            %10d\n", c.TreeSize)
	}
	return nil
}

// postMix posts the mix to the servers at urls (their /v1/events), request
// r to urls[r%len(urls)]: first what the mix relies on, untimed, then
// requests requests of per events from clients concurrent clients, timed;
// start runs just before the timed part.
func postMix(ctx context.Context, urls []string, apiKey string, m ingestMix, requests, clients, per, sampleBytes int, start func()) (*latencyHist, time.Duration, error) {
	client := &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: clients, MaxConnsPerHost: clients},
	}
	defer client.CloseIdleConnections()
	post := func(r int, body []byte) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, urls[r%len(urls)], bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+apiKey)
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		rb, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusCreated {
			return fmt.Errorf("status %d: %s", resp.StatusCode, rb)
		}
		return nil
	}
	batchBody := func(n int, next func() []byte) []byte {
		if n == 1 {
			return next()
		}
		var b bytes.Buffer
		b.Grow(n * (sampleBytes + 32))
		b.WriteString(`{"events":[`)
		for i := 0; i < n; i++ {
			if i > 0 {
				b.WriteByte(',')
			}
			b.Write(next())
		}
		b.WriteString(`]}`)
		return b.Bytes()
	}
	if m.preload != nil {
		// What the timed events rely on, recorded first and untimed, in
		// batches of 1000 that depend on nothing.
		pre := m.preload(requests * per)
		const perPre = 1000
		if _, _, err := drive((len(pre)+perPre-1)/perPre, clients, 0, func(r int, _ []byte) error {
			evs := pre[r*perPre : min((r+1)*perPre, len(pre))]
			i := 0
			return post(r, batchBody(len(evs), func() []byte { i++; return evs[i-1] }))
		}); err != nil {
			return nil, 0, fmt.Errorf("recording what the mix relies on: %w", err)
		}
	}
	// Each client posts whole units of the mix (a contract's events, in
	// order) from its own cursor, and takes the next unit when one is
	// done: a signature is posted only after its contract's sending and
	// its intent check were acknowledged or earlier in the same request,
	// as a platform does. At most clients requests run at once, so the
	// pool never blocks.
	cursors := make(chan *mixCursor, clients)
	var units atomic.Int64
	for range clients {
		cursors <- &mixCursor{mix: m, units: &units, step: m.unit}
	}
	start()
	return drive(requests, clients, 0, func(r int, _ []byte) error {
		c := <-cursors
		defer func() { cursors <- c }()
		return post(r, batchBody(per, c.next))
	})
}

// ingestMix is what bench ingest posts. Events are formatted rather than
// marshalled from maps: the clients share the two cores with the server,
// and json.Marshal of nested maps took 5% of the run's CPU.
type ingestMix struct {
	// event is event i of the timed run, unique per i.
	event func(i int) []byte
	// unit is how many consecutive events form one unit that a client
	// posts in order (one contract's events).
	unit int
	// preload returns the events the first n timed events rely on,
	// recorded before the timed run; nil for none.
	preload func(n int) [][]byte
}

var ingestMixes = map[string]ingestMix{
	"flow":   {event: flowEvent, unit: flowSteps},
	"signed": {event: signedEvent, unit: 1, preload: signedPreload},
}

// mixCursor is one client's position in the mix: unit u, step of it.
// Only the request holding it uses it.
type mixCursor struct {
	mix   ingestMix
	units *atomic.Int64
	u     int
	step  int
}

func (c *mixCursor) next() []byte {
	if c.step == c.mix.unit {
		c.u, c.step = int(c.units.Add(1)-1), 0
	}
	c.step++
	return c.mix.event(c.u*c.mix.unit + c.step - 1)
}

// signerActor is the personal data of signer n, every field filled in.
func signerActor(n int) string {
	return fmt.Sprintf(`"actor":{"account":"1385%07d","name":"叶建华","id_number":"3301061988%08d","phone":"1385%07d",`+
		`"email":"user%d@example.cn","ip":"112.17.%d.%d","company":"杭州伟伟集团有限公司","credit_code":"91330106MA2B3C4D5E"}`,
		n%9999999, n%100000000, n%9999999, n, n/256%256, n%256)
}

func benchContract(n int) string {
	return fmt.Sprintf(`"contract":{"id":"9125270852%09d","name":"房屋租赁合同（2026年度）第%d号"}`, n, n)
}

// flowSteps is the number of events of one contract of the flow mix.
const flowSteps = 10

// flowEvent is event i of the flow mix: contract i/10's sending, then for
// each of its three signers the real-name check, the SMS intent check for
// the contract, and the signature relying on it.
func flowEvent(i int) []byte {
	k, step := i/flowSteps, i%flowSteps
	if step == 0 {
		return fmt.Appendf(nil, `{"id":"bench-ingest-%d","time":"2026-11-24T10:20:00.%03d+08:00",%s,%s,"kind":"contract.sent","data":{"signers":3,"platform":"伟伟签"}}`,
			i, k%1000, signerActor(1<<30+k), benchContract(k))
	}
	signer := 3*k + (step-1)/3
	head := fmt.Sprintf(`{"id":"bench-ingest-%d","time":"2026-11-24T10:22:%02d.%03d+08:00",%s,`, i, (step-1)%3*10, i%1000, signerActor(signer))
	switch (step - 1) % 3 {
	case 0:
		return fmt.Appendf(nil, `%s"kind":"identity.checked","data":{"method":"face","source":"公安部公民身份信息核查中心","result":"passed","ca":"CFCA","cert_serial":"%032x"}}`,
			head, uint64(signer)*0x9E3779B97F4A7C15)
	case 1:
		return fmt.Appendf(nil, `%s"kind":"intent.verified",%s,"data":{"method":"sms_code","result":"passed"}}`,
			head, benchContract(k))
	default:
		return fmt.Appendf(nil, `%s"kind":"contract.signed",%s,"data":{"document":{"sha256":"%064x","sm3":"%064x"},"cert_serial":"%032x",`+
			`"positions":[{"page":2,"x":0.6,"y":0.63},{"page":3,"x":0.73,"y":0.7}],"intents":["bench-ingest-%d"]}}`,
			head, benchContract(k), uint64(k)*0x9E3779B97F4A7C15, uint64(k)*0xC2B2AE3D27D4EB4F,
			uint64(signer)*0x9E3779B97F4A7C15, i-1)
	}
}

// signedEvent is a signature by a new signer, three to a contract.
func signedEvent(i int) []byte {
	return fmt.Appendf(nil, `{"id":"bench-ingest-%d","kind":"contract.signed","time":"2026-11-24T10:22:36.123+08:00",%s,%s,`+
		`"data":{"document":{"sha256":"%064x","sm3":"%064x"},"cert_serial":"%032x",`+
		`"positions":[{"page":2,"x":0.6,"y":0.63},{"page":3,"x":0.73,"y":0.7}],"intents":["bench-intent-%d"]}}`,
		i, benchContract(i/3), signerActor(i),
		uint64(i)*0x9E3779B97F4A7C15, uint64(i)*0xC2B2AE3D27D4EB4F, i, i)
}

// signedPreload is what the first n signatures of the signed mix rely on:
// the sending of their contracts and each signer's intent check.
func signedPreload(n int) [][]byte {
	var out [][]byte
	for k := 0; k <= (n-1)/3; k++ {
		out = append(out, fmt.Appendf(nil, `{"id":"bench-sent-%d","kind":"contract.sent","time":"2026-11-24T10:20:00+08:00",%s,%s,"data":{"signers":3}}`,
			k, benchContract(k), signerActor(1<<30+k)))
	}
	for i := range n {
		out = append(out, fmt.Appendf(nil, `{"id":"bench-intent-%d","kind":"intent.verified","time":"2026-11-24T10:22:30+08:00",%s,%s,"data":{"method":"sms_code","result":"passed"}}`,
			i, benchContract(i/3), signerActor(i)))
	}
	return out
}
