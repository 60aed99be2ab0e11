package web

import (
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// TestTileETags checks the tlog-tiles caching headers: full tiles and
// bundles immutable, partial ones short, every one with an ETag naming its
// encoding, and If-None-Match answered 304 without a body.
func TestTileETags(t *testing.T) {
	s, l := newLogServer(t, 600)
	for _, tc := range []struct {
		path      string
		gzip      bool
		immutable bool
	}{
		{"/tile/0/001", false, true},
		{"/tile/0/002.p/88", false, false},
		{"/tile/1/000.p/2", false, false},
		{"/tile/entries/001", true, true},
		{"/tile/entries/001", false, true},
		{"/tile/entries/002.p/88", true, false},
		{"/tile/entries/002.p/88", false, false},
	} {
		t.Run(fmt.Sprintf("%s gzip=%v", tc.path, tc.gzip), func(t *testing.T) {
			var hdr []string
			if tc.gzip {
				hdr = []string{"Accept-Encoding", "gzip"}
			}
			rec := get(t, s, tc.path, hdr...)
			etag := rec.Header().Get("ETag")
			if rec.Code != 200 || !strings.HasPrefix(etag, `"`) {
				t.Fatalf("%d, ETag %q", rec.Code, etag)
			}
			if got := rec.Header().Get("Content-Encoding") == "gzip"; got != tc.gzip {
				t.Errorf("Content-Encoding %q", rec.Header().Get("Content-Encoding"))
			}
			cc := rec.Header().Get("Cache-Control")
			if tc.immutable && cc != "public, max-age=31536000, immutable" || !tc.immutable && cc != cachePartial {
				t.Errorf("Cache-Control %q", cc)
			}
			for _, inm := range []string{etag, "W/" + etag, `"other", ` + etag, "*"} {
				rec := get(t, s, tc.path, append(hdr, "If-None-Match", inm)...)
				if rec.Code != http.StatusNotModified || rec.Body.Len() != 0 || rec.Header().Get("ETag") != etag || rec.Header().Get("Cache-Control") != cc {
					t.Errorf("If-None-Match %s: %d, %d bytes, ETag %q", inm, rec.Code, rec.Body.Len(), rec.Header().Get("ETag"))
				}
			}
			if rec := get(t, s, tc.path, append(hdr, "If-None-Match", `"other"`)...); rec.Code != 200 {
				t.Errorf("If-None-Match of another tag: %d", rec.Code)
			}
		})
	}
	// The two encodings of one bundle have different tags, and the gzip
	// one decodes to the bundle.
	plain := get(t, s, "/tile/entries/001")
	zipped := get(t, s, "/tile/entries/001", "Accept-Encoding", "gzip")
	if plain.Header().Get("ETag") == zipped.Header().Get("ETag") {
		t.Errorf("both encodings tagged %s", plain.Header().Get("ETag"))
	}
	if rec := get(t, s, "/tile/entries/001", "If-None-Match", zipped.Header().Get("ETag")); rec.Code != 200 {
		t.Errorf("the gzip tag matched the identity encoding: %d", rec.Code)
	}
	zr, err := gzip.NewReader(zipped.Body)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(zr)
	want, _ := l.ReadEntryBundle(context.Background(), 1, 0)
	if string(got) != string(want) || plain.Body.String() != string(want) {
		t.Error("served bundle differs from the stored one")
	}
}

// TestFullBundleCompressedOnce: however many clients ask for a full entry
// bundle, at once or one after another, it is compressed once. Before the
// cache, every request compressed it again.
func TestFullBundleCompressedOnce(t *testing.T) {
	s, _ := newLogServer(t, 600)
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if rec := get(t, s, "/tile/entries/000", "Accept-Encoding", "gzip"); rec.Code != 200 {
				t.Errorf("%d", rec.Code)
			}
		})
	}
	wg.Wait()
	for range 5 {
		get(t, s, "/tile/entries/000", "Accept-Encoding", "gzip")
	}
	if n := BundleCache(s).Builds(); n != 1 {
		t.Errorf("bundle 000 compressed %d times, want once", n)
	}
	// A bundle not full yet is not cached as full.
	if rec := get(t, s, "/tile/entries/002", "Accept-Encoding", "gzip"); rec.Code != 404 {
		t.Errorf("bundle 002 of a 600-leaf log: %d", rec.Code)
	}
}

func TestTileCacheBounded(t *testing.T) {
	c := newTileCache(1000)
	for i := range 50 {
		c.get(fmt.Sprint(i), func() (*encodedTile, error) { return &encodedTile{gz: make([]byte, 300)}, nil })
		if c.size > c.max || c.size != 300*len(c.entries) || c.order.Len() != len(c.entries) {
			t.Fatalf("after %d: size %d, %d entries, list %d", i, c.size, len(c.entries), c.order.Len())
		}
	}
	// The most recent stay.
	built := false
	c.get("49", func() (*encodedTile, error) { built = true; return &encodedTile{}, nil })
	if built {
		t.Error("the newest entry was evicted")
	}
	// Too large for the cache: served, not kept.
	c.get("big", func() (*encodedTile, error) { return &encodedTile{gz: make([]byte, 2000)}, nil })
	if _, ok := c.entries["big"]; ok || c.size > c.max {
		t.Errorf("an entry over the bound was kept")
	}
}

func TestETagMatches(t *testing.T) {
	for _, tc := range []struct {
		header, etag string
		want         bool
	}{
		{"", `"a"`, false},
		{`"a"`, `"a"`, true},
		{`W/"a"`, `"a"`, true},
		{`"b", "a"`, `"a"`, true},
		{`"b"`, `"a"`, false},
		{`*`, `"a"`, true},
		{`"a.gz"`, `"a"`, false},
	} {
		if got := etagMatches(tc.header, tc.etag); got != tc.want {
			t.Errorf("etagMatches(%q, %q) = %v", tc.header, tc.etag, got)
		}
	}
}
