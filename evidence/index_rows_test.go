package evidence_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestEventRows(t *testing.T) { testEventRows(t, embedded) }

// testEventRows: a request's events of one contract are one e/ row, and a
// person's events outside contracts one u/ row, not a row per event (on
// PostgreSQL each row is an index insert and a heap tuple); the rows an
// earlier version wrote, one per event, still read, beside new ones of the
// same contract, and the contract lists every event once, in log order.
func testEventRows(t *testing.T, bk backend) {
	e := newEnvOn(t, bk)
	ctx := context.Background()
	var demo struct{ Events []map[string]any }
	if err := json.Unmarshal(demoBatch(t), &demo); err != nil {
		t.Fatal(err)
	}
	// sent, received | identity (twice), intent, signed, completed
	first, rest := demo.Events[:2], demo.Events[2:]
	again := map[string]any{}
	for k, v := range rest[0] {
		again[k] = v
	}
	again["id"] = "demo-identity-again"
	rest = append([]map[string]any{rest[0], again}, rest[1:]...)
	rows := func(table string) int {
		t.Helper()
		n, err := e.svc.StoredRows(table)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if _, err := e.svc.Ingest(ctx, e.p, batch(first...)); err != nil {
		t.Fatal(err)
	}
	if n := rows("e"); n != 1 {
		t.Errorf("two events of a contract in one request: %d e/ rows, want 1", n)
	}
	// The form an earlier version wrote: a row per event.
	if _, err := e.svc.RewriteAsBeforeBinaryForms(e.p.Tenant.ID); err != nil {
		t.Fatal(err)
	}
	if n := rows("e"); n != 2 {
		t.Fatalf("rewritten as before: %d e/ rows, want 2", n)
	}
	e.reopen(t)
	if _, err := e.svc.Ingest(ctx, e.p, batch(rest...)); err != nil {
		t.Fatal(err)
	}
	if n := rows("e"); n != 3 {
		t.Errorf("two old rows and a request of three events of the contract: %d e/ rows, want 3", n)
	}
	if n := rows("u"); n != 1 {
		t.Errorf("two identity checks of one person in one request: %d u/ rows, want 1", n)
	}
	v, err := e.svc.Contract(e.p, "2125270852621565954")
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for i, ev := range v.Events {
		kinds = append(kinds, string(ev.Kind))
		if i > 0 && ev.Index <= v.Events[i-1].Index {
			t.Errorf("event %d at index %d after %d", i, ev.Index, v.Events[i-1].Index)
		}
	}
	want := "contract.sent contract.received intent.verified contract.signed contract.completed"
	if got := strings.Join(kinds, " "); got != want || v.EventCount != 5 {
		t.Errorf("contract events %s (count %d), want %s", got, v.EventCount, want)
	}
	leaf := func(_ context.Context, i uint64) ([]byte, error) { return e.log.Leaves()[i], nil }
	_, recs, err := e.svc.Records(ctx, e.p, "2125270852621565954", leaf)
	if err != nil {
		t.Fatal(err)
	}
	kinds = kinds[:0]
	for _, r := range recs {
		kinds = append(kinds, string(r.Public.Kind))
	}
	want = "contract.sent contract.received identity.checked identity.checked intent.verified contract.signed contract.completed"
	if got := strings.Join(kinds, " "); got != want {
		t.Errorf("records %s, want %s", got, want)
	}
	// The same view after a restart (no cache on either store).
	e.reopen(t)
	again2, err := e.svc.Contract(e.p, "2125270852621565954")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(v, again2); diff != "" {
		t.Errorf("after reopening (-before +after):\n%s", diff)
	}
}
