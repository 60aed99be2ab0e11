// Package templates holds the verification result's templates for the
// browser's local check (cmd/verifywasm), which cannot import package web
// (gin, the ledger, storage). Package web embeds every page of this
// directory itself; this package embeds only what the local check renders,
// so that both render the result from the very same files.
package templates

import "embed"

// Result is the result page's content ("content" in verify_result.html),
// the ledger block it uses (_ledger.html) and the evidence bundle's result
// (_bundle_result.html).
//
//go:embed verify_result.html _ledger.html _bundle_result.html
var Result embed.FS
