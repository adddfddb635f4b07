package metrics

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/weir-nifi/weir/internal/api"
	"github.com/weir-nifi/weir/internal/backup"
	"github.com/weir-nifi/weir/internal/cluster"
	"github.com/weir-nifi/weir/internal/store"
)

// Path is where metrics are served.
const Path = api.Base + "/actuator/prometheus"

// Node is what the metrics read from the cluster node.
type Node interface {
	LocalStatus() cluster.LocalStatus
	IsLeader() bool
	LeaderChanges() uint64
	ReadBarriers() uint64
	ObservePropose(fn func(d time.Duration, err error))
}

// State is the local store.
type State interface {
	Read(fn func(*store.Tx) error) error
	Size() int64
}

// Backups reports the backup service's status.
type Backups interface {
	Status() backup.Status
}

// Metrics holds the registry and the instruments updated on the hot path.
type Metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	commit   *prometheus.HistogramVec
}

// Options say where the node's files are.
type Options struct {
	// DataDir is the node's data directory (Raft snapshots are read from
	// <DataDir>/raft/snapshots).
	DataDir string
	Now     func() time.Time
}

// New registers every metric. node, st and bk may be nil in tests of the
// middleware alone.
func New(node Node, st State, bk Backups, opts Options) *Metrics {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	reg := prometheus.NewRegistry()
	m := &Metrics{
		reg: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "weir_http_requests_total",
			Help: "HTTP requests by route pattern, method and status code.",
		}, []string{"route", "method", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "weir_http_request_duration_seconds",
			Help:    "HTTP request latency by route pattern, method and status code.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"route", "method", "code"}),
		commit: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "weir_commit_duration_seconds",
			Help:    "Replicated writes on the leader, from raft.Apply until committed by a quorum and applied here.",
			Buckets: []float64{.0005, .001, .002, .005, .01, .02, .05, .1, .2, .5, 1, 2, 5},
		}, []string{"result"}),
	}
	reg.MustRegister(m.requests, m.latency, m.commit,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if node != nil {
		node.ObservePropose(func(d time.Duration, err error) {
			res := "ok"
			if err != nil {
				res = "error"
			}
			m.commit.WithLabelValues(res).Observe(d.Seconds())
		})
		m.registerNode(node)
	}
	if st != nil {
		m.registerStore(st)
	}
	if bk != nil {
		m.registerBackups(bk, opts.Now)
	}
	if opts.DataDir != "" {
		m.registerSnapshots(filepath.Join(opts.DataDir, "raft", "snapshots"), opts.Now)
	}
	return m
}

// Registry is the private registry (tests gather from it).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the text exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

func gauge(name, help string, fn func() float64) prometheus.GaugeFunc {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, fn)
}

func (m *Metrics) registerNode(n Node) {
	m.reg.MustRegister(
		gauge("weir_raft_applied_index", "Index of the last Raft entry applied to this node's store.",
			func() float64 { return float64(n.LocalStatus().AppliedIndex) }),
		gauge("weir_raft_commit_index", "Highest Raft index this node knows to be committed.",
			func() float64 { return float64(n.LocalStatus().CommitIndex) }),
		gauge("weir_raft_apply_lag_entries", "Committed entries this node has not applied yet.",
			func() float64 {
				s := n.LocalStatus()
				if s.CommitIndex > s.AppliedIndex {
					return float64(s.CommitIndex - s.AppliedIndex)
				}
				return 0
			}),
		gauge("weir_raft_term", "Current Raft term.", func() float64 { return float64(n.LocalStatus().Term) }),
		gauge("weir_raft_leader", "1 if this node is the ready leader, else 0.", func() float64 { return b2f(n.IsLeader()) }),
		gauge("weir_raft_last_contact_seconds", "Time since a follower last heard from the leader (0 on the leader, -1 never).",
			func() float64 {
				ms := n.LocalStatus().LastContactMs
				if ms < 0 {
					return -1
				}
				return float64(ms) / 1000
			}),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "weir_raft_leader_changes_total",
			Help: "Leadership changes this node observed since it started."},
			func() float64 { return float64(n.LeaderChanges()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "weir_read_barriers_total",
			Help: "Read barriers this node took for linearizable reads: on a follower each is a round trip to the leader, on the leader a quorum round shared by the reads that arrive meanwhile."},
			func() float64 { return float64(n.ReadBarriers()) }),
	)
}

func (m *Metrics) registerStore(st State) {
	counts := func() (store.Counts, store.Maintenance) {
		var c store.Counts
		var mt store.Maintenance
		_ = st.Read(func(tx *store.Tx) error {
			c = tx.Counts()
			mt, _ = tx.Maintenance()
			return nil
		})
		return c, mt
	}
	m.reg.MustRegister(
		gauge("weir_store_size_bytes", "Size of the store file (state.db).", func() float64 { return float64(st.Size()) }),
		gauge("weir_registry_buckets", "Buckets in the registry.", func() float64 { c, _ := counts(); return float64(c.Buckets) }),
		gauge("weir_registry_flows", "Flows in the registry.", func() float64 { c, _ := counts(); return float64(c.Flows) }),
		gauge("weir_registry_versions", "Flow versions in the registry.", func() float64 { c, _ := counts(); return float64(c.Versions) }),
		gauge("weir_maintenance_enabled", "1 while maintenance mode refuses writes cluster-wide, else 0.",
			func() float64 { _, mt := counts(); return b2f(mt.On) }),
		gauge("weir_maintenance_changed_timestamp_seconds", "When maintenance mode was last switched (0 if never).",
			func() float64 { _, mt := counts(); return float64(mt.Since) / 1000 }),
	)
}

func (m *Metrics) registerBackups(bk Backups, now func() time.Time) {
	last := func() (backup.Status, bool) {
		s := bk.Status()
		return s, s.Last != nil
	}
	m.reg.MustRegister(
		gauge("weir_backup_last_index", "Raft index of the newest backup (0 if none).", func() float64 {
			if s, ok := last(); ok {
				return float64(s.Last.Index)
			}
			return 0
		}),
		gauge("weir_backup_last_timestamp_seconds", "When the newest backup was taken (0 if none).", func() float64 {
			if s, ok := last(); ok {
				return float64(s.Last.CreatedAt.UnixMilli()) / 1000
			}
			return 0
		}),
		gauge("weir_backup_age_seconds", "Age of the newest backup (-1 if none).", func() float64 {
			if s, ok := last(); ok {
				return now().Sub(s.Last.CreatedAt).Seconds()
			}
			return -1
		}),
		gauge("weir_backup_last_size_bytes", "Size of the newest backup file (0 if none).", func() float64 {
			s, _ := last()
			return float64(s.LastSize)
		}),
		gauge("weir_backup_last_duration_seconds", "How long the newest backup took.", func() float64 {
			s, _ := last()
			return s.LastTook.Seconds()
		}),
		&outcomes{bk: bk, desc: prometheus.NewDesc("weir_backups_total",
			"Backups taken by this node, by kind (scheduled, requested, download) and result (ok, error, skipped).",
			[]string{"kind", "result"}, nil)},
	)
}

// outcomes exports the service's counters as one labelled counter.
type outcomes struct {
	bk   Backups
	desc *prometheus.Desc
}

func (o *outcomes) Describe(ch chan<- *prometheus.Desc) { ch <- o.desc }

func (o *outcomes) Collect(ch chan<- prometheus.Metric) {
	s := o.bk.Status()
	for _, kind := range []string{backup.KindScheduled, backup.KindRequested, backup.KindDownload} {
		ch <- prometheus.MustNewConstMetric(o.desc, prometheus.CounterValue, float64(s.Succeeded[kind]), kind, "ok")
		ch <- prometheus.MustNewConstMetric(o.desc, prometheus.CounterValue, float64(s.Failed[kind]), kind, "error")
	}
	ch <- prometheus.MustNewConstMetric(o.desc, prometheus.CounterValue, float64(s.Skipped), backup.KindScheduled, "skipped")
}

// registerSnapshots reports the newest Raft snapshot from its directory:
// hashicorp/raft names each one term-index-millis and keeps meta.json
// (with Index and Size) in it.
func (m *Metrics) registerSnapshots(dir string, now func() time.Time) {
	type meta struct {
		Index uint64
		Size  int64
	}
	newest := func() (meta, time.Time, bool) {
		ents, err := os.ReadDir(dir)
		if err != nil {
			return meta{}, time.Time{}, false
		}
		var best meta
		var at time.Time
		found := false
		for _, e := range ents {
			parts := strings.Split(e.Name(), "-")
			if !e.IsDir() || len(parts) != 3 || strings.HasSuffix(e.Name(), ".tmp") {
				continue
			}
			b, err := os.ReadFile(filepath.Join(dir, e.Name(), "meta.json"))
			if err != nil {
				continue
			}
			var mt meta
			if json.Unmarshal(b, &mt) != nil {
				continue
			}
			if !found || mt.Index > best.Index {
				ms, _ := strconv.ParseInt(parts[2], 10, 64)
				best, at, found = mt, time.UnixMilli(ms), true
			}
		}
		return best, at, found
	}
	m.reg.MustRegister(
		gauge("weir_raft_snapshot_last_index", "Raft index of the newest local snapshot (0 if none).", func() float64 {
			mt, _, _ := newest()
			return float64(mt.Index)
		}),
		gauge("weir_raft_snapshot_size_bytes", "Size of the newest local Raft snapshot (0 if none).", func() float64 {
			mt, _, _ := newest()
			return float64(mt.Size)
		}),
		gauge("weir_raft_snapshot_age_seconds", "Age of the newest local Raft snapshot (-1 if none).", func() float64 {
			_, at, ok := newest()
			if !ok {
				return -1
			}
			return now().Sub(at).Seconds()
		}),
	)
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
