// Package disk watches the file system that holds a node's data directory,
// so that a full or failing disk makes the node refuse writes and say why,
// instead of stopping it or letting Raft fail over and over.
//
// Two conditions are told apart:
//
//   - Low: less than the reserve is free. Writes that clients send are
//     refused with 507 before anything is proposed, so the space left is
//     kept for what the node must still write itself (Raft's own entries,
//     terms and votes). Nothing has failed; writes resume by themselves
//     once space is free again.
//   - Failed: a write to the data directory failed (no space left, a
//     read-only or failing file system). The parts of the node that write
//     report it with Fail; the node then refuses writes with 503, hands
//     leadership to a healthy voter and does not stand for election, and
//     a probe (create, write and fsync a small file) runs every second
//     until the file system takes writes again, which ends the failure.
//
// Reads never depend on the disk accepting writes.
package disk

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/weir-nifi/weir/internal/model"
)

// DefaultReserve is the free space kept for the node's own writes.
const DefaultReserve = 64 << 20

// writeFactor is how many times a request body's size a write needs on
// disk before the reserve: the Raft log entry plus the store's pages.
const writeFactor = 2

// probeName is the file the recovery probe writes in the data directory.
const probeName = ".weir-disk-probe"

// Options configure a Monitor.
type Options struct {
	// Dir is the data directory.
	Dir string
	// Reserve is the free space below which client writes are refused
	// (DefaultReserve when 0; negative turns the check off).
	Reserve int64
	// Interval is how often a failed file system is probed (1 s when 0).
	Interval time.Duration
	Log      *slog.Logger
	// statfs is replaced by tests.
	statfs func(dir string) (free int64, err error)
}

// Status is what health reports about the disk.
type Status struct {
	// State is "ok", "low" or "failed".
	State        string `json:"state"`
	Reason       string `json:"reason,omitempty"`
	FreeBytes    int64  `json:"freeBytes"`
	ReserveBytes int64  `json:"reserveBytes"`
	// Since is when the failure began (epoch ms), 0 when ok.
	Since int64 `json:"since,omitempty"`
}

// Monitor tracks the data directory's file system.
type Monitor struct {
	o Options

	mu      sync.Mutex
	failErr string
	since   time.Time
	subs    []func(failed bool)
	wake    chan struct{}

	failed   atomic.Bool
	inflight atomic.Int64 // bytes admitted for writes still being handled
}

// New builds a monitor; Run probes it while it is failed.
func New(o Options) *Monitor {
	if o.Reserve == 0 {
		o.Reserve = DefaultReserve
	}
	if o.Interval <= 0 {
		o.Interval = time.Second
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.statfs == nil {
		o.statfs = freeBytes
	}
	return &Monitor{o: o, wake: make(chan struct{}, 1)}
}

// Dir is the watched data directory.
func (m *Monitor) Dir() string { return m.o.Dir }

// OnChange registers fn to be told when the disk fails (true) and when it
// recovers (false). fn runs on its own goroutine's time: it must not block.
func (m *Monitor) OnChange(fn func(failed bool)) {
	m.mu.Lock()
	m.subs = append(m.subs, fn)
	m.mu.Unlock()
}

// Failed reports whether a write to the data directory failed and the
// probe has not yet seen it take writes again.
func (m *Monitor) Failed() bool { return m.failed.Load() }

// Fail records that op could not write to the data directory. Errors that
// are not about the disk (a closed file, a bug) are recorded too: the
// probe ends the failure as soon as the disk takes writes, so the worst a
// wrong report costs is a second without writes on this node.
func (m *Monitor) Fail(op string, err error) {
	if err == nil {
		return
	}
	reason := op + ": " + Describe(err)
	m.mu.Lock()
	first := !m.failed.Load()
	m.failErr = reason
	if first {
		m.since = time.Now()
		m.failed.Store(true)
	}
	subs := append([]func(bool){}, m.subs...)
	m.mu.Unlock()
	if first {
		m.o.Log.Error("the data directory cannot be written: this node refuses writes, leaves leadership and stays out of elections until it can",
			"dir", m.o.Dir, "reason", reason)
		for _, fn := range subs {
			fn(true)
		}
	}
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

// recovered ends a failure.
func (m *Monitor) recovered() {
	m.mu.Lock()
	if !m.failed.Load() {
		m.mu.Unlock()
		return
	}
	was, since := m.failErr, m.since
	m.failed.Store(false)
	m.failErr = ""
	m.since = time.Time{}
	subs := append([]func(bool){}, m.subs...)
	m.mu.Unlock()
	m.o.Log.Info("the data directory takes writes again; this node accepts writes and stands for election again",
		"dir", m.o.Dir, "wasFailing", was, "for", time.Since(since).Round(time.Millisecond))
	for _, fn := range subs {
		fn(false)
	}
}

// Describe says in words what a file-system error means for an operator.
func Describe(err error) string {
	switch {
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		return "no space left on the device (" + err.Error() + ")"
	case errors.Is(err, syscall.EROFS):
		return "the file system is read-only (" + err.Error() + ")"
	case errors.Is(err, syscall.EIO):
		return "I/O error (" + err.Error() + ")"
	}
	return err.Error()
}

// Run probes the file system every Interval while it is failed, until stop
// is closed.
func (m *Monitor) Run(stop <-chan struct{}) {
	t := time.NewTicker(m.o.Interval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		case <-m.wake:
			// A new failure: probe on the next tick, not at once (the
			// operation that failed has just tried).
			continue
		}
		if !m.failed.Load() {
			continue
		}
		if err := m.probe(); err != nil {
			m.mu.Lock()
			m.failErr = "probe: " + Describe(err)
			m.mu.Unlock()
			continue
		}
		m.recovered()
	}
}

// probe writes, fsyncs and removes a small file in the data directory: the
// same kind of step every writer of the node takes.
func (m *Monitor) probe() error {
	p := filepath.Join(m.o.Dir, probeName)
	f, err := os.OpenFile(p, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	buf := make([]byte, 64<<10)
	_, werr := f.Write(buf)
	serr := f.Sync()
	cerr := f.Close()
	rerr := os.Remove(p)
	return errors.Join(werr, serr, cerr, rerr)
}

// Admit decides whether a client write of about n body bytes may go ahead
// on this node. It refuses with 503 while the disk is failed and with 507
// when the write would eat into the reserve. The returned release must be
// called when the write is done (its bytes then count as used, by the
// statfs that follows, not as promised).
func (m *Monitor) Admit(n int64) (release func(), err error) {
	if m.failed.Load() {
		m.mu.Lock()
		reason := m.failErr
		m.mu.Unlock()
		return nil, model.Unavailable("This node cannot write to its data directory ("+reason+"). "+
			"Writes are refused until it can; reads keep working.", 5*time.Second)
	}
	if m.o.Reserve < 0 {
		return func() {}, nil
	}
	need := max(n, 0) * writeFactor
	free, ferr := m.o.statfs(m.o.Dir)
	if ferr != nil {
		// Cannot tell: let the write try; a failure is reported by the
		// writer that meets it.
		return func() {}, nil
	}
	promised := m.inflight.Add(need)
	if free-promised < m.o.Reserve {
		m.inflight.Add(-need)
		return nil, &model.Error{Kind: model.KindInsufficientStorage, RetryAfter: 30 * time.Second,
			Msg: fmt.Sprintf("Insufficient storage: the data directory of this node has %s free, and this write needs %s on top of the %s kept in reserve. "+
				"Writes are refused until space is freed (reads keep working).", size(free), size(need), size(m.o.Reserve))}
	}
	var once sync.Once
	return func() { once.Do(func() { m.inflight.Add(-need) }) }, nil
}

// Status reports the disk's state for health.
func (m *Monitor) Status() Status {
	s := Status{State: "ok", ReserveBytes: max(m.o.Reserve, 0)}
	free, err := m.o.statfs(m.o.Dir)
	if err == nil {
		s.FreeBytes = free
	}
	m.mu.Lock()
	failed, reason, since := m.failed.Load(), m.failErr, m.since
	m.mu.Unlock()
	switch {
	case failed:
		s.State, s.Reason, s.Since = "failed", reason, since.UnixMilli()
	case err != nil:
		s.State, s.Reason = "failed", "cannot read the free space: "+err.Error()
	case m.o.Reserve > 0 && free < m.o.Reserve:
		s.State = "low"
		s.Reason = fmt.Sprintf("%s free, below the reserve of %s: writes are refused until space is freed", size(free), size(m.o.Reserve))
	}
	return s
}

func size(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}
