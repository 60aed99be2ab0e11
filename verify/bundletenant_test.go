package verify

import (
	"errors"
	"strings"
	"testing"

	"github.com/cunzheng/cunzheng/ledger/tlogfmt"
)

// TestBundleTenant: the events of a bundle are one tenant's, whether their
// leaves name it (version 1) or open their commitment to it (version 2).
func TestBundleTenant(t *testing.T) {
	v1 := func(tenant string) []byte {
		return []byte(`{"kind":"contract.signed","tenant":"` + tenant + `","v":1}`)
	}
	v2 := []byte(`{"commitments":{"tenant":"00"},"kind":"contract.signed","v":2}`)
	open := func(i uint64, tenant string) tlogfmt.ManifestOpening {
		return tlogfmt.ManifestOpening{Index: i, Pointer: BundleTenantPointer, Value: tenant}
	}
	for _, tc := range []struct {
		name     string
		leaves   [][]byte
		openings []tlogfmt.ManifestOpening
		want     string // in the step's detail; empty: fails
	}{
		{"version 1, one tenant", [][]byte{v1("ta"), v1("ta")}, nil, "2 leaves name it (version 1), 0 open"},
		{"version 2, opened", [][]byte{v2, v2}, []tlogfmt.ManifestOpening{open(0, "ta"), open(1, "ta")}, "0 leaves name it (version 1), 2 open"},
		{"both kinds", [][]byte{v1("ta"), v2}, []tlogfmt.ManifestOpening{open(1, "ta")}, "1 leaf names it (version 1), 1 opens its commitment to it"},
		{"version 2, not opened", [][]byte{v2, v2}, nil, "no leaf names its tenant"},
		{"version 1, two tenants", [][]byte{v1("ta"), v1("tb")}, nil, ""},
		{"opened another tenant", [][]byte{v1("ta"), v2}, []tlogfmt.ManifestOpening{open(1, "tb")}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := &bundleChecker{m: &tlogfmt.Manifest{Openings: tc.openings}, res: &BundleResult{}, leaves: map[uint64][]byte{}}
			for i, l := range tc.leaves {
				b.m.Events = append(b.m.Events, tlogfmt.ManifestEvent{Index: uint64(i)})
				b.leaves[uint64(i)] = l
			}
			err := b.tenant()
			if tc.want == "" {
				if !errors.Is(err, ErrBundleCommitment) {
					t.Errorf("err = %v, want ErrBundleCommitment", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := b.res.Steps[0].Detail; !strings.Contains(d, tc.want) {
				t.Errorf("step %q, want %q in it", d, tc.want)
			}
		})
	}
}
