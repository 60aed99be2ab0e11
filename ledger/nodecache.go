package ledger

import (
	"context"
	"sync"

	"golang.org/x/mod/sumdb/tlog"
)

// nodeCache holds node hashes of tree level TileHeight and above. Every
// inclusion or consistency proof needs about log2(size)-8 of them and they
// are shared by all proofs, while the lower ones are different for each
// leaf. Complete nodes never change, so entries never go stale.
//
// It is direct-mapped with a fixed number of slots, so its memory does not
// grow with the log: 1<<17 slots of 48 bytes is 6 MiB, enough to hold every
// upper node of a log of about 16 million leaves; beyond that, colliding
// nodes evict each other and are read from storage. The rejected
// alternative, an LRU list, costs a lock and pointer updates on every hit.
type nodeCache struct {
	locks [64]sync.Mutex
	slots []cacheSlot
}

type cacheSlot struct {
	valid bool
	level uint8
	index uint64
	hash  tlog.Hash
}

const nodeCacheSlots = 1 << 17

func newNodeCache() *nodeCache { return &nodeCache{slots: make([]cacheSlot, nodeCacheSlots)} }

func (c *nodeCache) slot(id NodeID) int {
	// Fibonacci hashing spreads neighbouring indexes over the table.
	h := (id.Index*0x9E3779B97F4A7C15 ^ uint64(id.Level)*0xC2B2AE3D27D4EB4F) >> 47
	return int(h & (nodeCacheSlots - 1))
}

func (c *nodeCache) get(id NodeID) (tlog.Hash, bool) {
	i := c.slot(id)
	mu := &c.locks[i%len(c.locks)]
	mu.Lock()
	s := c.slots[i]
	mu.Unlock()
	if s.valid && s.level == id.Level && s.index == id.Index {
		return s.hash, true
	}
	return tlog.Hash{}, false
}

func (c *nodeCache) put(id NodeID, h tlog.Hash) {
	i := c.slot(id)
	mu := &c.locks[i%len(c.locks)]
	mu.Lock()
	c.slots[i] = cacheSlot{valid: true, level: id.Level, index: id.Index, hash: h}
	mu.Unlock()
}

// readNodes reads node hashes through the cache.
func (l *Log) readNodes(ctx context.Context, ids []NodeID) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(ids))
	var missIDs []NodeID
	var missAt []int
	for i, id := range ids {
		if id.Level >= TileHeight {
			if h, ok := l.nodes.get(id); ok {
				out[i] = h
				continue
			}
		}
		missIDs = append(missIDs, id)
		missAt = append(missAt, i)
	}
	if len(missIDs) == 0 {
		return out, nil
	}
	hs, err := l.store.ReadNodes(ctx, missIDs)
	if err != nil {
		return nil, err
	}
	for j, h := range hs {
		out[missAt[j]] = h
		if missIDs[j].Level >= TileHeight {
			l.nodes.put(missIDs[j], h)
		}
	}
	return out, nil
}
