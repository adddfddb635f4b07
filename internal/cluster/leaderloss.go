package cluster

import (
	"math/rand/v2"
	"time"

	"github.com/hashicorp/raft"
)

// watchLeaderLoss makes a follower stand for election once it has not
// heard from a leader for its election timeout counted from the last
// contact: a random time in [HeartbeatTimeout, 2×HeartbeatTimeout), drawn
// again after each election it starts, as etcd counts it.
//
// hashicorp/raft checks for a lost leader only when a follower's timer
// fires, and rearms that timer at a random 400–800 ms (the default) each
// time it fires, not at each heartbeat; a follower therefore noticed a
// dead leader 0.4 to 1.2 s after its last heartbeat, and refuses other
// candidates' pre-votes until it notices. Measured at equal timing, writes
// resumed after a leader's SIGKILL in 959 ms (median) against etcd's
// 500 ms (docs/benchmarks.md, "Five runs per figure"). Standing sooner
// than the library would changes nothing else: the follower stands
// exactly as when its own timer fires (pre-vote first), and never before
// HeartbeatTimeout without contact, the library's own bound.
func (n *Node) watchLeaderLoss() {
	defer n.wg.Done()
	hb := n.cfg.HeartbeatTimeout
	draw := func() time.Duration { return hb + rand.N(hb) }
	timeout := draw()
	// The timer is armed for the moment the current silence would reach
	// the timeout, not polled: a heartbeat that arrives meanwhile moves
	// the deadline, seen when the timer fires, so a follower wakes about
	// once per timeout rather than every few milliseconds.
	timer := time.NewTimer(hb)
	defer timer.Stop()
	for {
		select {
		case <-n.stopCh:
			return
		case <-timer.C:
		}
		now := time.Now()
		last := n.raft.LastContact()
		state, mode, isolated := n.raft.State(), n.timeoutMode.Load(), !n.iso.Until().IsZero()
		if standNow(state, mode, isolated, last, now, timeout) {
			n.tuneMu.Lock()
			if n.timeoutMode.Load() == timeoutsNormal {
				n.kickElection()
			}
			n.tuneMu.Unlock()
			// Like etcd's, the timer restarts with the election: the
			// node looks again only a whole new timeout later.
			timeout = draw()
			timer.Reset(timeout)
			continue
		}
		// A node that may not stand (kept out by a failed disk, cut off
		// by a drill) looks again after hb, not every millisecond while
		// its silence lasts.
		timer.Reset(nextCheck(mayStand(state, mode, isolated), last, now, timeout, hb))
	}
}

// nextCheck is how long the watch sleeps: until the silence since last
// would reach timeout, and at least a millisecond, for a follower that may
// stand for election; after hb for any other node, and for one that never
// heard from a leader.
func nextCheck(canStand bool, last, now time.Time, timeout, hb time.Duration) time.Duration {
	if !canStand || last.IsZero() {
		return hb
	}
	return max(last.Add(timeout).Sub(now), time.Millisecond)
}

// standNow says whether a node should stand for election now: a follower
// whose timeouts are normal (not one kept out of elections by a failed
// disk), not cut off by a drill, that last heard from a leader at least
// timeout ago. A node that never heard from one (starting) is left to
// raft's own timer.
func standNow(state raft.RaftState, mode int32, isolated bool, last, now time.Time, timeout time.Duration) bool {
	return mayStand(state, mode, isolated) && !last.IsZero() && now.Sub(last) >= timeout
}

// mayStand says whether a node may stand for election on its own: a
// follower whose timeouts are normal and that no drill cut off.
func mayStand(state raft.RaftState, mode int32, isolated bool) bool {
	return state == raft.Follower && mode == timeoutsNormal && !isolated
}
