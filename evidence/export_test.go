package evidence

// Test hooks.

// DecodeStrict exposes the strict decoder to the fuzz test.
func DecodeStrict(b []byte) (any, error) { return decodeStrict(b, MaxDepth) }

// CanonicalJSON exposes the JCS encoder.
func CanonicalJSON(v any) ([]byte, error) { return canonicalJSON(nil, v) }
