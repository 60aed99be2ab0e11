package evidence

import "time"

// Named builders of the storage keys added since the key table on key()
// (service.go) was written; that table lists them too.

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
var shredMarkers = [2][]byte{[]byte("x/"), []byte("x0")}

// contractKeyOf is where the contract record of ref is stored; its value
// is sealed (sealContractRecord).
func contractKeyOf(tenant, ref string) []byte { return key("c", tenant, ref) }

// nameIndexKey files contract ref under one prefix bucket of its name
// (nameBuckets), ordered by its first event's time: the bucket is a
// keyed hash, so neither the key nor Pebble's MANIFEST, which records
// keys, holds the name.
func nameIndexKey(tenant, bucket string, first time.Time, ref string) []byte {
	return key("N", tenant, bucket, timeHex(first), ref)
}

// nameBucketPrefix is the key prefix of one name bucket.
func nameBucketPrefix(tenant, bucket string) []byte { return key("N", tenant, bucket, "") }

// docIndexPrefix is the prefix of every document index entry of a hash.
func docIndexPrefix(sha256Hex string) []byte { return key("h", sha256Hex, "") }

// docIndexKey files the event at index of contract ref under a document
// hash, for LookupDocument.
func docIndexKey(sha256Hex, tenant, ref string, index uint64) []byte {
	return key("h", sha256Hex, tenant, ref, indexHex(index))
}

// legacyNameIndex is the range of the name index written before names were
// sealed: n/<tenant>/<lower-case name>\x00<contract>. Open migrates it away.
var legacyNameIndex = [2][]byte{[]byte("n/"), []byte("n0")}

// migrationKey records that the store's contract numbers and names are
// sealed (migrateSealContracts).
var migrationKey = []byte("m/sealed-contracts")
