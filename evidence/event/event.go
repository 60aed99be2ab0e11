package event

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// Kind is what an event records.
type Kind string

// The kinds of the issue: the four the product is built on, the contract
// lifecycle a certificate page needs, and data.erased and report.issued,
// which only the server writes.
const (
	KindAccountRegistered Kind = "account.registered"
	KindIdentityChecked   Kind = "identity.checked"
	KindIntentVerified    Kind = "intent.verified"
	KindContractSigned    Kind = "contract.signed"
	KindContractSent      Kind = "contract.sent"
	KindContractReceived  Kind = "contract.received"
	KindContractCompleted Kind = "contract.completed"
	KindContractRejected  Kind = "contract.rejected"
	KindContractRevoked   Kind = "contract.revoked"
	KindDataErased        Kind = "data.erased"
	KindReportIssued      Kind = "report.issued"
	// Notarisation (公证) records the server writes under a contract.
	KindNotarizationRequested Kind = "notarization.requested"
	KindNotarizationIssued    Kind = "notarization.issued"
	KindNotarizationRefused   Kind = "notarization.refused"
)

// Event is one validated event as the platform posted it. Data is the
// kind-specific object as decoded (numbers are json.Number).
type Event struct {
	ID       string
	Kind     Kind
	Time     time.Time
	Contract *Contract
	Actor    *Actor
	Data     map[string]any

	// digest is SHA-256 of the canonical JSON of the event as posted; a
	// retried id must carry the same digest.
	digest [32]byte
	// path is where the event was in the body ($ or $.events[i]).
	path string
}

// Digest is SHA-256 of the canonical JSON of the event as posted. A
// retried id must carry the same digest.
func (e *Event) Digest() [32]byte { return e.digest }

// Path is where the event was in the posted body: $ or $.events[i].
func (e *Event) Path() string { return e.path }

// Contract names the contract an event is about.
type Contract struct {
	ID   string
	Name string
}

// Actor is who acted. Every field is personal data.
type Actor struct {
	Account    string
	Name       string
	IDNumber   string
	Phone      string
	Email      string
	IP         string
	Company    string
	CreditCode string
}

// fields returns the actor's non-empty fields by their JSON path.
func (a *Actor) fields() [][2]string {
	var out [][2]string
	add := func(k, v string) {
		if v != "" {
			out = append(out, [2]string{"actor." + k, v})
		}
	}
	add("account", a.Account)
	add("name", a.Name)
	add("id_number", a.IDNumber)
	add("phone", a.Phone)
	add("email", a.Email)
	add("ip", a.IP)
	add("company", a.Company)
	add("credit_code", a.CreditCode)
	return out
}

// ParseEvents decodes and validates a POST /v1/events body: one event or
// {"events":[...]} with 1 to MaxBatch events. It checks everything (strict
// JSON, the schema, ids unique within the batch) before returning, so that a
// batch is accepted or rejected whole. Errors are *ValidationError (which
// wraps ErrInvalidEvent) naming the JSON path of the first problem.
func ParseEvents(body []byte) ([]Event, error) {
	if len(body) > MaxBodyBytes {
		return nil, invalid("$", "body larger than %d bytes", MaxBodyBytes)
	}
	if len(body) == 0 {
		return nil, invalid("$", "empty body")
	}
	tree, err := decodeStrict(body, MaxDepth)
	if err != nil {
		return nil, err
	}
	cs, err := loadSchema()
	if err != nil {
		return nil, err
	}
	if verr := cs.validate(cs.root, tree, rootPath); verr != nil {
		return nil, verr
	}
	obj := tree.(map[string]any)
	var raws []any
	var paths []string
	if evs, ok := obj["events"]; ok {
		raws = evs.([]any)
		for i := range raws {
			paths = append(paths, "$.events["+strconv.Itoa(i)+"]")
		}
	} else {
		raws, paths = []any{obj}, []string{"$"}
	}
	out := make([]Event, len(raws))
	seen := make(map[string]int, len(raws))
	for i, r := range raws {
		ev, err := eventFromTree(r.(map[string]any), paths[i])
		if err != nil {
			return nil, err
		}
		if j, dup := seen[ev.ID]; dup {
			return nil, invalid(paths[i]+".id", "id %q repeats %s.id in the same batch", ev.ID, paths[j])
		}
		seen[ev.ID] = i
		out[i] = ev
	}
	return out, nil
}

// ServerEvent is an event the server itself records (report.issued) about
// contract contractID: not parsed from a body, so its digest covers its
// kind, contract, time and data.
func ServerEvent(id string, kind Kind, t time.Time, contractID string, data map[string]any) (Event, error) {
	ev := Event{ID: id, Kind: kind, Time: t, Contract: &Contract{ID: contractID}, Data: data, path: "$"}
	canon, err := CanonicalJSON(map[string]any{"kind": string(kind), "contract": contractID,
		"time": t.UTC().Format(time.RFC3339Nano), "data": data})
	if err != nil {
		return Event{}, err
	}
	ev.digest = sha256.Sum256(canon)
	return ev, nil
}

// eventFromTree converts a schema-valid tree into an Event.
func eventFromTree(m map[string]any, path string) (Event, error) {
	str := func(m map[string]any, k string) string { s, _ := m[k].(string); return s }
	ev := Event{ID: str(m, "id"), Kind: Kind(str(m, "kind")), path: path}
	t, err := parseTime(str(m, "time"))
	if err != nil {
		return Event{}, invalid(path+".time", "not an RFC 3339 time with offset")
	}
	if t.Year() < 1970 || t.Year() >= 2200 {
		// The date index orders by nanoseconds since 1970 in 64 bits.
		return Event{}, invalid(path+".time", "outside the years 1970 to 2199")
	}
	ev.Time = t
	if c, ok := m["contract"].(map[string]any); ok {
		ev.Contract = &Contract{ID: str(c, "id"), Name: str(c, "name")}
	}
	if a, ok := m["actor"].(map[string]any); ok {
		ev.Actor = &Actor{
			Account: str(a, "account"), Name: str(a, "name"), IDNumber: str(a, "id_number"),
			Phone: str(a, "phone"), Email: str(a, "email"), IP: str(a, "ip"),
			Company: str(a, "company"), CreditCode: str(a, "credit_code"),
		}
	}
	if d, ok := m["data"].(map[string]any); ok {
		ev.Data = d
	} else {
		ev.Data = map[string]any{}
	}
	canon, err := canonicalJSON(make([]byte, 0, 1024), m)
	if err != nil {
		return Event{}, invalid(path, "%s", err.Error())
	}
	ev.digest = sha256.Sum256(canon)
	return ev, nil
}

// documentHashes returns the SHA-256 document hashes an event names, with
// the kind of reference, for the document index.
func (e *Event) documentHashes() []string { return documentHashes(e.Kind, e.Data) }

// DocumentHashes returns the document hashes a public record names, as the
// log's document index holds them: the data members that stay public in
// the leaf (document and file SHA-256s, a report's SHA-256 and number
// key). A notary office indexes its pulled copy by them.
func (pr *PublicRecord) DocumentHashes() []string { return documentHashes(pr.Kind, pr.Data) }

func documentHashes(kind Kind, data map[string]any) []string {
	var out []string
	if d, ok := data["document"].(map[string]any); ok {
		if h, ok := d["sha256"].(string); ok {
			out = append(out, h)
		}
	}
	if fs, ok := data["files"].([]any); ok {
		for _, f := range fs {
			if fm, ok := f.(map[string]any); ok {
				if h, ok := fm["sha256"].(string); ok {
					out = append(out, h)
				}
			}
		}
	}
	if kind == KindReportIssued {
		// A PDF this archive issued is found by the SHA-256 of its bytes
		// and by its report number (what its QR code carries).
		if h, ok := data["sha256"].(string); ok {
			out = append(out, h)
		}
		if n, ok := data["report"].(string); ok {
			out = append(out, ReportNumberKey(n))
		}
	}
	return out
}

// ReportNumberKey is the document-index entry of a report number. Reports
// are indexed by number in the document index, under this hash of it,
// because the claim carries its index entries (Docs) through pending and
// recovery already; no document's SHA-256 equals it.
func ReportNumberKey(number string) string {
	h := sha256.Sum256([]byte("cunzheng report number v1\x00" + number))
	return hex.EncodeToString(h[:])
}

// personalDataFields are data members (dot paths into data) that identify
// a person and are sealed like actor fields (erasable with the subject):
// certificate serials, free text, OCR results, the images and media of a
// person's checks, reserved phones, the face digits read aloud, the
// authorised person and the account holder of a remittance.
var personalDataFields = map[string]bool{
	"cert_serial": true, "reason": true,
	"ocr": true, "id_front_sha256": true, "id_back_sha256": true, "reserved_phone": true, "licence_ocr": true,
	"face.digits": true, "face.video_sha256": true, "face.photo_sha256": true,
	"authorization.authorized_person": true, "remittance.account_name": true,
}

// sm4Fields are the sealed paths kept under the subject's SM4 key, as
// national rules ask of ID numbers: the ID number, and card and account
// numbers.
var sm4Fields = map[string]bool{"actor.id_number": true, "data.card_number": true, "data.remittance.account_number": true}

// nestedData are the data members whose object members may be sealed.
var nestedData = map[string]bool{"face": true, "authorization": true, "remittance": true}

// splitData separates the kind-specific data into its public part and its
// sealed fields (path -> value). File names are sealed (they often carry the
// parties' names); intent ids are replaced by their event references.
func splitData(data map[string]any, eventRef func(id string) string) (public map[string]any, personal, contract [][2]string, err error) {
	public = make(map[string]any, len(data))
	for k, v := range data {
		switch {
		case personalDataFields[k] || sm4Fields["data."+k]:
			s, _ := v.(string)
			personal = append(personal, [2]string{"data." + k, s})
		case k == "requester":
			// The label of the key that asked for a report (report.issued,
			// which only the server writes) names the tenant: sealed with
			// the contract's fields.
			s, _ := v.(string)
			contract = append(contract, [2]string{"data." + k, s})
		case nestedData[k]:
			m, _ := v.(map[string]any)
			pub := make(map[string]any, len(m))
			for mk, mv := range m {
				if p := k + "." + mk; personalDataFields[p] || sm4Fields["data."+p] {
					s, _ := mv.(string)
					personal = append(personal, [2]string{"data." + p, s})
					continue
				}
				pub[mk] = mv
			}
			public[k] = pub
		case k == "intents":
			ids, _ := v.([]any)
			refs := make([]any, len(ids))
			for i, id := range ids {
				s, _ := id.(string)
				refs[i] = eventRef(s)
			}
			public[k] = refs
		case k == "files":
			fs, _ := v.([]any)
			pub := make([]any, len(fs))
			for i, f := range fs {
				fm, _ := f.(map[string]any)
				pf := make(map[string]any, len(fm))
				for fk, fv := range fm {
					if fk == "name" {
						s, _ := fv.(string)
						contract = append(contract, [2]string{fmt.Sprintf("data.files[%d].name", i), s})
						continue
					}
					pf[fk] = fv
				}
				pub[i] = pf
			}
			public[k] = pub
		default:
			public[k] = v
		}
	}
	return public, personal, contract, nil
}

// Commitment returns SHA-256(salt || value), the public commitment to one
// personal field. Whoever holds the sealed value and salt can check it
// against the leaf; whoever does not learns nothing from it, because the
// salt is 32 bytes no one can tell from random without the seed of its
// sealed part (see sealedPart), itself fresh random bytes.
func Commitment(salt []byte, value string) [32]byte {
	// Concatenated in a stack buffer when it fits: a heap hasher per field
	// was 3% of ingest allocations.
	var buf [256]byte
	return sha256.Sum256(append(append(buf[:0], salt...), value...))
}

// leafVersion is the version of the leaves written now (see PublicRecord).
const leafVersion = 2

// TenantCommitment is the member of a version 2 leaf's commitments that
// commits to the tenant id: SHA-256(salt || tenant id), with a salt of the
// leaf's own that the tenant derives from the leaf's ref (see
// tenantState.tenantSalt) and opens like any other commitment.
const TenantCommitment = "tenant"

// PublicRecord is the decoded form of a leaf, for reports and verifiers.
// Its canonical JSON (RFC 8785) is exactly the leaf bytes. Version 1
// leaves, written before, name the tenant in Tenant; version 2 leaves carry
// no tenant id, only Commitments[TenantCommitment], so that nobody without
// the tenant's key can tell which leaves are one tenant's. Both stay valid:
// the log is append-only.
type PublicRecord struct {
	Version     int               `json:"v"`
	Tenant      string            `json:"tenant,omitempty"`
	Kind        Kind              `json:"kind"`
	Ref         string            `json:"ref"`
	Time        string            `json:"time"`
	Logged      string            `json:"logged"`
	Contract    string            `json:"contract,omitempty"`
	Data        map[string]any    `json:"data"`
	Commitments map[string]string `json:"commitments"`
}

// ParseLeaf decodes leaf bytes and checks that they are the canonical
// serialisation of a public record, so that a report never shows a record
// that differs from what the log committed to.
func ParseLeaf(leaf []byte) (*PublicRecord, error) {
	tree, err := decodeStrict(leaf, MaxDepth)
	if err != nil {
		return nil, fmt.Errorf("evidence: leaf: %w", err)
	}
	canon, err := canonicalJSON(nil, tree)
	if err != nil || string(canon) != string(leaf) {
		return nil, fmt.Errorf("%w: leaf is not canonical JSON", ErrInvalidEvent)
	}
	var pr PublicRecord
	d := json.NewDecoder(bytesReader(leaf))
	d.UseNumber()
	d.DisallowUnknownFields()
	if err := d.Decode(&pr); err != nil {
		return nil, fmt.Errorf("%w: leaf: %w", ErrInvalidEvent, err)
	}
	switch {
	case pr.Version == 1 && pr.Tenant != "":
	case pr.Version == leafVersion && pr.Tenant == "" && pr.Commitments[TenantCommitment] != "":
	default:
		return nil, fmt.Errorf("%w: leaf version %d with tenant %q and no tenant commitment", ErrInvalidEvent, pr.Version, pr.Tenant)
	}
	return &pr, nil
}
