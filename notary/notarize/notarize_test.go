package notarize

import (
	"context"
	"crypto/rand"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/cunzheng/cunzheng/evidence"
	"github.com/cunzheng/cunzheng/notary"
	"github.com/cunzheng/cunzheng/report"
)

// TestRequestNumberDate: a request is numbered by the Beijing date, as
// report numbers are, so that on an evening after 16:00 UTC a request and
// the report made with it carry the same date (NR-20261206-…, CZ-20261206-…)
// instead of the request a day behind.
func TestRequestNumberDate(t *testing.T) {
	skey, vkey, err := note.GenerateKey(rand.Reader, "cunzheng.example/log")
	if err != nil {
		t.Fatal(err)
	}
	signer, _ := note.NewSigner(skey)
	verifier, _ := note.NewVerifier(vkey)
	srv := httptest.NewServer(&testOffice{verifier: verifier, recs: map[string]notary.RequestRecord{}})
	defer srv.Close()
	p := evidence.Principal{Tenant: evidence.Tenant{ID: "t1"}, Roles: []evidence.Role{evidence.RoleLegal}}

	for _, tc := range []struct {
		at   string
		want string // the date in the number
	}{
		{"2026-12-05T17:00:00Z", "20261206"},
		{"2026-12-05T15:59:59Z", "20261205"},
		{"2026-12-05T16:00:00Z", "20261206"},
		{"2026-12-31T23:30:00Z", "20270101"},
		{"2026-12-06T01:00:00+08:00", "20261206"},
	} {
		t.Run(tc.at, func(t *testing.T) {
			at, err := time.Parse(time.RFC3339, tc.at)
			if err != nil {
				t.Fatal(err)
			}
			s, err := New(Config{Evidence: &ledgerRecorder{}, Reports: bundleIssuer{t}, Signers: []note.Signer{signer},
				Origin: "cunzheng.example/log", Offices: []Office{{Name: "office-a", URL: srv.URL}},
				Clock: func() time.Time { return at }})
			if err != nil {
				t.Fatal(err)
			}
			rec, err := s.Request(context.Background(), p, "c1", "office-a", "t1/legal")
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(rec.ID, "NR-"+tc.want+"-") {
				t.Errorf("request at %s numbered %s, want NR-%s-…", tc.at, rec.ID, tc.want)
			}
			if d := report.NumberDate(at); d != tc.want {
				t.Errorf("report numbers at %s dated %s, want %s (the same date as the request)", tc.at, d, tc.want)
			}
			if !rec.Time.Equal(at) {
				t.Errorf("request time %s, want %s", rec.Time, at)
			}
		})
	}
}
