package store

import (
	"fmt"
	"io"
	"path/filepath"
)

// A PointInTime is a consistent state of the store, at one applied index,
// that can be streamed as a frame: a SnapshotCopy, or a Snapshot when there
// is no room for a copy.
type PointInTime interface {
	Index() uint64
	Size() int64
	StreamSize() int64
	Summary() Summary
	WriteTo(w io.Writer) (int64, error)
	// FileContents is the bundle content kept in files beside the log
	// that the state refers to (SHA-256 → size): what a backup carries
	// besides the database.
	FileContents() (map[string]int64, error)
	Release()
}

var (
	_ PointInTime = (*Snapshot)(nil)
	_ PointInTime = (*SnapshotCopy)(nil)
)

// copyHeadroom is the free space a copy must leave on the store's file
// system: running it full would make the next commit fail.
const copyHeadroom = 64 << 20

// PointInTime returns a SnapshotCopy when the store's file system has room
// for one, and otherwise a Snapshot streamed straight from a read
// transaction (commits slow down while it is held; see SnapshotCopy).
// copied says which it is, so the caller can tell the operator.
func (s *Store) PointInTime() (p PointInTime, copied bool, err error) {
	free, ok := freeSpace(filepath.Dir(s.path))
	if ok && free < s.Size()+copyHeadroom {
		sn, err := s.Snapshot()
		return sn, false, err
	}
	c, err := s.CopySnapshot()
	if err != nil {
		sn, serr := s.Snapshot()
		if serr != nil {
			return nil, false, fmt.Errorf("%v; and then: %w", err, serr)
		}
		return sn, false, nil
	}
	return c, true, nil
}

// freeSpace is freeBytes; tests replace it.
var freeSpace = freeBytes
