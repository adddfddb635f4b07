package harness

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/weir-nifi/weir/internal/adminauth"
	"github.com/weir-nifi/weir/internal/cluster"
)

// ClusterOptions describe a cluster of weir processes.
type ClusterOptions struct {
	N int // number of nodes (default 3)
	// Zones: node i is in Zones[i%len(Zones)] (no zone if empty).
	Zones []string
	// ExtraArgs are added to every node's command line.
	ExtraArgs []string
	// Join forms the cluster by joining: node 0 starts as a one-node
	// cluster, the others are started later by the test with --join
	// (JoinArgs). By default every node gets the same --bootstrap list.
	Join bool
	// Key is the cluster key (default TestKey).
	Key string
	// TLS makes every node serve HTTPS (see NodeTLS).
	TLS *NodeTLS
}

// Cluster is a set of weir nodes on their own loopback IPs
// (127.a.b.1, 127.a.b.2, ...), each behind a Proxy on its cluster port so
// the test can partition the network.
type Cluster struct {
	t       testing.TB
	Opts    ClusterOptions
	Nodes   []*Node
	Proxies []*Proxy
	Net     *Network
}

var (
	clusterSeq    atomic.Uint32
	claimsMu      sync.Mutex
	clusterClaims []net.Listener // held for the life of the process
)

// clusterClaimPort is bound on 127.a.b.254 by the process that uses the
// /24 127.a.b, so concurrently running test binaries (go test runs
// packages in parallel) never share one: the process id alone chose the
// same /24 for two binaries now and then.
const clusterClaimPort = "47999"

// clusterIPs picks a /24 in 127/8 that no other cluster of this process,
// nor any other process, uses.
func clusterIPs(n int) []string {
	claimsMu.Lock()
	defer claimsMu.Unlock()
	var a, b int
	for tries := 0; ; tries++ {
		seq := int(clusterSeq.Add(1))
		a = 10 + (os.Getpid()/250)%200
		b = 1 + (os.Getpid()+seq)%250
		ln, err := net.Listen("tcp", fmt.Sprintf("127.%d.%d.254:%s", a, b, clusterClaimPort))
		if err == nil {
			clusterClaims = append(clusterClaims, ln)
			break
		}
		if tries > 1000 {
			panic("harness: no free 127.a.b.0/24 for a cluster: " + err.Error())
		}
	}
	ips := make([]string, n)
	for i := range ips {
		ips[i] = fmt.Sprintf("127.%d.%d.%d", a, b, i+1)
	}
	return ips
}

// NewCluster prepares a cluster without starting it. Node ids are n1..nN.
func NewCluster(t testing.TB, o ClusterOptions) *Cluster {
	t.Helper()
	if o.N == 0 {
		o.N = 3
	}
	if o.Key == "" {
		o.Key = TestKey
	}
	c := &Cluster{t: t, Opts: o, Net: NewNetwork()}
	ips := clusterIPs(o.N)
	for i, ip := range ips {
		zone := ""
		if len(o.Zones) > 0 {
			zone = o.Zones[i%len(o.Zones)]
		}
		n := NewNode(t, Options{ID: fmt.Sprintf("n%d", i+1), IP: ip, Zone: zone, Key: o.Key, TLS: o.TLS})
		c.Nodes = append(c.Nodes, n)
		c.Proxies = append(c.Proxies, c.Net.NewProxy(t, ip, n.Raft))
	}
	for i, n := range c.Nodes {
		switch {
		case !o.Join:
			n.Opts.Args = c.BootstrapArgs(n)
		case i == 0:
			n.Opts.Args = c.baseArgs(n)
		default:
			n.Opts.Args = c.JoinArgs(n, c.Nodes[0])
		}
	}
	t.Cleanup(func() {
		c.CheckAlive()
		if t.Failed() || os.Getenv("WEIR_DUMP_LOGS") != "" {
			c.DumpLogs(80)
		}
		if t.Failed() || os.Getenv("WEIR_KEEP_LOGS") != "" {
			c.KeepLogs()
		}
	})
	return c
}

// StartCluster prepares and starts a cluster and waits for a leader. With
// Join set only node 0 is started.
func StartCluster(t testing.TB, o ClusterOptions) *Cluster {
	t.Helper()
	c := NewCluster(t, o)
	if o.Join {
		c.Nodes[0].Start()
	} else {
		for _, n := range c.Nodes {
			n.Start()
		}
	}
	if _, err := c.WaitLeader(60 * time.Second); err != nil {
		t.Fatal(err)
	}
	return c
}

// ProxyOf returns the proxy in front of a node's cluster port.
func (c *Cluster) ProxyOf(n *Node) *Proxy { return c.Proxies[c.index(n)] }

func (c *Cluster) index(n *Node) int {
	for i, m := range c.Nodes {
		if m == n {
			return i
		}
	}
	c.t.Fatalf("node %s is not in the cluster", n.Opts.ID)
	return -1
}

// Node returns the node with the given id (nil if none).
func (c *Cluster) Node(id string) *Node {
	for _, n := range c.Nodes {
		if n.Opts.ID == id {
			return n
		}
	}
	return nil
}

// baseArgs are the flags every start of a node gets: it advertises its
// proxy, not its real cluster port.
func (c *Cluster) baseArgs(n *Node) []string {
	args := []string{"--raft-advertise", c.ProxyOf(n).Addr}
	return append(args, c.Opts.ExtraArgs...)
}

// BootstrapArgs are a node's flags for a cluster formed from a static list
// of voters (the proxies' addresses).
func (c *Cluster) BootstrapArgs(n *Node) []string {
	var peers []string
	for i, m := range c.Nodes {
		peers = append(peers, m.Opts.ID+"="+c.Proxies[i].Addr)
	}
	return append(c.baseArgs(n), "--bootstrap", strings.Join(peers, ","))
}

// JoinArgs are a node's flags for joining through another node.
func (c *Cluster) JoinArgs(n, via *Node) []string {
	return append(c.baseArgs(n), "--join", via.API)
}

// ExitedUnexpectedly reports whether a node's process ended although the
// harness did not stop it (a crash, or a signal from outside the test),
// with its exit status.
func (n *Node) ExitedUnexpectedly() (bool, string) {
	n.mu.Lock()
	cmd, done := n.cmd, n.done
	n.mu.Unlock()
	if cmd == nil {
		return false, ""
	}
	select {
	case <-done:
		return true, cmd.ProcessState.String()
	default:
		return false, ""
	}
}

// CheckAlive fails the test for every node that exited unexpectedly.
func (c *Cluster) CheckAlive() {
	c.t.Helper()
	for _, n := range c.Nodes {
		if gone, status := n.ExitedUnexpectedly(); gone {
			c.t.Errorf("node %s exited unexpectedly (%s): it crashed or was stopped from outside the test; log %s", n.Opts.ID, status, n.LogPath)
		}
	}
}

// Running returns the nodes whose process is alive.
func (c *Cluster) Running() []*Node {
	var out []*Node
	for _, n := range c.Nodes {
		if n.Running() {
			out = append(out, n)
		}
	}
	return out
}

// ---- observing the cluster

// LocalOf fetches a node's own view with a short timeout (a paused node
// does not answer).
func LocalOf(n *Node) (Local, error) { return localOf(n, n.Client(time.Second), "") }

func localOf(n *Node, hc *http.Client, query string) (Local, error) {
	var l Local
	req, err := http.NewRequest(http.MethodGet, n.API+"/weir-api/cluster/local"+query, nil)
	if err != nil {
		return l, err
	}
	if query != "" {
		// Recomputing walks the whole store: an operation that needs the
		// cluster key.
		adminauth.Sign([]byte(n.Opts.Key), req, nil)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return l, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return l, fmt.Errorf("local: %s: %s", resp.Status, b)
	}
	return l, json.NewDecoder(resp.Body).Decode(&l)
}

// Locals asks every running node for its view in parallel; nodes that do
// not answer are missing from the map.
func (c *Cluster) Locals() map[*Node]Local {
	out := map[*Node]Local{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, n := range c.Running() {
		wg.Add(1)
		go func(n *Node) {
			defer wg.Done()
			if l, err := LocalOf(n); err == nil {
				mu.Lock()
				out[n] = l
				mu.Unlock()
			}
		}(n)
	}
	wg.Wait()
	return out
}

// Leader returns the node that leads in the highest term any node reports,
// if a majority of the running nodes name it as leader (so a deposed
// leader that has not noticed yet is not taken for the leader).
func (c *Cluster) Leader() (*Node, error) {
	ls := c.Locals()
	var best *Node
	var bestTerm uint64
	for n, l := range ls {
		if l.State == "Leader" && (best == nil || l.Term > bestTerm) {
			best, bestTerm = n, l.Term
		}
	}
	if best == nil {
		return nil, fmt.Errorf("no node leads (%d of %d answered)", len(ls), len(c.Nodes))
	}
	agree := 0
	for _, l := range ls {
		if l.LeaderID == best.Opts.ID && l.Term == bestTerm {
			agree++
		}
	}
	if running := len(c.Running()); agree <= running/2 {
		return nil, fmt.Errorf("leader %s (term %d) is named by only %d of %d running nodes", best.Opts.ID, bestTerm, agree, running)
	}
	return best, nil
}

// WaitLeader polls until Leader succeeds.
func (c *Cluster) WaitLeader(timeout time.Duration) (*Node, error) {
	deadline := time.Now().Add(timeout)
	for {
		n, err := c.Leader()
		if err == nil {
			return n, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("no leader after %v: %v%s", timeout, err, c.describeExited())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// WaitNewLeader waits until a node other than old leads (see Leader).
func (c *Cluster) WaitNewLeader(old *Node, timeout time.Duration) (*Node, error) {
	deadline := time.Now().Add(timeout)
	for {
		n, err := c.Leader()
		if err == nil && n != old {
			return n, nil
		}
		if err == nil {
			err = fmt.Errorf("%s still leads", old.Opts.ID)
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("no new leader after %v: %v%s", timeout, err, c.describeExited())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// MustNewLeader is WaitNewLeader failing the test.
func (c *Cluster) MustNewLeader(old *Node) *Node {
	c.t.Helper()
	n, err := c.WaitNewLeader(old, 60*time.Second)
	if err != nil {
		c.t.Fatal(err)
	}
	return n
}

// MustLeader is WaitLeader failing the test.
func (c *Cluster) MustLeader() *Node {
	c.t.Helper()
	n, err := c.WaitLeader(60 * time.Second)
	if err != nil {
		c.t.Fatal(err)
	}
	return n
}

// Others lists the cluster's nodes other than n, in order (the followers,
// when n is the leader).
func (c *Cluster) Others(n *Node) []*Node {
	var out []*Node
	for _, m := range c.Nodes {
		if m != n {
			out = append(out, m)
		}
	}
	return out
}

// WaitConverged waits until every running node answers, knows the same
// leader, and has applied the same index with the same state hash, and
// returns that hash.
func (c *Cluster) WaitConverged(timeout time.Duration) (string, error) {
	deadline := time.Now().Add(timeout)
	last := ""
	for {
		running := c.Running()
		ls := c.Locals()
		if len(ls) == len(running) && len(ls) > 0 {
			var ref Local
			same := true
			for _, l := range ls {
				if ref.ID == "" {
					ref = l
					continue
				}
				if l.AppliedIndex != ref.AppliedIndex || l.HashIndex != ref.HashIndex || l.StateHash != ref.StateHash || l.LeaderID != ref.LeaderID {
					same = false
				}
			}
			// (appliedIndex may be ahead of stateHashIndex: Raft's no-op
			// and barrier entries never reach the store.)
			if same && ref.LeaderID != "" {
				// The hashes compared are the ones each node keeps as it
				// applies; check once that every node's entries add up
				// to its kept hash.
				return ref.StateHash, c.verifyStateHashes(ref)
			}
		}
		last = describeLocals(ls)
		if time.Now().After(deadline) {
			return "", fmt.Errorf("not converged after %v: %s (%d running)%s", timeout, last, len(running), c.describeExited())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// verifyStateHashes asks every running node to recompute its state hash
// from its entries; each must equal the converged hash ref.
func (c *Cluster) verifyStateHashes(ref Local) error {
	for _, n := range c.Running() {
		l, err := localOf(n, n.Client(time.Minute), "?recompute=1")
		if err != nil {
			return fmt.Errorf("%s: recompute the state hash: %w", n.Opts.ID, err)
		}
		if l.StateHash != ref.StateHash && l.HashIndex == ref.HashIndex {
			return fmt.Errorf("%s: recomputed state hash %s at index %d, converged on %s", n.Opts.ID, l.StateHash, l.HashIndex, ref.StateHash)
		}
	}
	return nil
}

// MustConverge is WaitConverged failing the test.
func (c *Cluster) MustConverge() string {
	c.t.Helper()
	h, err := c.WaitConverged(90 * time.Second)
	if err != nil {
		c.t.Fatal(err)
	}
	return h
}

func (c *Cluster) describeExited() string {
	var b strings.Builder
	for _, n := range c.Nodes {
		if gone, status := n.ExitedUnexpectedly(); gone {
			fmt.Fprintf(&b, "; node %s exited unexpectedly (%s)", n.Opts.ID, status)
		}
	}
	return b.String()
}

func describeLocals(ls map[*Node]Local) string {
	var b strings.Builder
	for n, l := range ls {
		h := l.StateHash
		if len(h) > 8 {
			h = h[:8]
		}
		fmt.Fprintf(&b, "[%s %s term=%d leader=%s applied=%d hash=%s@%d] ", n.Opts.ID, l.State, l.Term, l.LeaderID, l.AppliedIndex, h, l.HashIndex)
	}
	return b.String()
}

// Status fetches the cluster report from a node.
func (c *Cluster) Status(n *Node) (cluster.Status, error) {
	var st cluster.Status
	// The report probes every member (up to 700 ms each, in parallel).
	resp, err := n.Client(5 * time.Second).Get(n.API + cluster.AdminBase + "/status")
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		return st, fmt.Errorf("status: %s: %s", resp.Status, b)
	}
	return st, json.NewDecoder(resp.Body).Decode(&st)
}

// WaitVoters waits until the cluster report (from the leader) lists want
// voters, all reachable: the cluster has its full failure tolerance again.
func (c *Cluster) WaitVoters(want int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var last string
	for {
		if l, err := c.Leader(); err == nil {
			st, err := c.Status(l)
			if err == nil && st.Voters == want && st.HealthyVoters == want {
				return nil
			}
			last = fmt.Sprintf("%+v %v", st, err)
		} else {
			last = err.Error()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("cluster did not reach %d healthy voters in %v: %s%s", want, timeout, last, c.describeExited())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// Admin sends a signed cluster operation (join, remove, transfer-leader)
// to a node and returns the HTTP status and body.
func (c *Cluster) Admin(n *Node, op string, body any) (int, string, error) {
	return c.Signed(n, http.MethodPost, cluster.AdminBase+"/"+op, body)
}

// Signed sends a request signed with the cluster key (operations that
// need it) to a node and returns the HTTP status and body. A nil body
// sends none.
func (c *Cluster) Signed(n *Node, method, path string, body any) (int, string, error) {
	var payload []byte
	if body != nil {
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return 0, "", err
		}
	}
	req, err := http.NewRequest(method, n.API+path, bytes.NewReader(payload))
	if err != nil {
		return 0, "", err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	adminauth.Sign([]byte(c.Opts.Key), req, payload)
	resp, err := n.Client(30 * time.Second).Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), nil
}

// ---- faults

// Partition cuts the given nodes off from every other node of the cluster
// (the given nodes still reach each other).
func (c *Cluster) Partition(nodes ...*Node) {
	in := map[*Node]bool{}
	for _, n := range nodes {
		in[n] = true
	}
	for _, a := range c.Nodes {
		for _, b := range c.Nodes {
			if in[a] && !in[b] {
				c.Net.Cut(a.Opts.IP, b.Opts.IP)
			}
		}
	}
}

// Isolate cuts one node off from all others.
func (c *Cluster) Isolate(n *Node) { c.Partition(n) }

// Heal removes every network cut.
func (c *Cluster) Heal() { c.Net.HealAll() }

// InZone returns the nodes of a zone.
func (c *Cluster) InZone(zone string) []*Node {
	var out []*Node
	for _, n := range c.Nodes {
		if n.Opts.Zone == zone {
			out = append(out, n)
		}
	}
	return out
}

// KillZone SIGKILLs every node of a zone and returns them.
func (c *Cluster) KillZone(zone string) []*Node {
	nodes := c.InZone(zone)
	parallel(nodes, (*Node).Kill)
	return nodes
}

// KillAll SIGKILLs every node at once.
func (c *Cluster) KillAll() { parallel(c.Nodes, (*Node).Kill) }

// StartNodes starts stopped nodes and waits until each knows a leader.
func (c *Cluster) StartNodes(nodes ...*Node) {
	c.t.Helper()
	for _, n := range nodes {
		n.Start()
	}
	for _, n := range nodes {
		if err := n.WaitReady(60 * time.Second); err != nil {
			c.t.Fatal(err)
		}
	}
}

// RestartAll stops every node gracefully (SIGTERM, all at once) and starts
// them all again.
func (c *Cluster) RestartAll() {
	c.t.Helper()
	parallel(c.Nodes, (*Node).Terminate)
	c.StartNodes(c.Nodes...)
}

// Rejoin wipes a stopped node's data directory and starts it again with
// the same id, joining through via (not bootstrapping: its state must come
// from the cluster).
func (c *Cluster) Rejoin(n, via *Node) {
	c.t.Helper()
	n.Wipe()
	n.Opts.Args = c.JoinArgs(n, via)
	n.Start()
}

func parallel(nodes []*Node, f func(*Node)) {
	var wg sync.WaitGroup
	for _, n := range nodes {
		wg.Add(1)
		go func(n *Node) { defer wg.Done(); f(n) }(n)
	}
	wg.Wait()
}

// DumpLogs writes the tail of every node's log to the test log.
func (c *Cluster) DumpLogs(lines int) {
	for _, n := range c.Nodes {
		log := strings.Split(strings.TrimRight(n.Log(), "\n"), "\n")
		if len(log) > lines {
			log = log[len(log)-lines:]
		}
		c.t.Logf("---- last %d lines of %s (%s)\n%s", len(log), n.Opts.ID, n.LogPath, strings.Join(log, "\n"))
	}
}

// KeepLogs copies every node's whole log to a directory that outlives the
// test and says where.
func (c *Cluster) KeepLogs() {
	dir, err := os.MkdirTemp("", "weir-logs-")
	if err != nil {
		c.t.Log(err)
		return
	}
	for _, n := range c.Nodes {
		if err := os.WriteFile(filepath.Join(dir, n.Opts.ID+".log"), []byte(n.Log()), 0o644); err != nil {
			c.t.Log(err)
		}
	}
	c.t.Logf("node logs kept in %s", dir)
}

// Context returns a context for requests that must not outlive the test.
func (c *Cluster) Context() context.Context { return Context(c.t) }
