package evidence

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/cunzheng/cunzheng/evidence/event"
)

// TestCheckConsistency pins the rules of checkConsistency on batches and
// recorded facts, without a store.
func TestCheckConsistency(t *testing.T) {
	ref := func(kind, v string) string { return kind + ":" + v }
	ev := func(id, kind, contract, account, data string) string {
		s := fmt.Sprintf(`{"id":%q,"kind":%q,"time":"2026-11-24T10:00:00+08:00"`, id, kind)
		if contract != "" {
			s += fmt.Sprintf(`,"contract":{"id":%q}`, contract)
		}
		if account != "" {
			s += fmt.Sprintf(`,"actor":{"account":%q}`, account)
		}
		return s + `,"data":` + data + `}`
	}
	sent := func(id, c string) string { return ev(id, "contract.sent", c, "sender", `{"signers":2}`) }
	intent := func(id, c, a string) string {
		return ev(id, "intent.verified", c, a, `{"method":"sms_code","result":"passed"}`)
	}
	signed := func(id, c, a, extra string) string {
		return ev(id, "contract.signed", c, a, `{"document":{"sha256":"`+strings.Repeat("ab", 32)+
			`"},"cert_serial":"01ab","positions":[{"page":1,"x":0.5,"y":0.5}]`+extra+`}`)
	}
	recorded := recordedFacts{
		events: map[string]recordedEvent{
			"i-a":  {Kind: event.KindIntentVerified, Contract: "contract:C1", Subject: "subject:A"},
			"i-b":  {Kind: event.KindIntentVerified, Contract: "contract:C1", Subject: "subject:B"},
			"i-c2": {Kind: event.KindIntentVerified, Contract: "contract:C2", Subject: "subject:A"},
			"id-a": {Kind: event.KindIdentityChecked, Subject: "subject:A"},
			"i-a2": {Kind: event.KindIntentVerified, Contract: "contract:C1", Subject: "subject:A"},
			"i-af": {Kind: event.KindIntentVerified, Contract: "contract:C1", Subject: "subject:A", Failed: true},
		},
		sent: map[string]bool{"contract:C1": true},
	}
	tests := []struct {
		name  string
		evs   []string
		fresh []bool // nil: all fresh
		want  string // "" or the error's path and English reason
	}{
		{"sent and intent recorded", []string{signed("s", "C1", "A", `,"intents":["i-a"]`)}, nil, ""},
		{"no intents cited", []string{signed("s", "C1", "A", ``)}, nil, ""},
		{"two intents", []string{signed("s", "C1", "A", `,"intents":["i-a","i-a2"]`)}, nil, ""},
		{"never sent", []string{signed("s", "C2", "A", `,"intents":["i-c2"]`)}, nil, "$.events[0]: contract.signed of a contract never sent"},
		{"unknown intent", []string{signed("s", "C1", "A", `,"intents":["i-a","nope"]`)}, nil, `$.events[0].data.intents[1]: intent "nope" is not recorded`},
		{"another signer's intent", []string{signed("s", "C1", "A", `,"intents":["i-b"]`)}, nil, `$.events[0].data.intents[0]: intent "i-b" was verified by another signer`},
		{"another contract's intent", []string{sent("x", "C2"), signed("s", "C2", "A", `,"intents":["i-a"]`)}, nil, `$.events[1].data.intents[0]: intent "i-a" was verified for another contract`},
		{"not an intent", []string{signed("s", "C1", "A", `,"intents":["id-a"]`)}, nil, `$.events[0].data.intents[0]: "id-a" is of kind identity.checked, not intent.verified`},
		{"a failed intent", []string{signed("s", "C1", "A", `,"intents":["i-a","i-af"]`)}, nil, `$.events[0].data.intents[1]: intent "i-af" failed`},
		{"a failed intent of the batch", []string{sent("x", "C3"), ev("i", "intent.verified", "C3", "A", `{"method":"face","result":"failed"}`), signed("s", "C3", "A", `,"intents":["i"]`)}, nil, `$.events[2].data.intents[0]: intent "i" failed`},
		{"imported", []string{signed("s", "C9", "A", `,"intents":["made-up"],"imported":true`)}, nil, ""},
		{"imported false is checked", []string{signed("s", "C9", "A", `,"imported":false`)}, nil, "$.events[0]: contract.signed of a contract never sent"},
		{"send, check and sign in one batch", []string{sent("x", "C3"), intent("i", "C3", "A"), signed("s", "C3", "A", `,"intents":["i"]`)}, nil, ""},
		{"sign before the send in a batch", []string{signed("s", "C3", "A", ``), sent("x", "C3")}, nil, "$.events[0]: contract.signed of a contract never sent"},
		{"cite a later intent of the batch", []string{sent("x", "C3"), signed("s", "C3", "A", `,"intents":["i"]`), intent("i", "C3", "A")}, nil, `$.events[1].data.intents[0]: intent "i" is not recorded`},
		{"batch intent of another signer", []string{sent("x", "C3"), intent("i", "C3", "B"), signed("s", "C3", "A", `,"intents":["i"]`)}, nil, `$.events[2].data.intents[0]: intent "i" was verified by another signer`},
		{"a retry is not checked again", []string{signed("s", "C9", "A", ``)}, []bool{false}, ""},
		{"a retried sending counts", []string{sent("x", "C9"), signed("s", "C9", "A", ``)}, []bool{false, true}, ""},
		{"other kinds are not checked", []string{intent("i", "C9", "A"), ev("r", "contract.rejected", "C9", "A", `{}`)}, nil, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			evs, err := event.ParseEvents([]byte(`{"events":[` + strings.Join(tc.evs, ",") + `]}`))
			if err != nil {
				t.Fatal(err)
			}
			fresh := tc.fresh
			if fresh == nil {
				fresh = make([]bool, len(evs))
				for i := range fresh {
					fresh[i] = true
				}
			}
			err = checkConsistency(evs, fresh, ref, recorded)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var ie *InconsistentError
			if !errors.As(err, &ie) || !errors.Is(err, ErrInconsistent) {
				t.Fatalf("got %v, want an InconsistentError", err)
			}
			path, reason, _ := strings.Cut(tc.want, ": ")
			if ie.Path != path || !strings.HasPrefix(ie.EN, reason) {
				t.Errorf("got %s: %s\nwant %s", ie.Path, ie.EN, tc.want)
			}
			if ie.ZH == "" || !strings.Contains(err.Error(), ie.ZH) || !strings.Contains(err.Error(), ie.EN) {
				t.Errorf("message %q lacks the Chinese or the English reason", err)
			}
		})
	}
}
