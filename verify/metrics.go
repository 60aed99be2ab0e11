//go:build !(js && wasm)

package verify

import (
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics counts verifications. Create it with NewMetrics; a nil *Metrics
// records nothing.
type Metrics struct {
	verifications *prometheus.CounterVec
	duration      prometheus.Histogram
}

// NewMetrics registers the verify metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		verifications: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "cunzheng", Subsystem: "verify", Name: "pdf_total",
			Help: "PDF verifications by outcome (an indication or an error class).",
		}, []string{"outcome"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "cunzheng", Subsystem: "verify", Name: "pdf_seconds",
			Help:    "Time to verify one PDF.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
		}),
	}
	reg.MustRegister(m.verifications, m.duration)
	return m
}

func (m *Metrics) observe(start time.Time, ind Indication, err error) {
	if m == nil {
		return
	}
	m.duration.Observe(time.Since(start).Seconds())
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
	m.verifications.WithLabelValues(outcome).Inc()
}
