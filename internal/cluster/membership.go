package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/raft"

	"github.com/weir-nifi/weir/internal/adminauth"
	"github.com/weir-nifi/weir/internal/command"
	"github.com/weir-nifi/weir/internal/model"
	"github.com/weir-nifi/weir/internal/store"
)

// JoinRequest asks the cluster to add a node as a non-voter.
type JoinRequest struct {
	ID       string `json:"id"`
	RaftAddr string `json:"raftAddr"`
	APIURL   string `json:"apiUrl"`
	Zone     string `json:"zone,omitempty"`
}

// RemoveRequest asks the leader to remove a member.
type RemoveRequest struct {
	ID    string `json:"id"`
	Force bool   `json:"force,omitempty"`
}

// TransferRequest asks the leader to hand over leadership.
type TransferRequest struct {
	ID string `json:"id,omitempty"`
}

// join adds a node as a non-voter (on the leader). Re-joining with the same
// id is how a wiped node comes back: it is demoted to non-voter so that,
// while it has no data, it cannot weaken the quorum; the membership loop
// promotes it again once it has caught up.
func (n *Node) join(req JoinRequest) error {
	if req.ID == "" || req.RaftAddr == "" {
		return model.Invalid("join needs an id and a raft address")
	}
	f := n.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return err
	}
	for _, s := range f.Configuration().Servers {
		if string(s.ID) == req.ID {
			if string(s.Address) == req.RaftAddr {
				if s.Suffrage == raft.Voter {
					n.log.Info("member re-joined; demoting it until it has caught up", "member", req.ID)
					return n.raft.DemoteVoter(s.ID, 0, 10*time.Second).Error()
				}
				return nil
			}
			if err := n.raft.RemoveServer(s.ID, 0, 10*time.Second).Error(); err != nil {
				return err
			}
		} else if string(s.Address) == req.RaftAddr {
			return model.Conflict(fmt.Sprintf("raft address %s already belongs to member %s", req.RaftAddr, s.ID))
		}
	}
	n.log.Info("adding member as non-voter", "member", req.ID, "addr", req.RaftAddr, "zone", req.Zone)
	n.compactForCatchUp("member " + req.ID + " joins with nothing")
	if err := n.raft.AddNonvoter(raft.ServerID(req.ID), raft.ServerAddress(req.RaftAddr), 0, 10*time.Second).Error(); err != nil {
		return err
	}
	_, err := n.Propose(context.Background(), &command.SetNode{ID: req.ID, APIURL: req.APIURL, RaftAddr: req.RaftAddr, Zone: req.Zone, At: time.Now().UnixMilli()})
	return err
}

// catchUpSnapSpacing spaces the snapshots reconcile takes for members far
// behind (Node.catchUpSnapAt).
const catchUpSnapSpacing = 10 * time.Second

// compactForCatchUp takes a snapshot, on the leader, when the log holds
// more entries since the last one than TrailingLogs, so that a member far
// behind (a joiner with nothing, a follower back from a long outage) is
// sent the snapshot and at most TrailingLogs entries instead of every
// entry: hashicorp/raft sends a snapshot only for entries it no longer
// has. Replaying 10,000 entries took a joiner 3–6× a copy of the data
// (each batch fsynced and applied to the store page by page); installing a
// snapshot is a rename of a file staged while it arrives. Raft snapshots on
// its own only every SnapshotInterval, after the joiner started on the log.
func (n *Node) compactForCatchUp(why string) {
	st := n.raft.Stats()
	last, _ := strconv.ParseUint(st["last_log_index"], 10, 64)
	snap, _ := strconv.ParseUint(st["last_snapshot_index"], 10, 64)
	if last <= snap+n.cfg.TrailingLogs {
		return
	}
	t0 := time.Now()
	if err := n.raft.Snapshot().Error(); err != nil {
		n.log.Info("no snapshot for a member far behind", "why", why, "err", err)
		return
	}
	n.log.Info("took a snapshot so a member far behind is sent it instead of the log", "why", why,
		"entries", last-snap, "took", time.Since(t0).Round(time.Millisecond))
}

// remove takes a member out of the cluster (on the leader), refusing to
// leave fewer voters than MinQuorum unless forced.
func (n *Node) remove(ctx context.Context, req RemoveRequest) error {
	f := n.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return err
	}
	var target *raft.Server
	voters := 0
	for _, s := range f.Configuration().Servers {
		if s.Suffrage == raft.Voter {
			voters++
		}
		if string(s.ID) == req.ID {
			s := s
			target = &s
		}
	}
	if target == nil {
		return model.NotFound("No cluster member with id " + req.ID)
	}
	if target.Suffrage == raft.Voter && voters-1 < n.cfg.MinQuorum && voters > 1 && !req.Force {
		return model.Conflict(fmt.Sprintf("Removing voter %s would leave %d voters, below the minimum quorum of %d. Add a node first or force the removal.", req.ID, voters-1, n.cfg.MinQuorum))
	}
	if string(target.ID) == n.cfg.ID {
		return model.Conflict("The leader cannot remove itself; transfer leadership first.")
	}
	if err := n.raft.RemoveServer(target.ID, 0, 10*time.Second).Error(); err != nil {
		return err
	}
	_, err := n.Propose(ctx, &command.RemoveNode{ID: req.ID})
	return err
}

// Join asks the cluster, through whichever node receives it, to add a member.
func (n *Node) Join(ctx context.Context, req JoinRequest) error {
	if n.raft.State() == raft.Leader {
		return n.join(req)
	}
	return n.leaderCall(ctx, http.MethodPost, rpcJoin, req, nil)
}

// Remove removes a member through the leader.
func (n *Node) Remove(ctx context.Context, req RemoveRequest) error {
	if n.raft.State() == raft.Leader {
		return n.remove(ctx, req)
	}
	return n.leaderCall(ctx, http.MethodPost, rpcRemove, req, nil)
}

// Transfer moves leadership through the leader.
func (n *Node) Transfer(ctx context.Context, req TransferRequest) error {
	if n.raft.State() == raft.Leader {
		return n.TransferLeadership(req.ID)
	}
	return n.leaderCall(ctx, http.MethodPost, rpcTransfer, req, nil)
}

// joinLoop keeps asking the configured nodes to add us until one accepts.
func (n *Node) joinLoop() {
	defer n.wg.Done()
	req := JoinRequest{ID: n.cfg.ID, RaftAddr: n.cfg.RaftAdvertise, APIURL: n.cfg.APIURL, Zone: n.cfg.Zone}
	body, _ := json.Marshal(req)
	backoff := 200 * time.Millisecond
	for {
		for _, u := range n.cfg.Join {
			err := n.postJoin(u, body)
			if err == nil {
				n.log.Info("joined the cluster", "via", u)
				return
			}
			n.log.Warn("join attempt failed", "via", u, "err", err)
		}
		select {
		case <-n.stopCh:
			return
		case <-time.After(backoff):
		}
		if backoff < 5*time.Second {
			backoff *= 2
		}
	}
}

func (n *Node) postJoin(base string, body []byte) error {
	req, err := http.NewRequest(http.MethodPost, trimURL(base)+"/weir-api/cluster/join", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	adminauth.Sign(n.cfg.Auth.Key, req, body)
	c := &http.Client{Timeout: 15 * time.Second}
	if n.cfg.JoinTLS != nil {
		c.Transport = &http.Transport{TLSClientConfig: n.cfg.JoinTLS}
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("%s: %s", resp.Status, msg)
	}
	return nil
}

// registerLoop makes sure the replicated member table has this node's API
// URL and zone, so any node can redirect to it and report its zone.
func (n *Node) registerLoop() {
	defer n.wg.Done()
	want := store.NodeRec{ID: n.cfg.ID, APIURL: n.cfg.APIURL, RaftAddr: n.cfg.RaftAdvertise, Zone: n.cfg.Zone, Level: command.Level}
	wait := 100 * time.Millisecond
	for {
		select {
		case <-n.stopCh:
			return
		case <-time.After(wait):
		}
		have, ok := n.nodeRec(n.cfg.ID)
		if ok && have.APIURL == want.APIURL && have.RaftAddr == want.RaftAddr && have.Zone == want.Zone && have.Level == want.Level {
			wait = 10 * time.Second
			continue
		}
		c := &command.SetNode{ID: want.ID, APIURL: want.APIURL, RaftAddr: want.RaftAddr, Zone: want.Zone, Level: want.Level, At: time.Now().UnixMilli()}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		var err error
		if n.raft.State() == raft.Leader {
			_, err = n.Propose(ctx, c)
		} else {
			err = n.leaderCall(ctx, http.MethodPost, rpcRegister, c, nil)
		}
		cancel()
		if err != nil {
			wait = time.Second
			continue
		}
		wait = 500 * time.Millisecond
	}
}

func (n *Node) nodeRec(id string) (store.NodeRec, bool) {
	var out store.NodeRec
	found := false
	_ = n.st.Read(func(tx *store.Tx) error {
		ns, err := tx.Nodes()
		for _, r := range ns {
			if r.ID == id {
				out, found = r, true
			}
		}
		return err
	})
	return out, found
}

// clusterLevel is the command level every voter understands: the lowest
// level the voters recorded (a voter without a record, or from a build
// before levels, counts as level 1). A rolling upgrade raises it once the
// last voter runs the new build.
func (n *Node) clusterLevel() int {
	level, _ := n.clusterLevelDetail()
	return level
}

// CommandLevel is the command level every voter understands (see
// clusterLevel): what a caller may propose without meeting the gate.
func (n *Node) CommandLevel() int { return n.clusterLevel() }

// clusterLevelDetail also names the voters without a record in the member
// table (just started, not registered yet).
func (n *Node) clusterLevelDetail() (int, []string) {
	f := n.raft.GetConfiguration()
	if f.Error() != nil {
		return 1, nil
	}
	levels := n.memberLevels()
	var missing []string
	for _, s := range f.Configuration().Servers {
		if _, ok := levels[string(s.ID)]; !ok && s.Suffrage == raft.Voter {
			missing = append(missing, string(s.ID))
		}
	}
	return lowestLevel(f.Configuration().Servers, levels), missing
}

// memberLevels is each registered member's command level. It is kept
// until the store's member epoch moves: every proposal of a command above
// level 1 (each site-to-site chunk, lease and ack) asks, and decoding the
// member table each time showed in pull profiles.
func (n *Node) memberLevels() map[string]int {
	if c := n.levels.Load(); c != nil && c.epoch == n.st.MembersEpoch() {
		return c.levels
	}
	c := &levelCache{levels: map[string]int{}}
	err := n.st.Read(func(tx *store.Tx) error {
		c.epoch = tx.MembersEpoch()
		ns, err := tx.Nodes()
		for _, r := range ns {
			c.levels[r.ID] = max(r.Level, 1)
		}
		return err
	})
	if err == nil {
		n.levels.Store(c)
	}
	return c.levels
}

// levelCache is memberLevels' copy of the member table's levels, as of a
// member epoch; never modified once stored.
type levelCache struct {
	epoch  uint64
	levels map[string]int
}

// levelGate refuses a command of level need unless every voter can apply
// it. Voters that have not registered yet (a cluster that just started)
// are waited for up to LeaderWait before the refusal.
func (n *Node) levelGate(ctx context.Context, t command.Type, need int) error {
	deadline := time.Now().Add(n.cfg.LeaderWait)
	for {
		have, missing := n.clusterLevelDetail()
		if have >= need {
			return nil
		}
		if len(missing) == 0 {
			return model.Unavailable(fmt.Sprintf("Not every voter runs a build that can apply %s (command level %d; the cluster's voters understand level %d). Finish the rolling upgrade first.", t, need, have), 30*time.Second)
		}
		if time.Now().After(deadline) {
			return model.Unavailable(fmt.Sprintf("Voters %s have not registered their build with the cluster yet (they may have just started), so %s (command level %d) cannot be proposed. Retry shortly.", strings.Join(missing, ", "), t, need), time.Second)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func lowestLevel(servers []raft.Server, levels map[string]int) int {
	lowest := command.Level
	for _, s := range servers {
		if s.Suffrage != raft.Voter {
			continue
		}
		lowest = min(lowest, max(levels[string(s.ID)], 1))
	}
	return lowest
}

// ---- the membership loop (leader only)

// memberHealth is what the leader learned about a member recently.
type memberHealth struct {
	lastSeen    time.Time
	caughtUpFor int // consecutive checks within catch-up distance
}

const (
	// catchUpSlack is how many entries behind the leader's commit index a
	// non-voter may be and still count as caught up.
	catchUpSlack = 64
	// stableChecks is how many consecutive caught-up checks (one per
	// second) a non-voter needs before promotion.
	stableChecks = 3
	// unhealthyAfter is how long a voter may be unreachable before a
	// healthy non-voter is promoted in its place.
	unhealthyAfter = 10 * time.Second
)

// maintainMembership runs on every node; on the leader it promotes caught
// up non-voters to voters (spread across zones, at most MaxVoters and an
// odd number), replaces voters that stay unreachable with healthy
// non-voters, and removes members dead longer than DeadAfter without going
// below MinQuorum.
func (n *Node) maintainMembership() {
	defer n.wg.Done()
	health := map[string]*memberHealth{}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-n.stopCh:
			return
		case <-tick.C:
		}
		if !n.IsLeader() {
			clear(health)
			continue
		}
		if n.handOverForDisk() {
			continue
		}
		n.reconcile(health)
	}
}

type memberView struct {
	raft.Server
	zone     string
	healthy  bool
	caughtUp bool
	down     time.Duration
}

func (n *Node) reconcile(health map[string]*memberHealth) {
	f := n.raft.GetConfiguration()
	if f.Error() != nil {
		return
	}
	servers := f.Configuration().Servers
	zones := n.zones()
	commit := n.raft.CommitIndex()
	now := time.Now()
	statuses := n.probeAll(servers)
	var members []memberView
	for _, s := range servers {
		id := string(s.ID)
		h := health[id]
		if h == nil {
			h = &memberHealth{lastSeen: now}
			health[id] = h
		}
		st, ok := statuses[id]
		if ok && st.AppliedIndex+n.cfg.TrailingLogs < commit && now.Sub(n.catchUpSnapAt) >= catchUpSnapSpacing {
			// Back from an outage, or too slow to keep up: spaced, so a
			// follower that stays behind under load does not cost a
			// snapshot every second.
			n.catchUpSnapAt = now
			n.compactForCatchUp("member " + id + " is far behind")
		}
		if ok {
			h.lastSeen = now
			if st.AppliedIndex+catchUpSlack >= commit {
				h.caughtUpFor++
			} else {
				h.caughtUpFor = 0
			}
		} else {
			h.caughtUpFor = 0
		}
		members = append(members, memberView{Server: s, zone: zones[id], healthy: ok,
			caughtUp: h.caughtUpFor >= stableChecks || id == n.cfg.ID, down: now.Sub(h.lastSeen)})
	}
	if n.cleanupDead(members) {
		return
	}
	n.placeVoters(members)
}

// placeVoters makes at most one membership change per call (hashicorp/raft
// allows one at a time). The rules, in order:
//
//  1. A voter unreachable for unhealthyAfter is replaced: a healthy,
//     caught-up non-voter is promoted (same zone first).
//  2. An unreachable voter is demoted only when the healthy voters alone
//     form an odd set of at least three: failures never shrink the voter
//     set below what still tolerates a failure, and a healthy voter is
//     never demoted because another one is down.
//  3. Grow towards MaxVoters while candidates allow an odd count, picking
//     the zone with the fewest voters.
//  4. Above MaxVoters (e.g. after lowering it), demote from the most
//     crowded zone.
//  5. Spread across zones: promote a candidate in a zone without a voter
//     when another zone has two; with all voters healthy and an even count,
//     demote one from a crowded zone.
func (n *Node) placeVoters(members []memberView) {
	var voters, candidates []memberView
	healthy := 0
	perZone := map[string]int{}
	for _, m := range members {
		switch {
		case m.Suffrage == raft.Voter:
			voters = append(voters, m)
			if m.healthy {
				healthy++
				perZone[m.zone]++
			}
		case m.Suffrage == raft.Nonvoter && m.healthy && m.caughtUp:
			candidates = append(candidates, m)
		}
	}
	pick := func(prefer string) (memberView, bool) {
		if len(candidates) == 0 {
			return memberView{}, false
		}
		sort.SliceStable(candidates, func(i, j int) bool {
			ci, cj := candidates[i], candidates[j]
			if (ci.zone == prefer) != (cj.zone == prefer) {
				return ci.zone == prefer
			}
			if perZone[ci.zone] != perZone[cj.zone] {
				return perZone[ci.zone] < perZone[cj.zone]
			}
			return ci.ID < cj.ID
		})
		return candidates[0], true
	}
	promote := func(c memberView, why string) {
		n.log.Info("promoting non-voter", "member", c.ID, "zone", c.zone, "why", why)
		n.soleVoter.Store(false)
		if err := n.raft.AddVoter(c.ID, c.Address, 0, 10*time.Second).Error(); err != nil {
			n.log.Warn("promotion failed", "member", c.ID, "err", err)
		}
	}
	demote := func(v memberView, why string) {
		n.log.Info("demoting voter", "member", v.ID, "zone", v.zone, "why", why)
		if err := n.raft.DemoteVoter(v.ID, 0, 10*time.Second).Error(); err != nil {
			n.log.Warn("demotion failed", "member", v.ID, "err", err)
		}
	}
	var dead []memberView
	for _, v := range voters {
		if !v.healthy && v.down > unhealthyAfter {
			dead = append(dead, v)
		}
	}
	// 1.
	if len(dead) > 0 {
		if c, ok := pick(dead[0].zone); ok {
			promote(c, "replaces unreachable voter "+string(dead[0].ID))
			return
		}
	}
	// 2.
	if len(dead) > 0 && healthy >= 3 && healthy%2 == 1 {
		demote(dead[0], "unreachable for "+dead[0].down.Round(time.Second).String()+" and the healthy voters form a quorum of their own")
		return
	}
	// 3.
	if len(voters) < n.cfg.MaxVoters && len(candidates) > 0 && ((len(voters)+1)%2 == 1 || len(candidates) >= 2) {
		if c, ok := pick(""); ok {
			promote(c, "caught up")
			return
		}
	}
	// 4.
	if len(voters) > n.cfg.MaxVoters {
		if v, ok := crowdedVoter(voters, perZone, n.cfg.ID); ok {
			demote(v, "more voters than --max-voters")
		}
		return
	}
	// 5.
	if c, ok := pick(""); ok && perZone[c.zone] == 0 && len(voters) < n.cfg.MaxVoters+1 {
		for _, cnt := range perZone {
			if cnt >= 2 {
				promote(c, "spreads voters across zones")
				return
			}
		}
	}
	if healthy == len(voters) && len(voters) >= 4 && len(voters)%2 == 0 {
		for _, cnt := range perZone {
			if cnt >= 2 {
				if v, ok := crowdedVoter(voters, perZone, n.cfg.ID); ok {
					demote(v, "keeps an odd voter set spread across zones")
				}
				return
			}
		}
	}
}

func crowdedVoter(voters []memberView, perZone map[string]int, self string) (memberView, bool) {
	best, found := memberView{}, false
	for _, v := range voters {
		if string(v.ID) == self {
			continue
		}
		if !found || !v.healthy && best.healthy || v.healthy == best.healthy && perZone[v.zone] > perZone[best.zone] {
			best, found = v, true
		}
	}
	return best, found
}

// cleanupDead removes members unreachable for longer than DeadAfter.
func (n *Node) cleanupDead(members []memberView) bool {
	if n.cfg.DeadAfter <= 0 {
		return false
	}
	voters := 0
	for _, m := range members {
		if m.Suffrage == raft.Voter {
			voters++
		}
	}
	for _, m := range members {
		if m.healthy || m.down < n.cfg.DeadAfter || string(m.ID) == n.cfg.ID {
			continue
		}
		if m.Suffrage == raft.Voter && voters-1 < n.cfg.MinQuorum {
			n.log.Warn("dead voter kept: removing it would go below the minimum quorum", "member", m.ID, "minQuorum", n.cfg.MinQuorum)
			continue
		}
		n.log.Warn("removing dead member", "member", m.ID, "down", m.down.Round(time.Second))
		if n.raft.RemoveServer(m.ID, 0, 10*time.Second).Error() == nil {
			_, _ = n.Propose(context.Background(), &command.RemoveNode{ID: string(m.ID)})
		}
		return true
	}
	return false
}

// zones maps member ids to their recorded zones.
func (n *Node) zones() map[string]string {
	out := map[string]string{}
	_ = n.st.Read(func(tx *store.Tx) error {
		ns, err := tx.Nodes()
		for _, r := range ns {
			out[r.ID] = r.Zone
		}
		return err
	})
	return out
}

// handOverForDisk moves leadership away from a leader whose disk is low or
// failed, to a caught-up voter whose disk is ok, so the cluster keeps
// taking writes: a leader with a low disk refuses them (507). With no such
// voter the leader keeps leading (reads go on; writes are refused until
// space is freed). It reports whether it handed over.
func (n *Node) handOverForDisk() bool {
	if n.cfg.Disk == nil || n.soleVoter.Load() {
		return false
	}
	if st := n.cfg.Disk.Status().State; st == "ok" {
		return false
	}
	f := n.raft.GetConfiguration()
	if f.Error() != nil {
		return false
	}
	servers := f.Configuration().Servers
	statuses := n.probeAll(servers)
	last := n.raft.LastIndex()
	var best *raft.Server
	var bestIdx uint64
	for i, s := range servers {
		p, ok := statuses[string(s.ID)]
		if !ok || s.Suffrage != raft.Voter || string(s.ID) == n.cfg.ID || p.Disk != "ok" {
			continue
		}
		// Prefer the most caught-up voter; one far behind would make
		// clients wait while it catches up.
		if last > p.LastLogIndex+1000 {
			continue
		}
		if best == nil || p.LastLogIndex > bestIdx {
			best, bestIdx = &servers[i], p.LastLogIndex
		}
	}
	if best == nil {
		return false
	}
	if err := n.raft.LeadershipTransferToServer(best.ID, best.Address).Error(); err != nil {
		n.log.Warn("cannot hand leadership to a voter with disk space", "to", best.ID, "err", err)
		return false
	}
	n.log.Info("handed leadership to a voter with disk space: this node's disk is low or cannot be written", "to", best.ID)
	return true
}
