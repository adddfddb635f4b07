package cluster

import (
	"errors"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/hashicorp/raft"

	"github.com/weir-nifi/weir/internal/disk"
	"github.com/weir-nifi/weir/internal/model"
	"github.com/weir-nifi/weir/internal/store"
)

// fsm bridges hashicorp/raft to the store. It holds no state of its own:
// the store applies commands, snapshots and restores.
type fsm struct {
	st  *store.Store
	log *slog.Logger
	// onApply is told the index of every applied batch (metrics, waiters).
	onApply func(last uint64, n int)
	// disk is told when the store cannot write (nil in some tests).
	disk *disk.Monitor
	// stop ends a wait for the disk (node shutdown).
	stop <-chan struct{}
	// halt stops the process on an entry this build cannot apply.
	halt func(error)
	// orphans keeps the results of entries of terms this node led that
	// it applies while not leading them (see orphans.go); leading says
	// whether it leads now, and in which term. Both nil in some tests.
	orphans *orphans
	leading func() (bool, uint64)
}

var (
	_ raft.BatchingFSM = (*fsm)(nil)
	_ raft.FSMSnapshot = (*fsmSnapshot)(nil)
)

func (f *fsm) Apply(l *raft.Log) any { return f.ApplyBatch([]*raft.Log{l})[0] }

// ApplyBatch applies committed entries in one store transaction. The store
// classifies what goes wrong (store.Apply): refusals are results like any
// other; an entry this build cannot read halts the node after the entries
// before it are applied (never skipped: a restart with the right build
// applies it); a failure of the local disk is waited out: the batch is
// retried until the store takes it, while the disk monitor keeps the node
// out of leadership and its writes refused. The batch must not be given up,
// because Raft counts it as applied once this returns.
func (f *fsm) ApplyBatch(logs []*raft.Log) []any {
	entries := make([]store.Entry, len(logs))
	for i, l := range logs {
		entries[i] = store.Entry{Index: l.Index}
		if l.Type == raft.LogCommand {
			entries[i].Data = l.Data
		}
	}
	out := make([]any, len(logs))
	wait := 50 * time.Millisecond
	for {
		res, err := f.st.Apply(entries)
		var unknown *store.UnknownCommandError
		if errors.As(err, &unknown) {
			f.halt(unknown)
			for i := range out {
				out[i] = store.Result{Err: errHalted}
			}
			return out
		}
		if err == nil {
			for i, r := range res {
				out[i] = r
			}
			break
		}
		if errors.Is(err, store.ErrClosed) {
			for i := range out {
				out[i] = store.Result{Err: errHalted}
			}
			return out
		}
		if f.disk != nil {
			f.disk.Fail("apply committed entries to the store", err)
		}
		f.log.Warn("cannot apply committed entries; retrying until the store takes them", "first", entries[0].Index, "err", err, "retryIn", wait)
		select {
		case <-f.stop:
			for i := range out {
				out[i] = store.Result{Err: errHalted}
			}
			return out
		case <-time.After(wait):
		}
		wait = min(wait*2, 2*time.Second)
	}
	if f.onApply != nil && len(logs) > 0 {
		f.onApply(logs[len(logs)-1].Index, len(logs))
	}
	if f.orphans != nil {
		// An entry of the term this node leads now is answered through
		// its future. Any other entry of a term it led lost its future
		// (ErrLeadershipLost) and may have a proposer waiting in outcome:
		// also when this node was elected again and commits it itself
		// (a leader that stepped down under load, then won the next
		// election, answered such writes "may or may not have been
		// applied" though it had applied them).
		leading, term := f.leading()
		for i, l := range logs {
			if !leading || l.Term < term {
				f.orphans.keep(l, out[i])
			}
		}
	}
	return out
}

// errHalted answers the futures of entries not applied because this node
// is stopping; the entries are applied after a restart.
var errHalted = model.Unavailable("This node stopped before applying the write; it is applied when the node restarts. Check and retry.", time.Second)

// ExitNeedsUpgrade is the exit status of a node that met a log entry its
// build cannot apply (EX_CONFIG).
const ExitNeedsUpgrade = 78

func haltProcess(log *slog.Logger) func(error) {
	return func(err error) {
		log.Error("stopping: this build cannot apply the next committed entry", "err", err)
		os.Exit(ExitNeedsUpgrade)
	}
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
