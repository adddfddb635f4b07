package cluster

import (
	"github.com/hashicorp/raft"
	wal "github.com/hashicorp/raft-wal"
)

// logStore is raft-wal with exact compaction: raft-wal frees whole segments
// only and still answers reads of compacted entries that share a segment
// with live ones. Raft must see them as gone, so a follower that needs them
// gets the snapshot (which holds them) instead of a log that pretends to
// start before the snapshot.
type logStore struct {
	*wal.WAL
}

var (
	_ raft.LogStore    = logStore{}
	_ raft.StableStore = logStore{}
)

func (l logStore) GetLog(index uint64, log *raft.Log) error {
	first, err := l.WAL.FirstIndex()
	if err != nil {
		return err
	}
	if index < first {
		return raft.ErrLogNotFound
	}
	return l.WAL.GetLog(index, log)
}
