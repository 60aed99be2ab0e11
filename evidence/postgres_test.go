package evidence_test

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/cunzheng/cunzheng/evidence"
	"github.com/cunzheng/cunzheng/ledger/cluster/clustertest"
)

// pgBackend returns a backend on a fresh database of pg.
func pgBackend(t *testing.T, pg *clustertest.PG) backend {
	dsn := pg.NewDatabase(t)
	return backend{name: "postgres", open: func(t *testing.T) evidence.Store {
		t.Helper()
		st, err := evidence.OpenPostgres(context.Background(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}}
}

// TestPostgres runs the behaviour tests of the embedded store against
// PostgreSQL (cluster mode), one fresh database each, on one real server;
// then two services sharing one database.
func TestPostgres(t *testing.T) {
	pg := clustertest.StartPostgres(t)
	behaviours := []struct {
		name string
		fn   func(*testing.T, backend)
	}{
		{"IngestReceiptsAndContract", testIngestReceiptsAndContract},
		{"TenantIsolation", testTenantIsolation},
		{"NoPIIInPublicBytes", testNoPIIInPublicBytes},
		{"ConcurrentSameIDs", testConcurrentSameIDs},
		{"BatchAllOrNothing", testBatchAllOrNothing},
		{"RecoverPending", testRecoverPending},
		{"Erasure", testErasure},
		{"ErasureAppendFails", testErasureAppendFails},
		{"ErasureBeforePendingCompletes", testErasureBeforePendingCompletes},
		{"MasterKeyRotation", testMasterKeyRotation},
		{"Documents", testDocuments},
		{"Search", testSearch},
		{"LoadDemo", testLoadDemo},
		{"Consistency", testConsistency},
		{"ConsistencyRace", testConsistencyRace},
		{"Records", testRecords},
		{"RecordReport", testRecordReport},
		{"OpenNotarizations", testOpenNotarizations},
		{"SearchByNamePrefix", testSearchByNamePrefix},
		{"LeavesDoNotLinkTenant", testLeavesDoNotLinkTenant},
		{"MigratesClearContracts", testMigratesClearContracts},
		{"EventRows", testEventRows},
	}
	for _, b := range behaviours {
		if testing.Short() && b.name != "ConcurrentSameIDs" && b.name != "Erasure" {
			continue // the non-short pass runs them all
		}
		t.Run(b.name, func(t *testing.T) { b.fn(t, pgBackend(t, pg)) })
	}
	t.Run("TwoProcesses", func(t *testing.T) { testTwoServices(t, pgBackend(t, pg)) })
	// Last: it stops the server.
	t.Run("Outage", func(t *testing.T) { testOutage(t, pg, pgBackend(t, pg)) })
}

// testOutage: with the database down, requests fail with ErrUnavailable
// (503) and write nothing; once it is back, the same requests succeed.
func testOutage(t *testing.T, pg *clustertest.PG, bk backend) {
	e := newEnvOn(t, bk)
	ctx := context.Background()
	if _, err := e.svc.Ingest(ctx, e.p, demoBatch(t)); err != nil {
		t.Fatal(err)
	}
	if err := pg.Stop(); err != nil {
		t.Fatal(err)
	}
	restarted := false
	defer func() {
		if !restarted {
			pg.Start()
		}
	}()
	body := batch(event(0), event(1))
	if _, err := e.svc.Ingest(ctx, e.p, body); !errors.Is(err, evidence.ErrUnavailable) {
		t.Errorf("ingest with the database down: %v", err)
	}
	if _, err := e.svc.Contract(e.p, "2125270852621565954"); !errors.Is(err, evidence.ErrUnavailable) {
		t.Errorf("contract with the database down: %v", err)
	}
	if _, err := e.svc.Erase(ctx, e.p, "18501775544"); !errors.Is(err, evidence.ErrUnavailable) {
		t.Errorf("erasure with the database down: %v", err)
	}
	if e.log.Size() != 6 {
		t.Errorf("log grew to %d while the database was down", e.log.Size())
	}
	if err := pg.Start(); err != nil {
		t.Fatal(err)
	}
	restarted = true
	rs, err := e.svc.Ingest(ctx, e.p, body)
	if err != nil {
		t.Fatalf("ingest after the database came back: %v", err)
	}
	if len(rs) != 2 || e.log.Size() != 8 {
		t.Errorf("after the outage: %d receipts, log size %d", len(rs), e.log.Size())
	}
	if _, err := e.svc.Erase(ctx, e.p, "18501775544"); err != nil {
		t.Errorf("erasure after the outage: %v", err)
	}
}

// testTwoServices is two `serve` processes on one database: two services
// with their own caches over one log, ingesting events of the same
// contracts, the same ids and the same new subjects at once, and one of
// them erasing a subject the other keeps caching.
func testTwoServices(t *testing.T, bk backend) {
	e := newEnvOn(t, bk)
	ctx := context.Background()
	other, err := evidence.Open(ctx, evidence.Config{
		Master: e.master, Log: e.log, Store: bk.open(t), ReloadInterval: -1,
		Logger: slog.New(slog.DiscardHandler), Now: func() time.Time { return t0 },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	svcs := []*evidence.Service{e.svc, other}

	const (
		contracts = 3
		perWorker = 12
		workers   = 4 // per service
	)
	// Every worker posts the same ids in its own order, so that each id is
	// raced by all workers of both services; accounts repeat across
	// contracts, so that new subject keys are raced too.
	// The contracts are sent first, as the platform does before anyone
	// signs (a signature of a contract never sent is refused).
	for c := range contracts {
		ev := event(0)
		ev["id"] = fmt.Sprintf("sent-K%d", c)
		ev["contract"] = map[string]any{"id": fmt.Sprintf("K%d", c), "name": "劳动合同"}
		b, _ := json.Marshal(ev)
		if _, err := svcs[c%2].Ingest(ctx, e.p, b); err != nil {
			t.Fatal(err)
		}
	}
	mk := func(i int) []byte {
		ev := signed(i)
		ev["contract"] = map[string]any{"id": fmt.Sprintf("K%d", i%contracts), "name": "劳动合同"}
		ev["actor"].(map[string]any)["account"] = fmt.Sprintf("acct-%d", i%5)
		b, _ := json.Marshal(ev)
		return b
	}
	var wg sync.WaitGroup
	receipts := make([][]evidence.Receipt, 2*workers)
	errs := make(chan error, 2*workers)
	for w := range 2 * workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			svc := svcs[w%2]
			for j := range perWorker {
				i := (j + w*5) % perWorker
				rs, err := svc.Ingest(ctx, e.p, mk(i))
				if err != nil {
					errs <- fmt.Errorf("worker %d event %d: %w", w, i, err)
					return
				}
				receipts[w] = append(receipts[w], rs[0])
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	// Exactly one leaf per id, and every worker got that leaf's receipt.
	if got := e.log.Size(); got != contracts+perWorker {
		t.Fatalf("log has %d leaves for %d ids and %d sendings", got, perWorker, contracts)
	}
	byID := map[string]evidence.Receipt{}
	for _, rs := range receipts {
		for _, r := range rs {
			if first, ok := byID[r.ID]; ok && first != r {
				t.Errorf("id %s: receipts %+v and %+v", r.ID, first, r)
			}
			byID[r.ID] = r
		}
	}
	// Every event counted once in its contract, whichever process indexed it.
	total := 0
	for c := range contracts {
		for _, svc := range svcs {
			v, err := svc.Contract(e.p, fmt.Sprintf("K%d", c))
			if err != nil {
				t.Fatal(err)
			}
			page, err := svc.Search(e.p, evidence.Query{Name: "劳动合同"})
			if err != nil {
				t.Fatal(err)
			}
			for _, cs := range page.Contracts {
				if cs.ID == v.ID && cs.Events != len(v.Events) {
					t.Errorf("contract %s: record counts %d events, index lists %d", v.ID, cs.Events, len(v.Events))
				}
			}
			if svc == e.svc {
				total += len(v.Events)
			}
		}
	}
	if total != contracts+perWorker {
		t.Errorf("contracts list %d events, want %d", total, contracts+perWorker)
	}
	// Every sealed record opens on both: one data key per subject.
	leaf := func(_ context.Context, i uint64) ([]byte, error) { return e.log.Leaves()[i], nil }
	for _, svc := range svcs {
		if _, _, err := svc.Records(ctx, e.p, "K0", leaf); err != nil {
			t.Fatalf("records: %v", err)
		}
	}

	// Service 2 has acct-0's key cached; service 1 erases it. Service 2 must
	// neither open the old records nor seal new ones under the erased key.
	if _, _, err := other.Records(ctx, e.p, "K0", leaf); err != nil {
		t.Fatal(err)
	}
	er, err := e.svc.Erase(ctx, e.p, "acct-0")
	if err != nil {
		t.Fatal(err)
	}
	_, recs, err := other.Records(ctx, e.p, "K0", leaf)
	if err != nil {
		t.Fatal(err)
	}
	erased := 0
	for _, r := range recs {
		if r.Opened.Erased {
			erased++
			if r.Opened.ErasureIndex != er.Index {
				t.Errorf("erasure leaf %d, want %d", r.Opened.ErasureIndex, er.Index)
			}
			if _, ok := r.Opened.Fields["actor.name"]; ok {
				t.Error("the other process opened an erased field")
			}
		}
	}
	if erased == 0 {
		t.Error("the other process shows no erased record")
	}
	ev := event(99) // the sending of C000033
	ev["actor"].(map[string]any)["account"] = "acct-0"
	b, _ := json.Marshal(ev)
	rs, err := other.Ingest(ctx, e.p, b)
	if err != nil {
		t.Fatal(err)
	}
	var lh [32]byte
	hex.Decode(lh[:], []byte(rs[0].LeafHash))
	for _, svc := range svcs {
		o, err := svc.OpenSealed(e.p.Tenant.ID, rs[0].Index, lh)
		if err != nil || o.Erased || o.Fields["actor.name"].Value != "叶建华" {
			t.Errorf("event after the erasure: %+v %v", o, err)
		}
	}
	// A second erasure from the other process returns the first receipt.
	if er2, err := other.Erase(ctx, e.p, "acct-1"); err != nil {
		t.Fatal(err)
	} else if er3, err := e.svc.Erase(ctx, e.p, "acct-1"); err != nil || er3 != er2 {
		t.Errorf("erasing twice across processes: %+v %+v %v", er2, er3, err)
	}
}
