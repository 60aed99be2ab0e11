package evidence

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"time"
)

// demoBatch is the seed's sample signing certificate page (签约存证页) as
// events: the 劳动合同 between 伟伟集团 and 叶建华, contract number
// 2125270852621565954, sent, received, identity checked, SMS-verified,
// signed at page 2, completed. The people's ID number is made up.
//
//go:embed testdata/demo_batch.json
var demoBatch []byte

// demoDocHash is the completed-file hash in demoBatch, replaced by the hash
// of the PDF given to LoadDemo.
const demoDocHash = "9c3d2c1f6a0b8e7d5c4b3a29180f7e6d5c4b3a29180f7e6d5c4b3a29180f7e6d"

// Demo constants.
const (
	DemoTenantName = "演示租户 demo"
	DemoContractID = "2125270852621565954"
)

// Demo is what LoadDemo made.
type Demo struct {
	Tenant     Tenant
	APIKey     string // both roles
	ContractID string
	Receipts   []Receipt
}

// demoIntentEvent starts the employee's intent check in demoBatch, before
// which the employer's events go (the log in the order of their times).
const demoIntentEvent = ` {"id":"demo-intent"`

// demoEmployerEvents are the employer's intent check and seal (伟伟集团,
// by 戴文潘, who sent the contract), in demoBatch's dates: the contract
// has two signers, and is completed only once both signed.
const demoEmployerEvents = ` {"id":"demo-employer-intent","kind":"intent.verified","time":"2018-11-14T17:21:50+08:00",
  "contract":{"id":"2125270852621565954","name":"劳动合同"},
  "actor":{"account":"weimei_pan@bestsign.cn","name":"戴文潘","email":"weimei_pan@bestsign.cn","ip":"60.12.241.194","company":"伟伟集团"},
  "data":{"method":"password","result":"passed"}},
 {"id":"demo-employer-signed","kind":"contract.signed","time":"2018-11-14T17:21:52+08:00",
  "contract":{"id":"2125270852621565954","name":"劳动合同"},
  "actor":{"account":"weimei_pan@bestsign.cn","name":"戴文潘","email":"weimei_pan@bestsign.cn","ip":"60.12.241.194","company":"伟伟集团"},
  "data":{"document":{"sha256":"9c3d2c1f6a0b8e7d5c4b3a29180f7e6d5c4b3a29180f7e6d5c4b3a29180f7e6d"},
          "cert_serial":"7b1e0c2d9a4f4e3b8c6d5a4f3e2d1c0b",
          "positions":[{"page":2,"x":0.25,"y":0.63}],
          "intents":["demo-employer-intent"]}},
`

// demoSignedAt is when demoBatch's contract is signed and completed; its
// other events are minutes before.
var demoSignedAt = time.Date(2018, 11, 14, 17, 22, 36, 0, time.FixedZone("UTC+8", 8*3600))

// LoadDemo creates the demo tenant (if absent) and records the demo
// contract's events, for `make run`. It is idempotent across restarts: the
// demo API key is derived from the master key (HMAC), so the same key is
// printed every time while only its hash is stored, and the events carry
// fixed ids. When completedPDF is not nil its SHA-256 becomes the signed and
// completed file hash (so the verification page finds it in the ledger) and
// the PDF is stored encrypted. When signedAt is not zero (the PDF's own
// signing time) the contract is signed and completed then, its other
// events minutes before, so that the ledger and the PDF tell one story;
// with a zero signedAt the events keep the seed's dates of 2018.
func (s *Service) LoadDemo(ctx context.Context, completedPDF []byte, signedAt time.Time) (*Demo, error) {
	mac := hmac.New(sha256.New, s.reg.master.key)
	mac.Write([]byte("cunzheng demo api key v1"))
	key := apiKeyPrefix + "demo_" + base64.RawURLEncoding.EncodeToString(mac.Sum(nil)[:24])
	t, err := ensureTenantKey(ctx, s.reg.tenants, s.reg.master, DemoTenantName, key, s.now())
	if err != nil {
		return nil, err
	}
	if err := s.reg.reload(); err != nil {
		return nil, err
	}
	p, err := s.Authenticate(key)
	if err != nil {
		return nil, fmt.Errorf("evidence: demo key: %w", err)
	}
	// The seed's events; with a signing time, also the employer's seal,
	// so that both of the contract's two signers sign before it completes.
	body, full := demoBatch, demoBatch
	if !signedAt.IsZero() {
		i := bytes.Index(demoBatch, []byte(demoIntentEvent))
		if i < 0 {
			return nil, fmt.Errorf("evidence: demo batch has no intent check")
		}
		full = slices.Concat(demoBatch[:i], []byte(demoEmployerEvents), demoBatch[i:])
	}
	if completedPDF != nil {
		sum := sha256.Sum256(completedPDF)
		h := hex.EncodeToString(sum[:])
		forPDF := func(b []byte) []byte {
			b = bytes.ReplaceAll(b, []byte(demoDocHash), []byte(h))
			// Distinct ids per document, so that changing the demo PDF is
			// not an id conflict with an earlier run.
			b = bytes.ReplaceAll(b, []byte(`"id":"demo-`), []byte(`"id":"demo-`+h[:8]+`-`))
			return bytes.ReplaceAll(b, []byte(`"intents":["demo-`), []byte(`"intents":["demo-`+h[:8]+`-`))
		}
		body, full = forPDF(body), forPDF(full)
		if _, err := s.PutDocument(p, h, completedPDF); err != nil {
			return nil, err
		}
	}
	dated, err := datedDemo(full, signedAt)
	if err != nil {
		return nil, err
	}
	rs, err := s.Ingest(ctx, p, dated)
	if errors.Is(err, ErrIDConflict) && !signedAt.IsZero() {
		// A data directory whose demo an earlier version recorded with
		// the seed's dates and one signature: those events stand (the log
		// is append-only).
		rs, err = s.Ingest(ctx, p, body)
	}
	if err != nil {
		return nil, fmt.Errorf("evidence: loading demo events: %w", err)
	}
	return &Demo{Tenant: t, APIKey: key, ContractID: DemoContractID, Receipts: rs}, nil
}

// ensureTenantKey creates the tenant name with API key key (both roles), or
// adds the key to it when missing.
func ensureTenantKey(ctx context.Context, ts Tenants, master MasterKey, name, key string, now time.Time) (Tenant, error) {
	h := hashAPIKey(key)
	hh := hex.EncodeToString(h[:])
	var t Tenant
	err := ts.b.modify(ctx, func(all []tenantFile) ([]tenantFile, error) {
		for _, tf := range all {
			if tf.Name != name {
				continue
			}
			t = Tenant{ID: tf.ID, Name: tf.Name, Created: tf.Created}
			for _, k := range tf.Keys {
				if k.Hash == hh {
					return nil, nil
				}
			}
			tf.Keys = append(tf.Keys, apiKeyFile{Hash: hh, Roles: AllRoles, Created: now.UTC()})
			return []tenantFile{tf}, nil
		}
		tf, err := newTenantFile(master, name, now)
		if err != nil {
			return nil, err
		}
		tf.Keys = []apiKeyFile{{Hash: hh, Roles: AllRoles, Created: now.UTC()}}
		t = Tenant{ID: tf.ID, Name: tf.Name, Created: tf.Created}
		return []tenantFile{tf}, nil
	})
	return t, err
}

// datedDemo moves every event time of the demo batch body by the same
// amount, so that the contract is signed at signedAt (to the second, in
// Beijing time); a zero signedAt leaves body as it is. (A scan, not a
// regexp: package variables compiled at start-up cost every command.)
func datedDemo(body []byte, signedAt time.Time) ([]byte, error) {
	if signedAt.IsZero() {
		return body, nil
	}
	shift := signedAt.Truncate(time.Second).Sub(demoSignedAt)
	const key = `"time":"`
	var out []byte
	rest := body
	for {
		i := bytes.Index(rest, []byte(key))
		if i < 0 {
			return append(out, rest...), nil
		}
		out = append(out, rest[:i+len(key)]...)
		rest = rest[i+len(key):]
		j := bytes.IndexByte(rest, '"')
		if j < 0 {
			return nil, fmt.Errorf("evidence: demo batch: unterminated time")
		}
		t, err := time.Parse(time.RFC3339, string(rest[:j]))
		if err != nil {
			return nil, fmt.Errorf("evidence: demo batch: %w", err)
		}
		out = append(out, t.Add(shift).In(demoSignedAt.Location()).Format(time.RFC3339)...)
		rest = rest[j:]
	}
}
