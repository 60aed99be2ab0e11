package evidence

import (
	"context"
	"fmt"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// recordingStore is a real store that keeps a copy of every batch
// committed through it.
type recordingStore struct {
	Store
	batches []batch
}

func (r *recordingStore) commit(ctx context.Context, b *batch) error {
	r.batches = append(r.batches, *b)
	return r.Store.commit(ctx, b)
}

// TestCommitPendingWritesEachKeyOnce: a request in which a new signer acts
// three times writes the signer's new key once, with the three pending
// claims: on PostgreSQL each repeat was a statement more, rewriting the
// row just inserted.
func TestCommitPendingWritesEachKeyOnce(t *testing.T) {
	pe, err := openPebble(t.TempDir(), vfs.NewMem(), discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer pe.Close()
	st := &recordingStore{Store: pe}
	s := &Service{store: st}
	ts := &tenantState{Tenant: Tenant{ID: "t1"}}
	sk := newSubjectKey("subject:A", "key1", make([]byte, 32), []byte("wrapped"))
	var work []*item
	var newKeys []*subjectKey
	for i := range 3 {
		work = append(work, &item{pos: i, id: fmt.Sprintf("ev-%d", i), fresh: true,
			c: &claim{State: "pending", Subject: sk.Subject, SubjectKey: sk.ID}})
		newKeys = append(newKeys, sk) // as ingestOnce lists them: once per event
	}
	if err := s.commitPending(context.Background(), ts, work, newKeys, nil); err != nil {
		t.Fatal(err)
	}
	if len(st.batches) != 1 {
		t.Fatalf("%d batches, want 1", len(st.batches))
	}
	writes := map[string]int{}
	for _, o := range st.batches[0].ops {
		writes[string(o.k)]++
	}
	if n := writes[string(subjectKeyKey("t1", sk.Subject))]; n != 1 {
		t.Errorf("the new subject key is written %d times, want once", n)
	}
	if len(writes) != 4 {
		t.Errorf("%d keys written, want the key and three claims: %v", len(writes), writes)
	}
	if !sk.persisted.Load() {
		t.Error("the key is not marked persisted")
	}
	var pending int
	if err := pe.scanPending(context.Background(), func([]byte) (bool, error) { pending++; return true, nil }); err != nil {
		t.Fatal(err)
	}
	if pending != 3 {
		t.Errorf("%d claims pending, want 3", pending)
	}
}
