package cluster

import (
	"io"
	"log/slog"
	"os"

	"github.com/hashicorp/raft"

	"github.com/weir-nifi/weir/internal/store"
)

// fsm bridges hashicorp/raft to the store. It holds no state of its own:
// the store applies commands, snapshots and restores.
type fsm struct {
	st  *store.Store
	log *slog.Logger
	// onApply is told the index of every applied batch (metrics, waiters).
	onApply func(last uint64, n int)
}

var (
	_ raft.BatchingFSM = (*fsm)(nil)
	_ raft.FSMSnapshot = (*fsmSnapshot)(nil)
)

func (f *fsm) Apply(l *raft.Log) any { return f.ApplyBatch([]*raft.Log{l})[0] }

// ApplyBatch applies committed entries in one store transaction. A store
// that cannot write is fatal: continuing would let this replica diverge,
// while a restart replays the log from the last applied index.
func (f *fsm) ApplyBatch(logs []*raft.Log) []any {
	entries := make([]store.Entry, len(logs))
	for i, l := range logs {
		entries[i] = store.Entry{Index: l.Index}
		if l.Type == raft.LogCommand {
			entries[i].Data = l.Data
		}
	}
	res, err := f.st.Apply(entries)
	if err != nil {
		f.log.Error("cannot apply committed entries; stopping so a restart can replay them", "err", err)
		os.Exit(70)
	}
	out := make([]any, len(res))
	for i, r := range res {
		out[i] = r
	}
	if f.onApply != nil && len(logs) > 0 {
		f.onApply(logs[len(logs)-1].Index, len(logs))
	}
	return out
}

// Snapshot starts a kernel copy of the store (store.SnapshotCopy); Persist
// writes it to the snapshot store while Apply goes on. Persist fsyncs as it
// writes, which takes a while on a large store: streaming from a read
// transaction instead would slow every commit for that long, so that is
// done only when there is no room for the copy.
func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	sn, copied, err := f.st.PointInTime()
	if err != nil {
		return nil, err
	}
	if !copied {
		f.log.Warn("no room beside the store for a copy to snapshot from: streaming from a read transaction, commits will be slower until the snapshot is written",
			"storeBytes", sn.Size())
	}
	return &fsmSnapshot{sn: sn}, nil
}

// Restore replaces the state with a snapshot from our snapshot store
// (received from the leader, or our own). It restores from the snapshot
// file when it can; the frame's length and checksum are verified before
// anything replaces the state (see restoreSnapshot).
func (f *fsm) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	return restoreSnapshot(f.st, rc, f.log)
}

type fsmSnapshot struct{ sn store.PointInTime }

func (s *fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	// Hide the sink's ReadFrom, which is for snapshots received from the
	// leader (it stages them): the sink checks every byte of the frame
	// anyway, so the copy is read and written through one buffer here.
	if _, err := s.sn.WriteTo(struct{ io.Writer }{sink}); err != nil {
		_ = sink.Cancel()
		return err
	}
	return sink.Close()
}

func (s *fsmSnapshot) Release() { s.sn.Release() }
