package systest

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/weir-nifi/weir/internal/harness"
	"github.com/weir-nifi/weir/internal/s2s/relay"
	"github.com/weir-nifi/weir/sitetosite"
)

// TestS2SPortCLI configures ports with `weir port` as an operator would:
// create, list, disable (clients get NiFi's "port not running"), enable,
// delete (refused while flowfiles are queued unless forced); without the
// cluster key the changes are refused.
func TestS2SPortCLI(t *testing.T) {
	c := harness.StartCluster(t, harness.ClusterOptions{N: 1})
	n := c.MustLeader()
	key := []string{"--server", n.API, "--cluster-key", harness.TestKey}
	run := func(args ...string) string {
		t.Helper()
		if args[1] == "list" {
			args = append(args, "--server", n.API)
		} else {
			args = append(args, key...)
		}
		out, errOut, err := weirCLI(t, args...)
		if err != nil {
			t.Fatalf("weir %s: %v\n%s%s", strings.Join(args, " "), err, out, errOut)
		}
		return out
	}
	if _, errOut, err := weirCLI(t, "port", "create", "--input", "x", "--server", n.API, "--data-dir", t.TempDir()); err == nil {
		t.Fatal("a port was created without the cluster key")
	} else if !strings.Contains(errOut, "401") && !strings.Contains(errOut, "cluster key") {
		t.Logf("refused without the key: %s", errOut)
	}
	if out := run("port", "create", "--input", "ingest", "--max-flowfiles", "2"); !strings.Contains(out, `created input port "ingest"`) {
		t.Fatalf("create: %s", out)
	}
	run("port", "create", "--output", "ingest-out", "--from", "ingest")
	var ps []relay.PortStatus
	if err := json.Unmarshal([]byte(run("port", "list", "--json")), &ps); err != nil || len(ps) != 2 {
		t.Fatalf("list: %v %+v", err, ps)
	}
	ids := map[string]string{}
	for _, p := range ps {
		ids[p.Name] = p.ID
	}
	if ps[0].From != "" && ps[0].From != ids["ingest"] || ps[1].From != "" && ps[1].From != ids["ingest"] {
		t.Fatalf("output port not fed from ingest: %+v", ps)
	}
	// Pull order: shared by default, ordered on request, input ports have none.
	if out := run("port", "order", ids["ingest-out"], "ordered"); !strings.Contains(out, `output port "ingest-out" is ordered`) {
		t.Fatalf("order: %s", out)
	}
	if out := run("port", "list"); !strings.Contains(out, "PULLS") || !strings.Contains(out, "ordered") {
		t.Fatalf("list after order: %s", out)
	}
	run("port", "order", ids["ingest-out"], "shared")
	if _, errOut, err := weirCLI(t, append([]string{"port", "order", ids["ingest"], "ordered"}, key...)...); err == nil || !strings.Contains(errOut, "400") {
		t.Fatalf("order on an input port: %v %s", err, errOut)
	}
	if _, errOut, err := weirCLI(t, append([]string{"port", "create", "--input", "y", "--ordered"}, key...)...); err == nil || !strings.Contains(errOut, "output ports") {
		t.Fatalf("--ordered on an input port: %v %s", err, errOut)
	}
	var ip, op relay.PortStatus
	if err := json.Unmarshal([]byte(run("port", "create", "--input", "other", "--json")), &ip); err != nil {
		t.Fatal(err)
	}
	out := run("port", "create", "--output", "ordered-out", "--from", "other", "--ordered", "--json")
	if err := json.Unmarshal([]byte(out), &op); err != nil || !op.Ordered {
		t.Fatalf("create --ordered: %v %s", err, out)
	}
	run("port", "delete", op.ID)
	run("port", "delete", ip.ID)

	cl := &sitetosite.Client{URL: n.API}
	ff := []sitetosite.FlowFile{{Attributes: map[string]string{"k": "v"}, Content: []byte("x")}}
	run("port", "disable", ids["ingest"])
	if _, err := cl.Send(context.Background(), ids["ingest"], ff); err == nil || !strings.Contains(err.Error(), "response code 201") {
		t.Fatalf("push to a disabled port: %v", err)
	}
	run("port", "enable", ids["ingest"])
	for range 2 {
		if _, err := cl.Send(context.Background(), ids["ingest"], ff); err != nil {
			t.Fatalf("push: %v", err)
		}
	}
	// The port's bound is reached: the next push is refused as full.
	if _, err := cl.Send(context.Background(), ids["ingest"], ff); err == nil || !strings.Contains(err.Error(), "response code 202") {
		t.Fatalf("push beyond the bound: %v", err)
	}
	if out := run("port", "list"); !strings.Contains(out, "ingest") || !strings.Contains(out, "2") {
		t.Fatalf("list: %s", out)
	}
	if _, errOut, err := weirCLI(t, append([]string{"port", "delete", ids["ingest"]}, key...)...); err == nil || !strings.Contains(errOut, "409") {
		t.Fatalf("delete with queued flowfiles: %v %s", err, errOut)
	}
	run("port", "delete", ids["ingest"], "--force")
	if err := json.Unmarshal([]byte(run("port", "list", "--json")), &ps); err != nil || len(ps) != 1 || ps[0].From != "" {
		t.Fatalf("after delete: %v %+v", err, ps)
	}
	// The site-to-site view follows.
	site, err := cl.Site(context.Background())
	if err != nil || len(site.InputPorts) != 0 || len(site.OutputPorts) != 1 {
		t.Fatalf("site: %v %+v", err, site)
	}
}
