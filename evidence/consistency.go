package evidence

// The consistency rule of ingest, beside the index rule (apply.go): pure
// functions of a batch and of what the store knows of it (recordedFacts).
// ingest.go's refuseInconsistent reads those facts and applies the rule.

import (
	"errors"
	"fmt"

	"github.com/cunzheng/cunzheng/evidence/event"
)

// ErrInconsistent: an event contradicts what the tenant recorded before
// (422): a contract.signed citing an intent check that is not that signer's
// intent.verified of that contract, or signing a contract never sent. The
// error is an *InconsistentError. Nothing of the batch was written. A
// signature citing a failed intent check is refused alike.
var ErrInconsistent = errors.New("event inconsistent with the recorded contract")

// InconsistentError says which event of the body contradicts the record
// and why, in Chinese and English. It never repeats a personal value (the
// contract number, the account): only the event's JSON path and the
// client's own idempotency ids.
type InconsistentError struct {
	Path string // $.events[3] or $
	ZH   string
	EN   string
}

func (e *InconsistentError) Error() string {
	return fmt.Sprintf("%s: %s / %s", e.Path, e.ZH, e.EN)
}

// Unwrap makes errors.Is(err, ErrInconsistent) hold.
func (e *InconsistentError) Unwrap() error { return ErrInconsistent }

// recordedEvent is what the consistency check needs of an event recorded
// before the batch, or of one earlier in it: its kind and the references
// (ts.Ref) of its contract and of its actor.
type recordedEvent struct {
	Kind     event.Kind
	Contract string // contract reference, "" outside a contract
	Subject  string // subject reference, "" without an actor
	// Failed: an intent.verified whose data.result is "failed". The signer's
	// intent was not verified, so no signature may rely on it.
	Failed bool
}

// failedIntent reports whether ev is an intent.verified that failed.
func failedIntent(ev *event.Event) bool {
	return ev.Kind == event.KindIntentVerified && ev.Data["result"] == "failed"
}

// recordedFacts is what the store knows, for checkConsistency: the events
// recorded under the ids a batch's signatures cite, and the contracts with
// a recorded contract.sent. An id or contract missing from the maps is not
// recorded.
type recordedFacts struct {
	events map[string]recordedEvent // event id -> recorded (acknowledged) event
	sent   map[string]bool          // contract reference -> a contract.sent is in its index
}

// importedSignature reports whether a contract.signed carries
// data.imported = true: the platform marks a signature recorded elsewhere
// before (a migration), whose sending and intent checks this archive never
// saw, so that they are not asked for.
func importedSignature(ev *event.Event) bool {
	b, _ := ev.Data["imported"].(bool)
	return b
}

// needsCheck reports whether ev is a fresh event the consistency rules
// apply to.
func needsCheck(ev *event.Event) bool {
	return ev.Kind == event.KindContractSigned && ev.Contract != nil && !importedSignature(ev)
}

// checkConsistency applies the consistency rules to the events of one
// batch, in order. fresh[i] is false for an event already recorded (a
// retry, answered with its first receipt and not checked again). ref is
// tenantState.ref. A contract.signed not marked imported must be of a
// contract whose contract.sent is recorded or earlier in the batch, and
// every id in its data.intents must name a passed intent.verified of the
// same contract by the same account, recorded or earlier in the batch. It is a
// pure function of its arguments: a batch that sends, checks intent and
// signs in one request passes; a signature racing its contract.sent or its
// intent in another request is refused until those are recorded (the
// recorded facts only ever grow, so nothing accepted becomes inconsistent).
func checkConsistency(evs []event.Event, fresh []bool, ref func(kind, v string) string, rec recordedFacts) error {
	var batch map[string]recordedEvent // earlier events of the batch, by id
	var batchSent map[string]bool
	for i := range evs {
		ev := &evs[i]
		if fresh[i] && needsCheck(ev) {
			if err := checkSigned(ev, ref, rec, batch, batchSent); err != nil {
				return err
			}
		}
		if batch == nil {
			batch, batchSent = map[string]recordedEvent{}, map[string]bool{}
		}
		r := recordedEvent{Kind: ev.Kind, Failed: failedIntent(ev)}
		if ev.Contract != nil {
			r.Contract = ref("contract", ev.Contract.ID)
			if ev.Kind == event.KindContractSent {
				batchSent[r.Contract] = true
			}
		}
		if ev.Actor != nil {
			r.Subject = ref("subject", ev.Actor.Account)
		}
		batch[ev.ID] = r
	}
	return nil
}

func checkSigned(ev *event.Event, ref func(kind, v string) string, rec recordedFacts, batch map[string]recordedEvent, batchSent map[string]bool) error {
	contract := ref("contract", ev.Contract.ID)
	if !rec.sent[contract] && !batchSent[contract] {
		return &InconsistentError{Path: ev.Path(),
			ZH: "签署的合同未发送：请先提交该合同的 contract.sent 事件；迁移导入的历史签署请在 data 中标记 \"imported\": true",
			EN: "contract.signed of a contract never sent: post its contract.sent first, or mark a signature imported from another system with \"imported\": true in data"}
	}
	subject := ""
	if ev.Actor != nil {
		subject = ref("subject", ev.Actor.Account)
	}
	ids, _ := ev.Data["intents"].([]any)
	for j, v := range ids {
		id, _ := v.(string)
		path := fmt.Sprintf("%s.data.intents[%d]", ev.Path(), j)
		r, ok := batch[id]
		if !ok {
			r, ok = rec.events[id]
		}
		switch {
		case !ok:
			return &InconsistentError{Path: path,
				ZH: fmt.Sprintf("意愿认证 %q 不存在：请先提交该意愿认证事件", id),
				EN: fmt.Sprintf("intent %q is not recorded: post its intent.verified first", id)}
		case r.Kind != event.KindIntentVerified:
			return &InconsistentError{Path: path,
				ZH: fmt.Sprintf("%q 是 %s 事件，不是意愿认证 (intent.verified)", id, r.Kind),
				EN: fmt.Sprintf("%q is of kind %s, not intent.verified", id, r.Kind)}
		case r.Contract != contract:
			return &InconsistentError{Path: path,
				ZH: fmt.Sprintf("意愿认证 %q 属于另一份合同", id),
				EN: fmt.Sprintf("intent %q was verified for another contract", id)}
		case r.Subject != subject:
			return &InconsistentError{Path: path,
				ZH: fmt.Sprintf("意愿认证 %q 属于另一位签署人", id),
				EN: fmt.Sprintf("intent %q was verified by another signer", id)}
		case r.Failed:
			return &InconsistentError{Path: path,
				ZH: fmt.Sprintf("意愿认证 %q 未通过（result 为 failed），签署不能依据它", id),
				EN: fmt.Sprintf("intent %q failed (result failed): a signature cannot rely on it", id)}
		}
	}
	return nil
}
