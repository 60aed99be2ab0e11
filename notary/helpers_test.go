package notary

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/emmansun/gmsm/sm2"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/cunzheng/cunzheng/ledger/tlogfmt"
)

// testLog is an in-memory log with real Merkle math (Go's sumdb tlog) and
// checkpoints signed like the ledger signs them: an Ed25519 line plus an
// SM2/SM3 line of a key type note does not know. It implements Log for the
// pusher tests and serves C2SP tlog-tiles for the pull tests.
type testLog struct {
	t      testing.TB
	origin string
	signer note.Signer
	vkey   string
	sm2    *sm2Signer

	mu       sync.Mutex
	leaves   []tlog.Hash // leaf hashes
	stored   []tlog.Hash // tlog stored hashes
	notes    map[uint64][]byte
	sizes    []uint64 // published checkpoint sizes, in order
	cosigs   map[uint64][][]byte
	tokens   map[uint64][][]byte
	changed  chan struct{}
	tileHits int
	// listed makes the log serve GET /v1/log/checkpoints?after=S&limit=N
	// as cunzheng's ledger does; without it that path is a 404, as on a
	// log that only speaks tlog-tiles.
	listed bool
}

func newTestLog(t testing.TB, origin string) *testLog {
	t.Helper()
	skey, vkey, err := note.GenerateKey(rand.Reader, origin)
	if err != nil {
		t.Fatal(err)
	}
	s, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	k, err := sm2.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &testLog{t: t, origin: origin, signer: s, vkey: vkey, sm2: &sm2Signer{name: origin, key: k},
		notes: map[uint64][]byte{}, cosigs: map[uint64][][]byte{}, tokens: map[uint64][][]byte{}, changed: make(chan struct{})}
}

func (l *testLog) logKey() LogKey {
	v, err := tlogfmt.NewVerifier(l.vkey)
	if err != nil {
		l.t.Fatal(err)
	}
	k := LogKey{Origin: v.Name(), Verifier: v}
	return k
}

// sm2Signer signs note lines with SM2/SM3 under an unregistered key type,
// as the ledger's national-standard line does.
type sm2Signer struct {
	name string
	key  *sm2.PrivateKey
}

func (s *sm2Signer) Name() string    { return s.name }
func (s *sm2Signer) KeyHash() uint32 { return 0x5a5a0001 }
func (s *sm2Signer) Sign(msg []byte) ([]byte, error) {
	return s.key.SignWithSM2(rand.Reader, nil, msg)
}

// append adds n leaves and returns the new size (not yet published).
func (l *testLog) append(n int) uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	for range n {
		leaf := fmt.Sprintf("leaf %d", len(l.leaves))
		l.appendHashLocked(tlog.RecordHash([]byte(leaf)))
	}
	return uint64(len(l.leaves))
}

func (l *testLog) appendHashLocked(h tlog.Hash) {
	hashes, err := tlog.StoredHashesForRecordHash(int64(len(l.leaves)), h, tlog.HashReaderFunc(l.readHashesLocked))
	if err != nil {
		l.t.Fatal(err)
	}
	l.stored = append(l.stored, hashes...)
	l.leaves = append(l.leaves, h)
}

func (l *testLog) readHashesLocked(idx []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(idx))
	for i, x := range idx {
		if x < 0 || x >= int64(len(l.stored)) {
			return nil, fmt.Errorf("hash %d not stored", x)
		}
		out[i] = l.stored[x]
	}
	return out, nil
}

func (l *testLog) root(size uint64) tlog.Hash {
	l.mu.Lock()
	defer l.mu.Unlock()
	h, err := tlog.TreeHash(int64(size), tlog.HashReaderFunc(l.readHashesLocked))
	if err != nil {
		l.t.Fatal(err)
	}
	return h
}

// sign returns a checkpoint note for size with the given root.
func (l *testLog) sign(size uint64, root tlog.Hash) []byte {
	text := fmt.Sprintf("%s\n%d\n%s\n", l.origin, size, base64.StdEncoding.EncodeToString(root[:]))
	msg, err := note.Sign(&note.Note{Text: text}, l.signer, l.sm2)
	if err != nil {
		l.t.Fatal(err)
	}
	return msg
}

// publish signs and publishes a checkpoint at the current size.
func (l *testLog) publish() uint64 {
	l.mu.Lock()
	size := uint64(len(l.leaves))
	l.mu.Unlock()
	msg := l.sign(size, l.root(size))
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.notes[size]; !ok {
		l.sizes = append(l.sizes, size)
	}
	l.notes[size] = msg
	close(l.changed)
	l.changed = make(chan struct{})
	return size
}

func (l *testLog) proof(old, size uint64) [][]byte {
	p, err := l.ConsistencyProof(context.Background(), old, size)
	if err != nil {
		l.t.Fatal(err)
	}
	out := make([][]byte, len(p))
	for i := range p {
		out[i] = p[i][:]
	}
	return out
}

// Log implementation.

func (l *testLog) NextCheckpoint(ctx context.Context, after uint64) (Published, error) {
	for {
		l.mu.Lock()
		for _, s := range l.sizes {
			if s > after {
				p := Published{Size: s, Note: l.notes[s], Cosignatures: slices.Clone(l.cosigs[s]), Timestamps: len(l.tokens[s])}
				l.mu.Unlock()
				return p, nil
			}
		}
		ch := l.changed
		l.mu.Unlock()
		select {
		case <-ctx.Done():
			return Published{}, ctx.Err()
		case <-ch:
		}
	}
}

func (l *testLog) Size() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return uint64(len(l.leaves))
}

func (l *testLog) ConsistencyProof(ctx context.Context, old, size uint64) ([]tlog.Hash, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if old > size || size > uint64(len(l.leaves)) {
		return nil, errors.New("bad sizes")
	}
	if old == 0 || old == size {
		return nil, nil
	}
	p, err := tlog.ProveTree(int64(size), int64(old), tlog.HashReaderFunc(l.readHashesLocked))
	return p, err
}

func (l *testLog) AddCosignature(ctx context.Context, size uint64, line []byte) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.notes[size]; !ok {
		return errors.New("no such checkpoint")
	}
	l.cosigs[size] = append(l.cosigs[size], line)
	return nil
}

func (l *testLog) AddTimestamp(ctx context.Context, size uint64, token []byte) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.notes[size]; !ok {
		return errors.New("no such checkpoint")
	}
	l.tokens[size] = append(l.tokens[size], token)
	return nil
}

// ServeHTTP serves C2SP tlog-tiles: /checkpoint and level-0 tiles (the
// only level a pulling office reads), full or partial.
func (l *testLog) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if r.URL.Path == "/checkpoint" {
		if len(l.sizes) == 0 {
			http.NotFound(w, r)
			return
		}
		w.Write(l.notes[l.sizes[len(l.sizes)-1]])
		return
	}
	if r.URL.Path == "/v1/log/checkpoints" && l.listed {
		after, _ := strconv.ParseUint(r.URL.Query().Get("after"), 10, 64)
		limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
		type cp struct {
			Size uint64 `json:"size"`
			Note string `json:"note"`
		}
		list := []cp{}
		for _, s := range l.sizes {
			if s > after && (limit <= 0 || len(list) < limit) {
				list = append(list, cp{s, string(l.notes[s])})
			}
		}
		json.NewEncoder(w).Encode(map[string]any{"checkpoints": list})
		return
	}
	p, ok := strings.CutPrefix(r.URL.Path, "/tile/")
	if !ok || strings.HasPrefix(p, "entries/") {
		http.NotFound(w, r)
		return
	}
	t, err := tlog.ParseTilePath("tile/8/" + p)
	if err != nil || t.L != 0 {
		http.NotFound(w, r)
		return
	}
	published := uint64(0)
	if len(l.sizes) > 0 {
		published = l.sizes[len(l.sizes)-1]
	}
	start := uint64(t.N) * 256
	end := start + uint64(t.W)
	if end > published {
		http.NotFound(w, r)
		return
	}
	l.tileHits++
	buf := make([]byte, 0, t.W*32)
	for i := start; i < end; i++ {
		buf = append(buf, l.leaves[i][:]...)
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(buf)))
	w.Write(buf)
}

func (l *testLog) server() *httptest.Server {
	s := httptest.NewServer(l)
	l.t.Cleanup(s.Close)
	return s
}

func sha(b []byte) []byte { h := sha256.Sum256(b); return h[:] }
