package notary

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/cunzheng/cunzheng/evidence/event"
	"github.com/cunzheng/cunzheng/ledger/tlogfmt"
)

// virtualTree is an RFC 6962 tree whose leaf i is the 8-byte big-endian i.
// Node hashes are computed on demand from the leaves and memoized from
// level 8 up, so a 10-million-leaf tree costs one pass of hashing and a few
// MiB of memory instead of the 640 MiB of storing every node.
type virtualTree struct {
	mu   sync.Mutex
	memo map[compact.NodeID][]byte
	// leaf is leaf i's bytes when not the 8-byte big-endian i.
	leaf func(i uint64) []byte
}

func newVirtualTree() *virtualTree { return &virtualTree{memo: map[compact.NodeID][]byte{}} }

func virtualLeafHash(i uint64) []byte {
	return rfc6962.DefaultHasher.HashLeaf(binary.BigEndian.AppendUint64(nil, i))
}

// leafHash is the RFC 6962 hash of leaf i.
func (v *virtualTree) leafHash(i uint64) []byte {
	if v.leaf != nil {
		return rfc6962.DefaultHasher.HashLeaf(v.leaf(i))
	}
	return virtualLeafHash(i)
}

// benchEntry is a cunzheng public leaf (canonical JSON, about 560 bytes,
// as a contract.signed with a few commitments is) naming one document
// hash, different for each i.
func benchEntry(i uint64) []byte {
	h := func(what string) string {
		s := sha256.Sum256(fmt.Appendf(nil, "%s %d", what, i))
		return hex.EncodeToString(s[:])
	}
	ref := h("ref")[:32]
	return fmt.Appendf(nil, `{"commitments":{"actor.account":"%s","actor.name":"%s","contract.id":"%s","tenant":"%s"},"contract":"%s","data":{"files":[{"sha256":"%s"}]},"kind":"contract.signed","logged":"2026-12-05T12:00:00Z","ref":"%s","time":"2026-12-05T12:00:00Z","v":2}`,
		h("account"), h("name"), h("contract"), h("tenant"), ref, h("document"), h("event")[:32])
}

// benchFlowEntry is leaf i of a log of whole contracts: as in the demo
// contract's six events, two leaves in six (the signature and the
// completion) name a document; the others (sending, receipt, identity and
// intent checks) are leaves of the same size naming none.
func benchFlowEntry(i uint64) []byte {
	if i%3 == 0 {
		return benchEntry(i)
	}
	h := func(what string) string {
		s := sha256.Sum256(fmt.Appendf(nil, "%s %d", what, i))
		return hex.EncodeToString(s[:])
	}
	return fmt.Appendf(nil, `{"commitments":{"actor.account":"%s","actor.name":"%s","contract.id":"%s","tenant":"%s"},"contract":"%s","data":{"method":"sms","passed":true,"provider":"%s"},"kind":"intent.verified","logged":"2026-12-05T12:00:00Z","ref":"%s","time":"2026-12-05T12:00:00Z","v":2}`,
		h("account"), h("name"), h("contract"), h("tenant"), h("ref")[:32], h("provider")[:40], h("event")[:32])
}

func (v *virtualTree) node(level uint, index uint64) []byte {
	if level == 0 {
		return v.leafHash(index)
	}
	id := compact.NewNodeID(level, index)
	if level >= 8 {
		v.mu.Lock()
		h, ok := v.memo[id]
		v.mu.Unlock()
		if ok {
			return h
		}
	}
	h := rfc6962.DefaultHasher.HashChildren(v.node(level-1, 2*index), v.node(level-1, 2*index+1))
	if level >= 8 {
		v.mu.Lock()
		v.memo[id] = h
		v.mu.Unlock()
	}
	return h
}

// root is the RFC 6962 root of the first size leaves: the perfect subtrees
// of size's binary decomposition, folded from the right.
func (v *virtualTree) root(size uint64) []byte {
	var nodes [][]byte
	var offset uint64
	for level := 63; level >= 0; level-- {
		if size&(1<<uint(level)) != 0 {
			nodes = append(nodes, v.node(uint(level), offset>>uint(level)))
			offset += 1 << uint(level)
		}
	}
	r := nodes[len(nodes)-1]
	for i := len(nodes) - 2; i >= 0; i-- {
		r = rfc6962.DefaultHasher.HashChildren(nodes[i], r)
	}
	return r
}

func (v *virtualTree) proof(size1, size2 uint64) [][]byte {
	nodes, err := proof.Consistency(size1, size2)
	if err != nil {
		panic(err)
	}
	hashes := make([][]byte, len(nodes.IDs))
	for i, id := range nodes.IDs {
		hashes[i] = v.node(id.Level, id.Index)
	}
	p, err := nodes.Rehash(hashes, rfc6962.DefaultHasher.HashChildren)
	if err != nil {
		panic(err)
	}
	return p
}

type benchLog struct {
	origin string
	signer note.Signer
	vkey   string
}

func newBenchLog(tb testing.TB) *benchLog {
	skey, vkey, err := note.GenerateKey(rand.Reader, "cunzheng.example/log")
	if err != nil {
		tb.Fatal(err)
	}
	s, _ := note.NewSigner(skey)
	return &benchLog{origin: "cunzheng.example/log", signer: s, vkey: vkey}
}

func (l *benchLog) sign(size uint64, root []byte) []byte {
	msg, err := note.Sign(&note.Note{Text: fmt.Sprintf("%s\n%d\n%s\n", l.origin, size, base64.StdEncoding.EncodeToString(root))}, l.signer)
	if err != nil {
		panic(err)
	}
	return msg
}

func (l *benchLog) key(tb testing.TB) LogKey {
	v, err := tlogfmt.NewVerifier(l.vkey)
	if err != nil {
		tb.Fatal(err)
	}
	k := LogKey{Origin: v.Name(), Verifier: v}
	return k
}

var tenMillion = sync.OnceValue(func() *virtualTree {
	v := newVirtualTree()
	v.root(10_000_000)
	return v
})

func TestVirtualTreeMatchesSumdb(t *testing.T) {
	// The benchmark's tree must be a real RFC 6962 tree: compare it with
	// Go's sumdb tlog on a small one, roots and proofs.
	v := newVirtualTree()
	var stored []tlog.Hash
	read := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			out[i] = stored[x]
		}
		return out, nil
	})
	for i := uint64(0); i < 1500; i++ {
		h, err := tlog.StoredHashesForRecordHash(int64(i), tlog.Hash(virtualLeafHash(i)), read)
		if err != nil {
			t.Fatal(err)
		}
		stored = append(stored, h...)
	}
	for _, sz := range []uint64{1, 2, 3, 255, 256, 257, 1000, 1500} {
		want, _ := tlog.TreeHash(int64(sz), read)
		if got := v.root(sz); string(got) != string(want[:]) {
			t.Fatalf("root(%d) differs", sz)
		}
	}
	if err := proof.VerifyConsistency(rfc6962.DefaultHasher, 300, 1500, v.proof(300, 1500), v.root(300), v.root(1500)); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkAddCheckpoint measures add-checkpoint requests per second for a
// log of 10 million entries growing by 1,000 per checkpoint: parse, verify
// the Ed25519 signature and the consistency proof, cosign, commit with
// fsync. Setup (hashing 10M leaves once) is outside the timing.
func BenchmarkAddCheckpoint(b *testing.B) {
	const base, step = 10_000_000, 1000
	v := tenMillion()
	lg := newBenchLog(b)
	o := newTestOffice(b, b.TempDir(), lg.key(b))
	defer o.Close()
	ctx := context.Background()
	if _, err := o.AddCheckpoint(ctx, req(0, nil, lg.sign(base, v.root(base)))); err != nil {
		b.Fatal(err)
	}
	bodies := make([][]byte, b.N)
	for i := range bodies {
		n1 := uint64(base + i*step)
		n2 := n1 + step
		bodies[i] = req(n1, v.proof(n1, n2), lg.sign(n2, v.root(n2)))
	}
	b.ResetTimer()
	c0 := processCPU()
	for i := range b.N {
		if _, err := o.AddCheckpoint(ctx, bodies[i]); err != nil {
			b.Fatal(err)
		}
	}
	cpu := processCPU() - c0
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
	b.ReportMetric(float64(b.N)/cpu.Seconds(), "req/cpu-s")
}

// tileServer is a minimal C2SP tlog-tiles server over the virtual tree's
// first size leaves: /checkpoint, level-0 tiles and, for a tree with
// v.leaf, entry bundles. Each answer waits rtt first, as over a network.
func tileServer(tb testing.TB, lg *benchLog, v *virtualTree, size uint64, rtt time.Duration) *httptest.Server {
	hashes := make([]byte, 0, size*32)
	for i := uint64(0); i < size; i++ {
		hashes = append(hashes, v.leafHash(i)...)
	}
	// Entry bundles are made here, not per request: the server's work
	// should not count as the office's.
	var bundles [][]byte
	for n := uint64(0); v.leaf != nil && n*256 < size; n++ {
		var b []byte
		for i := n * 256; i < min(size, (n+1)*256); i++ {
			e := v.leaf(i)
			b = append(binary.BigEndian.AppendUint16(b, uint16(len(e))), e...)
		}
		bundles = append(bundles, b)
	}
	cp := lg.sign(size, v.root(size))
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(rtt)
		if r.URL.Path == "/checkpoint" {
			w.Write(cp)
			return
		}
		t, err := tlogfmt.ParseTilePath(r.URL.Path)
		width := uint64(t.Width)
		if width == 0 {
			width = 256
		}
		if err != nil || t.Level != 0 || t.Index*256+width > size || (t.Entries && v.leaf == nil) {
			http.NotFound(w, r)
			return
		}
		if t.Entries {
			if width != 256 {
				http.NotFound(w, r) // the benchmark's sizes are whole tiles
				return
			}
			w.Write(bundles[t.Index])
			return
		}
		start := t.Index * 256 * 32
		w.Write(hashes[start : start+width*32])
	}))
	tb.Cleanup(s.Close)
	return s
}

// BenchmarkPullSyncEntries is BenchmarkPullSync against a log that serves
// entry bundles of cunzheng public leaves: the office also fetches every
// bundle, checks each entry against its verified leaf hash, parses it and
// indexes the document it names.
func BenchmarkPullSyncEntries(b *testing.B) {
	for _, bc := range []struct {
		name  string
		entry func(uint64) []byte
		rtt   time.Duration
	}{{"all-documents", benchEntry, 0}, {"flow-mix", benchFlowEntry, 0}, {"flow-mix-rtt5ms", benchFlowEntry, 5 * time.Millisecond}} {
		b.Run(bc.name, func(b *testing.B) {
			for _, i := range []uint64{0, 1, 2} {
				if _, err := event.ParseLeaf(bc.entry(i)); err != nil {
					b.Fatalf("the benchmark's entry %d is not a public leaf: %v", i, err)
				}
			}
			v := newVirtualTree()
			v.leaf = bc.entry
			benchmarkPullSync(b, v, 1<<17, bc.rtt)
		})
	}
}

// BenchmarkPullSync measures pull-mode sync in leaf hashes per second over
// loopback: fetch level-0 tiles, hash them into the compact range, store
// every leaf hash by hash and by index, verify the signed root, commit.
// The log serves no entry bundles.
func BenchmarkPullSync(b *testing.B) { benchmarkPullSync(b, newVirtualTree(), 1<<20, 0) }

func benchmarkPullSync(b *testing.B, v *virtualTree, size uint64, rtt time.Duration) {
	lg := newBenchLog(b)
	srv := tileServer(b, lg, v, size, rtt)
	ctx := context.Background()
	var cpu time.Duration
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		dir := b.TempDir()
		o, err := Open(ctx, Config{Dir: filepath.Join(dir, "db"), Key: mustKey(b, dir), Logs: []LogKey{lg.key(b)}})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		c0 := processCPU()
		n, err := o.SyncOnce(ctx, PullConfig{URL: srv.URL})
		cpu += processCPU() - c0
		if err != nil || n != size {
			b.Fatalf("synced %d: %v", n, err)
		}
		b.StopTimer()
		o.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(size)*float64(b.N)/b.Elapsed().Seconds(), "leaves/s")
	// On a shared machine wall time depends on the neighbours; CPU time
	// spent (by the sync and the in-process tile server together) does not.
	b.ReportMetric(float64(size)*float64(b.N)/cpu.Seconds(), "leaves/cpu-s")
}

// processCPU is the user+system CPU time this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func mustKey(tb testing.TB, dir string) string {
	k, err := LoadOrCreateKey(filepath.Join(dir, "notary.key"), "bench")
	if err != nil {
		tb.Fatal(err)
	}
	return k
}
