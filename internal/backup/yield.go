package backup

import (
	"io"
	"os"
	"time"

	"github.com/weir-nifi/weir/internal/durable"
	"github.com/weir-nifi/weir/internal/store"
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
	pause(y.writes, y.sleep)
}

// pause waits, at most yieldMax, while writes are in flight.
func pause(writes Writes, sleep func(time.Duration)) {
	if writes == nil {
		return
	}
	for waited := time.Duration(0); waited < yieldMax && writes.WritesInFlight() > 0; waited += yieldStep {
		sleep(yieldStep)
	}
}

// writebackStep is how much of a backup written on the node goes to disk
// at a time (see writeBack); writebackStepIdle while the node has had no
// writes for quietFor.
const (
	writebackStep     = 1 << 20
	writebackStepIdle = 8 << 20
	quietFor          = 100 * time.Millisecond
)

// writeBack writes the image of a backup being copied in place to disk as
// the copy proceeds, a step at a time, pausing between steps while this
// node has writes in flight. Left to the kernel (or started all at once),
// a backup on the store's disk fills the disk's queue and every commit's
// fsync waits behind it: measured, commit p99 rose 9-17x during
// back-to-back backups in place. It keeps two steps in flight, which keeps
// the disk busy, and takes large steps only once the node has been quiet
// for a while (a momentary lull between commits is not enough).
func writeBack(f *os.File, c *store.SnapshotCopy, base int64, writes Writes) error {
	var prev, prevN int64
	var busy time.Time // last time writes were seen in flight
	sawWrites := func() {
		if writes != nil && writes.WritesInFlight() > 0 {
			busy = time.Now()
		}
	}
	for off := int64(0); off < c.Size(); {
		avail, err := c.Available(off)
		if err != nil {
			return err
		}
		sawWrites()
		step := int64(writebackStep)
		if time.Since(busy) > quietFor {
			step = writebackStepIdle
		}
		n := min(avail, step)
		durable.StartWriteback(f, base+off, n)
		if prevN > 0 {
			if err := durable.AwaitWriteback(f, base+prev, prevN); err != nil {
				return err
			}
		}
		prev, prevN = off, n
		off += n
		sawWrites()
		pause(writes, time.Sleep)
	}
	return durable.AwaitWriteback(f, base+prev, prevN)
}
