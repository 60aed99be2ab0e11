package evidence_test

import (
	"context"
	"encoding/json"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cunzheng/cunzheng/evidence"
	"github.com/cunzheng/cunzheng/evidence/evidencetest"
)

func BenchmarkParseEvents(b *testing.B) {
	body, _ := json.Marshal(event(1))
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := evidence.ParseEvents(body); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkIngestEvidenceOnly measures the evidence path alone (validate,
// claim, seal, store, index, with synced Pebble commits on disk) against
// the in-memory log, single events from 32 goroutines.
func BenchmarkIngestEvidenceOnly(b *testing.B) {
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
	var n atomic.Int64
	b.SetParallelism(16)
	b.ReportAllocs()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			body, _ := json.Marshal(event(int(n.Add(1))))
			if _, err := svc.Ingest(context.Background(), p, body); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(n.Load())/time.Since(start).Seconds(), "events/s")
}
