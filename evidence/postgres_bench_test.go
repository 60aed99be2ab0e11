package evidence_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cunzheng/cunzheng/evidence"
	"github.com/cunzheng/cunzheng/ledger/cluster/clustertest"
)

// BenchmarkPostgresBackendCPU measures what batched ingest costs
// PostgreSQL itself: 4 clients post batches of 99 events (33 whole
// contracts) to one service on a PostgreSQL store, with the in-memory log,
// and the CPU time of the database's backends (read from /proc: the test
// server is local) is reported per event, beside events/s. Compare builds
// with interleaved runs: go test -run XXX -bench PostgresBackendCPU
// -benchtime 60x ./evidence.
func BenchmarkPostgresBackendCPU(b *testing.B) {
	pg := clustertest.StartPostgres(b)
	dsn := pg.NewDatabase(b)
	st, err := evidence.OpenPostgres(context.Background(), dsn)
	if err != nil {
		b.Fatal(err)
	}
	svc, p := benchService(b, st)
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(context.Background())
	const clients, per = 4, 99
	var next atomic.Int64
	post := func() error {
		start := int(next.Add(1)-1) * per
		evs := make([]map[string]any, per)
		for i := range evs {
			evs[i] = event(start + i)
		}
		_, err := svc.Ingest(context.Background(), p, batch(evs...))
		return err
	}
	// Warm up: the pool's connections, the statements' plans.
	for range clients {
		if err := post(); err != nil {
			b.Fatal(err)
		}
	}
	cpu0, err := backendCPU(conn)
	if err != nil {
		b.Skipf("backend CPU not readable: %v", err)
	}
	b.ResetTimer()
	start := time.Now()
	var posted atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for posted.Add(1) <= int64(b.N) {
				if err := post(); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	cpu1, err := backendCPU(conn)
	if err != nil {
		b.Fatal(err)
	}
	events := float64(b.N * per)
	b.ReportMetric(events/elapsed.Seconds(), "events/s")
	b.ReportMetric(float64((cpu1-cpu0).Microseconds())/events, "pg_cpu_us/event")
}

// backendCPU sums the CPU time (user and system) of the backends serving
// conn's database, as /proc says.
func backendCPU(conn *pgx.Conn) (time.Duration, error) {
	rows, err := conn.Query(context.Background(), `SELECT pid FROM pg_stat_activity WHERE datname = current_database()`)
	if err != nil {
		return 0, err
	}
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		return 0, err
	}
	var ticks int64
	for _, pid := range pids {
		raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return 0, err
		}
		// The fields after the command name, which is in parentheses.
		f := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+2:]))
		for _, i := range []int{11, 12} { // utime, stime (fields 14, 15)
			n, err := strconv.ParseInt(f[i], 10, 64)
			if err != nil {
				return 0, err
			}
			ticks += n
		}
	}
	return time.Duration(ticks) * time.Second / 100, nil // USER_HZ
}
