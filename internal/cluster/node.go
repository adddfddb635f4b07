package cluster

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	wal "github.com/hashicorp/raft-wal"

	"github.com/weir-nifi/weir/internal/command"
	"github.com/weir-nifi/weir/internal/disk"
	"github.com/weir-nifi/weir/internal/model"
	"github.com/weir-nifi/weir/internal/store"
)

// Peer is a statically configured voter: id=raft address.
type Peer struct {
	ID   string
	Addr string
}

// WriteMode says what a follower does with a write.
type WriteMode string

const (
	// WriteForward proxies the write to the leader (the default).
	WriteForward WriteMode = "forward"
	// WriteRedirect answers 307 with the leader's advertised URL.
	WriteRedirect WriteMode = "redirect"
)

// Config configures a node.
type Config struct {
	ID            string
	DataDir       string
	RaftListen    string
	RaftAdvertise string
	APIURL        string // this node's advertised NiFi Registry base URL (scheme://host:port)
	Zone          string
	Bootstrap     []Peer   // static initial voters; all nodes get the same list
	Join          []string // API URLs of existing nodes
	// JoinTLS reaches existing nodes that serve HTTPS when joining (their
	// CA, and this node's certificate for client authentication).
	JoinTLS   *tls.Config
	Auth      *Auth
	WriteMode WriteMode

	MaxVoters int // voters kept by the membership loop (the rest are read replicas)
	MinQuorum int // removals never leave fewer voters than this
	// DeadAfter removes voters unreachable this long (0 = never).
	DeadAfter time.Duration

	HeartbeatTimeout   time.Duration
	ElectionTimeout    time.Duration
	LeaderLeaseTimeout time.Duration
	SnapshotThreshold  uint64
	TrailingLogs       uint64
	// SnapshotInterval is how often Raft checks whether SnapshotThreshold
	// entries have accumulated.
	SnapshotInterval time.Duration
	// WALSegmentSize is the Raft log's segment size (raft-wal's default,
	// 64 MiB, when 0). Compaction frees whole segments only.
	WALSegmentSize int
	// LeaderWait is how long a request waits for a leader before 503.
	LeaderWait time.Duration

	// NoSync skips the Raft log's fsync (--unsafe-no-sync: tests and
	// benchmarks that say so).
	NoSync bool
	Log    *slog.Logger
	// Disk watches the data directory's file system (nil: no watching,
	// failures are only logged).
	Disk *disk.Monitor
	// Halt stops the process when a committed entry cannot be applied by
	// this build (default: log and exit with ExitNeedsUpgrade).
	Halt func(error)
}

// Defaults are tuned for a LAN or zones in one region: followers suspect a
// crashed leader after 0.4-0.8 s (heartbeats go out every 40 ms), and with
// pre-vote the election succeeds once a majority has stopped hearing from
// it, so writes resume about 1 s after a leader dies. Raise them across
// regions (etcd's guidance: election timeout ≥ 10× RTT).
//
// The leader lease is how long a leader goes without hearing from a quorum
// before it steps down. It only bounds how long an isolated leader keeps
// refusing writes that cannot commit (reads confirm leadership with a
// quorum round, never with the lease), so it sits at its maximum, the
// heartbeat timeout: at 200 ms a leader on a busy two-core machine (eight
// 30 MB commits at once, systest TestHardenSlowClients) stepped down one
// to three times a run for no failure, and every step-down stalled all
// requests for ~0.5 s while the same node was elected again.
const (
	DefaultHeartbeat = 400 * time.Millisecond
	DefaultElection  = 400 * time.Millisecond
)

func (c *Config) setDefaults() {
	if c.HeartbeatTimeout == 0 {
		c.HeartbeatTimeout = DefaultHeartbeat
	}
	if c.ElectionTimeout == 0 {
		// Raft refuses an election timeout shorter than the heartbeat
		// timeout: raising only the latter must not stop the node.
		c.ElectionTimeout = max(DefaultElection, c.HeartbeatTimeout)
	}
	if c.LeaderLeaseTimeout == 0 {
		// The lease follows the heartbeat timeout (Raft refuses a longer
		// one): an operator who raises the heartbeat timeout across
		// regions or for a loaded machine gets a leader that tolerates as
		// long a silence, not one still stepping down after 400 ms.
		c.LeaderLeaseTimeout = c.HeartbeatTimeout
	}
	if c.SnapshotThreshold == 0 {
		c.SnapshotThreshold = 1024
	}
	if c.TrailingLogs == 0 {
		c.TrailingLogs = 1024
	}
	if c.SnapshotInterval == 0 {
		c.SnapshotInterval = 30 * time.Second
	}
	if c.LeaderWait == 0 {
		c.LeaderWait = 3 * time.Second
	}
	if c.MaxVoters == 0 {
		c.MaxVoters = 5
	}
	if c.MinQuorum == 0 {
		c.MinQuorum = 3
	}
	if c.WriteMode == "" {
		c.WriteMode = WriteForward
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
}

// Node is one Weir server's membership in the Raft cluster. A single node is
// a one-voter cluster on the same code path.
type Node struct {
	cfg   Config
	st    *store.Store
	log   *slog.Logger
	raft  *raft.Raft
	logs  logStore
	trans *raft.NetworkTransport
	mux   *Mux
	rpc   *http.Server
	peers *http.Client // internal HTTP over the cluster port
	// proposer sends proposals to the leader, a fresh stream each (see
	// forwardClient).
	proposer *http.Client
	// leaderFuncs holds the functions CallLeader runs (name → LeaderFunc).
	leaderFuncs sync.Map
	// peerHandlers holds what HandlePeer registered (name → http.Handler).
	peerHandlers sync.Map
	// live caches LiveMembers.
	liveMu sync.Mutex
	live   map[string]bool
	liveAt time.Time
	// catchUpSnapAt is when reconcile (the membership loop's goroutine
	// only) last took a snapshot for a member far behind.
	catchUpSnapAt time.Time
	// leaderObs receives raft's leader observations (observer), for
	// watchLeadership; registered before raft can elect this node.
	leaderObs chan raft.Observation
	observer  *raft.Observer
	// levels caches the member table's command levels (memberLevels).
	levels atomic.Pointer[levelCache]

	// layer is the HTTP layer (ServeAPI): its handler serves forwarded
	// requests on the leader.
	apiMu sync.RWMutex
	layer *HTTPLayer

	// ready is closed when this node, as leader, has applied everything
	// committed before its term (raft.Barrier), and replaced on step-down.
	readyMu sync.Mutex
	ready   chan struct{}
	isReady atomic.Bool

	reads *readBatcher
	// acks records when followers last accepted an append (see
	// confirmLeadership).
	acks *ackClock
	// iso cuts the node off from its cluster during drills.
	iso *isolation
	// orph resolves writes whose leadership was lost (orphans.go);
	// raftPtr is raft for the FSM's goroutine.
	orph    *orphans
	raftPtr atomic.Pointer[raft.Raft]

	// timeoutMode is the raft timeouts in force (see tuneTimeouts).
	timeoutMode atomic.Int32
	// soleVoter is true only while this node is the only voter: no other
	// node can then lead, so linearizable reads need no leadership round.
	// Set from the configuration; cleared before any voter is added (only
	// the sole voter, as leader, can add one).
	soleVoter     atomic.Bool
	leaderChanges atomic.Uint64
	stopCh        chan struct{}
	wg            sync.WaitGroup
	closeOnce     sync.Once

	// proposeObs, when set, is told how long each replicated write took
	// from raft.Apply to its result (commit latency metrics).
	proposeObs atomic.Pointer[func(time.Duration, error)]
	// tuneMu serializes tuneTimeouts (the leadership watcher and disk
	// changes both call it).
	tuneMu sync.Mutex
	// inflight counts write requests being handled and Propose calls
	// under way (backups yield to them).
	inflight atomic.Int64
	// barriers counts read barriers taken (ReadBarrier calls).
	barriers atomic.Uint64
}

// Start opens the Raft stores, starts the transport and joins or bootstraps
// the cluster.
func Start(cfg Config, st *store.Store) (*Node, error) {
	cfg.setDefaults()
	if cfg.ID == "" {
		return nil, errors.New("node id is required")
	}
	if cfg.Auth == nil || len(cfg.Auth.Key) == 0 {
		return nil, errors.New("cluster key is required")
	}
	n := &Node{cfg: cfg, st: st, log: cfg.Log, ready: make(chan struct{}), stopCh: make(chan struct{})}
	n.reads = newReadBatcher(n)
	n.acks = newAckClock()
	n.iso = newIsolation()
	n.orph = newOrphans()
	cfg.Auth.iso = n.iso

	raftDir := filepath.Join(cfg.DataDir, "raft")
	walDir := filepath.Join(raftDir, "wal")
	if err := os.MkdirAll(walDir, 0o755); err != nil {
		return nil, err
	}
	hlog := newHCLogger(n.log)
	// raft-wal: an append-only segmented log with one fsync per batch of
	// entries (raft-boltdb needs two per bbolt commit and its file never
	// shrinks), read with pread so old segments do not inflate RSS.
	walOpts := []func(*wal.WAL){wal.WithLogger(hlog.Named("wal"))}
	if cfg.WALSegmentSize > 0 {
		walOpts = append(walOpts, wal.WithSegmentSize(cfg.WALSegmentSize))
	}
	logs, err := openLogStore(walDir, cfg.Disk, n.stopCh, n.log, cfg.NoSync, walOpts...)
	if err != nil {
		return nil, fmt.Errorf("open raft log: %w", err)
	}
	n.logs = logs
	// Our own snapshot store: it verifies a snapshot's frame while writing
	// it and hands out the file unread (raft's file store reads every
	// snapshot once more for its CRC before use; see snapstore.go).
	snaps, err := newSnapStore(raftDir, 2, n.log, st)
	if err != nil {
		logs.Close()
		return nil, err
	}

	snapIndex, err := catchUpFromSnapshot(st, snaps, n.log)
	if err != nil {
		logs.Close()
		return nil, err
	}
	if err := checkLogCovers(st, snapIndex, logs); err != nil {
		logs.Close()
		return nil, err
	}

	mux, err := NewMux(cfg.RaftListen, cfg.Auth, n.log)
	if err != nil {
		logs.Close()
		return nil, fmt.Errorf("cluster listen %s: %w", cfg.RaftListen, err)
	}
	n.mux = mux
	if tcp, ok := mux.Addr().(*net.TCPAddr); ok && !tcp.IP.IsUnspecified() && cfg.Auth.LocalIP == nil {
		cfg.Auth.LocalIP = tcp.IP
	}
	advertise := cfg.RaftAdvertise
	if advertise == "" {
		advertise = mux.Addr().String()
		n.cfg.RaftAdvertise = advertise
	}
	advAddr, err := net.ResolveTCPAddr("tcp", advertise)
	if err != nil {
		mux.Close()
		logs.Close()
		return nil, fmt.Errorf("raft advertise address %q: %w", advertise, err)
	}
	stream := &streamLayer{Listener: mux.Listen(streamRaft), auth: cfg.Auth, advertise: advAddr}
	n.trans = raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream:  stream,
		MaxPool: 5,
		Timeout: 10 * time.Second,
		Logger:  hlog.Named("transport"),
	})
	n.peers = n.newPeerClient()
	n.proposer = n.forwardClient()
	go mux.Serve()

	rc := n.raftConfig(hlog)
	halt := cfg.Halt
	if halt == nil {
		halt = haltProcess(n.log)
	}
	fsm := &fsm{st: st, log: n.log, disk: cfg.Disk, stop: n.stopCh, halt: halt, orphans: n.orph, leading: n.leadingNow}

	hasState, err := raft.HasExistingState(logs, logs, snaps)
	if err != nil {
		n.closeTransport()
		return nil, err
	}
	single := false
	if !hasState {
		switch {
		case len(cfg.Bootstrap) > 0:
			conf := raft.Configuration{}
			for _, p := range cfg.Bootstrap {
				conf.Servers = append(conf.Servers, raft.Server{Suffrage: raft.Voter, ID: raft.ServerID(p.ID), Address: raft.ServerAddress(p.Addr)})
			}
			if err := raft.BootstrapCluster(rc, logs, logs, snaps, n.trans, conf); err != nil {
				n.closeTransport()
				return nil, fmt.Errorf("bootstrap: %w", err)
			}
			single = len(cfg.Bootstrap) == 1
		case len(cfg.Join) == 0:
			conf := raft.Configuration{Servers: []raft.Server{{Suffrage: raft.Voter, ID: raft.ServerID(cfg.ID), Address: raft.ServerAddress(advertise)}}}
			if err := raft.BootstrapCluster(rc, logs, logs, snaps, n.trans, conf); err != nil {
				n.closeTransport()
				return nil, fmt.Errorf("bootstrap: %w", err)
			}
			single = true
		}
	} else {
		probe := n.raftConfig(hlog.Named("probe"))
		_, inmem := raft.NewInmemTransport(raft.ServerAddress(advertise))
		conf, err := raft.GetConfiguration(probe, fsm, logs, logs, snaps, inmem)
		if err == nil {
			single = isSoleVoter(conf, cfg.ID)
		}
	}
	// Every node runs with the configured timeouts and leader lease from
	// its start, alone or not: the lease cannot be reloaded, and a node
	// that started alone with a short one kept it after others joined,
	// so under load it lost leadership whenever a follower's answer came
	// a few milliseconds late (issue 13). Alone, there is nobody to wait
	// for: kickElection makes it stand at once instead of after a
	// heartbeat timeout, so a single node is writable within milliseconds.
	if single {
		n.soleVoter.Store(true)
	}
	r, err := raft.NewRaft(rc, fsm, logs, logs, snaps, raftTransport{n.trans, n.acks})
	if err != nil {
		n.closeTransport()
		return nil, fmt.Errorf("start raft: %w", err)
	}
	n.raft = r
	n.raftPtr.Store(r)
	// Observe leadership before a sole voter's election, which now comes
	// at once: an observer registered later missed it.
	n.leaderObs = make(chan raft.Observation, 16)
	n.observer = raft.NewObserver(n.leaderObs, false, func(o *raft.Observation) bool {
		_, ok := o.Data.(raft.LeaderObservation)
		return ok
	})
	r.RegisterObserver(n.observer)
	if single {
		n.kickElection()
	}

	if cfg.Disk != nil {
		cfg.Disk.OnChange(func(failed bool) {
			if failed {
				// Hand leadership to a voter whose disk works; the
				// timeouts (tuneTimeouts) keep this node from taking it
				// back until its disk does.
				go n.leaveLeadership()
			}
			go n.tuneTimeouts()
		})
	}
	n.startRPC()
	n.wg.Add(3)
	go n.watchLeadership()
	go n.watchLeaderLoss()
	go n.maintainMembership()
	if !hasState && len(cfg.Join) > 0 {
		n.wg.Add(1)
		go n.joinLoop()
	}
	n.wg.Add(1)
	go n.registerLoop()
	return n, nil
}

func (n *Node) raftConfig(l hclog.Logger) *raft.Config {
	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(n.cfg.ID)
	rc.HeartbeatTimeout = n.cfg.HeartbeatTimeout
	rc.ElectionTimeout = n.cfg.ElectionTimeout
	rc.LeaderLeaseTimeout = n.cfg.LeaderLeaseTimeout
	rc.CommitTimeout = 20 * time.Millisecond
	rc.SnapshotThreshold = n.cfg.SnapshotThreshold
	rc.TrailingLogs = n.cfg.TrailingLogs
	rc.SnapshotInterval = n.cfg.SnapshotInterval
	// The store is durable and records its applied index, so restarts
	// replay only the log after the last snapshot instead of restoring it.
	rc.NoSnapshotRestoreOnStart = true
	rc.Logger = l
	return rc
}

func isSoleVoter(conf raft.Configuration, id string) bool {
	voters := 0
	me := false
	for _, s := range conf.Servers {
		if s.Suffrage == raft.Voter {
			voters++
			me = me || string(s.ID) == id
		}
	}
	return voters == 1 && me
}

// ID is this node's id.
func (n *Node) ID() string { return n.cfg.ID }

// Config returns the node's effective configuration.
func (n *Node) Config() Config { return n.cfg }

// RaftAddr is the address peers reach this node at.
func (n *Node) RaftAddr() string { return n.cfg.RaftAdvertise }

// IsLeader reports whether this node leads and is ready to accept writes.
func (n *Node) IsLeader() bool { return n.raft.State() == raft.Leader && n.isReady.Load() }

// Leader returns the current leader's id and raft address ("" if none).
func (n *Node) Leader() (id, addr string) {
	a, i := n.raft.LeaderWithID()
	return string(i), string(a)
}

// ReadBarriers counts the read barriers this node took: on a follower each
// is a round trip to the leader, on the leader a quorum round (shared by
// the reads that arrive meanwhile).
func (n *Node) ReadBarriers() uint64 { return n.barriers.Load() }

// LeaderChanges counts leadership transitions seen by this node.
func (n *Node) LeaderChanges() uint64 { return n.leaderChanges.Load() }

// watchLeadership tracks leadership: on gaining it, it runs a barrier so
// the new leader has applied every entry committed by earlier terms before
// it resolves version numbers or serves linearizable reads.
func (n *Node) watchLeadership() {
	defer n.wg.Done()
	ch := n.leaderObs
	defer n.raft.DeregisterObserver(n.observer)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	wasLeader := false
	for {
		select {
		case <-n.stopCh:
			return
		case <-ch:
			n.leaderChanges.Add(1)
		case <-tick.C:
		}
		leader := n.raft.State() == raft.Leader
		switch {
		case leader && !wasLeader:
			// Proposals start once ready: their entries are of this term.
			n.orph.led(n.raft.CurrentTerm())
			if err := n.raft.Barrier(10 * time.Second).Error(); err != nil {
				n.log.Warn("leader barrier failed", "err", err)
				continue
			}
			n.readyMu.Lock()
			n.isReady.Store(true)
			close(n.ready)
			n.readyMu.Unlock()
			n.log.Info("leading the cluster", "term", n.raft.Stats()["term"])
			wasLeader = true
		case !leader && wasLeader:
			n.readyMu.Lock()
			n.isReady.Store(false)
			n.ready = make(chan struct{})
			n.readyMu.Unlock()
			wasLeader = false
		}
		n.tuneTimeouts()
	}
}

// Raft timeouts in force (Node.timeoutMode).
const (
	timeoutsNormal int32 = iota
	// timeoutsStayOut: the disk cannot be written, so this node must not
	// stand for election (a won election would fail at its first append,
	// step down and start over, many times a second) and, as leader, lets
	// the followers elect another (heartbeats slow down with the timeout).
	timeoutsStayOut
)

// stayOutTimeout keeps a node with a failed disk out of elections.
const stayOutTimeout = time.Hour

// tuneTimeouts sets the raft timeouts for the node's situation: the
// configured ones, or out of elections while its disk cannot be written;
// and makes a sole voter that does not lead (its disk came back) stand at
// once.
func (n *Node) tuneTimeouts() {
	n.tuneMu.Lock()
	defer n.tuneMu.Unlock()
	f := n.raft.GetConfiguration()
	if f.Error() != nil {
		return
	}
	single := isSoleVoter(f.Configuration(), n.cfg.ID)
	if single {
		n.soleVoter.Store(true)
	}
	want := timeoutsNormal
	if n.cfg.Disk != nil && n.cfg.Disk.Failed() {
		want = timeoutsStayOut
	}
	if want != n.timeoutMode.Load() {
		rc := n.reloadable()
		if want == timeoutsStayOut {
			rc.HeartbeatTimeout, rc.ElectionTimeout = stayOutTimeout, stayOutTimeout
		}
		if err := n.raft.ReloadConfig(rc); err != nil {
			n.log.Warn("cannot retune raft timeouts", "err", err)
			return
		}
		n.timeoutMode.Store(want)
	}
	if want == timeoutsNormal && single && n.raft.State() == raft.Follower {
		n.kickElection()
	}
}

// reloadable is the configured values of raft's reloadable settings.
func (n *Node) reloadable() raft.ReloadableConfig {
	return raft.ReloadableConfig{
		TrailingLogs:      n.cfg.TrailingLogs,
		SnapshotInterval:  n.cfg.SnapshotInterval,
		SnapshotThreshold: n.cfg.SnapshotThreshold,
		HeartbeatTimeout:  n.cfg.HeartbeatTimeout,
		ElectionTimeout:   n.cfg.ElectionTimeout,
	}
}

// kickElection makes a follower stand for election now rather than after
// its heartbeat timeout, for a sole voter. hashicorp/raft has no call for
// it, but lowering the heartbeat timeout wakes a follower's timer at once
// (ReloadConfig), and a follower that has not heard from a leader within
// the timeout stands; so the timeout is raised by a millisecond and set
// back. Raft accepts neither a timeout below the leader lease nor a
// lease change, which is why the timeout itself is not simply shortened.
func (n *Node) kickElection() {
	rc := n.reloadable()
	// Raft wants the election timeout at least the heartbeat timeout.
	rc.HeartbeatTimeout += time.Millisecond
	rc.ElectionTimeout = max(rc.ElectionTimeout, rc.HeartbeatTimeout)
	if err := n.raft.ReloadConfig(rc); err != nil {
		n.log.Warn("cannot start an election at once", "err", err)
		return
	}
	if err := n.raft.ReloadConfig(n.reloadable()); err != nil {
		n.log.Warn("cannot start an election at once", "err", err)
	}
}

// leaveLeadership hands leadership to another voter when this node leads
// (its disk failed). A sole voter keeps it: nobody else could lead.
func (n *Node) leaveLeadership() {
	if n.raft.State() != raft.Leader || n.soleVoter.Load() {
		return
	}
	if n.handOverForDisk() {
		return
	}
	if err := n.raft.LeadershipTransfer().Error(); err != nil {
		n.log.Warn("cannot hand over leadership after the disk failed; followers elect a new leader when heartbeats stop", "err", err)
		return
	}
	n.log.Info("handed over leadership: this node's disk cannot be written")
}

// waitReady waits until this node is a ready leader.
func (n *Node) waitReady(ctx context.Context) error {
	n.readyMu.Lock()
	ch := n.ready
	n.readyMu.Unlock()
	if n.raft.State() != raft.Leader {
		return errNotLeader
	}
	t := time.NewTimer(n.cfg.LeaderWait)
	defer t.Stop()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return noLeader()
	}
}

var errNotLeader = errors.New("not the leader")

// Ready waits until this node leads and has applied every entry committed
// before its term (implements registry.Proposer).
func (n *Node) Ready(ctx context.Context) error {
	if err := n.waitReady(ctx); err != nil {
		if errors.Is(err, errNotLeader) {
			return ErrNotLeader
		}
		return err
	}
	return nil
}

func noLeader() error {
	return &model.Error{Kind: model.KindUnavailable, RetryAfter: time.Second, NotApplied: true,
		Msg: "No cluster leader is available right now (an election may be in progress or a quorum of nodes is unreachable). Retry shortly."}
}

// WritesInFlight is nonzero while this node handles a write request or
// replicates a command.
func (n *Node) WritesInFlight() int64 { return n.inflight.Load() }

// Propose replicates a command and returns the store's result once a quorum
// has it on disk and this node applied it.
func (n *Node) Propose(ctx context.Context, c command.Command) (any, error) {
	data, err := command.Encode(c)
	if err != nil {
		return nil, err
	}
	return n.proposeEncoded(ctx, c.Type(), data)
}

// proposeEncoded is Propose for a command already encoded (as data) by
// command.Encode: a 1 MiB site-to-site chunk is not encoded twice.
func (n *Node) proposeEncoded(ctx context.Context, typ command.Type, data []byte) (any, error) {
	// The version gate: a command kind newer builds introduced is proposed
	// only once every voter can apply it; an older voter would stop at it.
	if need := command.LevelOf(typ); need > 1 {
		if err := n.levelGate(ctx, typ, need); err != nil {
			return nil, err
		}
	}
	if err := n.waitReady(ctx); err != nil {
		if errors.Is(err, errNotLeader) {
			return nil, ErrNotLeader
		}
		return nil, err
	}
	timeout := 30 * time.Second
	if dl, ok := ctx.Deadline(); ok {
		timeout = time.Until(dl)
	}
	start := time.Now()
	n.inflight.Add(1)
	f := n.raft.Apply(data, timeout)
	ferr := f.Error()
	n.inflight.Add(-1)
	if obs := n.proposeObs.Load(); obs != nil {
		(*obs)(time.Since(start), ferr)
	}
	if err := ferr; err != nil {
		switch {
		case errors.Is(err, raft.ErrNotLeader):
			// Not appended: safe for the caller to send elsewhere.
			return nil, ErrNotLeader
		case errors.Is(err, raft.ErrLeadershipTransferInProgress):
			// Refused before it was appended (a transfer is under way):
			// the write goes to the next leader.
			return nil, ErrNotLeader
		case errors.Is(err, raft.ErrLeadershipLost):
			// Appended, then leadership moved: wait for what the next
			// leader made of the entry.
			r, applied, known := n.outcome(ctx, f.Index(), data)
			switch {
			case known && applied:
				res, ok := r.(store.Result)
				if !ok {
					return nil, fmt.Errorf("unexpected apply result %T", r)
				}
				return res.Value, res.Err
			case known:
				return nil, ErrNotLeader
			}
			return nil, model.Unavailable("Leadership changed while the write was being replicated; it may or may not have been applied. Check and retry.", time.Second)
		case errors.Is(err, raft.ErrEnqueueTimeout):
			return nil, model.Unavailable("The cluster did not accept the write in time. Retry shortly.", time.Second)
		case errors.Is(err, raft.ErrRaftShutdown):
			return nil, model.Unavailable("This node is shutting down. Retry on another node.", time.Second)
		}
		// The leader could not append the entry to its own log (its disk
		// failed; see package disk): a quorum may still have it.
		return nil, model.Unavailable("The leader could not store the write on its disk ("+disk.Describe(err)+"); it may or may not have been applied. Check and retry.", time.Second)
	}
	r, ok := f.Response().(store.Result)
	if !ok {
		return nil, fmt.Errorf("unexpected apply response %T", f.Response())
	}
	return r.Value, r.Err
}

// ObservePropose registers fn to be told the duration of every Propose
// from raft.Apply until the entry was committed and applied here (or
// failed). Used by the metrics package; fn must be quick.
func (n *Node) ObservePropose(fn func(d time.Duration, err error)) { n.proposeObs.Store(&fn) }

// ErrNotLeader means the command was not accepted because this node does
// not lead; it was not appended anywhere.
var ErrNotLeader = &model.Error{Kind: model.KindUnavailable, Msg: "This node is not the cluster leader.", RetryAfter: time.Second, NotApplied: true, NotLeader: true}

// ReadBarrier makes a following read linearizable: it learns the leader's
// commit index (after the leader confirmed it still leads) and waits until
// this node has applied it.
func (n *Node) ReadBarrier(ctx context.Context) error {
	n.barriers.Add(1)
	var idx uint64
	if n.soleVoter.Load() && n.raft.State() != raft.Leader {
		// The only voter: no other node can commit, and a write is
		// acknowledged only once applied here, so the local state is
		// linearizable even while this node cannot lead (its disk
		// failed, or it is starting).
		return nil
	}
	if n.raft.State() == raft.Leader {
		if n.soleVoter.Load() && n.isReady.Load() {
			return n.waitApplied(ctx, n.applyTarget(n.raft.CommitIndex()))
		}
		if err := n.waitReady(ctx); err != nil {
			if !errors.Is(err, errNotLeader) {
				return err
			}
		} else {
			i, err := n.reads.wait(ctx)
			if err == nil {
				idx = i
				return n.waitApplied(ctx, idx)
			}
			if !errors.Is(err, raft.ErrNotLeader) && !errors.Is(err, raft.ErrLeadershipLost) {
				return err
			}
		}
	}
	i, err := n.remoteReadIndex(ctx)
	if err != nil {
		return err
	}
	return n.waitApplied(ctx, i)
}

func (n *Node) waitApplied(ctx context.Context, idx uint64) error {
	if n.st.AppliedIndex() >= idx {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, n.cfg.LeaderWait)
	defer cancel()
	if !n.st.WaitApplied(ctx.Done(), idx) {
		return model.Unavailable("This node is catching up with the cluster. Retry shortly, or read with ?consistency=stale.", time.Second)
	}
	return nil
}

// Isolate cuts this node off from its cluster for d, as if its zone had
// lost power, for drills: no cluster connection is dialled or accepted and
// the open ones are closed; the data stays. It returns when the isolation
// ends by itself (Rejoin ends it sooner; a restart ends it too).
func (n *Node) Isolate(d time.Duration) time.Time {
	until := n.iso.on(d)
	n.trans.CloseStreams()
	n.log.Warn("isolated from the cluster (drill)", "until", until)
	return until
}

// Rejoin ends an isolation.
func (n *Node) Rejoin() {
	if !n.iso.Until().IsZero() {
		n.log.Warn("rejoining the cluster (drill over)")
	}
	n.iso.off()
}

// IsolatedUntil is when the current isolation ends, zero when none.
func (n *Node) IsolatedUntil() time.Time { return n.iso.Until() }

// TransferLeadership hands leadership to another voter (to id if given).
func (n *Node) TransferLeadership(id string) error {
	f := n.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return err
	}
	if id == "" {
		// raft's own answer for a cluster with no other voter is a bare
		// error (a 500); this is the operator's mistake, said plainly.
		for _, s := range f.Configuration().Servers {
			if string(s.ID) != n.cfg.ID && s.Suffrage == raft.Voter {
				return n.raft.LeadershipTransfer().Error()
			}
		}
		return model.Conflict("No other voter can take over: " + n.cfg.ID + " is the cluster's only voter.")
	}
	for _, s := range f.Configuration().Servers {
		if string(s.ID) != id {
			continue
		}
		switch {
		case id == n.cfg.ID:
			return model.Conflict(id + " already leads the cluster.")
		case s.Suffrage != raft.Voter:
			return model.Conflict(id + " is not a voter (a read replica, or still catching up): only a voter can lead.")
		}
		return n.raft.LeadershipTransferToServer(s.ID, s.Address).Error()
	}
	return model.NotFound("No cluster member with id " + id)
}

// Shutdown leaves gracefully: a leader first hands leadership to another
// voter so clients see no election gap.
func (n *Node) Shutdown() error {
	var err error
	n.closeOnce.Do(func() {
		if n.raft.State() == raft.Leader && !n.soleVoter.Load() {
			if e := n.raft.LeadershipTransfer().Error(); e != nil {
				n.log.Info("no leadership transfer on shutdown", "err", e)
			}
		}
		close(n.stopCh)
		if n.rpc != nil {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			_ = n.rpc.Shutdown(ctx)
			cancel()
		}
		err = n.raft.Shutdown().Error()
		n.wg.Wait()
		n.closeTransport()
	})
	return err
}

func (n *Node) closeTransport() {
	if n.trans != nil {
		n.trans.Close()
	}
	if n.mux != nil {
		n.mux.Close()
	}
	if n.logs.WAL != nil {
		n.logs.Close()
	}
}

// Raft exposes the raft instance for status and tests.
func (n *Node) Raft() *raft.Raft { return n.raft }

// newHCLogger bridges raft's (and raft-wal's) hclog logging to our slog
// logger, each line at its own level: `--log-level warn` shows Raft's
// warnings and errors (elections, failed heartbeats) and hides its info.
func newHCLogger(l *slog.Logger) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{Name: "raft", Level: hclog.Info, Output: hclogWriter{l}, DisableTime: true})
}

// hclogWriter takes hclog's formatted lines ("[WARN]  raft: msg: k=v")
// and logs each at the level its prefix names.
type hclogWriter struct{ l *slog.Logger }

var hclogLevels = []struct {
	prefix string
	level  slog.Level
}{{"[TRACE]", slog.LevelDebug - 4}, {"[DEBUG]", slog.LevelDebug}, {"[INFO]", slog.LevelInfo}, {"[WARN]", slog.LevelWarn}, {"[ERROR]", slog.LevelError}}

func (w hclogWriter) Write(p []byte) (int, error) {
	line, level := strings.TrimRight(string(p), "\n"), slog.LevelInfo
	for _, h := range hclogLevels {
		if rest, ok := strings.CutPrefix(line, h.prefix); ok {
			line, level = strings.TrimSpace(rest), h.level
			break
		}
	}
	w.l.Log(context.Background(), level, line)
	return len(p), nil
}

func trimURL(u string) string { return strings.TrimRight(u, "/") }

// catchUpFromSnapshot restores the newest Raft snapshot into the store when
// the store holds less than it: after a crash of the machine discarded an
// unsynced store, or when the store file was deleted. Raft runs with
// NoSnapshotRestoreOnStart and replays only the log after its newest
// snapshot, so the store must hold at least that snapshot's state.
func catchUpFromSnapshot(st *store.Store, snaps raft.SnapshotStore, log *slog.Logger) (uint64, error) {
	list, err := snaps.List()
	if err != nil || len(list) == 0 {
		return 0, err
	}
	meta := list[0]
	_, rc, err := snaps.Open(meta.ID)
	if err != nil {
		return 0, fmt.Errorf("open raft snapshot %s: %w", meta.ID, err)
	}
	f, err := store.ReadFrameHeader(rc)
	rc.Close()
	if err != nil {
		return 0, fmt.Errorf("raft snapshot %s: %w", meta.ID, err)
	}
	if st.AppliedIndex() >= f.Index {
		return meta.Index, nil
	}
	log.Warn("the store is behind the newest Raft snapshot; restoring it before replaying the log",
		"storeApplied", st.AppliedIndex(), "snapshot", meta.ID, "snapshotApplied", f.Index)
	_, rc, err = snaps.Open(meta.ID)
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	return meta.Index, restoreSnapshot(st, rc, log)
}

// checkLogCovers refuses a data directory whose state is behind the start
// of the Raft log with no snapshot to bridge the gap (the store file was
// replaced or lost along with the snapshots): replaying would skip the
// missing entries, and this node would serve, or seed others from, a
// registry with holes. The store holds everything up to the newest
// snapshot's index once caught up with it (entries such as barriers never
// reach the store, so its own applied index may be lower).
func checkLogCovers(st *store.Store, snapIndex uint64, logs raft.LogStore) error {
	first, err := logs.FirstIndex()
	if err != nil || first <= 1 {
		return err
	}
	if covered := max(st.AppliedIndex(), snapIndex); covered+1 < first {
		return fmt.Errorf("the store (applied up to entry %d) is behind the Raft log, which starts at entry %d, and no Raft snapshot covers the entries between: this data directory is incomplete. Wipe it and let the node rejoin its cluster, or restore it from a backup", covered, first)
	}
	return nil
}
