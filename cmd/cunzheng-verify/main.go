// Command cunzheng-verify is the offline verifier on its own: `cunzheng
// verify` (package verify/cli) without the server, for a court or anyone
// who checks a signed PDF or an evidence bundle and has no use for the rest.
//
//	cunzheng-verify pdf FILE [--trust-roots DIR] [--json] ...
//	cunzheng-verify bundle FILE [--log-key VKEY ...] ...
//
// It links only package verify and what it needs, so a one-file check costs
// a few milliseconds of process start-up instead of the server's libraries'
// initialisers. `make build` builds it beside bin/cunzheng, and `cunzheng
// verify …` replaces itself with it at start-up (cmd/cunzheng/startup),
// passing its arguments unchanged: called as `cunzheng-verify verify …` it
// names itself "cunzheng verify" in messages, exactly as the in-process
// path does.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/cunzheng/cunzheng/verify/cli"
)

func main() {
	prog, args := "cunzheng-verify", os.Args[1:]
	if len(args) > 0 && args[0] == "verify" {
		prog, args = "cunzheng verify", args[1:]
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, prog, args, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
