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
//
// Earlier still, before the Go runtime starts, `cunzheng verify …` hands
// itself over to the verifier built with this binary, cunzheng-verify
// (cmd/cunzheng-verify) in the same directory, which links only what
// verification needs: an ELF constructor (handover.go, Linux with glibc and
// cgo) replaces the process with it, same arguments, environment, standard
// streams and process ID, so its output and exit status are those of the
// command. It does so only when the file there carries the Go build ID
// this binary was built with (`make build` builds the verifier first and
// adds its ID to this package as a header, with go build -overlay); a
// missing or different file never runs,
// and then, as in a plain `go build`, a build without cgo, or with
// InProcessEnv set, verify runs in this process with the same code.
//
// Why a constructor and not this package's init: measured with perf stat
// over 50 interleaved runs of `verify pdf` on one file (2-core machine,
// load 9-11), a hand-over from init cost 48 ms of CPU, no less than
// verifying in process (48), because the server binary's runtime start-up
// before any init runs (its interface table, heap and threads, and the page
// faults of a 50 MB binary) took some 20 ms; from the constructor 27 ms,
// against 25 for cunzheng-verify run directly and 36 for poppler's pdfsig.
package startup

import (
	"runtime"
	"syscall"
)

// InProcessEnv, set to anything but "" or "0", keeps `cunzheng verify` in
// process although the verifier is there (to compare the two paths).
const InProcessEnv = "CUNZHENG_VERIFY_INPROCESS"

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
