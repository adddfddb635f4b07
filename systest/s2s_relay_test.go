package systest

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/weir-nifi/weir/internal/harness"
	"github.com/weir-nifi/weir/internal/s2s/queue"
	"github.com/weir-nifi/weir/internal/s2s/relay"
	"github.com/weir-nifi/weir/sitetosite"
)

// s2sPorts creates an input port "in" and an output port "out" fed from it
// through node n, and returns their ids.
func s2sPorts(t *testing.T, c *harness.Cluster, n *harness.Node, extra relay.CreateRequest) (in, out string) {
	t.Helper()
	create := func(req relay.CreateRequest) string {
		status, body, err := c.Signed(n, http.MethodPost, relay.AdminPath, req)
		if err != nil || status != http.StatusCreated {
			t.Fatalf("create port %+v: %d %s %v", req, status, body, err)
		}
		var p queue.Port
		if err := json.Unmarshal([]byte(body), &p); err != nil {
			t.Fatal(err)
		}
		return p.ID
	}
	extra.Name, extra.Kind = "in", "input"
	in = create(extra)
	out = create(relay.CreateRequest{Name: "out", Kind: "output", From: "in"})
	return in, out
}

// sent is what a pusher was told is stored.
type sent struct {
	pusher, seq int
	sum         [32]byte
	size        int
}

// s2sFile makes flowfile seq of pusher p: attributes with unicode, content
// of a size drawn from r (empty ones included), and its record.
func s2sFile(r *rand.Rand, p, seq int, big bool) (sitetosite.FlowFile, sent) {
	size := []int{0, 1, 100, 4 << 10, 64 << 10}[r.IntN(5)]
	if big {
		size = 3<<20 + r.IntN(1<<20)
	}
	content := make([]byte, size)
	for i := range content {
		content[i] = byte(r.Uint32())
	}
	f := sitetosite.FlowFile{Attributes: map[string]string{
		"pusher": strconv.Itoa(p), "seq": strconv.Itoa(seq), "filename": fmt.Sprintf("f-%d-%d", p, seq),
		"note": "Grüße, 流量, ✓",
	}, Content: content}
	return f, sent{pusher: p, seq: seq, sum: sha256.Sum256(content), size: size}
}

// s2sPushes records what pushers were told is stored.
type s2sPushes struct {
	mu    sync.Mutex
	acked []sent
	errs  atomic.Int64
}

// run pushes batches of 1 to maxBatch flowfiles of pusher p (seeded by
// seed; now and then a big one when big) until ctx ends, each batch to
// node after node until one confirms, as NiFi tries the next peer: a
// failed push may have been stored (a duplicate later), never lost.
func (s *s2sPushes) run(ctx context.Context, c *harness.Cluster, in string, p int, seed uint64, maxBatch int, big bool) {
	r := rand.New(rand.NewPCG(uint64(p), seed))
	for seq := 0; ctx.Err() == nil; {
		var files []sitetosite.FlowFile
		var recs []sent
		for range 1 + r.IntN(maxBatch) {
			f, rec := s2sFile(r, p, seq, big && r.IntN(40) == 0)
			seq++
			files = append(files, f)
			recs = append(recs, rec)
		}
		for attempt := 0; ctx.Err() == nil; attempt++ {
			n := c.Nodes[(p+attempt)%len(c.Nodes)]
			cl := &sitetosite.Client{URL: n.API, Compress: attempt%2 == 0, HTTP: &http.Client{Timeout: 30 * time.Second}}
			if _, err := cl.Send(ctx, in, files); err != nil {
				s.errs.Add(1)
				time.Sleep(100 * time.Millisecond)
				continue
			}
			s.mu.Lock()
			s.acked = append(s.acked, recs...)
			s.mu.Unlock()
			break
		}
	}
}

func (s *s2sPushes) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.acked)
}

// wait waits until n flowfiles were confirmed in all.
func (s *s2sPushes) wait(t *testing.T, n int) {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); s.count() < n; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("pushes stalled: %d confirmed, %d errors", s.count(), s.errs.Load())
		}
	}
}

// s2sReceived checks pulled flowfiles' attributes against s2sFile's and
// returns their records.
func s2sReceived(t *testing.T, batch []sitetosite.FlowFile) []sent {
	var out []sent
	for _, f := range batch {
		p, _ := strconv.Atoi(f.Attributes["pusher"])
		s, _ := strconv.Atoi(f.Attributes["seq"])
		if f.Attributes["note"] != "Grüße, 流量, ✓" || f.Attributes["filename"] != fmt.Sprintf("f-%d-%d", p, s) {
			t.Errorf("attributes changed: %v", f.Attributes)
		}
		out = append(out, sent{pusher: p, seq: s, sum: sha256.Sum256(f.Content), size: len(f.Content)})
	}
	return out
}

// TestS2SRelayFaults pushes continuously to a 3-node cluster in 3 zones
// from two pushers (each to whichever node answers, in NiFi's way of
// trying the next peer) while the leader, then a follower (a whole zone),
// is SIGKILLed and restarted, and pulls while a pull is cancelled midway.
// Afterwards every flowfile whose push was confirmed has been pulled at
// least once with identical attributes and content, each pusher's
// flowfiles arrive in its order, nothing is left queued or leased, and
// the nodes hold the same registry state.
func TestS2SRelayFaults(t *testing.T) {
	long(t)
	// Snapshots often (followers catch up from snapshots holding queued
	// data), short transaction and lease TTLs (abandoned pulls come back
	// within the test).
	args := append([]string{"--s2s-transaction-ttl", "2s", "--s2s-lease-ttl", "6s"}, snapshotArgs...)
	c := harness.StartCluster(t, harness.ClusterOptions{N: 3, Zones: zones3, ExtraArgs: args})
	leader := c.MustLeader()
	var follower *harness.Node
	for _, n := range c.Nodes {
		if n != leader {
			follower = n
		}
	}
	in, out := s2sPorts(t, c, follower, relay.CreateRequest{})
	// This test checks the ordered port's promise: one pull at a time, so
	// every pusher's flowfiles arrive in its order even across abandoned
	// pulls (TestS2SSharedPulls covers the default, concurrent pulls).
	ordered := true
	if status, body, err := c.Signed(follower, http.MethodPut, relay.AdminPath+"/"+out, relay.UpdateRequest{Ordered: &ordered}); err != nil || status != http.StatusOK || !strings.Contains(body, `"ordered":true`) {
		t.Fatalf("ordered output port: %d %s %v", status, body, err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var pushes s2sPushes
	var wg sync.WaitGroup
	for p := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pushes.run(ctx, c, in, p, 7, 5, true)
		}()
	}
	progress := func(want int) {
		t.Helper()
		pushes.wait(t, pushes.count()+want)
	}
	progress(40)
	old := c.MustLeader()
	old.Kill()
	progress(20)
	old.Start()
	progress(20)
	for _, n := range c.InZone(zones3[0]) {
		if n != c.MustLeader() {
			n.Kill()
			progress(20)
			n.Start()
		}
	}
	progress(20)
	cancel()
	wg.Wait()
	if _, err := c.WaitLeader(60 * time.Second); err != nil {
		t.Fatal(err)
	}
	acked := pushes.acked
	t.Logf("confirmed %d flowfiles, %d push attempts failed", len(acked), pushes.errs.Load())

	// A puller that crashes after reading a batch (it never confirms): the
	// transaction expires and its flowfiles come back. A node that dies
	// while serving a pull: its lease expires and they come back.
	loc := s2sCreate(t, c.Nodes[0], "output-ports", out)
	if status, _, _ := s2sDo(t, http.MethodGet, loc+"/flow-files", nil, map[string]string{"x-nifi-site-to-site-batch-count": "3"}); status != http.StatusAccepted {
		t.Fatalf("abandoned pull: %d", status)
	}
	// One pull at a time holds a port's flowfiles (in-order delivery): the
	// abandoned one first expires.
	for d := time.Now().Add(30 * time.Second); s2sStatus(t, c, c.Nodes[0])["in"].Leased != 0; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(d) {
			t.Fatal("the abandoned pull's lease was not released")
		}
	}
	victim := c.Nodes[1]
	loc = s2sCreate(t, victim, "output-ports", out)
	if status, _, _ := s2sDo(t, http.MethodGet, loc+"/flow-files", nil, map[string]string{"x-nifi-site-to-site-batch-count": "3"}); status != http.StatusAccepted {
		t.Fatalf("pull from the node to kill: %d", status)
	}
	victim.Kill()
	victim.Start()
	if _, err := c.WaitLeader(60 * time.Second); err != nil {
		t.Fatal(err)
	}

	// Pull everything: from every node in turn, with one cancelled pull
	// (the client refuses to keep what it got) whose flowfiles must come
	// again, until the queue is empty with nothing leased.
	got := map[[2]int][]sent{}
	var order [2][]int
	cancelled := false
	pctx := context.Background()
	deadline := time.Now().Add(2 * time.Minute)
	for i := 0; ; i++ {
		if time.Now().After(deadline) {
			t.Fatalf("pulls did not drain the queue: %+v", s2sStatus(t, c, c.Nodes[0])["in"])
		}
		n := c.Nodes[i%len(c.Nodes)]
		cl := &sitetosite.Client{URL: n.API, Compress: i%2 == 1, BatchCount: 7, HTTP: &http.Client{Timeout: 30 * time.Second}}
		var batch []sitetosite.FlowFile
		k, err := cl.Receive(pctx, out, func(fs []sitetosite.FlowFile) error {
			if !cancelled && len(fs) > 0 {
				cancelled = true
				return errors.New("refused on purpose")
			}
			batch = fs
			return nil
		})
		// A batch the client kept is received even when its confirmation
		// then failed: it may come again (at least once), and its first
		// sighting is what the order check reads.
		for _, rec := range s2sReceived(t, batch) {
			key := [2]int{rec.pusher, rec.seq}
			if len(got[key]) == 0 {
				order[rec.pusher] = append(order[rec.pusher], rec.seq)
			}
			got[key] = append(got[key], rec)
		}
		if err != nil {
			if err.Error() != "refused on purpose" {
				t.Logf("pull from %s (%d kept): %v", n.Opts.ID, len(batch), err)
			}
			time.Sleep(100 * time.Millisecond)
			continue
		}
		if k == 0 {
			if st := s2sStatus(t, c, n)["in"]; st.Queued == 0 && st.Leased == 0 {
				break
			}
			time.Sleep(200 * time.Millisecond)
			continue
		}
	}
	dups := 0
	for _, a := range acked {
		g := got[[2]int{a.pusher, a.seq}]
		if len(g) == 0 {
			t.Errorf("confirmed flowfile %d/%d (%d bytes) was never pulled", a.pusher, a.seq, a.size)
			continue
		}
		dups += len(g) - 1
		for _, x := range g {
			if x.sum != a.sum {
				t.Errorf("flowfile %d/%d: content differs", a.pusher, a.seq)
			}
		}
	}
	for p, seqs := range order {
		for i := 1; i < len(seqs); i++ {
			if seqs[i] < seqs[i-1] {
				t.Errorf("pusher %d: flowfile %d pulled before %d", p, seqs[i], seqs[i-1])
			}
		}
	}
	t.Logf("pulled %d distinct flowfiles (%d confirmed, others from pushes that failed after storing), %d duplicates", len(got), len(acked), dups)

	// Nothing left queued or leased on any node.
	var ps []relay.PortStatus
	status, body, err := c.Signed(c.Nodes[0], http.MethodGet, relay.AdminPath, nil)
	if err != nil || status != 200 || json.Unmarshal([]byte(body), &ps) != nil {
		t.Fatalf("port list: %d %s %v", status, body, err)
	}
	for _, p := range ps {
		if p.Queued != 0 || p.Leased != 0 {
			t.Errorf("port %s still has %d queued, %d leased", p.Name, p.Queued, p.Leased)
		}
	}
	c.MustConverge()
}
