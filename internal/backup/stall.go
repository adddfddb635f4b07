package backup

import (
	"io"
	"net/http"
	"time"
)

// A backup download holds a private copy of the store (the size of
// state.db, on the data directory's disk) until its stream ends. A client
// that stops reading must not pin it: the stream is cut off when it makes
// no progress for Config.StallTimeout, and in any case once it has taken
// longer than streamBudget plus a second per streamRate bytes.
const (
	DefaultStallTimeout = 60 * time.Second
	streamBudget        = 10 * time.Minute
	streamRate          = 1 << 20
)

// deadlineWriter moves the connection's write deadline with every piece
// the client takes, up to the stream's end of life.
type deadlineWriter struct {
	w     http.ResponseWriter
	ctl   *http.ResponseController
	stall time.Duration
	end   time.Time
}

// deadlineReaderFrom passes the connection's ReadFrom on (sendfile).
type deadlineReaderFrom struct{ *deadlineWriter }

func newDeadlineWriter(w http.ResponseWriter, size int64, now time.Time, stall time.Duration) io.Writer {
	d := &deadlineWriter{w: w, ctl: http.NewResponseController(w), stall: stall,
		end: now.Add(streamBudget + time.Duration(size/streamRate)*time.Second)}
	if _, ok := w.(io.ReaderFrom); ok {
		return deadlineReaderFrom{d}
	}
	return d
}

func (d *deadlineWriter) extend() {
	dl := time.Now().Add(d.stall)
	if dl.After(d.end) {
		dl = d.end
	}
	_ = d.ctl.SetWriteDeadline(dl)
}

func (d *deadlineWriter) Write(p []byte) (int, error) {
	d.extend()
	return d.w.Write(p)
}

func (d deadlineReaderFrom) ReadFrom(r io.Reader) (int64, error) {
	d.extend()
	return d.w.(io.ReaderFrom).ReadFrom(r)
}
