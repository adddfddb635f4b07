package systest

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/weir-nifi/weir/internal/harness"
)

// The fault scenarios run a concurrent client workload (8 clients, random
// nodes) against a cluster, inject a fault and let the cluster recover,
// for a few rounds, and then check that (a) no acknowledged write is lost,
// (b) the recorded history is linearizable and (c) every node ends with
// the same state hash (Workload.Verify). They take minutes: -short skips
// them.

var (
	zones3 = []string{"z1", "z2", "z3"}
	zones5 = []string{"z1", "z1", "z2", "z2", "z3"}
)

// snapshotArgs make the leader compact its log often, so followers that
// fall behind are brought back with a snapshot.
var snapshotArgs = []string{"--snapshot-threshold", "64", "--trailing-logs", "32", "--snapshot-interval", "1s", "--raft-segment-size", "65536"}

func long(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("cluster fault scenario (skipped with -short)")
	}
}

// phase logs how long a step of a scenario took (for the report; nothing
// is asserted on it).
func phase(t *testing.T, name string, start time.Time) {
	t.Helper()
	t.Logf("%-40s %6.2fs", name, time.Since(start).Seconds())
}

// scenario starts a cluster and a workload, waits for writes to flow, and
// then, rounds times, runs the fault and waits for writes to flow again;
// at last it verifies the whole history.
func scenario(t *testing.T, o harness.ClusterOptions, rounds int, fault func(c *harness.Cluster, w *harness.Workload)) {
	t0 := time.Now()
	c := harness.StartCluster(t, o)
	phase(t, "cluster up", t0)
	w := c.StartWorkload(harness.WorkloadOptions{})
	w.MustProgress(50)
	for i := 1; i <= rounds; i++ {
		t1 := time.Now()
		fault(c, w)
		phase(t, fmt.Sprintf("round %d: fault and recovery", i), t1)
		t2 := time.Now()
		w.MustProgress(50)
		phase(t, fmt.Sprintf("round %d: 50 writes after recovery", i), t2)
		// The next fault only once every node votes again (the
		// membership loop re-promotes nodes that were down for long).
		t3 := time.Now()
		if err := c.WaitVoters(len(c.Nodes), 90*time.Second); err != nil {
			t.Fatal(err)
		}
		phase(t, fmt.Sprintf("round %d: all nodes voters again", i), t3)
	}
	t3 := time.Now()
	w.Verify(t)
	phase(t, "verification", t3)
	phase(t, "total", t0)
}

func testKillLeader(t *testing.T, o harness.ClusterOptions) {
	scenario(t, o, 3, func(c *harness.Cluster, w *harness.Workload) {
		old := c.MustLeader()
		t0 := time.Now()
		old.Kill()
		n := c.MustNewLeader(old)
		phase(t, "new leader after SIGKILL of "+old.Opts.ID+": "+n.Opts.ID, t0)
		w.MustProgress(30)
		t1 := time.Now()
		c.StartNodes(old)
		phase(t, "old leader restarted", t1)
	})
}

func TestClusterKillLeader(t *testing.T) {
	long(t)
	testKillLeader(t, harness.ClusterOptions{N: 3, Zones: zones3})
}

func TestClusterKillLeader5(t *testing.T) {
	long(t)
	testKillLeader(t, harness.ClusterOptions{N: 5, Zones: zones5})
}

// TestClusterPauseLeader stops the leader (SIGSTOP) for longer than the
// election timeout: the others elect a new leader; the old one, resumed,
// must step down without acknowledging anything from its stale term
// (stale acknowledgements would show up as lost writes or as a
// non-linearizable history).
func TestClusterPauseLeader(t *testing.T) {
	long(t)
	scenario(t, harness.ClusterOptions{N: 3, Zones: zones3}, 2, func(c *harness.Cluster, w *harness.Workload) {
		old := c.MustLeader()
		before, err := harness.LocalOf(old)
		if err != nil {
			t.Fatal(err)
		}
		t0 := time.Now()
		old.Pause()
		waitStopped(t, old)
		n := c.MustNewLeader(old)
		phase(t, "new leader while "+old.Opts.ID+" is paused: "+n.Opts.ID, t0)
		// Clients that picked the paused node wait for it (their requests
		// are served, or time out, after it resumes); the others are
		// served by the new leader. Stay paused at least 3 s and until 10
		// writes went through, but not for so long (10 s) that the
		// membership loop demotes the paused node.
		acked0 := w.Acked()
		_ = w.WaitAcked(10, 7*time.Second-time.Since(t0))
		if d := 3*time.Second - time.Since(t0); d > 0 {
			time.Sleep(d)
		}
		old.Resume()
		phase(t, fmt.Sprintf("paused (%d writes acknowledged meanwhile)", w.Acked()-acked0), t0)
		// The old leader learns of the higher term and follows.
		deadline := time.Now().Add(30 * time.Second)
		for {
			l, err := harness.LocalOf(old)
			if err == nil && l.Term > before.Term && l.State == "Follower" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("resumed old leader did not become a follower in a later term: %+v %v", l, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
		phase(t, "old leader follows again", t0)
		t.Cleanup(func() { outcomesVia(t, w, old) })
	})
}

// TestClusterPartitionLeader cuts the leader off from the other nodes
// (clients still reach it), then heals the network.
func TestClusterPartitionLeader(t *testing.T) {
	long(t)
	scenario(t, harness.ClusterOptions{N: 3, Zones: zones3}, 2, func(c *harness.Cluster, w *harness.Workload) {
		old := c.MustLeader()
		t0 := time.Now()
		c.Isolate(old)
		n := c.MustNewLeader(old)
		phase(t, "new leader after isolating "+old.Opts.ID+": "+n.Opts.ID, t0)
		// The isolated old leader must step down on its own (it cannot
		// reach a quorum).
		deadline := time.Now().Add(30 * time.Second)
		for {
			l, err := harness.LocalOf(old)
			if err == nil && l.State != "Leader" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("isolated old leader still leads: %+v %v", l, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
		phase(t, "isolated leader stepped down", t0)
		// Clients that reach the isolated node wait for a leader and
		// give up; the others are served by the majority.
		t1 := time.Now()
		w.MustProgress(30)
		phase(t, "30 writes while partitioned", t1)
		t2 := time.Now()
		c.Heal()
		if _, err := c.WaitConverged(60 * time.Second); err != nil {
			t.Fatal(err)
		}
		phase(t, "converged after heal", t2)
		t.Cleanup(func() { outcomesVia(t, w, old) })
	})
}

// zoneToKill picks the leader's zone if it holds more than one node (the
// harder case), else the first zone with more than one node, else the
// leader's zone.
func zoneToKill(c *harness.Cluster) string {
	l := c.MustLeader()
	if len(c.InZone(l.Opts.Zone)) > 1 {
		return l.Opts.Zone
	}
	for _, n := range c.Nodes {
		if len(c.InZone(n.Opts.Zone)) > 1 {
			return n.Opts.Zone
		}
	}
	return l.Opts.Zone
}

func testKillZone(t *testing.T, o harness.ClusterOptions) {
	scenario(t, o, 3, func(c *harness.Cluster, w *harness.Workload) {
		zone := zoneToKill(c)
		t0 := time.Now()
		dead := c.KillZone(zone)
		var ids []string
		for _, n := range dead {
			ids = append(ids, n.Opts.ID)
		}
		n := c.MustLeader()
		phase(t, "leader "+n.Opts.ID+" after killing zone "+zone+" ("+strings.Join(ids, ",")+")", t0)
		w.MustProgress(30)
		t1 := time.Now()
		c.StartNodes(dead...)
		phase(t, "zone restarted", t1)
	})
}

func TestClusterKillZone(t *testing.T) {
	long(t)
	testKillZone(t, harness.ClusterOptions{N: 3, Zones: zones3})
}

func TestClusterKillZone5(t *testing.T) {
	long(t)
	testKillZone(t, harness.ClusterOptions{N: 5, Zones: zones5})
}

// TestClusterRestartAll stops every node at once (SIGTERM) and starts them
// all again.
func TestClusterRestartAll(t *testing.T) {
	long(t)
	scenario(t, harness.ClusterOptions{N: 3, Zones: zones3}, 3, func(c *harness.Cluster, w *harness.Workload) {
		t0 := time.Now()
		c.RestartAll()
		n := c.MustLeader()
		phase(t, "all restarted, leader "+n.Opts.ID, t0)
	})
}

// TestClusterKillAll crashes every node at once (SIGKILL) and starts them
// all again: everything acknowledged was on a quorum's disks.
func TestClusterKillAll(t *testing.T) {
	long(t)
	scenario(t, harness.ClusterOptions{N: 3, Zones: zones3}, 3, func(c *harness.Cluster, w *harness.Workload) {
		t0 := time.Now()
		c.KillAll()
		c.StartNodes(c.Nodes...)
		n := c.MustLeader()
		phase(t, "all killed and restarted, leader "+n.Opts.ID, t0)
	})
}

// TestClusterWipeRejoin kills a follower, lets the cluster compact its log
// past the follower's position, wipes the follower's data and starts it
// with --join and the same id: it must be sent a snapshot, catch up,
// become a voter again and converge.
func TestClusterWipeRejoin(t *testing.T) {
	long(t)
	o := harness.ClusterOptions{N: 3, Zones: zones3, ExtraArgs: snapshotArgs}
	scenario(t, o, 1, func(c *harness.Cluster, w *harness.Workload) {
		leader := c.MustLeader()
		var victim *harness.Node
		for _, n := range c.Nodes {
			if n != leader {
				victim = n
				break
			}
		}
		t0 := time.Now()
		victim.Kill()
		// Raft checks whether to snapshot every 30-60 s; wait (writes
		// going on) until the leader has taken a snapshot and compacted
		// its log, so the wiped node cannot be sent the log from the start.
		w.SetPace(100 * time.Millisecond)
		logStart := len(leader.Log())
		deadline := time.Now().Add(2 * time.Minute)
		for !strings.Contains(leader.Log()[logStart:], "compacting logs") {
			if time.Now().After(deadline) {
				t.Fatalf("leader %s took no snapshot in 2 minutes", leader.Opts.ID)
			}
			time.Sleep(200 * time.Millisecond)
		}
		phase(t, "leader snapshot and compaction without "+victim.Opts.ID, t0)
		w.SetPace(0)
		logBefore := len(victim.Log())
		t1 := time.Now()
		c.Rejoin(victim, c.MustLeader())
		if err := victim.WaitReady(60 * time.Second); err != nil {
			t.Fatal(err)
		}
		waitVoters(t, c, len(c.Nodes))
		phase(t, victim.Opts.ID+" wiped, rejoined, voter again", t1)
		if _, err := c.WaitConverged(90 * time.Second); err != nil {
			t.Fatal(err)
		}
		if log := victim.Log()[logBefore:]; !strings.Contains(log, "Installed remote snapshot") {
			t.Errorf("rejoined node %s did not install a snapshot; log since restart:\n%s", victim.Opts.ID, tail(log, 40))
		}
	})
}

// waitVoters waits until the cluster status lists want voters, all
// reachable.
func waitVoters(t *testing.T, c *harness.Cluster, want int) {
	t.Helper()
	if err := c.WaitVoters(want, 90*time.Second); err != nil {
		t.Fatal(err)
	}
}

func tail(s string, lines int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(l) > lines {
		l = l[len(l)-lines:]
	}
	return strings.Join(l, "\n")
}

// procState is the state letter of a process in /proc (T = stopped).
func procState(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ""
	}
	// pid (comm) state ...; comm may contain spaces, so cut at the last ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+3 > len(s) {
		return ""
	}
	return s[i+2 : i+3]
}

// waitStopped waits until SIGSTOP has taken effect.
func waitStopped(t *testing.T, n *harness.Node) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for procState(n.PID()) != "T" {
		if time.Now().After(deadline) {
			t.Fatalf("node %s did not stop: process state %q", n.Opts.ID, procState(n.PID()))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// outcomesVia logs what happened to the operations sent to one node.
func outcomesVia(t *testing.T, w *harness.Workload, n *harness.Node) {
	count := map[string]int{}
	for _, op := range w.H.Ops() {
		if op.Node == n.Opts.ID {
			count[op.Input.Kind.String()+" "+op.Output.Outcome.String()]++
		}
	}
	t.Logf("operations sent to %s: %v", n.Opts.ID, count)
}
