package cluster

import (
	"context"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/raft"

	"github.com/weir-nifi/weir/internal/store"
)

// LocalStatus is what one node knows about itself.
type LocalStatus struct {
	ID            string `json:"id"`
	State         string `json:"state"`
	Term          uint64 `json:"term"`
	LastLogIndex  uint64 `json:"lastLogIndex"`
	CommitIndex   uint64 `json:"commitIndex"`
	AppliedIndex  uint64 `json:"appliedIndex"`
	LeaderID      string `json:"leaderId,omitempty"`
	LastContactMs int64  `json:"lastContactMs"`
	Zone          string `json:"zone,omitempty"`
	APIURL        string `json:"apiUrl,omitempty"`
	RaftAddr      string `json:"raftAddr"`
	// Disk is the data directory's state: ok, low (below the storage
	// reserve) or failed (cannot be written); see package disk.
	Disk string `json:"disk,omitempty"`
	// IsolatedUntil is set while a drill has cut the node off from its
	// cluster (see Node.Isolate).
	IsolatedUntil *time.Time `json:"isolatedUntil,omitempty"`
}

// LocalStatus reports this node's raft state.
func (n *Node) LocalStatus() LocalStatus {
	term, _ := strconv.ParseUint(n.raft.Stats()["term"], 10, 64)
	leaderID, _ := n.Leader()
	lc := int64(0)
	if n.raft.State() != raft.Leader {
		if t := n.raft.LastContact(); !t.IsZero() {
			lc = time.Since(t).Milliseconds()
		} else {
			lc = -1
		}
	}
	ls := LocalStatus{
		ID: n.cfg.ID, State: n.raft.State().String(), Term: term,
		LastLogIndex: n.raft.LastIndex(), CommitIndex: n.raft.CommitIndex(), AppliedIndex: n.effectiveApplied(),
		LeaderID: leaderID, LastContactMs: lc, Zone: n.cfg.Zone, APIURL: n.cfg.APIURL, RaftAddr: n.cfg.RaftAdvertise,
		Disk: n.diskState(),
	}
	if u := n.IsolatedUntil(); !u.IsZero() {
		ls.IsolatedUntil = &u
	}
	return ls
}

// diskState is this node's disk state for status reports ("" when not
// watched).
func (n *Node) diskState() string {
	if n.cfg.Disk == nil {
		return ""
	}
	return n.cfg.Disk.Status().State
}

// probeAll asks every member for its local status in parallel.
func (n *Node) probeAll(servers []raft.Server) map[string]LocalStatus {
	out := map[string]LocalStatus{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, s := range servers {
		if string(s.ID) == n.cfg.ID {
			// The probes of earlier members may already be writing.
			self := n.LocalStatus()
			mu.Lock()
			out[n.cfg.ID] = self
			mu.Unlock()
			continue
		}
		wg.Add(1)
		go func(s raft.Server) {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 700*time.Millisecond)
			defer cancel()
			var st LocalStatus
			if err := n.peerCall(ctx, string(s.Address), http.MethodGet, rpcLocal, nil, &st); err == nil {
				mu.Lock()
				out[string(s.ID)] = st
				mu.Unlock()
			}
		}(s)
	}
	wg.Wait()
	return out
}

// MemberStatus is one member in the cluster report.
type MemberStatus struct {
	ID           string `json:"id"`
	Zone         string `json:"zone,omitempty"`
	Suffrage     string `json:"suffrage"` // voter | nonvoter (read replica) | staging
	RaftAddr     string `json:"raftAddr"`
	APIURL       string `json:"apiUrl,omitempty"`
	Reachable    bool   `json:"reachable"`
	State        string `json:"state,omitempty"`
	Term         uint64 `json:"term,omitempty"`
	CommitIndex  uint64 `json:"commitIndex,omitempty"`
	AppliedIndex uint64 `json:"appliedIndex,omitempty"`
	Lag          uint64 `json:"lag"`
	Leader       bool   `json:"leader"`
	// Disk is the member's data directory: ok, low or failed.
	Disk string `json:"disk,omitempty"`
}

// ZoneStatus summarises one zone.
type ZoneStatus struct {
	Zone          string `json:"zone"`
	Members       int    `json:"members"`
	Voters        int    `json:"voters"`
	HealthyVoters int    `json:"healthyVoters"`
	// SurvivesLoss says whether the cluster keeps a quorum if this whole
	// zone fails.
	SurvivesLoss bool `json:"survivesLoss"`
}

// Status is the cluster report served at /weir-api/cluster/status.
type Status struct {
	Self          string `json:"self"`
	LeaderID      string `json:"leaderId,omitempty"`
	Term          uint64 `json:"term"`
	CommitIndex   uint64 `json:"commitIndex"`
	Voters        int    `json:"voters"`
	HealthyVoters int    `json:"healthyVoters"`
	Quorum        int    `json:"quorum"`
	// FailureTolerance is how many more voters may fail before writes stop.
	FailureTolerance int            `json:"failureTolerance"`
	HasQuorum        bool           `json:"hasQuorum"`
	Members          []MemberStatus `json:"members"`
	Zones            []ZoneStatus   `json:"zones"`
	Warnings         []string       `json:"warnings,omitempty"`
}

// ClusterStatus builds the cluster report by asking every member.
func (n *Node) ClusterStatus() (Status, error) {
	f := n.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return Status{}, err
	}
	servers := f.Configuration().Servers
	probes := n.probeAll(servers)
	recs := map[string]store.NodeRec{}
	_ = n.st.Read(func(tx *store.Tx) error {
		ns, err := tx.Nodes()
		for _, r := range ns {
			recs[r.ID] = r
		}
		return err
	})
	self := n.LocalStatus()
	st := Status{Self: n.cfg.ID, LeaderID: self.LeaderID, Term: self.Term}
	var commit uint64
	for _, p := range probes {
		if p.State == raft.Leader.String() {
			commit = p.CommitIndex
			st.LeaderID = p.ID
			st.Term = p.Term
		}
	}
	if commit == 0 {
		commit = self.CommitIndex
	}
	st.CommitIndex = commit
	zones := map[string]*ZoneStatus{}
	for _, s := range servers {
		id := string(s.ID)
		rec := recs[id]
		m := MemberStatus{ID: id, Zone: rec.Zone, RaftAddr: string(s.Address), APIURL: rec.APIURL, Suffrage: suffrage(s.Suffrage)}
		if p, ok := probes[id]; ok {
			m.Reachable = true
			m.State, m.Term, m.CommitIndex, m.AppliedIndex, m.Disk = p.State, p.Term, p.CommitIndex, p.AppliedIndex, p.Disk
			if p.Zone != "" {
				m.Zone = p.Zone
			}
			if commit > p.AppliedIndex {
				m.Lag = commit - p.AppliedIndex
			}
			m.Leader = p.State == raft.Leader.String()
		}
		z := zones[m.Zone]
		if z == nil {
			z = &ZoneStatus{Zone: m.Zone}
			zones[m.Zone] = z
		}
		z.Members++
		if s.Suffrage == raft.Voter {
			st.Voters++
			z.Voters++
			if m.Reachable {
				st.HealthyVoters++
				z.HealthyVoters++
			}
		}
		st.Members = append(st.Members, m)
	}
	st.Quorum = st.Voters/2 + 1
	st.FailureTolerance = st.HealthyVoters - st.Quorum
	if st.FailureTolerance < 0 {
		st.FailureTolerance = 0
	}
	st.HasQuorum = st.HealthyVoters >= st.Quorum && st.LeaderID != ""
	for _, z := range zones {
		z.SurvivesLoss = st.HealthyVoters-z.HealthyVoters >= st.Quorum
		st.Zones = append(st.Zones, *z)
		if len(zones) > 1 && !z.SurvivesLoss {
			name := z.Zone
			if name == "" {
				name = "(no zone)"
			}
			st.Warnings = append(st.Warnings, "losing zone "+name+" would lose the quorum: spread voters across at least three zones")
		}
	}
	if !st.HasQuorum {
		st.Warnings = append(st.Warnings, "the cluster has no quorum: writes are refused")
	} else if st.FailureTolerance == 0 && st.Voters > 1 {
		st.Warnings = append(st.Warnings, "no failure tolerance: one more voter failure stops writes")
	}
	sort.Slice(st.Members, func(i, j int) bool { return st.Members[i].ID < st.Members[j].ID })
	sort.Slice(st.Zones, func(i, j int) bool { return st.Zones[i].Zone < st.Zones[j].Zone })
	return st, nil
}

func suffrage(s raft.ServerSuffrage) string {
	switch s {
	case raft.Voter:
		return "voter"
	case raft.Nonvoter:
		return "nonvoter"
	}
	return "staging"
}

// liveTTL is how long LiveMembers reuses a probe round.
const liveTTL = 2 * time.Second

// LiveMembers returns the ids of the members in the Raft configuration
// that answered a probe just now (this node always), probing at most every
// liveTTL: site-to-site peer lists name only nodes that are up.
func (n *Node) LiveMembers() map[string]bool {
	n.liveMu.Lock()
	defer n.liveMu.Unlock()
	if n.live != nil && time.Since(n.liveAt) < liveTTL {
		return n.live
	}
	live := map[string]bool{n.cfg.ID: true}
	if f := n.raft.GetConfiguration(); f.Error() == nil {
		for id := range n.probeAll(f.Configuration().Servers) {
			live[id] = true
		}
	}
	n.live, n.liveAt = live, time.Now()
	return live
}
