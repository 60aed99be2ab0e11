package ledger

import (
	"bufio"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/tlog"
)

const crashChildEnv = "CUNZHENG_LEDGER_CRASH_CHILD"

// crashChild runs in a child process: it appends from several goroutines
// and prints "ack INDEX HASH" after each acknowledged append and
// "cp SIZE ROOT" for each published checkpoint, until it is killed.
func crashChild() {
	spec := strings.SplitN(os.Getenv(crashChildEnv), ":", 3) // dir:keydir:run
	ctx := context.Background()
	st, err := OpenPebbleStore(spec[0], PebbleOptions{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	keys, err := LoadOrCreateKeys(spec[1], testOrigin)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	l, err := Open(ctx, Config{Store: st, Origin: testOrigin, Signers: keys.Signers(), CheckpointInterval: 20 * time.Millisecond})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	var mu sync.Mutex
	out := bufio.NewWriter(os.Stdout)
	emit := func(format string, args ...any) {
		mu.Lock()
		fmt.Fprintf(out, format, args...)
		out.Flush()
		mu.Unlock()
	}
	go func() {
		last := l.Size()
		for {
			cp, err := l.WaitCheckpoint(ctx, last)
			if err != nil {
				return
			}
			emit("cp %d %s\n", cp.Size, hex.EncodeToString(cp.Root[:]))
			last = cp.Size
		}
	}()
	for g := 0; g < 8; g++ {
		go func(g int) {
			for i := 0; ; i++ {
				leaf := []byte(fmt.Sprintf("crash run %s goroutine %d entry %d", spec[2], g, i))
				r, err := l.Append(ctx, leaf)
				if err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(4)
				}
				emit("ack %d %s\n", r.Index, hex.EncodeToString(r.Hash[:]))
			}
		}(g)
	}
	select {}
}

type seenCheckpoint struct {
	size uint64
	root tlog.Hash
}

func TestCrashSafetyKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills child processes")
	}
	dir := t.TempDir()
	acked := map[uint64]tlog.Hash{}
	var checkpoints []seenCheckpoint
	rounds := 5
	for round := 0; round < rounds; round++ {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s:%s:%d", crashChildEnv, dir, tempKeyDir(), round))
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		firstAck := make(chan struct{})
		var roundAcks int
		go func() {
			defer close(done)
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				f := strings.Fields(sc.Text())
				if len(f) != 3 {
					continue // a line cut by the kill
				}
				n, err1 := strconv.ParseUint(f[1], 10, 64)
				hb, err2 := hex.DecodeString(f[2])
				if err1 != nil || err2 != nil || len(hb) != 32 {
					continue
				}
				var h tlog.Hash
				copy(h[:], hb)
				switch f[0] {
				case "ack":
					acked[n] = h
					roundAcks++
					if roundAcks == 1 {
						close(firstAck)
					}
				case "cp":
					checkpoints = append(checkpoints, seenCheckpoint{n, h})
				}
			}
		}()
		// The kill comes at a random moment once appends are flowing: a
		// loaded machine may take a while just to start the child.
		select {
		case <-firstAck:
		case <-done:
			t.Fatalf("round %d: the child exited before acknowledging anything", round)
		case <-time.After(time.Minute):
			t.Fatalf("round %d: no append acknowledged within a minute", round)
		}
		time.Sleep(time.Duration(50+rand.IntN(500)) * time.Millisecond)
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		<-done
		cmd.Wait()
		t.Logf("round %d: %d appends acknowledged before kill -9, %d checkpoints seen so far", round, roundAcks, len(checkpoints))
		checkAfterCrash(t, dir, acked, checkpoints)
	}
}

// checkAfterCrash reopens the log and checks that every acknowledged leaf is
// there with the same hash, every checkpoint seen before the kill is kept and
// consistent with the current tree, and appends continue.
func checkAfterCrash(t *testing.T, dir string, acked map[uint64]tlog.Hash, cps []seenCheckpoint) {
	t.Helper()
	ctx := context.Background()
	l := openTestLog(t, vfs.Default, dir, nil)
	defer l.Close()
	size := l.Size()
	for idx, h := range acked {
		if idx >= size {
			t.Fatalf("acknowledged index %d is beyond the reopened tree of size %d", idx, size)
		}
		leaf, err := l.Leaf(ctx, idx)
		if err != nil {
			t.Fatalf("acknowledged leaf %d: %v", idx, err)
		}
		if tlog.RecordHash(leaf) != h {
			t.Fatalf("leaf %d changed after the crash", idx)
		}
	}
	root, err := l.TreeHash(ctx, size)
	if err != nil {
		t.Fatal(err)
	}
	for _, cp := range cps {
		stored, err := l.CheckpointAt(ctx, cp.size)
		if err != nil {
			t.Fatalf("checkpoint %d published before the kill is gone: %v", cp.size, err)
		}
		if stored.Root != cp.root {
			t.Fatalf("checkpoint %d root changed", cp.size)
		}
		if cp.size == 0 {
			continue
		}
		p, err := l.ConsistencyProof(ctx, cp.size, size)
		if err != nil {
			t.Fatal(err)
		}
		if err := proof.VerifyConsistency(rfc6962.DefaultHasher, cp.size, size, hashesToBytes(p), cp.root[:], root[:]); err != nil {
			t.Fatalf("checkpoint %d is not consistent with the tree after the crash: %v", cp.size, err)
		}
	}
	r, err := l.Append(ctx, []byte(fmt.Sprintf("after crash at %d", size)))
	if err != nil || r.Index != size {
		t.Fatalf("append after the crash: %+v %v", r, err)
	}
	acked[r.Index] = r.Hash
}

func TestStorageErrorsPauseAppendsUntilTheStoreRecovers(t *testing.T) {
	ctx := context.Background()
	mem := vfs.NewMem()
	fs := newSlowFS(mem)
	l := openTestLog(t, fs, "log", func(c *Config) { c.RecoverInterval = 10 * time.Millisecond })
	acked := map[uint64]tlog.Hash{}
	for i := 0; i < 100; i++ {
		r, err := l.Append(ctx, leafN(i))
		if err != nil {
			t.Fatal(err)
		}
		acked[r.Index] = r.Hash
	}
	fs.fail.Store(true)
	_, err := l.Append(ctx, []byte("doomed"))
	if !errors.Is(err, ErrStorage) {
		t.Fatalf("append during I/O errors: got %v, want ErrStorage", err)
	}
	if !strings.Contains(err.Error(), "injected") {
		t.Errorf("the error does not say what failed: %v", err)
	}
	if l.Healthy() == nil {
		t.Fatal("Healthy is nil while writes fail")
	}
	// Still failing: appends are refused at once, reads go on.
	time.Sleep(50 * time.Millisecond)
	if _, err := l.Append(ctx, []byte("refused")); !errors.Is(err, ErrStorage) {
		t.Fatalf("append while the storage still fails: %v, want ErrStorage", err)
	}
	checkAcked(t, l, acked)

	fs.fail.Store(false)
	var r Receipt
	for deadline := time.Now().Add(10 * time.Second); ; {
		r, err = l.Append(ctx, []byte("resumed"))
		if err == nil {
			break
		}
		if !errors.Is(err, ErrStorage) || time.Now().After(deadline) {
			t.Fatalf("appends did not resume once the storage took writes: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if l.Healthy() != nil {
		t.Fatalf("Healthy after resuming: %v", l.Healthy())
	}
	if r.Index != 100 && r.Index != 101 {
		t.Fatalf("resumed append at %d, want 100 (or 101 if the failed batch was durable)", r.Index)
	}
	acked[r.Index] = r.Hash
	checkAcked(t, l, acked)
	l.Close()

	l = openTestLog(t, mem, "log", nil)
	defer l.Close()
	checkAcked(t, l, acked)
	if size := l.Size(); size != r.Index+1 {
		t.Fatalf("reopened size %d, want %d", size, r.Index+1)
	}
}

func checkAcked(t *testing.T, l *Log, acked map[uint64]tlog.Hash) {
	t.Helper()
	ctx := context.Background()
	size := l.Size()
	root, err := l.TreeHash(ctx, size)
	if err != nil {
		t.Fatal(err)
	}
	for idx, h := range acked {
		p, err := l.InclusionProof(ctx, idx, size)
		if err != nil {
			t.Fatalf("leaf %d: %v", idx, err)
		}
		if err := proof.VerifyInclusion(rfc6962.DefaultHasher, idx, size, h[:], hashesToBytes(p), root[:]); err != nil {
			t.Fatalf("leaf %d does not verify: %v", idx, err)
		}
	}
}

// Opening on a disk too full to replay the WAL used to spin inside
// pebble.Open for ever. Now the log opens read-only: reads and proofs
// work, appends answer ErrNoSpace, and they resume once the disk has room.
func TestOpenOnFullDiskServesReadsThenResumes(t *testing.T) {
	ctx := context.Background()
	mem := vfs.NewMem()
	mem.TestingSetDiskUsage(vfs.DiskUsage{AvailBytes: 1 << 30, TotalBytes: 1 << 30})
	l := openTestLog(t, mem, "log", nil)
	acked := map[uint64]tlog.Hash{}
	for i := range 50 {
		r, err := l.Append(ctx, leafN(i))
		if err != nil {
			t.Fatal(err)
		}
		acked[r.Index] = r.Hash
	}
	waitPublished(t, l, 50)
	l.Close()

	mem.TestingSetDiskUsage(vfs.DiskUsage{AvailBytes: 4096, TotalBytes: 1 << 30, UsedBytes: 1<<30 - 4096})
	l = openTestLog(t, mem, "log", func(c *Config) { c.RecoverInterval = 10 * time.Millisecond })
	defer l.Close()
	if err := l.Healthy(); !errors.Is(err, ErrNoSpace) {
		t.Fatalf("Healthy on a full disk: %v", err)
	}
	checkAcked(t, l, acked)
	if _, err := l.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(ctx, []byte("refused")); !errors.Is(err, ErrStorage) || !errors.Is(err, ErrNoSpace) {
		t.Fatalf("append on a full disk: %v", err)
	}
	mem.TestingSetDiskUsage(vfs.DiskUsage{AvailBytes: 1 << 30, TotalBytes: 1 << 30})
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		r, err := l.Append(ctx, []byte("resumed"))
		if err == nil {
			if r.Index != 50 {
				t.Fatalf("resumed at %d, want 50", r.Index)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("appends did not resume: %v", err)
		}
	}
}

func waitPublished(t *testing.T, l *Log, size uint64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := l.WaitCheckpoint(ctx, size-1); err != nil {
		t.Fatal(err)
	}
}
