package cluster_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/weir-nifi/weir/internal/client"
	"github.com/weir-nifi/weir/internal/cluster"
	"github.com/weir-nifi/weir/internal/daemon"
	"github.com/weir-nifi/weir/internal/freeport"
	"github.com/weir-nifi/weir/internal/model"
)

const key = "in-process-cluster-key-0123"

// freeAddr picks a free loopback port, never one it handed out before in
// this test process (two probes in a row can get the same port, and a
// node's API and Raft listeners then collide).
func freeAddr(t *testing.T) string {
	t.Helper()
	ps, err := freeport.Ports("127.0.0.1", 1)
	if err != nil {
		t.Fatal(err)
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(ps[0]))
}

type node struct {
	cfg daemon.Config
	srv *daemon.Server
}

func start(t *testing.T, cfg daemon.Config) *node {
	t.Helper()
	s, err := daemon.Start(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	n := &node{cfg: cfg, srv: s}
	t.Cleanup(func() { n.stop() })
	return n
}

func (n *node) stop() {
	if n.srv == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = n.srv.Shutdown(ctx)
	n.srv = nil
}

func (n *node) url() string { return "http://" + n.srv.Addr() }

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

func leaderOf(nodes []*node) *node {
	for _, n := range nodes {
		if n.srv != nil && n.srv.Node().IsLeader() {
			return n
		}
	}
	return nil
}

func startThree(t *testing.T) []*node {
	var cfgs []daemon.Config
	var peers string
	for i := 1; i <= 3; i++ {
		raft := freeAddr(t)
		peers += fmt.Sprintf("n%d=%s,", i, raft)
		cfgs = append(cfgs, daemon.Config{NodeID: fmt.Sprintf("n%d", i), Listen: "127.0.0.1:0", RaftListen: raft,
			DataDir: t.TempDir(), ClusterKey: key, Zone: fmt.Sprintf("z%d", i)})
	}
	var nodes []*node
	for _, c := range cfgs {
		c.Bootstrap = peers
		nodes = append(nodes, start(t, c))
	}
	waitFor(t, "a leader", func() bool { return leaderOf(nodes) != nil })
	return nodes
}

// Writes through a follower are forwarded, reads on another follower see
// them at once (linearizable by default), and a new leader takes over when
// the leader goes away, with every replica's state identical.
func TestThreeNodesForwardReadFailover(t *testing.T) {
	nodes := startThree(t)
	ctx := context.Background()
	leader := leaderOf(nodes)
	var followers []*node
	for _, n := range nodes {
		if n != leader {
			followers = append(followers, n)
		}
	}
	c1, c2 := client.New(followers[0].url()), client.New(followers[1].url())
	b, err := c1.CreateBucket(ctx, model.Bucket{Name: model.Str("via-follower")}, false)
	if err != nil {
		t.Fatal(err)
	}
	got, err := c2.Bucket(ctx, *b.Identifier)
	if err != nil || *got.Name != "via-follower" {
		t.Fatalf("read on the other follower: %+v %v", got, err)
	}

	leader.stop()
	waitFor(t, "a new leader", func() bool { return leaderOf(followers) != nil })
	if _, err := c1.CreateBucket(ctx, model.Bucket{Name: model.Str("after-failover")}, false); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "equal state on both survivors", func() bool {
		h0, i0, _ := followers[0].srv.Store().StateHash()
		h1, i1, _ := followers[1].srv.Store().StateHash()
		return h0 == h1 && i0 == i1
	})
	bs, err := c2.Buckets(ctx)
	if err != nil || len(bs) != 2 {
		t.Fatalf("buckets after failover: %d %v", len(bs), err)
	}
}

// Nodes that join start as non-voters and are promoted once caught up,
// one voter per zone; status reports zones and tolerance.
func TestJoinPromotesAcrossZones(t *testing.T) {
	first := start(t, daemon.Config{NodeID: "a", Listen: "127.0.0.1:0", RaftListen: freeAddr(t), DataDir: t.TempDir(), ClusterKey: key, Zone: "z1"})
	waitFor(t, "first node leads", func() bool { return first.srv.Node().IsLeader() })
	if _, err := client.New(first.url()).CreateBucket(context.Background(), model.Bucket{Name: model.Str("before-join")}, false); err != nil {
		t.Fatal(err)
	}
	for i, z := range []string{"z2", "z3"} {
		start(t, daemon.Config{NodeID: fmt.Sprintf("j%d", i), Listen: "127.0.0.1:0", RaftListen: freeAddr(t), DataDir: t.TempDir(),
			ClusterKey: key, Zone: z, Join: []string{first.url()}})
	}
	var st cluster.Status
	waitFor(t, "three voters in three zones", func() bool {
		var err error
		st, err = first.srv.Node().ClusterStatus()
		if err != nil || st.Voters != 3 || st.HealthyVoters != 3 {
			return false
		}
		for _, z := range st.Zones {
			if z.Voters != 1 || !z.SurvivesLoss {
				return false
			}
		}
		return len(st.Zones) == 3
	})
	if st.FailureTolerance != 1 || !st.HasQuorum || len(st.Warnings) != 0 {
		t.Fatalf("status %+v", st)
	}
}

// A node that joins with nothing while the leader's log holds more than
// TrailingLogs entries since its last snapshot is sent a snapshot (the
// leader takes one first), not every entry.
func TestJoinerFarBehindGetsASnapshot(t *testing.T) {
	cfg := func(id string) daemon.Config {
		return daemon.Config{NodeID: id, Listen: "127.0.0.1:0", RaftListen: freeAddr(t), DataDir: t.TempDir(), ClusterKey: key,
			TrailingLogs: 16, SnapshotThreshold: 1 << 20, SnapshotInterval: time.Hour}
	}
	first := start(t, cfg("a"))
	waitFor(t, "first node leads", func() bool { return first.srv.Node().IsLeader() })
	cl := client.New(first.url())
	for i := range 100 {
		if _, err := cl.CreateBucket(context.Background(), model.Bucket{Name: model.Str(fmt.Sprintf("b%d", i))}, false); err != nil {
			t.Fatal(err)
		}
	}
	if s := first.srv.Node().Raft().Stats()["last_snapshot_index"]; s != "0" {
		t.Fatalf("the leader snapshotted before the join (index %s): the test proves nothing", s)
	}
	jc := cfg("j")
	jc.Join = []string{first.url()}
	j := start(t, jc)
	waitFor(t, "the joiner has applied everything", func() bool {
		h0, i0, _ := first.srv.Store().StateHash()
		h1, i1, _ := j.srv.Store().StateHash()
		return h0 == h1 && i0 == i1
	})
	if s := j.srv.Node().Raft().Stats()["last_snapshot_index"]; s == "0" {
		t.Fatal("the joiner replayed the whole log instead of installing a snapshot")
	}
}
