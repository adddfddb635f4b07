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

// AwaitWriteback writes a range of f to disk and waits until it is there
// (sync_file_range with WAIT_BEFORE, WRITE and WAIT_AFTER). It paces a
// large write; it does not make the file durable (no metadata, no disk
// cache flush): an fsync still does.
func AwaitWriteback(f *os.File, off, n int64) error {
	return unix.SyncFileRange(int(f.Fd()), off, n,
		unix.SYNC_FILE_RANGE_WAIT_BEFORE|unix.SYNC_FILE_RANGE_WRITE|unix.SYNC_FILE_RANGE_WAIT_AFTER)
}
