package event

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"
)

// Record is one event split for the log and the store: the leaf, which
// anyone may read, and the sealed parts the leaf commits to, which only
// the tenant opens.
type Record struct {
	// Digest is the event's (Event.Digest), which a retried id must match.
	Digest [32]byte
	// Leaf is the canonical JSON of the public record (see PublicRecord);
	// LeafHash its RFC 6962 leaf hash.
	Leaf     []byte
	LeafHash [32]byte
	// Contract is the reference of the event's contract, "" for an event
	// about no contract (identity checks, registrations, erasures).
	Contract string
	// Docs are the document hashes the event names, and a report's
	// number (ReportNumberKey), for the document index.
	Docs   []string
	Sealed Sealed
}

// Sealed is the sealed side of a Record, each part encrypted under its
// own key and bound (SealAD) to the tenant, the leaf hash and the part's
// name. A part with no fields is nil.
type Sealed struct {
	// Subject and SubjectKey name the subject key Personal and IDNumber
	// are sealed under; empty for an event without an actor.
	Subject, SubjectKey string
	// Personal is the actor's fields and the personal data fields under
	// the subject's AES-256-GCM key: erasing the subject erases them.
	Personal []byte
	// IDNumber is the ID, card and account numbers under the subject's
	// SM4-GCM key, as national rules ask.
	IDNumber []byte
	// Contract is the contract number and name, file names and a report's
	// requester under the tenant's contract key, which no erasure of a
	// person touches. Personal data of an event without an actor is here.
	Contract []byte
}

// The part names SealAD binds.
const (
	PartPersonal = "personal"
	PartIDNumber = "id_number"
	PartContract = "contract"
)

// SealAD is the associated data of sealed part of the leaf with hash
// leafHash of tenant: a part opens only for the leaf it was sealed for.
func SealAD(tenant string, leafHash []byte, part string) []byte {
	return []byte("cunzheng sealed v1\x00" + tenant + "\x00" + hex.EncodeToString(leafHash) + "\x00" + part)
}

// LeafHash is the RFC 6962 leaf hash SHA-256(0x00 || leaf).
func LeafHash(leaf []byte) [32]byte {
	h := sha256.New()
	h.Write([]byte{0})
	h.Write(leaf)
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// canonicalLeaf returns the leaf bytes of the public record pr and their
// RFC 6962 leaf hash. The JSON is written after the 0x00 of the hash input,
// to hash it without a copy.
func canonicalLeaf(pr map[string]any) (leaf []byte, hash [32]byte, err error) {
	hashed, err := canonicalJSON(append(make([]byte, 0, 2048), 0), pr)
	if err != nil {
		return nil, hash, err
	}
	return hashed[1:], sha256.Sum256(hashed), nil
}

// BuildRecord splits ev, logged at now, into its leaf and its sealed
// parts with the tenant's keys: sk is the actor's subject key, nil for an
// event without an actor. Every commitment salt comes from fresh random
// seeds, so two builds of one event differ; the caller keeps the first.
func BuildRecord(keys *TenantKeys, ev *Event, sk *SubjectKey, now time.Time) (*Record, error) {
	eventRef := func(id string) string { return keys.Ref("event", id) }
	pubData, personalData, contractData, err := splitData(ev.Data, eventRef)
	if err != nil {
		return nil, err
	}
	var personal, contract [][2]string
	if ev.Actor != nil {
		personal = append(personal, ev.Actor.fields()...)
		personal = append(personal, personalData...)
	} else {
		contract = append(contract, personalData...)
	}
	r := &Record{Digest: ev.digest}
	ref := eventRef(ev.ID)
	pr := map[string]any{
		"v":      leafVersion,
		"kind":   string(ev.Kind),
		"ref":    ref,
		"time":   ev.Time.UTC().Format(time.RFC3339Nano),
		"logged": now.UTC().Format(time.RFC3339Nano),
		"data":   pubData,
	}
	if ev.Contract != nil {
		r.Contract = keys.Ref("contract", ev.Contract.ID)
		pr["contract"] = r.Contract
		contract = append(contract, [2]string{"contract.id", ev.Contract.ID})
		if ev.Contract.Name != "" {
			contract = append(contract, [2]string{"contract.name", ev.Contract.Name})
		}
	}
	contract = append(contract, contractData...)
	// One read from the random source for the seeds of the three parts.
	seeds := make([]byte, 3*32)
	if _, err := rand.Read(seeds); err != nil {
		return nil, fmt.Errorf("evidence: salt seeds: %w", err)
	}
	personalPart, contractPart, idPart := newSealedPart(seeds[:32]), newSealedPart(seeds[32:64]), newSealedPart(seeds[64:])
	commitments := make(map[string]any, len(personal)+len(contract)+1)
	commitments[TenantCommitment] = keys.TenantCommitment(ref)
	commit := func(p *sealedPart, path, value string) {
		cm := Commitment(p.add(path, value), value)
		commitments[path] = hex.EncodeToString(cm[:])
	}
	for _, f := range personal {
		if sm4Fields[f[0]] {
			commit(idPart, f[0], f[1])
		} else {
			commit(personalPart, f[0], f[1])
		}
	}
	for _, f := range contract {
		commit(contractPart, f[0], f[1])
	}
	pr["commitments"] = commitments
	r.Leaf, r.LeafHash, err = canonicalLeaf(pr)
	if err != nil {
		return nil, fmt.Errorf("evidence: canonical leaf: %w", err)
	}
	r.Docs = ev.documentHashes()

	lh, tenant := r.LeafHash[:], keys.TenantID
	if len(contractPart.fields) > 0 {
		pt := contractPart.marshal()
		if r.Sealed.Contract, err = SealWith(keys.ContractAEAD, AlgAES256GCM, pt, SealAD(tenant, lh, PartContract)); err != nil {
			return nil, err
		}
	}
	if sk != nil {
		r.Sealed.Subject, r.Sealed.SubjectKey = sk.Subject, sk.ID
		pt := personalPart.marshal()
		if r.Sealed.Personal, err = Seal(AlgAES256GCM, sk.AES, pt, SealAD(tenant, lh, PartPersonal)); err != nil {
			return nil, err
		}
		if len(idPart.fields) > 0 {
			pt := idPart.marshal()
			if r.Sealed.IDNumber, err = Seal(AlgSM4GCM, sk.SM4, pt, SealAD(tenant, lh, PartIDNumber)); err != nil {
				return nil, err
			}
		}
	}
	return r, nil
}

// ErasureLeaf is the leaf of the data.erased event recording, at now, the
// erasure of key keyID of subject (a reference): no data, no sealed
// parts, only the commitment to the tenant, so that the log shows that
// an erasure happened and the tenant alone can tell it is theirs.
func ErasureLeaf(keys *TenantKeys, subject, keyID string, now time.Time) (leaf []byte, hash [32]byte, err error) {
	ref := keys.Ref("erasure", subject+"/"+keyID)
	pr := map[string]any{
		"v": leafVersion, "kind": string(KindDataErased), "ref": ref,
		"time": now.Format(time.RFC3339Nano), "logged": now.Format(time.RFC3339Nano),
		"data": map[string]any{}, "commitments": map[string]any{TenantCommitment: keys.TenantCommitment(ref)},
	}
	return canonicalLeaf(pr)
}
