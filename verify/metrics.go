package verify

import (
	"errors"
	"time"
)

// Observer is told of every verification (Options.Metrics): how long it took
// and its outcome, the report's Indication or, when the input could not be
// judged, "too_large", "not_pdf", "deadline" or "error". It must be safe for
// concurrent use. The server's, counting in Prometheus, is
// verify/verifymetrics; package verify itself links no metrics library.
type Observer interface {
	ObserveVerification(took time.Duration, outcome string)
}

// observe tells o, when set, of one verification.
func observe(o Observer, start time.Time, ind Indication, err error) {
	if o == nil {
		return
	}
	outcome := string(ind)
	switch {
	case errors.Is(err, ErrTooLarge):
		outcome = "too_large"
	case errors.Is(err, ErrNotPDF):
		outcome = "not_pdf"
	case errors.Is(err, ErrDeadline):
		outcome = "deadline"
	case err != nil:
		outcome = "error"
	}
	o.ObserveVerification(time.Since(start), outcome)
}
