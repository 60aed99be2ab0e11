package tlogfmt_test

import (
	"crypto/sha256"
	"fmt"
	"os"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/cunzheng/cunzheng/ledger/tlogfmt"
)

// A court pins the keys `cunzheng keys` and `cunzheng notary keys` print
// and opens a cosigned checkpoint with them: every key must have signed.
func ExampleOpen() {
	logKeys, _ := os.ReadFile("testdata/log.vkey")
	notaryKeys, _ := os.ReadFile("testdata/notary.vkey")
	keys, err := tlogfmt.ParseVerifierKeys(append(logKeys, notaryKeys...))
	if err != nil {
		fmt.Println(err)
		return
	}
	msg, _ := os.ReadFile("testdata/checkpoint.cosigned")
	cp, err := tlogfmt.Open(msg, note.VerifierList(keys...))
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := cp.RequireSigned(keys...); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(cp.Origin, cp.Size, cp.Root)
	fmt.Println(strings.Join(cp.Signers(), "\n"))
	// Output:
	// test.cunzheng.example/log 5 NBUVmC1lDiNSDb1U1/zwr6G3DMOhakEdRk3JwayWwwE=
	// test.cunzheng.example/log
	// test.cunzheng.example/log
	// notary.test.cunzheng.example
}

// Every key line the log and its notaries print parses with NewVerifier;
// the type byte says which kind it is.
func ExampleNewVerifier() {
	for _, vkey := range []string{
		"test.cunzheng.example/log+16cbea7b+AUs3Au8E18TA2aHHILkPNKZsKxPjkfQHmHuwf3hpGXYR",
		"test.cunzheng.example/log+06535531+/2N1bnpoZW5nL3NtMi1zbTMvdjEEvM0obJf+OGduoZ0laOj25FULqWNJc/zDr5pGDeDSrCWuq59qFEhCkXQJoRqyMCU2RpuweKN0iFg9rd80prlceg==",
		"notary.test.cunzheng.example+fd367c98+BHTC7GnJ3FayrAB60ENoZ4NOHGw/TA07qlUZeQScYuSy",
	} {
		v, err := tlogfmt.NewVerifier(vkey)
		if err != nil {
			fmt.Println(err)
			continue
		}
		_, sm2 := v.(*tlogfmt.SM2Verifier)
		fmt.Printf("%s %08x sm2=%v\n", v.Name(), v.KeyHash(), sm2)
	}
	// Output:
	// test.cunzheng.example/log 16cbea7b sm2=false
	// test.cunzheng.example/log 06535531 sm2=true
	// notary.test.cunzheng.example fd367c98 sm2=false
}

// A notary's cosignature line carries the time the office cosigned.
func ExampleCosignatureTime() {
	line := "— notary.test.cunzheng.example /TZ8mAAAAABrE8iWmwhbI9Ma9ot/XxVxItO1GyQ/bZOXMXZGGU3oitpMg224oX1kDDppcrVe+DjrhhweTx2guVz7XaAd1oAI9It5BA==\n"
	s, err := tlogfmt.ParseSignatureLine([]byte(line))
	if err != nil {
		fmt.Println(err)
		return
	}
	at, ok := tlogfmt.CosignatureTime(s)
	fmt.Printf("%s %08x %v %s\n", s.Name, s.Hash, ok, at.Format("2006-01-02"))
	// Output:
	// notary.test.cunzheng.example fd367c98 true 2026-12-05
}

// An inclusion proof in a two-leaf tree is the other leaf's hash.
func ExampleCheckInclusion() {
	h0, h1 := tlogfmt.LeafHash([]byte("a")), tlogfmt.LeafHash([]byte("b"))
	root := tlog.Hash(sha256.Sum256(append(append([]byte{1}, h0[:]...), h1[:]...)))
	fmt.Println(tlogfmt.CheckInclusion([]tlog.Hash{h1}, 0, 2, h0, root))
	fmt.Println(tlogfmt.CheckInclusion([]tlog.Hash{h1}, 1, 2, h0, root) != nil)
	// Output:
	// <nil>
	// true
}
