package evidence

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
)

// migrateSealContracts rewrites what versions before sealing contract
// numbers and names kept of them in the clear, once per store (Open calls
// it before recovering pending claims): contract records are sealed
// (sealContractRecord), the name index by name (n/) is replaced by the
// keyed-hash buckets (nameIndexKey), and document index entries lose their
// contract number. Pending claims that hold them in the clear are
// completed by the recovery that follows, which stores them without.
//
// Migrating on open rather than reading both forms for good: every reader
// then meets one form, and only a migrated store can push the clear text
// out of its files (compactStore). It reports whether it rewrote anything.
// Records of a tenant this server cannot load stay as they are and the
// migration runs again at the next Open.
func (s *Service) migrateSealContracts(ctx context.Context) (bool, error) {
	if _, done, err := s.store.get(ctx, migrationKey); err != nil {
		return false, fmt.Errorf("evidence: reading the store's version: %w", err)
	} else if done {
		return false, nil
	}
	changed, complete := false, true
	b := &batch{sync: true}
	commit := func() error {
		if b.empty() {
			return nil
		}
		err := s.store.commit(ctx, b)
		b = &batch{sync: true}
		if err == nil {
			changed = true
		}
		return err
	}
	// One chunk of a table at a time: writes are not mixed into a scan
	// (PostgreSQL pages it), and a large store is not one batch. Each
	// rewrite expects the value it read: on a shared store another process
	// may be migrating too, or already serving, and a conflicting chunk is
	// read again (what it rewrote since reads as done).
	const chunk = 2000
	eachChunk := func(lower, upper []byte, fn func(k, v []byte) error) error {
		for attempt := 0; ; {
			var last []byte
			err := s.store.scan(ctx, lower, upper, func(k, v []byte) (bool, error) {
				if err := fn(k, v); err != nil {
					return false, err
				}
				if len(b.ops) >= chunk {
					last = bytes.Clone(k)
					return false, nil
				}
				return true, nil
			})
			if err != nil {
				return err
			}
			if err := commit(); errors.Is(err, errConflict) && attempt < maxConflictRetries {
				attempt++
				continue
			} else if err != nil {
				return err
			}
			if last == nil {
				return nil
			}
			lower, attempt = append(last, 0), 0
		}
	}
	tenantOf := func(id string) (*tenantState, error) {
		ts, err := s.reg.tenant(id)
		if errors.Is(err, ErrTenantNotFound) {
			complete = false
			s.logger.Error("evidence: cannot seal the contracts of a tenant that is not loaded; retrying at the next start", "tenant", id)
			return nil, nil
		}
		return ts, err
	}
	err := eachChunk(contractRecords[0], contractRecords[1], func(k, v []byte) error {
		if len(v) > 0 && v[0] == contractV2 {
			return nil
		}
		tenant, ref, ok := strings.Cut(string(k[2:]), "/")
		if !ok {
			return fmt.Errorf("evidence: contract record key %q", k)
		}
		ts, err := tenantOf(tenant)
		if ts == nil {
			return err
		}
		var cr contractRecord
		if err := cr.UnmarshalBinary(v); err != nil {
			return fmt.Errorf("evidence: contract record %q: %w", k, err)
		}
		sv, err := sealContractRecord(ts, ref, &cr)
		if err != nil {
			return err
		}
		b.expect(bytes.Clone(k), bytes.Clone(v))
		b.set(bytes.Clone(k), sv)
		for _, nk := range nameIndexKeys(ts, cr.Name, cr.First, ref) {
			b.set(nk, []byte{})
		}
		return nil
	})
	if err != nil {
		return changed, fmt.Errorf("evidence: sealing contract records: %w", err)
	}
	if complete {
		if err := s.store.scan(ctx, legacyNameIndex[0], legacyNameIndex[1], func(_, _ []byte) (bool, error) {
			b.deleteRange(legacyNameIndex[0], legacyNameIndex[1])
			return false, nil
		}); err != nil {
			return changed, fmt.Errorf("evidence: dropping the name index: %w", err)
		}
		if err := commit(); err != nil {
			return changed, fmt.Errorf("evidence: dropping the name index: %w", err)
		}
	}
	err = eachChunk(docIndex[0], docIndex[1], func(k, v []byte) error {
		var m docMatch
		if err := m.UnmarshalBinary(v); err != nil {
			return fmt.Errorf("evidence: document entry %q: %w", k, err)
		}
		if m.ContractID == "" {
			return nil
		}
		b.expect(bytes.Clone(k), bytes.Clone(v))
		return setValue(b, bytes.Clone(k), &m)
	})
	if err != nil {
		return changed, fmt.Errorf("evidence: rewriting the document index: %w", err)
	}
	if complete {
		b.set(migrationKey, []byte{1})
		// Not changed by itself: a fresh store has nothing to compact.
		if err := s.store.commit(ctx, b); err != nil {
			return changed, fmt.Errorf("evidence: recording the migration: %w", err)
		}
	}
	return changed, nil
}

// compactStore pushes what migrateSealContracts and the recovery after it
// replaced out of the embedded store's files: older versions of contract
// records, document entries and claims, and the old name index.
func (s *Service) compactStore(ctx context.Context) error {
	p, ok := s.store.(*pebbleStore)
	if !ok {
		return nil
	}
	var ranges [][2][]byte
	for _, t := range []string{"c", "h", "i", "n"} {
		ranges = append(ranges, [2][]byte{[]byte(t + "/"), []byte(t + "0")})
	}
	if err := p.compactRanges(ctx, ranges); err != nil {
		return fmt.Errorf("evidence: compacting the migrated store: %w", err)
	}
	return nil
}
