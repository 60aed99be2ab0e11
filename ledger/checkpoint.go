package ledger

import (
	"context"
	"errors"
	"fmt"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/cunzheng/cunzheng/ledger/tlogfmt"
)

// Checkpoint is a published checkpoint with what was collected for it.
type Checkpoint struct {
	Size uint64
	Root tlog.Hash
	// Time is when the log signed it.
	Time time.Time
	// Note is the signed note as the log signed it: the tlog-checkpoint body
	// followed by the Ed25519 and SM2 signature lines.
	Note []byte
	// Cosignatures are notary signature lines ("— name base64\n") over the
	// same body, stored beside the checkpoint.
	Cosignatures [][]byte
	// Timestamps are DER RFC 3161 tokens over Note.
	Timestamps [][]byte
}

// CosignedNote returns Note with the cosignature lines appended, so that any
// note verifier that knows a notary key accepts it.
func (c Checkpoint) CosignedNote() []byte {
	return tlogfmt.AppendSignatures(c.Note, c.Cosignatures...)
}

// publishLoop publishes a checkpoint whenever the tree has grown, at most
// once per CheckpointInterval, and a last one on Close.
func (l *Log) publishLoop() {
	defer l.wg.Done()
	t := time.NewTicker(l.cfg.CheckpointInterval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-l.closing:
			// The sequencer finishes the queued appends on close; the last
			// checkpoint must cover them.
			<-l.seqDone
			if err := l.publishIfGrown(context.Background()); err != nil {
				l.logger.Error("publishing final checkpoint", "err", err)
			}
			return
		}
		l.metrics.checkpointAge.Set(time.Since(l.latestTime()).Seconds())
		if err := l.publishIfGrown(context.Background()); err != nil {
			l.logger.Error("publishing checkpoint", "err", err)
		}
	}
}

func (l *Log) latestTime() time.Time {
	l.pubMu.Lock()
	defer l.pubMu.Unlock()
	return l.published.Time
}

func (l *Log) publishIfGrown(ctx context.Context) error {
	if l.failed.Load() != nil {
		return nil // nothing new can have become durable
	}
	l.pubMu.Lock()
	last := l.published.Size
	l.pubMu.Unlock()
	if l.head.Load().size <= last {
		return nil
	}
	return l.publish(ctx)
}

// publish signs a checkpoint for the current durable head, stores it durably
// and only then makes it visible. Only the publisher goroutine (or Open,
// before it starts) calls it.
func (l *Log) publish(ctx context.Context) error {
	head := l.head.Load()
	if l.shared != nil {
		// Cluster mode: sign only under the lease (the insert below is
		// fenced too), and never a second note for a size already signed,
		// e.g. by the holder before a takeover.
		if err := l.shared.store.CheckLease(ctx); err != nil {
			return err
		}
		if cp, err := l.store.GetCheckpoint(ctx, head.size); err == nil {
			l.adoptCheckpoint(cp)
			return nil
		} else if !errors.Is(err, ErrNotFound) {
			return err
		}
	}
	body := tlogfmt.Checkpoint{Origin: l.cfg.Origin, Size: head.size, Root: head.root}.Marshal()
	signed, err := note.Sign(&note.Note{Text: string(body)}, l.cfg.Signers...)
	if err != nil {
		return fmt.Errorf("ledger: signing checkpoint %d: %w", head.size, err)
	}
	cp := StoredCheckpoint{Size: head.size, Root: head.root, Time: l.cfg.Now().UTC().Truncate(time.Millisecond), Note: signed}
	if err := l.store.PutCheckpoint(ctx, cp); err != nil {
		return err
	}
	l.pubMu.Lock()
	l.published = cp
	close(l.pubCh)
	l.pubCh = make(chan struct{})
	l.pubMu.Unlock()
	l.metrics.checkpoints.Inc()
	l.metrics.checkpointSize.Set(float64(cp.Size))
	l.metrics.checkpointAge.Set(0)
	return nil
}

func (l *Log) withAttachments(ctx context.Context, sc StoredCheckpoint) (Checkpoint, error) {
	cosigs, tokens, err := l.store.Attachments(ctx, sc.Size)
	if err != nil {
		return Checkpoint{}, err
	}
	return Checkpoint{Size: sc.Size, Root: sc.Root, Time: sc.Time, Note: sc.Note, Cosignatures: cosigs, Timestamps: tokens}, nil
}

// Checkpoint returns the newest published checkpoint.
func (l *Log) Checkpoint(ctx context.Context) (Checkpoint, error) {
	l.pubMu.Lock()
	sc := l.published
	l.pubMu.Unlock()
	return l.withAttachments(ctx, sc)
}

// CheckpointAt returns the published checkpoint of exactly size, or
// ErrNotFound.
func (l *Log) CheckpointAt(ctx context.Context, size uint64) (Checkpoint, error) {
	sc, err := l.store.GetCheckpoint(ctx, size)
	if err != nil {
		return Checkpoint{}, err
	}
	return l.withAttachments(ctx, sc)
}

// Checkpoints lists up to limit published checkpoints with Size > after, in
// increasing size, without attachments.
func (l *Log) Checkpoints(ctx context.Context, after uint64, limit int) ([]Checkpoint, error) {
	scs, err := l.store.ListCheckpoints(ctx, after, limit)
	if err != nil {
		return nil, err
	}
	out := make([]Checkpoint, len(scs))
	for i, sc := range scs {
		out[i] = Checkpoint{Size: sc.Size, Root: sc.Root, Time: sc.Time, Note: sc.Note}
	}
	return out, nil
}

// WaitCheckpoint returns the first published checkpoint with Size > after,
// waiting for it if needed.
func (l *Log) WaitCheckpoint(ctx context.Context, after uint64) (Checkpoint, error) {
	for {
		l.pubMu.Lock()
		sc, ch := l.published, l.pubCh
		l.pubMu.Unlock()
		if sc.Size > after {
			return l.withAttachments(ctx, sc)
		}
		select {
		case <-ch:
		case <-l.closing:
			return Checkpoint{}, ErrClosed
		case <-ctx.Done():
			return Checkpoint{}, ctx.Err()
		}
	}
}

// AddCosignature stores a notary's cosignature line for the checkpoint of
// size. The caller must have verified it; the line is kept as given.
func (l *Log) AddCosignature(ctx context.Context, size uint64, line []byte) error {
	sig, err := tlogfmt.ParseSignatureLine(line)
	if err != nil {
		return fmt.Errorf("ledger: cosignature: %w", err)
	}
	if _, err := l.store.GetCheckpoint(ctx, size); err != nil {
		return err
	}
	return l.store.PutCosignature(ctx, size, sig.Name, sig.Hash, line)
}

// AddTimestamp stores an RFC 3161 token over the note of the checkpoint of
// size. The caller must have verified it.
func (l *Log) AddTimestamp(ctx context.Context, size uint64, token []byte) error {
	if len(token) == 0 {
		return errors.New("ledger: empty timestamp token")
	}
	if _, err := l.store.GetCheckpoint(ctx, size); err != nil {
		return err
	}
	return l.store.PutTimestamp(ctx, size, token)
}
