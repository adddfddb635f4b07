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

// The watch sleeps until the silence would reach the timeout, not less
// than a millisecond, and only hb when there is no leader to miss or the
// node may not stand (a follower kept out by a failed disk or cut off by
// a drill must not wake every millisecond while its silence lasts).
func TestNextCheck(t *testing.T) {
	now := time.Unix(1000, 0)
	const timeout, hb = 500 * time.Millisecond, 250 * time.Millisecond
	for _, c := range []struct {
		name     string
		canStand bool
		last     time.Time
		want     time.Duration
	}{
		{"follower heard 100 ms ago", true, now.Add(-100 * time.Millisecond), 400 * time.Millisecond},
		{"follower silent past the timeout", true, now.Add(-time.Second), time.Millisecond},
		{"follower that never heard from a leader", true, time.Time{}, hb},
		{"leader, candidate, or a follower that may not stand", false, now.Add(-time.Second), hb},
	} {
		if got := nextCheck(c.canStand, c.last, now, timeout, hb); got != c.want {
			t.Errorf("%s: nextCheck = %v, want %v", c.name, got, c.want)
		}
	}
}

// The leader lease defaults to the heartbeat timeout, raised or not: a
// lease stuck at the 400 ms default under a 2 s heartbeat timeout had a
// leader step down on a loaded CI runner during silences its followers
// tolerated. The election timeout defaults to at least the heartbeat
// timeout (Raft refuses less: raising only --heartbeat-timeout stopped
// the node at start). Explicit values are kept.
func TestTimeoutsFollowHeartbeat(t *testing.T) {
	for _, c := range []struct {
		hb, election, lease          time.Duration
		wantHB, wantElection, wantLs time.Duration
	}{
		{0, 0, 0, DefaultHeartbeat, DefaultElection, DefaultHeartbeat},
		{2 * time.Second, 0, 0, 2 * time.Second, 2 * time.Second, 2 * time.Second},
		{100 * time.Millisecond, 0, 0, 100 * time.Millisecond, DefaultElection, 100 * time.Millisecond},
		{2 * time.Second, 3 * time.Second, 500 * time.Millisecond, 2 * time.Second, 3 * time.Second, 500 * time.Millisecond},
	} {
		cfg := Config{HeartbeatTimeout: c.hb, ElectionTimeout: c.election, LeaderLeaseTimeout: c.lease}
		cfg.setDefaults()
		if cfg.HeartbeatTimeout != c.wantHB || cfg.ElectionTimeout != c.wantElection || cfg.LeaderLeaseTimeout != c.wantLs {
			t.Errorf("set %v/%v/%v: heartbeat %v election %v lease %v, want %v/%v/%v", c.hb, c.election, c.lease,
				cfg.HeartbeatTimeout, cfg.ElectionTimeout, cfg.LeaderLeaseTimeout, c.wantHB, c.wantElection, c.wantLs)
		}
	}
}
