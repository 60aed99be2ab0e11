package ledger

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// BenchmarkAppend measures durable appends of 300-byte leaves from 64
// concurrent clients on the real filesystem (every batch fsynced).
func BenchmarkAppend(b *testing.B) {
	ctx := context.Background()
	l := openTestLog(b, vfs.Default, b.TempDir(), nil)
	defer l.Close()
	b.SetParallelism(32) // 2 cores x 32 = 64 clients
	var seq atomicCounter
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		leaf := make([]byte, 300)
		for pb.Next() {
			copy(leaf, fmt.Sprintf("bench leaf %d", seq.next()))
			if _, err := l.Append(ctx, leaf); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// proofBenchLog is built once: the benchmark function runs several times
// with growing b.N and must not rebuild a million leaves each time.
var proofBenchLog struct {
	once sync.Once
	l    *Log
	dir  string
}

// BenchmarkInclusionProof measures proofs at the full size of a 2^18-leaf log.
func BenchmarkInclusionProof(b *testing.B) {
	ctx := context.Background()
	proofBenchLog.once.Do(func() {
		dir, err := os.MkdirTemp("", "ledger-proof-bench-")
		if err != nil {
			b.Fatal(err)
		}
		proofBenchLog.dir = dir
		proofBenchLog.l = buildBenchLog(b, dir, 1<<18)
	})
	l := proofBenchLog.l
	size := l.Size()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		rng := rand.New(rand.NewPCG(rand.Uint64(), 1))
		for pb.Next() {
			if _, err := l.InclusionProof(ctx, rng.Uint64N(size), size); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func buildBenchLog(b *testing.B, dir string, n int) *Log {
	ctx := context.Background()
	l := openTestLog(b, vfs.Default, dir, nil)
	leaves := make([][]byte, 0, 4096)
	for i := 0; i < n; i++ {
		leaves = append(leaves, []byte(fmt.Sprintf("proof bench leaf %d", i)))
		if len(leaves) == cap(leaves) {
			if _, err := l.AppendAll(ctx, leaves); err != nil {
				b.Fatal(err)
			}
			leaves = leaves[:0]
		}
	}
	return l
}
