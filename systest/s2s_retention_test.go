package systest

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/weir-nifi/weir/internal/harness"
	"github.com/weir-nifi/weir/internal/s2s/relay"
	"github.com/weir-nifi/weir/sitetosite"
)

// TestS2SRetention: an input port created with `weir port create
// --max-age` on a 3-node cluster in 3 zones. Flowfiles pushed through a
// follower leave every node's queue once they are older than the age
// (counted as expired on every node), also after the leader is SIGKILLed
// (the new leader takes over the expiry) and on the killed node once it
// is back; a pull never gets an expired flowfile but gets fresh ones;
// `weir port retention ID 0` turns it off.
func TestS2SRetention(t *testing.T) {
	c := harness.StartCluster(t, harness.ClusterOptions{N: 3, Zones: zones3})
	leader := c.MustLeader()
	follower, third := c.Others(leader)[0], c.Others(leader)[1]
	cli := func(n *harness.Node, args ...string) string {
		t.Helper()
		args = append(args, "--server", n.API)
		if args[1] != "list" {
			args = append(args, "--cluster-key", harness.TestKey)
		}
		out, errOut, err := weirCLI(t, args...)
		if err != nil {
			t.Fatalf("weir %s: %v\n%s%s", strings.Join(args, " "), err, out, errOut)
		}
		return out
	}
	const age = 2 * time.Second
	if out := cli(follower, "port", "create", "--input", "in", "--max-age", age.String()); !strings.Contains(out, `created input port "in"`) {
		t.Fatalf("create: %s", out)
	}
	cli(follower, "port", "create", "--output", "out", "--from", "in")
	st := s2sStatus(t, c, leader)
	in, out := st["in"], st["out"]
	if in.MaxAge != age.Milliseconds() {
		t.Fatalf("port in: %+v", in)
	}
	var listed []relay.PortStatus
	if err := json.Unmarshal([]byte(cli(leader, "port", "list", "--json")), &listed); err != nil || len(listed) != 2 {
		t.Fatalf("list: %v %+v", err, listed)
	}
	if text := cli(leader, "port", "list"); !strings.Contains(text, "MAX AGE") || !strings.Contains(text, age.String()) {
		t.Fatalf("list does not show the age:\n%s", text)
	}

	push := func(n *harness.Node, tag string, count int) {
		t.Helper()
		var ffs []sitetosite.FlowFile
		for i := range count {
			ffs = append(ffs, sitetosite.FlowFile{Attributes: map[string]string{"tag": tag, "i": strconv.Itoa(i)}, Content: []byte(tag + strconv.Itoa(i))})
		}
		cl := &sitetosite.Client{URL: n.API}
		if _, err := cl.Send(context.Background(), in.ID, ffs); err != nil {
			t.Fatalf("push %s through %s: %v", tag, n.Opts.ID, err)
		}
	}
	// waitAll waits until every live node shows queued and expired.
	waitAll := func(nodes []*harness.Node, queued, expired int64) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			ok := true
			var last relay.PortStatus
			for _, n := range nodes {
				last = s2sStatus(t, c, n)["in"]
				ok = ok && last.Queued == queued && last.Expired == expired
			}
			if ok {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("want queued %d expired %d on every node; last seen %+v", queued, expired, last)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}

	push(follower, "old", 5)
	if s := s2sStatus(t, c, follower)["in"]; s.Queued+s.Expired != 5 {
		t.Fatalf("after the push: %+v", s)
	}
	waitAll(c.Nodes, 0, 5)

	// Fresh flowfiles are pulled (through the third node); none of the
	// expired ones comes back.
	push(follower, "fresh", 3)
	var got []string
	if _, err := (&sitetosite.Client{URL: third.API}).Receive(context.Background(), out.ID, func(ffs []sitetosite.FlowFile) error {
		for _, f := range ffs {
			got = append(got, f.Attributes["tag"]+f.Attributes["i"])
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, ",") != "fresh0,fresh1,fresh2" {
		t.Fatalf("pulled %v, want the three fresh flowfiles", got)
	}

	// The leader dies: the new leader expires what is pushed next.
	leader.Kill()
	alive := c.Others(leader)
	push(alive[0], "during", 4)
	waitAll(alive, 0, 9)
	leader.Start()
	if err := leader.WaitReady(60 * time.Second); err != nil {
		t.Fatal(err)
	}
	waitAll(c.Nodes, 0, 9)

	// Retention off: flowfiles older than the age stay.
	if out := cli(third, "port", "retention", in.ID, "0"); !strings.Contains(out, "keeps its flowfiles") {
		t.Fatalf("retention 0: %s", out)
	}
	push(third, "kept", 2)
	time.Sleep(2 * age) // past the old age: a janitor would have run twice
	waitAll(c.Nodes, 2, 9)
}
