package registry

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/weir-nifi/weir/internal/command"
	"github.com/weir-nifi/weir/internal/model"
	"github.com/weir-nifi/weir/internal/store/storetest"
)

// deposed is a leader that was paused while the others elected a new one
// and wrote: it still believes it leads (Ready answers at once) and its
// state lacks their writes until a read barrier catches it up.
type deposed struct {
	applier
	catchUp  func()
	barriers int
}

func (d *deposed) ReadBarrier(context.Context) error {
	d.barriers++
	d.catchUp()
	return nil
}

// TestNextVersionOnADeposedLeader: "-1" on a flow created after this node
// stopped hearing from the cluster is not answered "no such flow" from
// the stale state: the miss is confirmed through a read barrier first (a
// CI run of TestClusterPauseLeader saw the false 404).
func TestNextVersionOnADeposedLeader(t *testing.T) {
	st, apply := storetest.Open(t)
	apply(&command.CreateBucket{ID: "b1", Name: "one", Created: 1, Actor: "alice"})
	p := &deposed{applier: applier{st: st, idx: 2, level: command.Level}}
	caught := false
	p.catchUp = func() {
		if !caught {
			apply(&command.CreateFlow{BucketID: "b1", ID: "f1", Name: "flow", Created: 2, Modified: 2, Actor: "bob"})
			caught = true
		}
	}
	s := New(p, st, Options{})
	snap := &model.Snapshot{SnapshotMetadata: &model.SnapshotMetadata{Version: -1}, FlowContents: json.RawMessage(`{"identifier":"root","name":"root"}`)}
	got, err := s.CreateVersion(context.Background(), Caller{Identity: "alice"}, "b1", "f1", snap, false)
	if err != nil {
		t.Fatalf("next version after the barrier: %v", err)
	}
	if got.SnapshotMetadata == nil || got.SnapshotMetadata.Version != 1 || p.barriers != 1 {
		t.Fatalf("version %+v after %d barriers", got.SnapshotMetadata, p.barriers)
	}
	// A flow that does not exist anywhere is still 404, after one barrier.
	_, err = s.CreateVersion(context.Background(), Caller{Identity: "alice"}, "b1", "nope", snap, false)
	if model.KindOf(err) != model.KindNotFound || p.barriers != 2 {
		t.Fatalf("unknown flow: %v after %d barriers", err, p.barriers)
	}
}
