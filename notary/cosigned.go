package notary

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/cockroachdb/pebble/v2"
)

// CosignedCheckpoint is one checkpoint the office cosigned: the log's signed
// note with the office's cosignature line appended, verifiable with
// note.Open against the log's and the office's keys.
type CosignedCheckpoint struct {
	Size       uint64 `json:"size"`
	Checkpoint string `json:"checkpoint"`
}

// MaxCosignedPage bounds one Cosigned answer.
const MaxCosignedPage = 1000

// Cosigned lists the checkpoints of origin the office cosigned with a size
// above after, smallest first, at most limit (at most MaxCosignedPage) of
// them. A log whose notary only pulls (and is never pushed to) reads its
// cosignatures here, so that every checkpoint it published gets one and not
// only the newest the office happened to see.
func (o *Office) Cosigned(ctx context.Context, origin string, after uint64, limit int) ([]CosignedCheckpoint, error) {
	release, err := o.acquire()
	if err != nil {
		return nil, err
	}
	defer release()
	l, ok := o.logs[origin]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownLog, origin)
	}
	if limit <= 0 || limit > MaxCosignedPage {
		limit = MaxCosignedPage
	}
	if after == math.MaxUint64 {
		return []CosignedCheckpoint{}, nil
	}
	it, err := o.db.NewIter(&pebble.IterOptions{
		LowerBound: cosignatureKey(l.id, after+1),
		UpperBound: cosignatureKey(l.id, math.MaxUint64),
	})
	if err != nil {
		return nil, fmt.Errorf("notary: reading cosignatures: %w", err)
	}
	defer it.Close()
	out := []CosignedCheckpoint{}
	for ok := it.First(); ok && len(out) < limit; ok = it.Next() {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		size := binary.BigEndian.Uint64(it.Key()[1+len(l.id):])
		held, err := o.get(historyKey(l.id, size))
		if errors.Is(err, ErrNotFound) {
			return nil, fmt.Errorf("notary: cosignature of size %d without its checkpoint", size)
		} else if err != nil {
			return nil, err
		}
		out = append(out, CosignedCheckpoint{Size: size, Checkpoint: string(o.withoutOwnLines(held)) + string(it.Value())})
	}
	if err := it.Error(); err != nil {
		return nil, fmt.Errorf("notary: reading cosignatures: %w", err)
	}
	return out, nil
}
