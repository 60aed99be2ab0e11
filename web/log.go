package web

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/cunzheng/cunzheng/ledger"
	"github.com/cunzheng/cunzheng/ledger/tlogfmt"
)

// Cache lifetimes of the tlog-tiles resources. The checkpoint is mutable and
// must not be cached beyond a few seconds; full tiles and bundles never
// change; partial ones are replaced by full ones and kept briefly.
// Spec: https://c2sp.org/tlog-tiles
const (
	cacheCheckpoint = "public, max-age=2, must-revalidate"
	cacheImmutable  = "public, max-age=31536000, immutable"
	cachePartial    = "public, max-age=10"
)

type logHandlers struct {
	log     *ledger.Log
	logger  *slog.Logger
	bundles *tileCache // compressed full entry bundles
}

func mountLog(r gin.IRouter, l *ledger.Log, logger *slog.Logger) *logHandlers {
	h := &logHandlers{log: l, logger: logger, bundles: newTileCache(DefaultBundleCacheBytes)}
	r.GET("/checkpoint", h.checkpoint)
	r.GET("/tile/*path", h.tile)
	r.GET("/v1/log/proof/inclusion", h.inclusion)
	r.GET("/v1/log/proof/consistency", h.consistency)
	r.GET("/v1/log/entries/:index", h.entry)
	r.GET("/v1/log/checkpoints", h.checkpoints)
	r.GET("/v1/log/checkpoints/:size", h.checkpointAt)
	return h
}

func (h *logHandlers) fail(c *gin.Context, err error) { abortWithError(c, h.logger, err) }

func (h *logHandlers) checkpoint(c *gin.Context) {
	cp, err := h.log.Checkpoint(c.Request.Context())
	if err != nil {
		h.fail(c, err)
		return
	}
	c.Header("Cache-Control", cacheCheckpoint)
	c.Data(http.StatusOK, "text/plain; charset=utf-8", cp.CosignedNote())
}

func (h *logHandlers) tile(c *gin.Context) {
	tp, err := tlogfmt.ParseTilePath("tile" + c.Param("path"))
	if err != nil {
		h.fail(c, notFound(err.Error()))
		return
	}
	ctx := c.Request.Context()
	cacheControl := cacheImmutable
	if tp.Width != 0 {
		cacheControl = cachePartial
	}
	// Entry bundles compress well and the spec asks for HTTP compression.
	gz := tp.Entries && acceptsGzip(c.GetHeader("Accept-Encoding"))
	if tp.Entries {
		c.Header("Vary", "Accept-Encoding")
	}
	if gz && tp.Width == 0 {
		// A full bundle never changes: compressed once, then served from
		// the cache (see tilecache.go). The rare client that does not take
		// gzip gets the leaves read again (decompressing the cached copy
		// measured no cheaper). The build outlives a requester that gives
		// up, since others may be waiting for it.
		t, err := h.bundles.get(tp.String(), func() (*encodedTile, error) {
			data, err := h.log.ReadEntryBundle(context.WithoutCancel(ctx), tp.Index, 0)
			if err != nil {
				return nil, err
			}
			etag, gzipETag := contentETag(data)
			return &encodedTile{gz: gzipBytes(data), etag: etag, gzipETag: gzipETag}, nil
		})
		if err != nil {
			h.fail(c, err)
			return
		}
		serveTile(c, cacheControl, t.gzipETag, "gzip", t.gz)
		return
	}
	var data []byte
	if tp.Entries {
		data, err = h.log.ReadEntryBundle(ctx, tp.Index, tp.Width)
	} else {
		data, err = h.log.ReadTile(ctx, tp.Level, tp.Index, tp.Width)
	}
	if err != nil {
		h.fail(c, err)
		return
	}
	etag, gzipETag := contentETag(data)
	if gz {
		if etagMatches(c.GetHeader("If-None-Match"), gzipETag) {
			serveTile(c, cacheControl, gzipETag, "gzip", nil)
			return
		}
		serveTile(c, cacheControl, gzipETag, "gzip", gzipBytes(data))
		return
	}
	serveTile(c, cacheControl, etag, "", data)
}

// serveTile answers with body, or 304 Not Modified when the client holds
// the representation etag names.
func serveTile(c *gin.Context, cacheControl, etag, encoding string, body []byte) {
	c.Header("Cache-Control", cacheControl)
	c.Header("ETag", etag)
	if etagMatches(c.GetHeader("If-None-Match"), etag) {
		c.Status(http.StatusNotModified)
		return
	}
	if encoding != "" {
		c.Header("Content-Encoding", encoding)
	}
	c.Data(http.StatusOK, "application/octet-stream", body)
}

func acceptsGzip(header string) bool {
	for _, part := range strings.Split(header, ",") {
		enc, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(enc), "gzip") && strings.ReplaceAll(params, " ", "") != "q=0" {
			return true
		}
	}
	return false
}

// proofJSON is the JSON shape of an inclusion proof: hashes in standard
// base64, as in tlog-proof and checkpoints.
type inclusionJSON struct {
	Index      uint64   `json:"index"`
	Size       uint64   `json:"size"`
	LeafHash   string   `json:"leaf_hash"`
	Root       string   `json:"root"`
	Proof      []string `json:"proof"`
	Checkpoint string   `json:"checkpoint,omitempty"`
}

type consistencyJSON struct {
	Old     uint64   `json:"old"`
	Size    uint64   `json:"size"`
	OldRoot string   `json:"old_root"`
	Root    string   `json:"root"`
	Proof   []string `json:"proof"`
}

func b64(h tlog.Hash) string { return base64.StdEncoding.EncodeToString(h[:]) }

func b64s(hs []tlog.Hash) []string {
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = b64(h)
	}
	return out
}

// queryUint parses a required or optional unsigned query parameter.
func queryUint(c *gin.Context, name string, required bool) (uint64, bool, error) {
	s, ok := c.GetQuery(name)
	if !ok || s == "" {
		if required {
			return 0, false, badRequest(fmt.Sprintf("missing query parameter %q", name))
		}
		return 0, false, nil
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, false, badRequest(fmt.Sprintf("query parameter %q must be a non-negative integer", name))
	}
	return v, true, nil
}

// parseLeafHash accepts a leaf hash as 64 hex digits or standard base64.
func parseLeafHash(s string) (tlog.Hash, error) {
	var h tlog.Hash
	var b []byte
	var err error
	if len(s) == 64 {
		b, err = hex.DecodeString(s)
	} else {
		b, err = base64.StdEncoding.DecodeString(s)
	}
	if err != nil || len(b) != 32 {
		return h, badRequest("leaf_hash must be 32 bytes in hex or base64")
	}
	copy(h[:], b)
	return h, nil
}

// sizeOrCheckpoint returns the size query parameter, or the newest
// checkpoint's size (and its note) when it is absent.
func (h *logHandlers) sizeOrCheckpoint(c *gin.Context) (uint64, []byte, error) {
	size, ok, err := queryUint(c, "size", false)
	if err != nil || ok {
		return size, nil, err
	}
	cp, err := h.log.Checkpoint(c.Request.Context())
	if err != nil {
		return 0, nil, err
	}
	return cp.Size, cp.CosignedNote(), nil
}

func (h *logHandlers) inclusion(c *gin.Context) {
	res, err := h.inclusionProof(c)
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, res)
}

// inclusionProof answers an inclusion proof request by index or leaf hash,
// at the given size or the newest checkpoint's.
func (h *logHandlers) inclusionProof(c *gin.Context) (inclusionJSON, error) {
	ctx := c.Request.Context()
	size, note, err := h.sizeOrCheckpoint(c)
	if err != nil {
		return inclusionJSON{}, err
	}
	var index uint64
	var leafHash tlog.Hash
	if hs, ok := c.GetQuery("leaf_hash"); ok {
		if leafHash, err = parseLeafHash(hs); err != nil {
			return inclusionJSON{}, err
		}
		if index, err = h.log.IndexOf(ctx, leafHash); err != nil {
			return inclusionJSON{}, err
		}
	} else {
		if index, _, err = queryUint(c, "index", true); err != nil {
			return inclusionJSON{}, badRequest("give index or leaf_hash")
		}
	}
	// The proof first: its checks (index below size, size within the tree)
	// give the clearest answer to a bad request.
	proof, err := h.log.InclusionProof(ctx, index, size)
	if err != nil {
		return inclusionJSON{}, err
	}
	if leafHash == (tlog.Hash{}) {
		leaf, err := h.log.Leaf(ctx, index)
		if err != nil {
			return inclusionJSON{}, err
		}
		leafHash = tlog.RecordHash(leaf)
	}
	root, err := h.log.TreeHash(ctx, size)
	if err != nil {
		return inclusionJSON{}, err
	}
	return inclusionJSON{Index: index, Size: size, LeafHash: b64(leafHash), Root: b64(root), Proof: b64s(proof), Checkpoint: string(note)}, nil
}

func (h *logHandlers) consistency(c *gin.Context) {
	res, err := h.consistencyProof(c)
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, res)
}

// consistencyProof answers a consistency proof request between old and the
// given size or the newest checkpoint's.
func (h *logHandlers) consistencyProof(c *gin.Context) (consistencyJSON, error) {
	ctx := c.Request.Context()
	old, _, err := queryUint(c, "old", true)
	if err != nil {
		return consistencyJSON{}, err
	}
	size, _, err := h.sizeOrCheckpoint(c)
	if err != nil {
		return consistencyJSON{}, err
	}
	proof, err := h.log.ConsistencyProof(ctx, old, size)
	if err != nil {
		return consistencyJSON{}, err
	}
	var roots [2]tlog.Hash
	for i, n := range []uint64{old, size} {
		if roots[i], err = h.log.TreeHash(ctx, n); err != nil {
			return consistencyJSON{}, err
		}
	}
	return consistencyJSON{Old: old, Size: size, OldRoot: b64(roots[0]), Root: b64(roots[1]), Proof: b64s(proof)}, nil
}

func (h *logHandlers) entry(c *gin.Context) {
	index, err := strconv.ParseUint(c.Param("index"), 10, 64)
	if err != nil {
		h.fail(c, badRequest("entry index must be a non-negative integer"))
		return
	}
	leaf, err := h.log.Leaf(c.Request.Context(), index)
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"index": index, "leaf": base64.StdEncoding.EncodeToString(leaf), "leaf_hash": b64(tlog.RecordHash(leaf))})
}

type checkpointJSON struct {
	Size         uint64   `json:"size"`
	Root         string   `json:"root"`
	Time         string   `json:"time"`
	Note         string   `json:"note"`
	Cosignatures []string `json:"cosignatures"`
	Timestamps   []string `json:"timestamps"`
	CosignedNote string   `json:"cosigned_note"`
}

func toCheckpointJSON(cp ledger.Checkpoint) checkpointJSON {
	out := checkpointJSON{
		Size: cp.Size, Root: b64(cp.Root), Time: cp.Time.UTC().Format(time.RFC3339Nano),
		Note: string(cp.Note), CosignedNote: string(cp.CosignedNote()),
		Cosignatures: []string{}, Timestamps: []string{},
	}
	for _, l := range cp.Cosignatures {
		out.Cosignatures = append(out.Cosignatures, string(l))
	}
	for _, t := range cp.Timestamps {
		out.Timestamps = append(out.Timestamps, base64.StdEncoding.EncodeToString(t))
	}
	return out
}

func (h *logHandlers) checkpointAt(c *gin.Context) {
	size, err := strconv.ParseUint(c.Param("size"), 10, 64)
	if err != nil {
		h.fail(c, badRequest("checkpoint size must be a non-negative integer"))
		return
	}
	cp, err := h.log.CheckpointAt(c.Request.Context(), size)
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, toCheckpointJSON(cp))
}

// checkpoints lists published checkpoints after a size, oldest first.
func (h *logHandlers) checkpoints(c *gin.Context) {
	after, _, err := queryUint(c, "after", false)
	if err != nil {
		h.fail(c, err)
		return
	}
	limit, ok, err := queryUint(c, "limit", false)
	if err != nil {
		h.fail(c, err)
		return
	}
	if !ok || limit > 1000 {
		limit = 1000
	}
	cps, err := h.log.Checkpoints(c.Request.Context(), after, int(limit))
	if err != nil {
		h.fail(c, err)
		return
	}
	out := make([]checkpointJSON, len(cps))
	for i, cp := range cps {
		out[i] = toCheckpointJSON(cp)
	}
	c.JSON(http.StatusOK, gin.H{"checkpoints": out})
}
