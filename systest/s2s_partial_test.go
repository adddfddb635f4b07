package systest

import (
	"context"
	"math/rand/v2"
	"net/http"
	"testing"
	"time"

	"github.com/weir-nifi/weir/internal/harness"
	"github.com/weir-nifi/weir/internal/s2s/relay"
	"github.com/weir-nifi/weir/sitetosite"
)

// TestS2SPartialPull: a pull whose batch duration runs out before the end
// of its lease (a slow client, or a short duration as here) confirms only
// what it was sent; the rest of the lease goes back to the queue and is
// sent by the next pulls. Pulled from a follower of a 3-node cluster with
// a 1 ms batch duration, every pushed flowfile arrives exactly once.
// (Before AckSent the confirm removed the whole lease: the flowfiles not
// yet sent were lost.)
func TestS2SPartialPull(t *testing.T) {
	c := harness.StartCluster(t, harness.ClusterOptions{N: 3})
	leader := c.MustLeader()
	in, out := s2sPorts(t, c, leader, relay.CreateRequest{})
	r := rand.New(rand.NewPCG(7, 7))
	var files []sitetosite.FlowFile
	want := map[sent]int{}
	for seq := range 30 {
		f, _ := s2sFile(r, 1, seq, false)
		f.Content = make([]byte, 512<<10) // larger than a 1 ms send
		for i := range f.Content {
			f.Content[i] = byte(r.Uint32())
		}
		rec := s2sReceived(t, []sitetosite.FlowFile{f})[0]
		files = append(files, f)
		want[rec]++
	}
	ctx := context.Background()
	push := &sitetosite.Client{URL: leader.API, HTTP: &http.Client{Timeout: 30 * time.Second}}
	for i := 0; i < len(files); i += 10 {
		if _, err := push.Send(ctx, in, files[i:i+10]); err != nil {
			t.Fatal(err)
		}
	}
	var follower *harness.Node
	for _, n := range c.Nodes {
		if n != leader {
			follower = n
			break
		}
	}
	pull := &sitetosite.Client{URL: follower.API, HTTP: &http.Client{Timeout: 30 * time.Second}, BatchDuration: time.Millisecond}
	got := map[sent]int{}
	transactions, total := 0, 0
	for deadline := time.Now().Add(60 * time.Second); ; {
		n, err := pull.Receive(ctx, out, func(batch []sitetosite.FlowFile) error {
			for _, rec := range s2sReceived(t, batch) {
				got[rec]++
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			transactions++
			total += n
		}
		if n == 0 && total >= len(files) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 60 s: %d of %d flowfiles pulled in %d transactions", total, len(files), transactions)
		}
	}
	if transactions < 2 {
		t.Fatalf("every flowfile came in one transaction: the batch duration did not cut the pull short")
	}
	for rec, k := range want {
		if got[rec] != k {
			t.Errorf("flowfile %d-%d pulled %d times, want %d", rec.pusher, rec.seq, got[rec], k)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d distinct flowfiles pulled, %d pushed", len(got), len(want))
	}
	if st := s2sStatus(t, c, leader)["out"]; st.Queued != 0 || st.Leased != 0 {
		t.Fatalf("left on the port: %+v", st)
	}
	t.Logf("%d flowfiles in %d transactions", len(files), transactions)
}
