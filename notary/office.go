package notary

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/cunzheng/cunzheng/ledger/pebbledb"
	"github.com/prometheus/client_golang/prometheus"
	fnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/cunzheng/cunzheng/ledger/tlogfmt"
)

// LogKey is a log the office watches: its checkpoint origin line and the
// verifier of one of its signing keys (tlogfmt.NewVerifier parses every
// kind the log publishes). C2SP tlog-checkpoint recommends that the key name
// equal the origin. Signature lines by the log's other keys are ignored, as
// note.Open does with unknown keys.
type LogKey struct {
	Origin   string
	Verifier note.Verifier
	// VKey is the verifier key as configured, shown on the office's
	// pages. Optional.
	VKey string
}

// Config configures an Office.
type Config struct {
	// Dir is the directory of the office's Pebble store. Required.
	Dir string
	// FS is the filesystem of the store. The default is the OS filesystem.
	FS vfs.FS
	// Key is the office's private note signer key (see LoadOrCreateKey). Required.
	Key string
	// Logs are the logs the office cosigns. At least one is required.
	Logs []LogKey
	// Logger receives operational messages. The default discards them.
	Logger *slog.Logger
	// Registry receives the office's metrics. The default registers none.
	Registry prometheus.Registerer
	// StaffFile is the office's staff file (AddStaff), read at every
	// sign-in. Empty: no staff can sign in, and only the requesting log
	// reads a request's full record.
	StaffFile string
}

// Office is a notary office (公证处): a C2SP tlog-witness that cosigns a
// log's checkpoints only after checking that each one extends the last it
// cosigned, and that keeps evidence of any split view it is shown.
//
// Spec: https://c2sp.org/tlog-witness, https://c2sp.org/tlog-cosignature
type Office struct {
	// store is the office's Pebble store; db is its current opening, for
	// which the office holds h. Both change only under closeMu held
	// exclusively (recoverLoop), so every operation, which holds it shared,
	// sees one opening throughout. Writes go through commit.
	store    *pebbledb.DB
	h        pebbledb.Handle
	db       *pebble.DB
	stop     chan struct{} // closed by Close: ends recoverLoop
	stopOnce sync.Once
	bg       sync.WaitGroup
	signer   *fnote.Signer
	vkey     string
	logs     map[string]logEntry // by origin; read-only after Open
	logger   *slog.Logger
	metrics  *metrics
	// staffFile is Config.StaffFile.
	staffFile string

	// mu serializes every read-check-write of a log's cosigned state, so
	// that checking the old size and persisting the new checkpoint are one
	// atomic step (the rollback race described in tlog-witness). Requests
	// are cheap next to the fsync each one waits for, so one lock for all
	// logs costs nothing measurable; per-origin locks were rejected as
	// complexity without gain.
	mu sync.Mutex

	// pullMu serializes pull-mode syncs (several --pull mirrors of one log
	// would otherwise race on the tile rows and the pull state). Pushes
	// do not take it: a long catch-up never delays a cosignature.
	pullMu sync.Mutex

	// pullURLs maps an origin to the URL it is pulled from, learnt on the
	// first fetch of its checkpoint, for the office's pages.
	pullURLs sync.Map

	// tileRoots caches the root of every full level-0 tile of a verified
	// copy (by tileRootKey), so that proving a leaf (Lookup) hashes a few
	// hundred tile roots instead of every leaf of the tree. Rows below the
	// pull size never change (the office refuses any other history), so
	// entries never go stale. At 32 bytes per 256 leaves a 100-million-leaf
	// log costs about 40 MB. Storing tile roots beside the rows while
	// pulling was rejected for now: it slows the hot path for lookups that
	// are rare.
	tileRoots sync.Map

	// closeMu is held shared by every public operation and exclusively by
	// Close, so that nothing reaches the store after it is closed (Pebble
	// panics on that).
	closeMu sync.RWMutex
	closed  bool // guarded by closeMu
}

// acquire returns a release function, or ErrClosed once the office is closed.
func (o *Office) acquire() (func(), error) {
	o.closeMu.RLock()
	if o.closed || o.db == nil {
		o.closeMu.RUnlock()
		return nil, ErrClosed
	}
	return o.closeMu.RUnlock, nil
}

type logEntry struct {
	LogKey
	id [8]byte // storage id: first 8 bytes of SHA-256(origin)
}

// Open opens (creating on first use) the office's store.
func Open(ctx context.Context, cfg Config) (*Office, error) {
	if cfg.Dir == "" {
		return nil, errors.New("notary: Config.Dir is required")
	}
	if len(cfg.Logs) == 0 {
		return nil, errors.New("notary: at least one log key is required")
	}
	signer, err := fnote.NewSignerForCosignatureV1(cfg.Key)
	if err != nil {
		return nil, fmt.Errorf("notary: signer key: %w", err)
	}
	vkey, err := VerifierKey(cfg.Key)
	if err != nil {
		return nil, err
	}
	o := &Office{
		signer:    signer,
		vkey:      vkey,
		logs:      make(map[string]logEntry),
		logger:    cfg.Logger,
		metrics:   newMetrics(cfg.Registry),
		staffFile: cfg.StaffFile,
	}
	if o.logger == nil {
		o.logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	for _, l := range cfg.Logs {
		if _, dup := o.logs[l.Origin]; dup {
			return nil, fmt.Errorf("notary: log %q configured twice", l.Origin)
		}
		o.logs[l.Origin] = logEntry{LogKey: l, id: logID(l.Origin)}
	}
	// A 64 MiB memtable keeps a pull chunk's batch (64 Ki leaves, a few
	// MiB) out of Pebble's large-batch path, which forces a flush per batch.
	options := func() *pebble.Options {
		opts := &pebble.Options{MemTableSize: 64 << 20}
		// Most of the store is SHA-256 hashes, which do not compress: skip
		// the Snappy pass on every block flushed and compacted.
		opts.ApplyCompressionSettings(func() pebble.DBCompressionSettings { return pebble.DBCompressionNone })
		return opts
	}
	// On a full disk the store opens read-only and writes resume once
	// the disk has room (recoverLoop), as for the ledger and evidence.
	store, err := pebbledb.Open(pebbledb.Config{Name: "notary", Dir: cfg.Dir, FS: cfg.FS, Options: options, Logger: o.logger})
	if err != nil {
		return nil, fmt.Errorf("notary: opening store: %w", err)
	}
	o.store = store
	if o.h, err = store.Acquire(); err != nil {
		store.Close()
		return nil, fmt.Errorf("notary: opening store: %w", err)
	}
	o.db = o.h.DB()
	o.stop = make(chan struct{})
	o.bg.Add(1)
	go o.recoverLoop()
	return o, nil
}

// commit commits a batch of o.db; after a storage failure it refuses
// (a *pebbledb.Fault) until recoverLoop has reopened the store.
func (o *Office) commit(b *pebble.Batch, opts *pebble.WriteOptions) error {
	return o.store.Commit(o.h, b, opts)
}

// Healthy returns nil while the store takes writes, else why not.
func (o *Office) Healthy() error { return o.store.Health() }

// recoverLoop reopens the store once its disk takes writes again after a
// storage failure paused them.
func (o *Office) recoverLoop() {
	defer o.bg.Done()
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-o.stop:
			return
		case <-t.C:
		}
		if o.store.Health() == nil {
			continue
		}
		o.closeMu.Lock()
		if o.closed || o.db == nil {
			o.closeMu.Unlock()
			return
		}
		o.h.Release()
		err := o.store.Recover()
		h, aerr := o.store.Acquire()
		if aerr == nil {
			o.h, o.db = h, h.DB()
		} else {
			o.db = nil // nothing left to serve from: acquire refuses
			o.logger.Error("notary: store lost after a failed reopen; restart the service", "err", aerr)
		}
		o.closeMu.Unlock()
		if err == nil {
			o.logger.Info("notary: store takes writes again")
		}
	}
}

// Close closes the store.
func (o *Office) Close() error {
	o.stopOnce.Do(func() { close(o.stop) })
	o.bg.Wait() // recoverLoop takes closeMu
	o.closeMu.Lock()
	defer o.closeMu.Unlock()
	if o.closed {
		return nil
	}
	o.closed = true
	if o.db != nil {
		o.h.Release()
	}
	if err := o.store.Close(); err != nil {
		return fmt.Errorf("notary: closing store: %w", err)
	}
	return nil
}

// VerifierKey returns the office's cosignature/v1 verifier key.
func (o *Office) VerifierKey() string { return o.vkey }

// Name returns the office's key name.
func (o *Office) Name() string { return o.signer.Name() }

func logID(origin string) [8]byte {
	h := sha256.Sum256([]byte(origin))
	return [8]byte(h[:8])
}

// AddCheckpoint parses and processes an add-checkpoint request body and
// returns the response body: the office's cosignature line.
func (o *Office) AddCheckpoint(ctx context.Context, body []byte) ([]byte, error) {
	req, err := tlogfmt.ParseAddCheckpoint(body)
	if err != nil {
		o.metrics.requests.WithLabelValues("malformed").Inc()
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	cosig, err := o.Process(ctx, req)
	o.metrics.requests.WithLabelValues(resultLabel(err)).Inc()
	return cosig, err
}

func resultLabel(err error) string {
	switch {
	case err == nil:
		return "cosigned"
	case errors.Is(err, ErrMalformed):
		return "malformed"
	case errors.Is(err, ErrUnknownLog):
		return "unknown_log"
	case errors.Is(err, ErrBadSignature):
		return "bad_signature"
	case errors.Is(err, ErrBadProof):
		return "bad_proof"
	case errors.Is(err, ErrConflict):
		return "conflict"
	default:
		return "error"
	}
}

// verified is a checkpoint whose log signature the office checked.
type verified struct {
	log  logEntry
	note []byte // as received, with every signature line
	text string // the signed checkpoint body
	cp   tlogfmt.Checkpoint
}

// openCheckpoint finds the log of a signed checkpoint by its origin line and
// verifies its signature. Signatures by unknown keys (the log's SM2 line,
// other cosigners) are ignored, as note.Open does.
func (o *Office) openCheckpoint(msg []byte) (*verified, error) {
	origin, _, ok := bytes.Cut(msg, []byte("\n"))
	if !ok {
		return nil, fmt.Errorf("%w: checkpoint has no origin line", ErrMalformed)
	}
	l, ok := o.logs[string(origin)]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownLog, origin)
	}
	sc, err := tlogfmt.Open(msg, note.VerifierList(l.Verifier))
	if err != nil {
		var unverified *note.UnverifiedNoteError
		var invalid *note.InvalidSignatureError
		if errors.As(err, &unverified) || errors.As(err, &invalid) {
			return nil, fmt.Errorf("%w: %s", ErrBadSignature, l.Origin)
		}
		return nil, fmt.Errorf("%w: checkpoint note: %w", ErrMalformed, err)
	}
	if sc.Origin != l.Origin {
		return nil, fmt.Errorf("%w: origin mismatch", ErrMalformed)
	}
	return &verified{log: l, note: msg, text: sc.Note.Text, cp: sc.Checkpoint}, nil
}

// Process checks a parsed add-checkpoint request and, when every check
// passes, durably records the checkpoint as the latest cosigned for its log
// and returns the cosignature line. The state is committed with fsync before
// the cosignature is returned.
func (o *Office) Process(ctx context.Context, req *tlogfmt.AddCheckpoint) ([]byte, error) {
	release, err := o.acquire()
	if err != nil {
		return nil, err
	}
	defer release()
	v, err := o.openCheckpoint(req.Checkpoint)
	if err != nil {
		return nil, err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	st, err := o.loadState(v.log.id)
	if err != nil {
		return nil, err
	}
	// The split-view check runs before the size checks so that a validly
	// signed conflicting checkpoint is kept as evidence whatever old size
	// came with it.
	forkErr := o.checkHistory(ctx, v, req.Proof)
	if req.Old > v.cp.Size {
		return nil, fmt.Errorf("%w: old size %d is larger than the checkpoint size %d", ErrMalformed, req.Old, v.cp.Size)
	}
	if errors.Is(forkErr, errSplitView) {
		return nil, &ConflictError{Origin: v.log.Origin, Size: st.Size, Fork: true}
	}
	if forkErr != nil {
		return nil, forkErr
	}
	if req.Old != st.Size {
		return nil, &ConflictError{Origin: v.log.Origin, Size: st.Size}
	}
	if st.Exists && v.cp.Size == st.Size {
		// Same checkpoint again (different roots were caught by
		// checkHistory): cosign it again, nothing to store.
		return o.cosign(v.text)
	}
	if st.Exists && st.Size > 0 {
		if err := checkConsistency(req.Proof, st.Size, v.cp.Size, st.Root, v.cp.Root); err != nil {
			if aerr := o.recordAlarm(ctx, Alarm{
				Origin: v.log.Origin, Kind: AlarmInconsistent, Size: v.cp.Size,
				Held: st.Note, Got: v.note, Proof: req.Proof,
				Detail: fmt.Sprintf("consistency proof from cosigned size %d to %d does not verify: %v", st.Size, v.cp.Size, err),
			}); aerr != nil {
				return nil, aerr
			}
			return nil, fmt.Errorf("%w: from %d to %d: %w", ErrBadProof, st.Size, v.cp.Size, err)
		}
	}
	return o.commitCosigned(v, nil)
}

// commitCosigned signs v, stores it as the latest cosigned checkpoint of its
// log and in the history, syncs, and returns the cosignature line. o.mu must
// be held.
func (o *Office) commitCosigned(v *verified, extra func(*pebble.Batch) error) ([]byte, error) {
	cosig, err := o.cosign(v.text)
	if err != nil {
		return nil, err
	}
	st := cosignedState{Exists: true, Size: v.cp.Size, Root: v.cp.Root[:], Note: v.note, Cosignature: cosig, Time: time.Now().UTC()}
	b, err := json.Marshal(st)
	if err != nil {
		return nil, fmt.Errorf("notary: encoding state: %w", err)
	}
	batch := o.db.NewBatch()
	defer batch.Close()
	if err := batch.Set(stateKey(v.log.id), b, nil); err != nil {
		return nil, fmt.Errorf("notary: staging state: %w", err)
	}
	if err := batch.Set(historyKey(v.log.id, v.cp.Size), v.note, nil); err != nil {
		return nil, fmt.Errorf("notary: staging history: %w", err)
	}
	// Kept per size so that a log fetching from a pulling office gets the
	// cosignature of every checkpoint, not only of the newest.
	if err := batch.Set(cosignatureKey(v.log.id, v.cp.Size), cosig, nil); err != nil {
		return nil, fmt.Errorf("notary: staging cosignature: %w", err)
	}
	if extra != nil {
		if err := extra(batch); err != nil {
			return nil, fmt.Errorf("notary: staging: %w", err)
		}
	}
	if err := o.commit(batch, pebble.Sync); err != nil {
		return nil, fmt.Errorf("notary: committing state: %w", err)
	}
	o.metrics.cosignedSize.WithLabelValues(v.log.Origin).Set(float64(v.cp.Size))
	return cosig, nil
}

// cosign returns the office's cosignature/v1 line over a checkpoint body.
func (o *Office) cosign(text string) ([]byte, error) {
	signed, err := note.Sign(&note.Note{Text: text}, o.signer)
	if err != nil {
		return nil, fmt.Errorf("notary: cosigning: %w", err)
	}
	return signed[len(text)+1:], nil
}

// checkHistory compares v with the checkpoint of the same size the office
// cosigned earlier, if any. A different root for the same origin and size is
// a split view: it is recorded as an alarm with both signed notes, and an
// error is returned. o.mu must be held.
func (o *Office) checkHistory(ctx context.Context, v *verified, prf [][]byte) error {
	held, err := o.get(historyKey(v.log.id, v.cp.Size))
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	hv, err := o.openCheckpoint(held)
	if err != nil {
		return fmt.Errorf("notary: stored checkpoint of size %d unreadable: %w", v.cp.Size, err)
	}
	if hv.cp.Root == v.cp.Root {
		return nil
	}
	if err := o.recordAlarm(ctx, Alarm{
		Origin: v.log.Origin, Kind: AlarmFork, Size: v.cp.Size, Held: held, Got: v.note, Proof: prf,
		Detail: fmt.Sprintf("two checkpoints of size %d with different roots, both signed by the log", v.cp.Size),
	}); err != nil {
		return err
	}
	return errSplitView
}

var errSplitView = errors.New("notary: split view")

// cosignedState is the latest checkpoint the office cosigned for one log.
type cosignedState struct {
	Exists      bool      `json:"exists"`
	Size        uint64    `json:"size"`
	Root        []byte    `json:"root"`
	Note        []byte    `json:"note"`
	Cosignature []byte    `json:"cosignature"`
	Time        time.Time `json:"time"`
}

func (o *Office) loadState(id [8]byte) (cosignedState, error) {
	var st cosignedState
	err := o.getJSON(stateKey(id), "state", &st)
	return st, err
}

// getJSON decodes the JSON value at key, what it holds, into v; an absent
// key leaves v as it is.
func (o *Office) getJSON(key []byte, what string, v any) error {
	b, err := o.get(key)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("notary: decoding %s: %w", what, err)
	}
	return nil
}

// get returns a copy of the value at key, or ErrNotFound.
func (o *Office) get(key []byte) ([]byte, error) {
	v, closer, err := o.db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("notary: reading store: %w", err)
	}
	defer closer.Close()
	return bytes.Clone(v), nil
}

// LogState is what the office holds for one log, for pages and monitors.
type LogState struct {
	Origin string `json:"origin"`
	// Size, Root and Checkpoint describe the latest cosigned checkpoint;
	// Checkpoint is the log's signed note with the office's cosignature
	// line appended, verifiable with note.Open. Size is 0 and Checkpoint
	// empty when the office never cosigned one.
	Size        uint64    `json:"size"`
	Root        []byte    `json:"root,omitempty"`
	Checkpoint  string    `json:"checkpoint,omitempty"`
	CosignedAt  time.Time `json:"cosigned_at,omitzero"`
	PulledSize  uint64    `json:"pulled_size"`
	PulledAt    time.Time `json:"pulled_at,omitzero"`
	Fingerprint bool      `json:"holds_fingerprints"`
}

// Logs returns the state of every configured log, sorted by origin.
func (o *Office) Logs(ctx context.Context) ([]LogState, error) {
	release, err := o.acquire()
	if err != nil {
		return nil, err
	}
	defer release()
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []LogState
	for _, l := range o.sortedLogs() {
		st, err := o.loadState(l.id)
		if err != nil {
			return nil, err
		}
		ls := LogState{Origin: l.Origin, Size: st.Size, Root: st.Root, CosignedAt: st.Time}
		if st.Exists {
			ls.Checkpoint = string(o.withoutOwnLines(st.Note)) + string(st.Cosignature)
		}
		ps, err := o.loadPull(l.id)
		if err != nil {
			return nil, err
		}
		ls.PulledSize, ls.PulledAt, ls.Fingerprint = ps.Size, ps.Time, ps.Size > 0
		out = append(out, ls)
	}
	return out, nil
}

func (o *Office) sortedLogs() []logEntry {
	out := make([]logEntry, 0, len(o.logs))
	for _, l := range o.logs {
		out = append(out, l)
	}
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j].Origin < out[j-1].Origin; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// Storage keys. Every key starts with a one-byte table tag; a log is named
// by its 8-byte id so that origins of any length or content are safe.
const (
	tagState       = 's' // s id -> cosignedState JSON
	tagHistory     = 'h' // h id size(8) -> signed note of every cosigned checkpoint
	tagCosignature = 'c' // c id size(8) -> the office's cosignature line of that checkpoint
	tagAlarm       = 'a' // a seq(8) -> Alarm JSON
	tagAlarmSeen   = 'A' // A sha256(evidence) -> seq(8), to record each alarm once
	tagPull        = 'p' // p id -> pullState JSON
	tagFingerprint = 'f' // f leafhash[:16] id -> uvarint index
	tagLeaf        = 't' // t id tile(8) -> the leaf hashes of a level-0 tile
	tagDocument    = 'd' // d sha256(32) id index(8) -> leaf hash of a pulled leaf naming that document
)

func stateKey(id [8]byte) []byte { return append([]byte{tagState}, id[:]...) }
func pullKey(id [8]byte) []byte  { return append([]byte{tagPull}, id[:]...) }
func historyKey(id [8]byte, size uint64) []byte {
	return binary.BigEndian.AppendUint64(append([]byte{tagHistory}, id[:]...), size)
}

func cosignatureKey(id [8]byte, size uint64) []byte {
	return binary.BigEndian.AppendUint64(append([]byte{tagCosignature}, id[:]...), size)
}

// withoutOwnLines drops from a signed note any signature line that claims
// the office's own key: the office keeps notes as they were sent, and a
// sender may have added a bogus line in the office's name, which would make
// the served checkpoint fail to verify next to the real cosignature.
func (o *Office) withoutOwnLines(msg []byte) []byte {
	text, sigs, ok := bytes.Cut(msg, []byte("\n\n"))
	if !ok {
		return msg
	}
	out := append(append([]byte(nil), text...), "\n\n"...)
	prefix := []byte("\u2014 " + o.signer.Name() + " ")
	for _, l := range bytes.SplitAfter(sigs, []byte("\n")) {
		if bytes.HasPrefix(l, prefix) {
			if s, err := tlogfmt.ParseSignatureLine(l); err != nil || s.Hash == o.signer.KeyHash() {
				continue
			}
		}
		out = append(out, l...)
	}
	return out
}

// checkConsistency checks a tlog-witness consistency proof (raw hashes, as
// the request carries them) between two roots.
func checkConsistency(raw [][]byte, oldSize, newSize uint64, oldRoot []byte, newRoot tlog.Hash) error {
	p, err := tlogfmt.HashesFromBytes(raw)
	if err != nil {
		return err
	}
	var old tlog.Hash
	if len(oldRoot) != len(old) {
		return fmt.Errorf("notary: stored root is %d bytes", len(oldRoot))
	}
	copy(old[:], oldRoot)
	return tlogfmt.CheckConsistency(p, oldSize, newSize, old, newRoot)
}
