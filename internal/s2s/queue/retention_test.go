package queue_test

import (
	"reflect"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/weir-nifi/weir/internal/command"
	"github.com/weir-nifi/weir/internal/model"
	"github.com/weir-nifi/weir/internal/s2s/queue"
)

func (q *qstore) expirable(port string, at int64) bool {
	q.t.Helper()
	var ok bool
	q.read(func(btx *bolt.Tx) error {
		var p queue.Port
		for _, x := range q.ports() {
			if x.ID == port {
				p = x
			}
		}
		var err error
		ok, err = queue.Expirable(btx, p, at)
		return err
	})
	return ok
}

func TestRetentionRefusals(t *testing.T) {
	q := openQ(t)
	relayPorts(q, 0, 0)
	q.refused(&command.SetPortRetention{ID: "in", MaxAge: -1, At: 2}, model.KindInvalid, "")
	q.refused(&command.SetPortRetention{ID: "nope", MaxAge: 10, At: 2}, model.KindNotFound, queue.ReasonUnknownPort)
	q.refused(&command.SetPortRetention{ID: "out", MaxAge: 10, At: 2}, model.KindInvalid, "")
	q.refused(&command.ExpireFlows{Port: "out", Max: 10, At: 2}, model.KindNotFound, queue.ReasonUnknownPort)
	q.refused(&command.ExpireFlows{Port: "", Max: 10, At: 2}, model.KindNotFound, queue.ReasonUnknownPort)
	// Without retention, expiring changes nothing.
	q.push("in", "t1", encodePackets(t, mkPkts(1, 2)...), 3)
	if r := q.unchanged(&command.ExpireFlows{Port: "in", Max: 10, At: 1 << 40}).(queue.ExpireResult); r.Expired != 0 {
		t.Fatalf("expired %d without retention", r.Expired)
	}
	q.invariants()
}

// TestRetention: flowfiles committed MaxAge or more before a command's
// time leave the head of the queue, in order, leased ones stay with their
// pull, flowfiles queued before retention was set count from then, and a
// transaction's content goes with its last flowfile.
func TestRetention(t *testing.T) {
	q := openQ(t)
	relayPorts(q, 0, 0)
	pk := mkPkts(1, 2, 3, 4, 5, 6)
	q.push("in", "old", encodePackets(t, pk[0]), 50) // before retention
	p := q.ok(&command.SetPortRetention{ID: "in", MaxAge: 100, At: 100}).(queue.Port)
	if p.MaxAge != 100 || p.AgeSince != 100 || p.Modified != 100 {
		t.Fatalf("port %+v", p)
	}
	// Each commit expires the head first: nothing is due yet.
	q.push("in", "t1", encodePackets(t, pk[1], pk[2]), 150)
	q.push("in", "t2", encodePackets(t, pk[3]), 160)
	q.push("in", "t3", encodePackets(t, pk[4], pk[5]), 170)

	// "old" counts as committed at 100: at 199 nothing is due.
	if q.expirable("in", 199) {
		t.Fatal("expirable at 199")
	}
	q.unchanged(&command.ExpireFlows{Port: "in", Max: 10, At: 199})
	// At 200 "old" is due; t1 (150) is not until 250.
	if r := q.ok(&command.ExpireFlows{Port: "in", Max: 10, At: 200}).(queue.ExpireResult); r.Expired != 1 {
		t.Fatalf("expired %d at 200", r.Expired)
	}
	if s := q.stats("in"); s != (queue.Stats{NextSeq: 6, Count: 5, Bytes: 2 + 3 + 4 + 5 + 6, Expired: 1}) {
		t.Fatalf("stats %+v", s)
	}
	q.invariants()

	// A pull leases t1's first flowfile; at 250 t1 is due, but the leased
	// one stays with its pull and only the other goes (Max 1 would stop
	// there anyway: t2 is due too).
	if fs := q.lease("out", "a", 1, 0, 240, 10_000); !reflect.DeepEqual(seqs(fs), []uint64{1}) {
		t.Fatalf("leased %v", seqs(fs))
	}
	if r := q.ok(&command.ExpireFlows{Port: "in", Max: 1, At: 260}).(queue.ExpireResult); r.Expired != 1 {
		t.Fatalf("expired %d at 260", r.Expired)
	}
	q.invariants()
	// Still leased and readable: t1's content stays while seq 1 is queued.
	q.ok(&command.Ack{Tx: "a", At: 261})
	if s := q.stats("in"); s != (queue.Stats{NextSeq: 6, Count: 3, Bytes: 4 + 5 + 6, Expired: 2}) {
		t.Fatalf("stats %+v", s)
	}
	q.invariants()

	// A Lease at 265 expires t2 (160) first and hands out t3 (170).
	fs := q.lease("out", "b", 10, 0, 265, 10_000)
	if !reflect.DeepEqual(seqs(fs), []uint64{4, 5}) {
		t.Fatalf("leased %v at 265", seqs(fs))
	}
	q.checkContent(fs[0], pk[4])
	if s := q.stats("in"); s.Expired != 3 || s.Count != 2 || s.Leased != 2 {
		t.Fatalf("stats %+v", s)
	}
	q.invariants()
	// Turning retention off keeps what is queued; AgeSince stays.
	q.ok(&command.Release{Tx: "b", At: 451})
	p = q.ok(&command.SetPortRetention{ID: "in", MaxAge: 0, At: 460}).(queue.Port)
	if p.MaxAge != 0 || p.AgeSince != 100 {
		t.Fatalf("port %+v", p)
	}
	q.unchanged(&command.ExpireFlows{Port: "in", Max: 10, At: 1 << 40})
	if fs := q.lease("out", "c", 10, 0, 1<<40, 1<<41); !reflect.DeepEqual(seqs(fs), []uint64{4, 5}) {
		t.Fatalf("leased %v with retention off", seqs(fs))
	}
	q.invariants()
}

// TestRetentionBeforeBounds: a push into a queue that is full of expired
// flowfiles is taken (they are expired first), and the head stops at the
// first younger flowfile even when older ones follow it.
func TestRetentionBeforeBounds(t *testing.T) {
	q := openQ(t)
	relayPorts(q, 2, 0)
	q.ok(&command.SetPortRetention{ID: "in", MaxAge: 10, At: 1})
	q.push("in", "t1", encodePackets(t, mkPkts(1)...), 100)
	q.push("in", "t2", encodePackets(t, mkPkts(1)...), 90) // an earlier clock
	e := encodePackets(t, mkPkts(1)...)
	for _, c := range e.chunks("in", "t3", 105) {
		q.ok(c)
	}
	q.refused(&command.CommitTx{Port: "in", Tx: "t3", Count: 1, Bytes: 1, At: 105}, model.KindUnavailable, queue.ReasonFull)
	// At 105 t2 is due (90+10) but t1, ahead of it, is not: nothing goes.
	if q.expirable("in", 105) {
		t.Fatal("expirable behind a younger head")
	}
	res := q.ok(&command.CommitTx{Port: "in", Tx: "t3", Count: 1, Bytes: 1, At: 110}).(queue.CommitResult)
	if res.First != 2 {
		t.Fatalf("commit %+v", res)
	}
	if s := q.stats("in"); s.Count != 1 || s.Expired != 2 {
		t.Fatalf("stats %+v", s)
	}
	q.invariants()
}
