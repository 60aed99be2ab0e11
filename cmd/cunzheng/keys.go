package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/cunzheng/cunzheng/ledger"
)

func runKeys(ctx context.Context, args []string) error {
	fs := newFlagSet("keys", "keys [--data DIR] [--origin NAME]\n\nPrints the log's public verifier keys, one per line: Ed25519 first (note\nverifier-key format name+hash+base64), then SM2/SM3. Keys are created on\nfirst use, exactly as serve would create them.")
	data := fs.String("data", "./data", "data directory")
	origin := fs.String("origin", "", "log key name for a new log (default: the stored key's, or "+ledger.DefaultOrigin+")")
	if err := fs.Parse(args); err != nil {
		return err
	}
	keys, err := ledger.LoadOrCreateKeys(filepath.Join(*data, "keys"), *origin)
	if err != nil {
		return err
	}
	for _, vk := range keys.VerifierKeys() {
		fmt.Fprintln(os.Stdout, vk)
	}
	return nil
}
