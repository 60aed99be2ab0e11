// Package notarytest holds test doubles for both sides of notarization:
// an in-memory log that signs checkpoints as the ledger does and serves
// C2SP tlog-tiles, and a check of an office's cosignature line. It imports
// neither notary nor notary/client, so the tests of both can use it.
package notarytest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
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
	fnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// Log is an in-memory log with real Merkle math (Go's sumdb tlog) and
// checkpoints signed like the ledger signs them: an Ed25519 line plus an
// SM2/SM3 line of a key type note does not know. It has the methods the
// log side's pusher needs of a log (with Next in place of NextCheckpoint,
// whose result type belongs to notary/client) and serves C2SP tlog-tiles
// for an office's pull mode.
//
// Tests read and change its state directly under Mu.
type Log struct {
	t      testing.TB
	Origin string
	Signer note.Signer
	VKey   string
	sm2    *sm2Signer

	Mu       sync.Mutex
	Leaves   []tlog.Hash // leaf hashes
	Entries  [][]byte    // the entries (leaves) themselves, served as entry bundles
	stored   []tlog.Hash // tlog stored hashes
	Notes    map[uint64][]byte
	Sizes    []uint64 // published checkpoint sizes, in order
	Cosigs   map[uint64][][]byte
	Tokens   map[uint64][][]byte
	changed  chan struct{}
	TileHits int
	// Listed makes the log serve GET /v1/log/checkpoints?after=S&limit=N
	// as cunzheng's ledger does; without it that path is a 404, as on a
	// log that only speaks tlog-tiles.
	Listed bool
	// NoEntries makes the log serve no entry bundles (404), as a log
	// that publishes leaf hashes only.
	NoEntries bool
}

// Verifier is the verifier of the log's Ed25519 key.
func (l *Log) Verifier() note.Verifier {
	v, err := note.NewVerifier(l.VKey)
	if err != nil {
		l.t.Fatal(err)
	}
	return v
}

// NewLog returns an empty log whose checkpoints carry origin; t fails
// the test on any error.
func NewLog(t testing.TB, origin string) *Log {
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
	return &Log{t: t, Origin: origin, Signer: s, VKey: vkey, sm2: &sm2Signer{name: origin, key: k},
		Notes: map[uint64][]byte{}, Cosigs: map[uint64][][]byte{}, Tokens: map[uint64][][]byte{}, changed: make(chan struct{})}
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

// Append adds n leaves and returns the new size (not yet published).
func (l *Log) Append(n int) uint64 {
	l.Mu.Lock()
	defer l.Mu.Unlock()
	for range n {
		leaf := []byte(fmt.Sprintf("leaf %d", len(l.Leaves)))
		l.appendHashLocked(tlog.RecordHash(leaf))
		l.Entries = append(l.Entries, leaf)
	}
	return uint64(len(l.Leaves))
}

// AppendEntries adds the given entries as leaves and returns the new size
// (not yet published).
func (l *Log) AppendEntries(entries ...[]byte) uint64 {
	l.Mu.Lock()
	defer l.Mu.Unlock()
	for _, e := range entries {
		l.appendHashLocked(tlog.RecordHash(e))
		l.Entries = append(l.Entries, slices.Clone(e))
	}
	return uint64(len(l.Leaves))
}

func (l *Log) appendHashLocked(h tlog.Hash) {
	hashes, err := tlog.StoredHashesForRecordHash(int64(len(l.Leaves)), h, tlog.HashReaderFunc(l.readHashesLocked))
	if err != nil {
		l.t.Fatal(err)
	}
	l.stored = append(l.stored, hashes...)
	l.Leaves = append(l.Leaves, h)
}

func (l *Log) readHashesLocked(idx []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(idx))
	for i, x := range idx {
		if x < 0 || x >= int64(len(l.stored)) {
			return nil, fmt.Errorf("hash %d not stored", x)
		}
		out[i] = l.stored[x]
	}
	return out, nil
}

// Root is the tree hash at size.
func (l *Log) Root(size uint64) tlog.Hash {
	l.Mu.Lock()
	defer l.Mu.Unlock()
	h, err := tlog.TreeHash(int64(size), tlog.HashReaderFunc(l.readHashesLocked))
	if err != nil {
		l.t.Fatal(err)
	}
	return h
}

// Sign returns a checkpoint note for size with the given root.
func (l *Log) Sign(size uint64, root tlog.Hash) []byte {
	text := fmt.Sprintf("%s\n%d\n%s\n", l.Origin, size, base64.StdEncoding.EncodeToString(root[:]))
	msg, err := note.Sign(&note.Note{Text: text}, l.Signer, l.sm2)
	if err != nil {
		l.t.Fatal(err)
	}
	return msg
}

// Publish signs and publishes a checkpoint at the current size.
func (l *Log) Publish() uint64 {
	l.Mu.Lock()
	size := uint64(len(l.Leaves))
	l.Mu.Unlock()
	msg := l.Sign(size, l.Root(size))
	l.Mu.Lock()
	defer l.Mu.Unlock()
	if _, ok := l.Notes[size]; !ok {
		l.Sizes = append(l.Sizes, size)
	}
	l.Notes[size] = msg
	close(l.changed)
	l.changed = make(chan struct{})
	return size
}

// Proof is ConsistencyProof as byte slices, as tlog-witness sends it.
func (l *Log) Proof(old, size uint64) [][]byte {
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

// Checkpoint is a published checkpoint with what is stored beside it.
type Checkpoint struct {
	Size         uint64
	Note         []byte
	Cosignatures [][]byte
	Tokens       [][]byte
}

// Next blocks until the log has published a checkpoint larger than after
// and returns the first such, or ctx's error.
func (l *Log) Next(ctx context.Context, after uint64) (Checkpoint, error) {
	for {
		l.Mu.Lock()
		for _, s := range l.Sizes {
			if s > after {
				p := Checkpoint{Size: s, Note: l.Notes[s], Cosignatures: slices.Clone(l.Cosigs[s]), Tokens: slices.Clone(l.Tokens[s])}
				l.Mu.Unlock()
				return p, nil
			}
		}
		ch := l.changed
		l.Mu.Unlock()
		select {
		case <-ctx.Done():
			return Checkpoint{}, ctx.Err()
		case <-ch:
		}
	}
}

// Size is the number of leaves appended.
func (l *Log) Size() uint64 {
	l.Mu.Lock()
	defer l.Mu.Unlock()
	return uint64(len(l.Leaves))
}

// ConsistencyProof proves the tree of size old a prefix of size's.
func (l *Log) ConsistencyProof(ctx context.Context, old, size uint64) ([]tlog.Hash, error) {
	l.Mu.Lock()
	defer l.Mu.Unlock()
	if old > size || size > uint64(len(l.Leaves)) {
		return nil, errors.New("bad sizes")
	}
	if old == 0 || old == size {
		return nil, nil
	}
	p, err := tlog.ProveTree(int64(size), int64(old), tlog.HashReaderFunc(l.readHashesLocked))
	return p, err
}

// AddCosignature stores a cosignature line beside a published checkpoint.
func (l *Log) AddCosignature(ctx context.Context, size uint64, line []byte) error {
	l.Mu.Lock()
	defer l.Mu.Unlock()
	if _, ok := l.Notes[size]; !ok {
		return errors.New("no such checkpoint")
	}
	l.Cosigs[size] = append(l.Cosigs[size], line)
	return nil
}

// AddTimestamp stores a time-stamp token beside a published checkpoint.
func (l *Log) AddTimestamp(ctx context.Context, size uint64, token []byte) error {
	l.Mu.Lock()
	defer l.Mu.Unlock()
	if _, ok := l.Notes[size]; !ok {
		return errors.New("no such checkpoint")
	}
	l.Tokens[size] = append(l.Tokens[size], token)
	return nil
}

// ServeHTTP serves C2SP tlog-tiles: /checkpoint and level-0 tiles (the
// only level a pulling office reads), full or partial.
func (l *Log) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	l.Mu.Lock()
	defer l.Mu.Unlock()
	if r.URL.Path == "/checkpoint" {
		if len(l.Sizes) == 0 {
			http.NotFound(w, r)
			return
		}
		w.Write(l.Notes[l.Sizes[len(l.Sizes)-1]])
		return
	}
	if r.URL.Path == "/v1/log/checkpoints" && l.Listed {
		after, _ := strconv.ParseUint(r.URL.Query().Get("after"), 10, 64)
		limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
		type cp struct {
			Size uint64 `json:"size"`
			Note string `json:"note"`
		}
		list := []cp{}
		for _, s := range l.Sizes {
			if s > after && (limit <= 0 || len(list) < limit) {
				list = append(list, cp{s, string(l.Notes[s])})
			}
		}
		json.NewEncoder(w).Encode(map[string]any{"checkpoints": list})
		return
	}
	p, ok := strings.CutPrefix(r.URL.Path, "/tile/")
	if !ok {
		http.NotFound(w, r)
		return
	}
	// An entry bundle's path is a level-0 tile's with "entries" for the
	// level: parsed as one.
	rest, entries := strings.CutPrefix(p, "entries/")
	if entries {
		if l.NoEntries {
			http.NotFound(w, r)
			return
		}
		p = "0/" + rest
	}
	t, err := tlog.ParseTilePath("tile/8/" + p)
	if err != nil || t.L != 0 {
		http.NotFound(w, r)
		return
	}
	published := uint64(0)
	if len(l.Sizes) > 0 {
		published = l.Sizes[len(l.Sizes)-1]
	}
	start := uint64(t.N) * 256
	end := start + uint64(t.W)
	if end > published {
		http.NotFound(w, r)
		return
	}
	if entries {
		var buf []byte
		for i := start; i < end; i++ {
			buf = binary.BigEndian.AppendUint16(buf, uint16(len(l.Entries[i])))
			buf = append(buf, l.Entries[i]...)
		}
		w.Write(buf)
		return
	}
	l.TileHits++
	buf := make([]byte, 0, t.W*32)
	for i := start; i < end; i++ {
		buf = append(buf, l.Leaves[i][:]...)
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(buf)))
	w.Write(buf)
}

// Server serves the log's tiles on a test server closed with the test.
func (l *Log) Server() *httptest.Server {
	s := httptest.NewServer(l)
	l.t.Cleanup(s.Close)
	return s
}

// CheckCosignature reports whether line is a cosignature/v1 over msg by
// the office with verifier key vkey and key name name, carrying its
// timestamp.
func CheckCosignature(vkey, name string, msg, line []byte) error {
	v, err := fnote.NewVerifierForCosignatureV1(vkey)
	if err != nil {
		return err
	}
	n, err := note.Open(append(bytes.Clone(msg), line...), note.VerifierList(v))
	if err != nil {
		return fmt.Errorf("cosignature does not verify: %w\n%s%s", err, msg, line)
	}
	if len(n.Sigs) != 1 || n.Sigs[0].Name != name {
		return fmt.Errorf("verified sigs = %+v", n.Sigs)
	}
	if _, err := fnote.CoSigV1Timestamp(n.Sigs[0]); err != nil {
		return fmt.Errorf("cosignature has no timestamp: %w", err)
	}
	return nil
}
