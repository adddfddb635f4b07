package ops

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/weir-nifi/weir/internal/api"
	"github.com/weir-nifi/weir/internal/cluster"
	"github.com/weir-nifi/weir/internal/command"
	"github.com/weir-nifi/weir/internal/disk"
	"github.com/weir-nifi/weir/internal/httpwire"
	"github.com/weir-nifi/weir/internal/store"
)

// Spring Boot's status codes.
const (
	StatusUp           = "UP"
	StatusDown         = "DOWN"
	StatusOutOfService = "OUT_OF_SERVICE"
	// StatusReadOnly is the maintenance component's status while writes
	// are refused. Like a custom Spring Boot status it does not change the
	// aggregate: a node in maintenance still serves reads.
	StatusReadOnly = "READ_ONLY"
)

// Base is where the endpoints live.
const Base = api.Base + "/actuator"

// Node is what the endpoints need from the cluster node.
type Node interface {
	ID() string
	IsLeader() bool
	LocalStatus() cluster.LocalStatus
	ClusterStatus() (cluster.Status, error)
	Propose(ctx context.Context, c command.Command) (any, error)
}

// State is the local replicated state.
type State interface {
	Read(fn func(*store.Tx) error) error
	Size() int64
	Path() string
	AppliedIndex() uint64
}

// Options tune the endpoints.
type Options struct {
	// ReadyMaxLag is how many entries this node's applied index may trail
	// the leader's commit index and still be ready (default 1000).
	ReadyMaxLag uint64
	// ReadyMaxBehind is how long a follower may go without hearing from
	// the leader and still be ready (default 30s).
	ReadyMaxBehind time.Duration
	// Extra adds components to the health report (e.g. "backup").
	Extra map[string]func() Component
	// Disk reports the data directory's file system (storage component).
	Disk *disk.Monitor
	Log  *slog.Logger
	Now  func() time.Time
}

// Defaults for Options.
const (
	DefaultReadyMaxLag    = 1000
	DefaultReadyMaxBehind = 30 * time.Second
)

// Ops serves the endpoints.
type Ops struct {
	node Node
	st   State
	opts Options
}

// New builds the handlers.
func New(node Node, st State, opts Options) *Ops {
	if opts.ReadyMaxLag == 0 {
		opts.ReadyMaxLag = DefaultReadyMaxLag
	}
	if opts.ReadyMaxBehind == 0 {
		opts.ReadyMaxBehind = DefaultReadyMaxBehind
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Ops{node: node, st: st, opts: opts}
}

// Mux is where the handlers are registered (api.API.Handle, or a
// http.ServeMux's Handle).
type Mux interface {
	Handle(pattern string, h http.Handler)
}

// Register mounts every endpoint on m.
func (o *Ops) Register(m Mux) {
	m.Handle("GET "+Base+"/health", http.HandlerFunc(o.serveHealth))
	m.Handle("GET "+Base+"/health/liveness", http.HandlerFunc(o.serveLiveness))
	m.Handle("GET "+Base+"/health/readiness", http.HandlerFunc(o.serveReadiness))
	m.Handle("GET "+Base+"/health/leader", http.HandlerFunc(o.serveLeader))
	m.Handle("GET "+Base+"/health/{component}", http.HandlerFunc(o.serveComponent))
	m.Handle("GET "+Base+"/maintenance", http.HandlerFunc(o.serveMaintenanceGet))
	m.Handle("POST "+Base+"/maintenance", http.HandlerFunc(o.serveMaintenancePost))
}

// Health is Spring Boot's health document.
type Health struct {
	Status     string               `json:"status"`
	Components map[string]Component `json:"components,omitempty"`
}

// Component is one part of the health document.
type Component struct {
	Status  string `json:"status"`
	Details any    `json:"details,omitempty"`
}

// ClusterDetails describe this node's view of the cluster.
type ClusterDetails struct {
	NodeID string `json:"nodeId"`
	// Role is leader, follower or candidate (Raft's state), or shutdown.
	Role          string `json:"role"`
	Suffrage      string `json:"suffrage,omitempty"` // voter, nonvoter (read replica), staging
	Leader        string `json:"leader,omitempty"`
	LeaderURL     string `json:"leaderUrl,omitempty"`
	Term          uint64 `json:"term"`
	CommitIndex   uint64 `json:"commitIndex"`
	AppliedIndex  uint64 `json:"appliedIndex"`
	Lag           uint64 `json:"lag"`
	LastContactMs int64  `json:"lastContactMs"`
	HasQuorum     bool   `json:"hasQuorum"`
	// IsolatedUntil is set while a drill has cut this node off from its
	// cluster: it is DOWN then, whatever it last knew.
	IsolatedUntil    *time.Time             `json:"isolatedUntil,omitempty"`
	Voters           int                    `json:"voters"`
	HealthyVoters    int                    `json:"healthyVoters"`
	Quorum           int                    `json:"quorum"`
	FailureTolerance int                    `json:"failureTolerance"`
	Members          []cluster.MemberStatus `json:"members"`
	Zones            []cluster.ZoneStatus   `json:"zones"`
	Warnings         []string               `json:"warnings,omitempty"`
	Error            string                 `json:"error,omitempty"`
}

// StorageDetails describe the local store.
type StorageDetails struct {
	Path         string       `json:"path"`
	SizeBytes    int64        `json:"sizeBytes"`
	AppliedIndex uint64       `json:"appliedIndex"`
	Counts       store.Counts `json:"counts"`
	Error        string       `json:"error,omitempty"`
	// Disk is the data directory's file system: "failed" while it cannot
	// be written, "low" below the reserve (writes refused either way).
	Disk *disk.Status `json:"disk,omitempty"`
}

// Health computes the whole report.
func (o *Ops) Health() Health {
	cs, cerr := o.node.ClusterStatus()
	h := Health{Components: map[string]Component{
		"cluster":     o.clusterComponent(cs, cerr),
		"storage":     o.storageComponent(),
		"maintenance": o.maintenanceComponent(),
	}}
	for name, fn := range o.opts.Extra {
		h.Components[name] = fn()
	}
	h.Status = aggregate(h.Components)
	return h
}

// aggregate orders statuses as Spring Boot does (DOWN, OUT_OF_SERVICE, UP);
// statuses it does not know (READ_ONLY) do not lower the aggregate.
func aggregate(cs map[string]Component) string {
	out := StatusUp
	for _, c := range cs {
		switch c.Status {
		case StatusDown:
			return StatusDown
		case StatusOutOfService:
			out = StatusOutOfService
		}
	}
	return out
}

func (o *Ops) clusterComponent(cs cluster.Status, err error) Component {
	local := o.node.LocalStatus()
	d := ClusterDetails{
		NodeID: local.ID, Role: strings.ToLower(local.State), Term: local.Term,
		CommitIndex: local.CommitIndex, AppliedIndex: local.AppliedIndex, LastContactMs: local.LastContactMs,
		Leader: local.LeaderID, IsolatedUntil: local.IsolatedUntil,
	}
	if err != nil {
		d.Error = err.Error()
		return Component{Status: StatusDown, Details: d}
	}
	d.Leader = cs.LeaderID
	d.Term = cs.Term
	d.HasQuorum, d.Voters, d.HealthyVoters, d.Quorum, d.FailureTolerance = cs.HasQuorum, cs.Voters, cs.HealthyVoters, cs.Quorum, cs.FailureTolerance
	d.Members, d.Zones, d.Warnings = cs.Members, cs.Zones, cs.Warnings
	if d.Members == nil {
		d.Members = []cluster.MemberStatus{}
	}
	if d.Zones == nil {
		d.Zones = []cluster.ZoneStatus{}
	}
	for _, m := range cs.Members {
		if m.ID == local.ID {
			d.Suffrage = m.Suffrage
			d.Lag = m.Lag
		}
		if m.ID == cs.LeaderID {
			d.LeaderURL = m.APIURL
		}
	}
	if !cs.HasQuorum || d.IsolatedUntil != nil {
		return Component{Status: StatusDown, Details: d}
	}
	return Component{Status: StatusUp, Details: d}
}

func (o *Ops) storageComponent() Component {
	d := StorageDetails{Path: o.st.Path(), AppliedIndex: o.st.AppliedIndex()}
	err := o.st.Read(func(tx *store.Tx) error {
		d.Counts = tx.Counts()
		return nil
	})
	if err != nil {
		d.Error = err.Error()
		return Component{Status: StatusDown, Details: d}
	}
	d.SizeBytes = o.st.Size()
	if o.opts.Disk != nil {
		ds := o.opts.Disk.Status()
		d.Disk = &ds
		if ds.State != "ok" {
			d.Error = ds.Reason
			return Component{Status: StatusDown, Details: d}
		}
	}
	return Component{Status: StatusUp, Details: d}
}

func (o *Ops) maintenanceComponent() Component {
	m, err := o.Maintenance()
	if err != nil {
		return Component{Status: StatusDown, Details: map[string]string{"error": err.Error()}}
	}
	if m.Enabled {
		return Component{Status: StatusReadOnly, Details: m}
	}
	return Component{Status: StatusUp, Details: m}
}

// Readiness says whether this node should get traffic: it needs a quorum
// with a leader, an applied index close to the leader's commit index, and
// recent contact with the leader.
func (o *Ops) Readiness() Component {
	cs, err := o.node.ClusterStatus()
	if err != nil {
		return Component{Status: StatusDown, Details: map[string]string{"reason": "cluster state unavailable: " + err.Error()}}
	}
	if !cs.HasQuorum {
		return Component{Status: StatusDown, Details: map[string]any{
			"reason": fmt.Sprintf("no quorum: %d of %d voters reachable (%d needed), leader %q", cs.HealthyVoters, cs.Voters, cs.Quorum, cs.LeaderID),
		}}
	}
	local := o.node.LocalStatus()
	var lag uint64
	for _, m := range cs.Members {
		if m.ID == local.ID {
			lag = m.Lag
		}
	}
	if lag > o.opts.ReadyMaxLag {
		return Component{Status: StatusOutOfService, Details: map[string]any{
			"reason": fmt.Sprintf("catching up: applied index %d is %d entries behind the leader's commit index (limit %d)", local.AppliedIndex, lag, o.opts.ReadyMaxLag),
			"lag":    lag,
		}}
	}
	behind := time.Duration(local.LastContactMs) * time.Millisecond
	if local.State != "Leader" && (local.LastContactMs < 0 || behind > o.opts.ReadyMaxBehind) {
		return Component{Status: StatusOutOfService, Details: map[string]any{
			"reason": fmt.Sprintf("no contact with the leader for %v (limit %v)", behind.Round(time.Millisecond), o.opts.ReadyMaxBehind),
			"lag":    lag,
		}}
	}
	return Component{Status: StatusUp, Details: map[string]any{"lag": lag}}
}

func (o *Ops) serveHealth(w http.ResponseWriter, r *http.Request) {
	h := o.Health()
	_ = httpwire.WriteJSON(w, httpStatus(h.Status), h)
}

func (o *Ops) serveLiveness(w http.ResponseWriter, r *http.Request) {
	_ = httpwire.WriteJSON(w, http.StatusOK, Component{Status: StatusUp})
}

func (o *Ops) serveReadiness(w http.ResponseWriter, r *http.Request) {
	c := o.Readiness()
	_ = httpwire.WriteJSON(w, httpStatus(c.Status), c)
}

// serveLeader answers 200 only on the ready leader, so a load balancer
// health-checking this path sends writes straight to it.
func (o *Ops) serveLeader(w http.ResponseWriter, r *http.Request) {
	local := o.node.LocalStatus()
	d := map[string]any{"nodeId": local.ID, "leader": o.node.IsLeader(), "leaderId": local.LeaderID, "term": local.Term}
	if o.node.IsLeader() {
		_ = httpwire.WriteJSON(w, http.StatusOK, Component{Status: StatusUp, Details: d})
		return
	}
	_ = httpwire.WriteJSON(w, http.StatusServiceUnavailable, Component{Status: StatusOutOfService, Details: d})
}

func (o *Ops) serveComponent(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("component")
	var c Component
	switch name {
	case "cluster":
		cs, err := o.node.ClusterStatus()
		c = o.clusterComponent(cs, err)
	case "storage":
		c = o.storageComponent()
	case "maintenance":
		c = o.maintenanceComponent()
	default:
		fn, ok := o.opts.Extra[name]
		if !ok {
			names := []string{"cluster", "storage", "maintenance", "liveness", "readiness", "leader"}
			for n := range o.opts.Extra {
				names = append(names, n)
			}
			sort.Strings(names)
			w.Header().Set("Content-Type", "text/plain")
			w.WriteHeader(http.StatusNotFound)
			_, _ = fmt.Fprintf(w, "No health component %q (known: %s)", name, strings.Join(names, ", "))
			return
		}
		c = fn()
	}
	_ = httpwire.WriteJSON(w, httpStatus(c.Status), c)
}

// httpStatus maps a status as Spring Boot does by default.
func httpStatus(s string) int {
	switch s {
	case StatusDown, StatusOutOfService:
		return http.StatusServiceUnavailable
	}
	return http.StatusOK
}
