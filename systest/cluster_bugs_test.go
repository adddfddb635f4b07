package systest

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/weir-nifi/weir/internal/client"
	"github.com/weir-nifi/weir/internal/harness"
	"github.com/weir-nifi/weir/internal/model"
)

// Focused reproductions of production bugs the fault scenarios found. They
// fail while the bug is there.

// TestClusterNextVersionAfterElection: a commit with version -1 ("the next
// version") must never be refused. A new leader resolves -1 from its local
// state before it has applied the entries earlier terms committed: the
// forwarded-write path (cluster.Node.handleForwarded → registry.commit)
// reads VersionCount without waiting for the leader's barrier; Propose
// waits for it afterwards and proposes a number that is already taken, and
// the client gets 409 "A Versioned flow snapshot with the same version
// already exists: N" (or 404 "The specified flow ID does not exist in this
// bucket." when the flow itself was created in the previous term). Direct
// writes to the leader are not affected: the forwarder (cluster.Node.ServeAPI) holds them until
// the leader is ready.
//
// Reproduction: clients commit -1 through random nodes while every node is
// killed right after a commit on the leader and restarted, up to 25 times
// (it shows in about one round in six on a 2-core machine).
func TestClusterNextVersionAfterElection(t *testing.T) {
	long(t)
	c := harness.StartCluster(t, harness.ClusterOptions{N: 3, Zones: zones3})
	ctx := context.Background()
	leader := c.MustLeader()
	lc := client.New(leader.API)
	b, err := lc.CreateBucket(ctx, model.Bucket{Name: model.Str("next-version")}, false)
	if err != nil {
		t.Fatal(err)
	}
	f, err := lc.CreateFlow(ctx, *b.Identifier, model.VersionedFlow{Name: model.Str("f"), Type: model.ItemTypeFlow})
	if err != nil {
		t.Fatal(err)
	}
	body := func(n int) []byte {
		return []byte(fmt.Sprintf(`{"snapshotMetadata":{"version":-1,"comments":"c%d"},"flowContents":{"identifier":"pg","name":"n%d"}}`, n, n))
	}

	var (
		stop    atomic.Bool
		acked   atomic.Int64
		seq     atomic.Int64
		mu      sync.Mutex
		refusal []string
		wg      sync.WaitGroup
	)
	for i := 0; i < 6; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for !stop.Load() {
				n := c.Nodes[(i+int(seq.Add(1)))%len(c.Nodes)]
				cl := client.New(n.API)
				cl.HTTP = &http.Client{Timeout: 10 * time.Second}
				_, err := cl.CommitVersion(ctx, *b.Identifier, *f.Identifier, body(int(seq.Add(1))), false)
				switch {
				case err == nil:
					acked.Add(1)
				case client.StatusOf(err) == http.StatusConflict:
					mu.Lock()
					refusal = append(refusal, fmt.Sprintf("%s: %v", n.Opts.ID, err))
					mu.Unlock()
				default:
					time.Sleep(10 * time.Millisecond)
				}
			}
		}(i)
	}
	defer func() { stop.Store(true); wg.Wait() }()

	waitAcked := func(n int64) {
		target := acked.Load() + n
		deadline := time.Now().Add(60 * time.Second)
		for acked.Load() < target {
			if time.Now().After(deadline) {
				t.Fatalf("only %d commits acknowledged", acked.Load())
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	for round := 1; round <= 25; round++ {
		waitAcked(20)
		l := c.MustLeader()
		// A commit on the leader, then every node's death: the followers
		// have the entry but may not have learnt that it is committed, so
		// the next leader applies it only when its barrier commits.
		_, _ = client.New(l.API).CommitVersion(ctx, *b.Identifier, *f.Identifier, body(-round), false)
		c.KillAll()
		c.StartNodes(c.Nodes...)
		waitAcked(20)
		mu.Lock()
		n := len(refusal)
		mu.Unlock()
		if n > 0 {
			t.Logf("reproduced in round %d", round)
			break
		}
	}
	stop.Store(true)
	wg.Wait()
	if len(refusal) > 0 {
		t.Errorf("%d commits with version -1 were refused after leader changes, e.g. %s", len(refusal), refusal[0])
	}
}

// TestClusterHealthyVotersKept: while one node of three is down, no voter
// is demoted: with no healthy non-voter to replace it, demoting the
// unreachable voter would gain nothing, and demoting a healthy one (to keep
// the count odd) would leave the leader as the only voter, its disk the
// only copy of new writes. (An earlier membership loop did exactly that.)
// The leader must stay replaceable: when the third node is back, writes
// continue and every node converges.
func TestClusterHealthyVotersKept(t *testing.T) {
	long(t)
	c := harness.StartCluster(t, harness.ClusterOptions{N: 3, Zones: zones3})
	leader := c.MustLeader()
	var down *harness.Node
	for _, n := range c.Nodes {
		if n != leader {
			down = n
			break
		}
	}
	logStart := len(leader.Log())
	down.Kill()
	// The membership loop acts on voters unreachable for 10 s; watch it
	// for several rounds past that.
	deadline := time.Now().Add(16 * time.Second)
	for time.Now().Before(deadline) {
		st, err := c.Status(leader)
		if err != nil {
			t.Fatal(err)
		}
		if st.Voters != 3 {
			t.Fatalf("voters changed to %d while one node was down: %+v", st.Voters, st.Members)
		}
		time.Sleep(500 * time.Millisecond)
	}
	if strings.Contains(leader.Log()[logStart:], "demoting voter") {
		t.Fatalf("the leader demoted a voter while a node was down:\n%s", leader.Log()[logStart:])
	}
	if _, err := client.New(leader.API).CreateBucket(harness.Context(t), model.Bucket{Name: model.Str("while-down")}, false); err != nil {
		t.Fatalf("write with one node down: %v", err)
	}
	down.Start()
	if _, err := c.WaitConverged(60 * time.Second); err != nil {
		t.Fatal(err)
	}
}

func lineWith(log, part string) string {
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, part) {
			return l
		}
	}
	return ""
}
