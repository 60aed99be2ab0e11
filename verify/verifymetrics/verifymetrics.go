// Package verifymetrics counts PDF verifications in Prometheus: the
// server's verify.Observer. It lives apart from package verify so that the
// offline verifier (cmd/cunzheng-verify) and the browser's module do not
// link the Prometheus client, whose initialisation alone cost a one-file
// `verify pdf` process more CPU than the verification.
package verifymetrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cunzheng/cunzheng/verify"
)

// Metrics counts verifications by outcome and times them.
type Metrics struct {
	verifications *prometheus.CounterVec
	duration      prometheus.Histogram
}

var _ verify.Observer = (*Metrics)(nil)

// New registers the verify metrics on reg.
func New(reg prometheus.Registerer) *Metrics {
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

// ObserveVerification implements verify.Observer.
func (m *Metrics) ObserveVerification(took time.Duration, outcome string) {
	m.duration.Observe(took.Seconds())
	m.verifications.WithLabelValues(outcome).Inc()
}
