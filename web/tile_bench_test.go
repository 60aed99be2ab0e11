package web

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/cunzheng/cunzheng/ledger"
)

// benchTileServer serves a log of 16 full bundles of 700-byte leaves, the
// size of this archive's public records.
func benchTileServer(b *testing.B) *Server {
	st, err := ledger.OpenPebbleStore("log", ledger.PebbleOptions{FS: vfs.NewMem()})
	if err != nil {
		b.Fatal(err)
	}
	l, err := ledger.Open(context.Background(), ledger.Config{
		Store: st, Origin: "web.test/log", Signers: testLogKeys().Signers(), CheckpointInterval: 5 * time.Millisecond,
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { l.Close() })
	const n = 16 * 256
	var leaves [][]byte
	for i := range n {
		leaf := fmt.Sprintf(`{"v":1,"kind":"contract.signed","index":%d,"time":"2026-03-01T10:00:%02d+08:00","doc":"%064x","pii":{`, i, i%60, i*7919)
		for j := 0; len(leaf) < 680; j++ {
			leaf += fmt.Sprintf(`"c%d":"%043x",`, j, (i+1)*(j+13)*104729)
		}
		leaves = append(leaves, []byte(strings.TrimSuffix(leaf, ",")+"}}"))
	}
	if _, err := l.AppendAll(context.Background(), leaves); err != nil {
		b.Fatal(err)
	}
	if _, err := l.WaitCheckpoint(context.Background(), n-1); err != nil {
		b.Fatal(err)
	}
	return New(Config{Log: l})
}

func benchTiles(b *testing.B, path func(i int) string, hdr ...string) {
	s := benchTileServer(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		req := httptest.NewRequest(http.MethodGet, path(i%16), nil)
		for j := 0; j+1 < len(hdr); j += 2 {
			req.Header.Set(hdr[j], hdr[j+1])
		}
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		if rec.Code != 200 {
			b.Fatalf("%s: %d", req.URL, rec.Code)
		}
	}
}

// BenchmarkTileRead reads full level-0 hash tiles: the baseline.
func BenchmarkTileRead(b *testing.B) {
	benchTiles(b, func(i int) string { return fmt.Sprintf("/tile/0/%03d", i) })
}

// BenchmarkFullBundleRead reads full entry bundles as tlog-tiles clients
// do, gzip accepted; the goal is within 2× of BenchmarkTileRead.
func BenchmarkFullBundleRead(b *testing.B) {
	benchTiles(b, func(i int) string { return fmt.Sprintf("/tile/entries/%03d", i) }, "Accept-Encoding", "gzip")
}

// BenchmarkBundleCompress reads 255-entry partial bundles, gzip accepted:
// what every full-bundle read cost before the cache, and what a cache miss
// costs now.
func BenchmarkBundleCompress(b *testing.B) {
	benchTiles(b, func(i int) string { return fmt.Sprintf("/tile/entries/%03d.p/255", i) }, "Accept-Encoding", "gzip")
}

// BenchmarkFullBundleReadIdentity reads full bundles without gzip (read
// from the store each time, no compression).
func BenchmarkFullBundleReadIdentity(b *testing.B) {
	benchTiles(b, func(i int) string { return fmt.Sprintf("/tile/entries/%03d", i) })
}
