package event_test

import (
	"bytes"
	"encoding/hex"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/cunzheng/cunzheng/evidence/event"
)

// TestBuildRecord: each event of the demo batch becomes a canonical leaf
// holding no personal value, whose every commitment opens with the field
// and salt of a sealed part, each part opening only with its own key and
// for its own leaf.
func TestBuildRecord(t *testing.T) {
	body, err := os.ReadFile("../testdata/demo_batch.json")
	if err != nil {
		t.Fatal(err)
	}
	evs, err := event.ParseEvents(body)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := event.NewTenantKeys("0123456789abcdef", bytes.Repeat([]byte{1}, 32))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	for i := range evs {
		ev := &evs[i]
		t.Run(ev.ID, func(t *testing.T) {
			var sk *event.SubjectKey
			if ev.Actor != nil {
				k := event.NewSubjectKey(keys.Ref("subject", ev.Actor.Account), "k1", bytes.Repeat([]byte{byte(i + 2)}, 32))
				sk = &k
			}
			r, err := event.BuildRecord(keys, ev, sk, now)
			if err != nil {
				t.Fatal(err)
			}
			if r.LeafHash != event.LeafHash(r.Leaf) || r.Digest != ev.Digest() {
				t.Error("leaf hash or digest is not the leaf's and the event's")
			}
			pr, err := event.ParseLeaf(r.Leaf)
			if err != nil {
				t.Fatal(err)
			}
			if pr.Kind != ev.Kind || pr.Ref != keys.Ref("event", ev.ID) || pr.Tenant != "" {
				t.Errorf("leaf kind %s, ref %s, tenant %q", pr.Kind, pr.Ref, pr.Tenant)
			}
			opened := map[string]event.Field{event.TenantCommitment: {Value: keys.TenantID, Salt: keys.TenantSalt(pr.Ref)}}
			open := func(blob []byte, alg byte, key []byte, part string) {
				if blob == nil {
					return
				}
				pt, err := event.Open(alg, key, blob, event.SealAD(keys.TenantID, r.LeafHash[:], part))
				if err != nil {
					t.Fatalf("opening %s: %v", part, err)
				}
				if _, err := event.Open(alg, key, blob, event.SealAD(keys.TenantID, make([]byte, 32), part)); err == nil {
					t.Errorf("%s opened for another leaf", part)
				}
				fields, err := event.OpenPart(pt, "")
				if err != nil {
					t.Fatal(err)
				}
				for p, f := range fields {
					if strings.Contains(string(r.Leaf), f.Value) {
						t.Errorf("the leaf holds the value of %s", p)
					}
					opened[p] = f
				}
			}
			open(r.Sealed.Contract, event.AlgAES256GCM, keys.ContractKey, event.PartContract)
			if sk != nil {
				if r.Sealed.Subject != sk.Subject || r.Sealed.SubjectKey != sk.ID {
					t.Errorf("sealed under %s/%s", r.Sealed.Subject, r.Sealed.SubjectKey)
				}
				open(r.Sealed.Personal, event.AlgAES256GCM, sk.AES, event.PartPersonal)
				open(r.Sealed.IDNumber, event.AlgSM4GCM, sk.SM4, event.PartIDNumber)
			} else if r.Sealed.Personal != nil || r.Sealed.IDNumber != nil {
				t.Error("personal parts without an actor")
			}
			if len(opened) != len(pr.Commitments) {
				t.Errorf("%d commitments, %d opened fields", len(pr.Commitments), len(opened))
			}
			for p, f := range opened {
				cm := event.Commitment(f.Salt, f.Value)
				if pr.Commitments[p] != hex.EncodeToString(cm[:]) {
					t.Errorf("commitment %s does not open", p)
				}
			}
			if ev.Contract != nil && (pr.Contract != keys.Ref("contract", ev.Contract.ID) || r.Contract != pr.Contract) {
				t.Errorf("contract reference %q, record %q", pr.Contract, r.Contract)
			}
			if ev.Actor != nil && opened["actor.account"].Value != ev.Actor.Account {
				t.Error("the actor's account is not sealed")
			}
		})
	}
}
