package ledger_test

import (
	"fmt"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/cunzheng/cunzheng/ledger"
	"github.com/cunzheng/cunzheng/ledger/storetest"
)

func TestPebbleStoreConformance(t *testing.T) {
	n := 0
	storetest.Run(t, func(t *testing.T) ledger.Store {
		n++
		s, err := ledger.OpenPebbleStore(fmt.Sprintf("store%d", n), ledger.PebbleOptions{FS: vfs.NewMem(), CacheSize: 1 << 20})
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}
