package notary

import (
	"errors"
	"fmt"
)

// Errors returned by the Office. web maps each to the HTTP status that C2SP
// tlog-witness requires (https://c2sp.org/tlog-witness#add-checkpoint).
var (
	// ErrMalformed is a request the office cannot parse (400).
	ErrMalformed = errors.New("notary: malformed request")
	// ErrUnknownLog is a checkpoint whose origin the office is not
	// configured for (404).
	ErrUnknownLog = errors.New("notary: unknown log origin")
	// ErrBadSignature is a checkpoint with no valid signature from a key the
	// office trusts for its origin (403).
	ErrBadSignature = errors.New("notary: no valid log signature")
	// ErrBadProof is a consistency proof that does not verify (422).
	ErrBadProof = errors.New("notary: consistency proof does not verify")
	// ErrConflict is matched by every *ConflictError (409).
	ErrConflict = errors.New("notary: checkpoint conflicts with the cosigned one")
	// ErrNotFound is a fingerprint or state the office does not hold (404).
	ErrNotFound = errors.New("notary: not found")
	// ErrClosed is any use of a closed Office (503).
	ErrClosed = errors.New("notary: office closed")
	// ErrBadTimestampQuery is an RFC 3161 request the TSA cannot parse or
	// will not serve (400).
	ErrBadTimestampQuery = errors.New("notary: bad time-stamp query")
)

// ConflictError is a 409 answer: the old size in the request is not the size
// of the latest checkpoint the office cosigned for that origin, or a
// checkpoint of the same size has a different root. Size is that latest
// cosigned size, which the spec puts in the response body.
type ConflictError struct {
	Origin string
	Size   uint64
	// Fork is set when the office holds a different checkpoint of the same
	// size: proof of a split view, recorded as an alarm.
	Fork bool
}

func (e *ConflictError) Error() string {
	if e.Fork {
		return fmt.Sprintf("notary: %s: a different checkpoint of this size was already cosigned (latest cosigned size %d)", e.Origin, e.Size)
	}
	return fmt.Sprintf("notary: %s: old size does not match the latest cosigned size %d", e.Origin, e.Size)
}

// Is makes errors.Is(err, ErrConflict) true for every ConflictError.
func (e *ConflictError) Is(target error) bool { return target == ErrConflict }
