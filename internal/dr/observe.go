package dr

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/weir-nifi/weir/internal/command"
	"github.com/weir-nifi/weir/internal/ops"
)

// Health statuses of the "dr" component. They are not Spring Boot's, so
// they do not lower the aggregate: a standby serves reads, and a lagging
// one still does.
const (
	StatusStandby = "STANDBY" // following, within LagBound
	StatusLagging = "LAGGING" // following, behind by more than LagBound, or not reaching the primary
	StatusFenced  = "FENCED"  // replaced as primary: refuses writes
)

// LagBound is the lag (seconds) past which a standby reports LAGGING.
const LagBound = 30.0

// Health is the "dr" component of the health document.
func (d *DR) Health() ops.Component {
	s, err := d.State()
	if err != nil {
		return ops.Component{Status: ops.StatusDown, Details: err.Error()}
	}
	st := Status{DRState: s, Role: s.RoleName()}
	switch s.RoleName() {
	case command.RoleStandby:
		if !d.n.IsLeader() {
			return ops.Component{Status: StatusStandby, Details: st}
		}
		l := d.LagNow()
		st.Lag = &l
		if l.Seconds > LagBound || l.Error != "" || s.NeedsSeed {
			return ops.Component{Status: StatusLagging, Details: st}
		}
		return ops.Component{Status: StatusStandby, Details: st}
	case command.RoleFenced:
		return ops.Component{Status: StatusFenced, Details: st}
	}
	return ops.Component{Status: ops.StatusUp, Details: st}
}

var (
	descRole       = prometheus.NewDesc("weir_dr_role", "The cluster's DR role (1 for the one it has).", []string{"role"}, nil)
	descEpoch      = prometheus.NewDesc("weir_dr_epoch", "The DR epoch (raised by each promotion).", nil, nil)
	descIndex      = prometheus.NewDesc("weir_dr_primary_index", "A standby: the primary's log index its state stands at.", nil, nil)
	descLagEntries = prometheus.NewDesc("weir_dr_lag_entries", "A standby's leader: log entries the primary had applied at its last answer that this standby has not.", nil, nil)
	descLagSeconds = prometheus.NewDesc("weir_dr_lag_seconds", "A standby's leader: how long it has been behind the primary (0 when caught up): the data at risk.", nil, nil)
)

type collector struct{ d *DR }

// Collector exports the DR role and, on a standby's leader, its lag.
func (d *DR) Collector() prometheus.Collector { return collector{d} }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descRole, descEpoch, descIndex, descLagEntries, descLagSeconds} {
		ch <- d
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	s, err := c.d.State()
	if err != nil {
		return
	}
	for _, r := range []string{command.RolePrimary, command.RoleStandby, command.RoleFenced} {
		v := 0.0
		if s.RoleName() == r {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(descRole, prometheus.GaugeValue, v, r)
	}
	ch <- prometheus.MustNewConstMetric(descEpoch, prometheus.GaugeValue, float64(s.Epoch))
	if s.RoleName() != command.RoleStandby {
		return
	}
	ch <- prometheus.MustNewConstMetric(descIndex, prometheus.GaugeValue, float64(s.Index))
	if c.d.n.IsLeader() {
		l := c.d.LagNow()
		ch <- prometheus.MustNewConstMetric(descLagEntries, prometheus.GaugeValue, float64(l.Entries))
		ch <- prometheus.MustNewConstMetric(descLagSeconds, prometheus.GaugeValue, l.Seconds)
	}
}
