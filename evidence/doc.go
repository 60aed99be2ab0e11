// Package evidence is how the signing platform's facts become evidence:
// the service that takes events, appends their leaves to the log and keeps
// their sealed records, the key hierarchy that seals them, crypto-shredding,
// tenants and their API keys, and the contract index that reports, the
// console and public verification read. What one event is, and how it
// becomes a leaf and a sealed record, is the pure package evidence/event;
// this package holds the state around it.
//
// Reading order: ingest.go (the ingest path, top-down), finalize.go (lock
// → read → apply → commit) with apply.go (the index rule), keys.go (the
// storage key scheme), store.go and postgres.go (the two stores).
//
// # Public and sealed
//
// The leaf appended to the ledger is the RFC 8785 canonical JSON of the
// public record (see event.PublicRecord and testdata/demo_leaves.golden): a
// commitment to the tenant id under a salt of the leaf's own (leaves of
// one tenant cannot be linked without its key), the kind, the event time
// and the time logged,
// an HMAC reference to the contract under a tenant secret, document
// hashes, non-identifying facts (methods, results, signature positions),
// and for every personal field a commitment SHA-256(salt || value) with a
// fresh 32-byte salt of its own (derived from a random seed per sealed
// part, see event.OpenPart). Names, ID numbers, phones, e-mails, IPs, accounts,
// certificate serials, contract numbers and names never appear in it. The
// values and salt seeds form the sealed record, stored off-log in this
// package's store keyed by the leaf's index (and its hash, so that a
// lookup never returns another leaf's record).
//
// # Keys
//
// A master key (LoadMasterKey: environment or DIR/keys file, never Pebble)
// wraps each tenant's key-encryption key (in the tenant file). The tenant
// key wraps one data key per data subject (the actor's account) and one key
// per stored document (一文一密), and derives the HMAC key for references and
// the key sealing contract fields. A subject's data key derives an AES-256
// key for its fields and an SM4 key for ID numbers (SM4-GCM, as national
// rules require). Rotating the master key rewraps tenant keys only.
// Erase destroys a subject key and appends a data.erased event: the
// subject's sealed fields are gone for everyone, the leaves and their
// proofs are untouched; a background shredder then pushes the deletion
// through Pebble to disk. Contract numbers and names are sealed under the
// tenant's contract key wherever the store keeps them (contract records,
// pending claims; the name index is keyed by HMACs of name prefixes).
//
// # One id, one leaf
//
// See the comment on Service.inflight: ids are claimed in memory, then
// durably as pending claims holding the leaf bytes, before the leaf goes to
// the log; retries and recovery re-append the same bytes, which the log
// deduplicates.
//
// # Tenants
//
// Tenants are files under DIR/evidence/tenants (see TenantsDir), so the
// CLI can create them while a server holds the Pebble lock. In cluster mode
// they are records of the shared store (StoreTenants).
//
// # Storage and cluster mode
//
// Everything the service keeps goes through Store, an ordered key-value
// store with atomic batches, preconditions and locking transactions. The
// embedded default is Pebble under Config.Dir. Cluster mode passes
// OpenPostgres's store as Config.Store: one table with a bytea primary key
// holding tenants and their wrapped keys, subject keys, claims, sealed
// records, the contract index and the encrypted documents, shared by every
// `cunzheng serve` process. What a single process enforces in memory, the
// shared store enforces in PostgreSQL: claims and first subject keys are
// inserted (one winner per id or subject, the loser re-reads), a batch
// commits only if the subject keys it sealed under are still stored (an
// erasure in another process makes it re-read), contract records are
// updated under row locks (or inserted when new), a claim another process
// already finalized is not indexed twice, and no cache of stored state is
// trusted for reading.
package evidence
