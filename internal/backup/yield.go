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
	pending int
	sleep   func(time.Duration)
}

func newYieldWriter(w io.Writer, writes Writes) io.Writer {
	if writes == nil {
		return w
	}
	return &yieldWriter{w: w, writes: writes, sleep: time.Sleep}
}

func (y *yieldWriter) Write(p []byte) (int, error) {
	y.pending += len(p)
	if y.pending >= yieldEvery {
		y.pending = 0
		for waited := time.Duration(0); waited < yieldMax && y.writes.WritesInFlight() > 0; waited += yieldStep {
			y.sleep(yieldStep)
		}
	}
	return y.w.Write(p)
}
