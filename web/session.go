package web

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/cunzheng/cunzheng/evidence"
)

// Console sessions live in memory: a restart signs everyone out, which for
// a handful of legal users is cheaper than a second store of secrets. The
// map is keyed by the SHA-256 of the cookie value, so the values never sit
// in memory in a form that could be replayed from a heap dump. In cluster
// mode they live in the cluster's database instead (SessionBackend), keyed
// the same way, so that every process sees them and a restart keeps them.

// SessionBackend keeps console sessions outside the process, keyed by the
// SHA-256 of the cookie value; rec is the console's record of the session
// (who, its CSRF token), opaque to the backend. web/sessionpg is one, on
// PostgreSQL.
type SessionBackend interface {
	// Create stores a new session seen at now, then drops expired ones
	// (seen before idleBefore, or created before createdBefore) and,
	// beyond max, those idle longest.
	Create(ctx context.Context, key [32]byte, rec []byte, now, idleBefore, createdBefore time.Time, max int) error
	// Touch returns the record of session key if it is live (seen at or
	// after idleBefore, created at or after createdBefore) and marks it
	// seen at now.
	Touch(ctx context.Context, key [32]byte, now, idleBefore, createdBefore time.Time) (rec []byte, created time.Time, ok bool, err error)
	// Delete removes session key.
	Delete(ctx context.Context, key [32]byte) error
}

// sessionRec is what a SessionBackend stores of a session.
type sessionRec struct {
	Principal evidence.Principal `json:"principal"`
	CSRF      string             `json:"csrf"`
}

// backendTimeout bounds a SessionBackend call.
const backendTimeout = 5 * time.Second

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
	backend  SessionBackend // nil: byHash
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
func (s *sessionStore) create(p evidence.Principal) (string, *session, error) {
	if s.backend != nil {
		now := s.now()
		id := randomToken()
		ss := &session{Principal: p, CSRF: randomToken(), Created: now, Seen: now}
		rec, err := json.Marshal(sessionRec{Principal: p, CSRF: ss.CSRF})
		if err != nil {
			return "", nil, err
		}
		ctx, cancel := context.WithTimeout(context.Background(), backendTimeout)
		defer cancel()
		if err := s.backend.Create(ctx, sha256.Sum256([]byte(id)), rec, now, now.Add(-s.idle), now.Add(-s.absolute), s.max); err != nil {
			return "", nil, err
		}
		return id, ss, nil
	}
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
	return id, ss, nil
}

// get returns the live session of cookie value id and marks it seen. An
// error is the backend's: the caller cannot tell whether one exists.
func (s *sessionStore) get(id string) (*session, bool, error) {
	if id == "" {
		return nil, false, nil
	}
	if s.backend != nil {
		now := s.now()
		ctx, cancel := context.WithTimeout(context.Background(), backendTimeout)
		defer cancel()
		raw, created, ok, err := s.backend.Touch(ctx, sha256.Sum256([]byte(id)), now, now.Add(-s.idle), now.Add(-s.absolute))
		if err != nil || !ok {
			return nil, false, err
		}
		var rec sessionRec
		if err := json.Unmarshal(raw, &rec); err != nil {
			return nil, false, fmt.Errorf("web: a stored console session: %w", err)
		}
		return &session{Principal: rec.Principal, CSRF: rec.CSRF, Created: created, Seen: now}, true, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	s.sweepLocked(now, false)
	k := sha256.Sum256([]byte(id))
	ss, ok := s.byHash[k]
	if !ok {
		return nil, false, nil
	}
	if s.expired(ss, now) {
		delete(s.byHash, k)
		return nil, false, nil
	}
	ss.Seen = now
	cp := *ss
	return &cp, true, nil
}

func (s *sessionStore) delete(id string) error {
	if s.backend != nil {
		ctx, cancel := context.WithTimeout(context.Background(), backendTimeout)
		defer cancel()
		return s.backend.Delete(ctx, sha256.Sum256([]byte(id)))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.byHash, sha256.Sum256([]byte(id)))
	return nil
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
