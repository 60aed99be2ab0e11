package evidence

import (
	"encoding/binary"
	"encoding/hex"
	"time"
)

// Storage keys: every key the service writes to its Store is built by one
// of the functions of this file, and this table is the whole scheme. Every
// key starts with a one-letter table name and '/'; tenant ids, references,
// key ids and hashes are hex and indexes and times 16 hex digits, so '/'
// only separates and keys of one table sort by their fields in order.
//
//	table  key                                      value (builder)
//	i      i/<tenant>/<id>                          claim, pending or done, with the receipt (claimKey)
//	       i/<tenant>/\x00<name>                    claim of an event the service wrote itself (serverClaimsPrefix)
//	p      p/<tenant>/<id>                          marker of a pending claim, for recovery (pendingKeyOf; Pebble only)
//	S      S/<index>/<leaf hash>                    sealed record of a leaf (sealedKey)
//	s      s/<leaf hash>                            sealed record written before the index keyed it (legacySealedKey)
//	k      k/<tenant>/<subject>                     subject data key, wrapped by the tenant key (subjectKeyKey)
//	x      x/<tenant>/<subject>                     erased subject key not yet shredded (shredKey)
//	z      z/<tenant>/<subject>/<key id>            erasure of one subject key (erasureKey)
//	c      c/<tenant>/<contract>                    contract record, sealed (contractKeyOf)
//	e      e/<tenant>/<contract>/<index>            one event of a contract (contractEventKey)
//	       e/<tenant>/<contract>/<first>/<last>     events of a contract finalized together (contractEventsKey)
//	u      u/<tenant>/<subject>/<index>             a subject's event outside contracts (subjectEventKey)
//	       u/<tenant>/<subject>/<first>/<last>      such events finalized together (subjectEventsKey)
//	a      a/<tenant>/<subject>/<contract>          contracts by account (accountContractKey)
//	v      v/<tenant>/<contract>/<subject>          accounts of a contract (contractSubjectKey)
//	t      t/<tenant>/<first time>/<contract>       contracts by first event time (dateIndexKey)
//	N      N/<tenant>/<bucket>/<first time>/<contract>  contracts by name prefix (nameIndexKey)
//	n      n/<tenant>/<lower-case name>\x00<contract>   by name, before names were sealed; migrated away (legacyNameIndex)
//	h      h/<sha256>/<tenant>/<contract>/<index>   document hash or report number -> contract event (docIndexKey)
//	d      d/<tenant>/<sha256>                      stored document, or its wrapped key (documentKey)
//	r      r/<tenant>                               tenant, in cluster mode (tenantRecordKey)
//	m      m/sealed-contracts                       contract numbers and names are sealed (migrationKey)
//	w      w/rotate                                 scratch write that makes an erasure's flushes rotate the WAL (rotateKey)
//
// Contract and subject are references (event.TenantKeys.Ref), never the
// contract number or the account: neither the keys nor Pebble's MANIFEST,
// which records keys, hold personal data or contract numbers.

// key joins parts with '/'. Only the builders below call it.
func key(parts ...string) []byte {
	n := len(parts)
	for _, p := range parts {
		n += len(p)
	}
	b := make([]byte, 0, n)
	for i, p := range parts {
		if i > 0 {
			b = append(b, '/')
		}
		b = append(b, p...)
	}
	return b
}

// tableRange is the key range [t/, t0) of every key of one table.
func tableRange(table byte) [2][]byte { return [2][]byte{{table, '/'}, {table, '0'}} }

// indexHex is a leaf index as 16 hex digits, which sort as the numbers do.
func indexHex(i uint64) string {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], i)
	return hex.EncodeToString(b[:])
}

// timeHex is t's nanoseconds since 1970 in offset binary, 16 hex digits
// that sort as the times do (event.ParseEvents keeps times in 1970 to 2199).
func timeHex(t time.Time) string { return indexHex(uint64(t.UnixNano()) ^ 1<<63) }

// timeHexLen is the length of timeHex's result.
const timeHexLen = 16

// prefixEnd returns the first key after every key starting with p.
func prefixEnd(p []byte) []byte {
	end := append([]byte(nil), p...)
	for i := len(end) - 1; i >= 0; i-- {
		end[i]++
		if end[i] != 0 {
			return end[:i+1]
		}
	}
	return nil
}

// claimKey is where the claim of event id is stored.
func claimKey(tenant, id string) []byte { return key("i", tenant, id) }

// serverClaimsPrefix is the prefix of the claims of tenant's events the
// service wrote itself whose names start with name (recordServerEvent): a
// NUL sorts before every client id, so they come first.
func serverClaimsPrefix(tenant, name string) []byte { return claimKey(tenant, "\x00"+name) }

// pendingKeyOf is the key that marks the claim at claimKey k pending in
// the embedded store until finalize records its receipt
// (batch.insertPending, batch.setDone); recovery scans pendingKeys
// (Store.scanPending). PostgreSQL keeps the mark in the claim's row and
// has no such key (a table written before did: OpenPostgres converts it).
func pendingKeyOf(k []byte) []byte { return append([]byte{'p'}, k[1:]...) }

// claimKeyOf is the claim key a pending marker marks.
func claimKeyOf(pending []byte) []byte { return append([]byte{'i'}, pending[1:]...) }

// pendingKeys is the range of every pending marker.
var pendingKeys = tableRange('p')

// parseClaimKey returns the tenant and event id of a claim key.
func parseClaimKey(k []byte) (tenant, id string) {
	rest := string(k[2:])
	for i := 0; i < len(rest); i++ {
		if rest[i] == '/' {
			return rest[:i], rest[i+1:]
		}
	}
	return "", ""
}

// sealedKey is where the sealed record of the leaf at index is stored, as
// DESIGN.md says: keyed by index, records arrive in key order, in files of
// their own (sealedSpanPolicy) with their values in blob files written once.
// The leaf hash follows the index so that no lookup returns another leaf's
// record.
func sealedKey(index uint64, leafHash []byte) []byte {
	return key("S", indexHex(index), hex.EncodeToString(leafHash))
}

// sealedKeys is the range of every sealed record keyed by index.
var sealedKeys = tableRange('S')

// legacySealedKey is where a sealed record written before sealedKey is
// stored, by its leaf hash (hex).
func legacySealedKey(leafHashHex string) []byte { return key("s", leafHashHex) }

// subjectKeyKey is where the wrapped data key of subject is stored.
func subjectKeyKey(tenant, subject string) []byte { return key("k", tenant, subject) }

// shredKey marks an erased subject key whose deletion is not yet pushed
// through the store's files (see shredder).
func shredKey(tenant, subject string) []byte { return key("x", tenant, subject) }

// shredMarkerOf returns the shred marker of the subject key stored at k.
func shredMarkerOf(k []byte) []byte { return append([]byte("x"), k[1:]...) }

// subjectKeyOfMarker returns the subject key the shred marker m stands for.
func subjectKeyOfMarker(m []byte) []byte { return append([]byte("k"), m[1:]...) }

// shredMarkers is the key range of every shred marker.
var shredMarkers = tableRange('x')

// erasureKey records the erasure of subject's key keyID.
func erasureKey(tenant, subject, keyID string) []byte { return key("z", tenant, subject, keyID) }

// erasuresPrefix is the prefix of every erasure of subject.
func erasuresPrefix(tenant, subject string) []byte { return key("z", tenant, subject, "") }

// contractKeyOf is where the contract record of ref is stored; its value
// is sealed (sealContractRecord).
func contractKeyOf(tenant, ref string) []byte { return key("c", tenant, ref) }

// contractsPrefix is the prefix of every contract record of tenant.
func contractsPrefix(tenant string) []byte { return key("c", tenant, "") }

// contractRecords is the range of every contract record.
var contractRecords = tableRange('c')

// contractEventKey files the event at index under its contract ref.
func contractEventKey(tenant, ref string, index uint64) []byte {
	return key("e", tenant, ref, indexHex(index))
}

// contractEventsKey files the events of contract ref that one finalize
// transaction recorded, first to last index (storedEntries). Both indexes
// are in the key: a row never replaces another one's entries, even if an
// event were recorded twice (readers drop repeated indexes).
func contractEventsKey(tenant, ref string, first, last uint64) []byte {
	return key("e", tenant, ref, indexHex(first), indexHex(last))
}

// contractEventsPrefix is the prefix of every event of contract ref.
func contractEventsPrefix(tenant, ref string) []byte { return key("e", tenant, ref, "") }

// subjectEventKey files the event at index of a person outside any
// contract (identity checks, registrations) under the subject.
func subjectEventKey(tenant, subject string, index uint64) []byte {
	return key("u", tenant, subject, indexHex(index))
}

// subjectEventsKey files the events of subject outside contracts that one
// finalize transaction recorded, as contractEventsKey does.
func subjectEventsKey(tenant, subject string, first, last uint64) []byte {
	return key("u", tenant, subject, indexHex(first), indexHex(last))
}

// subjectEventsPrefix is the prefix of every event of subject outside
// contracts.
func subjectEventsPrefix(tenant, subject string) []byte { return key("u", tenant, subject, "") }

// accountContractKey files contract ref under an account (subject) that
// acted in it, for a search by account.
func accountContractKey(tenant, subject, ref string) []byte { return key("a", tenant, subject, ref) }

// accountContractsPrefix is the prefix of every contract of subject.
func accountContractsPrefix(tenant, subject string) []byte { return key("a", tenant, subject, "") }

// contractSubjectKey files a subject that acted in contract ref under it.
func contractSubjectKey(tenant, ref, subject string) []byte { return key("v", tenant, ref, subject) }

// contractSubjectsPrefix is the prefix of every subject of contract ref.
func contractSubjectsPrefix(tenant, ref string) []byte { return key("v", tenant, ref, "") }

// dateIndexKey files contract ref under the time of its first event.
func dateIndexKey(tenant string, first time.Time, ref string) []byte {
	return key("t", tenant, timeHex(first), ref)
}

// dateIndexPrefix is the prefix of tenant's date index.
func dateIndexPrefix(tenant string) []byte { return key("t", tenant, "") }

// dateIndexFrom is the first key of tenant's date index at or after t.
func dateIndexFrom(tenant string, t time.Time) []byte { return key("t", tenant, timeHex(t)) }

// nameIndexKey files contract ref under one prefix bucket of its name
// (nameBuckets), ordered by its first event's time: the bucket is a
// keyed hash, so neither the key nor Pebble's MANIFEST, which records
// keys, holds the name.
func nameIndexKey(tenant, bucket string, first time.Time, ref string) []byte {
	return key("N", tenant, bucket, timeHex(first), ref)
}

// nameBucketPrefix is the key prefix of one name bucket.
func nameBucketPrefix(tenant, bucket string) []byte { return key("N", tenant, bucket, "") }

// nameIndexPrefix is the prefix of tenant's whole name index.
func nameIndexPrefix(tenant string) []byte { return key("N", tenant, "") }

// legacyNameKey is the name index entry written before names were sealed,
// n/<tenant>/<lower-case name>\x00<contract>.
func legacyNameKey(tenant, lowerName, ref string) []byte {
	return append(key("n", tenant, lowerName), append([]byte{0}, ref...)...)
}

// legacyNameIndex is the range of the name index written before names were
// sealed. Open migrates it away.
var legacyNameIndex = tableRange('n')

// docIndexKey files the event at index of contract ref under a document
// hash (or event.ReportNumberKey), for LookupDocument and LookupReport.
func docIndexKey(sha256Hex, tenant, ref string, index uint64) []byte {
	return key("h", sha256Hex, tenant, ref, indexHex(index))
}

// docIndexPrefix is the prefix of every document index entry of a hash.
func docIndexPrefix(sha256Hex string) []byte { return key("h", sha256Hex, "") }

// docIndex is the range of the whole document index.
var docIndex = tableRange('h')

// documentKey is where the stored document sha256Hex of tenant is kept.
func documentKey(tenant, sha256Hex string) []byte { return key("d", tenant, sha256Hex) }

// tenantRecordKey is where a cluster keeps tenant id (storeTenants).
func tenantRecordKey(id string) []byte { return key("r", id) }

// tenantRecords is the range of every tenant record.
var tenantRecords = tableRange('r')

// migrationKey records that the store's contract numbers and names are
// sealed (migrateSealContracts).
var migrationKey = []byte("m/sealed-contracts")

// rotateKey is the scratch key compactRanges writes to rotate the WAL.
var rotateKey = []byte("w/rotate")
