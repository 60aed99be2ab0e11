package tlogfmt_test

import (
	"testing"

	"github.com/cunzheng/cunzheng/ledger/puretest"
)

// TestPureImports fails if tlogfmt or anything it imports does I/O.
func TestPureImports(t *testing.T) { puretest.Check(t, "github.com/cunzheng/cunzheng/ledger/tlogfmt") }
