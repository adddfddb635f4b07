// Package relay gives the site-to-site server (package server) its ports,
// peers and queues over the cluster: content is cut into chunks as it
// streams in, each proposed through the Raft log or (64 KiB and more,
// level 13) written as a content file that a majority holds before its
// reference is proposed, so a push is answered only once a quorum has
// every byte on disk; chunk files go as soon as Apply lets their chunks
// go (KeepChunkFiles); commits and acks are
// commands too, proposed from whichever node holds the transaction; the
// leases of shared output ports are the leader's memory (memlease.go;
// ordered ports keep replicated leases); pulls read the node's own
// replica of the queue tables (package queue). See docs/s2s-design.md.
package relay

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/weir-nifi/weir/internal/blobs"
	"github.com/weir-nifi/weir/internal/command"
	"github.com/weir-nifi/weir/internal/model"
	"github.com/weir-nifi/weir/internal/s2s/codec"
	"github.com/weir-nifi/weir/internal/s2s/queue"
	"github.com/weir-nifi/weir/internal/s2s/server"
	"github.com/weir-nifi/weir/internal/store"
)

// Cluster is what the relay needs from the Raft node.
type Cluster interface {
	// ProposeAnywhere replicates a command from any node (the leader
	// proposes it, a follower sends it to the leader) and decodes its
	// result into out.
	ProposeAnywhere(ctx context.Context, c command.Command, out any) error
	// ReadBarrier waits until this node has applied everything committed
	// when it was called.
	ReadBarrier(ctx context.Context) error
	// LiveMembers names the members that answer (this node included).
	LiveMembers() map[string]bool
	// IsLeader reports whether this node leads: only the leader proposes
	// the expiry of flowfiles past their port's retention.
	IsLeader() bool
	// CommandLevel is the command level every voter understands: pulls
	// share a queue (SharedLease) from level 7, and leases of shared
	// ports are the leader's memory from level 11 (AckFlows).
	CommandLevel() int
	// CallLeader runs a function of LeaderFuncs on the leader (in this
	// process when this node leads) and decodes its answer into out.
	CallLeader(ctx context.Context, name string, req, out any) error
	// LeaderChanges counts this node's leadership transitions: memory
	// leases are valid only in the term they were made in.
	LeaderChanges() uint64
}

// Options configure a Relay; zero fields take defaults.
type Options struct {
	// ChunkBytes is the size of the content chunks proposed while a push
	// streams in (default 1 MiB + 64 KiB, so that a transaction of 1 MiB
	// of content and its framing is one chunk, not a chunk and a tail of
	// a few hundred bytes that costs a round of the log of its own): the
	// memory a push holds, and how long a registry write may wait behind
	// one in the log.
	ChunkBytes int
	// Contents, when set, keeps chunks of FileChunkMin bytes or more in
	// files beside the log (*blobs.Replicator, level 13): a majority of
	// the voters has a chunk's file before a StageChunkRef of a few dozen
	// bytes goes through the log in its place (docs/s2s-design.md,
	// "Push content beside the log").
	Contents Contents
	// FileChunkMin is the smallest chunk kept in a file (default 64 KiB):
	// below it, the round trip that sends the file costs more than the
	// bytes cost in the log.
	FileChunkMin int
	// LeaseTTL is how long a pull's flowfiles stay leased to it if its node
	// dies before acking or releasing them (default 2 minutes).
	LeaseTTL time.Duration
	// PullCount and PullBytes bound one pull when the client sets no batch
	// limits (defaults 1000 flowfiles, 16 MiB: at least one flowfile is
	// handed out whatever its size).
	PullCount int
	PullBytes int64
	// MaxStaging bounds the pushes staging at once on this node (default
	// 64): with ChunkBytes, the memory pushes hold. Others wait their turn.
	MaxStaging int
	// Admit, when set, is asked before each chunk is proposed whether the
	// node's disk takes that many more bytes (disk.Monitor.Admit): a full
	// or failed disk refuses pushes as "destination full", so clients try
	// another node, instead of filling the disk.
	Admit func(n int64) (release func(), err error)
	// ExpireEvery is how often the leader looks for flowfiles past their
	// port's retention age (default 1 s; pulls never get expired ones,
	// since each lease expires the head of its queue first).
	ExpireEvery time.Duration
	// Self is this node's public API URL, listed as a peer when the member
	// table does not have it yet.
	Self string
	Log  *slog.Logger
	// Now is the clock stamped into commands (tests).
	Now func() time.Time
}

// Contents is where chunks kept in files live (*blobs.Replicator).
type Contents interface {
	// Store is this node's file store.
	Store() *blobs.Store
	// ReplicateBytes returns once a majority of the voters hold the file
	// of the concatenation of parts, this node counting as one of them
	// (the relay writes its copy meanwhile).
	ReplicateBytes(ctx context.Context, sha string, parts ...[]byte) error
	// Open opens a file, fetching it first when this node lacks it.
	Open(ctx context.Context, sha string, size int64) (*os.File, error)
}

// Relay implements server.Ports, server.Peers and server.Queues.
type Relay struct {
	obs     atomic.Pointer[func(step string, d time.Duration)]
	held    atomic.Int64 // bytes of staged.last.Data (maxHeld)
	c       Cluster
	st      *store.Store
	opt     Options
	staging chan struct{}
	stats   counters
	ended   endedLeases
	mem     memLeases
}

// endedLeases remembers the leases this node ended (acked or released)
// lately. A follower applies the end only when the leader's next message
// says it is committed; until then its replica still shows the lease as
// live, and the puller's next transaction, which comes at once, would wait
// tens of milliseconds in a read barrier to learn what this node already
// knows.
type endedLeases struct {
	mu sync.Mutex
	at map[string]time.Time
}

func (e *endedLeases) add(tx string, now time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.at == nil {
		e.at = map[string]time.Time{}
	}
	if len(e.at) >= 1024 {
		for k, t := range e.at {
			if now.Sub(t) > time.Minute {
				delete(e.at, k)
			}
		}
	}
	if len(e.at) < 4096 {
		e.at[tx] = now
	}
}

func (e *endedLeases) has(tx string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	_, ok := e.at[tx]
	return ok
}

var (
	_ server.Ports  = (*Relay)(nil)
	_ server.Peers  = (*Relay)(nil)
	_ server.Queues = (*Relay)(nil)
)

// New returns a relay over a cluster node and its store.
func New(c Cluster, st *store.Store, opt Options) *Relay {
	if opt.FileChunkMin <= 0 {
		opt.FileChunkMin = 64 << 10
	}
	if opt.ChunkBytes <= 0 {
		opt.ChunkBytes = 1<<20 + 64<<10
	}
	if opt.LeaseTTL <= 0 {
		opt.LeaseTTL = 2 * time.Minute
	}
	if opt.PullCount <= 0 {
		opt.PullCount = 1000
	}
	if opt.PullBytes <= 0 {
		opt.PullBytes = 16 << 20
	}
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.MaxStaging <= 0 {
		opt.MaxStaging = 64
	}
	if opt.ExpireEvery <= 0 {
		opt.ExpireEvery = time.Second
	}
	return &Relay{c: c, st: st, opt: opt, staging: make(chan struct{}, opt.MaxStaging)}
}

func (r *Relay) now() int64 { return r.opt.Now().UnixMilli() }

// serverError maps the queue's refusals to the server's errors, so
// clients get NiFi's codes for them.
func serverError(err error) error {
	var me *model.Error
	if !errors.As(err, &me) {
		return err
	}
	switch me.Reason {
	case queue.ReasonUnknownPort:
		return fmt.Errorf("%w: %s", server.ErrUnknownPort, me.Msg)
	case queue.ReasonNotRunning:
		return fmt.Errorf("%w: %s", server.ErrPortNotRunning, me.Msg)
	case queue.ReasonFull:
		return fmt.Errorf("%w: %s", server.ErrDestinationFull, me.Msg)
	}
	if me.Kind == model.KindUnavailable {
		return fmt.Errorf("%w: %s", server.ErrUnavailable, me.Msg)
	}
	return err
}

// ---- ports and peers

// Ports lists the configured ports.
func (r *Relay) Ports() []server.Port {
	ps, err := r.ports()
	if err != nil {
		r.opt.Log.Warn("cannot read site-to-site ports", "err", err)
		return nil
	}
	out := make([]server.Port, 0, len(ps))
	for _, p := range ps {
		sp := server.Port{ID: p.ID, Name: p.Name, Comments: p.Comments, Type: server.InputPort, State: server.Running}
		if p.Kind == command.PortOutput {
			sp.Type = server.OutputPort
		}
		if !p.Enabled {
			sp.State = server.Disabled
		}
		out = append(out, sp)
	}
	return out
}

func (r *Relay) ports() ([]queue.Port, error) {
	var ps []queue.Port
	err := r.st.Read(func(tx *store.Tx) (err error) {
		ps, err = queue.Ports(tx.Bolt())
		return err
	})
	return ps, err
}

// PortStatus is one port with its queue, as `weir port list` shows it.
type PortStatus struct {
	queue.Port
	Queued      int64 `json:"queued"`
	QueuedBytes int64 `json:"queuedBytes"`
	Leased      int64 `json:"leased"`
	// Staging counts an input port's pushes not yet committed or dropped.
	Staging int `json:"staging"`
	// Expired counts the flowfiles retention removed from the queue.
	Expired int64 `json:"expired"`
}

// Status lists the ports with the state of the queue each reads or feeds.
func (r *Relay) Status() ([]PortStatus, error) {
	var out []PortStatus
	err := r.st.Read(func(tx *store.Tx) error {
		ps, err := queue.Ports(tx.Bolt())
		if err != nil {
			return err
		}
		for _, p := range ps {
			q := p.ID
			if p.Kind == command.PortOutput {
				q = p.From
			}
			s, err := queue.QueueStats(tx.Bolt(), q)
			if err != nil {
				return err
			}
			staging := 0
			if p.Kind == command.PortInput {
				if staging, err = queue.StagedTxs(tx.Bolt(), p.ID); err != nil {
					return err
				}
			}
			out = append(out, PortStatus{Port: p, Queued: s.Count, QueuedBytes: s.Bytes, Leased: s.Leased, Staging: staging, Expired: s.Expired})
		}
		return nil
	})
	// Only the leader knows its memory leases. Counted outside the read
	// transaction: grant holds the leases' lock while it reads the store,
	// and the opposite order could deadlock behind a remap of the file.
	if err == nil && r.c.IsLeader() {
		for i, p := range out {
			if p.Kind == command.PortOutput {
				out[i].Leased += r.mem.leased(p.From)
			}
		}
	}
	return out, err
}

// Peers lists the members of the cluster that answer, with their public
// addresses and zones. Every node holds every queue, so each reports the
// same count (the cluster's queued flowfiles) and NiFi's clients spread
// evenly over them.
func (r *Relay) Peers(ctx context.Context) ([]server.Peer, error) {
	var nodes []store.NodeRec
	var queued int64
	err := r.st.Read(func(tx *store.Tx) error {
		var err error
		if nodes, err = tx.Nodes(); err != nil {
			return err
		}
		ps, err := queue.Ports(tx.Bolt())
		if err != nil {
			return err
		}
		for _, p := range ps {
			if p.Kind == command.PortInput {
				s, err := queue.QueueStats(tx.Bolt(), p.ID)
				if err != nil {
					return err
				}
				queued += s.Count
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var out []server.Peer
	seen := map[string]bool{}
	add := func(apiURL, zone string) {
		p, ok := peerOf(apiURL)
		if !ok || seen[p.Hostname+":"+strconv.Itoa(p.Port)] {
			return
		}
		seen[p.Hostname+":"+strconv.Itoa(p.Port)] = true
		p.Zone = zone
		p.FlowFileCount = int(min(queued, 1<<31-1))
		out = append(out, p)
	}
	live := r.c.LiveMembers()
	for _, n := range nodes {
		if live[n.ID] {
			add(n.APIURL, n.Zone)
		}
	}
	if len(out) == 0 {
		add(r.opt.Self, "")
	}
	return out, nil
}

func peerOf(apiURL string) (server.Peer, bool) {
	u, err := url.Parse(apiURL)
	if err != nil || u.Host == "" {
		return server.Peer{}, false
	}
	host, port := u.Hostname(), u.Port()
	if port == "" {
		port = "80"
		if u.Scheme == "https" {
			port = "443"
		}
	}
	n, err := strconv.Atoi(port)
	if err != nil {
		return server.Peer{}, false
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		return server.Peer{}, false
	}
	return server.Peer{Hostname: host, Port: n, Secure: u.Scheme == "https"}, true
}

// ---- push

// Full reports an input port whose queue reached its bound, or a node
// whose disk takes no more: clients are sent to another node.
func (r *Relay) Full(port string) bool {
	release, err := r.admit(0)
	if err != nil {
		return true
	}
	release()
	full := false
	_ = r.st.Read(func(tx *store.Tx) error {
		// A DR standby (or fenced cluster) takes no pushes: NiFi's "go
		// elsewhere" at create time, before any content is sent.
		if d, err := tx.DR(); err != nil || !d.IsPrimary() {
			full = true
			return err
		}
		ps, err := queue.Ports(tx.Bolt())
		if err != nil {
			return err
		}
		for _, p := range ps {
			if p.ID != port || p.Kind != command.PortInput {
				continue
			}
			s, err := queue.QueueStats(tx.Bolt(), p.ID)
			if err != nil {
				return err
			}
			full = (p.MaxFlowFiles > 0 && s.Count >= p.MaxFlowFiles) || (p.MaxBytes > 0 && s.Bytes >= p.MaxBytes)
		}
		return nil
	})
	return full
}

type staged struct {
	port, tx     string
	count, bytes int64
	// last is the push's last chunk, not proposed yet: Commit proposes it
	// with the commit (StageCommit, level 14). Its bytes are a file on a
	// majority, or in Data when small (counted in Relay.held).
	last *command.StageCommit
	// proposed is set once any chunk of the push was proposed: only then
	// can the state hold something of it to drop.
	proposed bool
}

// maxHeld bounds the bytes of small last chunks that pushes hold on this
// node between their 202 and their commit (staged.last.Data): beyond it a
// push's last chunk is proposed on its own, as before level 14.
const maxHeld = 16 << 20

// chunker cuts the packet stream of one push into chunks and proposes each
// as soon as it is full: the memory a push holds is one chunk.
type chunker struct {
	r       *Relay
	ctx     context.Context
	port    string
	tx      string
	s       *staged
	buf     []byte
	off     int64   // stream offset of buf[0]
	packets []int64 // packets that ended in buf
	err     error
}

func (c *chunker) Write(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	n := len(p)
	for len(p) > 0 {
		// A full chunk is proposed only when more bytes come: a packet
		// ending exactly at its end is then listed in it (StageChunk lists
		// the packets that end in the chunk).
		if len(c.buf) == cap(c.buf) {
			if err := c.flush(); err != nil {
				return 0, err
			}
		}
		k := min(len(p), cap(c.buf)-len(c.buf))
		c.buf = append(c.buf, p[:k]...)
		p = p[k:]
	}
	return n, nil
}

func (c *chunker) flush() error {
	if c.err != nil {
		return c.err
	}
	if len(c.buf) == 0 && len(c.packets) == 0 {
		return nil
	}
	release, err := c.r.admit(len(c.buf))
	if err != nil {
		c.err = err
		return err
	}
	defer release()
	var cmd command.Command = &command.StageChunk{Port: c.port, Tx: c.tx, Off: c.off, Packets: c.packets, At: c.r.now(), Data: c.buf}
	if c.r.inFiles(len(c.buf)) {
		ref, err := c.r.writeChunk(c.ctx, c.tx, c.off, c.buf)
		if err != nil {
			c.err = serverError(err)
			return c.err
		}
		cmd = &command.StageChunkRef{Port: c.port, Tx: c.tx, Off: c.off, Packets: c.packets, At: c.r.now(), SHA256: ref.SHA256, Size: ref.Size}
		// Pushes to voters beyond the majority may still read the chunk.
		defer func() { c.buf = make([]byte, 0, cap(c.buf)) }()
	}
	start := time.Now()
	c.s.proposed = true
	if err := c.r.c.ProposeAnywhere(c.ctx, cmd, nil); err != nil {
		c.err = serverError(err)
		return c.err
	}
	c.r.observe("propose", start)
	c.off += int64(len(c.buf))
	c.buf = c.buf[:0]
	c.packets = nil
	return nil
}

// flushLast ends the push: its last chunk is kept for the commit
// (StageCommit) when every voter applies that and the chunk is a file or
// small enough to hold; else it is proposed now.
func (c *chunker) flushLast() error {
	if c.err != nil {
		return c.err
	}
	n := len(c.buf)
	if n == 0 || c.r.c.CommandLevel() < command.LevelOf(command.TypeStageCommit) {
		return c.flush()
	}
	file := c.r.inFiles(n)
	if !file {
		if c.r.held.Add(int64(n)) > maxHeld {
			c.r.held.Add(-int64(n))
			return c.flush()
		}
	}
	last := &command.StageCommit{Port: c.port, Tx: c.tx, Off: c.off, Packets: c.packets, Size: int64(n)}
	err := func() error {
		release, err := c.r.admit(n)
		if err != nil {
			return err
		}
		defer release()
		if !file {
			last.Data = bytes.Clone(c.buf)
			return nil
		}
		ref, err := c.r.writeChunk(c.ctx, c.tx, c.off, c.buf)
		if err != nil {
			return serverError(err)
		}
		last.SHA256 = ref.SHA256
		return nil
	}()
	if err != nil {
		if !file {
			c.r.held.Add(-int64(n))
		}
		c.err = err
		return err
	}
	c.s.last = last
	c.off += int64(n)
	c.buf, c.packets = nil, nil
	return nil
}

// admit asks the node's disk whether it takes n more bytes (Options.Admit);
// a refusal is the port's "destination full".
func (r *Relay) admit(n int) (release func(), err error) {
	if r.opt.Admit == nil {
		return func() {}, nil
	}
	release, err = r.opt.Admit(int64(n))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", server.ErrDestinationFull, err)
	}
	return release, nil
}

// ObserveStage registers fn to be told how long each step of staging a
// pushed chunk took (metrics.Ports).
func (r *Relay) ObserveStage(fn func(step string, d time.Duration)) { r.obs.Store(&fn) }

func (r *Relay) observe(step string, since time.Time) {
	if fn := r.obs.Load(); fn != nil {
		(*fn)(step, time.Since(since))
	}
}

// inFiles reports whether a chunk of n bytes goes to a file: there is a
// file store, the chunk is large enough, and every voter applies
// StageChunkRef.
func (r *Relay) inFiles(n int) bool {
	return r.opt.Contents != nil && n >= r.opt.FileChunkMin && r.c.CommandLevel() >= command.LevelOf(command.TypeStageChunkRef)
}

// writeChunk writes a chunk of transaction tx at stream offset off as a
// file (after its ChunkFileHeader) and returns once a majority of the
// voters hold it: this node's copy is written while the others are sent
// theirs from memory. A file whose chunk never commits is swept with the
// other unreferenced files. The pushes beyond the majority go on reading
// data: the caller must not reuse it.
func (r *Relay) writeChunk(ctx context.Context, tx string, off int64, data []byte) (queue.FileRef, error) {
	st := r.opt.Contents.Store()
	hdr := queue.ChunkFileHeader(tx, off)
	sha := blobs.SumOf(hdr, data)
	local := make(chan error, 1)
	start := time.Now()
	go func() {
		err := st.WriteSum(sha, hdr, data)
		r.observe("local", start)
		local <- err
	}()
	err := r.opt.Contents.ReplicateBytes(ctx, sha, hdr, data)
	if lerr := <-local; err == nil {
		err = lerr
	}
	r.observe("majority", start)
	if err != nil {
		// Never proposed: nothing refers to it.
		_ = st.Discard(sha)
		return queue.FileRef{}, err
	}
	return queue.FileRef{SHA256: sha, Size: int64(len(data))}, nil
}

// Stage proposes the push body's packets in chunks; it returns once the
// last chunk is committed, so the 202 means a quorum has every byte.
func (r *Relay) Stage(ctx context.Context, port, tx string, packets server.PacketReader) (server.Staged, error) {
	select {
	case r.staging <- struct{}{}:
		defer func() { <-r.staging }()
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	s := &staged{port: port, tx: tx}
	ch := &chunker{r: r, ctx: ctx, port: port, tx: tx, s: s, buf: make([]byte, 0, r.opt.ChunkBytes)}
	enc := codec.NewEncoder(ch, false)
	err := func() error {
		for {
			p, err := packets.Next()
			if err == io.EOF {
				return ch.flushLast()
			}
			if err != nil {
				return err
			}
			start := ch.off + int64(len(ch.buf))
			if err := enc.Encode(p.Attributes, p.Size, p.Content); err != nil {
				return err
			}
			end := ch.off + int64(len(ch.buf))
			ch.packets = append(ch.packets, start, end-start, p.Size)
			s.count++
			s.bytes += p.Size
		}
	}()
	if err != nil {
		r.Discard(s)
		return nil, err
	}
	return s, nil
}

// Commit makes the staged flowfiles part of the queue on a quorum.
func (r *Relay) Commit(ctx context.Context, st server.Staged) (bool, error) {
	s := st.(*staged)
	var res queue.CommitResult
	var err error
	if last := s.last; last != nil {
		last.Count, last.Bytes, last.At = s.count, s.bytes, r.now()
		s.proposed = true
		start := time.Now()
		err = r.c.ProposeAnywhere(ctx, last, &res)
		r.observe("propose", start)
		if err == nil && res.Full {
			err = fmt.Errorf("%w: input port %s is full", server.ErrDestinationFull, s.port)
		}
		if err == nil {
			r.forget(s)
		}
	} else {
		err = r.c.ProposeAnywhere(ctx, &command.CommitTx{Port: s.port, Tx: s.tx, Count: s.count, Bytes: s.bytes, At: r.now()}, &res)
	}
	if err != nil {
		r.stats.add(s.port, "commit_failed", 0, 0)
		return false, serverError(err)
	}
	outcome := "committed"
	if res.Backoff {
		outcome = "backoff"
	}
	r.stats.add(s.port, outcome, s.count, s.bytes)
	return res.Backoff, nil
}

// Discard drops what a transaction staged. It runs detached from the
// request: a dropped client must not leave its chunks behind (those that
// do, when this node dies, are dropped by Apply after queue.StaleStaging).
func (r *Relay) Discard(st server.Staged) {
	s := st.(*staged)
	r.stats.add(s.port, "discarded", 0, 0)
	var cmds []command.Command
	at := r.now()
	if last := s.last; last != nil && !s.proposed && last.SHA256 != "" {
		// A file chunk never proposed: no state refers to it, and none
		// will. This node's copy goes now. The other voters' copies are
		// known to no state either, so the chunk is staged and dropped
		// at once: the drop lists it as gone on every node, which
		// removes its copy. Left to the hourly sweep of unreferenced
		// files, a client cancelling large pushes in a loop would fill
		// the other voters' disks. If the staging is refused (the port
		// went meanwhile), the sweep still removes them.
		_ = r.opt.Contents.Store().Discard(last.SHA256)
		cmds = append(cmds, &command.StageChunkRef{Port: s.port, Tx: s.tx, Off: last.Off, At: at, SHA256: last.SHA256, Size: last.Size})
	}
	if s.proposed || len(cmds) > 0 {
		cmds = append(cmds, &command.DropTx{Tx: s.tx, At: at})
	}
	r.forget(s)
	if len(cmds) > 0 {
		r.detached(cmds...)
	}
}

// forget lets go of a push's last chunk held for its commit.
func (r *Relay) forget(s *staged) {
	if s.last != nil && len(s.last.Data) > 0 {
		r.held.Add(-int64(len(s.last.Data)))
	}
	s.last = nil
}

// detached proposes cmds in order in the background, stopping at the
// first that fails.
func (r *Relay) detached(cmds ...command.Command) {
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for _, c := range cmds {
			if err := r.c.ProposeAnywhere(ctx, c, nil); err != nil {
				r.opt.Log.Warn("site-to-site: cannot replicate "+c.Type().String(), "err", err)
				return
			}
		}
	}()
}

// ---- pull

type lease struct {
	r    *Relay
	port string
	tx   string
	// mem: the lease is the leader's memory (level 11), confirmed by
	// naming its flowfiles in queue, not a replicated Lease.
	mem   bool
	queue string
	// chunk is the last chunk read, kept across flowfiles: small
	// flowfiles share chunks, and copying a 1 MiB chunk for each was most
	// of a pull's CPU.
	chunk chunkCache
	flows []queue.Flow
	next  int
	// br is one read buffer for the lease's flowfiles in turn: a decoder
	// made a 32 KiB one of its own for each, which for 1 KiB flowfiles was
	// 7 % of a pulling node's CPU (allocating and clearing it).
	br *bufio.Reader
}

// leaseMem asks the leader for a memory lease: in this process when this
// node leads (no encoding of the grant), else over the cluster port, the
// flowfiles named as runs and read from this replica.
func (r *Relay) leaseMem(ctx context.Context, req leaseReq) (leaseGrant, error) {
	if r.c.IsLeader() {
		return r.grant(req)
	}
	req.Runs = true
	var g leaseGrant
	if err := r.c.CallLeader(ctx, callLease, req, &g); err != nil || len(g.Runs) == 0 {
		return g, err // a leader of an older build answers Flows
	}
	flows, err := r.replicaFlows(ctx, g)
	if err != nil {
		r.endMem(req.Tx, false)
		return g, err
	}
	g.Flows, g.Runs = flows, nil
	return g, nil
}

// Lease leases the port's oldest available flowfiles to a pull, up to the
// client's batch limits, through the log: no other node hands them out
// until this lease is acked, released or expires. Concurrent pulls of a
// port each get their own flowfiles (SharedLease) once every voter
// understands that, unless the port is ordered.
func (r *Relay) Lease(ctx context.Context, port, tx string, limits server.BatchLimits) (server.Lease, error) {
	cmd := &command.Lease{Port: port, Tx: tx, MaxCount: int64(r.opt.PullCount), MaxBytes: r.opt.PullBytes, At: r.now()}
	if limits.Count > 0 {
		cmd.MaxCount = int64(limits.Count)
	}
	if limits.Bytes > 0 {
		cmd.MaxBytes = limits.Bytes
	}
	cmd.Expires = cmd.At + r.opt.LeaseTTL.Milliseconds()
	level := r.c.CommandLevel()
	if level >= command.LevelOf(command.TypeAckFlows) {
		g, err := r.leaseMem(ctx, leaseReq{Port: port, Tx: tx, MaxCount: cmd.MaxCount, MaxBytes: cmd.MaxBytes})
		if err != nil {
			if model.KindOf(err) == model.KindUnavailable {
				// The leader may have granted it and the answer got
				// lost: end it rather than leave it to the TTL.
				r.endMem(tx, false)
			}
			return nil, serverError(err)
		}
		switch {
		case !g.Ordered:
			// Content is read from this replica; a chunk it has not
			// applied yet is read after a barrier (contentReader).
			return &lease{r: r, port: port, tx: tx, mem: true, queue: g.Queue, flows: g.Flows}, nil
		case g.Busy:
			return &lease{r: r, port: port, tx: tx}, nil
		}
		// An ordered port: a replicated lease, one live per queue.
	}
	shared := level >= command.LevelOf(command.TypeSharedLease)
	if r.nothingToLease(ctx, port, cmd.At, shared) {
		// Not worth a log entry: NiFi's clients poll every node often.
		return &lease{r: r, port: port, tx: tx}, nil
	}
	var c command.Command = cmd
	if shared {
		c = (*command.SharedLease)(cmd)
	}
	var res queue.LeaseResult
	if err := r.c.ProposeAnywhere(ctx, c, &res); err != nil {
		return nil, serverError(err)
	}
	// On a follower the lease was applied on the leader. Its flowfiles'
	// content was committed before (with their push), so this replica
	// nearly always holds it already; a read barrier, which on a follower
	// waits for the leader's next message (tens of milliseconds), is
	// taken only when a chunk is missing (contentReader).
	return &lease{r: r, port: port, tx: tx, flows: res.Flows}, nil
}

// nothingToLease reports that a Lease would hand out nothing now: the
// port's queue has no flowfile that is not leased, or (ordered) another
// pull's lease on it is live. This replica is asked first as it is: if it
// shows flowfiles to lease the proposal goes ahead (the leader decides; a
// stale view costs at most an empty lease). "Nothing" is confirmed after
// a read barrier (far cheaper than a log entry, but on a follower it waits
// for the leader's next message), so that a pull after a release or an ack
// that has returned, on any node, sees it. An expired lease is never taken
// as live, so its release is proposed.
func (r *Relay) nothingToLease(ctx context.Context, port string, now int64, shared bool) bool {
	if !r.nothingHere(port, now, shared) {
		return false
	}
	if err := r.c.ReadBarrier(ctx); err != nil {
		return false // let the proposal decide
	}
	return r.nothingHere(port, now, shared)
}

// nothingHere is nothingToLease's test on this replica as it is. A lease
// this node ended itself is over whatever the replica shows yet.
func (r *Relay) nothingHere(port string, now int64, shared bool) bool {
	empty := false
	_ = r.st.Read(func(tx *store.Tx) error {
		ps, err := queue.Ports(tx.Bolt())
		if err != nil {
			return err
		}
		for _, p := range ps {
			if p.ID != port || p.Kind != command.PortOutput || p.From == "" || !p.Enabled {
				continue
			}
			if shared && !p.Ordered {
				n, err := queue.Unheld(tx.Bolt(), p.From, now)
				empty = err == nil && n <= 0
				return err
			}
			ltx, expires, live, err := queue.LiveLease(tx.Bolt(), p.From)
			if err != nil {
				return err
			}
			live = live && !r.ended.has(ltx)
			if live && expires > now {
				empty = true
				return nil
			}
			s, err := queue.QueueStats(tx.Bolt(), p.From)
			if err != nil {
				return err
			}
			empty = !live && s.Count-s.Leased <= 0
		}
		return nil
	})
	return empty
}

// Next hands out the next leased flowfile, read from this node's replica.
func (l *lease) Next(ctx context.Context) (*server.FlowFile, error) {
	if l.next >= len(l.flows) {
		return nil, io.EOF
	}
	f := l.flows[l.next]
	l.next++
	rd := &contentReader{ctx: ctx, r: l.r, tx: f.Tx, off: f.Off, end: f.Off + f.Len, c: &l.chunk}
	// The caller has read the previous flowfile's content by now.
	if l.br == nil {
		l.br = bufio.NewReaderSize(rd, 32<<10)
	} else {
		l.br.Reset(rd)
	}
	p, err := codec.NewDecoder(l.br, false, codec.Limits{}).Next()
	if err != nil {
		return nil, fmt.Errorf("queued flowfile %d: %w", f.Seq, err)
	}
	return &server.FlowFile{Attributes: p.Attributes, Size: p.Size, Content: p.Content}, nil
}

// Ack removes the lease's flowfiles from the queue on a quorum.
func (r *Relay) Ack(ctx context.Context, sl server.Lease) error {
	l := sl.(*lease)
	defer l.recycle()
	if len(l.flows) == 0 {
		return nil
	}
	// The server stops asking for flowfiles when the client's batch
	// duration (5 s by default) runs out, which a slow client reaches
	// before the end of a lease (up to PullBytes): only what was sent
	// (handed out by Next) is acked, the rest goes back to the queue.
	sent := l.flows[:l.next]
	if l.mem {
		return r.ackMem(ctx, l, sent)
	}
	var c command.Command = &command.Ack{Tx: l.tx, At: r.now()}
	if len(sent) < len(l.flows) {
		if len(sent) == 0 || r.c.CommandLevel() < command.LevelOf(command.TypeAckSent) {
			// A voter cannot apply AckSent yet: release the whole lease.
			// What was sent goes out again (at least once); nothing is
			// lost.
			r.opt.Log.Warn("site-to-site: a pull confirmed part of its lease, which a voter's build cannot record; its flowfiles will be sent again", "tx", l.tx, "port", l.port, "sent", len(sent), "leased", len(l.flows))
			if err := r.c.ProposeAnywhere(ctx, &command.Release{Tx: l.tx, At: r.now()}, nil); err != nil {
				r.stats.add(l.port, "ack_failed", 0, 0)
				return serverError(err)
			}
			r.stats.add(l.port, "released", 0, 0)
			return nil
		}
		c = &command.AckSent{Tx: l.tx, At: r.now(), Through: sent[len(sent)-1].Seq}
	}
	if err := r.c.ProposeAnywhere(ctx, c, nil); err != nil {
		r.stats.add(l.port, "ack_failed", 0, 0)
		return serverError(err)
	}
	r.ended.add(l.tx, r.opt.Now())
	var n int64
	for _, f := range sent {
		n += f.Size
	}
	r.stats.add(l.port, "acked", int64(len(sent)), n)
	return nil
}

// ackMem confirms a memory lease: the flowfiles sent are removed through
// the log, then the leader forgets the lease, and what was not sent is
// free again. The lease ends only after the AckFlows is applied on the
// leader (ProposeAnywhere returns then), so the leader never hands out
// again a flowfile being acked.
func (r *Relay) ackMem(ctx context.Context, l *lease, sent []queue.Flow) error {
	if len(sent) == 0 {
		r.endMem(l.tx, false)
		r.stats.add(l.port, "released", 0, 0)
		return nil
	}
	c := &command.AckFlows{Port: l.port, Tx: l.tx, Queue: l.queue, Runs: runsOf(sent), At: r.now()}
	if err := r.c.ProposeAnywhere(ctx, c, nil); err != nil {
		r.endMem(l.tx, false)
		r.stats.add(l.port, "ack_failed", 0, 0)
		return serverError(err)
	}
	// What was sent is gone, so only the rest of a partial pull needs the
	// lease ended before the client's next pull: wait for that one.
	r.endMem(l.tx, len(sent) < len(l.flows))
	var n int64
	for _, f := range sent {
		n += f.Size
	}
	r.stats.add(l.port, "acked", int64(len(sent)), n)
	return nil
}

// Release hands the lease's flowfiles back, in their places.
func (r *Relay) Release(sl server.Lease) {
	l := sl.(*lease)
	if len(l.flows) == 0 {
		return
	}
	r.stats.add(l.port, "released", 0, 0)
	if l.mem {
		r.endMem(l.tx, false)
		return
	}
	r.detached(&command.Release{Tx: l.tx, At: r.now()})
}

// chunkCache is one chunk of a transaction's stream, copied out of the
// store.
type chunkCache struct {
	tx    string
	start int64
	data  []byte
	// file is set when data was read from a chunk file into a buffer from
	// blobs.Buffer: the lease gives it back once acked (recycle). A pull
	// of 1 MiB flowfiles would otherwise allocate, zero and fault in a
	// fresh 1 MiB buffer for each.
	file bool
}

// recycle gives the lease's chunk buffer back to the blobs pool. Only
// after the lease's flowfiles were sent and confirmed: nothing reads it
// then.
func (l *lease) recycle() {
	if c := &l.chunk; c.file && c.data != nil {
		blobs.Recycle(c.data)
	}
	l.chunk = chunkCache{}
}

// contentReader reads bytes [off, end) of a transaction's stream from the
// store, one chunk copy at a time (shared through c), never holding a read
// transaction while the caller writes to a client. A chunk this replica
// has not applied yet is read again after a read barrier.
type contentReader struct {
	ctx      context.Context
	r        *Relay
	tx       string
	off, end int64
	c        *chunkCache
}

func (r *contentReader) Read(p []byte) (int, error) {
	if r.off >= r.end {
		return 0, io.EOF
	}
	c := r.c
	if c.tx != r.tx || r.off < c.start || r.off >= c.start+int64(len(c.data)) {
		err := r.load()
		if errors.Is(err, queue.ErrMissing) {
			if err = r.r.c.ReadBarrier(r.ctx); err == nil {
				err = r.load()
			}
		}
		if err != nil {
			c.tx, c.data, c.file = "", nil, false
			return 0, err
		}
		c.tx = r.tx
	}
	b := c.data[r.off-c.start:]
	b = b[:min(int64(len(b)), r.end-r.off)]
	n := copy(p, b)
	r.off += int64(n)
	return n, nil
}

func (r *contentReader) load() error {
	var at queue.ChunkAt
	if err := r.r.st.Read(func(tx *store.Tx) (err error) {
		at, err = queue.Chunk(tx.Bolt(), r.tx, r.off)
		return err
	}); err != nil {
		return err
	}
	if at.File != nil {
		data, err := r.r.readChunkFile(r.ctx, r.tx, at.Start, *at.File)
		if err != nil {
			return err
		}
		at.Data = data
	}
	if r.c.file && r.c.data != nil {
		// The previous chunk was read to its end (reads go forward).
		blobs.Recycle(r.c.data)
	}
	r.c.start, r.c.data, r.c.file = at.Start, at.Data, at.File != nil
	return nil
}

// readChunkFile reads the bytes of a chunk kept in a file (read outside
// any read transaction: the file may have to be fetched first).
func (r *Relay) readChunkFile(ctx context.Context, tx string, start int64, ref queue.FileRef) ([]byte, error) {
	if r.opt.Contents == nil {
		return nil, fmt.Errorf("chunk at %d of transaction '%s' is in a file and this node keeps none", start, tx)
	}
	hdr := queue.ChunkFileHeaderLen(tx)
	f, err := r.opt.Contents.Open(ctx, ref.SHA256, hdr+ref.Size)
	if err != nil {
		return nil, fmt.Errorf("chunk at %d of transaction '%s': %w", start, tx, err)
	}
	defer f.Close()
	data := blobs.Buffer(ref.Size)
	if _, err := f.ReadAt(data, hdr); err != nil {
		blobs.Recycle(data)
		return nil, fmt.Errorf("chunk at %d of transaction '%s': %w", start, tx, err)
	}
	return data, nil
}

// KeepChunkFiles removes the files of chunks the applied state let go of
// (acknowledged, expired, dropped) as soon as they go, until ctx ends: at
// relay rates the sweep of unreferenced files (an hour's grace) would let
// them pile up.
func (r *Relay) KeepChunkFiles(ctx context.Context) {
	if r.opt.Contents == nil {
		return
	}
	st := r.opt.Contents.Store()
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.st.Gone():
		}
		if err := st.Discard(r.st.TakeGone()...); err != nil {
			r.opt.Log.Warn("chunk files not removed (the sweep will)", "err", err)
		}
	}
}

var _ io.Reader = (*contentReader)(nil)
