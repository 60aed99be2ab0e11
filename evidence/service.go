package evidence

import (
	"context"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/cunzheng/cunzheng/evidence/event"
	"github.com/cunzheng/cunzheng/ledger/pebbledb"
)

// Log is the append-only ledger as evidence needs it. *ledger.Log satisfies
// it through evidence/ledgerlog.New; tests use evidencetest.Log.
type Log interface {
	// AppendAll appends leaves atomically (all or none) and returns one
	// receipt per leaf, in order, once they are durable and integrated.
	// Appending bytes identical to an existing leaf must return that
	// leaf's receipt instead of a second leaf: recovery relies on it.
	AppendAll(ctx context.Context, leaves [][]byte) ([]LogReceipt, error)
}

// LogReceipt says where the log put a leaf.
type LogReceipt struct {
	Index    uint64
	Hash     [32]byte // RFC 6962 leaf hash, SHA-256(0x00 || leaf)
	TreeSize uint64   // size of a tree that includes the leaf
}

// Config configures Open.
type Config struct {
	// Dir is the evidence directory, DIR/evidence for `serve --data DIR`.
	// Pebble lives in Dir/db, tenant files in Dir/tenants. Required unless
	// Store is set.
	Dir string
	// Master is the master key (see LoadMasterKey). Required.
	Master MasterKey
	// Log is the ledger. Required.
	Log Log
	// Logger receives operational logs; never PII. The default discards.
	Logger *slog.Logger
	// Registerer gets the package metrics. The default registers nothing.
	Registerer prometheus.Registerer
	// Now is the clock. The default is time.Now.
	Now func() time.Time
	// ReloadInterval is the least time between re-reads of the tenant files
	// on an unknown API key. The default (zero) is DefaultReloadInterval;
	// a negative value re-reads on every unknown key.
	ReloadInterval time.Duration
	// Blobs, when set, holds the ciphertext of stored documents (cluster
	// mode: the object store); the store keeps only each document's wrapped
	// key. Nil keeps documents in the store.
	Blobs Blobs
	// FS is the filesystem of the Pebble store (vfs.NewMem() in tests).
	// The default is the disk. Tenant files are always on disk.
	FS vfs.FS
	// RecoverInterval is how often the embedded store, after a failed
	// write (a full disk) paused its writes, checks whether the disk takes
	// writes again. The default is one second.
	RecoverInterval time.Duration
	// ShredDelay is how long after an erasure the embedded store starts
	// pushing the erased key out of its files (see shredder), gathering
	// the erasures that follow into the same work. The default (zero) is
	// DefaultShredDelay; a negative value starts at once.
	ShredDelay time.Duration
	// Store, when set, replaces the Pebble store under Dir and the tenant
	// files: cluster mode passes OpenPostgres's store, shared by every
	// `cunzheng serve` process of the cluster, and Dir and FS are unused.
	// Tenants are then managed with StoreTenants instead of the functions
	// that take a directory. Open takes ownership: Close closes it.
	Store Store
}

// DefaultCacheSize is the Pebble block cache of the embedded store.
const DefaultCacheSize = 64 << 20

// DefaultReloadInterval is the default Config.ReloadInterval.
const DefaultReloadInterval = time.Second

// Service is the evidence store: it validates events, splits them into a
// public leaf and a sealed record, appends the leaves to the log, keeps the
// sealed records, keys and the contract index in its own store (Pebble, or
// PostgreSQL shared by a cluster: see Store), and serves them back to those
// entitled.
type Service struct {
	store   Store
	blobs   Blobs // document ciphertext, when not in store
	log     Log
	logger  *slog.Logger
	now     func() time.Time
	reg     *registry
	metrics *metrics

	// Idempotency. Two requests with the same (tenant, id) must not both
	// build a leaf: fresh salts would make the leaves differ and the log
	// would keep both. The design: a request first claims its ids in
	// inflight (waiting for any request holding one of them), then reads
	// the stored claim; only an id with no stored claim gets a new leaf,
	// written to Pebble as a *pending* claim with a synced commit before the
	// leaf goes to the log. A crash after that leaves a pending claim which
	// Open (or the client's retry) re-appends with the same bytes, and the
	// log returns the first receipt for identical bytes, so one id is one
	// leaf across crashes too. Rejected: deriving salts from (tenant secret,
	// id) so retries rebuild identical leaves — the salts would then outlive
	// an erasure in the tenant key and low-entropy values such as phone
	// numbers could be brute-forced from the commitments by whoever holds the
	// master key. Across the processes of a cluster, inflight cannot help:
	// the pending claim is inserted (commitPending), so the process that
	// loses the race gets errConflict, reads the winner's claim and
	// completes it like a retry.
	inflightMu sync.Mutex
	inflight   map[string]chan struct{} // claim key -> closed when released

	// eraseMu is held shared by every ingest until its claims are durable
	// and exclusively by an erasure until the key's deletion is, so that
	// no event is sealed under a key being destroyed.
	eraseMu sync.RWMutex
	// eraseGen counts the erasures this process committed, incremented
	// under eraseMu and, on the embedded store, indexMu. An ingested item
	// remembers it (item.eraseGen) when its claim is durable; finalize
	// (holding indexMu) trusts the item's subject key unerased while it has
	// not moved, and otherwise reads the stored key. Rejected: holding
	// eraseMu to the end of the request, which made an erasure wait for
	// every request's log append and finalize (p50 0.38 s under ingest)
	// and stopped ingest meanwhile.
	eraseGen atomic.Uint64

	// indexMu serialises finalize on the embedded store, guarding the
	// contract cache (a shared store uses no cache: another process may
	// have changed any record; its transactions serialise finalize).
	indexMu       sync.Mutex
	contractCache map[string]*contractRecord // tenant/ref -> committed record; guarded by indexMu
	// Group finalize (see finalizeGrouped): the batch of each tenant still
	// taking work, guarded by groupMu; groupRun is held by the one leader
	// finalizing at a time.
	groupMu   sync.Mutex
	groupOpen map[string]*finalizeGroup
	groupRun  sync.Mutex

	closed atomic.Bool
	stop   chan struct{}  // closed by Close: ends recoverLoop
	bg     sync.WaitGroup // recoverLoop

	// shredder pushes erased keys out of the store's files (nil on a store
	// that needs none); shredStop ends it.
	shredder  *shredder
	shredStop chan struct{}

	subjMu   sync.Mutex             // guards subjects
	subjects map[string]*subjectKey // tenant/sref -> unwrapped data key
}

// Open opens (creating if needed) the evidence store and completes any
// pending claims a crash left behind.
func Open(ctx context.Context, cfg Config) (*Service, error) {
	if cfg.Dir == "" && cfg.Store == nil {
		return nil, errors.New("evidence: Config.Dir or Config.Store is required")
	}
	if cfg.Store != nil && (!cfg.Master.valid() || cfg.Log == nil) {
		cfg.Store.Close() // owned from here on, even when refused
	}
	if !cfg.Master.valid() {
		return nil, errors.New("evidence: Config.Master is required")
	}
	if cfg.Log == nil {
		return nil, errors.New("evidence: Config.Log is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.ReloadInterval == 0 {
		cfg.ReloadInterval = DefaultReloadInterval
	}
	if cfg.RecoverInterval <= 0 {
		cfg.RecoverInterval = time.Second
	}
	if cfg.ShredDelay == 0 {
		cfg.ShredDelay = DefaultShredDelay
	}
	st := cfg.Store
	var tenants Tenants
	if st == nil {
		if err := os.MkdirAll(tenantsPath(cfg.Dir), 0o700); err != nil {
			return nil, fmt.Errorf("evidence: %w", err)
		}
		if cfg.FS == nil {
			cfg.FS = vfs.Default
		}
		ps, err := openPebble(cfg.Dir, cfg.FS, cfg.Logger)
		if err != nil {
			return nil, err
		}
		st, tenants = ps, TenantFiles(cfg.Dir)
	} else {
		tenants = StoreTenants(st)
	}
	s := &Service{
		store: st, blobs: cfg.Blobs, log: cfg.Log, logger: cfg.Logger, now: cfg.Now,
		reg: &registry{
			tenants: tenants, master: cfg.Master, logger: cfg.Logger,
			interval: cfg.ReloadInterval, now: cfg.Now,
		},
		metrics:       newMetrics(cfg.Registerer),
		inflight:      map[string]chan struct{}{},
		subjects:      map[string]*subjectKey{},
		contractCache: map[string]*contractRecord{},
		groupOpen:     map[string]*finalizeGroup{},
		stop:          make(chan struct{}),
	}
	if err := s.reg.reload(); err != nil {
		st.Close()
		return nil, err
	}
	ps, embedded := st.(*pebbleStore)
	var (
		migrated bool
		err      error
	)
	if embedded && ps.health() != nil {
		// Opened read-only on a full disk: pending claims are completed,
		// and an older store migrated, when writes resume (recoverLoop).
		s.logger.Error("evidence: store opened read-only, writes paused until the disk has room", "err", ps.health())
	} else if migrated, err = s.migrateSealContracts(ctx); err != nil {
		st.Close()
		return nil, err
	} else if err := s.recover(ctx); err != nil {
		st.Close()
		return nil, err
	}
	if migrated {
		if err := s.compactStore(ctx); err != nil {
			st.Close()
			return nil, err
		}
		s.logger.Info("evidence: sealed the contract numbers and names an earlier version stored in the clear")
	}
	if err := s.startShredder(ctx, max(cfg.ShredDelay, 0)); err != nil {
		st.Close()
		return nil, err
	}
	if embedded {
		s.bg.Add(1)
		go s.recoverLoop(ps, cfg.RecoverInterval)
	}
	return s, nil
}

// Healthy returns nil while the store takes writes, else why not: an
// error matching ErrUnavailable, and ErrNoSpace when the disk is full.
func (s *Service) Healthy() error {
	if ps, ok := s.store.(*pebbleStore); ok {
		return writeErr(ps.health())
	}
	return nil
}

// recoverLoop resumes the embedded store's writes after a storage failure
// once its disk takes writes again (every interval it probes; see
// ledger/pebbledb), then completes the claims left pending meanwhile.
// The contract cache is dropped with the reopen: a finalize whose commit
// failed may have become durable after all, and the cache would not know.
func (s *Service) recoverLoop(ps *pebbleStore, interval time.Duration) {
	defer s.bg.Done()
	t := time.NewTicker(interval)
	defer t.Stop()
	var lastLog time.Time
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		if ps.health() == nil {
			lastLog = time.Time{}
			continue
		}
		s.indexMu.Lock()
		err := ps.recoverWrites()
		if err == nil {
			clear(s.contractCache)
		}
		s.indexMu.Unlock()
		if err != nil {
			if time.Since(lastLog) > 30*time.Second {
				lastLog = time.Now()
				s.logger.Warn("evidence: store writes still paused", "err", err)
			}
			continue
		}
		s.logger.Info("evidence: store takes writes again")
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		if migrated, err := s.migrateSealContracts(ctx); err != nil {
			s.logger.Error("evidence: sealing the contracts of an earlier version after the store recovered", "err", err)
		} else if migrated {
			s.logger.Info("evidence: sealed the contract numbers and names an earlier version stored in the clear")
		}
		if err := s.recover(ctx); err != nil {
			s.logger.Error("evidence: completing pending claims after the store recovered", "err", err)
		}
		cancel()
	}
}

// Errors of the embedded store's storage.
var (
	// ErrNoSpace matches a failed write (or a paused store) on a full disk.
	ErrNoSpace = pebbledb.ErrNoSpace
)

// startShredder starts the shredder on a store that needs one and queues
// the erasures a crash left unshredded.
func (s *Service) startShredder(ctx context.Context, delay time.Duration) error {
	sh, ok := s.store.(shredStore)
	if !ok {
		return nil
	}
	s.shredder = newShredder(sh, s.store, s.logger, delay)
	err := s.store.scan(ctx, shredMarkers[0], shredMarkers[1], func(k, _ []byte) (bool, error) {
		s.shredder.request(subjectKeyOfMarker(k))
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("evidence: reading erasures to shred: %w", err)
	}
	s.shredStop = make(chan struct{})
	go s.shredder.run(s.shredStop)
	return nil
}

// Close closes the store. Closing twice is harmless.
func (s *Service) Close() error {
	if !s.closed.CompareAndSwap(false, true) {
		return nil
	}
	if s.shredder != nil {
		// The last cycle shreds what is queued, so that nothing erased
		// stays on disk after a clean shutdown.
		close(s.shredStop)
		<-s.shredder.done
	}
	close(s.stop)
	s.bg.Wait()
	if err := s.store.Close(); err != nil {
		return fmt.Errorf("evidence: closing store: %w", err)
	}
	return nil
}

// Authenticate returns the principal holding API key key, or
// ErrUnauthorized.
func (s *Service) Authenticate(key string) (Principal, error) { return s.reg.authenticate(key) }

// ReloadTenants re-reads the tenant files now.
func (s *Service) ReloadTenants() error { return s.reg.reload() }

// Receipt is what POST /v1/events answers for each event. Checkpoint is
// the durable tree size right after the leaf was integrated: inclusion
// proofs for Index are available at once for that size, and the first
// published checkpoint whose size is at least Checkpoint commits to the
// leaf (checkpoints are signed on a cadence, not per append, so waiting
// for one here would cost up to a checkpoint interval of latency).
type Receipt struct {
	ID         string `json:"id"`
	Index      uint64 `json:"index"`
	LeafHash   string `json:"leaf_hash"` // hex
	Checkpoint uint64 `json:"checkpoint"`
}

func (s *Service) get(k []byte, v any) (bool, error) {
	b, found, err := s.store.get(context.Background(), k)
	if err != nil {
		return false, fmt.Errorf("evidence: reading store: %w", err)
	}
	if !found {
		return false, nil
	}
	return true, decodeValue(k, b, v)
}

func decodeValue(k, b []byte, v any) error {
	var err error
	if bu, ok := v.(encoding.BinaryUnmarshaler); ok {
		err = bu.UnmarshalBinary(b)
	} else {
		err = json.Unmarshal(b, v)
	}
	if err != nil {
		return fmt.Errorf("evidence: decoding %q: %w", k[:1], err)
	}
	return nil
}

// encodeValue is v in its binary form when it has one, else as JSON.
func encodeValue(v any) ([]byte, error) {
	var (
		j   []byte
		err error
	)
	if bm, ok := v.(encoding.BinaryMarshaler); ok {
		j, err = bm.MarshalBinary()
	} else {
		j, err = json.Marshal(v)
	}
	if err != nil {
		return nil, fmt.Errorf("evidence: encoding: %w", err)
	}
	return j, nil
}

// setValue stores v in b.
func setValue(b *batch, k []byte, v any) error {
	j, err := encodeValue(v)
	if err != nil {
		return err
	}
	b.set(k, j)
	return nil
}

// scanPrefix calls fn for every key starting with prefix.
func (s *Service) scanPrefix(prefix []byte, fn func(k, v []byte) (bool, error)) error {
	if err := s.store.scan(context.Background(), prefix, prefixEnd(prefix), fn); err != nil {
		return fmt.Errorf("evidence: reading store: %w", err)
	}
	return nil
}

// recover completes pending claims left by a crash or a failed append. On
// a shared store those may be claims another process is completing right
// now: appending identical bytes returns the same receipt and finalize
// skips claims already done, so doing it twice is harmless.
func (s *Service) recover(ctx context.Context) error {
	type pend struct{ tenant, id string }
	var pending []pend
	err := s.store.scanPending(ctx, func(k []byte) (bool, error) {
		t, id := parseClaimKey(k)
		pending = append(pending, pend{t, id})
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("evidence: recovery scan: %w", err)
	}
	byTenant := map[string][]*item{}
	for _, p := range pending {
		var c claim
		found, err := s.get(claimKey(p.tenant, p.id), &c)
		if err != nil {
			return err
		}
		if !found || c.State != "pending" {
			continue
		}
		byTenant[p.tenant] = append(byTenant[p.tenant], &item{id: p.id, c: &c})
	}
	for t, work := range byTenant {
		slices.SortStableFunc(work, func(a, b *item) int {
			if c := a.c.Time.Compare(b.c.Time); c != 0 {
				return c
			}
			return a.c.Pos - b.c.Pos
		})
		for start := 0; start < len(work); start += event.MaxBatch {
			end := min(start+event.MaxBatch, len(work))
			if err := s.finishPending(ctx, t, work[start:end]); err != nil {
				return fmt.Errorf("evidence: recovering pending claims: %w", err)
			}
		}
		s.logger.Info("evidence: recovered pending claims", "tenant", t, "count", len(work))
	}
	return nil
}

// finishPending appends and finalizes pending claims of one tenant as a
// request would: holding their ids against a client's retry of the same
// events and eraseMu shared, and only those still pending once held.
// (recover runs at Open, alone, and after the store recovered from a full
// disk, beside live requests.)
func (s *Service) finishPending(ctx context.Context, tenant string, work []*item) error {
	keys := make([]string, len(work))
	for i, it := range work {
		keys[i] = tenant + "\x00" + it.id
	}
	release, err := s.acquire(ctx, keys)
	if err != nil {
		return err
	}
	defer release()
	s.eraseMu.RLock()
	defer s.eraseMu.RUnlock()
	still := work[:0:0]
	for _, it := range work {
		var c claim
		found, err := s.get(claimKey(tenant, it.id), &c)
		if err != nil {
			return err
		}
		if found && c.State == "pending" {
			still = append(still, it)
		}
	}
	if len(still) == 0 {
		return nil
	}
	return s.appendAndFinalize(ctx, tenant, still)
}

// memTableStopWritesThreshold is Pebble's setting, fixed here because
// Pebble keeps up to this many plus one obsolete WALs for recycling, and
// Erase rotates the WAL that many times plus one.
const memTableStopWritesThreshold = 2

// noRecycleFS makes Pebble remove an obsolete WAL file and create a fresh
// one instead of reusing it in place. Reused files keep the old records
// beyond the new data's end, and an erased subject key must not linger on
// disk in a recycled WAL.
type noRecycleFS struct{ vfs.FS }

func (f noRecycleFS) ReuseForWrite(oldname, newname string, category vfs.DiskWriteCategory) (vfs.File, error) {
	if err := f.FS.Remove(oldname); err != nil {
		return nil, err
	}
	return f.FS.Create(newname, category)
}
