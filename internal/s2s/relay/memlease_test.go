package relay

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/weir-nifi/weir/internal/command"
	"github.com/weir-nifi/weir/internal/s2s/server"
)

// seqsOf lists the sequence numbers a lease holds.
func seqsOf(l server.Lease) []uint64 {
	var out []uint64
	for _, f := range l.(*lease).flows {
		out = append(out, f.Seq)
	}
	return out
}

// TestMemoryLeases: leases of a shared port held in the leader's memory
// never share a flowfile; a released or expired lease, or a leader change,
// makes its flowfiles available again; an ack of flowfiles already acked
// by another pull (after a leader change forgot a lease) removes nothing
// twice; an ordered port keeps the replicated lease.
func TestMemoryLeases(t *testing.T) {
	tw, r := relayWithPorts(t, command.Level, false)
	ctx := context.Background()
	now := time.UnixMilli(1_000_000)
	r.opt.Now = func() time.Time { return now }
	tw.now = r.opt.Now
	entries := func() uint64 { tw.mu.Lock(); defer tw.mu.Unlock(); return tw.idx }
	take := func(tx string, n int) server.Lease {
		t.Helper()
		l, err := r.Lease(ctx, "out", tx, server.BatchLimits{Count: n})
		if err != nil {
			t.Fatalf("lease %s: %v", tx, err)
		}
		return l
	}
	pr, contents := packets(t, 0, 10, 500)
	push(t, r, "in", "t1", pr)

	before := entries()
	a, b := take("a", 3), take("b", 3)
	if entries() != before {
		t.Fatalf("memory leases took %d log entries", entries()-before)
	}
	if got := append(seqsOf(a), seqsOf(b)...); len(got) != 6 || got[0] != 0 || got[3] != 3 || got[5] != 5 {
		t.Fatalf("two leases hold %v, want 0-2 and 3-5", got)
	}
	if n := r.mem.leased("in"); n != 6 {
		t.Fatalf("%d flowfiles leased, want 6", n)
	}

	// Released: a's flowfiles are the next to go.
	r.Release(a)
	waitFor(t, func() bool { return r.mem.leased("in") == 3 })
	c := take("c", 10)
	if got := seqsOf(c); len(got) != 7 || got[0] != 0 || got[2] != 2 || got[3] != 6 {
		t.Fatalf("after a release: %v, want 0-2 and 6-9", got)
	}

	// A leader change forgets every lease: b's and c's flowfiles go out
	// again, to d. b acks its three, then d acks all ten: each flowfile is
	// removed once (d's ack skips b's), delivered twice (at-least-once).
	// c, whose flowfiles d acked, finds their content gone: its pull fails
	// and is released, and nothing is left.
	tw.mu.Lock()
	tw.changes++
	tw.mu.Unlock()
	d := take("d", 100)
	if got := seqsOf(d); len(got) != 10 {
		t.Fatalf("after a leader change: %v, want all 10", got)
	}
	drain(t, b, contents[3:6])
	if err := r.Ack(ctx, b); err != nil {
		t.Fatal(err)
	}
	drain(t, d, contents)
	if err := r.Ack(ctx, d); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Next(ctx); err == nil {
		t.Fatal("read a flowfile whose content is gone")
	}
	r.Release(c)
	drained(t, r)

	// An expired lease frees its flowfiles.
	pr, _ = packets(t, 10, 2, 500)
	push(t, r, "in", "t2", pr)
	e := take("e", 10)
	if len(seqsOf(e)) != 2 || len(seqsOf(take("f", 10))) != 0 {
		t.Fatal("a live lease's flowfiles were leased twice")
	}
	now = now.Add(r.opt.LeaseTTL)
	if got := seqsOf(take("g", 10)); len(got) != 2 {
		t.Fatalf("after the TTL: %v, want both", got)
	}

	// An ordered port keeps the replicated lease, a log entry per lease,
	// one live at a time: while g's memory lease (taken before the port
	// was made ordered) is live, a pull gets nothing.
	if err := tw.ProposeAnywhere(ctx, &command.SetPortOrder{ID: "out", Ordered: true, At: 2}, nil); err != nil {
		t.Fatal(err)
	}
	before = entries()
	if got := seqsOf(take("h0", 10)); len(got) != 0 || entries() != before {
		t.Fatalf("ordered port beside a live memory lease: %v, %d entries", got, entries()-before)
	}
	now = now.Add(r.opt.LeaseTTL)
	h := take("h", 10)
	if entries() != before+1 || h.(*lease).mem || len(seqsOf(h)) != 2 {
		t.Fatalf("ordered port: %d entries, memory %v, %v", entries()-before, h.(*lease).mem, seqsOf(h))
	}
}

func waitFor(t *testing.T, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 5 s")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestLeaseGrantAsRuns: a follower asks the leader for a memory lease's
// flowfiles as runs of sequence numbers, not records, and reads the
// records from its replica; a retried request gets the same flowfiles;
// a leader of an older build, which ignores that and answers the records,
// is understood too.
func TestLeaseGrantAsRuns(t *testing.T) {
	tw, r := relayWithPorts(t, command.Level, true)
	ctx := context.Background()
	pr, contents := packets(t, 0, 6, 500)
	push(t, r, "in", "t1", pr)
	if err := tw.ReadBarrier(ctx); err != nil {
		t.Fatal(err)
	}
	l, err := r.Lease(ctx, "out", "p1", server.BatchLimits{Count: 3})
	if err != nil {
		t.Fatal(err)
	}
	drain(t, l, contents[:3])
	if err := r.Ack(ctx, l); err != nil {
		t.Fatal(err)
	}

	// What the leader answers a follower.
	funcs := tw.lead.LeaderFuncs()
	b, err := json.Marshal(leaseReq{Port: "out", Tx: "raw", MaxCount: 2, MaxBytes: 1 << 20, Runs: true})
	if err != nil {
		t.Fatal(err)
	}
	v, err := funcs[callLease](ctx, b)
	if g, _ := v.(leaseGrant); err != nil || len(g.Flows) != 0 || !slices.Equal(g.Runs, [][2]uint64{{3, 4}}) {
		t.Fatalf("grant of 2 as runs: %+v, %v; want runs [[3 4]] and no records", v, err)
	}
	// A retried request (same transaction, say after a lost answer) gets
	// its lease's flowfiles again, not two more.
	v, err = funcs[callLease](ctx, b)
	if g, _ := v.(leaseGrant); err != nil || len(g.Flows) != 0 || !slices.Equal(g.Runs, [][2]uint64{{3, 4}}) {
		t.Fatalf("retried grant: %+v, %v; want runs [[3 4]] again", v, err)
	}
	if _, err := funcs[callEnd](ctx, []byte(`{"tx":"raw"}`)); err != nil {
		t.Fatal(err)
	}

	// Runs out of order, or more flowfiles than one confirm can name, are
	// not walked.
	for _, runs := range [][][2]uint64{{{5, 3}}, {{3, 4}, {4, 5}}, {{0, command.MaxAckRuns}}} {
		if _, err := r.replicaFlows(ctx, leaseGrant{Queue: "in", Runs: runs}); err != errBadGrant {
			t.Fatalf("runs %v: %v, want errBadGrant", runs, err)
		}
	}

	tw.oldLeader = true
	before := tw.barrierCount()
	if l, err = r.Lease(ctx, "out", "p2", server.BatchLimits{}); err != nil {
		t.Fatal(err)
	}
	drain(t, l, contents[3:])
	if err := r.Ack(ctx, l); err != nil {
		t.Fatal(err)
	}
	if n := tw.barrierCount() - before; n != 0 {
		t.Fatalf("%d barriers for records and content this replica has", n)
	}
}
