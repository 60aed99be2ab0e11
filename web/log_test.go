package web

import (
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/cunzheng/cunzheng/ledger"
)

var testLogKeys = sync.OnceValue(func() *ledger.Keys {
	dir, err := os.MkdirTemp("", "web-keys-")
	if err != nil {
		panic(err)
	}
	k, err := ledger.LoadOrCreateKeys(dir, "web.test/log")
	if err != nil {
		panic(err)
	}
	return k
})

// newLogServer returns a server over a fresh in-memory log holding n leaves,
// with a checkpoint published for them.
func newLogServer(t testing.TB, n int) (*Server, *ledger.Log) {
	t.Helper()
	st, err := ledger.OpenPebbleStore("log", ledger.PebbleOptions{FS: vfs.NewMem(), CacheSize: 4 << 20})
	if err != nil {
		t.Fatal(err)
	}
	l, err := ledger.Open(context.Background(), ledger.Config{
		Store: st, Origin: "web.test/log", Signers: testLogKeys().Signers(), CheckpointInterval: 5 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	var leaves [][]byte
	for i := 0; i < n; i++ {
		leaves = append(leaves, []byte(fmt.Sprintf("web leaf %d", i)))
	}
	for len(leaves) > 0 {
		k := min(len(leaves), 1000)
		if _, err := l.AppendAll(context.Background(), leaves[:k]); err != nil {
			t.Fatal(err)
		}
		leaves = leaves[k:]
	}
	if n > 0 {
		if _, err := l.WaitCheckpoint(context.Background(), uint64(n-1)); err != nil {
			t.Fatal(err)
		}
	}
	return New(Config{Log: l}), l
}

func get(t testing.TB, h http.Handler, target string, hdr ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, target, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestTlogTilesEndpoints(t *testing.T) {
	s, l := newLogServer(t, 600)
	vs, err := testLogKeys().Verifiers()
	if err != nil {
		t.Fatal(err)
	}

	rec := get(t, s, "/checkpoint")
	if rec.Code != 200 || rec.Header().Get("Content-Type") != "text/plain; charset=utf-8" {
		t.Fatalf("/checkpoint: %d %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	if cc := rec.Header().Get("Cache-Control"); !strings.Contains(cc, "max-age=2") {
		t.Errorf("/checkpoint Cache-Control %q must keep caching to seconds", cc)
	}
	n, err := note.Open(rec.Body.Bytes(), vs)
	if err != nil {
		t.Fatalf("served checkpoint does not verify: %v", err)
	}
	if !strings.HasPrefix(n.Text, "web.test/log\n600\n") {
		t.Fatalf("checkpoint body %q", n.Text)
	}

	tests := []struct {
		path      string
		status    int
		size      int
		immutable bool
	}{
		{"/tile/0/000", 200, 8192, true},
		{"/tile/0/001", 200, 8192, true},
		{"/tile/0/002.p/88", 200, 88 * 32, false},
		{"/tile/0/002.p/5", 200, 5 * 32, false},
		{"/tile/0/002", 404, 0, false},      // not full yet
		{"/tile/0/002.p/89", 404, 0, false}, // beyond the tree
		{"/tile/1/000.p/2", 200, 64, false},
		{"/tile/1/000", 404, 0, false},
		{"/tile/2/000.p/1", 404, 0, false},
		{"/tile/0/2", 404, 0, false},
		{"/tile/0/002.p/0", 404, 0, false},
		{"/tile/0/x000/002", 404, 0, false},
		{"/tile/64/000", 404, 0, false},
		{"/tile/entries/000", 200, -1, true},
		{"/tile/entries/002.p/88", 200, -1, false},
		{"/tile/entries/002.p/89", 404, 0, false},
		{"/tile/entries/003.p/1", 404, 0, false},
		{"/tile/", 404, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			rec := get(t, s, tt.path)
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.status, rec.Body)
			}
			if tt.status != 200 {
				if strings.Count(strings.TrimSpace(rec.Body.String()), "\n") != 0 || rec.Body.Len() == 0 {
					t.Errorf("error body must be one line, got %q", rec.Body)
				}
				return
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/octet-stream" {
				t.Errorf("Content-Type %q", ct)
			}
			if tt.size >= 0 && rec.Body.Len() != tt.size {
				t.Errorf("got %d bytes, want %d", rec.Body.Len(), tt.size)
			}
			if got := strings.Contains(rec.Header().Get("Cache-Control"), "immutable"); got != tt.immutable {
				t.Errorf("Cache-Control %q, immutable want %v", rec.Header().Get("Cache-Control"), tt.immutable)
			}
		})
	}

	// Entry bundles are gzip-compressed for clients that accept it, and
	// decode to the leaves.
	rec = get(t, s, "/tile/entries/001", "Accept-Encoding", "gzip")
	if rec.Header().Get("Content-Encoding") != "gzip" {
		t.Fatalf("entry bundle not compressed for a gzip client")
	}
	zr, err := gzip.NewReader(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	bundle, _ := io.ReadAll(zr)
	want, _ := l.ReadEntryBundle(context.Background(), 1, 0)
	if string(bundle) != string(want) {
		t.Fatal("gzip entry bundle differs from the stored one")
	}
}

func TestProofEndpoints(t *testing.T) {
	s, l := newLogServer(t, 300)
	ctx := context.Background()
	var inc inclusionJSON
	rec := get(t, s, "/v1/log/proof/inclusion?index=123&size=300")
	if rec.Code != 200 {
		t.Fatalf("inclusion: %d %s", rec.Code, rec.Body)
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &inc); err != nil {
		t.Fatal(err)
	}
	leafHash := tlog.RecordHash([]byte("web leaf 123"))
	root, _ := l.TreeHash(ctx, 300)
	if err := proof.VerifyInclusion(rfc6962.DefaultHasher, 123, 300, leafHash[:], decodeAll(t, inc.Proof), root[:]); err != nil {
		t.Fatalf("served inclusion proof does not verify: %v", err)
	}
	// By leaf hash, against the newest checkpoint, which comes along.
	rec = get(t, s, "/v1/log/proof/inclusion?leaf_hash="+fmt.Sprintf("%x", leafHash[:]))
	if rec.Code != 200 {
		t.Fatalf("inclusion by hash: %d %s", rec.Code, rec.Body)
	}
	json.Unmarshal(rec.Body.Bytes(), &inc)
	if inc.Index != 123 || inc.Size != 300 || !strings.Contains(inc.Checkpoint, "\n300\n") {
		t.Fatalf("inclusion by hash: %+v", inc)
	}

	var cons consistencyJSON
	rec = get(t, s, "/v1/log/proof/consistency?old=17&size=300")
	if rec.Code != 200 {
		t.Fatalf("consistency: %d %s", rec.Code, rec.Body)
	}
	json.Unmarshal(rec.Body.Bytes(), &cons)
	oldRoot, _ := l.TreeHash(ctx, 17)
	if err := proof.VerifyConsistency(rfc6962.DefaultHasher, 17, 300, decodeAll(t, cons.Proof), oldRoot[:], root[:]); err != nil {
		t.Fatalf("served consistency proof does not verify: %v", err)
	}

	rec = get(t, s, "/v1/log/entries/7")
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), base64.StdEncoding.EncodeToString([]byte("web leaf 7"))) {
		t.Fatalf("entry 7: %d %s", rec.Code, rec.Body)
	}
	rec = get(t, s, "/v1/log/checkpoints/300")
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"size":300`) {
		t.Fatalf("checkpoint 300: %d %s", rec.Code, rec.Body)
	}

	bad := []struct {
		target string
		status int
	}{
		{"/v1/log/proof/inclusion?index=300&size=300", 400},
		{"/v1/log/proof/inclusion?index=1&size=301", 404},
		{"/v1/log/proof/inclusion?index=-1&size=3", 400},
		{"/v1/log/proof/inclusion?size=3", 400},
		{"/v1/log/proof/inclusion?index=abc", 400},
		{"/v1/log/proof/inclusion?leaf_hash=zz", 400},
		{"/v1/log/proof/inclusion?leaf_hash=" + strings.Repeat("00", 32), 404},
		{"/v1/log/proof/consistency?old=301&size=300", 400},
		{"/v1/log/proof/consistency?old=1&size=999", 404},
		{"/v1/log/proof/consistency?size=3", 400},
		{"/v1/log/entries/300", 404},
		{"/v1/log/entries/x", 400},
		{"/v1/log/entries/18446744073709551616", 400},
		{"/v1/log/checkpoints/299", 404},
		{"/v1/log/checkpoints/a", 400},
		{"/v1/log/nothing", 404},
	}
	for _, tt := range bad {
		rec := get(t, s, tt.target)
		if rec.Code != tt.status {
			t.Errorf("%s: status %d, want %d (%s)", tt.target, rec.Code, tt.status, rec.Body)
		}
		var e struct{ Error string }
		if json.Unmarshal(rec.Body.Bytes(), &e) != nil || e.Error == "" {
			t.Errorf("%s: body %q is not a JSON error with a reason", tt.target, rec.Body)
		}
	}
	req := httptest.NewRequest(http.MethodPost, "/checkpoint", nil)
	rec = httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST /checkpoint: %d, want 405", rec.Code)
	}
}

func decodeAll(t testing.TB, ss []string) [][]byte {
	out := make([][]byte, len(ss))
	for i, s := range ss {
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = b
	}
	return out
}

func TestHealthAndMetrics(t *testing.T) {
	s, _ := newLogServer(t, 0)
	if rec := get(t, s, "/healthz"); rec.Code != 200 {
		t.Fatalf("/healthz: %d", rec.Code)
	}
}

// FuzzLogRequests throws arbitrary paths and queries at the read API: every
// answer must be a 2xx or 4xx, never a 500 or a panic.
func FuzzLogRequests(f *testing.F) {
	for _, s := range []string{
		"/tile/0/000", "/tile/entries/001.p/3", "/tile/1/x001/000.p/255",
		"/v1/log/proof/inclusion?index=3&size=10", "/v1/log/proof/inclusion?leaf_hash=AAAA",
		"/v1/log/proof/consistency?old=3&size=10", "/v1/log/entries/5", "/checkpoint",
		"/v1/log/checkpoints?after=1&limit=5",
	} {
		f.Add(s)
	}
	s, _ := newLogServer(f, 70)
	f.Fuzz(func(t *testing.T, target string) {
		if !strings.HasPrefix(target, "/") || strings.ContainsAny(target, " \r\n#") {
			return
		}
		req, err := http.NewRequest(http.MethodGet, "http://x"+target, nil)
		if err != nil {
			return
		}
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s: status %d: %s", target, rec.Code, rec.Body)
		}
	})
}
