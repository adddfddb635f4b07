package backup

import (
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/raft"
)

// SeedCluster runs once, on the first start of a node whose data directory
// was restored (restored-from.json present, no Raft state yet), before it
// serves: the restored registry is in state.db but in no Raft log entry,
// so a node that joins and replays the log from index 1 would miss it. Once
// this node leads its new one-node cluster, SeedCluster takes a Raft
// snapshot with no trailing log kept: every joiner then starts from that
// snapshot (the restored state) instead of replaying the log.
func SeedCluster(r *raft.Raft, wait time.Duration) error {
	deadline := time.Now().Add(wait)
	for r.State() != raft.Leader {
		if time.Now().After(deadline) {
			return fmt.Errorf("restored node did not become leader of its new cluster within %v", wait)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := r.Barrier(wait).Error(); err != nil {
		return fmt.Errorf("restored node: barrier: %w", err)
	}
	cur := r.ReloadableConfig()
	tmp := cur
	tmp.TrailingLogs = 0
	if err := r.ReloadConfig(tmp); err != nil {
		return err
	}
	defer func() { _ = r.ReloadConfig(cur) }()
	if err := r.Snapshot().Error(); err != nil && !errors.Is(err, raft.ErrNothingNewToSnapshot) {
		return fmt.Errorf("restored node: snapshot: %w", err)
	}
	return nil
}
