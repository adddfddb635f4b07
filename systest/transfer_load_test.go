package systest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/weir-nifi/weir/internal/client"
	"github.com/weir-nifi/weir/internal/cluster"
	"github.com/weir-nifi/weir/internal/harness"
)

// TestTransferUnderLoad: on a 3-node cluster formed with --join, 12
// clients commit through every node while leadership is handed from node
// to node three times: no client sees an error (a clean leader change is
// invisible to clients: a write the old leader refused before proposing
// goes to the new leader).
func TestTransferUnderLoad(t *testing.T) {
	long(t)
	c := joinedCluster(t)
	b, flows := bucketWithFlows(t, client.New(c.MustLeader().API), "transfer-load", 12)
	ctx, stop := context.WithCancel(context.Background())
	var ok atomic.Int64
	var mu sync.Mutex
	var errs []string
	var wg sync.WaitGroup
	for i, f := range flows {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl := client.New(c.Nodes[i%len(c.Nodes)].API)
			for ctx.Err() == nil {
				t0 := time.Now()
				_, err := cl.CommitVersion(context.Background(), b, f, []byte(`{"snapshotMetadata":{"version":-1},"flowContents":{"identifier":"pg","name":"x"}}`), false)
				if err != nil {
					mu.Lock()
					errs = append(errs, fmt.Sprintf("%s: %v (after %v)", c.Nodes[i%len(c.Nodes)].Opts.ID, err, time.Since(t0).Round(time.Millisecond)))
					mu.Unlock()
					continue
				}
				ok.Add(1)
			}
		}()
	}
	time.Sleep(time.Second)
	for round := range 3 {
		leader := c.MustLeader()
		target := c.Others(leader)[round%2]
		before := ok.Load()
		transferTo(t, c, leader, target)
		time.Sleep(time.Second)
		if ok.Load() == before {
			t.Fatalf("no commit acknowledged around transfer %d", round+1)
		}
	}
	stop()
	wg.Wait()
	t.Logf("%d commits acknowledged during three leadership transfers, %d errors", ok.Load(), len(errs))
	kinds := map[string]int{}
	for _, e := range errs {
		kinds[e[:min(len(e), 60)]]++
	}
	t.Logf("errors by kind: %v", kinds)
	if len(errs) > 0 {
		t.Fatalf("clients saw errors during clean leadership transfers (first of %d): %s", len(errs), errs[0])
	}
}

// transferTo hands leadership from leader to target and waits until target
// leads.
func transferTo(t *testing.T, c *harness.Cluster, leader, target *harness.Node) {
	t.Helper()
	if st, body, err := c.Admin(leader, "transfer-leader", cluster.TransferRequest{ID: target.Opts.ID}); err != nil || st != 200 {
		t.Fatalf("transfer to %s: %d %s %v", target.Opts.ID, st, body, err)
	}
	eventually(t, 30*time.Second, target.Opts.ID+" leads", func() error {
		if l, err := c.Leader(); err != nil || l != target {
			return fmt.Errorf("leader %v %v", l, err)
		}
		return nil
	})
}

// joinedCluster is a 3-node cluster formed the README's way: the first
// node started alone, the others with --join, one per zone.
func joinedCluster(t *testing.T) *harness.Cluster {
	c := harness.StartCluster(t, harness.ClusterOptions{N: 3, Zones: zones3, Join: true})
	for _, n := range c.Nodes[1:] {
		n.Start()
	}
	waitVoters(t, c, 3)
	return c
}
