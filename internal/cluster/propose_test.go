package cluster

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/weir-nifi/weir/internal/command"
	"github.com/weir-nifi/weir/internal/model"
	"github.com/weir-nifi/weir/internal/store"
)

// TestToLeaderRetriesOnlyWhatAnotherLeaderMayTake: a follower's proposal
// goes to the leader again while the answer says no leader took it, and
// stops at a refusal every leader of the cluster would give (a DR
// standby's or fenced cluster's), which it used to send again for
// LeaderWait.
func TestToLeaderRetriesOnlyWhatAnotherLeaderMayTake(t *testing.T) {
	n := &Node{cfg: Config{LeaderWait: time.Minute}}
	standby := store.DRState{Role: command.RoleStandby, Primary: []string{"http://primary:18080"}}.WritesRefused()
	fenced := store.DRState{Role: command.RoleFenced, Primary: []string{"http://new-primary:18080"}, Epoch: 2}.WritesRefused()
	for _, tc := range []struct {
		name    string
		answers []error
		tries   int
		want    string
	}{
		{"not the leader, then taken", []error{ErrNotLeader, nil}, 2, ""},
		{"no leader known, then taken", []error{noLeader(), noLeader(), nil}, 3, ""},
		{"a DR standby's refusal", []error{standby, nil}, 1, standby.Error()},
		{"a fenced cluster's refusal", []error{fenced, nil}, 1, fenced.Error()},
		{"a refusal that was not certain", []error{model.Unavailable("may or may not", time.Second), nil}, 1, "may or may not"},
	} {
		tries := 0
		err := n.toLeader(context.Background(), nil, func() (proposal, error) {
			a := tc.answers[tries]
			tries++
			return toProposal(nil, a), nil
		})
		var got string
		if err != nil {
			got = err.Error()
		}
		if tries != tc.tries || got != tc.want {
			t.Errorf("%s: %d tries, error %q; want %d tries, error %q", tc.name, tries, got, tc.tries, tc.want)
		}
		var me *model.Error
		if tc.want != "" && (!errors.As(err, &me) || me.NotApplied != (tc.answers[0] == standby || tc.answers[0] == fenced)) {
			t.Errorf("%s: the not-applied mark was not passed on: %#v", tc.name, err)
		}
	}
}
