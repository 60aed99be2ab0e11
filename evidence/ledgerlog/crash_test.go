package ledgerlog_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cunzheng/cunzheng/evidence"
	"github.com/cunzheng/cunzheng/evidence/ledgerlog"
	"github.com/cunzheng/cunzheng/ledger"
)

const crashChildEnv = "CUNZHENG_EVIDENCE_CRASH_CHILD"

func TestMain(m *testing.M) {
	if dir := os.Getenv(crashChildEnv); dir != "" {
		crashChild(dir) // never returns
	}
	os.Exit(m.Run())
}

// openOnDisk opens the ledger and evidence under data as serve does.
func openOnDisk(data string) (*ledger.Log, *evidence.Service, error) {
	ctx := context.Background()
	st, err := ledger.OpenPebbleStore(filepath.Join(data, "ledger"), ledger.PebbleOptions{})
	if err != nil {
		return nil, nil, err
	}
	keys, err := ledger.LoadOrCreateKeys(filepath.Join(data, "keys"), "cunzheng.example/crash")
	if err != nil {
		return nil, nil, err
	}
	l, err := ledger.Open(ctx, ledger.Config{Store: st, Origin: keys.Name(), Signers: keys.Signers()})
	if err != nil {
		return nil, nil, err
	}
	master, err := evidence.LoadMasterKey(filepath.Join(data, "keys"), func(string) string { return "" })
	if err != nil {
		return nil, nil, err
	}
	svc, err := evidence.Open(ctx, evidence.Config{Dir: filepath.Join(data, "evidence"), Master: master, Log: ledgerlog.New(l)})
	if err != nil {
		return nil, nil, err
	}
	return l, svc, nil
}

// crashChild ingests events with ids 0, 1, 2, ... (benchEvent) from 8
// goroutines, each one contract's events in order (half as single events,
// half in pairs), and prints "ack ID INDEX HASH" for each receipt until it
// is killed.
func crashChild(data string) {
	_, svc, err := openOnDisk(data)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	key, _ := os.ReadFile(filepath.Join(data, "apikey"))
	p, err := svc.Authenticate(string(key))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	var next atomic.Int64
	var mu sync.Mutex
	out := bufio.NewWriter(os.Stdout)
	for g := range 8 {
		go func() {
			for {
				// One contract's events in order, n to a request.
				n := 1 + g%2
				first := next.Add(flowSteps) - flowSteps
				for at := first; at < first+flowSteps; at += int64(n) {
					var evs []json.RawMessage
					for i := at; i < min(at+int64(n), first+flowSteps); i++ {
						evs = append(evs, benchEvent(i))
					}
					rs, err := svc.Ingest(context.Background(), p, batch(evs...))
					if err != nil {
						fmt.Fprintln(os.Stderr, err)
						os.Exit(4)
					}
					mu.Lock()
					for _, r := range rs {
						fmt.Fprintf(out, "ack %s %d %s\n", r.ID, r.Index, r.LeafHash)
					}
					out.Flush()
					mu.Unlock()
				}
			}
		}()
	}
	select {}
}

// TestCrashRecovery kills a process ingesting at full speed with SIGKILL,
// reopens the store and the ledger, and retries every id the child may have
// started: every acknowledged receipt comes back unchanged and every id has
// exactly one leaf.
func TestCrashRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills a child process")
	}
	data := t.TempDir()
	master, err := evidence.LoadMasterKey(filepath.Join(data, "keys"), func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	_, key, err := evidence.CreateTenant(filepath.Join(data, "evidence"), master, "crash", nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(data, "apikey"), []byte(key), 0o600)

	acked := map[string]string{} // id -> "index hash"
	maxID := -1
	for round := range 2 {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), crashChildEnv+"="+data)
		cmd.Stderr = os.Stderr
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(stdout)
		n := 0
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) != 4 || f[0] != "ack" {
				continue
			}
			if prev, ok := acked[f[1]]; ok && prev != f[2]+" "+f[3] {
				t.Errorf("id %s acknowledged as %s and as %s %s", f[1], prev, f[2], f[3])
			}
			acked[f[1]] = f[2] + " " + f[3]
			if id, err := strconv.Atoi(strings.TrimPrefix(f[1], "bench-")); err == nil && id > maxID {
				maxID = id
			}
			if n++; n == 300+round*100 {
				cmd.Process.Signal(syscall.SIGKILL)
				break
			}
		}
		cmd.Wait()
	}
	l, svc, err := openOnDisk(data)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	defer svc.Close()
	p, err := svc.Authenticate(key)
	if err != nil {
		t.Fatal(err)
	}
	// Retry every id up to beyond the highest acknowledged one (the child
	// may have started more than it acknowledged).
	last := maxID + 64
	for start := 0; start <= last; start += 100 {
		var evs []json.RawMessage
		for i := start; i < min(start+100, last+1); i++ {
			evs = append(evs, benchEvent(int64(i)))
		}
		rs, err := svc.Ingest(context.Background(), p, batch(evs...))
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			if want, ok := acked[r.ID]; ok && want != fmt.Sprintf("%d %s", r.Index, r.LeafHash) {
				t.Errorf("id %s: acknowledged %s, after the crash %d %s", r.ID, want, r.Index, r.LeafHash)
			}
		}
	}
	if got, want := l.Size(), uint64(last+1); got != want {
		t.Errorf("ledger has %d leaves for %d ids", got, want)
	}
	t.Logf("%d receipts acknowledged before two kills; %d ids, %d leaves", len(acked), last+1, l.Size())
}
