package ledgerlog_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cunzheng/cunzheng/evidence"
	"github.com/cunzheng/cunzheng/evidence/ledgerlog"
	"github.com/cunzheng/cunzheng/ledger"
)

// benchEvent is event i of a stream of whole contracts as the platform
// posts them, five events each (see flowEvent). Posting the stream in
// order, or each contract's five events in order from one goroutine,
// follows the real flow: a signature is only posted after its contract's
// sending and its signer's intent check were acknowledged (or earlier in
// the same batch), as the consistency checks of ingest ask.
func benchEvent(i int64) []byte { return flowEvent(i/flowSteps, int(i%flowSteps)) }

// flowSteps is the number of events of one contract in benchEvent's stream.
const flowSteps = 5

// benchSigner is the account of signer s (0 or 1) of contract k.
func benchSigner(k int64, s int) string { return fmt.Sprintf("1850%07d", (2*k+int64(s))%9999999) }

// flowEvent is step of contract k, every event with PII in every field:
// the sending (~600 bytes), then for each of two new signers the SMS
// intent check (~550 bytes) and the ~1 KB signature citing it.
func flowEvent(k int64, step int) []byte {
	i := k*flowSteps + int64(step)
	actor := func(account string) map[string]any {
		return map[string]any{
			"account": account, "name": "叶建华", "id_number": "330106198801012345",
			"phone": account, "email": "ye.jianhua@example.cn", "ip": "112.17.116.54",
			"company": "杭州伟伟集团有限公司", "credit_code": "91330106MA2B3C4D5E",
		}
	}
	ev := map[string]any{
		"id": fmt.Sprintf("bench-%d", i), "time": "2018-11-14T17:22:36.123+08:00",
		"contract": map[string]any{"id": fmt.Sprintf("21252708526215%05d", k), "name": "劳动合同（2026年度）"},
	}
	signer := (step - 1) / 2
	switch {
	case step == 0:
		ev["kind"] = "contract.sent"
		ev["actor"] = actor(fmt.Sprintf("1390%07d", k%9999999))
		ev["data"] = map[string]any{"signers": 2, "platform": "伟伟签"}
	case step%2 == 1:
		ev["kind"] = "intent.verified"
		ev["actor"] = actor(benchSigner(k, signer))
		ev["data"] = map[string]any{"method": "sms_code", "result": "passed"}
	default:
		ev["kind"] = "contract.signed"
		ev["actor"] = actor(benchSigner(k, signer))
		ev["data"] = map[string]any{
			"document":    map[string]any{"sha256": "b2541f0c95a9f5a7bda153b786c7888c1df8765ab2541f0c95a9f5a7bda153b7", "sm3": "a2541f0c95a9f5a7bda153b786c7888c1df8765ab2541f0c95a9f5a7bda153b7"},
			"cert_serial": "548f6d36e1bf4c578fde8327c38f6fb1",
			"positions":   []any{map[string]any{"page": 2, "x": 0.6, "y": 0.63}, map[string]any{"page": 2, "x": 0.73, "y": 0.7}},
			"intents":     []any{fmt.Sprintf("bench-%d", i-1)},
		}
	}
	b, _ := json.Marshal(ev)
	return b
}

// benchService opens evidence and the real ledger on disk (fsyncs
// included), as serve does.
func benchService(b *testing.B) (*evidence.Service, evidence.Principal) {
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
	b.Cleanup(func() { l.Close() })
	master, _ := evidence.GenerateMasterKey()
	_, key, err := evidence.CreateTenant(filepath.Join(dir, "evidence"), master, "bench", nil, time.Now())
	if err != nil {
		b.Fatal(err)
	}
	svc, err := evidence.Open(context.Background(), evidence.Config{Dir: filepath.Join(dir, "evidence"), Master: master, Log: ledgerlog.New(l)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { svc.Close() })
	p, err := svc.Authenticate(key)
	if err != nil {
		b.Fatal(err)
	}
	return svc, p
}

// BenchmarkIngestParallel posts single events from many goroutines (like
// many HTTP clients), each goroutine the events of whole contracts in
// order (benchEvent), each signer a new data subject: validate, check the
// contract's sending and the cited intent, commit the claim, seal, append
// to the real ledger, index. Reports events/s.
func BenchmarkIngestParallel(b *testing.B) {
	svc, p := benchService(b)
	var n, contracts atomic.Int64
	b.SetParallelism(32)
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		var k int64
		step := flowSteps
		for pb.Next() {
			if step == flowSteps {
				k, step = contracts.Add(1)-1, 0
			}
			n.Add(1)
			if _, err := svc.Ingest(context.Background(), p, flowEvent(k, step)); err != nil {
				b.Error(err)
				return
			}
			step++
		}
	})
	b.ReportMetric(float64(n.Load())/time.Since(start).Seconds(), "events/s")
}

// BenchmarkIngestBatch100 posts batches of 100 events from 4 goroutines.
func BenchmarkIngestBatch100(b *testing.B) {
	svc, p := benchService(b)
	var n atomic.Int64
	b.SetParallelism(2)
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			// 100 events from a multiple of 100: whole contracts, so
			// that no signature races its contract in another batch.
			first := n.Add(100) - 100
			evs := make([]json.RawMessage, 100)
			for i := range evs {
				evs[i] = benchEvent(first + int64(i))
			}
			body, _ := json.Marshal(map[string]any{"events": evs})
			if _, err := svc.Ingest(context.Background(), p, body); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(n.Load())/time.Since(start).Seconds(), "events/s")
}

// BenchmarkErase measures one erasure (DELETE /v1/subjects/{account}) with
// the real ledger on disk and a store already holding records of many
// subjects, alone ("idle") and while 2 goroutines ingest batches of 100
// events ("ingest"). Each iteration erases another subject that has 2
// events (a signer's intent check and signature). It reports the erasure latency percentiles and, under ingest,
// the events/s ingested in the eraseWindow that starts with the erasures
// (they run one after the other) against the same window just before
// them without erasures (ingest-base): the erasures' cost to ingest,
// whatever work they leave to run after they return included, also as
// the events ingest lost per erasure finished in the window.
func BenchmarkErase(b *testing.B) {
	const (
		stored      = 20_000 // events in the store before the first erasure
		eraseWindow = 8 * time.Second
	)
	for _, mode := range []string{"idle", "ingest"} {
		b.Run(mode, func(b *testing.B) {
			svc, p := benchService(b)
			ctx := context.Background()
			var n atomic.Int64
			post := func() error {
				first := n.Add(100) - 100 // whole contracts (see BenchmarkIngestBatch100)
				evs := make([]json.RawMessage, 100)
				for i := range evs {
					evs[i] = benchEvent(first + int64(i))
				}
				body, _ := json.Marshal(map[string]any{"events": evs})
				_, err := svc.Ingest(ctx, p, body)
				return err
			}
			for n.Load() < stored {
				if err := post(); err != nil {
					b.Fatal(err)
				}
			}
			var (
				stop    atomic.Bool
				done    = make(chan struct{})
				workers = 0
			)
			if mode == "ingest" {
				workers = 2
			}
			for range workers {
				go func() {
					defer func() { done <- struct{}{} }()
					for !stop.Load() {
						if err := post(); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			var base float64
			if workers > 0 {
				n0 := n.Load()
				time.Sleep(eraseWindow)
				base = float64(n.Load()-n0) / eraseWindow.Seconds()
			}
			lat := make([]time.Duration, 0, b.N)
			n0, start := n.Load(), time.Now()
			var atEnd, erasedAtEnd atomic.Int64
			var erased atomic.Int64
			timer := time.AfterFunc(eraseWindow, func() { erasedAtEnd.Store(erased.Load()); atEnd.Store(n.Load()) })
			defer timer.Stop()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				// Erase the signers of the stored contracts (two events
				// each: the intent check and the signature), oldest first.
				j := int64(i*3) % (2 * stored / flowSteps)
				account := benchSigner(j/2, int(j%2))
				t := time.Now()
				if _, err := svc.Erase(ctx, p, account); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(t))
				erased.Add(1)
			}
			b.StopTimer()
			if workers > 0 {
				if d := eraseWindow - time.Since(start); d > 0 {
					time.Sleep(d + 100*time.Millisecond)
				}
				for atEnd.Load() == 0 {
					time.Sleep(10 * time.Millisecond)
				}
			}
			stop.Store(true)
			for range workers {
				<-done
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1e3, "p50-ms")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1e3, "p99-ms")
			if workers > 0 {
				b.ReportMetric(base, "ingest-base-events/s")
				during := float64(atEnd.Load()-n0) / eraseWindow.Seconds()
				b.ReportMetric(during, "ingest-during-events/s")
				// What each erasure finished in the window cost ingest.
				b.ReportMetric((base-during)*eraseWindow.Seconds()/float64(max(erasedAtEnd.Load(), 1)), "events-lost/erasure")
			}
		})
	}
}
