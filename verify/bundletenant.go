package verify

import (
	"encoding/json"
	"slices"
	"strings"
)

// BundleTenantPointer is where a version 2 leaf commits to its tenant:
// SHA-256(salt || tenant id), with a salt of the leaf's own, opened in the
// manifest like any commitment. Version 1 leaves, written before, name the
// tenant in their "tenant" member instead; both kinds stay valid (the log
// is append-only).
const BundleTenantPointer = "/commitments/tenant"

// tenant checks that the bundle's events are one tenant's: every tenant a
// leaf names (version 1) or an opening of BundleTenantPointer shows
// (version 2; openings checked the commitment) must be the same. A bundle
// without openings shows no tenant of version 2 leaves, which is no failure.
func (b *bundleChecker) tenant() error {
	const step = "tenant of the events"
	type shown struct{ named, opened int }
	tenants := map[string]*shown{}
	of := func(t string) *shown {
		if tenants[t] == nil {
			tenants[t] = &shown{}
		}
		return tenants[t]
	}
	for _, e := range b.m.Events {
		var l struct {
			Tenant string `json:"tenant"`
		}
		if err := json.Unmarshal(b.leaves[e.Index], &l); err != nil {
			return fail(step, ErrBundleMalformed, "leaf %d is not JSON: %v", e.Index, err)
		}
		if l.Tenant != "" {
			of(l.Tenant).named++
		}
	}
	for _, o := range b.m.Openings {
		if o.Pointer == BundleTenantPointer {
			of(o.Value).opened++
		}
	}
	switch len(tenants) {
	case 0:
		b.pass(step, "no leaf names its tenant (version 2) and no tenant commitment is opened")
	case 1:
		for t, s := range tenants {
			b.pass(step, "all of tenant %s: %s it (version 1), %s to it (version 2)", t, count(s.named, "leaf names", "leaves name"), count(s.opened, "opens its commitment", "open their commitment"))
		}
	default:
		names := make([]string, 0, len(tenants))
		for t := range tenants {
			names = append(names, t)
		}
		slices.Sort(names)
		return fail(step, ErrBundleCommitment, "the events belong to %d tenants: %s", len(names), strings.Join(names, ", "))
	}
	return nil
}
