package event_test

import (
	"testing"

	"github.com/cunzheng/cunzheng/ledger/puretest"
)

// TestPureImports fails if event or anything it imports does I/O: files,
// the network, Pebble, PostgreSQL, gin, logging.
func TestPureImports(t *testing.T) { puretest.Check(t, "github.com/cunzheng/cunzheng/evidence/event") }
