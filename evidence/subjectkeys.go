package evidence

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sync/atomic"

	"github.com/cunzheng/cunzheng/evidence/event"
)

// subjectKey is a data subject's unwrapped data key (event.SubjectKey) as
// the service holds it: with its wrapped form, which the first batch using
// it stores.
type subjectKey struct {
	event.SubjectKey
	wrapped   []byte
	persisted atomic.Bool // the wrapped key is durably in the store
}

// newSubjectKey derives the subject's cipher keys from its data key.
func newSubjectKey(subject, id string, dek, wrapped []byte) *subjectKey {
	return &subjectKey{SubjectKey: event.NewSubjectKey(subject, id, dek), wrapped: wrapped}
}

type storedSubjectKey struct {
	KeyID   string `json:"key_id"`
	Wrapped []byte `json:"wrapped"`
}

func subjectAD(tenant, subject string) []byte {
	return []byte("cunzheng subject key v1\x00" + tenant + "\x00" + subject)
}

// subjectKeyFor returns the data key of subject, from the cache or the
// store, creating it when create is set. A created key is not yet durable:
// the caller writes it in its own synced batch (commitPending) and every
// batch using a not-yet-persisted key writes it again, so that a failed
// first batch cannot leave a later one with a key that was never stored.
//
// On a shared store another process may have erased the subject, or
// stored the subject's first key. Reading (create false) then checks the
// store every time: a cached key is reused only while the store still
// holds it. Ingest (create true) trusts the cache, because commitPending
// commits only if every key it used is still stored unchanged (and new
// ones still absent); on a conflict it forgets them and reads again.
//
// unstored says the caller has just read the store and found no key for
// the subject (cacheSubjects): with create, a new key is made without
// reading again.
func (s *Service) subjectKeyFor(ts *tenantState, subject string, create, unstored bool) (*subjectKey, error) {
	ck := ts.ID + "/" + subject
	shared := s.store.shared()
	s.subjMu.Lock()
	cached, ok := s.subjects[ck]
	s.subjMu.Unlock()
	if ok && (!shared || create || !cached.persisted.Load()) {
		return cached, nil
	}
	if !ok && create && unstored {
		sk, err := createSubjectKey(ts, subject)
		if err != nil {
			return nil, err
		}
		s.subjMu.Lock()
		defer s.subjMu.Unlock()
		if cur, ok := s.subjects[ck]; ok {
			return cur, nil // another request made one meanwhile
		}
		s.cacheSubject(ck, sk)
		return sk, nil
	}
	var st storedSubjectKey
	found, err := s.get(subjectKeyKey(ts.ID, subject), &st)
	if err != nil {
		return nil, err
	}
	s.subjMu.Lock()
	defer s.subjMu.Unlock()
	if cur, ok := s.subjects[ck]; ok && (!shared || !cur.persisted.Load() || found && cur.ID == st.KeyID) {
		return cur, nil
	}
	if found {
		sk, err := openStoredSubjectKey(ts, subject, st)
		if err != nil {
			return nil, err
		}
		s.cacheSubject(ck, sk)
		return sk, nil
	}
	// Erased elsewhere: the cached copy must go.
	delete(s.subjects, ck)
	if !create {
		return nil, nil
	}
	sk, err := createSubjectKey(ts, subject)
	if err != nil {
		return nil, err
	}
	s.cacheSubject(ck, sk)
	return sk, nil
}

// openStoredSubjectKey unwraps a subject's stored data key with the tenant
// key: a key read back from the store, so already persisted.
func openStoredSubjectKey(ts *tenantState, subject string, st storedSubjectKey) (*subjectKey, error) {
	dek, err := event.OpenWith(ts.KEKAEAD, event.AlgAES256GCM, st.Wrapped, subjectAD(ts.ID, subject))
	if err != nil {
		return nil, fmt.Errorf("evidence: unwrapping subject key: %w", err)
	}
	sk := newSubjectKey(subject, st.KeyID, dek, st.Wrapped)
	sk.persisted.Store(true)
	return sk, nil
}

// createSubjectKey makes a new data key for subject, wrapped by the
// tenant key. It is stored by the first batch that uses it.
func createSubjectKey(ts *tenantState, subject string) (*subjectKey, error) {
	dek, err := event.NewKey()
	if err != nil {
		return nil, err
	}
	wrapped, err := event.SealWith(ts.KEKAEAD, event.AlgAES256GCM, dek, subjectAD(ts.ID, subject))
	if err != nil {
		return nil, err
	}
	idb := make([]byte, 8)
	if _, err := rand.Read(idb); err != nil {
		return nil, fmt.Errorf("evidence: key id: %w", err)
	}
	return newSubjectKey(subject, hex.EncodeToString(idb), dek, wrapped), nil
}

// uncachedSubjects returns the store keys of the subjects whose data key
// is not cached.
func (s *Service) uncachedSubjects(ts *tenantState, subjects []string) [][]byte {
	var keys [][]byte
	seen := map[string]bool{}
	s.subjMu.Lock()
	defer s.subjMu.Unlock()
	for _, subj := range subjects {
		if _, ok := s.subjects[ts.ID+"/"+subj]; !ok && !seen[subj] {
			seen[subj] = true
			keys = append(keys, subjectKeyKey(ts.ID, subj))
		}
	}
	return keys
}

// cacheSubjects caches the stored subject keys among keys found in values
// (read together with the claims), so that subjectKeyFor (with create,
// which trusts the cache) finds them there. It returns the subjects the
// read found without a key, for which ingest can create one without
// reading again.
func (s *Service) cacheSubjects(ts *tenantState, keys [][]byte, values map[string][]byte) (unstored map[string]bool, err error) {
	s.subjMu.Lock()
	defer s.subjMu.Unlock()
	prefix := len(subjectKeyKey(ts.ID, ""))
	for _, k := range keys {
		subject := string(k[prefix:])
		v, found := values[string(k)]
		if !found {
			if unstored == nil {
				unstored = map[string]bool{}
			}
			unstored[subject] = true
			continue
		}
		ck := ts.ID + "/" + subject
		if _, ok := s.subjects[ck]; ok {
			continue // another request cached it meanwhile
		}
		var st storedSubjectKey
		if err := decodeValue(k, v, &st); err != nil {
			return nil, err
		}
		sk, err := openStoredSubjectKey(ts, subject, st)
		if err != nil {
			return nil, err
		}
		s.cacheSubject(ck, sk)
	}
	return unstored, nil
}

// forgetSubjects drops cached keys a conflicting batch used: created here
// but beaten by another process's key for the subject, or erased by
// another process. The retry reads the store.
func (s *Service) forgetSubjects(ts *tenantState, keys []*subjectKey) {
	s.subjMu.Lock()
	defer s.subjMu.Unlock()
	for _, sk := range keys {
		ck := ts.ID + "/" + sk.Subject
		if cur := s.subjects[ck]; cur == sk {
			delete(s.subjects, ck)
		}
	}
}

// maxCachedSubjects bounds the key cache; past it the cache starts over.
// It is kept small for the reason maxCachedContracts gives, and so that
// less unwrapped key material sits in memory.
const maxCachedSubjects = 20_000

func (s *Service) cacheSubject(ck string, sk *subjectKey) {
	if len(s.subjects) >= maxCachedSubjects {
		for k, v := range s.subjects {
			if v.persisted.Load() {
				delete(s.subjects, k)
			}
		}
	}
	s.subjects[ck] = sk
}
