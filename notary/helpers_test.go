package notary

import (
	"crypto/sha256"
	"testing"

	"github.com/cunzheng/cunzheng/ledger/tlogfmt"
	"github.com/cunzheng/cunzheng/notary/notarytest"
)

// testLog is notarytest's in-memory log, with the office's key of it.
type testLog struct {
	*notarytest.Log
	t testing.TB
}

func newTestLog(t testing.TB, origin string) *testLog {
	return &testLog{notarytest.NewLog(t, origin), t}
}

// logKey is the key an office trusts the log by.
func (l *testLog) logKey() LogKey {
	v, err := tlogfmt.NewVerifier(l.VKey)
	if err != nil {
		l.t.Fatal(err)
	}
	return LogKey{Origin: v.Name(), Verifier: v}
}

func sha(b []byte) []byte { h := sha256.Sum256(b); return h[:] }
