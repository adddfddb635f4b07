package relay

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/weir-nifi/weir/internal/command"
	"github.com/weir-nifi/weir/internal/s2s/server"
)

// TestRetentionJanitor: the leader's relay expires flowfiles past their
// port's age in batches, proposes nothing when nothing is due or when it
// does not lead, and a pull never gets an expired flowfile even before the
// janitor runs.
func TestRetentionJanitor(t *testing.T) {
	tw := newTwin(t)
	var mu sync.Mutex
	now := time.UnixMilli(1_000_000)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	r := New(tw, tw.leader, Options{ChunkBytes: 4096, Now: clock})
	tw.now = clock
	ctx := context.Background()
	for _, c := range []command.Command{
		&command.CreatePort{ID: "in", Name: "in", Kind: command.PortInput, At: 1},
		&command.CreatePort{ID: "out", Name: "out", Kind: command.PortOutput, From: "in", At: 1},
		&command.SetPortRetention{ID: "in", MaxAge: 60_000, At: clock().UnixMilli()},
	} {
		if err := tw.ProposeAnywhere(ctx, c, nil); err != nil {
			t.Fatal(err)
		}
	}
	pr, _ := packets(t, 0, 5, 100)
	push(t, r, "in", "t1", pr)
	advance(30 * time.Second)
	pr, _ = packets(t, 5, 3, 100)
	push(t, r, "in", "t2", pr)

	entries := func() uint64 { tw.mu.Lock(); defer tw.mu.Unlock(); return tw.idx }
	status := func() PortStatus {
		t.Helper()
		ps, err := r.Status()
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range ps {
			if p.ID == "in" {
				return p
			}
		}
		t.Fatal("no port in")
		return PortStatus{}
	}

	// Nothing due: no proposal.
	before := entries()
	if err := r.expireOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if entries() != before {
		t.Fatal("proposed with nothing due")
	}
	// t1 is due at +60 s; the janitor removes it, t2 stays.
	advance(31 * time.Second)
	if err := r.expireOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if p := status(); p.Queued != 3 || p.Expired != 5 || p.MaxAge != 60_000 {
		t.Fatalf("after expiry: %+v", p)
	}
	// t2 is due at +90 s, but a pull leases first: it hands out nothing.
	// A replicated lease (level 10 and below) expires t2 itself; a memory
	// lease (level 11) skips it and leaves it to the leader's next round.
	advance(30 * time.Second)
	l, err := r.Lease(ctx, "out", "p1", server.BatchLimits{})
	if err != nil {
		t.Fatal(err)
	}
	drain(t, l, nil)
	if err := r.expireOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if p := status(); p.Queued != 0 || p.Expired != 8 {
		t.Fatalf("after the lease: %+v", p)
	}

	// RunRetention proposes only while this node leads.
	pr, _ = packets(t, 8, 2, 100)
	push(t, r, "in", "t3", pr)
	advance(2 * time.Minute)
	r.opt.ExpireEvery = time.Millisecond
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { r.RunRetention(rctx); close(done) }()
	time.Sleep(50 * time.Millisecond) // the ticker fires dozens of times
	if p := status(); p.Queued != 2 {
		t.Fatalf("a follower's janitor expired flowfiles: %+v", p)
	}
	tw.mu.Lock()
	tw.leading = true
	tw.mu.Unlock()
	deadline := time.Now().Add(10 * time.Second)
	for status().Queued != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the leader's janitor did not expire: %+v", status())
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done
	if p := status(); p.Expired != 10 {
		t.Fatalf("expired %d, want 10", p.Expired)
	}
}
