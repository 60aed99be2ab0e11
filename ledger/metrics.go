package ledger

import "github.com/prometheus/client_golang/prometheus"

// metrics are the ledger's Prometheus metrics.
type metrics struct {
	appended       prometheus.Counter
	duplicates     prometheus.Counter
	pushbacks      prometheus.Counter
	storageErrors  prometheus.Counter
	paused         prometheus.Gauge
	checkpoints    prometheus.Counter
	batchLeaves    prometheus.Histogram
	appendSeconds  prometheus.Histogram
	commitSeconds  prometheus.Histogram
	treeSize       prometheus.Gauge
	checkpointSize prometheus.Gauge
	checkpointAge  prometheus.Gauge
	leaseHeld      prometheus.Gauge   // cluster mode
	leaseLost      prometheus.Counter // cluster mode
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		appended: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cunzheng_ledger_appended_leaves_total", Help: "Leaves appended to the log (not counting duplicates).",
		}),
		duplicates: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cunzheng_ledger_duplicate_leaves_total", Help: "Appends answered with an existing leaf's index.",
		}),
		pushbacks: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cunzheng_ledger_pushbacks_total", Help: "Appends refused because the queue was full.",
		}),
		storageErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cunzheng_ledger_storage_errors_total", Help: "Storage failures that paused appends.",
		}),
		paused: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "cunzheng_ledger_appends_paused", Help: "1 while a storage failure (a full disk) pauses appends.",
		}),
		checkpoints: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cunzheng_ledger_checkpoints_total", Help: "Checkpoints signed and published.",
		}),
		batchLeaves: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "cunzheng_ledger_batch_leaves", Help: "New leaves per group commit.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 14),
		}),
		appendSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "cunzheng_ledger_integration_seconds", Help: "Time from queueing an append to it being durable and integrated.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16),
		}),
		commitSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "cunzheng_ledger_commit_seconds", Help: "Time of one synced store commit.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16),
		}),
		treeSize: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "cunzheng_ledger_tree_size", Help: "Durable, integrated tree size.",
		}),
		checkpointSize: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "cunzheng_ledger_checkpoint_size", Help: "Tree size of the newest published checkpoint.",
		}),
		checkpointAge: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "cunzheng_ledger_checkpoint_age_seconds", Help: "Age of the newest published checkpoint.",
		}),
		leaseHeld: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "cunzheng_ledger_lease_held", Help: "Cluster mode: 1 while this process holds the integration lease.",
		}),
		leaseLost: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cunzheng_ledger_lease_lost_total", Help: "Cluster mode: integration tenures that ended other than by shutdown (lapsed, fenced, taken over).",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.appended, m.duplicates, m.pushbacks, m.storageErrors, m.paused, m.checkpoints,
			m.batchLeaves, m.appendSeconds, m.commitSeconds, m.treeSize, m.checkpointSize, m.checkpointAge, m.leaseHeld, m.leaseLost)
	}
	return m
}
