//go:build js && wasm

package verify

import "time"

// Metrics is empty in the browser's build (cmd/verifywasm): there is no
// Prometheus registry to count into, and leaving the client library out
// keeps the module a megabyte smaller.
type Metrics struct{}

func (m *Metrics) observe(time.Time, Indication, error) {}
