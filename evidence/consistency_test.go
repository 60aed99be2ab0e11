package evidence_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/cunzheng/cunzheng/evidence"
)

// TestConsistencyRefused: a signature of a contract never sent, or citing
// an intent check that is not its signer's for that contract or that
// failed, is refused
// with ErrInconsistent and changes nothing (no leaf, no claim: the same
// id is accepted once the flow is right); a batch that sends, checks and
// signs passes; an imported signature passes without either.
func TestConsistencyRefused(t *testing.T) { testConsistency(t, embedded) }

func testConsistency(t *testing.T, bk backend) {
	e := newEnvOn(t, bk)
	ctx := context.Background()
	post := func(evs ...map[string]any) ([]evidence.Receipt, error) {
		t.Helper()
		return e.svc.Ingest(ctx, e.p, batch(evs...))
	}
	refused := func(what string, evs ...map[string]any) {
		t.Helper()
		size := e.log.Size()
		_, err := post(evs...)
		var ie *evidence.InconsistentError
		if !errors.Is(err, evidence.ErrInconsistent) || !errors.As(err, &ie) {
			t.Fatalf("%s: got %v, want ErrInconsistent", what, err)
		}
		if e.log.Size() != size {
			t.Fatalf("%s: the refused batch appended %d leaves", what, e.log.Size()-size)
		}
	}
	withIntents := func(ev map[string]any, ids ...any) map[string]any {
		ev["data"].(map[string]any)["intents"] = ids
		return ev
	}
	intent := func(id string, i int, account string) map[string]any {
		ev := event(i)
		ev["id"], ev["kind"] = id, "intent.verified"
		ev["actor"].(map[string]any)["account"] = account
		ev["data"] = map[string]any{"method": "sms_code", "result": "passed"}
		return ev
	}

	// C000000, never sent: refused, and nothing of it is recorded.
	refused("never sent", signed(1))
	if _, err := e.svc.Contract(e.p, "C000000"); !errors.Is(err, evidence.ErrNotFound) {
		t.Fatalf("the refused signature's contract: %v", err)
	}
	// A refused batch writes none of its events, the valid ones neither.
	refused("batch with a signature never sent", event(3), signed(7))
	if e.log.Size() != 0 {
		t.Fatal("leaves after refusals")
	}

	if _, err := post(event(0)); err != nil { // sends C000000
		t.Fatal(err)
	}
	signer := signed(1)["actor"].(map[string]any)["account"].(string)
	refused("unknown intent", withIntents(signed(1), "nope"))
	if _, err := post(intent("int-1", 1, signer), intent("int-other", 1, "13999999999"), intent("int-c1", 4, signer)); err != nil {
		t.Fatal(err)
	}
	refused("another signer's intent", withIntents(signed(1), "int-other"))
	refused("another contract's intent", withIntents(signed(1), "int-c1"))
	refused("an event that is no intent", withIntents(signed(1), "ev-0"))
	// A failed intent check, recorded in an earlier request: the signer's
	// intent was not verified, so no signature may rely on it.
	failed := intent("int-failed", 1, signer)
	failed["data"].(map[string]any)["result"] = "failed"
	if _, err := post(failed); err != nil {
		t.Fatal(err)
	}
	refused("a failed intent", withIntents(signed(1), "int-failed"))
	// The same id, refused before, is accepted now that the flow is right.
	rs, err := post(withIntents(signed(1), "int-1"))
	if err != nil {
		t.Fatal(err)
	}
	// A retry of an accepted signature returns its receipt.
	if again, err := post(withIntents(signed(1), "int-1")); err != nil || again[0] != rs[0] {
		t.Fatalf("retry: %v %v, want %v", again, err, rs)
	}

	// Send, check intent and sign in one request.
	if _, err := post(event(3), intent("int-4", 4, signed(4)["actor"].(map[string]any)["account"].(string)), withIntents(signed(4), "int-4")); err != nil {
		t.Fatalf("one batch with the whole flow: %v", err)
	}

	// An imported signature (a migration) of a contract never sent here,
	// citing intents checked elsewhere.
	imp := withIntents(signed(10), "legacy-intent-1")
	imp["data"].(map[string]any)["imported"] = true
	rs, err = post(imp)
	if err != nil {
		t.Fatalf("imported: %v", err)
	}
	if leaf := e.log.Leaves()[rs[0].Index]; !bytes.Contains(leaf, []byte(`"imported":true`)) {
		t.Errorf("the imported signature's leaf does not say so: %s", leaf)
	}
}

// TestConsistencyRace: signatures racing their contract's sending and
// their intent check in other requests. Each is refused or accepted, never
// anything else, and once accepted it is in the log after both.
func TestConsistencyRace(t *testing.T) { testConsistencyRace(t, embedded) }

func testConsistencyRace(t *testing.T, bk backend) {
	e := newEnvOn(t, bk)
	ctx := context.Background()
	const contracts = 12
	type result struct {
		sent, intent, signed evidence.Receipt
	}
	results := make([]result, contracts)
	errs := make(chan error, 3*contracts)
	var wg sync.WaitGroup
	for k := range contracts {
		send := event(3 * k)
		sign := signed(3*k + 1)
		intent := event(3*k + 1)
		intent["id"], intent["kind"] = fmt.Sprintf("int-%d", k), "intent.verified"
		intent["data"] = map[string]any{"method": "face", "result": "passed"}
		sign["data"].(map[string]any)["intents"] = []any{fmt.Sprintf("int-%d", k)}
		one := func(ev map[string]any, into *evidence.Receipt, retry bool) {
			defer wg.Done()
			body, _ := json.Marshal(ev)
			for {
				rs, err := e.svc.Ingest(ctx, e.p, body)
				if retry && errors.Is(err, evidence.ErrInconsistent) {
					continue // what a platform does that posted out of order
				}
				if err != nil {
					errs <- fmt.Errorf("%s: %w", ev["id"], err)
					return
				}
				*into = rs[0]
				return
			}
		}
		wg.Add(3)
		go one(sign, &results[k].signed, true)
		go one(intent, &results[k].intent, false)
		go one(send, &results[k].sent, false)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for k, r := range results {
		if r.signed.Index < r.sent.Index || r.signed.Index < r.intent.Index {
			t.Errorf("contract %d: signature at leaf %d before its sending (%d) or intent (%d)", k, r.signed.Index, r.sent.Index, r.intent.Index)
		}
	}
	if e.log.Size() != 3*contracts {
		t.Errorf("log has %d leaves for %d events", e.log.Size(), 3*contracts)
	}
}
