package systest

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/weir-nifi/weir/internal/client"
	"github.com/weir-nifi/weir/internal/drill"
	"github.com/weir-nifi/weir/internal/harness"
)

// runDrill runs `weir drill ARGS --json` and decodes its report; the
// command's error (a failed drill) is returned with what it printed.
func runDrill(t *testing.T, args ...string) (drill.Report, string, error) {
	t.Helper()
	args = append(args, "--json", "--cluster-key", harness.TestKey, "--hold", "2s")
	out, errOut, err := weirCLI(t, args...)
	var rep drill.Report
	if jerr := json.Unmarshal([]byte(out), &rep); jerr != nil {
		t.Fatalf("weir %s printed no report (%v): %s\n%s", strings.Join(args, " "), err, out, errOut)
	}
	return rep, out + errOut, err
}

// checkDrillCleaned fails if the drill's bucket is still there.
func checkDrillCleaned(t *testing.T, n *harness.Node) {
	t.Helper()
	bs, err := client.New(n.API).Buckets(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range bs {
		if strings.HasPrefix(*b.Name, "weir-drill-") {
			t.Fatalf("the drill left its bucket %s behind", *b.Name)
		}
	}
}

// TestDrillZoneLoss: `weir drill zone-loss` on a 3-node cluster in three
// zones, first on the leader's zone, then on another: the canary
// recovers, nothing acknowledged is missing on any node (RPO 0), the
// zone comes back as it was, and the drill's bucket and ports are gone.
func TestDrillZoneLoss(t *testing.T) {
	long(t)
	c := harness.StartCluster(t, harness.ClusterOptions{N: 3, Zones: zones3})
	leader := c.MustLeader()

	rep, out, err := runDrill(t, "drill", "zone-loss", "--zone", leader.Opts.Zone, "--server", c.Others(leader)[0].API)
	if err != nil {
		t.Fatalf("zone-loss drill on the leader's zone: %v\n%s", err, out)
	}
	t.Logf("leader's zone %s: RTO %.0f ms (registry %.0f, s2s %.0f), RPO %d, %d commits and %d pushes acknowledged, %d and %d failed; leader %s -> %s (for information)",
		rep.Zone, rep.RTOMs, rep.Registry.RTOMs, rep.S2S.RTOMs, rep.RPO, rep.Registry.Acknowledged, rep.S2S.Acknowledged,
		rep.Registry.Failed, rep.S2S.Failed, rep.LeaderBefore, rep.LeaderAfter)
	if rep.RPO != 0 || rep.Registry.Missing != 0 || rep.S2S.Missing != 0 {
		t.Fatalf("acknowledged canary data lost in a zone loss: %+v", rep)
	}
	if !rep.Restored || rep.Registry.Acknowledged == 0 || rep.S2S.Acknowledged == 0 || rep.RTOMs <= 0 {
		t.Fatalf("report: %+v", rep)
	}
	if len(rep.Isolated) != 1 || rep.Isolated[0] != leader.Opts.ID {
		t.Fatalf("isolated %v, want the leader %s", rep.Isolated, leader.Opts.ID)
	}
	if rep.LeaderAfter == "" || rep.LeaderAfter == leader.Opts.ID {
		t.Fatalf("while the leader's zone was isolated the leader was %q", rep.LeaderAfter)
	}
	checkDrillCleaned(t, c.MustLeader())

	// A zone without the leader.
	other := c.Others(c.MustLeader())[0]
	rep, out, err = runDrill(t, "drill", "zone-loss", "--zone", other.Opts.Zone, "--server", c.MustLeader().API)
	if err != nil {
		t.Fatalf("zone-loss drill on zone %s: %v\n%s", other.Opts.Zone, err, out)
	}
	t.Logf("zone %s: RTO %.0f ms, RPO %d (for information)", rep.Zone, rep.RTOMs, rep.RPO)
	if rep.RPO != 0 || !rep.Restored {
		t.Fatalf("report: %+v", rep)
	}
	checkDrillCleaned(t, c.MustLeader())

	// Refusals: an unknown zone; a zone whose loss leaves no quorum is
	// refused too (drill.ZoneLoss checks SurvivesLoss), not tried here.
	if _, out, err := runDrill(t, "drill", "zone-loss", "--zone", "nowhere", "--server", c.MustLeader().API); err == nil || !strings.Contains(out, "no member is in zone") {
		t.Fatalf("a drill on an unknown zone: %v %s", err, out)
	}
	c.CheckAlive()

	// Operator commands on the same cluster: --server without a scheme,
	// transfer-leader prints what it did and the cluster as it is, and a
	// node that does not answer shows no figures rather than lag 0.
	host := strings.TrimPrefix(c.MustLeader().API, "http://")
	out, errOut, err := weirCLI(t, "cluster", "transfer-leader", "--server", host, "--cluster-key", harness.TestKey)
	if err != nil || !strings.Contains(out, "leadership transferred.") || !strings.Contains(out, "SURVIVES ZONE LOSS") {
		t.Fatalf("weir cluster transfer-leader: %v\n%s%s", err, out, errOut)
	}
	self := c.MustLeader()
	out, errOut, err = weirCLI(t, "cluster", "transfer-leader", self.Opts.ID, "--server", self.API, "--cluster-key", harness.TestKey)
	if err == nil || !strings.Contains(out+errOut, "409") || !strings.Contains(out+errOut, "already leads") {
		t.Fatalf("weir cluster transfer-leader to the leader itself: %v\n%s%s", err, out, errOut)
	}
	stopped := c.Others(c.MustLeader())[0]
	stopped.Pause()
	out, errOut, err = weirCLI(t, "cluster", "status", "--server", c.MustLeader().API)
	stopped.Resume()
	line := ""
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, stopped.Opts.ID+" ") {
			line = l
		}
	}
	if err != nil || !strings.Contains(line, "unknown") || !strings.Contains(line, " - ") || strings.Contains(line, "true") {
		t.Fatalf("weir cluster status with %s stopped: %v\n%s%s", stopped.Opts.ID, err, out, errOut)
	}
}
