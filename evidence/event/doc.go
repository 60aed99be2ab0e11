// Package event is evidence's pure core: what one event is, from the JSON
// the signing platform posts to the leaf the log appends and the sealed
// record kept off-log. It does no I/O (TestPureImports holds it to that):
// the service in package evidence reads and writes the stores around it.
//
//   - The event model (Event, Kind, Actor, Contract) and ParseEvents, which
//     decodes strict JSON (DecodeStrict: no duplicate keys, no invalid
//     UTF-8) and validates it against the JSON Schema events.schema.json
//     (SchemaJSON), naming the JSON path of the first problem.
//   - RFC 8785 canonical JSON (CanonicalJSON), the form of every leaf.
//   - BuildRecord, which splits an event into its public leaf (see
//     PublicRecord and ParseLeaf) and its sealed parts: every personal field
//     becomes a Commitment in the leaf, its value and salt go into a sealed
//     part (OpenPart), encrypted with the tenant's and the subject's keys
//     (TenantKeys, SubjectKey) by Seal and Open (AES-256-GCM, and SM4-GCM
//     for ID numbers).
//
// Error messages keep the "evidence:" prefix: they are the evidence
// service's, wherever the work is done.
package event
