package durable

import (
	"os"
	"time"
)

// Steps of Shrink: how much it frees at a time, and the pause after each.
const (
	shrinkStep  = 8 << 20
	shrinkPause = 5 * time.Millisecond
)

// Shrink frees a file's blocks a few megabytes at a time, with a pause
// after each step, leaving it empty; f stays open.
//
// Why: freeing a large file at once (unlink or close of the last link, or
// one truncate) frees all its blocks in one journal transaction, and on a
// file system mounted with online discard (ext4 "discard", as on this
// project's test machines) the commit of that transaction discards them
// all before the journal commits anything else. Every fsync on the file
// system waits behind it: deleting a 120 MB file stalled a neighbour's
// fdatasync loop for 40 ms; freed in 8 MB steps 5 ms apart, at most 5 ms.
// The Raft log's fsyncs are such neighbours, so commits waited for the
// deletion of a backup or of a snapshot copy (bench/backup). The pause,
// not an fsync, separates the steps: the neighbours' own fsyncs commit the
// journal between them, and an fsync here would first write out whatever
// of the file is still unwritten (a snapshot copy is all unwritten).
func Shrink(f *os.File) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	for n := fi.Size(); n > 0; {
		// Every size cut to is a multiple of the step, so page-aligned:
		// a cut inside a page would zero the rest of that page in place,
		// and a page of the file may still be queued on a socket by
		// sendfile (a snapshot copy is freed as the last of it is sent).
		// Whole pages cut off the file keep their contents for whoever
		// still holds them.
		n = (n - 1) / shrinkStep * shrinkStep
		if err := f.Truncate(n); err != nil {
			return err
		}
		if n > 0 {
			time.Sleep(shrinkPause)
		}
	}
	return nil
}

// Remove shrinks the file at path (Shrink) and then removes it. A file
// that cannot be opened for writing is removed as it is.
func Remove(path string) error {
	if f, err := os.OpenFile(path, os.O_WRONLY, 0); err == nil {
		_ = Shrink(f)
		f.Close()
	}
	return os.Remove(path)
}
