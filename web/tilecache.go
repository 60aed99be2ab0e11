package web

import (
	"bytes"
	"compress/gzip"
	"container/list"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"sync"
)

// Full entry bundles never change, so their gzip encoding is made once and
// kept: compressing a 256-entry bundle cost about 6 ms of CPU on every
// request, against 0.1 ms for a hash tile, and a mirror or monitor
// fetching bundles could keep the cores busy with nothing else. The cache
// is in memory and bounded; the store keeps only the leaves, so a restart
// or an eviction costs one compression. Partial bundles are compressed per
// request (they are small and short-lived) with pooled writers.
//
// The alternative, storing the compressed bundle in the ledger when it
// fills, would make the first read free too, but it puts an HTTP encoding
// into the ledger's storage format and writes every leaf twice.

// DefaultBundleCacheBytes bounds the compressed full bundles kept in
// memory: about 64 MiB, some hundred thousand entries.
const DefaultBundleCacheBytes = 64 << 20

// encodedTile is one immutable resource in its gzip encoding, with the
// entity tags of both encodings.
type encodedTile struct {
	gz             []byte
	etag, gzipETag string
}

// tileCache is an LRU of encodedTile by tile path, bounded in bytes, that
// makes each missing entry once however many requests ask for it at once.
type tileCache struct {
	max int

	mu       sync.Mutex // guards the fields below
	size     int
	order    *list.List // of *cacheEntry, most recently used first
	entries  map[string]*list.Element
	inflight map[string]*flight
	builds   int // entries built, cached or not (tests)
}

type cacheEntry struct {
	key string
	val *encodedTile
}

type flight struct {
	done chan struct{}
	val  *encodedTile
	err  error
}

func newTileCache(max int) *tileCache {
	return &tileCache{max: max, order: list.New(), entries: map[string]*list.Element{}, inflight: map[string]*flight{}}
}

// get returns the entry for key, calling build once to build a missing one
// while concurrent callers for the same key wait for it.
func (c *tileCache) get(key string, build func() (*encodedTile, error)) (*encodedTile, error) {
	c.mu.Lock()
	if el, ok := c.entries[key]; ok {
		c.order.MoveToFront(el)
		c.mu.Unlock()
		return el.Value.(*cacheEntry).val, nil
	}
	if f, ok := c.inflight[key]; ok {
		c.mu.Unlock()
		<-f.done
		return f.val, f.err
	}
	f := &flight{done: make(chan struct{})}
	c.inflight[key] = f
	c.builds++
	c.mu.Unlock()

	f.val, f.err = build()

	c.mu.Lock()
	delete(c.inflight, key)
	if f.err == nil && len(f.val.gz) <= c.max {
		c.entries[key] = c.order.PushFront(&cacheEntry{key, f.val})
		c.size += len(f.val.gz)
		for c.size > c.max {
			el := c.order.Back()
			e := el.Value.(*cacheEntry)
			c.order.Remove(el)
			delete(c.entries, e.key)
			c.size -= len(e.val.gz)
		}
	}
	c.mu.Unlock()
	close(f.done)
	return f.val, f.err
}

var gzipWriters = sync.Pool{New: func() any { return gzip.NewWriter(nil) }}

// gzipBytes compresses b with a pooled writer (a new gzip.Writer allocates
// about 800 KB of tables).
func gzipBytes(b []byte) []byte {
	var buf bytes.Buffer
	buf.Grow(len(b)/3 + 64)
	zw := gzipWriters.Get().(*gzip.Writer)
	zw.Reset(&buf)
	zw.Write(b) // writes to a bytes.Buffer do not fail
	zw.Close()
	gzipWriters.Put(zw)
	return buf.Bytes()
}

// contentETag is a strong entity tag of the identity encoding of b, and
// the one of its gzip encoding: a strong tag names one representation.
func contentETag(b []byte) (identity, gz string) {
	sum := sha256.Sum256(b)
	h := hex.EncodeToString(sum[:16])
	return `"` + h + `"`, `"` + h + `.gz"`
}

// etagMatches reports whether an If-None-Match header matches etag, with
// the weak comparison RFC 9110 section 13.1.2 prescribes for it.
func etagMatches(header, etag string) bool {
	if header == "" {
		return false
	}
	etag = strings.TrimPrefix(etag, "W/")
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == etag {
			return true
		}
	}
	return false
}
