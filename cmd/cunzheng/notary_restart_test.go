package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cunzheng/cunzheng/web"
)

// TestTimestampStatusSurvivesRestart: the TSA row of /notaries names the
// newest stamped checkpoint after serve restarts on the same data dir,
// not "last stamped size 0" (issue 20).
func TestTimestampStatusSurvivesRestart(t *testing.T) {
	ctx := context.Background()
	data := t.TempDir()
	logger := slog.New(slog.DiscardHandler)

	// run opens the ledger and notarization on data, runs the pusher
	// until check returns true, and closes everything again.
	run := func(appends int, check func(*notarization, string) bool) {
		t.Helper()
		l, keys, err := openLedger(ctx, data, "", 20*time.Millisecond, logger, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		n, err := setupNotarization(ctx, data, l, keys, &notarizeFlags{}, logger, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer n.Close()
		pctx, stop := context.WithCancel(ctx)
		pdone := make(chan struct{})
		go func() { n.Pusher.Run(pctx); close(pdone) }()
		defer func() { stop(); <-pdone }()
		srv := httptest.NewServer(web.New(web.Config{Log: l, Mounts: web.NotaryMounts(n.Office, n.TSA,
			web.NotariesPage{Log: l, Pusher: n.Pusher, Office: n.Office}, logger)}))
		defer srv.Close()
		for i := range appends {
			if _, err := l.Append(ctx, fmt.Appendf(nil, "event %d", i)); err != nil {
				t.Fatal(err)
			}
		}
		waitUntil(t, "the TSA status", func() bool { return check(n, srv.URL) })
	}

	var stampedAt time.Time
	run(30, func(n *notarization, _ string) bool {
		st := n.Pusher.Status()
		stampedAt = st.TSAs[0].Time
		return st.TSAs[0].Size == 30
	})
	run(0, func(n *notarization, url string) bool {
		st := n.Pusher.Status().TSAs[0]
		if st.Size != 30 {
			return false
		}
		if !st.Time.Equal(stampedAt) {
			t.Fatalf("after restart the TSA time is %v, want the stored token's %v", st.Time, stampedAt)
		}
		resp, err := http.Get(url + "/notaries")
		if err != nil {
			t.Fatal(err)
		}
		page, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(page), "<td><code>built-in</code></td><td>30</td>") {
			t.Fatalf("/notaries does not name stamped size 30 in the TSA row:\n%s", page)
		}
		return true
	})
}
