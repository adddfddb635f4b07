package durable

import (
	"os"

	"golang.org/x/sys/unix"
)

// StartWriteback asks the kernel to start writing a range of f to disk
// (SYNC_FILE_RANGE_WRITE: it does not wait for the disk). It only saves
// time: durability still comes from an fsync.
func StartWriteback(f *os.File, off, n int64) {
	_ = unix.SyncFileRange(int(f.Fd()), off, n, unix.SYNC_FILE_RANGE_WRITE)
}
