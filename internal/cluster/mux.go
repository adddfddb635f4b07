package cluster

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Stream types carried on the cluster port. The first byte a dialer sends
// (inside the authenticated handshake) picks the consumer.
const (
	streamRaft byte = 1 // hashicorp/raft's NetworkTransport
	streamRPC  byte = 2 // internal HTTP: forwarding, read index, status
)

const (
	nonceLen     = 32
	handshakeTTL = 5 * time.Second
	proofLabel   = "weir-cluster-v1"
)

// ErrWrongKey is returned to a dialer whose peer does not hold its key.
var ErrWrongKey = errors.New("cluster peer refused the handshake (different cluster key?)")

// Auth authenticates cluster connections. Every connection proves, in both
// directions, possession of the shared cluster key (HMAC-SHA256 over fresh
// nonces, so nothing replayable crosses the wire). With TLS configured the
// connection is also mutual TLS.
type Auth struct {
	Key []byte
	// ServerTLS and ClientTLS enable mTLS on the cluster port when set.
	ServerTLS *tls.Config
	ClientTLS *tls.Config
	// LocalIP, when set, is the source address of outgoing cluster
	// connections (the IP the cluster port is bound to), so peers and
	// network policy see a stable origin per node.
	LocalIP net.IP

	// iso, set by the node, cuts every cluster connection while the
	// node is isolated (drills).
	iso *isolation
}

func (a *Auth) proof(side byte, typ byte, first, second []byte) []byte {
	m := hmac.New(sha256.New, a.Key)
	m.Write([]byte(proofLabel))
	m.Write([]byte{side, typ})
	m.Write(first)
	m.Write(second)
	return m.Sum(nil)
}

// dial opens an authenticated stream of the given type to addr.
func (a *Auth) dial(addr string, typ byte, timeout time.Duration) (net.Conn, error) {
	if !a.iso.Until().IsZero() {
		return nil, ErrIsolated
	}
	d := net.Dialer{Timeout: timeout}
	if a.LocalIP != nil {
		d.LocalAddr = &net.TCPAddr{IP: a.LocalIP}
	}
	conn, err := d.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	if a.ClientTLS != nil {
		tc := tls.Client(conn, a.ClientTLS)
		_ = tc.SetDeadline(time.Now().Add(handshakeTTL))
		if err := tc.Handshake(); err != nil {
			conn.Close()
			return nil, fmt.Errorf("cluster TLS handshake with %s: %w", addr, err)
		}
		conn = tc
	}
	if err := a.clientHandshake(conn, typ); err != nil {
		conn.Close()
		return nil, err
	}
	return a.iso.track(conn)
}

// clientHandshake: read server nonce Ns; send typ, Nc, proof(c, Ns, Nc);
// read proof(s, Nc, Ns) and check it.
func (a *Auth) clientHandshake(conn net.Conn, typ byte) error {
	_ = conn.SetDeadline(time.Now().Add(handshakeTTL))
	defer conn.SetDeadline(time.Time{})
	ns := make([]byte, nonceLen)
	if _, err := io.ReadFull(conn, ns); err != nil {
		return fmt.Errorf("cluster handshake: %w", err)
	}
	nc := make([]byte, nonceLen)
	if _, err := rand.Read(nc); err != nil {
		return err
	}
	msg := make([]byte, 0, 1+nonceLen+sha256.Size)
	msg = append(msg, typ)
	msg = append(msg, nc...)
	msg = append(msg, a.proof('c', typ, ns, nc)...)
	if _, err := conn.Write(msg); err != nil {
		return fmt.Errorf("cluster handshake: %w", err)
	}
	got := make([]byte, sha256.Size)
	if _, err := io.ReadFull(conn, got); err != nil {
		return ErrWrongKey
	}
	if !hmac.Equal(got, a.proof('s', typ, nc, ns)) {
		return ErrWrongKey
	}
	return nil
}

// serverHandshake authenticates an accepted connection and returns its
// stream type.
func (a *Auth) serverHandshake(conn net.Conn) (byte, error) {
	_ = conn.SetDeadline(time.Now().Add(handshakeTTL))
	defer conn.SetDeadline(time.Time{})
	ns := make([]byte, nonceLen)
	if _, err := rand.Read(ns); err != nil {
		return 0, err
	}
	if _, err := conn.Write(ns); err != nil {
		return 0, err
	}
	msg := make([]byte, 1+nonceLen+sha256.Size)
	if _, err := io.ReadFull(conn, msg); err != nil {
		return 0, err
	}
	typ, nc, proof := msg[0], msg[1:1+nonceLen], msg[1+nonceLen:]
	if !hmac.Equal(proof, a.proof('c', typ, ns, nc)) {
		return 0, errors.New("wrong cluster key")
	}
	if _, err := conn.Write(a.proof('s', typ, nc, ns)); err != nil {
		return 0, err
	}
	return typ, nil
}

// Mux accepts connections on the cluster port, authenticates them and hands
// each to the listener of its stream type.
type Mux struct {
	ln   net.Listener
	auth *Auth
	log  *slog.Logger

	mu     sync.Mutex
	subs   map[byte]*subListener
	closed bool

	// refused rate-limits the log lines about connections that fail the
	// handshake (anyone who reaches the port can cause them), and
	// handshakes bounds how many unauthenticated connections are being
	// handled at once.
	refused    refusalLog
	handshakes atomic.Int64
}

// maxHandshakes bounds connections in their handshake; more are closed at
// once (and counted as refused).
const maxHandshakes = 256

// authenticate runs the TLS (when configured) and key handshakes.
func (m *Mux) authenticate(conn net.Conn) (byte, net.Conn, error) {
	if m.auth.ServerTLS != nil {
		tc := tls.Server(conn, m.auth.ServerTLS)
		_ = tc.SetDeadline(time.Now().Add(handshakeTTL))
		if err := tc.Handshake(); err != nil {
			return 0, conn, fmt.Errorf("TLS handshake failed: %w", err)
		}
		_ = tc.SetDeadline(time.Time{})
		conn = tc
	}
	typ, err := m.auth.serverHandshake(conn)
	return typ, conn, err
}

// refusalLog logs refused cluster connections at most once a minute per
// remote IP, with how many were refused since the last line.
type refusalLog struct {
	mu  sync.Mutex
	ips map[string]*refusals
}

type refusals struct {
	logged     time.Time
	suppressed int
}

const (
	refusalEvery  = time.Minute
	refusalMaxIPs = 4096
)

func (r *refusalLog) note(log *slog.Logger, remote net.Addr, err error) {
	ip := remote.String()
	if h, _, e := net.SplitHostPort(ip); e == nil {
		ip = h
	}
	now := time.Now()
	r.mu.Lock()
	if r.ips == nil {
		r.ips = map[string]*refusals{}
	}
	st := r.ips[ip]
	if st == nil {
		if len(r.ips) >= refusalMaxIPs {
			// Forget addresses quiet for a minute; if all are busy, count
			// this one under a shared entry.
			for k, v := range r.ips {
				if now.Sub(v.logged) > refusalEvery {
					delete(r.ips, k)
				}
			}
			if len(r.ips) >= refusalMaxIPs {
				ip = "(other addresses)"
				st = r.ips[ip]
			}
		}
		if st == nil {
			st = &refusals{}
			r.ips[ip] = st
		}
	}
	if now.Sub(st.logged) < refusalEvery {
		st.suppressed++
		r.mu.Unlock()
		return
	}
	n := st.suppressed
	st.logged, st.suppressed = now, 0
	r.mu.Unlock()
	log.Warn("refused cluster connection (no valid cluster key; further refusals from this address are counted, one line a minute)",
		"remote", remote, "err", err, "refusedSinceLastLine", n)
}

// NewMux listens on addr.
func NewMux(addr string, auth *Auth, log *slog.Logger) (*Mux, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	return &Mux{ln: ln, auth: auth, log: log, subs: map[byte]*subListener{}}, nil
}

// Addr is the listening address.
func (m *Mux) Addr() net.Addr { return m.ln.Addr() }

// Listen returns the listener for one stream type.
func (m *Mux) Listen(typ byte) net.Listener {
	m.mu.Lock()
	defer m.mu.Unlock()
	l := &subListener{addr: m.ln.Addr(), ch: make(chan net.Conn, 16), done: make(chan struct{})}
	m.subs[typ] = l
	return l
}

// Serve accepts until Close.
func (m *Mux) Serve() {
	for {
		conn, err := m.ln.Accept()
		if err != nil {
			m.mu.Lock()
			closed := m.closed
			m.mu.Unlock()
			if closed {
				return
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				time.Sleep(10 * time.Millisecond)
				continue
			}
			m.log.Error("cluster accept failed", "err", err)
			time.Sleep(100 * time.Millisecond)
			continue
		}
		go m.handle(conn)
	}
}

func (m *Mux) handle(conn net.Conn) {
	if m.handshakes.Add(1) > maxHandshakes {
		m.handshakes.Add(-1)
		m.refused.note(m.log, conn.RemoteAddr(), errors.New("too many connections in their handshake"))
		conn.Close()
		return
	}
	typ, conn, err := m.authenticate(conn)
	m.handshakes.Add(-1)
	if err != nil {
		m.refused.note(m.log, conn.RemoteAddr(), err)
		conn.Close()
		return
	}
	if conn, err = m.auth.iso.track(conn); err != nil {
		return
	}
	m.mu.Lock()
	l := m.subs[typ]
	m.mu.Unlock()
	if l == nil {
		m.log.Warn("refused cluster connection: unknown stream type", "remote", conn.RemoteAddr(), "type", typ)
		conn.Close()
		return
	}
	select {
	case l.ch <- conn:
	case <-l.done:
		conn.Close()
	}
}

// Close stops accepting and closes every sub-listener.
func (m *Mux) Close() error {
	m.mu.Lock()
	m.closed = true
	for _, l := range m.subs {
		l.Close()
	}
	m.mu.Unlock()
	return m.ln.Close()
}

type subListener struct {
	addr net.Addr
	ch   chan net.Conn
	once sync.Once
	done chan struct{}
}

func (l *subListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *subListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *subListener) Addr() net.Addr { return l.addr }
