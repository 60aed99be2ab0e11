package notary

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
)

func testRequest(office string, bundle []byte) Request {
	sum := sha256.Sum256(bundle)
	return Request{Origin: "cunzheng.example/log", ID: "NR-1", Contract: "c_0123abcd", Office: office,
		Time: time.Date(2026, 12, 5, 3, 0, 0, 0, time.UTC), BundleSHA256: hex.EncodeToString(sum[:])}
}

func TestRequestText(t *testing.T) {
	r := testRequest("notary.test", []byte("zip"))
	got, err := ParseRequestText(r.Text())
	if err != nil || got != r {
		t.Fatalf("round trip: %+v %v", got, err)
	}
	for name, text := range map[string]string{
		"empty":          "",
		"other header":   strings.Replace(r.Text(), "request v1", "request v2", 1),
		"missing line":   strings.Replace(r.Text(), "office notary.test\n", "", 1),
		"reordered":      strings.Replace(strings.Replace(r.Text(), "id NR-1", "XX", 1), "contract c_0123abcd", "id NR-1", 1),
		"bad time":       strings.Replace(r.Text(), "2026-12-05T03:00:00Z", "yesterday", 1),
		"short sha":      strings.Replace(r.Text(), r.BundleSHA256, "abcd", 1),
		"upper-case sha": strings.Replace(r.Text(), r.BundleSHA256, strings.ToUpper(r.BundleSHA256), 1),
		"extra line":     r.Text() + "more\n",
		"space in id":    strings.Replace(r.Text(), "id NR-1", "id NR 1", 1),
	} {
		if _, err := ParseRequestText(text); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: err = %v, want ErrMalformed", name, err)
		}
	}
}

func FuzzRequestText(f *testing.F) {
	f.Add(testRequest("notary.test", nil).Text())
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRequestText(s)
		if err != nil {
			return
		}
		if again, err := ParseRequestText(r.Text()); err != nil || again != r {
			t.Fatalf("a parsed request does not round-trip: %+v %v", again, err)
		}
	})
}

// TestReceive: what an office refuses outright (not kept), and a bundle
// that fails its checks, kept as a refused request with the reason.
func TestReceive(t *testing.T) {
	ctx := context.Background()
	lg := newTestLog(t, "cunzheng.example/log")
	o := newTestOffice(t, t.TempDir(), lg.logKey())
	defer o.Close()
	bundle := []byte("PK\x03\x04 not really a zip")
	sign := func(r Request, s note.Signer) []byte {
		msg, err := SignRequest(r, s)
		if err != nil {
			t.Fatal(err)
		}
		return msg
	}
	good := sign(testRequest(o.Name(), bundle), lg.Signer)
	other := newTestLog(t, "cunzheng.example/log")
	stranger := testRequest(o.Name(), bundle)
	stranger.Origin = "elsewhere.example/log"
	strangerLog := newTestLog(t, "elsewhere.example/log")

	for name, tc := range map[string]struct {
		msg, bundle []byte
		want        error
	}{
		"another key":        {sign(testRequest(o.Name(), bundle), other.Signer), bundle, ErrBadSignature},
		"unknown log":        {sign(stranger, strangerLog.Signer), bundle, ErrUnknownLog},
		"another office":     {sign(testRequest("other.office", bundle), lg.Signer), bundle, ErrMalformed},
		"bundle swapped":     {good, []byte("another bundle"), ErrMalformed},
		"unsigned":           {[]byte(testRequest(o.Name(), bundle).Text()), bundle, ErrMalformed},
		"oversized note":     {append(good, make([]byte, MaxRequestNoteBytes)...), bundle, ErrMalformed},
		"tampered signature": {[]byte(strings.Replace(string(good), "NR-1", "NR-2", 1)), bundle, ErrBadSignature},
	} {
		if _, err := o.Receive(ctx, tc.msg, tc.bundle); !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v, want %v", name, err, tc.want)
		}
	}
	if rs, err := o.Requests(ctx); err != nil || len(rs) != 0 {
		t.Fatalf("refused requests were kept: %+v %v", rs, err)
	}

	rec, err := o.Receive(ctx, good, bundle)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Status != RequestRefused || !strings.Contains(rec.Reason, "verification failed") {
		t.Fatalf("a broken bundle: %+v", rec)
	}
	if again, err := o.Receive(ctx, good, bundle); err != nil || again.ReceivedAt != rec.ReceivedAt {
		t.Errorf("the same request again: %+v %v", again, err)
	}
	r2 := testRequest(o.Name(), []byte("x"))
	if _, err := o.Receive(ctx, sign(r2, lg.Signer), []byte("x")); !errors.Is(err, ErrMalformed) {
		t.Errorf("another request under a used id: %v", err)
	}
	if _, err := o.Issue(ctx, "NR-1", "张公证员", func(RequestRecord) ([]byte, error) { return []byte("%PDF"), nil }); !errors.Is(err, ErrNotIssuable) || !strings.Contains(err.Error(), "verification failed") {
		t.Errorf("issuing a refused request: %v", err)
	}
	if _, err := o.Certificate(ctx, "NR-1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("certificate of a refused request: %v", err)
	}
	if rs, err := o.Requests(ctx); err != nil || len(rs) != 1 || rs[0].Status != RequestRefused {
		t.Fatalf("requests: %+v %v", rs, err)
	}
}
