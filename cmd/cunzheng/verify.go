package main

import (
	"context"
	"os"

	"github.com/cunzheng/cunzheng/verify/cli"
)

// runVerify is `cunzheng verify`, the command line of package verify/cli.
// A binary built by `make build` rarely gets here: package startup hands
// the process over to cunzheng-verify beside it before the libraries
// initialise (see startup.Verifier); this is the in-process path.
func runVerify(ctx context.Context, args []string) error {
	return cli.Run(ctx, "cunzheng verify", args, os.Stdout)
}
