// Package startup runs the program's package initialisation on one P.
//
// Package main imports it, and it imports only the runtime and syscall, so
// Go's initialisation order (the first package by import path whose imports
// are all initialised, repeatedly) runs its init right after syscall's,
// before the initialisers of the libraries the binary links
// (Pebble and prometheus, gin's binding with validator and bson, the AWS
// SDK's endpoint tables, digitorus/pdf's glyph map, ...). Those are most of
// the CPU time of a short command such as `cunzheng verify pdf FILE`, and
// they all run in one goroutine: a second P only adds a thread that wakes to
// look for work whenever an initialiser starts a goroutine, and, while it
// runs on the other core, makes every copy-on-write fault of the faulting
// initialisers flush that core's TLB by interrupt. Measured with `perf stat`
// over 40 interleaved runs of `verify pdf` on the 2-core machine: 2-4 ms of
// CPU less per process (of 36-39), about 40 fewer context switches and 40
// fewer page faults; a GOMAXPROCS=1 environment saves about the same.
//
// main gives the runtime back its default with Restore before any command
// that does more than one thing at a time (serve, the notary, benchmarks);
// verify keeps the one P, its work being one sequential check of one file.
package startup

import (
	"runtime"
	"syscall"
)

// limited reports whether init lowered GOMAXPROCS to 1; it did not when
// the environment sets GOMAXPROCS, which then stays the user's choice.
// before is the runtime's own choice that init replaced.
var (
	limited bool
	before  int
)

func init() {
	if _, set := syscall.Getenv("GOMAXPROCS"); set {
		return
	}
	before = runtime.GOMAXPROCS(1)
	limited = true
}

// Restore gives GOMAXPROCS back the runtime's default (the CPUs the process
// may use, following their cgroup limit as it changes) unless the
// environment set it. It is idempotent.
func Restore() {
	if !limited {
		return
	}
	limited = false
	// SetDefaultGOMAXPROCS, not GOMAXPROCS(before): a value set by
	// GOMAXPROCS(n) would stop the runtime from following a cgroup limit
	// that changes later.
	runtime.SetDefaultGOMAXPROCS()
}
