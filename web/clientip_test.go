package web

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/cunzheng/cunzheng/verify"
)

func TestClientAddr(t *testing.T) {
	var trusted TrustedProxies
	if err := trusted.Set("10.0.0.0/8, 192.0.2.1,fd00::/8"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		proxies TrustedProxies
		peer    string
		xff     []string
		want    string
	}{
		{"no proxies trusted: header ignored", nil, "10.1.2.3:5000", []string{"198.51.100.7"}, "10.1.2.3"},
		{"untrusted peer: forged header ignored", trusted, "203.0.113.5:5000", []string{"198.51.100.7"}, "203.0.113.5"},
		{"trusted peer, no header", trusted, "10.1.2.3:5000", nil, "10.1.2.3"},
		{"trusted peer, one hop", trusted, "10.1.2.3:5000", []string{"198.51.100.7"}, "198.51.100.7"},
		{"trusted bare address", trusted, "192.0.2.1:443", []string{"198.51.100.7"}, "198.51.100.7"},
		{"client-forged left part skipped", trusted, "10.1.2.3:5000", []string{"1.2.3.4, 198.51.100.7"}, "198.51.100.7"},
		{"chain of trusted proxies", trusted, "10.1.2.3:5000", []string{"1.2.3.4, 198.51.100.7, 10.9.9.9"}, "198.51.100.7"},
		{"several header lines, in order", trusted, "10.1.2.3:5000", []string{"1.2.3.4", "198.51.100.7"}, "198.51.100.7"},
		{"all hops trusted: left-most", trusted, "10.1.2.3:5000", []string{"10.7.7.7, 10.8.8.8"}, "10.7.7.7"},
		{"garbage right-most hop: the proxy", trusted, "10.1.2.3:5000", []string{"198.51.100.7, nonsense"}, "10.1.2.3"},
		{"garbage behind a trusted hop: that hop", trusted, "10.1.2.3:5000", []string{"nonsense, 10.4.4.4"}, "10.4.4.4"},
		{"IPv6 peer and client", trusted, "[fd00::1]:5000", []string{"2001:db8::7"}, "2001:db8::7"},
		{"IPv4-mapped peer", trusted, "[::ffff:10.1.2.3]:5000", []string{"198.51.100.7"}, "198.51.100.7"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.RemoteAddr = tc.peer
			for _, v := range tc.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := tc.proxies.clientAddr(r); got != tc.want {
				t.Fatalf("clientAddr = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestTrustedProxiesFlag(t *testing.T) {
	for _, bad := range []string{"", "10.0.0.0/33", "proxy.example", "10.0.0.0/8,x"} {
		var p TrustedProxies
		if err := p.Set(bad); err == nil {
			t.Errorf("Set(%q) accepted: %v", bad, p)
		}
	}
	var p TrustedProxies
	if err := p.Set("10.1.2.3/8,::ffff:192.0.2.1"); err != nil {
		t.Fatal(err)
	}
	if want := (TrustedProxies{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.0.2.1/32")}); p.String() != want.String() {
		t.Fatalf("parsed %v, want %v", p.String(), want.String())
	}
}

// TestForgedForwardedForKeepsRateLimit: a client cannot escape the
// verification rate limit by writing X-Forwarded-For itself, directly or
// through a trusted proxy; distinct clients behind the proxy keep their
// own buckets.
func TestForgedForwardedForKeepsRateLimit(t *testing.T) {
	roots, err := verify.LoadRoots(filepath.Join(pdfCorpus, "roots"), false)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1e9, 0)
	cfg := VerifyConfig{RatePerMinute: 2, now: func() time.Time { return now }}
	cfg.Options.Roots = roots
	var proxies TrustedProxies
	if err := proxies.Set("10.0.0.0/8"); err != nil {
		t.Fatal(err)
	}
	h := New(Config{TrustedProxies: proxies, Mounts: []Mount{MountVerify(cfg)}})
	pdf := corpusFile(t, "base.pdf").data
	send := func(peer, xff string) int {
		r := httptest.NewRequest(http.MethodPost, "/v1/verify", bytes.NewReader(pdf))
		r.Header.Set("Content-Type", "application/pdf")
		r.RemoteAddr = peer
		if xff != "" {
			r.Header.Set("X-Forwarded-For", xff)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}
	for i, xff := range []string{"198.51.100.1", "198.51.100.2", "198.51.100.3"} {
		want := []int{200, 200, 429}[i]
		if got := send("203.0.113.5:4000", xff); got != want {
			t.Fatalf("untrusted peer, forged X-Forwarded-For %s: status %d, want %d", xff, got, want)
		}
	}
	for i, xff := range []string{"1.1.1.1, 198.51.100.9", "2.2.2.2, 198.51.100.9", "3.3.3.3, 198.51.100.9"} {
		want := []int{200, 200, 429}[i]
		if got := send("10.0.0.1:4000", xff); got != want {
			t.Fatalf("through the proxy, forged prefix %s: status %d, want %d", xff, got, want)
		}
	}
	if got := send("10.0.0.1:4000", "198.51.100.10"); got != 200 {
		t.Fatalf("another client behind the same proxy: status %d, want 200", got)
	}
}
