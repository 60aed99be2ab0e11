package notary

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"testing"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/cunzheng/cunzheng/evidence/event"
	"github.com/cunzheng/cunzheng/ledger/tlogfmt"
)

// publicLeaf is a version 2 public leaf in its canonical JSON (keys sorted,
// no spaces), with data as given (already canonical).
func publicLeaf(t *testing.T, ref, kind, data string) []byte {
	t.Helper()
	leaf := []byte(fmt.Sprintf(`{"commitments":{"tenant":"%x"},"data":%s,"kind":"%s","logged":"2026-12-05T12:00:00Z","ref":"%s","time":"2026-12-05T12:00:00Z","v":2}`,
		sha256.Sum256([]byte(ref)), data, kind, ref))
	if _, err := event.ParseLeaf(leaf); err != nil {
		t.Fatalf("test leaf is not a public leaf: %v", err)
	}
	return leaf
}

func docHash(s string) []byte { h := sha256.Sum256([]byte(s)); return h[:] }

// TestDocumentLookup: a pulling office indexes the document hashes its
// pulled leaves name (from the log's entry bundles, each checked against
// the leaf hash it verified) and answers a document SHA-256 with every
// leaf naming it, proved from its own copy. An entry bundle whose entry
// does not hash to the leaf hash is refused: nothing of it is indexed and
// the copy does not advance. A push-only log still holds no leaves.
func TestDocumentLookup(t *testing.T) {
	ctx := context.Background()
	lg := newTestLog(t, "cunzheng.example/pulled")
	pushed := newTestLog(t, "cunzheng.example/pushed")
	o := newTestOffice(t, t.TempDir(), lg.logKey(), pushed.logKey())
	defer o.Close()
	cfg := PullConfig{URL: lg.Server().URL}

	x, y := docHash("contract.pdf"), docHash("annex.pdf")
	lg.Append(300)
	lg.AppendEntries(
		publicLeaf(t, "e1", "document.uploaded", `{"document":{"sha256":"`+hex.EncodeToString(x)+`"}}`),
		publicLeaf(t, "e2", "contract.signed", `{"files":[{"sha256":"`+hex.EncodeToString(y)+`"},{"sha256":"`+hex.EncodeToString(x)+`"}]}`),
	)
	lg.Append(211) // 513: the documents sit in bundle 1, a partial bundle 2 follows
	lg.Publish()
	if _, err := o.SyncOnce(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	root := lg.Root(513)

	for _, tc := range []struct {
		name  string
		doc   []byte
		index []uint64
	}{
		{"document", x, []uint64{300, 301}},
		{"file", y, []uint64{301}},
		{"unknown", docHash("never logged"), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lu, err := o.Lookup(ctx, tc.doc)
			if err != nil {
				t.Fatal(err)
			}
			if len(lu.Holdings) != len(tc.index) {
				t.Fatalf("%d holdings, want %d: %+v", len(lu.Holdings), len(tc.index), lu.Holdings)
			}
			for i, hd := range lu.Holdings {
				leaf := lg.Leaves[tc.index[i]]
				if hd.Index != tc.index[i] || hd.Match != MatchDocument || string(hd.LeafHash) != string(leaf[:]) || hd.Size != 513 || hd.SinceSize != 513 {
					t.Errorf("holding %d: index %d match %s size %d since %d", i, hd.Index, hd.Match, hd.Size, hd.SinceSize)
				}
				p, err := tlogfmt.HashesFromBytes(hd.Proof)
				if err != nil {
					t.Fatal(err)
				}
				if err := tlog.CheckRecord(p, 513, root, int64(hd.Index), leaf); err != nil {
					t.Errorf("holding %d: proof does not check against the log's root: %v", i, err)
				}
			}
			if len(lu.Unheld) != 1 || lu.Unheld[0] != "cunzheng.example/pushed" {
				t.Errorf("logs without leaves = %q", lu.Unheld)
			}
		})
	}
	t.Run("leaf hash still answers", func(t *testing.T) {
		lu, err := o.Lookup(ctx, lg.Leaves[300][:])
		if err != nil || len(lu.Holdings) != 1 || lu.Holdings[0].Match != MatchLeaf || lu.Holdings[0].Index != 300 {
			t.Fatalf("Lookup(leaf 300) = %+v, %v", lu.Holdings, err)
		}
	})

	t.Run("entry not matching its leaf hash is refused", func(t *testing.T) {
		z, w := docHash("logged.pdf"), docHash("served instead.pdf")
		lg.AppendEntries(publicLeaf(t, "e3", "document.uploaded", `{"document":{"sha256":"`+hex.EncodeToString(z)+`"}}`))
		lg.Mu.Lock()
		// The log serves another entry than the one its tree holds.
		lg.Entries[513] = publicLeaf(t, "e3", "document.uploaded", `{"document":{"sha256":"`+hex.EncodeToString(w)+`"}}`)
		lg.Mu.Unlock()
		lg.Publish()
		if _, err := o.SyncOnce(ctx, cfg); !errors.Is(err, ErrBadProof) {
			t.Fatalf("SyncOnce = %v, want ErrBadProof", err)
		}
		for _, d := range [][]byte{z, w} {
			if lu, err := o.Lookup(ctx, d); err != nil || len(lu.Holdings) != 0 {
				t.Errorf("refused entry indexed: %+v, %v", lu.Holdings, err)
			}
		}
		if ps, _ := o.loadPull(o.logs["cunzheng.example/pulled"].id); ps.Size != 513 {
			t.Errorf("copy advanced to %d on a refused entry bundle", ps.Size)
		}
		if alarms, _ := o.Alarms(ctx); len(alarms) != 0 {
			t.Errorf("a refused entry bundle raised %d alarms; the tree is consistent", len(alarms))
		}
	})
}

// TestIndexEntryBundle: the bundle parser refuses truncated bundles and
// entries that do not hash to their leaf hash, returning no rows; a leaf
// naming no document gives none.
func TestIndexEntryBundle(t *testing.T) {
	leaf := publicLeaf(t, "e", "document.uploaded", `{"document":{"sha256":"`+hex.EncodeToString(docHash("a"))+`"}}`)
	good := tlog.RecordHash(leaf)
	bundle := append(binary.BigEndian.AppendUint16(nil, uint16(len(leaf))), leaf...)
	plain := publicLeaf(t, "f", "intent.verified", `{"method":"sms","note":"sha256"}`)
	plainBundle := append(binary.BigEndian.AppendUint16(nil, uint16(len(plain))), plain...)
	for _, tc := range []struct {
		name   string
		bundle []byte
		hash   tlog.Hash
		want   error
		rows   int
	}{
		{"good", bundle, good, nil, 1},
		{"no document", plainBundle, tlog.RecordHash(plain), nil, 0},
		{"no document, other leaf hash", plainBundle, good, ErrBadProof, 0},
		{"other leaf hash", bundle, tlog.RecordHash([]byte("other")), ErrBadProof, 0},
		{"truncated entry", bundle[:len(bundle)-1], good, ErrMalformed, 0},
		{"truncated length", []byte{0}, good, ErrMalformed, 0},
		{"too few entries", nil, good, ErrMalformed, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rows, err := entryBundleRows([8]byte{1}, 0, tc.bundle, 0, 1, func(uint64) []byte { return tc.hash[:] })
			if !errors.Is(err, tc.want) || len(rows) != tc.rows {
				t.Errorf("err %v rows %d, want %v %d", err, len(rows), tc.want, tc.rows)
			}
		})
	}
}
