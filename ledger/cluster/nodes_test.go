package cluster

import (
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/cunzheng/cunzheng/ledger"
)

// created returns the nodes above the leaves that the leaves [start, end)
// create, in the order a compact range visits them (by completion).
func created(start, end uint64) []ledger.Node {
	var out []ledger.Node
	for p := start; p < end; p++ {
		for lv := uint8(1); lv < 64 && (p+1)%(1<<lv) == 0; lv++ {
			idx := (p+1)>>lv - 1
			out = append(out, ledger.Node{Level: lv, Index: idx, Hash: tlog.Hash{lv, byte(idx), byte(idx >> 8)}})
		}
	}
	return out
}

func TestPackNodes(t *testing.T) {
	for _, c := range []struct{ start, end uint64 }{
		{0, 1}, {0, 2}, {0, 5000}, {1, 2}, {3, 4}, {5, 300}, {4095, 4097}, {1000, 1001},
	} {
		nodes := created(c.start, c.end)
		flat, err := packNodes(c.start, c.end, nodes)
		if err != nil {
			t.Fatalf("[%d, %d): %v", c.start, c.end, err)
		}
		if len(flat) != 32*len(nodes) {
			t.Fatalf("[%d, %d): %d bytes for %d nodes", c.start, c.end, len(flat), len(nodes))
		}
		// Each node where levelSpan says, and the layout by level, then index.
		for _, n := range nodes {
			off, count := levelSpan(c.start, c.end, n.Level)
			i := n.Index - c.start>>n.Level
			if i >= count || tlog.Hash(flat[32*(off+i):32*(off+i+1)]) != n.Hash {
				t.Fatalf("[%d, %d): node %d/%d not at %d+%d", c.start, c.end, n.Level, n.Index, off, i)
			}
		}
		if c.start > 0 {
			if _, err := packNodes(c.start, c.end, append(nodes, ledger.Node{Level: 1, Index: c.start/2 - 1})); err == nil || !strings.Contains(err.Error(), "not created") {
				t.Errorf("[%d, %d): a node of earlier leaves: %v", c.start, c.end, err)
			}
		}
		if len(nodes) > 0 {
			if _, err := packNodes(c.start, c.end, nodes[1:]); err == nil {
				t.Errorf("[%d, %d): a node missing, no error", c.start, c.end)
			}
		}
	}
}
