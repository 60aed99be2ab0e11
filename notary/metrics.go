package notary

import "github.com/prometheus/client_golang/prometheus"

// metrics are the office's Prometheus metrics.
type metrics struct {
	requests     *prometheus.CounterVec
	alarms       *prometheus.CounterVec
	cosignedSize *prometheus.GaugeVec
	pulledSize   *prometheus.GaugeVec
	pulledLeaves prometheus.Counter
}

// newMetrics builds the metrics and registers them on reg when it is not nil.
func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cunzheng_notary_add_checkpoint_total",
			Help: "add-checkpoint requests by result.",
		}, []string{"result"}),
		alarms: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cunzheng_notary_alarms_total",
			Help: "Split-view alarms recorded, by kind.",
		}, []string{"kind"}),
		cosignedSize: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "cunzheng_notary_cosigned_size",
			Help: "Size of the latest checkpoint cosigned, by log origin.",
		}, []string{"origin"}),
		pulledSize: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "cunzheng_notary_pulled_size",
			Help: "Number of leaf hashes held from pull-mode sync, by log origin.",
		}, []string{"origin"}),
		pulledLeaves: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cunzheng_notary_pulled_leaves_total",
			Help: "Leaf hashes fetched and verified in pull mode.",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.requests, m.alarms, m.cosignedSize, m.pulledSize, m.pulledLeaves)
	}
	return m
}
