package ledger

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	dto "github.com/prometheus/client_model/go"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/cunzheng/cunzheng/ledger/tlogfmt"
)

const testOrigin = "test.cunzheng.example/log"

// testKeys are generated once per test binary; key generation is not what
// these tests are about.
var testKeys = sync.OnceValue(func() *Keys {
	k, err := LoadOrCreateKeys(tempKeyDir(), testOrigin)
	if err != nil {
		panic(err)
	}
	return k
})

func openTestLog(t testing.TB, fs vfs.FS, dir string, mod func(*Config)) *Log {
	t.Helper()
	st, err := OpenPebbleStore(dir, PebbleOptions{FS: fs, CacheSize: 8 << 20, MemTableSize: 4 << 20})
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{
		Store:              st,
		Origin:             testOrigin,
		Signers:            testKeys().Signers(),
		CheckpointInterval: 10 * time.Millisecond,
	}
	if mod != nil {
		mod(&cfg)
	}
	l, err := Open(context.Background(), cfg)
	if err != nil {
		st.Close()
		t.Fatal(err)
	}
	return l
}

func testVerifiers(t testing.TB) note.Verifiers {
	vs, err := testKeys().Verifiers()
	if err != nil {
		t.Fatal(err)
	}
	return vs
}

func leafN(i int) []byte { return []byte(fmt.Sprintf("leaf %d %s", i, bytes.Repeat([]byte{'.'}, i%7))) }

func TestAppendDedupAndProofs(t *testing.T) {
	ctx := context.Background()
	l := openTestLog(t, vfs.NewMem(), "log", nil)
	defer l.Close()

	const n = 700
	for i := 0; i < n; i++ {
		r, err := l.Append(ctx, leafN(i))
		if err != nil {
			t.Fatal(err)
		}
		if r.Index != uint64(i) || r.Duplicate || r.Hash != tlog.RecordHash(leafN(i)) || r.TreeSize < uint64(i+1) {
			t.Fatalf("append %d: got %+v", i, r)
		}
	}
	// Identical bytes: same index, no new leaf.
	r, err := l.Append(ctx, leafN(42))
	if err != nil {
		t.Fatal(err)
	}
	if r.Index != 42 || !r.Duplicate || l.Size() != n {
		t.Fatalf("duplicate append: got %+v, size %d", r, l.Size())
	}

	hasher := rfc6962.DefaultHasher
	for _, size := range []uint64{1, 2, 3, 255, 256, 257, 511, 512, 699, 700} {
		root, err := l.TreeHash(ctx, size)
		if err != nil {
			t.Fatal(err)
		}
		for _, idx := range []uint64{0, size / 2, size - 1} {
			p, err := l.InclusionProof(ctx, idx, size)
			if err != nil {
				t.Fatalf("inclusion %d/%d: %v", idx, size, err)
			}
			lh := tlog.RecordHash(leafN(int(idx)))
			if err := proof.VerifyInclusion(hasher, idx, size, lh[:], hashesToBytes(p), root[:]); err != nil {
				t.Errorf("inclusion %d in %d does not verify: %v", idx, size, err)
			}
		}
		for _, old := range []uint64{1, size / 3, size - 1} {
			if old == 0 {
				continue
			}
			oldRoot, _ := l.TreeHash(ctx, old)
			p, err := l.ConsistencyProof(ctx, old, size)
			if err != nil {
				t.Fatalf("consistency %d-%d: %v", old, size, err)
			}
			if err := proof.VerifyConsistency(hasher, old, size, hashesToBytes(p), oldRoot[:], root[:]); err != nil {
				t.Errorf("consistency %d to %d does not verify: %v", old, size, err)
			}
		}
	}
	if _, err := l.InclusionProof(ctx, 5, n+1); !errors.Is(err, ErrNotFound) {
		t.Errorf("proof beyond the tree: got %v, want ErrNotFound", err)
	}
	var ire *InvalidRequestError
	if _, err := l.InclusionProof(ctx, 10, 10); !errors.As(err, &ire) {
		t.Errorf("index == size: got %v, want InvalidRequestError", err)
	}
	if _, err := l.ConsistencyProof(ctx, 20, 10); !errors.As(err, &ire) {
		t.Errorf("old > size: got %v, want InvalidRequestError", err)
	}
}

func hashesToBytes(hs []tlog.Hash) [][]byte {
	out := make([][]byte, len(hs))
	for i := range hs {
		out[i] = hs[i][:]
	}
	return out
}

func TestAppendAllIsAtomicAndDeduplicates(t *testing.T) {
	ctx := context.Background()
	l := openTestLog(t, vfs.NewMem(), "log", nil)
	defer l.Close()
	rs, err := l.AppendAll(ctx, [][]byte{[]byte("a"), []byte("b"), []byte("a"), []byte("c")})
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		index uint64
		dup   bool
	}{{0, false}, {1, false}, {0, true}, {2, false}}
	for i, w := range want {
		if rs[i].Index != w.index || rs[i].Duplicate != w.dup {
			t.Errorf("receipt %d: got index %d dup %v, want %d %v", i, rs[i].Index, rs[i].Duplicate, w.index, w.dup)
		}
	}
	big := make([]byte, MaxLeafSize+1)
	if _, err := l.AppendAll(ctx, [][]byte{[]byte("d"), big}); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("oversized leaf: got %v, want ErrTooLarge", err)
	}
	if l.Size() != 3 {
		t.Fatalf("a refused batch wrote something: size %d, want 3", l.Size())
	}
	if _, err := l.Append(ctx, make([]byte, MaxLeafSize)); err != nil {
		t.Fatalf("a leaf of exactly %d bytes must be accepted: %v", MaxLeafSize, err)
	}
}

func TestConcurrentAppendsSameLeaves(t *testing.T) {
	ctx := context.Background()
	l := openTestLog(t, vfs.NewMem(), "log", nil)
	defer l.Close()
	const clients, per = 16, 200
	got := make([][]Receipt, clients)
	var wg sync.WaitGroup
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			for i := 0; i < per; i++ {
				// Every client appends the same 200 leaves.
				r, err := l.Append(ctx, leafN(i))
				if err != nil {
					t.Error(err)
					return
				}
				got[c] = append(got[c], r)
			}
		}(c)
	}
	wg.Wait()
	if l.Size() != per {
		t.Fatalf("size %d after concurrent duplicate appends, want %d", l.Size(), per)
	}
	for c := 1; c < clients; c++ {
		for i := range got[c] {
			if got[c][i].Index != got[0][i].Index {
				t.Fatalf("client %d leaf %d: index %d, client 0 got %d", c, i, got[c][i].Index, got[0][i].Index)
			}
		}
	}
}

func TestPushback(t *testing.T) {
	ctx := context.Background()
	fs := newSlowFS(vfs.NewMem())
	l := openTestLog(t, fs, "log", func(c *Config) { c.QueueSize = 4; c.MaxBatchLeaves = 4 })
	defer l.Close()
	fs.setDelay(100 * time.Millisecond)
	// One append occupies the committer in a slow commit; the sequencer's
	// next group (at most 4 leaves) and then the queue of 4 fill up behind
	// it.
	blocker := make(chan error, 1)
	go func() { _, err := l.Append(ctx, []byte("blocker")); blocker <- err }()
	time.Sleep(20 * time.Millisecond)
	var wg sync.WaitGroup
	var mu sync.Mutex
	pushed := 0
	for i := 0; i < 64; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			_, err := l.Append(ctx, leafN(i))
			if errors.Is(err, ErrPushback) {
				mu.Lock()
				pushed++
				mu.Unlock()
			} else if err != nil {
				t.Error(err)
			}
		}(i)
	}
	wg.Wait()
	fs.setDelay(0)
	if err := <-blocker; err != nil {
		t.Fatal(err)
	}
	if pushed == 0 {
		t.Fatal("64 concurrent appends into a queue of 4 behind a slow disk: none was pushed back")
	}
	if got := l.Size(); got != uint64(65-pushed) {
		t.Fatalf("size %d, want %d accepted appends", got, 64-pushed)
	}
}

func TestCheckpointsAreSignedKeptAndConsistent(t *testing.T) {
	ctx := context.Background()
	l := openTestLog(t, vfs.NewMem(), "log", nil)
	defer l.Close()
	cp0, err := l.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if cp0.Size != 0 {
		t.Fatalf("a new log's checkpoint has size %d", cp0.Size)
	}
	last := uint64(0)
	for round := 0; round < 5; round++ {
		for i := 0; i < 37; i++ {
			if _, err := l.Append(ctx, leafN(round*1000+i)); err != nil {
				t.Fatal(err)
			}
		}
		cp, err := l.WaitCheckpoint(ctx, last)
		if err != nil {
			t.Fatal(err)
		}
		last = cp.Size
	}
	cps, err := l.Checkpoints(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(cps) < 2 {
		t.Fatalf("only %d checkpoints kept", len(cps))
	}
	vs := testVerifiers(t)
	edOnly := note.VerifierList(mustVerifier(t, testKeys().VerifierKeys()[0]))
	smOnly := note.VerifierList(mustVerifier(t, testKeys().VerifierKeys()[1]))
	all := append([]Checkpoint{cp0}, cps...)
	for _, cp := range all {
		for name, v := range map[string]note.Verifiers{"both": vs, "ed25519": edOnly, "sm2": smOnly} {
			n, err := note.Open(cp.Note, v)
			if err != nil {
				t.Fatalf("checkpoint %d with %s keys: %v", cp.Size, name, err)
			}
			want := fmt.Sprintf("%s\n%d\n%s\n", testOrigin, cp.Size, cp.Root)
			if n.Text != want {
				t.Fatalf("checkpoint body %q, want %q", n.Text, want)
			}
		}
		got, err := l.CheckpointAt(ctx, cp.Size)
		if err != nil || !bytes.Equal(got.Note, cp.Note) {
			t.Fatalf("CheckpointAt(%d): %v", cp.Size, err)
		}
	}
	// Every pair of kept checkpoints is consistent.
	for i := range all {
		for j := i + 1; j < len(all); j++ {
			a, b := all[i], all[j]
			p, err := l.ConsistencyProof(ctx, a.Size, b.Size)
			if err != nil {
				t.Fatal(err)
			}
			if a.Size == 0 {
				continue
			}
			if err := proof.VerifyConsistency(rfc6962.DefaultHasher, a.Size, b.Size, hashesToBytes(p), a.Root[:], b.Root[:]); err != nil {
				t.Fatalf("checkpoints %d and %d inconsistent: %v", a.Size, b.Size, err)
			}
		}
	}
}

func mustVerifier(t testing.TB, vkey string) note.Verifier {
	v, err := tlogfmt.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestCosignaturesAndTimestamps(t *testing.T) {
	ctx := context.Background()
	l := openTestLog(t, vfs.NewMem(), "log", nil)
	defer l.Close()
	if _, err := l.Append(ctx, []byte("x")); err != nil {
		t.Fatal(err)
	}
	cp, err := l.WaitCheckpoint(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	// A notary's Ed25519 signature over the same body, as a witness adds it.
	skey, vkey, _ := note.GenerateKey(nil, "notary.example/office")
	signer, _ := note.NewSigner(skey)
	n, _ := note.Open(cp.Note, testVerifiers(t))
	cosigned, err := note.Sign(&note.Note{Text: n.Text}, signer)
	if err != nil {
		t.Fatal(err)
	}
	line := cosigned[bytes.LastIndex(cosigned, []byte("\n\n"))+2:]
	if err := l.AddCosignature(ctx, cp.Size, line); err != nil {
		t.Fatal(err)
	}
	// Re-adding from the same key replaces, never duplicates.
	if err := l.AddCosignature(ctx, cp.Size, line); err != nil {
		t.Fatal(err)
	}
	if err := l.AddCosignature(ctx, cp.Size, []byte("— bad\n")); err == nil {
		t.Fatal("a malformed cosignature line was stored")
	}
	if err := l.AddCosignature(ctx, 99999, line); !errors.Is(err, ErrNotFound) {
		t.Fatalf("cosignature for an unknown checkpoint: %v", err)
	}
	if err := l.AddTimestamp(ctx, cp.Size, []byte{0x30, 0x03, 0x02, 0x01, 0x01}); err != nil {
		t.Fatal(err)
	}
	got, err := l.CheckpointAt(ctx, cp.Size)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Cosignatures) != 1 || len(got.Timestamps) != 1 {
		t.Fatalf("got %d cosignatures and %d timestamps, want 1 and 1", len(got.Cosignatures), len(got.Timestamps))
	}
	notaryV, _ := note.NewVerifier(vkey)
	if _, err := note.Open(got.CosignedNote(), note.VerifierList(notaryV)); err != nil {
		t.Fatalf("a verifier knowing only the notary key rejects the cosigned note: %v", err)
	}
	if _, err := note.Open(got.CosignedNote(), testVerifiers(t)); err != nil {
		t.Fatalf("the log keys reject the cosigned note: %v", err)
	}
}

func TestReopenResumes(t *testing.T) {
	ctx := context.Background()
	fs := vfs.NewMem()
	l := openTestLog(t, fs, "log", nil)
	for i := 0; i < 300; i++ {
		if _, err := l.Append(ctx, leafN(i)); err != nil {
			t.Fatal(err)
		}
	}
	root1, _ := l.TreeHash(ctx, 300)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(ctx, []byte("late")); !errors.Is(err, ErrClosed) {
		t.Fatalf("append after close: %v", err)
	}
	l = openTestLog(t, fs, "log", nil)
	defer l.Close()
	cp, err := l.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if cp.Size != 300 || cp.Root != root1 {
		t.Fatalf("Close did not publish a final checkpoint: got size %d", cp.Size)
	}
	r, err := l.Append(ctx, leafN(0))
	if err != nil || !r.Duplicate || r.Index != 0 {
		t.Fatalf("dedup across reopen: %+v %v", r, err)
	}
	r, err = l.Append(ctx, leafN(300))
	if err != nil || r.Index != 300 {
		t.Fatalf("append after reopen: %+v %v", r, err)
	}
}

// TestMaxBatchAgeHoldsGroup checks the age bound of group commit: appends
// arriving within MaxBatchAge of the first are committed with it, as one
// group.
func TestMaxBatchAgeHoldsGroup(t *testing.T) {
	ctx := context.Background()
	l := openTestLog(t, vfs.NewMem(), "log", func(c *Config) { c.MaxBatchAge = 2 * time.Second })
	defer l.Close()
	const n = 10
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := l.Append(ctx, leafN(i)); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	var m dto.Metric
	if err := l.metrics.batchLeaves.Write(&m); err != nil {
		t.Fatal(err)
	}
	if got := m.GetHistogram().GetSampleCount(); got != 1 {
		t.Errorf("%d appends made %d group commits, want 1", n, got)
	}
	if got := m.GetHistogram().GetSampleSum(); got != n {
		t.Errorf("the group commit held %v leaves, want %d", got, n)
	}
}
