package event

import (
	"errors"
	"fmt"
)

// ErrInvalidEvent: the body is not a valid event or batch, or a leaf is not
// a canonical public record (web answers 400). ParseEvents's error is a
// *ValidationError carrying the JSON path of the first problem.
var ErrInvalidEvent = errors.New("invalid event")

// ValidationError says where in the request body the first problem is, as a
// JSON path like $.events[3].data.positions[0].page.
type ValidationError struct {
	Path string
	Msg  string
}

func (e *ValidationError) Error() string { return fmt.Sprintf("%s: %s", e.Path, e.Msg) }

// Unwrap makes errors.Is(err, ErrInvalidEvent) hold.
func (e *ValidationError) Unwrap() error { return ErrInvalidEvent }

func invalid(path, format string, args ...any) *ValidationError {
	return &ValidationError{Path: path, Msg: fmt.Sprintf(format, args...)}
}
