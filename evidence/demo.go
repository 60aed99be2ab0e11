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

// demoDocHash is the completed-file hash in demoBatch (the platform's
// signed PDF), replaced by the hash of the signed PDF given to LoadDemo.
const demoDocHash = "9c3d2c1f6a0b8e7d5c4b3a29180f7e6d5c4b3a29180f7e6d5c4b3a29180f7e6d"

// demoSentHash is the sent document's hash in demoBatch (the unsigned
// contract both signers were shown and agreed to), replaced by the hash of
// the sent PDF given to LoadDemo.
const demoSentHash = "5e1f0d2c3b4a59687766554433221100ffeeddccbbaa99887766554433221100"

// DemoSentBefore is how long before the contract's completion demoBatch
// sends it (17:16:43 to 17:22:36): serve --demo renders the sent document
// that long before it signs it, so that the sent document is not dated
// after the event that sends it.
const DemoSentBefore = 5*time.Minute + 53*time.Second

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
	// Earlier is set when the data directory holds a demo an earlier
	// version recorded differently: its events stand (the log is
	// append-only) and nothing was recorded now.
	Earlier bool
}

// DemoFiles are the demo contract's documents, as the signing platform
// would hand them over. The platform signs once, at completion (one
// certification signature that permits no later change): each signer's
// contract.signed names the document that signer was shown and agreed to
// (Sent, also named by contract.sent), and only contract.completed names
// the signed PDF (Completed), whose signature is dated SignedAt.
type DemoFiles struct {
	Sent      []byte
	Completed []byte
	// SignedAt is the signed PDF's signing time (its timestamp's). The
	// contract completes at SignedAt rounded up to the second (events are
	// dated to the second and never before the signature they record),
	// its other events minutes before. Zero keeps the seed's 2018 dates.
	SignedAt time.Time
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
  "data":{"document":{"sha256":"5e1f0d2c3b4a59687766554433221100ffeeddccbbaa99887766554433221100"},
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
// fixed ids. With files nil the events keep the seed's placeholder hashes
// and dates. Otherwise the sent and signed PDFs are stored encrypted (as
// PUT /v1/documents would) and their hashes replace the placeholders, so
// that the verification page finds each in the ledger. files.Sent nil is a
// data directory an earlier version made, which kept the signed PDF alone:
// its events stand and nothing is recorded (Demo.Earlier).
func (s *Service) LoadDemo(ctx context.Context, files *DemoFiles) (*Demo, error) {
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
	d := &Demo{Tenant: t, APIKey: key, ContractID: DemoContractID}
	if files == nil {
		rs, err := s.Ingest(ctx, p, demoBatch)
		if err != nil {
			return nil, fmt.Errorf("evidence: loading demo events: %w", err)
		}
		d.Receipts = rs
		return d, nil
	}
	if files.Completed == nil {
		return nil, errors.New("evidence: demo: no signed contract PDF")
	}
	if files.Sent == nil {
		d.Earlier = true
		return d, nil
	}
	body := demoBatch
	if !files.SignedAt.IsZero() {
		// With a signing time, also the employer's seal, so that both of
		// the contract's two signers sign before it completes.
		i := bytes.Index(demoBatch, []byte(demoIntentEvent))
		if i < 0 {
			return nil, fmt.Errorf("evidence: demo batch has no intent check")
		}
		body = slices.Concat(demoBatch[:i], []byte(demoEmployerEvents), demoBatch[i:])
	}
	sentSum, doneSum := sha256.Sum256(files.Sent), sha256.Sum256(files.Completed)
	sent, done := hex.EncodeToString(sentSum[:]), hex.EncodeToString(doneSum[:])
	body = bytes.ReplaceAll(body, []byte(demoDocHash), []byte(done))
	body = bytes.ReplaceAll(body, []byte(demoSentHash), []byte(sent))
	// Distinct ids per signed document, so that changing the demo PDF is
	// not an id conflict with an earlier run.
	body = bytes.ReplaceAll(body, []byte(`"id":"demo-`), []byte(`"id":"demo-`+done[:8]+`-`))
	body = bytes.ReplaceAll(body, []byte(`"intents":["demo-`), []byte(`"intents":["demo-`+done[:8]+`-`))
	if _, err := s.PutDocument(p, sent, files.Sent); err != nil {
		return nil, err
	}
	if _, err := s.PutDocument(p, done, files.Completed); err != nil {
		return nil, err
	}
	dated, err := datedDemo(body, files.SignedAt)
	if err != nil {
		return nil, err
	}
	rs, err := s.Ingest(ctx, p, dated)
	if errors.Is(err, ErrIDConflict) {
		// A data directory whose demo an earlier version recorded
		// otherwise (the seed's dates, or signing events naming the
		// signed PDF): those events stand.
		d.Earlier = true
		return d, nil
	}
	if err != nil {
		return nil, fmt.Errorf("evidence: loading demo events: %w", err)
	}
	d.Receipts = rs
	return d, nil
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
// amount, so that the contract completes at signedAt rounded up to the
// second (in Beijing time: event times have whole seconds, and an event
// must not precede the signature it records); a zero signedAt leaves body
// as it is. (A scan, not a
// regexp: package variables compiled at start-up cost every command.)
func datedDemo(body []byte, signedAt time.Time) ([]byte, error) {
	if signedAt.IsZero() {
		return body, nil
	}
	shift := demoCompletedAt(signedAt).Sub(demoSignedAt)
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

// demoCompletedAt is when a demo contract whose PDF was signed at signedAt
// completes: signedAt rounded up to the whole second.
func demoCompletedAt(signedAt time.Time) time.Time {
	if t := signedAt.Truncate(time.Second); t.Before(signedAt) {
		return t.Add(time.Second)
	}
	return signedAt
}
