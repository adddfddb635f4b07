package systest

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/weir-nifi/weir/internal/harness"
	"github.com/weir-nifi/weir/internal/ops"
)

// TestOpsMaintenanceCluster: on a 3-node cluster, maintenance turned on
// through a follower (forwarded to the leader) is acknowledged only once
// every node applied it, so right away every node refuses writes with 503,
// Retry-After and the reason while reads succeed; it survives SIGKILL of
// the leader and a restart; off makes every node accept writes again.
func TestOpsMaintenanceCluster(t *testing.T) {
	long(t)
	c := harness.StartCluster(t, harness.ClusterOptions{})
	leader := c.MustLeader()
	var follower *harness.Node
	for _, n := range c.Nodes {
		if n != leader {
			follower = n
		}
	}
	if st, _, body := req(t, leader, "POST", "/nifi-registry-api/buckets", `{"name":"before"}`); st != 200 {
		t.Fatalf("seed: %d %s", st, body)
	}

	out, stderr, err := weirCLI(t, "maintenance", "on", "--reason", "storage upgrade", "--by", "ops-test", "--server", follower.API, "--json")
	if err != nil {
		t.Fatalf("maintenance on: %v %s", err, stderr)
	}
	var on ops.MaintenanceStatus
	if err := json.Unmarshal([]byte(out), &on); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if !on.Enabled || on.Reason != "storage upgrade" || on.By != "ops-test" || len(on.AppliedOn) != 3 || len(on.Pending) != 0 {
		t.Fatalf("on: %+v", on)
	}
	// No waiting: the acknowledgement already covers every node.
	for i, n := range c.Nodes {
		assertRefused(t, n, fmt.Sprintf("during-%d", i))
		if st, _, body := req(t, n, "GET", "/nifi-registry-api/buckets", ""); st != 200 || !strings.Contains(body, `"before"`) {
			t.Fatalf("%s: read in maintenance: %d %s", n.Opts.ID, st, body)
		}
		st, hs, body := health(t, n, "")
		if st != 200 || hs != "UP" || !strings.Contains(body, `"maintenance":{"status":"READ_ONLY"`) || !strings.Contains(body, `"reason":"storage upgrade"`) {
			t.Fatalf("%s: health in maintenance: %d %s", n.Opts.ID, st, body)
		}
	}

	// SIGKILL the leader: the switch is replicated state, not the leader's.
	leader.Kill()
	newLeader := c.MustLeader()
	for _, n := range c.Running() {
		eventuallyRefusedForMaintenance(t, n)
	}
	// The killed node comes back still in maintenance.
	c.StartNodes(leader)
	eventually(t, 60*time.Second, "restarted node reports maintenance", func() error {
		st, _, body := req(t, leader, "GET", "/nifi-registry-api/actuator/maintenance", "")
		if st != 200 || !strings.Contains(body, `"enabled":true`) {
			return errorf("%d %s", st, body)
		}
		return nil
	})
	assertRefused(t, leader, "after-restart")

	out, stderr, err = weirCLI(t, "maintenance", "off", "--server", newLeader.API, "--json")
	if err != nil {
		t.Fatalf("maintenance off: %v %s", err, stderr)
	}
	var off ops.MaintenanceStatus
	if err := json.Unmarshal([]byte(out), &off); err != nil || off.Enabled || len(off.AppliedOn) != 3 {
		t.Fatalf("off: %v %s", err, out)
	}
	for i, n := range c.Nodes {
		if st, _, body := req(t, n, "POST", "/nifi-registry-api/buckets", fmt.Sprintf(`{"name":"after-%d"}`, i)); st != 200 {
			t.Fatalf("%s: write after maintenance off: %d %s", n.Opts.ID, st, body)
		}
	}
	out, _, err = weirCLI(t, "maintenance", "status", "--server", follower.API)
	if err != nil || !strings.Contains(out, "maintenance OFF") {
		t.Fatalf("status: %v %s", err, out)
	}
	c.MustConverge()
}

// assertRefused checks that a write to n gets the maintenance refusal.
func assertRefused(t *testing.T, n *harness.Node, name string) {
	t.Helper()
	st, hdr, body := req(t, n, "POST", "/nifi-registry-api/buckets", `{"name":"`+name+`"}`)
	if st != 503 || hdr.Get("Retry-After") == "" || !strings.Contains(body, "maintenance mode") || !strings.Contains(body, "storage upgrade") {
		t.Fatalf("%s: write in maintenance: %d %v %s", n.Opts.ID, st, hdr, body)
	}
}

// eventuallyRefusedForMaintenance waits while the cluster elects (503 "no
// leader") and then requires the maintenance refusal; a write is never
// accepted.
func eventuallyRefusedForMaintenance(t *testing.T, n *harness.Node) {
	t.Helper()
	eventually(t, 60*time.Second, n.Opts.ID+" refuses writes for maintenance", func() error {
		st, _, body := req(t, n, "POST", "/nifi-registry-api/buckets", `{"name":"after-kill"}`)
		if st == 200 {
			t.Fatalf("%s accepted a write in maintenance: %s", n.Opts.ID, body)
		}
		if st != 503 || !strings.Contains(body, "maintenance mode") {
			return errorf("%d %s", st, body)
		}
		return nil
	})
}
