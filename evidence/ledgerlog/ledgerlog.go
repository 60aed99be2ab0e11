// Package ledgerlog connects evidence to the ledger: it adapts *ledger.Log
// to evidence.Log. It is its own package so that evidence builds and tests
// without the ledger.
package ledgerlog

import (
	"context"

	"github.com/cunzheng/cunzheng/evidence"
	"github.com/cunzheng/cunzheng/ledger"
)

// New adapts l to evidence.Log. ledger.Log.AppendAll is atomic and returns
// the earlier receipt for identical leaf bytes, which is the contract
// evidence.Log states.
func New(l *ledger.Log) evidence.Log { return ledgerLog{l} }

type ledgerLog struct{ l *ledger.Log }

func (a ledgerLog) AppendAll(ctx context.Context, leaves [][]byte) ([]evidence.LogReceipt, error) {
	rs, err := a.l.AppendAll(ctx, leaves)
	if err != nil {
		return nil, err
	}
	out := make([]evidence.LogReceipt, len(rs))
	for i, r := range rs {
		out[i] = evidence.LogReceipt{Index: r.Index, Hash: r.Hash, TreeSize: r.TreeSize}
	}
	return out, nil
}
