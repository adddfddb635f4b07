package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// ClusterKey is the key benchmark clusters share.
const ClusterKey = "weir-bench-cluster-key-0123456789"

// WeirNode is one weir server process.
type WeirNode struct {
	env      *Env
	ID, IP   string
	HTTPPort int
	RaftPort int
	DataDir  string
	Args     []string // extra flags
	API      string   // http://ip:port
	Proc     *Proc
}

// NewWeirNode prepares a node with free ports and a new data directory.
func (e *Env) NewWeirNode(id, ip string, args ...string) (*WeirNode, error) {
	hp, err := FreePort(ip)
	if err != nil {
		return nil, err
	}
	rp, err := FreePort(ip)
	if err != nil {
		return nil, err
	}
	dir, err := e.Dir("weir-" + id)
	if err != nil {
		return nil, err
	}
	return &WeirNode{env: e, ID: id, IP: ip, HTTPPort: hp, RaftPort: rp, DataDir: dir, Args: args,
		API: fmt.Sprintf("http://%s:%d", ip, hp)}, nil
}

// RaftAddr is the node's cluster address.
func (n *WeirNode) RaftAddr() string { return fmt.Sprintf("%s:%d", n.IP, n.RaftPort) }

// Start launches the process (again after Kill or Terminate).
func (n *WeirNode) Start() error {
	if err := n.env.BuildWeir(); err != nil {
		return err
	}
	args := append([]string{"server",
		"--node-id", n.ID,
		"--data-dir", n.DataDir,
		"--listen", fmt.Sprintf("%s:%d", n.IP, n.HTTPPort),
		"--raft-listen", n.RaftAddr(),
		"--cluster-key", ClusterKey,
		"--log-level", logLevel(),
	}, n.Args...)
	p, err := n.env.Start(ProcSpec{Name: "weir-" + n.ID, Bin: n.env.WeirBin, Args: args,
		Log: filepath.Join(n.env.Work, "weir-"+n.ID+".log")})
	n.Proc = p
	return err
}

// logLevel is the nodes' --log-level: WEIRBENCH_LOG_LEVEL, default warn
// (info logs elections and joins with timestamps, for looking into a gap).
func logLevel() string {
	if l := os.Getenv("WEIRBENCH_LOG_LEVEL"); l != "" {
		return l
	}
	return "warn"
}

// Kill SIGKILLs the node; Terminate stops it gracefully.
func (n *WeirNode) Kill()      { n.Proc.Kill() }
func (n *WeirNode) Terminate() { n.Proc.Terminate() }

// MemberStatus and ClusterStatus mirror the parts of
// /weir-api/cluster/status the benchmarks read. (That endpoint is used
// rather than /local because /local hashes the whole state on every call.)
type MemberStatus struct {
	ID           string `json:"id"`
	Suffrage     string `json:"suffrage"`
	Reachable    bool   `json:"reachable"`
	State        string `json:"state"`
	CommitIndex  uint64 `json:"commitIndex"`
	AppliedIndex uint64 `json:"appliedIndex"`
	Lag          uint64 `json:"lag"`
	Leader       bool   `json:"leader"`
	APIURL       string `json:"apiUrl"`
}

type ClusterStatus struct {
	Self          string         `json:"self"`
	LeaderID      string         `json:"leaderId"`
	Term          uint64         `json:"term"`
	CommitIndex   uint64         `json:"commitIndex"`
	Voters        int            `json:"voters"`
	HealthyVoters int            `json:"healthyVoters"`
	Members       []MemberStatus `json:"members"`
}

// Member returns the entry for id.
func (s ClusterStatus) Member(id string) (MemberStatus, bool) {
	for _, m := range s.Members {
		if m.ID == id {
			return m, true
		}
	}
	return MemberStatus{}, false
}

var ctlClient = &http.Client{Timeout: 5 * time.Second}

// Status fetches /weir-api/cluster/status from this node.
func (n *WeirNode) Status() (ClusterStatus, error) {
	var s ClusterStatus
	resp, err := ctlClient.Get(n.API + "/weir-api/cluster/status")
	if err != nil {
		return s, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return s, fmt.Errorf("status: %s: %s", resp.Status, b)
	}
	return s, json.Unmarshal(b, &s)
}

// IsLeader reports whether this node says it is the leader.
func (n *WeirNode) IsLeader() (bool, error) {
	s, err := n.Status()
	if err != nil {
		return false, err
	}
	m, ok := s.Member(n.ID)
	return ok && m.Leader, nil
}

// WeirCluster is a set of nodes forming one cluster.
type WeirCluster struct {
	Nodes []*WeirNode
}

// StartWeirCluster starts n voters on 127.0.0.1..n with a static
// bootstrap list and waits until every one is caught up with a leader.
func (e *Env) StartWeirCluster(n int, args ...string) (*WeirCluster, error) {
	return e.StartWeirClusterAt("w", "127.0.0.", n, args...)
}

// StartWeirClusterAt starts n nodes named prefix1..n on ipBase1..n (a
// second cluster beside the first, e.g. a DR standby).
func (e *Env) StartWeirClusterAt(prefix, ipBase string, n int, args ...string) (*WeirCluster, error) {
	return e.StartWeirClusterWith(prefix, ipBase, n, func(int) []string { return args })
}

// StartWeirClusterWith is StartWeirClusterAt with each node's own extra
// arguments (node i counts from 1), e.g. its zone.
func (e *Env) StartWeirClusterWith(prefix, ipBase string, n int, args func(i int) []string) (*WeirCluster, error) {
	c := &WeirCluster{}
	var boot []string
	for i := 1; i <= n; i++ {
		node, err := e.NewWeirNode(fmt.Sprintf("%s%d", prefix, i), fmt.Sprintf("%s%d", ipBase, i), args(i)...)
		if err != nil {
			return nil, err
		}
		c.Nodes = append(c.Nodes, node)
		boot = append(boot, node.ID+"="+node.RaftAddr())
	}
	if n > 1 {
		for _, node := range c.Nodes {
			node.Args = append(node.Args, "--bootstrap", strings.Join(boot, ","))
		}
	}
	for _, node := range c.Nodes {
		if err := node.Start(); err != nil {
			return nil, err
		}
	}
	return c, c.WaitHealthy(60 * time.Second)
}

// APIs are the nodes' API base URLs.
func (c *WeirCluster) APIs() []string {
	out := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		out[i] = n.API
	}
	return out
}

// Leader returns the current leader (asking every running node).
func (c *WeirCluster) Leader() (*WeirNode, error) {
	for _, n := range c.Nodes {
		if n.Proc == nil || n.Proc.Exited() {
			continue
		}
		if s, err := n.Status(); err == nil && s.LeaderID != "" {
			for _, m := range c.Nodes {
				if m.ID == s.LeaderID {
					return m, nil
				}
			}
		}
	}
	return nil, fmt.Errorf("no leader")
}

// WaitHealthy waits until the leader sees every node as a reachable
// member with nothing left to apply.
func (c *WeirCluster) WaitHealthy(timeout time.Duration) error {
	return poll(timeout, 20*time.Millisecond, func() (bool, error) {
		l, err := c.Leader()
		if err != nil {
			return false, err
		}
		s, err := l.Status()
		if err != nil {
			return false, err
		}
		for _, n := range c.Nodes {
			m, ok := s.Member(n.ID)
			if !ok || !m.Reachable || m.AppliedIndex < s.CommitIndex {
				return false, fmt.Errorf("member %s not caught up: %+v", n.ID, m)
			}
		}
		return true, nil
	})
}

// Stop terminates every node.
func (c *WeirCluster) Stop() {
	for _, n := range c.Nodes {
		if n.Proc != nil {
			n.Terminate()
		}
	}
}

// Destroy stops the nodes and removes their data directories (unless the
// run keeps its directory, -keep), for a measurement that writes so much
// that the next one would not fit or would pay for its writeback.
func (c *WeirCluster) Destroy() {
	c.Stop()
	for _, n := range c.Nodes {
		if !n.env.Keep {
			_ = os.RemoveAll(n.DataDir)
		}
	}
}

// API is a minimal client of the NiFi Registry paths the benchmarks use.
// Hot paths discard response bodies instead of decoding them, so client
// CPU stays small next to the server's.
type API struct {
	Base string // http://host:port
	HC   *http.Client
}

// NewHTTPClient is a keep-alive client sized for conns parallel clients.
// Compression is off so that neither side of a comparison gets or pays
// for gzip.
func NewHTTPClient(conns int, timeout time.Duration) *http.Client {
	return &http.Client{Timeout: timeout, Transport: &http.Transport{
		MaxIdleConns: conns * 2, MaxIdleConnsPerHost: conns * 2, DisableCompression: true,
		IdleConnTimeout: 90 * time.Second,
	}}
}

const apiBase = "/nifi-registry-api"

func (a *API) do(ctx context.Context, method, path string, body []byte, out any) error {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.Base+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := a.HC.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, strings.TrimSpace(string(b)))
	}
	if out != nil {
		return json.NewDecoder(resp.Body).Decode(out)
	}
	_, err = io.Copy(io.Discard, resp.Body)
	return err
}

// CreateBucket creates a bucket and returns its id.
func (a *API) CreateBucket(ctx context.Context, name string) (string, error) {
	b, _ := json.Marshal(map[string]string{"name": name})
	var out struct {
		Identifier string `json:"identifier"`
	}
	err := a.do(ctx, http.MethodPost, apiBase+"/buckets", b, &out)
	return out.Identifier, err
}

// CreateFlow creates a flow in a bucket and returns its id.
func (a *API) CreateFlow(ctx context.Context, bucket, name string) (string, error) {
	b, _ := json.Marshal(map[string]string{"name": name})
	var out struct {
		Identifier string `json:"identifier"`
	}
	err := a.do(ctx, http.MethodPost, apiBase+"/buckets/"+url.PathEscape(bucket)+"/flows", b, &out)
	return out.Identifier, err
}

// Flow names one flow.
type Flow struct{ Bucket, ID string }

func (f Flow) path() string {
	return apiBase + "/buckets/" + url.PathEscape(f.Bucket) + "/flows/" + url.PathEscape(f.ID)
}

// CreateFlows makes one bucket holding n flows.
func (a *API) CreateFlows(ctx context.Context, n int) ([]Flow, error) {
	b, err := a.CreateBucket(ctx, fmt.Sprintf("bench-%d", time.Now().UnixNano()))
	if err != nil {
		return nil, err
	}
	flows := make([]Flow, n)
	for i := range flows {
		id, err := a.CreateFlow(ctx, b, fmt.Sprintf("flow-%03d", i))
		if err != nil {
			return nil, err
		}
		flows[i] = Flow{b, id}
	}
	return flows, nil
}

// Commit posts body as the next version (the body says version -1).
func (a *API) Commit(ctx context.Context, f Flow, body []byte) error {
	return a.do(ctx, http.MethodPost, f.path()+"/versions", body, nil)
}

// DeleteFlow deletes a flow with its versions.
func (a *API) DeleteFlow(ctx context.Context, f Flow) error {
	return a.do(ctx, http.MethodDelete, f.path(), nil, nil)
}

// LatestPath is the path of GET …/versions/latest.
func (f Flow) LatestPath() string { return f.path() + "/versions/latest" }

// VersionPath is the path of GET …/versions/{v}.
func (f Flow) VersionPath(v int) string { return fmt.Sprintf("%s/versions/%d", f.path(), v) }

// Get reads a path and discards the body.
func (a *API) Get(ctx context.Context, path string) error {
	return a.do(ctx, http.MethodGet, path, nil, nil)
}

// GetBytes reads a path and returns the body.
func (a *API) GetBytes(ctx context.Context, path string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.Base+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := a.HC.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != 200 {
		err = fmt.Errorf("GET %s: %s: %s", path, resp.Status, b)
	}
	return b, err
}

// VersionCount returns how many versions a flow has.
func (a *API) VersionCount(ctx context.Context, f Flow) (int, error) {
	var out []json.RawMessage
	err := a.do(ctx, http.MethodGet, f.path()+"/versions", nil, &out)
	return len(out), err
}
