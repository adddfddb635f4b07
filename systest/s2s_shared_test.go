package systest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/weir-nifi/weir/internal/harness"
	"github.com/weir-nifi/weir/internal/s2s/codec"
	"github.com/weir-nifi/weir/internal/s2s/relay"
	"github.com/weir-nifi/weir/sitetosite"
)

// TestS2SSharedPulls covers the default output port (command level 7):
// concurrent pulls each get their own flowfiles instead of waiting for
// one another. Two pulls left open on two nodes hold disjoint flowfiles
// (an ordered port gives the second nothing); then two pushers and four
// pullers on all three nodes run at once while a follower is SIGKILLed
// and restarted, then the leader (whose memory holds the leases), and
// each puller refuses one batch (one puller's batch duration cuts its
// pulls short of their leases). Afterwards every
// flowfile whose push was confirmed has been pulled at least once with
// identical attributes and content (the abandoned and refused ones
// again), nothing is left queued or leased, and the nodes agree.
func TestS2SSharedPulls(t *testing.T) {
	long(t)
	args := []string{"--s2s-transaction-ttl", "2s", "--s2s-lease-ttl", "6s"}
	c := harness.StartCluster(t, harness.ClusterOptions{N: 3, Zones: zones3, ExtraArgs: args})
	leader := c.MustLeader()
	in, out := s2sPorts(t, c, leader, relay.CreateRequest{})
	if st := s2sStatus(t, c, leader)["out"]; st.Ordered {
		t.Fatalf("a new output port is ordered: %+v", st)
	}

	var pushes s2sPushes
	r := rand.New(rand.NewPCG(1, 1))
	var first []sitetosite.FlowFile
	for seq := range 20 {
		f, rec := s2sFile(r, 9, seq, false)
		first = append(first, f)
		pushes.acked = append(pushes.acked, rec)
	}
	cl := &sitetosite.Client{URL: leader.API, HTTP: &http.Client{Timeout: 30 * time.Second}}
	if _, err := cl.Send(context.Background(), in, first); err != nil {
		t.Fatal(err)
	}

	// Two pulls left open, on two nodes: each holds flowfiles of its own.
	held := func(n *harness.Node) []string {
		t.Helper()
		loc := s2sCreate(t, n, "output-ports", out)
		status, body, _ := s2sDo(t, http.MethodGet, loc+"/flow-files", nil, map[string]string{"x-nifi-site-to-site-batch-count": "8"})
		if status == http.StatusOK {
			return nil
		}
		if status != http.StatusAccepted {
			t.Fatalf("pull from %s: %d", n.Opts.ID, status)
		}
		var seqs []string
		dec := codec.NewDecoder(bytes.NewReader([]byte(body)), false, codec.Limits{})
		for {
			p, err := dec.Next()
			if err != nil {
				break
			}
			seqs = append(seqs, p.Attributes["seq"])
		}
		return seqs
	}
	a := held(c.Nodes[0])
	b := held(c.Nodes[1])
	if len(a) != 8 || len(b) != 8 {
		t.Fatalf("two open pulls got %v and %v, want 8 flowfiles each", a, b)
	}
	if strings.Join(a, ",") != "0,1,2,3,4,5,6,7" || strings.Join(b, ",") != "8,9,10,11,12,13,14,15" {
		t.Fatalf("open pulls got %v and %v: not the oldest flowfiles no one holds", a, b)
	}
	// The same on an ordered port: the second pull gets nothing.
	ordered := true
	if status, body, err := c.Signed(leader, http.MethodPut, relay.AdminPath+"/"+out, relay.UpdateRequest{Ordered: &ordered}); err != nil || status != http.StatusOK {
		t.Fatalf("ordered: %d %s %v", status, body, err)
	}
	if got := held(c.Nodes[2]); len(got) != 0 {
		t.Fatalf("an ordered port handed out %v while other pulls' leases are live", got)
	}
	ordered = false
	if status, body, err := c.Signed(leader, http.MethodPut, relay.AdminPath+"/"+out, relay.UpdateRequest{Ordered: &ordered}); err != nil || status != http.StatusOK {
		t.Fatalf("shared again: %d %s %v", status, body, err)
	}

	// Pushers and pullers at once, a follower killed and restarted.
	ctx, stopPush := context.WithCancel(context.Background())
	defer stopPush()
	var wg sync.WaitGroup
	for p := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pushes.run(ctx, c, in, p, 11, 8, false)
		}()
	}

	got := map[[2]int][]sent{}
	var gotMu sync.Mutex
	var pulling atomic.Bool
	pulling.Store(true)
	var refused, pullErrs atomic.Int64
	var pwg sync.WaitGroup
	for q := range 4 {
		pwg.Add(1)
		go func() {
			defer pwg.Done()
			refuse := true
			for i := 0; pulling.Load(); i++ {
				n := c.Nodes[(q+i)%len(c.Nodes)]
				cl := &sitetosite.Client{URL: n.API, Compress: q%2 == 1, BatchCount: 5, HTTP: &http.Client{Timeout: 30 * time.Second}}
				if q == 3 {
					// A batch duration shorter than its lease takes to
					// send: each confirm acks part of the lease
					// (AckSent) and gives the rest back.
					cl.BatchCount, cl.BatchDuration = 0, time.Millisecond
				}
				// What keep accepts, the client has: a confirmation that
				// fails afterwards (its node killed after the ack was
				// committed) may or may not have removed it from the
				// queue, so it counts as received (at-least-once: it may
				// come again, never be lost).
				k, err := cl.Receive(context.Background(), out, func(fs []sitetosite.FlowFile) error {
					if refuse && len(fs) > 0 {
						refuse = false
						refused.Add(1)
						return errors.New("refused on purpose")
					}
					gotMu.Lock()
					for _, rec := range s2sReceived(t, fs) {
						key := [2]int{rec.pusher, rec.seq}
						got[key] = append(got[key], rec)
					}
					gotMu.Unlock()
					return nil
				})
				if err != nil && err.Error() != "refused on purpose" {
					pullErrs.Add(1)
				}
				if err != nil || k == 0 {
					time.Sleep(20 * time.Millisecond)
				}
			}
		}()
	}
	pushes.wait(t, pushes.count()+60)
	var victim *harness.Node
	for _, n := range c.Nodes {
		if n != c.MustLeader() {
			victim = n
		}
	}
	victim.Kill()
	mid := pushes.count()
	pushes.wait(t, mid+40)
	victim.Start()
	pushes.wait(t, mid+80)
	// Then the leader: from command level 11 the leases of a shared port
	// are its memory, forgotten with it; their flowfiles go out again.
	old := c.MustLeader()
	old.Kill()
	mid = pushes.count()
	pushes.wait(t, mid+40)
	old.Start()
	pushes.wait(t, mid+80)
	stopPush()
	wg.Wait()
	if _, err := c.WaitLeader(60 * time.Second); err != nil {
		t.Fatal(err)
	}
	// Drain: the pullers go on until every confirmed flowfile came and
	// nothing is queued or leased (the open pulls' leases expire).
	var missing []string
	var st relay.PortStatus
	drained := func() bool {
		gotMu.Lock()
		missing = missing[:0]
		for _, a := range pushes.acked {
			if len(got[[2]int{a.pusher, a.seq}]) == 0 {
				missing = append(missing, fmt.Sprintf("%d/%d", a.pusher, a.seq))
			}
		}
		gotMu.Unlock()
		st = s2sStatus(t, c, c.Nodes[0])["in"]
		return len(missing) == 0 && st.Queued == 0 && st.Leased == 0
	}
	for d := time.Now().Add(3 * time.Minute); !drained(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(d) {
			for _, n := range c.Nodes {
				t.Logf("%s: in %+v", n.Opts.ID, s2sStatus(t, c, n)["in"])
			}
			t.Fatalf("the pullers did not drain the queue: %d confirmed flowfiles never pulled (%v), %d pull errors", len(missing), missing[:min(len(missing), 20)], pullErrs.Load())
		}
	}
	pulling.Store(false)
	pwg.Wait()

	acked := pushes.acked
	dups := 0
	for _, a := range acked {
		g := got[[2]int{a.pusher, a.seq}]
		dups += len(g) - 1
		for _, x := range g {
			if x.sum != a.sum || x.size != a.size {
				t.Errorf("flowfile %d/%d: content differs", a.pusher, a.seq)
			}
		}
	}
	t.Logf("%d flowfiles confirmed and pulled (%d push attempts failed); %d kept twice (%d batches refused on purpose and 16 flowfiles of abandoned pulls came again; %d pull errors)",
		len(acked), pushes.errs.Load(), dups, refused.Load(), pullErrs.Load())
	c.MustConverge()
}
