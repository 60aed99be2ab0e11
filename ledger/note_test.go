package ledger

import (
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/cunzheng/cunzheng/ledger/tlogfmt"
)

// TestSM2VerifierKeyRoundTrip checks that the key the log's SM2 signer
// publishes is read back by tlogfmt and verifies the signer's signatures.
func TestSM2VerifierKeyRoundTrip(t *testing.T) {
	k := testKeys()
	vkeys := k.VerifierKeys()
	if len(vkeys) != 2 || !strings.HasPrefix(vkeys[0], testOrigin+"+") || !strings.HasPrefix(vkeys[1], testOrigin+"+") {
		t.Fatalf("verifier keys %q", vkeys)
	}
	v, err := tlogfmt.NewVerifier(vkeys[1])
	if err != nil {
		t.Fatal(err)
	}
	if v.KeyHash() != k.SM2.KeyHash() || v.Name() != testOrigin {
		t.Fatalf("parsed SM2 verifier %s/%08x, signer %08x", v.Name(), v.KeyHash(), k.SM2.KeyHash())
	}
	msg := []byte("checkpoint body\n")
	sig, err := k.SM2.Sign(msg)
	if err != nil {
		t.Fatal(err)
	}
	if !v.Verify(msg, sig) {
		t.Fatal("SM2 signature does not verify")
	}
	if v.Verify([]byte("other body\n"), sig) {
		t.Fatal("SM2 signature verifies over another message")
	}
	// sumdb/note does not know the SM2 type and must refuse the key rather
	// than misread it.
	if _, err := note.NewVerifier(vkeys[1]); err == nil {
		t.Fatal("sumdb/note accepted an SM2 verifier key")
	}
	// A key whose hash does not match its contents is refused.
	parts := strings.SplitN(vkeys[1], "+", 3)
	if _, err := tlogfmt.NewVerifier(parts[0] + "+00000000+" + parts[2]); err == nil {
		t.Fatal("an SM2 key with a wrong key hash was accepted")
	}
}
