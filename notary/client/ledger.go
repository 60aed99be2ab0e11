package client

import (
	"context"
	"sync/atomic"

	"github.com/cunzheng/cunzheng/ledger"
)

// Ledger is the ledger as the pusher's Log. ledger.Log.WaitCheckpoint
// returns the newest checkpoint, which may skip some; NextCheckpoint lists
// the first one after the cursor so that every published checkpoint is
// notarized.
type Ledger struct {
	*ledger.Log
	// Floor, if set, is a size below which nothing need be sent: a process
	// that starts leading a cluster's log (cunzheng serve in cluster mode)
	// leaves the checkpoints before its tenure's backfill to the previous
	// leader.
	Floor *atomic.Uint64
}

// NextCheckpoint returns the first checkpoint published above after (and
// above the floor), waiting for one.
func (l Ledger) NextCheckpoint(ctx context.Context, after uint64) (Published, error) {
	if l.Floor != nil {
		after = max(after, l.Floor.Load())
	}
	for {
		cps, err := l.Checkpoints(ctx, after, 1)
		if err != nil {
			return Published{}, err
		}
		if len(cps) > 0 {
			c, err := l.CheckpointAt(ctx, cps[0].Size)
			if err != nil {
				return Published{}, err
			}
			return Published{Size: c.Size, Note: c.Note, Cosignatures: c.Cosignatures, Timestamps: len(c.Timestamps), Tokens: c.Timestamps}, nil
		}
		if _, err := l.WaitCheckpoint(ctx, after); err != nil {
			return Published{}, err
		}
	}
}

var _ Log = Ledger{}
