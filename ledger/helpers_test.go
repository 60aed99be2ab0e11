package ledger

import (
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
)

var keyDir string

func tempKeyDir() string { return keyDir }

func TestMain(m *testing.M) {
	if os.Getenv(crashChildEnv) != "" {
		crashChild() // never returns
	}
	d, err := os.MkdirTemp("", "ledger-keys-")
	if err != nil {
		panic(err)
	}
	keyDir = d
	code := m.Run()
	os.RemoveAll(d)
	os.Exit(code)
}

// faultFS wraps a filesystem with Pebble's error-injecting filesystem: sync
// calls can be slowed down, and writes can be made to fail.
type faultFS struct {
	*errorfs.FS
	delay atomic.Int64
	fail  atomic.Bool
}

func newSlowFS(inner vfs.FS) *faultFS {
	f := &faultFS{}
	f.FS = errorfs.Wrap(inner, errorfs.InjectorFunc(f.inject))
	return f
}

func (f *faultFS) setDelay(d time.Duration) { f.delay.Store(int64(d)) }

func (f *faultFS) inject(op errorfs.Op) error {
	switch op.Kind {
	case errorfs.OpFileSync, errorfs.OpFileSyncData, errorfs.OpFileSyncTo:
		if d := time.Duration(f.delay.Load()); d > 0 {
			time.Sleep(d)
		}
	}
	if f.fail.Load() && op.Kind.ReadOrWrite() == errorfs.OpIsWrite {
		return errorfs.ErrInjected
	}
	return nil
}

type atomicCounter struct{ v atomic.Int64 }

func (c *atomicCounter) next() int64 { return c.v.Add(1) }
