package cluster

import (
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

func TestStandNow(t *testing.T) {
	now := time.Unix(1000, 0)
	long, short := now.Add(-time.Second), now.Add(-100*time.Millisecond)
	const timeout = 500 * time.Millisecond
	for _, c := range []struct {
		name     string
		state    raft.RaftState
		mode     int32
		isolated bool
		last     time.Time
		want     bool
	}{
		{"follower without a leader for longer than its timeout", raft.Follower, timeoutsNormal, false, long, true},
		{"follower that heard from the leader lately", raft.Follower, timeoutsNormal, false, short, false},
		{"exactly at the timeout", raft.Follower, timeoutsNormal, false, now.Add(-timeout), true},
		{"kept out of elections by a failed disk", raft.Follower, timeoutsStayOut, false, long, false},
		{"cut off by a drill", raft.Follower, timeoutsNormal, true, long, false},
		{"never heard from a leader (starting)", raft.Follower, timeoutsNormal, false, time.Time{}, false},
		{"candidate already", raft.Candidate, timeoutsNormal, false, long, false},
		{"leader", raft.Leader, timeoutsNormal, false, long, false},
	} {
		if got := standNow(c.state, c.mode, c.isolated, c.last, now, timeout); got != c.want {
			t.Errorf("%s: standNow = %v, want %v", c.name, got, c.want)
		}
	}
}
