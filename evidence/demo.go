package evidence

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"encoding/hex"
	"fmt"
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

// LoadDemo creates the demo tenant (if absent) and records the demo
// contract's events, for `make run`. It is idempotent across restarts: the
// demo API key is derived from the master key (HMAC), so the same key is
// printed every time while only its hash is stored, and the events carry
// fixed ids. When completedPDF is not nil its SHA-256 becomes the signed and
// completed file hash (so the verification page finds it in the ledger) and
// the PDF is stored encrypted.
func (s *Service) LoadDemo(ctx context.Context, completedPDF []byte) (*Demo, error) {
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
	body := demoBatch
	if completedPDF != nil {
		sum := sha256.Sum256(completedPDF)
		h := hex.EncodeToString(sum[:])
		body = bytes.ReplaceAll(body, []byte(demoDocHash), []byte(h))
		// Distinct ids per document, so that changing the demo PDF is not
		// an id conflict with an earlier run.
		body = bytes.ReplaceAll(body, []byte(`"id":"demo-`), []byte(`"id":"demo-`+h[:8]+`-`))
		body = bytes.ReplaceAll(body, []byte(`"intents":["demo-`), []byte(`"intents":["demo-`+h[:8]+`-`))
		if _, err := s.PutDocument(p, h, completedPDF); err != nil {
			return nil, err
		}
	}
	rs, err := s.Ingest(ctx, p, body)
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
