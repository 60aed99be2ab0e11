package web

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/cunzheng/cunzheng/evidence/event"
	"github.com/cunzheng/cunzheng/ledger/tlogfmt"
	"github.com/cunzheng/cunzheng/notary"
)

// serveTiles serves the log's checkpoint and level-0 tiles (C2SP
// tlog-tiles), enough for an office to pull it.
func (l *witnessLog) serveTiles(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/checkpoint" {
			w.Write(l.note(l.n, nil))
			return
		}
		tp, err := tlogfmt.ParseTilePath(strings.TrimPrefix(r.URL.Path, "/"))
		if err != nil || tp.Level != 0 {
			http.NotFound(w, r)
			return
		}
		width := tp.Width
		if width == 0 {
			width = 256
		}
		if tp.Entries {
			if int64(tp.Index)*256+int64(width) > l.n {
				http.NotFound(w, r)
				return
			}
			var b []byte
			for i := int64(0); i < int64(width); i++ {
				e := l.entry(int64(tp.Index)*256 + i)
				b = append(binary.BigEndian.AppendUint16(b, uint16(len(e))), e...)
			}
			w.Write(b)
			return
		}
		for i := int64(0); i < int64(width); i++ {
			idx := int64(tp.Index)*256 + i
			if idx >= l.n {
				http.NotFound(w, r)
				return
			}
			h := l.stored[tlog.StoredHashIndex(0, idx)]
			w.Write(h[:])
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// entry is the leaf at index i as the log serves it in its entry bundles.
func (l *witnessLog) entry(i int64) []byte {
	if e, ok := l.entries[i]; ok {
		return e
	}
	return []byte(fmt.Sprint("leaf ", i))
}

// growEntries appends the given leaves.
func (l *witnessLog) growEntries(entries ...[]byte) {
	for _, e := range entries {
		h, err := tlog.StoredHashes(l.n, e, tlog.HashReaderFunc(l.read))
		if err != nil {
			l.t.Fatal(err)
		}
		if l.entries == nil {
			l.entries = map[int64][]byte{}
		}
		l.stored, l.entries[l.n] = append(l.stored, h...), e
		l.n++
	}
}

// TestOfficeFingerprints: the office's /fingerprints page and JSON find a
// leaf in its pulled copy, with a proof that checks against the log's root,
// and say plainly what the office cannot answer for.
func TestOfficeFingerprints(t *testing.T) {
	lg := newWitnessLog(t)
	o, tsa := newTestNotary(t, lg)
	h := NotaryHandler(o, tsa, nil, nil)
	lg.grow(650)
	doc := sha256.Sum256([]byte("contract.pdf"))
	leaf650 := []byte(fmt.Sprintf(`{"commitments":{"tenant":"%x"},"data":{"document":{"sha256":"%x"}},"kind":"document.uploaded","logged":"2026-12-05T12:00:00Z","ref":"r650","time":"2026-12-05T12:00:00Z","v":2}`, sha256.Sum256([]byte("t")), doc))
	if _, err := event.ParseLeaf(leaf650); err != nil {
		t.Fatal(err)
	}
	lg.growEntries(leaf650)
	lg.grow(49)
	srv := lg.serveTiles(t)
	if _, err := o.SyncOnce(context.Background(), notary.PullConfig{URL: srv.URL}); err != nil {
		t.Fatal(err)
	}
	leaf := func(i int64) tlog.Hash { return lg.stored[tlog.StoredHashIndex(0, i)] }
	l600 := leaf(600)

	w := do(t, h, "GET", "/fingerprints?hash="+hex.EncodeToString(l600[:]), "", nil)
	body := w.Body.String()
	for _, want := range []string{"本公证处持有此叶哈希", "cunzheng.example/log", "<dd>600</dd>", "/cosigned/note?origin=cunzheng.example%2flog&amp;size=700", "与大小 700 的已签名根哈希核对一致", "条目包"} {
		if w.Code != 200 || !strings.Contains(body, want) {
			t.Errorf("/fingerprints for leaf 600 lacks %q (%d)", want, w.Code)
		}
	}
	if t.Failed() {
		t.Log(body)
	}

	var j struct {
		Found    bool
		Holdings []notary.Holding
	}
	w = do(t, h, "GET", "/v1/fingerprints?hash="+url.QueryEscape(base64.StdEncoding.EncodeToString(l600[:])), "", nil)
	if err := json.Unmarshal(w.Body.Bytes(), &j); err != nil || !j.Found || len(j.Holdings) != 1 {
		t.Fatalf("/v1/fingerprints: %v %s", err, w.Body)
	}
	p, err := tlogfmt.HashesFromBytes(j.Holdings[0].Proof)
	if err != nil {
		t.Fatal(err)
	}
	root, _ := tlog.TreeHash(700, tlog.HashReaderFunc(lg.read))
	if err := tlog.CheckRecord(p, 700, root, 600, l600); err != nil {
		t.Errorf("served proof does not check: %v", err)
	}

	// A document SHA-256 finds the leaf naming it, from the office's copy.
	w = do(t, h, "GET", "/fingerprints?hash="+hex.EncodeToString(doc[:]), "", nil)
	l650 := leaf(650)
	for _, want := range []string{"本公证处持有记载此文件哈希的叶子", "<dd>650</dd>", hex.EncodeToString(l650[:]), "与大小 700 的已签名根哈希核对一致"} {
		if w.Code != 200 || !strings.Contains(w.Body.String(), want) {
			t.Errorf("/fingerprints for the document lacks %q (%d)", want, w.Code)
		}
	}
	w = do(t, h, "GET", "/v1/fingerprints?hash="+hex.EncodeToString(doc[:]), "", nil)
	j.Holdings = nil
	if err := json.Unmarshal(w.Body.Bytes(), &j); err != nil || !j.Found || len(j.Holdings) != 1 || j.Holdings[0].Match != notary.MatchDocument || j.Holdings[0].Index != 650 {
		t.Fatalf("/v1/fingerprints for the document: %v %s", err, w.Body)
	}
	if p, err = tlogfmt.HashesFromBytes(j.Holdings[0].Proof); err != nil {
		t.Fatal(err)
	}
	if err := tlog.CheckRecord(p, 700, root, 650, l650); err != nil {
		t.Errorf("served proof for the document's leaf does not check: %v", err)
	}

	other := tlog.RecordHash([]byte("not in the log"))
	for _, tc := range []struct {
		path, want string
		code       int
	}{
		{"/fingerprints?hash=" + hex.EncodeToString(other[:]), "本公证处未持有此叶哈希", 200},
		{"/fingerprints?hash=" + hex.EncodeToString(other[:]) + "&lang=en", "holds no leaf with this leaf hash or document hash", 200},
		{"/fingerprints", "数字指纹查询", 200},
		{"/fingerprints?hash=xyz", "", 400},
		{"/v1/fingerprints?hash=" + hex.EncodeToString(other[:]), `"found":false`, 200},
		{"/v1/fingerprints", "", 400},
	} {
		w := do(t, h, "GET", tc.path, "", nil)
		if w.Code != tc.code || !strings.Contains(w.Body.String(), tc.want) {
			t.Errorf("GET %s: %d, want %d with %q\n%s", tc.path, w.Code, tc.code, tc.want, w.Body)
		}
	}
}

// TestOfficeFingerprintsPushOnly: an office that is only pushed to holds no
// leaves and says so on the page.
func TestOfficeFingerprintsPushOnly(t *testing.T) {
	lg := newWitnessLog(t)
	o, tsa := newTestNotary(t, lg)
	h := NotaryHandler(o, tsa, nil, nil)
	lg.grow(3)
	if w := do(t, h, "POST", "/add-checkpoint", "", lg.body(0, 3, lg.note(3, nil))); w.Code != 200 {
		t.Fatalf("add-checkpoint: %d %s", w.Code, w.Body)
	}
	l := lg.stored[tlog.StoredHashIndex(0, 1)]
	w := do(t, h, "GET", "/fingerprints?hash="+hex.EncodeToString(l[:]), "", nil)
	if !strings.Contains(w.Body.String(), "以推送方式跟随") || !strings.Contains(w.Body.String(), "本公证处未持有此叶哈希") {
		t.Errorf("push-only /fingerprints:\n%s", w.Body)
	}
	w = do(t, h, "GET", "/v1/fingerprints?hash="+hex.EncodeToString(l[:]), "", nil)
	if !strings.Contains(w.Body.String(), `"logs_without_leaves":["cunzheng.example/log"]`) {
		t.Errorf("push-only /v1/fingerprints: %s", w.Body)
	}
}
