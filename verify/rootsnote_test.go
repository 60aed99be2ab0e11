package verify

import (
	"bytes"
	"crypto/rand"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"
)

func trustKeys(t testing.TB) (note.Signer, string) {
	t.Helper()
	skey, vkey, err := note.GenerateKey(rand.Reader, "cunzheng.test/log")
	if err != nil {
		t.Fatal(err)
	}
	s, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	return s, vkey
}

// TestTrustBundle: a signed bundle opens with its key and gives the
// roots and keys it was made with; any other key, an edited body, or
// another note signed with the same key (a checkpoint) is refused.
func TestTrustBundle(t *testing.T) {
	signer, vkey := trustKeys(t)
	_, otherKey := trustKeys(t)
	roots, err := RootCertificates(filepath.Join("..", "testdata", "pdf", "roots"))
	if err != nil || len(roots) == 0 {
		t.Fatalf("roots: %d, %v", len(roots), err)
	}
	in := TrustBundle{Origin: "cunzheng.test/log", LogKeys: []string{vkey}, Roots: roots, TSARoots: roots[:1]}
	msg, err := SignTrustBundle(in, signer)
	if err != nil {
		t.Fatal(err)
	}
	tb, err := OpenTrustBundle(msg, vkey)
	if err != nil {
		t.Fatal(err)
	}
	if tb.Origin != in.Origin || len(tb.Roots) != len(roots) || len(tb.TSARoots) != 1 || !bytes.Equal(tb.Roots[0], roots[0]) || tb.LogKeys[0] != vkey {
		t.Errorf("opened %+v", tb)
	}
	opts, err := tb.Options()
	if err != nil || opts.Roots == nil || opts.LedgerVerifiers == nil || opts.LedgerOrigin != in.Origin {
		t.Errorf("options %+v, %v", opts, err)
	}
	if bo, err := tb.BundleOptions(); err != nil || len(bo.LogKeys) != 1 || bo.TSARoots == nil {
		t.Errorf("bundle options %+v, %v", bo, err)
	}
	edited := bytes.Replace(msg, []byte("origin cunzheng.test/log"), []byte("origin evil.example/log"), 1)
	checkpoint, _ := note.Sign(&note.Note{Text: "cunzheng.test/log\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"}, signer)
	for name, tc := range map[string]struct {
		msg []byte
		key string
	}{
		"another key":  {msg, otherKey},
		"edited body":  {edited, vkey},
		"a checkpoint": {checkpoint, vkey},
		"not a key":    {msg, "nonsense"},
		"not a note":   {[]byte("root AAAA\n"), vkey},
		"empty":        {nil, vkey},
	} {
		if _, err := OpenTrustBundle(tc.msg, tc.key); err == nil {
			t.Errorf("%s: opened", name)
		}
	}
	if _, err := SignTrustBundle(TrustBundle{Origin: "a b", LogKeys: []string{vkey}}, signer); err == nil || !strings.Contains(err.Error(), "space") {
		t.Errorf("an origin with a space: %v", err)
	}
}

// FuzzOpenTrustBundle signs any body with the key and opens it: no panic,
// and a bundle that opens signs again to the same body.
func FuzzOpenTrustBundle(f *testing.F) {
	signer, vkey := trustKeys(f)
	roots, _ := RootCertificates(filepath.Join("..", "testdata", "pdf", "roots"))
	good, _ := SignTrustBundle(TrustBundle{Origin: "o", LogKeys: []string{vkey}, Roots: roots[:1]}, signer)
	body, _, _ := strings.Cut(string(good), "\n\n")
	f.Add(body + "\n")
	f.Add(trustBundleHeader + "\norigin o\nlog-key " + vkey + "\n")
	f.Add(trustBundleHeader + "\norigin o\nroot AAAA\n")
	f.Add(trustBundleHeader + "\nunknown x\n")
	f.Fuzz(func(t *testing.T, body string) {
		msg, err := note.Sign(&note.Note{Text: body}, signer)
		if err != nil {
			return // not a note body (no final newline, control characters)
		}
		tb, err := OpenTrustBundle(msg, vkey)
		if err != nil {
			return
		}
		again, err := SignTrustBundle(*tb, signer)
		if err != nil {
			t.Fatalf("an opened bundle does not sign again: %v", err)
		}
		if _, err := OpenTrustBundle(again, vkey); err != nil {
			t.Fatalf("a re-signed bundle does not open: %v", err)
		}
	})
}
