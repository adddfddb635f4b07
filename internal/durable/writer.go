package durable

import (
	"io"
	"os"
)

// WritebackEvery is how much a Writer lets accumulate before it asks the
// kernel to start writing it to disk.
const WritebackEvery = 8 << 20

// A Writer appends to a large file (a backup, a Raft snapshot) and, every
// WritebackEvery bytes, asks the kernel to start writing what came since
// to disk without waiting for it (sync_file_range on Linux). The disk then
// sees a steady stream instead of one burst at the final fsync, which
// would stall the Raft log's small fsyncs on the same disk, and the writer
// never waits for the disk until Sync, which finds little left to do.
// Nothing is durable before Sync returns.
type Writer struct {
	F       *os.File
	n       int64 // bytes written through this Writer
	started int64 // bytes handed to writeback
}

// Write appends p.
func (w *Writer) Write(p []byte) (int, error) {
	n, err := w.F.Write(p)
	w.wrote(int64(n))
	return n, err
}

// ReadFrom appends what r holds; the kernel copies it when r is a file
// (copy_file_range) or a socket (splice).
func (w *Writer) ReadFrom(r io.Reader) (int64, error) {
	n, err := w.F.ReadFrom(r)
	w.wrote(n)
	return n, err
}

func (w *Writer) wrote(n int64) {
	w.n += n
	if w.n-w.started >= WritebackEvery {
		StartWriteback(w.F, w.started, w.n-w.started)
		w.started = w.n
	}
}

// Sync makes everything written so far durable (fsync).
func (w *Writer) Sync() error { return w.F.Sync() }
