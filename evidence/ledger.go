package evidence

import (
	"context"

	"github.com/cunzheng/cunzheng/ledger"
)

// LedgerLog adapts *ledger.Log to Log. ledger.Log.AppendAll is atomic and
// returns the earlier receipt for identical leaf bytes, which is the
// contract Log states.
func LedgerLog(l *ledger.Log) Log { return ledgerLog{l} }

type ledgerLog struct{ l *ledger.Log }

func (a ledgerLog) AppendAll(ctx context.Context, leaves [][]byte) ([]LogReceipt, error) {
	rs, err := a.l.AppendAll(ctx, leaves)
	if err != nil {
		return nil, err
	}
	out := make([]LogReceipt, len(rs))
	for i, r := range rs {
		out[i] = LogReceipt{Index: r.Index, Hash: r.Hash, TreeSize: r.TreeSize}
	}
	return out, nil
}
