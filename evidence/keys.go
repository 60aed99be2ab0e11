package evidence

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
