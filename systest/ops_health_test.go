package systest

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/weir-nifi/weir/internal/client"
	"github.com/weir-nifi/weir/internal/cluster"
	"github.com/weir-nifi/weir/internal/flowgen"
	"github.com/weir-nifi/weir/internal/harness"
	"github.com/weir-nifi/weir/internal/model"
)

// throttle is a TCP relay in front of one node's cluster port that can
// slow the bytes flowing to that node to a trickle, so Raft entries reach
// it far behind the rest of the cluster while heartbeats (small, on their
// own connections) still get through: a lagging node that knows its leader.
type throttle struct {
	ln     net.Listener
	target string
	slow   atomic.Bool
	mu     sync.Mutex
	conns  []net.Conn
}

const trickle = 16 << 10 // bytes per second per connection while slow

func newThrottle(t *testing.T, listen, target string) *throttle {
	t.Helper()
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		t.Fatal(err)
	}
	th := &throttle{ln: ln, target: target}
	go th.serve()
	t.Cleanup(th.close)
	return th
}

func (th *throttle) serve() {
	for {
		down, err := th.ln.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("tcp", th.target)
		if err != nil {
			down.Close()
			continue
		}
		th.mu.Lock()
		th.conns = append(th.conns, down, up)
		th.mu.Unlock()
		go func() { th.copySlow(up, down); up.Close(); down.Close() }()
		go func() { _, _ = io.Copy(down, up); up.Close(); down.Close() }()
	}
}

// copySlow copies toward the node, paced while slow.
func (th *throttle) copySlow(dst, src net.Conn) {
	buf := make([]byte, 1024)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if th.slow.Load() {
				time.Sleep(time.Duration(n) * time.Second / trickle)
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (th *throttle) close() {
	th.ln.Close()
	th.mu.Lock()
	defer th.mu.Unlock()
	for _, c := range th.conns {
		c.Close()
	}
}

// TestOpsHealthReadiness: every node of a healthy cluster is UP and ready,
// exactly one answers the leader probe; a follower whose Raft traffic is
// slowed falls behind and its readiness turns OUT_OF_SERVICE (catching up)
// while its health stays UP, and it is ready again once it caught up; when
// two of three nodes are killed the survivor's health and readiness turn
// DOWN (no quorum) and the leader probe fails everywhere.
func TestOpsHealthReadiness(t *testing.T) {
	long(t)
	// Raft timeouts of 2 s (lease included): this test is about lag, not
	// elections, and CI runs saw the leader miss 400 ms of heartbeats
	// again and again while it committed the versions below on a loaded
	// two-core runner (three step-downs in 7 s, b3b3cfa's retries spent).
	c := harness.NewCluster(t, harness.ClusterOptions{ExtraArgs: []string{"--ready-max-lag", "3",
		"--heartbeat-timeout", "2s", "--election-timeout", "2s"}})
	// n3's real cluster port moves behind the throttle, which takes its
	// place (the harness proxy in front still forwards there).
	lagger := c.Nodes[2]
	inner := fmt.Sprintf("%s:%d", lagger.Opts.IP, harness.FreePort(t, lagger.Opts.IP))
	th := newThrottle(t, lagger.Raft, inner)
	lagger.Opts.Args = append(lagger.Opts.Args, "--raft-listen", inner)
	for _, n := range c.Nodes {
		n.Start()
	}
	var leader *harness.Node
	// offLagger waits for a leader and moves leadership off the lagging
	// node: a lagging leader cannot show lag. Called again when an
	// election interrupts the lag phase below.
	offLagger := func() {
		t.Helper()
		leader = c.MustLeader()
		if leader != lagger {
			return
		}
		if st, body, err := c.Admin(leader, "transfer-leader", cluster.TransferRequest{ID: c.Nodes[0].Opts.ID}); err != nil || st != 200 {
			t.Fatalf("transfer: %d %s %v", st, body, err)
		}
		eventually(t, 60*time.Second, "leadership moves off the lagging node", func() error {
			l, err := c.Leader()
			if err != nil || l == lagger {
				return errorf("leader %v %v", l, err)
			}
			leader = l
			return nil
		})
	}
	offLagger()
	c.MustConverge()
	leaders := 0
	for _, n := range c.Nodes {
		eventually(t, 30*time.Second, n.Opts.ID+" healthy and ready", func() error {
			if st, s, body := health(t, n, ""); st != 200 || s != "UP" {
				return errorf("health %d %s", st, body)
			}
			if st, s, body := health(t, n, "/readiness"); st != 200 || s != "UP" {
				return errorf("readiness %d %s", st, body)
			}
			return nil
		})
		if st, _, _ := health(t, n, "/leader"); st == 200 {
			leaders++
			if n != leader {
				t.Fatalf("%s answers the leader probe, the leader is %s", n.Opts.ID, leader.Opts.ID)
			}
		}
		if st, s, _ := health(t, n, "/liveness"); st != 200 || s != "UP" {
			t.Fatalf("%s liveness %d %s", n.Opts.ID, st, s)
		}
	}
	if leaders != 1 {
		t.Fatalf("%d nodes answer the leader probe", leaders)
	}

	// Lag: commit eight versions (512 KiB snapshots; 2 MiB ones only
	// loaded CI more) while the lagging node receives 16 KB/s.
	th.slow.Store(true)
	ctx := ctxT(t)
	lc := client.New(leader.API)
	b, err := lc.CreateBucket(ctx, model.Bucket{Name: model.Str("lag")}, false)
	if err != nil {
		t.Fatal(err)
	}
	f, err := lc.CreateFlow(ctx, *b.Identifier, model.VersionedFlow{Name: model.Str("big")})
	if err != nil {
		t.Fatal(err)
	}
	// A CI run had the leader miss its heartbeats for 1.5 s on a loaded
	// machine during this loop; the election that followed answered a
	// commit with the 503 a leader change gives (outcome unknown) and
	// could elect the lagging node. That is not what this test checks, so
	// such a commit is retried (with version -1 a retry only adds a
	// version, and the lag is all that matters here) once leadership is
	// off the lagging node again. Any other error fails the test.
	for v, retries := 1, 0; v <= 8; {
		doc := flowgen.Snapshot(flowgen.Options{Seed: int64(v), TargetBytes: 512 << 10, Version: -1})
		if _, err := lc.CommitVersion(ctx, *b.Identifier, *f.Identifier, doc, false); err != nil {
			if client.StatusOf(err) != http.StatusServiceUnavailable || !leaderChangeAnswer(err.Error()) || retries == 3 {
				t.Fatal(err)
			}
			retries++
			t.Logf("commit %d caught a leader change, retrying: %v", v, err)
			offLagger()
			continue
		}
		v++
	}
	var reason string
	eventually(t, 60*time.Second, "the lagging node is not ready", func() error {
		st, s, body := health(t, lagger, "/readiness")
		if st != 503 || s != "OUT_OF_SERVICE" || !strings.Contains(body, "catching up") {
			return errorf("readiness %d %s", st, body)
		}
		reason = body
		return nil
	})
	t.Logf("lagging node's readiness: %s", reason)
	if st, s, body := health(t, lagger, ""); st != 200 || s != "UP" {
		t.Fatalf("a lagging node with a quorum is healthy, got %d %s", st, body)
	}
	th.slow.Store(false)
	eventually(t, 120*time.Second, "the lagging node catches up and is ready", func() error {
		if st, s, body := health(t, lagger, "/readiness"); st != 200 || s != "UP" {
			return errorf("readiness %d %s", st, body)
		}
		return nil
	})

	// Quorum loss: kill the two others.
	var survivor *harness.Node = lagger
	for _, n := range c.Nodes {
		if n != survivor {
			n.Kill()
		}
	}
	eventually(t, 60*time.Second, "health DOWN without quorum", func() error {
		st, s, body := health(t, survivor, "")
		if st != 503 || s != "DOWN" || !strings.Contains(body, `"cluster":{"status":"DOWN"`) {
			return errorf("health %d %.300s", st, body)
		}
		return nil
	})
	if st, s, body := health(t, survivor, "/readiness"); st != 503 || s != "DOWN" || !strings.Contains(body, "no quorum") {
		t.Fatalf("readiness without quorum: %d %s", st, body)
	}
	if st, _, _ := health(t, survivor, "/leader"); st != 503 {
		t.Fatalf("leader probe without quorum: %d", st)
	}
	if st, s, _ := health(t, survivor, "/liveness"); st != 200 || s != "UP" {
		t.Fatalf("liveness without quorum: %d %s", st, s)
	}
	// Reads with ?consistency=stale still work on the survivor.
	if st, _, body := req(t, survivor, "GET", "/nifi-registry-api/buckets?consistency=stale", ""); st != 200 || !strings.Contains(body, `"lag"`) {
		t.Fatalf("stale read without quorum: %d %s", st, body)
	}
}
