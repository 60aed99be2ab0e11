package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/cunzheng/cunzheng/evidence"
	"github.com/cunzheng/cunzheng/ledger"
	"github.com/cunzheng/cunzheng/notary"
	"github.com/cunzheng/cunzheng/report"
)

func runKeys(ctx context.Context, args []string) error {
	fs := newFlagSet("keys", "keys [--data DIR] [--origin NAME] [--cluster]\n\nPrints the log's public verifier keys, one per line: Ed25519 first (note\nverifier-key format name+hash+base64), then SM2/SM3. Keys are created on\nfirst use, exactly as serve would create them. With --cluster, every key a\nserve process keeps in DIR/keys is made too (the built-in TSA, the\ndocument-signing demo CA and, without $"+evidence.MasterKeyEnv+", the evidence\nmaster key): cluster mode creates none, so make them once and copy DIR/keys/\ninto every process's --data.")
	data := fs.String("data", "./data", "data directory")
	origin := fs.String("origin", "", "log key name for a new log (default: the stored key's, or "+ledger.DefaultOrigin+")")
	all := fs.Bool("cluster", false, "also make the built-in TSA's, the document-signing CA's and the evidence master key, for a cluster's processes to share")
	if err := fs.Parse(args); err != nil {
		return err
	}
	dir := filepath.Join(*data, "keys")
	keys, err := ledger.LoadOrCreateKeys(dir, *origin)
	if err != nil {
		return err
	}
	if *all {
		if err := makeClusterKeys(*data); err != nil {
			return err
		}
	}
	for _, vk := range keys.VerifierKeys() {
		fmt.Fprintln(os.Stdout, vk)
	}
	return nil
}

// makeClusterKeys makes, beside the log keys, every key serve would make in
// DATA/keys on first use: the built-in TSA's, the document-signing demo
// CA's and (without $CUNZHENG_MASTER_KEY) the evidence master key, with the
// names serve gives them (setupNotarization, report.New), so that the
// processes of a cluster load one set (checkClusterKeys) instead of each
// making its own.
func makeClusterKeys(data string) error {
	dir := filepath.Join(data, "keys")
	if _, err := notary.LoadOrCreateTSA(notaryTSADir(data), builtinTSAName); err != nil {
		return err
	}
	if _, err := report.DemoSigner(dir, "cunzheng", time.Now()); err != nil {
		return err
	}
	_, err := evidence.LoadMasterKey(dir, os.Getenv)
	return err
}
