package ledger

import (
	"context"
	"errors"
	"time"

	"golang.org/x/mod/sumdb/tlog"
)

// ErrNotFound is returned by Store and Log lookups for a leaf, node,
// checkpoint or tile that does not exist (or not yet at the requested size).
var ErrNotFound = errors.New("ledger: not found")

// State is the durable tree state the sequencer resumes from: the tree size
// and the compact range covering [0, Size) (at most 64 right-border hashes,
// ordered as transparency-dev/merkle/compact.Range.Hashes returns them).
type State struct {
	Size   uint64
	Hashes [][]byte
}

// Node is one hash of a complete subtree: Level 0 is a leaf hash, and the
// node at (Level, Index) covers leaves [Index<<Level, (Index+1)<<Level).
type Node struct {
	Level uint8
	Index uint64
	Hash  tlog.Hash
}

// Batch is one group commit: the leaves appended at [Start, Start+len(Leaves))
// with their hashes, every complete node those appends created, and the state
// after them. Store.Commit writes all of it or nothing.
type Batch struct {
	Start  uint64
	Leaves [][]byte
	Hashes []tlog.Hash
	Nodes  []Node
	State  State
	// Sequenced is set when Leaves are already stored by
	// SharedStore.Sequence, so Commit need not write them again.
	Sequenced bool
	// Prepared is set when Preparer.Prepare succeeded for this batch, so
	// Commit need not do that part again.
	Prepared bool
}

// StoredCheckpoint is a signed checkpoint as kept by the store.
type StoredCheckpoint struct {
	Size uint64
	Root tlog.Hash
	Time time.Time
	Note []byte
}

// Store is the seam the sequencer writes through. The embedded default is a
// Pebble directory (OpenPebbleStore); a cluster deployment puts the same
// methods on a transactional database and an object store.
//
// Only one Log may write to a Store at a time. Implementations must make
// Commit and PutCheckpoint durable before they return, and must never let a
// failed Commit leave part of a Batch readable.
type Store interface {
	// LoadState returns the last committed State (Size 0 for a new store).
	LoadState(ctx context.Context) (State, error)
	// Commit makes b durable atomically. It must fail if b.Start is not the
	// committed size.
	Commit(ctx context.Context, b *Batch) error
	// LookupLeaves returns the index of each leaf whose RFC 6962 hash is in
	// hs; hashes not in the log are absent from the map. The sequencer calls
	// it once per batch, mostly for hashes that are new.
	LookupLeaves(ctx context.Context, hs []tlog.Hash) (map[tlog.Hash]uint64, error)

	TreeReader
	CheckpointStore

	Close() error
}

// TreeReader reads committed leaves and hashes. Callers only ask for data
// below the committed size; a missing key is an ErrNotFound.
type TreeReader interface {
	// ReadLeaves returns the n leaves starting at index start.
	ReadLeaves(ctx context.Context, start uint64, n int) ([][]byte, error)
	// ReadLevel returns the n node hashes at level starting at index start.
	ReadLevel(ctx context.Context, level uint8, start uint64, n int) ([]tlog.Hash, error)
	// ReadNodes returns the hash of each (level, index) pair.
	ReadNodes(ctx context.Context, ids []NodeID) ([]tlog.Hash, error)
}

// NodeID names a complete subtree, as in transparency-dev/merkle/compact.
type NodeID struct {
	Level uint8
	Index uint64
}

// CheckpointStore keeps every published checkpoint with the cosignatures and
// RFC 3161 tokens collected for it later.
type CheckpointStore interface {
	// PutCheckpoint stores a newly signed checkpoint durably. Storing a
	// second, different checkpoint for a size already stored is an error.
	PutCheckpoint(ctx context.Context, c StoredCheckpoint) error
	// GetCheckpoint returns the checkpoint of that size, or ErrNotFound.
	GetCheckpoint(ctx context.Context, size uint64) (StoredCheckpoint, error)
	// LatestCheckpoint returns the largest stored checkpoint, or ErrNotFound.
	LatestCheckpoint(ctx context.Context) (StoredCheckpoint, error)
	// ListCheckpoints returns up to limit checkpoints with Size > after, in
	// increasing size.
	ListCheckpoints(ctx context.Context, after uint64, limit int) ([]StoredCheckpoint, error)
	// PutCosignature stores a cosignature line for a checkpoint, replacing an
	// earlier one from the same key (name and key ID).
	PutCosignature(ctx context.Context, size uint64, keyName string, keyID uint32, line []byte) error
	// PutTimestamp stores an RFC 3161 token over a checkpoint's note.
	PutTimestamp(ctx context.Context, size uint64, token []byte) error
	// Attachments returns the cosignature lines and tokens stored for size.
	Attachments(ctx context.Context, size uint64) (cosignatures, tokens [][]byte, err error)
}
