package verify_test

import (
	"fmt"
	"os"
	"time"

	"github.com/cunzheng/cunzheng/ledger/tlogfmt"
	"github.com/cunzheng/cunzheng/report"
	"github.com/cunzheng/cunzheng/report/reporttest"
	"github.com/cunzheng/cunzheng/verify"
	"golang.org/x/mod/sumdb/note"
)

// ExampleBundle checks a demo evidence bundle against pinned keys, as
// `cunzheng verify bundle` does.
func ExampleBundle() {
	f, err := reporttest.Build(reporttest.Options{})
	if err != nil {
		panic(err)
	}
	dir, cleanup := tempDir()
	defer cleanup()
	svc, err := report.New(report.Config{KeyDir: dir})
	if err != nil {
		panic(err)
	}
	zipBytes, err := svc.Bundle(f.Contract, report.Request{ReportNumber: "CZ-EXAMPLE", IssuedAt: time.Unix(1542300000, 0)})
	if err != nil {
		panic(err)
	}

	logKey, _ := tlogfmt.NewVerifier(f.LogVKey)
	opts := verify.BundleOptions{LogKeys: []note.Verifier{logKey}}
	for _, n := range f.Notaries {
		v, _ := tlogfmt.NewVerifier(n.VKey)
		opts.NotaryKeys = append(opts.NotaryKeys, v)
	}
	res, err := verify.Bundle(zipBytes, opts)
	if err != nil {
		fmt.Println("FAIL:", err)
		return
	}
	fmt.Println(res.Manifest.ReportNumber, "verified:", len(res.Manifest.Events), "events, pinned:", res.Pinned)
	// Output: CZ-EXAMPLE verified: 10 events, pinned: true
}

func tempDir() (string, func()) {
	d, err := os.MkdirTemp("", "bundle-example")
	if err != nil {
		panic(err)
	}
	return d, func() { os.RemoveAll(d) }
}
