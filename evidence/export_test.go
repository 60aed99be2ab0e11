package evidence

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/cockroachdb/pebble/v2"

	"github.com/cunzheng/cunzheng/evidence/event"
)

// Test hooks.

// WrappedSubjectKey returns the stored (wrapped) data key of account, as
// stored, or nil.
func (s *Service) WrappedSubjectKey(tenantID, account string) []byte {
	ts, err := s.reg.tenant(tenantID)
	if err != nil {
		return nil
	}
	b, found, err := s.store.get(context.Background(), subjectKeyKey(ts.ID, ts.Ref("subject", account)))
	if err != nil || !found {
		return nil
	}
	return b
}

// RewriteAsBeforeBinaryForms rewrites every stored index entry, contract
// record and sealed record of the tenant in the forms written before they
// had binary ones: JSON values, and sealed parts as JSON with an explicit
// salt per field. It stands in for a data directory of an earlier version.
func (s *Service) RewriteAsBeforeBinaryForms(tenantID string) (rewritten int, err error) {
	ts, err := s.reg.tenant(tenantID)
	if err != nil {
		return 0, err
	}
	b := &batch{sync: true}
	// Event entries were a row each: a row of several (storedEntries)
	// goes back to one per event, under its index.
	for _, table := range []string{"e", "u"} {
		err := s.scanPrefix([]byte(table+"/"), func(k, val []byte) (bool, error) {
			many := len(val) > 0 && val[0] == entriesV1
			if many {
				b.delete(bytes.Clone(k))
			}
			return true, decodeEntries(val, func(e EventEntry) bool {
				j, err := json.Marshal(e)
				if err != nil {
					panic(err)
				}
				ek := bytes.Clone(k)
				if many { // <base>/<first>/<last> -> <base>/<index>
					ek = append(ek[:len(ek)-2*16-1], indexHex(e.Index)...)
				}
				b.set(ek, j)
				rewritten++
				return true
			})
		})
		if err != nil {
			return 0, err
		}
	}
	// Contract records in the clear, with the name index by name, and
	// document entries with the contract number, as before they were
	// sealed; and the store not yet migrated.
	ids := map[string]string{}
	err = s.scanPrefix(contractsPrefix(ts.ID), func(k, val []byte) (bool, error) {
		ref := string(k[len(contractsPrefix(ts.ID)):])
		var cr contractRecord
		if err := openContractRecord(ts, ref, val, &cr); err != nil {
			return false, err
		}
		ids[ref] = cr.ID
		j, err := json.Marshal(&cr)
		if err != nil {
			return false, err
		}
		b.set(bytes.Clone(k), j)
		if cr.Name != "" {
			nk := legacyNameKey(ts.ID, strings.ToLower(cr.Name), ref)
			b.set(nk, []byte(timeHex(cr.First)))
		}
		rewritten++
		return true, nil
	})
	if err != nil {
		return 0, err
	}
	b.deleteRange(nameIndexPrefix(ts.ID), prefixEnd(nameIndexPrefix(ts.ID)))
	b.delete(migrationKey)
	err = s.scanPrefix(docIndex[0], func(k, val []byte) (bool, error) {
		parts := strings.Split(string(k), "/")
		if len(parts) != 5 || parts[2] != ts.ID {
			return true, nil
		}
		var m docMatch
		if err := m.UnmarshalBinary(val); err != nil {
			return false, err
		}
		m.ContractID = ids[parts[3]]
		type plain docMatch
		j, err := json.Marshal((*plain)(&m))
		if err != nil {
			return false, err
		}
		b.set(bytes.Clone(k), j)
		rewritten++
		return true, nil
	})
	if err != nil {
		return 0, err
	}
	// Sealed records move back from S/<index>/<leaf hash> to the key they
	// had then, s/<leaf hash>.
	err = s.scanPrefix(sealedKeys[0], func(k, val []byte) (bool, error) {
		var sr sealedRecord
		if err := sr.UnmarshalBinary(val); err != nil || sr.Tenant != ts.ID {
			return err == nil, err
		}
		parts := strings.Split(string(k), "/")
		if len(parts) != 3 {
			return false, fmt.Errorf("sealed record key %q", k)
		}
		lh, err := hex.DecodeString(parts[2])
		if err != nil {
			return false, err
		}
		b.delete(bytes.Clone(k))
		k = legacySealedKey(parts[2])
		v1 := func(blob, key []byte, alg byte, part string) ([]byte, error) {
			pt, err := event.Open(alg, key, blob, event.SealAD(ts.ID, lh, part))
			if err != nil {
				return nil, err
			}
			fields, err := event.OpenPart(pt, "")
			if err != nil {
				return nil, err
			}
			// A version 1 part: JSON with a salt per field.
			type sealedField struct {
				V string `json:"v"`
				S []byte `json:"s"`
			}
			var j []byte
			if part == "id_number" {
				f := fields["actor.id_number"]
				j, err = json.Marshal(sealedField{V: f.Value, S: f.Salt})
			} else {
				m := map[string]sealedField{}
				for p, f := range fields {
					m[p] = sealedField{V: f.Value, S: f.Salt}
				}
				j, err = json.Marshal(m)
			}
			if err != nil {
				return nil, err
			}
			return event.Seal(alg, key, j, event.SealAD(ts.ID, lh, part))
		}
		if sr.Contract != nil {
			if sr.Contract, err = v1(sr.Contract, ts.ContractKey, event.AlgAES256GCM, "contract"); err != nil {
				return false, err
			}
		}
		if sr.Subject != "" {
			sk, err := s.subjectKeyFor(ts, sr.Subject, false, false)
			if err != nil || sk == nil {
				return false, fmt.Errorf("subject key: %v", err)
			}
			if sr.Personal, err = v1(sr.Personal, sk.AES, event.AlgAES256GCM, "personal"); err != nil {
				return false, err
			}
			if sr.IDNumber != nil {
				if sr.IDNumber, err = v1(sr.IDNumber, sk.SM4, event.AlgSM4GCM, "id_number"); err != nil {
					return false, err
				}
			}
		}
		if err := setValue(b, bytes.Clone(k), &sr); err != nil {
			return false, err
		}
		rewritten++
		return true, nil
	})
	if err != nil {
		return 0, err
	}
	return rewritten, s.store.commit(context.Background(), b)
}

// WaitShredded waits until every erasure so far is pushed out of the
// store's files.
func (s *Service) WaitShredded(ctx context.Context) error {
	if s.shredder == nil {
		return nil
	}
	return s.shredder.wait(ctx)
}

// StopShredding makes the shredder do nothing from now on, as if the
// process died before pushing its erasures to disk.
func (s *Service) StopShredding() {
	s.shredder.mu.Lock()
	s.shredder.off = true
	s.shredder.mu.Unlock()
}

// FlushStore flushes the embedded store's memtables to SSTables.
func (s *Service) FlushStore() error {
	return s.store.(*pebbleStore).db.Write(func(db *pebble.DB) error { return db.Flush() })
}

// StoreHolds returns the needles some key or value of the store holds, as
// stored (the logical contents: what a raw file scan may miss inside a
// compressed block).
func (s *Service) StoreHolds(needles [][]byte) ([]string, error) {
	var found []string
	err := s.store.scan(context.Background(), nil, nil, func(k, v []byte) (bool, error) {
		for _, n := range needles {
			if bytes.Contains(k, n) || bytes.Contains(v, n) {
				found = append(found, fmt.Sprintf("%s in %.2q", n, k))
			}
		}
		return true, nil
	})
	return found, err
}

// StoredRows counts the stored keys of one table (its one-letter name).
func (s *Service) StoredRows(table string) (int, error) {
	n := 0
	err := s.scanPrefix([]byte(table+"/"), func(_, _ []byte) (bool, error) { n++; return true, nil })
	return n, err
}
