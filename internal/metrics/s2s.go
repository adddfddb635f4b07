package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// PortStats is one site-to-site port as the relay reports it: the state of
// its queue (replicated, the same on every node) and what this node moved
// through it (local counters).
type PortStats struct {
	ID, Name, Kind string
	Queued         int64
	QueuedBytes    int64
	Leased         int64
	Staging        int
	// Expired counts the flowfiles retention removed (replicated).
	Expired int64
	// In counts flowfiles and bytes committed by pushes through this node;
	// Out those acknowledged by pulls through it.
	FlowFilesIn, BytesIn   uint64
	FlowFilesOut, BytesOut uint64
	// Outcomes counts this node's transactions by how they ended.
	Outcomes map[string]uint64
}

// Ports is the source of site-to-site metrics (package relay).
type Ports interface {
	PortStats() []PortStats
	// ObserveStage registers fn to be told how long each step of staging
	// a pushed chunk took on this node.
	ObserveStage(fn func(step string, d time.Duration))
}

// RegisterPorts adds the site-to-site metrics, read at each scrape, and
// the histogram of the steps that stage a pushed chunk.
func (m *Metrics) RegisterPorts(p Ports) {
	stage := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "weir_s2s_stage_seconds",
		Help: "Steps of staging one chunk of a site-to-site push on the node that received it: " +
			"local (its file written here), majority (its file on a majority of the voters, this node's copy included), " +
			"propose (its chunk or reference committed through the log and applied here).",
		Buckets: []float64{.0005, .001, .002, .005, .01, .02, .05, .1, .2, .5, 1, 2, 5},
	}, []string{"step"})
	m.reg.MustRegister(&portCollector{p: p}, stage)
	p.ObserveStage(func(step string, d time.Duration) { stage.WithLabelValues(step).Observe(d.Seconds()) })
}

var (
	descQueued = prometheus.NewDesc("weir_s2s_queued_flowfiles",
		"Flowfiles queued behind a site-to-site port (leased ones included), as this node's replica has them.", []string{"port", "kind"}, nil)
	descQueuedBytes = prometheus.NewDesc("weir_s2s_queued_bytes",
		"Content bytes queued behind a site-to-site port.", []string{"port", "kind"}, nil)
	descLeased = prometheus.NewDesc("weir_s2s_leased_flowfiles",
		"Flowfiles handed to a pull that has not confirmed them yet (a shared port's leases are the leader's memory: only the leader counts them).", []string{"port", "kind"}, nil)
	descStaging = prometheus.NewDesc("weir_s2s_staging_transactions",
		"Pushes to an input port staged but neither committed nor dropped.", []string{"port", "kind"}, nil)
	descExpired = prometheus.NewDesc("weir_s2s_expired_flowfiles_total",
		"Flowfiles removed from a site-to-site queue because they outlived the port's retention age (the same on every node).", []string{"port", "kind"}, nil)
	descFlowFiles = prometheus.NewDesc("weir_s2s_flowfiles_total",
		"Flowfiles committed by pushes (in) and confirmed by pulls (out) through this node.", []string{"port", "direction"}, nil)
	descBytes = prometheus.NewDesc("weir_s2s_bytes_total",
		"Content bytes committed by pushes (in) and confirmed by pulls (out) through this node.", []string{"port", "direction"}, nil)
	descOutcomes = prometheus.NewDesc("weir_s2s_transactions_total",
		"Site-to-site transactions through this node by outcome (committed, backoff, discarded, commit_failed, acked, released, ack_failed).", []string{"port", "outcome"}, nil)
)

type portCollector struct{ p Ports }

func (c *portCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descQueued, descQueuedBytes, descLeased, descStaging, descExpired, descFlowFiles, descBytes, descOutcomes} {
		ch <- d
	}
}

func (c *portCollector) Collect(ch chan<- prometheus.Metric) {
	for _, s := range c.p.PortStats() {
		g := func(d *prometheus.Desc, v float64) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, s.Name, s.Kind)
		}
		g(descQueued, float64(s.Queued))
		g(descQueuedBytes, float64(s.QueuedBytes))
		g(descLeased, float64(s.Leased))
		g(descStaging, float64(s.Staging))
		ch <- prometheus.MustNewConstMetric(descExpired, prometheus.CounterValue, float64(s.Expired), s.Name, s.Kind)
		cnt := func(d *prometheus.Desc, v uint64, label string) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), s.Name, label)
		}
		switch s.Kind {
		case "input":
			cnt(descFlowFiles, s.FlowFilesIn, "in")
			cnt(descBytes, s.BytesIn, "in")
		case "output":
			cnt(descFlowFiles, s.FlowFilesOut, "out")
			cnt(descBytes, s.BytesOut, "out")
		}
		for o, v := range s.Outcomes {
			cnt(descOutcomes, v, o)
		}
	}
}
