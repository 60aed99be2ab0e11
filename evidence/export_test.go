package evidence

import "context"

// Test hooks.

// DecodeStrict exposes the strict decoder to the fuzz test.
func DecodeStrict(b []byte) (any, error) { return decodeStrict(b, MaxDepth) }

// CanonicalJSON exposes the JCS encoder.
func CanonicalJSON(v any) ([]byte, error) { return canonicalJSON(nil, v) }

// WrappedSubjectKey returns the stored (wrapped) data key of account, as
// stored, or nil.
func (s *Service) WrappedSubjectKey(tenantID, account string) []byte {
	ts, err := s.reg.tenant(tenantID)
	if err != nil {
		return nil
	}
	b, found, err := s.store.get(context.Background(), key("k", ts.ID, ts.ref("subject", account)))
	if err != nil || !found {
		return nil
	}
	return b
}
