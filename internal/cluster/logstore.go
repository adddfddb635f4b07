package cluster

import (
	"bytes"
	"time"

	"github.com/hashicorp/raft"
	wal "github.com/hashicorp/raft-wal"

	"github.com/weir-nifi/weir/internal/disk"
)

// logStore is raft-wal with exact compaction and disk-failure handling.
//
// Compaction: raft-wal frees whole segments only and still answers reads
// of compacted entries that share a segment with live ones. Raft must see
// them as gone, so a follower that needs them gets the snapshot (which
// holds them) instead of a log that pretends to start before the snapshot.
//
// Disk failures: a failed append or stable-store write is reported to the
// disk monitor, which makes the node refuse writes, leave leadership and
// stay out of elections until the disk takes writes again. Raft panics when
// it cannot persist its current term, so that one write is retried until
// it succeeds instead of failing (see SetUint64).
type logStore struct {
	*wal.WAL
	disk *disk.Monitor // nil: failures are only returned
	stop <-chan struct{}
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

func (l logStore) StoreLog(log *raft.Log) error { return l.StoreLogs([]*raft.Log{log}) }

func (l logStore) StoreLogs(logs []*raft.Log) error {
	err := l.WAL.StoreLogs(logs)
	l.failed("append to the Raft log", err)
	return err
}

func (l logStore) DeleteRange(min, max uint64) error {
	err := l.WAL.DeleteRange(min, max)
	l.failed("compact the Raft log", err)
	return err
}

func (l logStore) Set(key, val []byte) error {
	err := l.WAL.Set(key, val)
	l.failed("write Raft's stable store", err)
	return err
}

// termKey is the stable-store key hashicorp/raft keeps its current term
// under; it panics when writing it fails.
var termKey = []byte("CurrentTerm")

// SetUint64 persists a Raft counter. Raft takes the node down with a panic
// when it cannot persist its current term (it must not answer in a term it
// has not recorded), so that write waits for the disk instead: the node
// stays out of elections while its disk fails (the campaigns that would
// write a term are suppressed), and a term pushed by a peer waits here,
// with this node silent to the cluster, until the disk takes writes. At
// shutdown the wait ends without the term recorded; nothing was promised
// in it (votes are written with Set and fail cleanly), so the process may
// stop.
func (l logStore) SetUint64(key []byte, val uint64) error {
	err := l.WAL.SetUint64(key, val)
	if err == nil || !bytes.Equal(key, termKey) {
		l.failed("write Raft's stable store", err)
		return err
	}
	wait := 50 * time.Millisecond
	for err != nil {
		l.failed("record the Raft term", err)
		select {
		case <-l.stop:
			return nil
		case <-time.After(wait):
		}
		wait = min(wait*2, time.Second)
		err = l.WAL.SetUint64(key, val)
	}
	return nil
}

func (l logStore) failed(op string, err error) {
	if err != nil && l.disk != nil {
		l.disk.Fail(op, err)
	}
}
