package systest

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/weir-nifi/weir/internal/harness"
)

// Regressions for the hardening issue: inputs a client can send that used
// to stop nodes or change the wrong thing. Each test fails on the code
// before the fix (checked against that build with WEIR_BINARY).

// TestHardenPoisonPillPreserveEmptyID: POST /buckets?preserveSourceProperties
// with an empty identifier was committed to the log, failed in Apply
// ("key required"), and every node exited with 70, again on every restart.
// Now the request is refused, and the ids a client picks that the state
// machine could not store never reach it.
func TestHardenPoisonPillPreserveEmptyID(t *testing.T) {
	c := harness.StartCluster(t, harness.ClusterOptions{N: 3, Zones: zones3})
	h0 := c.MustConverge()
	leader := c.MustLeader()
	var follower *harness.Node
	for _, n := range c.Nodes {
		if n != leader {
			follower = n
			break
		}
	}
	bodies := []string{
		`{"identifier":"","name":"x"}`,
		`{"identifier":"   ","name":"x"}`,
		`{"identifier":"..","name":"x"}`,
		`{"identifier":"a/b","name":"x"}`,
		`{"identifier":"` + strings.Repeat("i", 40000) + `","name":"x"}`,
		`{"identifier":"ok-id","name":"` + strings.Repeat("n", 40000) + `"}`,
	}
	for _, n := range []*harness.Node{leader, follower} {
		for _, b := range bodies {
			st, _, msg := req(t, n, "POST", "/nifi-registry-api/buckets?preserveSourceProperties=true", b)
			if st != http.StatusBadRequest {
				t.Errorf("%s: %.60s: got %d %q, want 400", n.Opts.ID, b, st, msg)
			}
		}
		for _, b := range []string{`{"identifier":"","name":"f"}`, `{"identifier":"..","name":"f"}`} {
			st, _, msg := req(t, n, "POST", "/nifi-registry-api/buckets/no-such-bucket/flows", b)
			if st != http.StatusBadRequest {
				t.Errorf("%s: flow %s: got %d %q, want 400", n.Opts.ID, b, st, msg)
			}
		}
	}
	time.Sleep(500 * time.Millisecond) // let any entry that slipped through reach every node
	c.CheckAlive()
	if h := c.MustConverge(); h != h0 {
		t.Fatalf("refused requests changed the state: %s -> %s", h0, h)
	}
	// The cluster still takes writes, and survives a restart of every node
	// (a committed poison entry would stop them again while replaying).
	if st, _, msg := req(t, follower, "POST", "/nifi-registry-api/buckets", `{"name":"after"}`); st != 200 {
		t.Fatalf("write after refusals: %d %s", st, msg)
	}
	c.RestartAll()
	if _, err := c.WaitLeader(60 * time.Second); err != nil {
		t.Fatal(err)
	}
	c.MustConverge()
	c.CheckAlive()
}
