package evidence_test

import (
	"context"
	"encoding/json"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cunzheng/cunzheng/evidence"
	evt "github.com/cunzheng/cunzheng/evidence/event"
	"github.com/cunzheng/cunzheng/evidence/evidencetest"
	"github.com/cunzheng/cunzheng/ledger/cluster/clustertest"
)

func BenchmarkParseEvents(b *testing.B) {
	body, _ := json.Marshal(event(1))
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := evt.ParseEvents(body); err != nil {
			b.Fatal(err)
		}
	}
}

// benchStores are the stores the ingest benchmarks run on: the embedded
// Pebble store on disk, and PostgreSQL (a real server started once per
// benchmark, a fresh database per run, as in cluster mode).
func benchStores(b *testing.B) []struct {
	name string
	open func(b *testing.B) evidence.Store
} {
	var pg *clustertest.PG
	return []struct {
		name string
		open func(b *testing.B) evidence.Store
	}{
		{"pebble", func(*testing.B) evidence.Store { return nil }},
		{"postgres", func(sub *testing.B) evidence.Store {
			if pg == nil {
				pg = clustertest.StartPostgres(b)
			}
			st, err := evidence.OpenPostgres(context.Background(), pg.NewDatabase(sub))
			if err != nil {
				sub.Fatal(err)
			}
			return st
		}},
	}
}

// benchService opens a service with one tenant on st (nil: Pebble).
func benchService(b *testing.B, st evidence.Store) (*evidence.Service, evidence.Principal) {
	dir := b.TempDir()
	master, _ := evidence.GenerateMasterKey()
	tenants := evidence.TenantFiles(dir)
	if st != nil {
		tenants = evidence.StoreTenants(st)
	}
	_, key, err := tenants.Create(context.Background(), master, "bench", nil, t0)
	if err != nil {
		b.Fatal(err)
	}
	svc, err := evidence.Open(context.Background(), evidence.Config{Dir: dir, Master: master, Log: evidencetest.NewLog(), Store: st})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { svc.Close() })
	p, _ := svc.Authenticate(key)
	return svc, p
}

// BenchmarkIngestEvidenceOnly measures the evidence path alone (validate,
// claim, seal, store, index, with durable commits) against the in-memory
// log, single events from 16 goroutines per core, on each store.
func BenchmarkIngestEvidenceOnly(b *testing.B) {
	for _, bs := range benchStores(b) {
		b.Run(bs.name, func(b *testing.B) {
			svc, p := benchService(b, bs.open(b))
			var n atomic.Int64
			b.SetParallelism(16)
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			var contracts atomic.Int64
			b.RunParallel(func(pb *testing.PB) {
				// Each goroutine posts whole contracts in order (contract.sent,
				// then its two signatures), as a platform does: a signature
				// of a contract not yet sent is refused.
				var c int64
				step := 3
				for pb.Next() {
					if step == 3 {
						c, step = contracts.Add(1), 0
					}
					body, _ := json.Marshal(event(int(3*c) + step))
					step++
					if _, err := svc.Ingest(context.Background(), p, body); err != nil {
						b.Error(err)
						return
					}
					n.Add(1)
				}
			})
			b.ReportMetric(float64(n.Load())/time.Since(start).Seconds(), "events/s")
		})
	}
}

// BenchmarkSearch100k measures search pages over a tenant with 100,000
// contracts (one event each; building them takes a while, so run it
// alone: go test -run XXX -bench Search100k -benchtime 200x).
func BenchmarkSearch100k(b *testing.B) {
	dir := b.TempDir()
	master, _ := evidence.GenerateMasterKey()
	_, key, err := evidence.CreateTenant(dir, master, "bench", nil, t0)
	if err != nil {
		b.Fatal(err)
	}
	svc, err := evidence.Open(context.Background(), evidence.Config{Dir: dir, Master: master, Log: evidencetest.NewLog()})
	if err != nil {
		b.Fatal(err)
	}
	defer svc.Close()
	p, _ := svc.Authenticate(key)
	const contracts = 100_000
	for start := 0; start < contracts; start += evt.MaxBatch {
		evs := make([]map[string]any, 0, evt.MaxBatch)
		for i := start; i < start+evt.MaxBatch; i++ {
			ev := event(i * 3) // contract C(i)
			ev["time"] = t0.Add(time.Duration(i) * time.Minute).Format(time.RFC3339)
			if i%10 == 0 {
				ev["contract"].(map[string]any)["name"] = "采购合同"
			}
			evs = append(evs, ev)
		}
		if _, err := svc.Ingest(context.Background(), p, batch(evs...)); err != nil {
			b.Fatal(err)
		}
	}
	queries := []evidence.Query{
		{Limit: 50, From: t0.Add(50_000 * time.Minute), To: t0.Add(51_000 * time.Minute)},
		{Limit: 50, Name: "采购"},
		{Limit: 50, Account: "13800000300"},
	}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		page, err := svc.Search(p, queries[i%len(queries)])
		if err != nil || len(page.Contracts) == 0 {
			b.Fatalf("query %d: %v", i%len(queries), err)
		}
	}
}

// BenchmarkIngestBatch1000 ingests batches of 1,000 events (evidence
// only, in-memory log) on each store. Reports events/s.
func BenchmarkIngestBatch1000(b *testing.B) {
	for _, bs := range benchStores(b) {
		b.Run(bs.name, func(b *testing.B) {
			svc, p := benchService(b, bs.open(b))
			n := 0
			b.ResetTimer()
			start := time.Now()
			for b.Loop() {
				evs := make([]map[string]any, evt.MaxBatch)
				for i := range evs {
					evs[i] = event(n)
					n++
				}
				if _, err := svc.Ingest(context.Background(), p, batch(evs...)); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n)/time.Since(start).Seconds(), "events/s")
		})
	}
}
