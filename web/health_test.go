package web

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/cunzheng/cunzheng/evidence"
	"github.com/cunzheng/cunzheng/ledger"
	"github.com/cunzheng/cunzheng/ledger/pebbledb"
)

func TestMetricsOnlyForLoopbackClients(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "cunzheng_test_total", Help: "test"})
	reg.MustRegister(c)
	c.Inc()
	s := New(Config{Gatherer: reg})
	for _, tc := range []struct {
		remote string
		hdr    []string
		want   int
	}{
		{"127.0.0.1:5000", nil, http.StatusOK},
		{"[::1]:5000", nil, http.StatusOK},
		{"192.0.2.7:5000", nil, http.StatusForbidden},
		{"[2001:db8::1]:5000", nil, http.StatusForbidden},
		// A proxy on the same host makes every client look local.
		{"127.0.0.1:5000", []string{"X-Forwarded-For", "203.0.113.9"}, http.StatusForbidden},
		{"127.0.0.1:5000", []string{"Forwarded", "for=203.0.113.9"}, http.StatusForbidden},
	} {
		req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
		req.RemoteAddr = tc.remote
		for i := 0; i+1 < len(tc.hdr); i += 2 {
			req.Header.Set(tc.hdr[i], tc.hdr[i+1])
		}
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		if rec.Code != tc.want {
			t.Errorf("%s %v: status %d, want %d", tc.remote, tc.hdr, rec.Code, tc.want)
		}
		if got := strings.Contains(rec.Body.String(), "cunzheng_test_total 1"); got != (tc.want == http.StatusOK) {
			t.Errorf("%s %v: metrics in the body = %v", tc.remote, tc.hdr, got)
		}
	}
	// With --metrics-addr the main listener has no /metrics at all.
	if rec := get(t, New(Config{}), "/metrics"); rec.Code != http.StatusNotFound {
		t.Errorf("no gatherer: /metrics %d, want 404", rec.Code)
	}
	rec := httptest.NewRecorder()
	MetricsHandler(reg).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if !strings.Contains(rec.Body.String(), "cunzheng_test_total 1") {
		t.Errorf("MetricsHandler: %s", rec.Body)
	}
}

// diskFullFault is what the evidence store returns while a full disk
// pauses its writes: the detail names a file of the data directory.
func diskFullFault() error {
	f := &pebbledb.Fault{Store: "evidence", NoSpace: true, Since: time.Date(2026, 12, 5, 8, 30, 0, 0, time.UTC),
		Err: fmt.Errorf("write /srv/cunzheng/data/evidence/db/000123.sst: %w", errors.New("no space left on device"))}
	return fmt.Errorf("%w: %w", evidence.ErrUnavailable, f)
}

func TestHealthzSaysWhichStoreIsDegraded(t *testing.T) {
	var evErr error
	s := New(Config{Health: []HealthCheck{
		{Name: "evidence", Check: func() error { return evErr }},
		{Name: "notary", Check: func() error { return nil }},
	}})
	rec := get(t, s, "/healthz")
	if rec.Code != http.StatusOK || rec.Body.String() != "ok\nevidence: ok\nnotary: ok\n" {
		t.Fatalf("healthy: %d %q", rec.Code, rec.Body)
	}
	evErr = diskFullFault()
	rec = get(t, s, "/healthz")
	body := rec.Body.String()
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("degraded: status %d", rec.Code)
	}
	want := "degraded\nevidence: degraded: writes paused since 2026-12-05T08:30:00Z (disk full); reads work\nnotary: ok\n"
	if body != want {
		t.Fatalf("degraded body:\n%s\nwant:\n%s", body, want)
	}
}

func TestStorageFailuresAnswerPlain503(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"evidence disk full", diskFullFault(), "Disk full"},
		{"ledger disk full", &ledger.StorageError{Err: fmt.Errorf("ledger: committing batch at 7: %w", diskFullFault())}, "Disk full"},
		{"ledger write error", &ledger.StorageError{Err: errors.New("sync /srv/cunzheng/data/ledger/000009.log: input/output error")}, "not taking writes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, path := range []string{"/v1/events", "/console/upload"} {
				rec := httptest.NewRecorder()
				c, _ := gin.CreateTestContext(rec)
				c.Request = httptest.NewRequest(http.MethodPost, path, nil)
				abortWithError(c, slog.New(slog.DiscardHandler), tc.err)
				body := rec.Body.String()
				if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
					t.Errorf("%s: %d, Retry-After %q", path, rec.Code, rec.Header().Get("Retry-After"))
				}
				if !strings.Contains(body, tc.want) || !strings.Contains(body, "reads, proofs") {
					t.Errorf("%s: body %q lacks %q", path, body, tc.want)
				}
				for _, leak := range []string{"/srv", "data/", ".sst", ".log", "pebble"} {
					if strings.Contains(body, leak) {
						t.Errorf("%s: body %q shows %q", path, body, leak)
					}
				}
			}
		})
	}
}
