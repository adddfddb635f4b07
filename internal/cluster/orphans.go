package cluster

import (
	"bytes"
	"context"
	"slices"
	"sync"

	"github.com/hashicorp/raft"
)

// orphans resolves writes whose leader lost leadership while they were
// being replicated. hashicorp/raft answers such a write ErrLeadershipLost,
// yet the entry may still be committed by the next leader (a clean
// leadership transfer waits until the new leader has every entry, so it
// always is). The old leader applies it like any other entry, as a
// follower or as the leader of a later term (a leader that stepped down
// under load is often elected again, and commits its own entries of the
// term it lost); the FSM keeps the result of each entry of a term this
// node led that it applies outside that term, so the proposer can wait for its
// index and answer with the real outcome: applied (with its result), or
// certainly not applied when another entry took its index (the write can
// then go to the new leader). Only when neither can be known does the
// client hear "may or may not have been applied".
type orphans struct {
	mu    sync.Mutex
	terms []uint64 // the last terms this node led
	// res is a ring of the newest results: keeping one is O(1) and the
	// oldest goes first; finding one scans it, which happens only after
	// a lost leadership.
	res  [orphanMax]orphan
	next int
}

type orphan struct {
	index, term uint64 // index 0: empty slot
	r           any
}

const (
	orphanTerms = 16
	// orphanMax bounds the results kept for proposers that never asked
	// (their request was gone): the oldest indexes go first.
	orphanMax = 4096
)

func newOrphans() *orphans { return &orphans{} }

// led records a term in which this node leads (and may propose).
func (o *orphans) led(term uint64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !slices.Contains(o.terms, term) {
		o.terms = append(o.terms, term)
		if len(o.terms) > orphanTerms {
			o.terms = o.terms[1:]
		}
	}
}

// keep records the result of an entry applied while this node did not
// lead, if it is from a term this node led.
func (o *orphans) keep(l *raft.Log, r any) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !slices.Contains(o.terms, l.Term) {
		return
	}
	o.res[o.next] = orphan{index: l.Index, term: l.Term, r: r}
	o.next = (o.next + 1) % orphanMax
}

func (o *orphans) take(idx uint64) (orphan, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for i := range o.res {
		if o.res[i].index == idx && idx != 0 {
			r := o.res[i]
			o.res[i] = orphan{}
			return r, true
		}
	}
	return orphan{}, false
}

// outcome waits, after ErrLeadershipLost, for what became of the entry
// this node appended at idx with data: applied (its result), or replaced
// by another entry (not applied). known is false when neither could be
// learnt in time.
func (n *Node) outcome(ctx context.Context, idx uint64, data []byte) (r any, applied, known bool) {
	if idx == 0 {
		return nil, false, false
	}
	// Our entry as appended: its term tells it from an entry that may
	// replace it at the same index.
	var mine raft.Log
	if err := n.logs.GetLog(idx, &mine); err != nil || !bytes.Equal(mine.Data, data) {
		return nil, false, false
	}
	wctx, cancel := context.WithTimeout(ctx, 2*n.cfg.LeaderWait)
	defer cancel()
	if !n.st.WaitApplied(wctx.Done(), idx) {
		return nil, false, false
	}
	if o, ok := n.orph.take(idx); ok && o.term == mine.Term {
		return o.r, true, true
	}
	var now raft.Log
	if err := n.logs.GetLog(idx, &now); err != nil {
		return nil, false, false // compacted: cannot tell
	}
	if now.Term != mine.Term {
		return nil, false, true // another entry took the index
	}
	// Our entry was applied, yet its result was not kept (more than
	// orphanMax entries of old terms were applied since).
	return nil, false, false
}

// leadingNow reports whether this node leads at this instant, and its
// current term (the FSM asks from its own goroutine, possibly before Start
// has returned).
func (n *Node) leadingNow() (bool, uint64) {
	r := n.raftPtr.Load()
	if r == nil {
		return false, 0
	}
	return r.State() == raft.Leader, r.CurrentTerm()
}
