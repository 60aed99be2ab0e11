package client

import (
	"context"
	"crypto/sha256"
	"path/filepath"
	"testing"

	"github.com/cunzheng/cunzheng/ledger/tlogfmt"
	"github.com/cunzheng/cunzheng/notary"
	"github.com/cunzheng/cunzheng/notary/notarytest"
)

// testLog is notarytest's in-memory log as the pusher sees it.
type testLog struct{ *notarytest.Log }

func newTestLog(t testing.TB, origin string) *testLog {
	return &testLog{notarytest.NewLog(t, origin)}
}

var _ Log = (*testLog)(nil)

func (l *testLog) NextCheckpoint(ctx context.Context, after uint64) (Published, error) {
	c, err := l.Next(ctx, after)
	return Published{Size: c.Size, Note: c.Note, Cosignatures: c.Cosignatures, Timestamps: len(c.Tokens)}, err
}

// logKey is the key an office trusts the log by.
func (l *testLog) logKey() notary.LogKey {
	return notary.LogKey{Origin: l.Origin, Verifier: l.Verifier()}
}

// newTestOffice opens an office in dir trusting logs, with a new key.
func newTestOffice(t testing.TB, dir string, logs ...notary.LogKey) *notary.Office {
	t.Helper()
	skey, err := notary.LoadOrCreateKey(filepath.Join(dir, "keys", "notary.key"), "notary.test")
	if err != nil {
		t.Fatal(err)
	}
	o, err := notary.Open(context.Background(), notary.Config{Dir: filepath.Join(dir, "db"), Key: skey, Logs: logs})
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func checkCosig(o *notary.Office, msg, line []byte) error {
	return notarytest.CheckCosignature(o.VerifierKey(), o.Name(), msg, line)
}

func req(old uint64, proof [][]byte, msg []byte) []byte {
	return (&tlogfmt.AddCheckpoint{Old: old, Proof: proof, Checkpoint: msg}).Marshal()
}

func sha(b []byte) []byte { h := sha256.Sum256(b); return h[:] }
