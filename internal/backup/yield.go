package backup

import (
	"io"
	"time"
)

// Backups are background work and yield to writes. A backup streams a
// whole store as fast as the machine copies memory, and on a small machine
// that takes the cores and the disk the commit path needs: measured on
// 2 cores, back-to-back backups tripled commit latency. So the stream
// checks, every yieldEvery bytes, whether this node has writes in flight,
// and if so pauses (in yieldStep steps, at most yieldMax per check) until
// they finish. With no writes it runs at full speed; under a constant
// stream of writes it is slowed to about yieldEvery per yieldMax.
const (
	yieldEvery = 256 << 10
	yieldStep  = 200 * time.Microsecond
	yieldMax   = 4 * time.Millisecond
)

// Writes reports whether writes are in flight on this node (the cluster
// node counts its proposals).
type Writes interface {
	WritesInFlight() int64
}

// yieldWriter is the stream's writer that yields to writes.
type yieldWriter struct {
	w       io.Writer
	writes  Writes
	pending int64
	sleep   func(time.Duration)
}

// yieldReaderFrom is a yieldWriter over a writer that takes bytes straight
// from a file (io.ReaderFrom), which it passes on so the kernel can move
// them (see store.SnapshotCopy.WriteTo).
type yieldReaderFrom struct{ *yieldWriter }

func newYieldWriter(w io.Writer, writes Writes) io.Writer {
	if writes == nil {
		return w
	}
	y := &yieldWriter{w: w, writes: writes, sleep: time.Sleep}
	if _, ok := w.(io.ReaderFrom); ok {
		return yieldReaderFrom{y}
	}
	return y
}

func (y *yieldWriter) Write(p []byte) (int, error) {
	y.pending += int64(len(p))
	y.yield()
	return y.w.Write(p)
}

func (y yieldReaderFrom) ReadFrom(r io.Reader) (int64, error) {
	y.yield()
	n, err := y.w.(io.ReaderFrom).ReadFrom(r)
	y.pending += n
	return n, err
}

// yield pauses once yieldEvery bytes have passed since the last check.
func (y *yieldWriter) yield() {
	if y.pending < yieldEvery {
		return
	}
	y.pending = 0
	for waited := time.Duration(0); waited < yieldMax && y.writes.WritesInFlight() > 0; waited += yieldStep {
		y.sleep(yieldStep)
	}
}
