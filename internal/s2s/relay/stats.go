package relay

import (
	"sync"

	"github.com/weir-nifi/weir/internal/metrics"
)

// counters are what this node moved through each port (not replicated:
// Prometheus sums them over the nodes).
type counters struct {
	mu    sync.Mutex
	ports map[string]*portCounters
}

type portCounters struct {
	flowFiles, bytes uint64
	outcomes         map[string]uint64
}

func (c *counters) add(port, outcome string, flowFiles, bytes int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ports == nil {
		c.ports = map[string]*portCounters{}
	}
	p := c.ports[port]
	if p == nil {
		p = &portCounters{outcomes: map[string]uint64{}}
		c.ports[port] = p
	}
	p.flowFiles += uint64(flowFiles)
	p.bytes += uint64(bytes)
	p.outcomes[outcome]++
}

var _ metrics.Ports = (*Relay)(nil)

// PortStats reports every port for the metrics (package metrics).
func (r *Relay) PortStats() []metrics.PortStats {
	ps, err := r.Status()
	if err != nil {
		r.opt.Log.Warn("site-to-site metrics: cannot read the ports", "err", err)
		return nil
	}
	r.stats.mu.Lock()
	defer r.stats.mu.Unlock()
	out := make([]metrics.PortStats, 0, len(ps))
	for _, p := range ps {
		s := metrics.PortStats{ID: p.ID, Name: p.Name, Kind: p.Kind, Queued: p.Queued, QueuedBytes: p.QueuedBytes,
			Leased: p.Leased, Staging: p.Staging, Expired: p.Expired, Outcomes: map[string]uint64{}}
		if c := r.stats.ports[p.ID]; c != nil {
			if p.Kind == "input" {
				s.FlowFilesIn, s.BytesIn = c.flowFiles, c.bytes
			} else {
				s.FlowFilesOut, s.BytesOut = c.flowFiles, c.bytes
			}
			for k, v := range c.outcomes {
				s.Outcomes[k] = v
			}
		}
		out = append(out, s)
	}
	return out
}
