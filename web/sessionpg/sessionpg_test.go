package sessionpg_test

import (
	"context"
	"crypto/sha256"
	"testing"
	"time"

	"github.com/cunzheng/cunzheng/ledger/cluster/clustertest"
	"github.com/cunzheng/cunzheng/web/sessionpg"
)

// TestStore: sessions are found while live, marked seen, expire by idle
// and by absolute age, are bounded in number (the idlest go) and deleted;
// a second Store on the same database (another process) sees them.
func TestStore(t *testing.T) {
	ctx := context.Background()
	dsn := clustertest.Postgres(t)
	a, err := sessionpg.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := sessionpg.Open(ctx, dsn) // another process
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	const idle, absolute = 30 * time.Minute, 8 * time.Hour
	t0 := time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC)
	key := func(s string) [32]byte { return sha256.Sum256([]byte(s)) }
	create := func(s *sessionpg.Store, k string, now time.Time, max int) {
		t.Helper()
		if err := s.Create(ctx, key(k), []byte("rec "+k), now, now.Add(-idle), now.Add(-absolute), max); err != nil {
			t.Fatal(err)
		}
	}
	touch := func(s *sessionpg.Store, k string, now time.Time) bool {
		t.Helper()
		rec, created, ok, err := s.Touch(ctx, key(k), now, now.Add(-idle), now.Add(-absolute))
		if err != nil {
			t.Fatal(err)
		}
		if ok && (string(rec) != "rec "+k || created.IsZero()) {
			t.Fatalf("Touch(%s) = %q created %v", k, rec, created)
		}
		return ok
	}

	tests := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"live on another process", func(t *testing.T) {
			create(a, "s1", t0, 100)
			if !touch(b, "s1", t0.Add(time.Minute)) {
				t.Fatal("a session made by one process is unknown to another")
			}
		}},
		{"seen keeps it alive", func(t *testing.T) {
			create(a, "s2", t0, 100)
			for i := 1; i <= 4; i++ { // 80 minutes, never 30 idle
				if !touch(a, "s2", t0.Add(time.Duration(i)*20*time.Minute)) {
					t.Fatalf("touched every 20 minutes, gone at %d", i)
				}
			}
		}},
		{"idle expiry", func(t *testing.T) {
			create(a, "s3", t0, 100)
			if touch(a, "s3", t0.Add(idle+time.Second)) {
				t.Fatal("found after the idle time")
			}
		}},
		{"absolute expiry", func(t *testing.T) {
			create(a, "s4", t0, 100)
			now := t0
			for now.Before(t0.Add(absolute)) {
				now = now.Add(20 * time.Minute)
				touch(a, "s4", now)
			}
			if touch(a, "s4", t0.Add(absolute+time.Second)) {
				t.Fatal("found after the absolute lifetime")
			}
		}},
		{"unknown key", func(t *testing.T) {
			if touch(a, "never made", t0) {
				t.Fatal("an unknown key matched")
			}
		}},
		{"bounded, the idlest go", func(t *testing.T) {
			base := t0.Add(24 * time.Hour) // everything before has expired
			create(a, "m1", base, 2)
			create(a, "m2", base.Add(time.Minute), 2)
			touch(a, "m1", base.Add(2*time.Minute))
			create(a, "m3", base.Add(3*time.Minute), 2)
			now := base.Add(4 * time.Minute)
			if touch(a, "m2", now) || !touch(a, "m1", now) || !touch(a, "m3", now) {
				t.Fatal("beyond max, not the idlest session went")
			}
		}},
		{"delete", func(t *testing.T) {
			now := t0.Add(48 * time.Hour)
			create(a, "d1", now, 100)
			if err := b.Delete(ctx, key("d1")); err != nil {
				t.Fatal(err)
			}
			if touch(a, "d1", now) {
				t.Fatal("found after Delete")
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, tc.run)
	}
}
