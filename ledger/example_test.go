package ledger_test

import (
	"context"
	"fmt"
	"os"

	"github.com/cockroachdb/pebble/v2/vfs"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/cunzheng/cunzheng/ledger"
)

// Example appends two facts, proves one of them against the signed
// checkpoint, and checks both with Go's sumdb packages, as anyone holding
// the log's public key could.
func Example() {
	ctx := context.Background()
	keyDir, _ := os.MkdirTemp("", "example-keys-")
	defer os.RemoveAll(keyDir)
	keys, _ := ledger.LoadOrCreateKeys(keyDir, "example.cunzheng/log")
	store, _ := ledger.OpenPebbleStore("log", ledger.PebbleOptions{FS: vfs.NewMem()})
	l, err := ledger.Open(ctx, ledger.Config{Store: store, Origin: "example.cunzheng/log", Signers: keys.Signers()})
	if err != nil {
		panic(err)
	}
	defer l.Close()

	r, _ := l.Append(ctx, []byte(`{"kind":"contract.signed"}`))
	l.Append(ctx, []byte(`{"kind":"contract.completed"}`))
	again, _ := l.Append(ctx, []byte(`{"kind":"contract.signed"}`))
	fmt.Println("index", r.Index, "duplicate appended again:", again.Duplicate, "at", again.Index)

	cp, _ := l.WaitCheckpoint(ctx, 1)
	v, _ := note.NewVerifier(keys.VerifierKeys()[0])
	n, err := note.Open(cp.Note, note.VerifierList(v))
	fmt.Printf("checkpoint verifies: %v\n%s", err == nil, n.Text[:len("example.cunzheng/log\n2\n")])

	p, _ := l.InclusionProof(ctx, r.Index, cp.Size)
	err = tlog.CheckRecord(p, int64(cp.Size), cp.Root, int64(r.Index), r.Hash)
	fmt.Println("inclusion proof verifies:", err == nil)
	// Output:
	// index 0 duplicate appended again: true at 0
	// checkpoint verifies: true
	// example.cunzheng/log
	// 2
	// inclusion proof verifies: true
}
