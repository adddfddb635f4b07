package cluster

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/weir-nifi/weir/internal/model"
)

// ErrIsolated is returned for cluster connections while the node is
// isolated.
var ErrIsolated = errors.New("this node is isolated from its cluster (drill)")

// errIsolated answers requests that need the leader while isolated: the
// write certainly was not applied, so the client may retry elsewhere.
var errIsolated = &model.Error{Kind: model.KindUnavailable, Msg: "This node is isolated from its cluster by a drill. Use another node.", RetryAfter: time.Second, NotApplied: true}

// isolation cuts the node off from its cluster for a drill: while on, no
// cluster connection is dialled or accepted and every open one is closed,
// so Raft and the internal RPCs see the node as gone (as when its zone
// loses power), while its data stays as it is. It ends by itself at a
// deadline, so a drill that dies midway never leaves a node cut off for
// good; a restart ends it too (it is not stored).
type isolation struct {
	// active is the fast answer for the common case (asked on every API
	// request and every leader lookup): no mutex, no clock read.
	active atomic.Bool
	mu     sync.Mutex
	until  time.Time
	timer  *time.Timer
	conns  map[*trackedConn]struct{}
}

func newIsolation() *isolation { return &isolation{conns: map[*trackedConn]struct{}{}} }

// on isolates until d from now (replacing an earlier deadline) and closes
// every cluster connection.
func (s *isolation) on(d time.Duration) time.Time {
	s.mu.Lock()
	s.until = time.Now().Add(d)
	if s.timer != nil {
		s.timer.Stop()
	}
	s.timer = time.AfterFunc(d, s.off)
	s.active.Store(true)
	conns := s.conns
	s.conns = map[*trackedConn]struct{}{}
	until := s.until
	s.mu.Unlock()
	for c := range conns {
		c.Conn.Close()
	}
	return until
}

// off ends the isolation.
func (s *isolation) off() {
	s.mu.Lock()
	s.until = time.Time{}
	s.active.Store(false)
	if s.timer != nil {
		s.timer.Stop()
		s.timer = nil
	}
	s.mu.Unlock()
}

// Until is the end of the isolation, zero when the node is not isolated.
func (s *isolation) Until() time.Time {
	if s == nil || !s.active.Load() {
		return time.Time{}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.until.IsZero() && time.Now().After(s.until) {
		return time.Time{}
	}
	return s.until
}

// track returns conn wrapped so isolating closes it, or closes it and
// fails while isolated.
func (s *isolation) track(conn net.Conn) (net.Conn, error) {
	if s == nil {
		return conn, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.until.IsZero() && time.Now().Before(s.until) {
		conn.Close()
		return nil, ErrIsolated
	}
	t := &trackedConn{Conn: conn, s: s}
	s.conns[t] = struct{}{}
	return t, nil
}

type trackedConn struct {
	net.Conn
	s    *isolation
	once sync.Once
}

func (c *trackedConn) Close() error {
	c.once.Do(func() {
		c.s.mu.Lock()
		delete(c.s.conns, c)
		c.s.mu.Unlock()
	})
	return c.Conn.Close()
}
