package verify

import "testing"

func TestCount(t *testing.T) {
	tests := []struct {
		n         int
		one, many string
		want      string
	}{
		{0, "hash", "hashes", "0 hashes"},
		{1, "log key", "log keys", "1 log key"},
		{2, "log key", "log keys", "2 log keys"},
		{1, "leaf names", "leaves name", "1 leaf names"},
		{11, "event", "events", "11 events"},
	}
	for _, tt := range tests {
		if got := count(tt.n, tt.one, tt.many); got != tt.want {
			t.Errorf("count(%d, %q, %q) = %q, want %q", tt.n, tt.one, tt.many, got, tt.want)
		}
	}
}

func TestTimestampState(t *testing.T) {
	tests := []struct {
		name string
		ts   Timestamp
		want Text
	}{
		{"verified", Timestamp{SignatureOK: true, ImprintOK: true, Trusted: true, RevocationOK: true}, Text{"有效", "valid"}},
		{"unknown root", Timestamp{SignatureOK: true, ImprintOK: true, Problem: "the timestamp authority is not trusted: x509: certificate signed by unknown authority"}, Text{"不受信任", "untrusted"}},
		{"no revocation data", Timestamp{SignatureOK: true, ImprintOK: true, Trusted: true, Problem: "no revocation data for the timestamp authority's certificate"}, Text{"吊销状态未确认", "revocation not confirmed"}},
		{"revoked", Timestamp{SignatureOK: true, ImprintOK: true, Trusted: true, Problem: problemTSARevoked}, Text{"已吊销", "revoked"}},
		{"other data", Timestamp{SignatureOK: true, Problem: "the timestamp's message imprint does not match the signed data"}, Text{"无效", "invalid"}},
		{"bad signature", Timestamp{Problem: "the timestamp authority's signature does not verify"}, Text{"无效", "invalid"}},
	}
	for _, tt := range tests {
		if got := tt.ts.State(); got != tt.want {
			t.Errorf("%s: State() = %v, want %v", tt.name, got, tt.want)
		}
	}
}
