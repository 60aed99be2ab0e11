package evidence

import "github.com/prometheus/client_golang/prometheus"

// metrics are the package's Prometheus metrics.
type metrics struct {
	events     prometheus.Counter
	duplicates prometheus.Counter
	rejected   prometheus.Counter
	erasures   prometheus.Counter
	documents  prometheus.Counter
	conflicts  prometheus.Counter
	duration   prometheus.Histogram
	// finalizeGroup is the events of concurrent requests indexed in one
	// transaction (finalizeGrouped).
	finalizeGroup prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		events: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cunzheng_evidence_events_total", Help: "Events recorded (new leaves)."}),
		duplicates: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cunzheng_evidence_duplicate_events_total", Help: "Retried event ids answered with their first receipt."}),
		rejected: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cunzheng_evidence_rejected_requests_total", Help: "Ingest requests rejected as invalid or conflicting."}),
		erasures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cunzheng_evidence_erasures_total", Help: "Subject keys destroyed."}),
		documents: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cunzheng_evidence_documents_stored_total", Help: "Documents stored encrypted."}),
		conflicts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cunzheng_evidence_write_conflicts_total", Help: "Writes retried after another request or process wrote the same claim or key first."}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "cunzheng_evidence_ingest_seconds", Help: "Time to validate, seal, append and index one ingest request.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14)}),
		finalizeGroup: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "cunzheng_evidence_finalize_group_events", Help: "Events of concurrent requests indexed in one transaction.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 13)}),
	}
	if reg != nil {
		reg.MustRegister(m.events, m.duplicates, m.rejected, m.erasures, m.documents, m.conflicts, m.duration, m.finalizeGroup)
	}
	return m
}
