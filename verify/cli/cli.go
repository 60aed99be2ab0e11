// Package cli is the command line of offline verification, `cunzheng verify
// pdf|bundle …`: its flags, output and exit statuses. Both programs that
// offer it import it, cunzheng (cmd/cunzheng) and the verifier a court
// downloads on its own, cunzheng-verify (cmd/cunzheng-verify), to which
// `cunzheng verify` hands over at start-up when it lies beside it; so the
// two give the same output and exit status by construction.
//
// It links only what verification needs: no server library (gin, Pebble,
// Prometheus, the S3 client, the PDF writer). Every library a program
// links runs its initialisers in every process, and for a one-file check
// those cost more than the check; TestNoServerLibraries keeps it so.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
)

// Exit statuses. verify pdf exits 0 only for TOTAL-PASSED; verify bundle 0
// when every check holds. Any other error (bad flags, a file that cannot be
// opened) exits 1.
const (
	ExitTotalFailed   = 3
	ExitIndeterminate = 4
	ExitUnreadable    = 5
	ExitBundleFailed  = 3
)

// Run runs the verify command with args (what follows `verify`), writing the
// result to out. prog names the command in usage and error lines, as the
// user typed it ("cunzheng verify", or "cunzheng-verify").
func Run(ctx context.Context, prog string, args []string, out io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintf(os.Stderr, "usage: %[1]s pdf FILE [flags]\n       %[1]s bundle FILE [flags]\n", prog)
		if len(args) == 0 {
			return errors.New("missing what to verify: pdf or bundle")
		}
		return nil
	}
	switch args[0] {
	case "pdf":
		return PDF(ctx, prog, args[1:], out)
	case "bundle":
		return Bundle(ctx, prog, args[1:], out)
	}
	return fmt.Errorf("unknown verify target %q (want pdf or bundle)", args[0])
}

// Main runs Run as a whole program would and returns its exit status: the
// error, if any, goes to stderr as "prog: error", and --help exits 0.
func Main(ctx context.Context, prog string, args []string, stdout, stderr io.Writer) int {
	err := Run(ctx, prog, args, stdout)
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return 0
	}
	fmt.Fprintf(stderr, "%s: %v\n", prog, err)
	return ExitCode(err)
}

// ExitCode returns the exit status for an error Run returned: 0 for nil,
// the verdict's or failed check's status, or 1.
func ExitCode(err error) int {
	if err == nil {
		return 0
	}
	var ec interface{ ExitCode() int }
	if errors.As(err, &ec) {
		return ec.ExitCode()
	}
	return 1
}

// newFlagSet returns a flag set whose --help prints the command's synopsis
// and flags and returns flag.ErrHelp instead of exiting.
func newFlagSet(prog, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(prog, flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: %s %s\n\n", prog, synopsis)
		fs.PrintDefaults()
	}
	return fs
}
