package harness

import (
	"testing"
	"time"
)

// TestClusterProxies checks the harness itself: nodes advertise their
// proxies, Raft traffic flows through them, and isolating the leader makes
// the others elect a new one until the network heals.
func TestClusterProxies(t *testing.T) {
	if testing.Short() {
		t.Skip("starts weir processes")
	}
	c := StartCluster(t, ClusterOptions{N: 3, Zones: []string{"z1", "z2", "z3"}})
	leader := c.MustLeader()
	st, err := c.Status(leader)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range st.Members {
		if n := c.Node(m.ID); n == nil || m.RaftAddr != c.ProxyOf(n).Addr {
			t.Fatalf("member %s advertises %s, not its proxy", m.ID, m.RaftAddr)
		}
	}
	for _, n := range c.Nodes {
		if n != leader && c.ProxyOf(n).PeerConns() == 0 {
			t.Fatalf("no connection from the leader through %s's proxy", n.Opts.ID)
		}
	}

	c.Isolate(leader)
	next := c.MustNewLeader(leader)
	if n := c.ProxyOf(leader).PeerConns(); n != 0 {
		t.Fatalf("isolated leader's proxy still has %d connections from peers", n)
	}
	c.Heal()
	if _, err := c.WaitConverged(60 * time.Second); err != nil {
		t.Fatal(err)
	}
	if l, err := LocalOf(leader); err != nil || l.LeaderID != next.Opts.ID {
		t.Fatalf("healed node follows %q (%v), want %s", l.LeaderID, err, next.Opts.ID)
	}
}
