// Package memqueue is an in-memory implementation of the site-to-site
// server's Ports, Peers and Queues, for tests and local experiments.
//
// Nothing in it is durable and nothing is replicated: a commit is an
// append to a slice. It exists so that package server can be tested (and
// tried with real NiFi clients) without the replicated queue store of
// milestone 2; never wire it into a production daemon.
//
// Each port has its own queue: a push to an input port appends to that
// port's queue (read it with Committed), a pull from an output port takes
// from that port's queue (fill it with Put). With DigestOnly, content is
// hashed as it streams in and only its SHA-256 is kept, so tests can push
// flowfiles larger than they want to hold.
package memqueue

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"slices"
	"sync"

	"github.com/weir-nifi/weir/internal/s2s/server"
)

// Record is a flowfile in a queue.
type Record struct {
	Seq        uint64
	Attributes map[string]string
	Size       int64
	Content    []byte   // nil with DigestOnly
	SHA256     [32]byte // of the content
}

// Store implements server.Ports, server.Peers and server.Queues.
type Store struct {
	// DigestOnly keeps only the size and SHA-256 of pushed content.
	DigestOnly bool
	// SoftLimit > 0: a commit leaving more flowfiles than this in the
	// port's queue answers backoff ({14}).
	SoftLimit int
	// HardLimit > 0: a port with this many flowfiles is Full (503 {202}).
	HardLimit int
	// OnStage, when set, is called as Stage starts reading a body: tests
	// use it to act while a push streams.
	OnStage func(port, tx string)

	mu      sync.Mutex
	ports   []server.Port
	peers   []server.Peer
	peerErr error
	queues  map[string][]*Record // available flowfiles, by seq
	seq     uint64
	staged  map[*staged]bool
	leases  map[*lease]bool
	failing map[string]error // operation → error to return
}

// New returns an empty store.
func New() *Store {
	return &Store{
		queues:  map[string][]*Record{},
		staged:  map[*staged]bool{},
		leases:  map[*lease]bool{},
		failing: map[string]error{},
	}
}

// AddPort adds a port, or replaces the port with its id.
func (s *Store) AddPort(p server.Port) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.ports {
		if s.ports[i].ID == p.ID {
			s.ports[i] = p
			return
		}
	}
	s.ports = append(s.ports, p)
}

// SetPortState changes a port's state.
func (s *Store) SetPortState(id string, st server.PortState) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.ports {
		if s.ports[i].ID == id {
			s.ports[i].State = st
		}
	}
}

// SetPeers sets what Peers returns (err, if not nil, instead).
func (s *Store) SetPeers(peers []server.Peer, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.peers, s.peerErr = slices.Clone(peers), err
}

// Fail makes the operation ("stage", "commit", "lease", "ack") return err
// until called again with nil.
func (s *Store) Fail(op string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err == nil {
		delete(s.failing, op)
	} else {
		s.failing[op] = err
	}
}

// Put appends a flowfile to a port's queue, as if committed.
func (s *Store) Put(port string, attrs map[string]string, content []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	s.queues[port] = append(s.queues[port], &Record{Seq: s.seq, Attributes: attrs, Size: int64(len(content)), Content: content, SHA256: sha256.Sum256(content)})
}

// Committed returns the flowfiles available in a port's queue, in order.
func (s *Store) Committed(port string) []Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Record, len(s.queues[port]))
	for i, r := range s.queues[port] {
		out[i] = *r
	}
	return out
}

// Outstanding returns the staged pushes and live leases not yet ended:
// after every transaction ended, both are 0.
func (s *Store) Outstanding() (staged, leases int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.staged), len(s.leases)
}

// Ports implements server.Ports.
func (s *Store) Ports() []server.Port {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.ports)
}

// Peers implements server.Peers.
func (s *Store) Peers(context.Context) ([]server.Peer, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.peers), s.peerErr
}

// Full implements server.Queues.
func (s *Store) Full(port string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.HardLimit > 0 && len(s.queues[port]) >= s.HardLimit
}

type staged struct {
	port    string
	records []*Record
}

// Stage implements server.Queues: it reads every packet, streaming the
// content into memory (or into a hash).
func (s *Store) Stage(ctx context.Context, port, tx string, packets server.PacketReader) (server.Staged, error) {
	if err := s.failure("stage"); err != nil {
		return nil, err
	}
	if s.OnStage != nil {
		s.OnStage(port, tx)
	}
	st := &staged{port: port}
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		p, err := packets.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		h := sha256.New()
		rec := &Record{Attributes: p.Attributes, Size: p.Size}
		var dst io.Writer = h
		var buf []byte
		if !s.DigestOnly {
			buf = make([]byte, 0, min(p.Size, 1<<20))
			dst = io.MultiWriter(h, (*sliceWriter)(&buf))
		}
		n, err := io.Copy(dst, p.Content)
		if err != nil {
			return nil, err
		}
		if n != p.Size {
			return nil, errors.New("memqueue: content shorter than its size")
		}
		if !s.DigestOnly {
			rec.Content = buf
		}
		copy(rec.SHA256[:], h.Sum(nil))
		st.records = append(st.records, rec)
	}
	s.mu.Lock()
	s.staged[st] = true
	s.mu.Unlock()
	return st, nil
}

type sliceWriter []byte

func (w *sliceWriter) Write(p []byte) (int, error) {
	*w = append(*w, p...)
	return len(p), nil
}

// Commit implements server.Queues.
func (s *Store) Commit(_ context.Context, h server.Staged) (bool, error) {
	st := h.(*staged)
	if err := s.failure("commit"); err != nil {
		return false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.staged[st] {
		return false, errors.New("memqueue: commit of a transaction that is not staged")
	}
	delete(s.staged, st)
	for _, r := range st.records {
		s.seq++
		r.Seq = s.seq
		s.queues[st.port] = append(s.queues[st.port], r)
	}
	return s.SoftLimit > 0 && len(s.queues[st.port]) > s.SoftLimit, nil
}

// Discard implements server.Queues.
func (s *Store) Discard(h server.Staged) {
	if h == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.staged, h.(*staged))
}

type lease struct {
	s     *Store
	port  string
	items []*Record
}

// Next implements server.Lease: it takes the head of the port's queue.
func (l *lease) Next(ctx context.Context) (*server.FlowFile, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s := l.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.leases[l] {
		return nil, errors.New("memqueue: lease already ended")
	}
	q := s.queues[l.port]
	if len(q) == 0 {
		return nil, io.EOF
	}
	r := q[0]
	s.queues[l.port] = q[1:]
	l.items = append(l.items, r)
	return &server.FlowFile{Attributes: r.Attributes, Size: r.Size, Content: contentOf(r)}, nil
}

func contentOf(r *Record) io.Reader {
	if r.Content == nil && r.Size > 0 {
		return io.LimitReader(zeros{}, r.Size) // a DigestOnly record: its bytes are gone
	}
	return bytes.NewReader(r.Content)
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// Lease implements server.Queues.
func (s *Store) Lease(_ context.Context, port, tx string, _ server.BatchLimits) (server.Lease, error) {
	if err := s.failure("lease"); err != nil {
		return nil, err
	}
	l := &lease{s: s, port: port}
	s.mu.Lock()
	s.leases[l] = true
	s.mu.Unlock()
	return l, nil
}

// Ack implements server.Queues.
func (s *Store) Ack(_ context.Context, h server.Lease) error {
	if err := s.failure("ack"); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	l := h.(*lease)
	if !s.leases[l] {
		return errors.New("memqueue: ack of a lease that ended")
	}
	delete(s.leases, l)
	return nil
}

// Release implements server.Queues: the lease's flowfiles go back in
// sequence order, ahead of anything newer.
func (s *Store) Release(h server.Lease) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := h.(*lease)
	if !s.leases[l] {
		return
	}
	delete(s.leases, l)
	q := append(l.items, s.queues[l.port]...)
	slices.SortStableFunc(q, func(a, b *Record) int {
		switch {
		case a.Seq < b.Seq:
			return -1
		case a.Seq > b.Seq:
			return 1
		}
		return 0
	})
	s.queues[l.port] = q
}

func (s *Store) failure(op string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.failing[op]
}

var (
	_ server.Ports  = (*Store)(nil)
	_ server.Peers  = (*Store)(nil)
	_ server.Queues = (*Store)(nil)
)
