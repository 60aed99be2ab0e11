// Command cunzheng runs the evidence-chain archive: the log server, notary
// offices, and the offline tools (keys, tenants, verification, benchmarks).
//
// main only parses the subcommand and hands over; every subcommand lives in a
// file of its own (serve.go, notary.go, verify.go, ...) as
// func runX(ctx context.Context, args []string) error.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/cunzheng/cunzheng/cmd/cunzheng/startup"
)

type subcommand struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string) error
}

func subcommands() []subcommand {
	return []subcommand{
		{"serve", "run the log server (ledger, ingest, reports, verification, web pages)", runServe},
		{"keys", "print the log's public verifier keys", runKeys},
		{"notary", "run a notary office (tlog-witness cosigner and RFC 3161 TSA)", runNotary},
		{"tenant", "create tenants and API keys", runTenant},
		{"verify", "verify a signed PDF or an evidence bundle offline", runVerify},
		{"bench", "run benchmarks (ledger, ingest, upload, verify)", runBench},
		{"migrate", "copy an embedded log into a cluster", runMigrate},
	}
}

func usage() {
	fmt.Fprintf(os.Stderr, "usage: cunzheng <command> [flags]\n\ncommands:\n")
	for _, c := range subcommands() {
		fmt.Fprintf(os.Stderr, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(os.Stderr, "\nRun 'cunzheng <command> --help' for the flags of a command.\n")
}

func main() {
	if len(os.Args) < 2 || os.Args[1] == "-h" || os.Args[1] == "--help" || os.Args[1] == "help" {
		usage()
		if len(os.Args) < 2 {
			os.Exit(2)
		}
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	for _, c := range subcommands() {
		if c.name != os.Args[1] {
			continue
		}
		// Package initialisation ran on one P (see package startup);
		// verify keeps it, checking one file sequentially, and every
		// other command gets the runtime's default back.
		if c.name != "verify" {
			startup.Restore()
		}
		err := c.run(ctx, os.Args[2:])
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "cunzheng %s: %v\n", c.name, err)
			var ec exitCoder
			if errors.As(err, &ec) {
				os.Exit(ec.ExitCode())
			}
			os.Exit(1)
		}
		return
	}
	fmt.Fprintf(os.Stderr, "cunzheng: unknown command %q\n\n", os.Args[1])
	usage()
	os.Exit(2)
}

// exitCoder lets a subcommand choose its exit status (verify exits non-zero
// for anything but TOTAL-PASSED, with a code per verdict).
type exitCoder interface {
	error
	ExitCode() int
}

// newFlagSet returns a flag set whose --help prints the command's synopsis
// and flags and returns flag.ErrHelp instead of exiting.
func newFlagSet(name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet("cunzheng "+name, flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: cunzheng %s\n\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}
