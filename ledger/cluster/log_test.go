package cluster_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/transparency-dev/formats/log"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/cunzheng/cunzheng/ledger"
	"github.com/cunzheng/cunzheng/ledger/cluster"
	"github.com/cunzheng/cunzheng/ledger/tlogfmt"
)

// bucketTiles serves tlog the tiles as a client of the bucket sees them.
type bucketTiles struct {
	c      *s3.Client
	bucket string
}

func (b bucketTiles) Height() int { return ledger.TileHeight }

func (b bucketTiles) get(key string) ([]byte, error) {
	out, err := b.c.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(b.bucket), Key: aws.String(key)})
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", key, err)
	}
	defer out.Body.Close()
	return io.ReadAll(out.Body)
}

func (b bucketTiles) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, t := range tiles {
		data, err := b.get(tlogfmt.TilePathOf(t).String())
		if err != nil {
			return nil, err
		}
		out[i] = data
	}
	return out, nil
}

func (bucketTiles) SaveTiles([]tlog.Tile, [][]byte) {}

func openLog(t *testing.T, dsn, objects string, keys *ledger.Keys, holder string) *ledger.Log {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	l, err := ledger.Open(ctx, ledger.Config{
		Store: openStore(t, dsn, objects), Origin: "cluster.test/log", Signers: keys.Signers(),
		CheckpointInterval: 50 * time.Millisecond,
		Shared:             ledger.SharedConfig{LeaseTTL: time.Second, Holder: holder},
	})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestClusterLogs runs two logs (two "processes") on one database and
// bucket: appends through either are deduplicated against each other, get
// an index whose proof is servable at once, and a client that knows only
// the bucket and golang.org/x/mod/sumdb checks every leaf.
func TestClusterLogs(t *testing.T) {
	srv := startServers(t)
	dsn, objects := srv.fresh(t)
	bucket := srv.s3.Client()
	bucketName := objects[len("s3://"):bytes.IndexByte([]byte(objects), '?')]
	keys, err := ledger.LoadOrCreateKeys(t.TempDir(), "cluster.test/log")
	if err != nil {
		t.Fatal(err)
	}
	logs := []*ledger.Log{openLog(t, dsn, objects, keys, "p1"), openLog(t, dsn, objects, keys, "p2")}
	defer func() {
		for _, l := range logs {
			if err := l.Close(); err != nil {
				t.Error(err)
			}
		}
	}()
	ctx := context.Background()
	// 400 distinct leaves: a full tile and a partial one, built over many
	// batches from the integrator's in-memory edge.
	const clients, per = 8, 100
	var mu sync.Mutex
	index := make(map[string]uint64)
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < per; i++ {
				// Pairs of clients append the same leaves, through different logs.
				leaf := fmt.Appendf(nil, "leaf %d/%d", c/2, i)
				r, err := logs[c%2].Append(ctx, leaf)
				if err != nil {
					errs <- err
					return
				}
				if r.TreeSize <= r.Index {
					errs <- fmt.Errorf("receipt %+v: tree does not cover the index", r)
					return
				}
				// Servable at once, from the process that answered.
				if _, err := logs[c%2].InclusionProof(ctx, r.Index, r.TreeSize); err != nil {
					errs <- fmt.Errorf("proof right after the append: %w", err)
					return
				}
				mu.Lock()
				if prev, ok := index[string(leaf)]; ok && prev != r.Index {
					mu.Unlock()
					errs <- fmt.Errorf("%q got indexes %d and %d", leaf, prev, r.Index)
					return
				}
				index[string(leaf)] = r.Index
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	want := uint64(clients / 2 * per)
	if len(index) != int(want) {
		t.Fatalf("%d distinct leaves, want %d", len(index), want)
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cp, err := logs[1].WaitCheckpoint(wctx, want-1)
	if err != nil {
		t.Fatal(err)
	}
	vs, err := keys.Verifiers()
	if err != nil {
		t.Fatal(err)
	}
	n, err := note.Open(cp.Note, vs)
	if err != nil {
		t.Fatal(err)
	}
	var body log.Checkpoint
	if _, err := body.Unmarshal([]byte(n.Text)); err != nil {
		t.Fatal(err)
	}
	tree := tlog.Tree{N: int64(body.Size), Hash: tlog.Hash(body.Hash)}
	if tree.N != int64(want) {
		t.Fatalf("checkpoint size %d, want %d", tree.N, want)
	}
	// The bucket's checkpoint object is the latest (or, briefly, the one
	// before it); wait until it catches up.
	bt := bucketTiles{c: bucket, bucket: bucketName}
	deadline := time.Now().Add(5 * time.Second)
	for {
		obj, err := bt.get("checkpoint")
		if err == nil && bytes.Equal(obj, cp.Note) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("bucket checkpoint %q, %v; want the latest", obj, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	hr := tlog.TileHashReader(tree, bt)
	for leaf, idx := range index {
		p, err := tlog.ProveRecord(tree.N, int64(idx), hr)
		if err != nil {
			t.Fatalf("proving %d from the bucket: %v", idx, err)
		}
		if err := tlog.CheckRecord(p, tree.N, tree.Hash, int64(idx), tlog.RecordHash([]byte(leaf))); err != nil {
			t.Fatalf("leaf %d: %v", idx, err)
		}
	}
	// Every kept checkpoint is consistent with the latest, by proofs from
	// either process, checked by sumdb/tlog.
	all, err := logs[0].Checkpoints(ctx, 0, 1000)
	if err != nil || len(all) == 0 {
		t.Fatalf("Checkpoints = %d, %v", len(all), err)
	}
	for i, c := range all {
		if c.Size > uint64(tree.N) {
			continue
		}
		if obj, err := bt.get(cluster.CheckpointHistoryKey(c.Size)); err != nil || !bytes.Equal(obj, c.Note) {
			t.Fatalf("bucket history of checkpoint %d: %q, %v", c.Size, obj, err)
		}
		p, err := logs[i%2].ConsistencyProof(ctx, c.Size, uint64(tree.N))
		if err != nil {
			t.Fatal(err)
		}
		if err := tlog.CheckTree(p, tree.N, tree.Hash, int64(c.Size), c.Root); err != nil {
			t.Fatalf("checkpoint %d inconsistent with %d: %v", c.Size, tree.N, err)
		}
	}
	// Reads, lookups and attachments through either process.
	for leaf, idx := range index {
		got, err := logs[1].Leaf(ctx, idx)
		if err != nil || string(got) != leaf {
			t.Fatalf("Leaf(%d) = %q, %v", idx, got, err)
		}
		if i, err := logs[0].IndexOf(ctx, tlog.RecordHash([]byte(leaf))); err != nil || i != idx {
			t.Fatalf("IndexOf(%q) = %d, %v", leaf, i, err)
		}
		break
	}
	if _, err := logs[1].Append(ctx, make([]byte, ledger.MaxLeafSize+1)); !errors.Is(err, ledger.ErrTooLarge) {
		t.Fatalf("oversized leaf: %v", err)
	}
	rs, err := logs[1].AppendAll(ctx, [][]byte{[]byte("atomic a"), []byte("atomic b"), []byte("leaf 0/0")})
	if err != nil || rs[1].Index != rs[0].Index+1 || !rs[2].Duplicate || rs[2].Index != index["leaf 0/0"] {
		t.Fatalf("AppendAll = %+v, %v", rs, err)
	}
	if err := logs[1].AddTimestamp(ctx, cp.Size, []byte("tsa token")); err != nil {
		t.Fatal(err)
	}
	if got, err := logs[0].CheckpointAt(ctx, cp.Size); err != nil || len(got.Timestamps) != 1 {
		t.Fatalf("timestamp stored through the other process: %+v, %v", got, err)
	}
	if err := logs[0].AddTimestamp(ctx, 1<<40, []byte("x")); !errors.Is(err, ledger.ErrNotFound) {
		t.Fatalf("timestamp for an unknown checkpoint: %v", err)
	}
	// The bucket and the servers serve the same bytes.
	for _, l := range logs {
		for n := uint64(0); n*256 < want; n++ {
			w := min(256, want-n*256)
			pw := int(w) % 256 // a full tile's path has no width
			tile, err := l.ReadTile(ctx, 0, n, int(w))
			if err != nil {
				t.Fatal(err)
			}
			obj, err := bt.get(tlogfmt.TilePath{Index: n, Width: pw}.String())
			if err != nil || !bytes.Equal(tile, obj) {
				t.Fatalf("tile 0/%d differs between server and bucket: %v", n, err)
			}
			bundle, err := l.ReadEntryBundle(ctx, n, int(w))
			if err != nil {
				t.Fatal(err)
			}
			obj, err = bt.get(tlogfmt.TilePath{Entries: true, Index: n, Width: pw}.String())
			if err != nil || !bytes.Equal(bundle, obj) {
				t.Fatalf("entry bundle %d differs between server and bucket: %v", n, err)
			}
		}
	}
}

// TestClusterLeading: exactly one log of a cluster leads (holds the lease);
// when it closes, the other is told through its Leading channel and leads.
func TestClusterLeading(t *testing.T) {
	srv := startServers(t)
	dsn, objects := srv.fresh(t)
	keys, err := ledger.LoadOrCreateKeys(t.TempDir(), "cluster.test/log")
	if err != nil {
		t.Fatal(err)
	}
	a, b := openLog(t, dsn, objects, keys, "a"), openLog(t, dsn, objects, keys, "b")
	defer b.Close()
	leader, other := waitOneLeads(t, a, b)
	_, changed := other.Leading()
	if err := leader.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-changed:
	case <-time.After(30 * time.Second):
		t.Fatal("the remaining log was not told it leads")
	}
	if now, _ := other.Leading(); !now {
		t.Fatal("Leading changed but is still false")
	}
	if leader == b {
		a.Close()
	}
}

// waitOneLeads waits until exactly one of a and b leads, and returns it
// first.
func waitOneLeads(t *testing.T, a, b *ledger.Log) (leader, other *ledger.Log) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		la, _ := a.Leading()
		lb, _ := b.Leading()
		switch {
		case la && lb:
			t.Fatal("both logs lead")
		case la:
			return a, b
		case lb:
			return b, a
		}
	}
	t.Fatal("no log leads")
	return nil, nil
}

// TestClusterFollowerIsNotified: an append through a process that does not
// integrate is answered when the integrating process commits (LISTEN/NOTIFY),
// not at the follower's next poll, which here is an hour away.
func TestClusterFollowerIsNotified(t *testing.T) {
	srv := startServers(t)
	dsn, objects := srv.fresh(t)
	keys, err := ledger.LoadOrCreateKeys(t.TempDir(), "cluster.test/log")
	if err != nil {
		t.Fatal(err)
	}
	a := openLog(t, dsn, objects, keys, "a")
	defer a.Close()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if lead, _ := a.Leading(); lead {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a does not lead")
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	bst := openStore(t, dsn, objects)
	b, err := ledger.Open(ctx, ledger.Config{
		Store: bst, Origin: "cluster.test/log", Signers: keys.Signers(),
		Shared: ledger.SharedConfig{LeaseTTL: time.Hour, PollInterval: time.Hour, Holder: "b"},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for i := 0; i < 3; i++ {
		r, err := b.Append(ctx, fmt.Appendf(nil, "through the follower %d", i))
		if err != nil {
			t.Fatalf("append through the follower: %v", err)
		}
		if lead, _ := b.Leading(); lead {
			t.Skip("the follower took the lease (the leader missed its renewals on a loaded machine); this run proves nothing")
		}
		if r.TreeSize <= r.Index {
			t.Fatalf("receipt %+v", r)
		}
	}
	// The follower moved without reading the state back: the notification
	// carried it, and it is the stored state of its size.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		ns, ok := bst.NotifiedTree()
		if !ok {
			t.Fatal("no tree state notified")
		}
		st, err := bst.LoadState(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if ns.Size == st.Size {
			if fmt.Sprint(ns.Hashes) != fmt.Sprint(st.Hashes) || ns.Size < 3 {
				t.Fatalf("notified state %d %x, stored %d %x", ns.Size, ns.Hashes, st.Size, st.Hashes)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("notified size %d, stored %d", ns.Size, st.Size)
		}
	}
}

// TestCheckpointPartialsFromTheDatabase: integration uploads full tiles
// only; a checkpoint's partial ones are uploaded when it is stored, by a
// holder that has no edge in memory (a new process after a takeover) from
// the database, and the bucket then proves every leaf at that size.
func TestCheckpointPartialsFromTheDatabase(t *testing.T) {
	srv := startServers(t)
	dsn, objects := srv.fresh(t)
	bucket := srv.s3.Client()
	bucketName := objects[len("s3://"):bytes.IndexByte([]byte(objects), '?')]
	bt := bucketTiles{c: bucket, bucket: bucketName}
	keys, err := ledger.LoadOrCreateKeys(t.TempDir(), "cluster.test/log")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	l := openLog(t, dsn, objects, keys, "a")
	const n = 300 // a full tile, a partial one, and a partial tile of level 1
	for c := 0; c < 3; c++ {
		var leaves [][]byte
		for i := 0; i < n/3; i++ {
			leaves = append(leaves, fmt.Appendf(nil, "leaf %d", c*n/3+i))
		}
		if _, err := l.AppendAll(ctx, leaves); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil { // publishes the last checkpoint, releases the lease
		t.Fatal(err)
	}
	st := openStore(t, dsn, objects)
	defer st.Close()
	cp, err := st.LatestCheckpoint(ctx)
	if err != nil || cp.Size != n {
		t.Fatalf("latest checkpoint %d, %v; want %d", cp.Size, err, n)
	}
	partials := []string{
		tlogfmt.TilePath{Entries: true, Index: 1, Width: n % 256}.String(),
		tlogfmt.TilePath{Index: 1, Width: n % 256}.String(),
		tlogfmt.TilePath{Level: 1, Index: 0, Width: n >> 8}.String(),
	}
	for _, k := range partials {
		if _, err := bt.get(k); err != nil {
			t.Fatalf("partial %s of the stored checkpoint: %v", k, err)
		}
		if _, err := bucket.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucketName), Key: aws.String(k)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, held, err := st.Lease(ctx, "b", time.Minute); err != nil || !held {
		t.Fatalf("lease: %v %v", held, err)
	}
	if err := st.PutCheckpoint(ctx, cp); err != nil {
		t.Fatal(err)
	}
	for _, k := range partials {
		if _, err := bt.get(k); err != nil {
			t.Fatalf("partial %s not uploaded again: %v", k, err)
		}
	}
	tree := tlog.Tree{N: n, Hash: tlog.Hash(cp.Root)}
	hr := tlog.TileHashReader(tree, bt)
	for i := int64(0); i < n; i++ {
		p, err := tlog.ProveRecord(n, i, hr)
		if err != nil {
			t.Fatalf("proving %d from the bucket: %v", i, err)
		}
		if err := tlog.CheckRecord(p, n, tree.Hash, i, tlog.RecordHash(fmt.Appendf(nil, "leaf %d", i))); err != nil {
			t.Fatalf("leaf %d: %v", i, err)
		}
	}
}
