package cluster

import (
	"context"
	"sync"
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
		idx := b.n.raft.CommitIndex()
		err := b.n.raft.VerifyLeader().Error()
		for _, ch := range batch {
			ch <- readResult{idx: idx, err: err}
		}
	}
}
