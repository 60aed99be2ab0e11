package notary

import (
	"testing"

	"github.com/cunzheng/cunzheng/notary/notarytest"
)

// testLog is notarytest's in-memory log, with the office's key of it.
type testLog struct{ *notarytest.Log }

func newTestLog(t testing.TB, origin string) *testLog {
	return &testLog{notarytest.NewLog(t, origin)}
}

// logKey is the key an office trusts the log by.
func (l *testLog) logKey() LogKey {
	return LogKey{Origin: l.Origin, Verifier: l.Verifier()}
}
