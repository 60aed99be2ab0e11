package notary

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/digitorus/timestamp"

	"github.com/cunzheng/cunzheng/ledger/tlogfmt"
)

var update = flag.Bool("update", false, "rewrite testdata/requests from a fresh test log")

// requestsDir holds add-checkpoint request bodies used as fuzz seeds.
const requestsDir = "testdata/requests"

// TestRequestsTestdata regenerates (with -update) and checks the seed
// requests: each must parse and re-marshal to the same bytes.
func TestRequestsTestdata(t *testing.T) {
	if *update {
		lg := newTestLog(t, "cunzheng.example/log")
		lg.Append(5)
		s5 := lg.Publish()
		lg.Append(300)
		s305 := lg.Publish()
		files := map[string][]byte{
			"first.req":  req(0, nil, lg.Notes[s5]),
			"extend.req": req(s5, lg.Proof(s5, s305), lg.Notes[s305]),
			"same.req":   req(s305, nil, lg.Notes[s305]),
		}
		if err := os.MkdirAll(requestsDir, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, b := range files {
			if err := os.WriteFile(filepath.Join(requestsDir, name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	seeds := readSeeds(t)
	if len(seeds) == 0 {
		t.Fatal("no seeds in " + requestsDir + "; run with -update")
	}
	for _, s := range seeds {
		r, err := tlogfmt.ParseAddCheckpoint(s)
		if err != nil {
			t.Fatalf("seed does not parse: %v", err)
		}
		if !bytes.Equal(r.Marshal(), s) {
			t.Fatal("seed does not round-trip")
		}
	}
}

func readSeeds(t testing.TB) [][]byte {
	ents, err := os.ReadDir(requestsDir)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(requestsDir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// FuzzParseRequest: any body either fails with tlogfmt.ErrMalformed or parses into
// a request that marshals back to an equivalent body.
func FuzzParseRequest(f *testing.F) {
	for _, s := range readSeeds(f) {
		f.Add(s)
	}
	f.Add([]byte("old 0\n\n"))
	f.Add([]byte("old 01\n\nx\n"))
	f.Add([]byte("old 18446744073709551616\n\nx\n"))
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := tlogfmt.ParseAddCheckpoint(body)
		if err != nil {
			if r != nil {
				t.Fatal("request returned with an error")
			}
			return
		}
		if len(r.Proof) > tlogfmt.MaxProofLines || len(r.Checkpoint) == 0 || (r.Old == 0 && len(r.Proof) > 0) {
			t.Fatalf("accepted an invalid request: %+v", r)
		}
		again, err := tlogfmt.ParseAddCheckpoint(r.Marshal())
		if err != nil {
			t.Fatalf("re-marshalled request does not parse: %v", err)
		}
		if again.Old != r.Old || len(again.Proof) != len(r.Proof) || !bytes.Equal(again.Checkpoint, r.Checkpoint) {
			t.Fatal("round trip changed the request")
		}
		if !bytes.Equal(r.Marshal(), body) {
			t.Fatalf("parsed request marshals differently:\n%q\n%q", body, r.Marshal())
		}
	})
}

// FuzzAddCheckpoint runs hostile bodies through a whole office: it must
// never panic, and whatever it cosigns must verify.
func FuzzAddCheckpoint(f *testing.F) {
	for _, s := range readSeeds(f) {
		f.Add(s)
	}
	lg := newTestLog(f, "cunzheng.example/log")
	lg.Append(3)
	s3 := lg.Publish()
	f.Add(req(0, nil, lg.Notes[s3]))
	o := newTestOffice(f, f.TempDir(), lg.logKey())
	f.Cleanup(func() { o.Close() })
	f.Fuzz(func(t *testing.T, body []byte) {
		cosig, err := o.AddCheckpoint(context.Background(), body)
		if err != nil {
			return
		}
		r, perr := tlogfmt.ParseAddCheckpoint(body)
		if perr != nil {
			t.Fatalf("cosigned an unparsable body: %v", perr)
		}
		if err := checkCosig(o, r.Checkpoint, cosig); err != nil {
			t.Fatal(err)
		}
	})
}

// FuzzTSARespond: hostile time-stamp queries get an error, never a panic.
func FuzzTSARespond(f *testing.F) {
	tsa, err := LoadOrCreateTSA(filepath.Join(f.TempDir(), "tsa"), "fuzz")
	if err != nil {
		f.Fatal(err)
	}
	q, err := timestamp.CreateRequest(bytes.NewReader([]byte("x")), &timestamp.RequestOptions{Certificates: true})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(q)
	f.Add([]byte{0x30, 0x03, 0x02, 0x01, 0x01})
	f.Fuzz(func(t *testing.T, query []byte) {
		resp, err := tsa.Respond(query)
		if err != nil {
			if !errors.Is(err, ErrBadTimestampQuery) {
				t.Fatalf("error does not wrap ErrBadTimestampQuery: %v", err)
			}
			return
		}
		if _, err := timestamp.ParseResponse(resp); err != nil {
			t.Fatalf("granted reply does not parse: %v", err)
		}
	})
}
