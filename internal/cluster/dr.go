package cluster

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/hashicorp/raft"
)

// What disaster recovery (package dr) needs from the Raft node: the
// committed log to ship to a standby, and a way to replace a standby's
// state with a primary's snapshot.

// ErrCompacted is returned by LogEntries when the entries asked for were
// compacted into a snapshot: the follower needs a snapshot.
var ErrCompacted = errors.New("the log no longer holds those entries (compacted into a snapshot)")

// LogEntries returns this node's applied log entries with index above
// after, in order, up to max entries or maxBytes of data (at least one):
// the indexes and command bytes of the command entries, the last index
// covered (entries that carry no command count), and the applied index.
func (n *Node) LogEntries(after uint64, max, maxBytes int) (idx []uint64, data [][]byte, last, applied uint64, err error) {
	applied = n.st.AppliedIndex()
	last = after
	if after >= applied {
		return nil, nil, last, applied, nil
	}
	first, err := n.logs.FirstIndex()
	if err != nil {
		return nil, nil, last, applied, err
	}
	if after+1 < first {
		return nil, nil, last, applied, fmt.Errorf("%w: asked from %d, the log starts at %d", ErrCompacted, after+1, first)
	}
	size := 0
	for i := after + 1; i <= applied && len(idx) < max && (size < maxBytes || len(idx) == 0); i++ {
		var l raft.Log
		if err := n.logs.GetLog(i, &l); err != nil {
			if errors.Is(err, raft.ErrLogNotFound) {
				// Compacted meanwhile.
				return nil, nil, after, applied, fmt.Errorf("%w: entry %d", ErrCompacted, i)
			}
			return nil, nil, after, applied, err
		}
		last = i
		if l.Type != raft.LogCommand {
			continue
		}
		idx = append(idx, i)
		data = append(data, l.Data)
		size += len(l.Data)
	}
	return idx, data, last, applied, nil
}

// InstallSnapshot replaces the whole cluster's state with a store snapshot
// frame of size bytes read from r (a primary's, for a DR standby), through
// Raft: the leader restores it and sends it to the followers. Leader only.
func (n *Node) InstallSnapshot(r io.Reader, size int64, timeout time.Duration) error {
	if n.raft.State() != raft.Leader {
		return ErrNotLeader
	}
	meta := &raft.SnapshotMeta{Version: raft.SnapshotVersionMax, Size: size}
	return n.raft.Restore(meta, r, timeout)
}

// Members maps the ids in the Raft configuration to their Raft addresses.
func (n *Node) Members() map[string]string {
	f := n.raft.GetConfiguration()
	if f.Error() != nil {
		return nil
	}
	out := map[string]string{}
	for _, s := range f.Configuration().Servers {
		out[string(s.ID)] = string(s.Address)
	}
	return out
}
