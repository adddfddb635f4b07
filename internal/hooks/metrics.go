package hooks

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/weir-nifi/weir/internal/events"
	"github.com/weir-nifi/weir/internal/store"
)

// metrics are the runner's Prometheus metrics; the gauges are read from
// the replicated state at scrape time, so every node reports them.
type metrics struct {
	r        *Runner
	attempts *prometheus.CounterVec
	seconds  *prometheus.HistogramVec
	dead     *prometheus.CounterVec
}

var (
	descEvents  = prometheus.NewDesc("weir_events_last_id", "The id of the newest event in the outbox.", nil, nil)
	descKept    = prometheus.NewDesc("weir_events_kept", "Events kept in the outbox (delivered ones until retention compacts them).", nil, nil)
	descPending = prometheus.NewDesc("weir_hook_pending_events", "Events after the hook's committed cursor: not yet delivered (or delivered since the last commit).", []string{"hook"}, nil)
	descDead    = prometheus.NewDesc("weir_hook_dead_letters", "Events the hook gave up on, waiting in the dead-letter list.", []string{"hook"}, nil)
)

func newMetrics(r *Runner) *metrics {
	return &metrics{
		r: r,
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "weir_hook_attempts_total",
			Help: "Delivery attempts by hook and result (ok or error), on the leader."}, []string{"hook", "result"}),
		seconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "weir_hook_attempt_seconds",
			Help: "Time of one delivery attempt by hook.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16)}, []string{"hook"}),
		dead: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "weir_hook_dead_lettered_total",
			Help: "Events moved to the dead-letter list by this node as leader."}, []string{"hook"}),
	}
}

func (m *metrics) sent(hook string, d time.Duration, err error) {
	res := "ok"
	if err != nil {
		res = "error"
	}
	m.attempts.WithLabelValues(hook, res).Inc()
	m.seconds.WithLabelValues(hook).Observe(d.Seconds())
}

func (m *metrics) deadLettered(hook string) { m.dead.WithLabelValues(hook).Inc() }

// Collector is the runner's metrics, for the node's registry.
func (r *Runner) Collector() prometheus.Collector { return r.met }

func (m *metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descEvents, descKept, descPending, descDead} {
		ch <- d
	}
	m.attempts.Describe(ch)
	m.seconds.Describe(ch)
	m.dead.Describe(ch)
}

func (m *metrics) Collect(ch chan<- prometheus.Metric) {
	m.attempts.Collect(ch)
	m.seconds.Collect(ch)
	m.dead.Collect(ch)
	_ = m.r.st.Read(func(tx *store.Tx) error {
		b := tx.Bolt()
		first, last := events.Range(b)
		ch <- prometheus.MustNewConstMetric(descEvents, prometheus.GaugeValue, float64(last))
		ch <- prometheus.MustNewConstMetric(descKept, prometheus.GaugeValue, float64(last+1-min(first, last+1)))
		dead, err := events.DeadLetters(b, "")
		if err != nil {
			return err
		}
		per := map[string]int{}
		for _, d := range dead {
			per[d.Hook]++
		}
		for _, h := range m.r.cfg.Hooks {
			c := events.Cursor(b, h.Name)
			ch <- prometheus.MustNewConstMetric(descPending, prometheus.GaugeValue, float64(last-min(c, last)), h.Name)
			ch <- prometheus.MustNewConstMetric(descDead, prometheus.GaugeValue, float64(per[h.Name]), h.Name)
		}
		return nil
	})
}
