package evidence

import (
	"context"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// TestEventEntriesInterleaved: rows of events of one contract finalized
// together by two processes interleave by index, and an event recorded in
// two rows (a row per event before, beside a row of several) is listed
// once: the contract reads in log order, each event once.
func TestEventEntriesInterleaved(t *testing.T) {
	pe, err := openPebble(t.TempDir(), vfs.NewMem(), discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer pe.Close()
	s := &Service{store: pe}
	entry := func(i uint64) EventEntry {
		return EventEntry{Receipt: Receipt{ID: "e", Index: i, LeafHash: "00"}, Kind: "contract.signed"}
	}
	b := &batch{sync: true}
	for _, row := range [][]uint64{{10, 15}, {12, 13}, {15}, {20, 21, 22}} {
		if len(row) == 1 {
			e := entry(row[0])
			if err := setValue(b, contractEventKey("t", "r", row[0]), (*storedEntry)(&e)); err != nil {
				t.Fatal(err)
			}
			continue
		}
		var es storedEntries
		for _, i := range row {
			es = append(es, entry(i))
		}
		if err := setValue(b, contractEventsKey("t", "r", row[0], row[len(row)-1]), es); err != nil {
			t.Fatal(err)
		}
	}
	if err := pe.commit(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	got, err := s.eventEntries(contractEventsPrefix("t", "r"))
	if err != nil {
		t.Fatal(err)
	}
	var idx []uint64
	for _, e := range got {
		idx = append(idx, e.Index)
	}
	want := []uint64{10, 12, 13, 15, 20, 21, 22}
	if len(idx) != len(want) {
		t.Fatalf("indexes %v, want %v", idx, want)
	}
	for i := range want {
		if idx[i] != want[i] {
			t.Fatalf("indexes %v, want %v", idx, want)
		}
	}
}
