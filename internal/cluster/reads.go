package cluster

import (
	"context"
	"sync"

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
		idx := b.n.applyTarget(b.n.raft.CommitIndex())
		err := b.n.raft.VerifyLeader().Error()
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
