package cluster

import (
	"context"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// readBatcher coalesces linearizable reads on the leader: every read that
// arrives while a leadership check is running waits for the next one, so a
// burst of reads costs one heartbeat round, not one each.
type readBatcher struct {
	n       *Node
	mu      sync.Mutex
	pending []chan readResult
	running bool
}

type readResult struct {
	idx uint64
	err error
}

func newReadBatcher(n *Node) *readBatcher { return &readBatcher{n: n} }

// wait returns a commit index that covers every write acknowledged before
// the call, confirmed by a quorum that this node still leads.
func (b *readBatcher) wait(ctx context.Context) (uint64, error) {
	ch := make(chan readResult, 1)
	b.mu.Lock()
	b.pending = append(b.pending, ch)
	if !b.running {
		b.running = true
		go b.run()
	}
	b.mu.Unlock()
	select {
	case r := <-ch:
		return r.idx, r.err
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

func (b *readBatcher) run() {
	for {
		b.mu.Lock()
		batch := b.pending
		b.pending = nil
		if len(batch) == 0 {
			b.running = false
			b.mu.Unlock()
			return
		}
		b.mu.Unlock()
		// Read the commit index before confirming leadership: it covers
		// every write acknowledged before any reader of this batch arrived.
		start := time.Now()
		idx := b.n.applyTarget(b.n.raft.CommitIndex())
		err := confirmLeadership(b.n.raft, b.n.acks, raft.ServerID(b.n.cfg.ID), start)
		for _, ch := range batch {
			ch <- readResult{idx: idx, err: err}
		}
	}
}

// applyTarget returns the index of the last entry at or below commit that
// the state machine sees (a command or a configuration change). Raft's
// no-op and barrier entries advance the commit index but never reach the
// store, so waiting for the store to apply the commit index itself could
// wait forever on a quiet cluster (e.g. right after an election).
func (n *Node) applyTarget(commit uint64) uint64 {
	floor := n.st.AppliedIndex()
	var l raft.Log
	for i := commit; i > floor; i-- {
		if err := n.logs.GetLog(i, &l); err != nil {
			// Compacted into a snapshot: everything up to here is in
			// the store already.
			return max(floor, i)
		}
		if l.Type == raft.LogCommand || l.Type == raft.LogConfiguration {
			return i
		}
	}
	return floor
}

// effectiveApplied is the store's applied index, or the commit index when
// the store has applied every entry up to it that it can see: a node that
// is only "behind" by no-op and barrier entries is not behind at all.
func (n *Node) effectiveApplied() uint64 {
	applied := n.st.AppliedIndex()
	commit := n.raft.CommitIndex()
	if commit > applied && n.applyTarget(commit) <= applied {
		return commit
	}
	return applied
}

// maxConfirmRounds bounds the leadership rounds one read confirmation may
// take. Each peer has at most two appends in flight that were sent before
// the read began (a heartbeat and a replication batch), so the third round
// is answered by fresh ones; more rounds mean something is wrong, and the
// read is refused rather than trusted.
const maxConfirmRounds = 4

// confirmLeadership returns nil once a quorum of voters, counting this
// node, has accepted it as leader in an append sent after start: no other
// leader can then have committed anything before start that this node's
// commit index (read after start) does not cover.
//
// raft.VerifyLeader alone is not enough. hashicorp/raft counts the answer
// to any heartbeat as a vote for every check registered when the answer
// arrives, including answers to heartbeats sent before the check began. A
// leader that was paused (SIGSTOP, a long GC or VM stall) wakes with its
// followers' answers to its last heartbeats still buffered; those answers
// confirm a read that arrived after a new leader had committed writes, and
// the old leader serves stale data (TestClusterPauseLeader caught it, and
// TestConfirmLeadershipIgnoresStaleAcks reproduces it). So after each
// VerifyLeader round the acks are checked for freshness, and another round
// (whose forced heartbeats are sent after start) is run while they are not.
func confirmLeadership(r *raft.Raft, acks *ackClock, self raft.ServerID, start time.Time) error {
	term := r.CurrentTerm()
	for range maxConfirmRounds {
		if err := r.VerifyLeader().Error(); err != nil {
			return err
		}
		cf := r.GetConfiguration()
		if err := cf.Error(); err != nil {
			return err
		}
		if acks.quorumSince(cf.Configuration().Servers, self, term, start) {
			return nil
		}
	}
	return raft.ErrLeadershipLost
}

// ackClock records, per peer, the newest append the peer accepted: the
// leader's term and the time the request was sent.
type ackClock struct {
	mu   sync.Mutex
	last map[raft.ServerID]ack
}

type ack struct {
	term uint64
	sent time.Time
}

func newAckClock() *ackClock { return &ackClock{last: map[raft.ServerID]ack{}} }

// send performs one AppendEntries through call and records it when the
// peer accepted it. The time is taken before the request leaves, so "sent
// at or after t" implies the peer handled it after t.
func (c *ackClock) send(id raft.ServerID, target raft.ServerAddress, args *raft.AppendEntriesRequest, resp *raft.AppendEntriesResponse,
	call func(raft.ServerID, raft.ServerAddress, *raft.AppendEntriesRequest, *raft.AppendEntriesResponse) error) error {
	sent := time.Now()
	err := call(id, target, args, resp)
	if err == nil && resp.Success {
		c.record(id, args.Term, sent)
	}
	return err
}

func (c *ackClock) record(id raft.ServerID, term uint64, sent time.Time) {
	c.mu.Lock()
	if a, ok := c.last[id]; !ok || term > a.term || (term == a.term && sent.After(a.sent)) {
		c.last[id] = ack{term: term, sent: sent}
	}
	c.mu.Unlock()
}

// quorumSince reports whether a quorum of the voters in servers, counting
// self, accepted an append of term sent at or after t.
func (c *ackClock) quorumSince(servers []raft.Server, self raft.ServerID, term uint64, t time.Time) bool {
	voters, fresh := 0, 0
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range servers {
		if s.Suffrage != raft.Voter {
			continue
		}
		voters++
		if s.ID == self {
			fresh++
			continue
		}
		if a, ok := c.last[s.ID]; ok && a.term == term && !a.sent.Before(t) {
			fresh++
		}
	}
	return voters > 0 && fresh >= voters/2+1
}

// requestBarrier remembers that one request has taken its read barrier.
type requestBarrier struct {
	mu   sync.Mutex
	done bool
}

type requestBarrierKey struct{}

// WithRequestBarrier marks ctx as one request's, so that RequestBarrier
// waits for the cluster once in it: a secured request on a follower
// checked its token's keys, its policies and then read, each after a read
// barrier of its own (up to three round trips to the leader).
func WithRequestBarrier(ctx context.Context) context.Context {
	return context.WithValue(ctx, requestBarrierKey{}, &requestBarrier{})
}

// RequestBarrier is ReadBarrier once per request (see WithRequestBarrier):
// the first call waits, later calls in the same request return at once.
// Reads that must see something that happened during the request (the
// site-to-site relay reading content committed after its lease) call
// ReadBarrier instead. A request is linearizable from the point of its
// first barrier, which comes after it arrived.
func (n *Node) RequestBarrier(ctx context.Context) error {
	return onceInRequest(ctx, n.ReadBarrier)
}

func onceInRequest(ctx context.Context, barrier func(context.Context) error) error {
	rb, _ := ctx.Value(requestBarrierKey{}).(*requestBarrier)
	if rb == nil {
		return barrier(ctx)
	}
	rb.mu.Lock()
	defer rb.mu.Unlock()
	if rb.done {
		return nil
	}
	if err := barrier(ctx); err != nil {
		return err
	}
	rb.done = true
	return nil
}
