package startup

import (
	"os"
	"runtime"
	"testing"
)

// One test, in order: init's limit is visible until Restore, and Restore
// brings back exactly the count the runtime had chosen before init.
func TestInitOneProcUntilRestore(t *testing.T) {
	if _, set := os.LookupEnv("GOMAXPROCS"); set {
		if limited {
			t.Fatal("init lowered GOMAXPROCS although the environment sets it")
		}
		t.Skip("GOMAXPROCS is set in the environment: init leaves it alone")
	}
	if !limited {
		t.Fatal("init did not lower GOMAXPROCS")
	}
	if got := runtime.GOMAXPROCS(0); got != 1 {
		t.Fatalf("GOMAXPROCS during the run before Restore = %d, want 1", got)
	}
	if before < 1 {
		t.Fatalf("the runtime's own GOMAXPROCS was recorded as %d", before)
	}
	Restore()
	if got := runtime.GOMAXPROCS(0); got != before {
		t.Fatalf("GOMAXPROCS after Restore = %d, want the runtime's default %d", got, before)
	}
	Restore() // idempotent
	if got := runtime.GOMAXPROCS(0); got != before {
		t.Fatalf("GOMAXPROCS after a second Restore = %d, want %d", got, before)
	}
}
