package verify

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// BenchmarkPDF verifies a 1 MiB PDF with one RSA signature, its RFC 3161
// signature timestamp and an embedded CRL (the target: p50 under
// 30 ms, peak memory under 4x the file size). B/op is every byte
// allocated during one verification, the file's copy included: an upper
// bound on its peak memory.
func BenchmarkPDF(b *testing.B) {
	data, err := os.ReadFile(filepath.Join(corpus, "big-rsa-tsa.pdf"))
	if err != nil {
		b.Fatal(err)
	}
	opts := testOptions(b)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	var took []time.Duration
	for b.Loop() {
		start := time.Now()
		rep, err := PDF(context.Background(), bytes.NewReader(data), int64(len(data)), opts)
		took = append(took, time.Since(start))
		if err != nil || rep.Verdict.Indication != TotalPassed {
			b.Fatalf("%v %+v", err, rep)
		}
	}
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(took[len(took)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(len(data))/(1<<20), "file-MiB")
}
