package web

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"sync"
	"time"

	"github.com/cunzheng/cunzheng/evidence"
)

// Console sessions live in memory: a restart signs everyone out, which for
// a handful of legal users is cheaper than a second store of secrets. The
// map is keyed by the SHA-256 of the cookie value, so the values never sit
// in memory in a form that could be replayed from a heap dump.

// session is one signed-in legal user.
type session struct {
	Principal evidence.Principal
	// CSRF is the token every console form carries (synchronizer token).
	CSRF    string
	Created time.Time
	Seen    time.Time
}

type sessionStore struct {
	mu       sync.Mutex // guards byHash and sweep
	byHash   map[[32]byte]*session
	idle     time.Duration
	absolute time.Duration
	max      int
	now      func() time.Time
	sweep    time.Time
}

func newSessionStore(idle, absolute time.Duration, max int, now func() time.Time) *sessionStore {
	return &sessionStore{byHash: map[[32]byte]*session{}, idle: idle, absolute: absolute, max: max, now: now}
}

// randomToken is 32 random bytes, URL-safe.
func randomToken() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// create starts a session for p and returns the cookie value.
func (s *sessionStore) create(p evidence.Principal) (string, *session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	s.sweepLocked(now, true)
	if len(s.byHash) >= s.max {
		// Full of live sessions: drop the one idle longest rather than
		// refuse a legitimate sign-in.
		var oldest [32]byte
		var seen time.Time
		for k, v := range s.byHash {
			if seen.IsZero() || v.Seen.Before(seen) {
				oldest, seen = k, v.Seen
			}
		}
		delete(s.byHash, oldest)
	}
	id := randomToken()
	ss := &session{Principal: p, CSRF: randomToken(), Created: now, Seen: now}
	s.byHash[sha256.Sum256([]byte(id))] = ss
	return id, ss
}

// get returns the live session of cookie value id and marks it seen.
func (s *sessionStore) get(id string) (*session, bool) {
	if id == "" {
		return nil, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	s.sweepLocked(now, false)
	k := sha256.Sum256([]byte(id))
	ss, ok := s.byHash[k]
	if !ok {
		return nil, false
	}
	if s.expired(ss, now) {
		delete(s.byHash, k)
		return nil, false
	}
	ss.Seen = now
	cp := *ss
	return &cp, true
}

func (s *sessionStore) delete(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.byHash, sha256.Sum256([]byte(id)))
}

func (s *sessionStore) expired(ss *session, now time.Time) bool {
	return now.Sub(ss.Seen) > s.idle || now.Sub(ss.Created) > s.absolute
}

// sweepLocked drops expired sessions at most once a minute (or now when
// force), so the map only holds live ones.
func (s *sessionStore) sweepLocked(now time.Time, force bool) {
	if !force && now.Sub(s.sweep) < time.Minute {
		return
	}
	s.sweep = now
	for k, v := range s.byHash {
		if s.expired(v, now) {
			delete(s.byHash, k)
		}
	}
}

func (s *sessionStore) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.byHash)
}

// tokenEqual compares a submitted token with the expected one in constant
// time; an empty expected token never matches.
func tokenEqual(got, want string) bool {
	return want != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}
