package relay

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/weir-nifi/weir/internal/command"
	"github.com/weir-nifi/weir/internal/model"
	"github.com/weir-nifi/weir/internal/s2s/queue"
	"github.com/weir-nifi/weir/internal/store"
)

// Pull leases of shared output ports live in the leader's memory once
// every voter understands AckFlows (command level 11): a pull costs one
// log entry, its confirm, instead of two. A follower asks the leader for a
// lease over the cluster port (CallLeader) and streams the flowfiles from
// its own replica; the confirm names the flowfiles it removes. A leader
// change forgets every lease: their flowfiles go out again, as after a
// lease's TTL (at-least-once). Ordered ports keep the replicated lease,
// whose one-live-lease rule must survive a leader change.
// docs/s2s-design.md, "Leases in the leader's memory".

// Names of the functions the relay serves on the leader (LeaderFuncs).
const (
	callLease = "s2s.lease"
	callEnd   = "s2s.end"
)

// leaseReq asks the leader for a lease.
type leaseReq struct {
	Port     string `json:"port"`
	Tx       string `json:"tx"`
	MaxCount int64  `json:"maxCount"`
	MaxBytes int64  `json:"maxBytes"`
	// Runs asks for the flowfiles as runs of sequence numbers: the
	// caller, a follower, reads their records from its own replica.
	// Sending 1,024 records as JSON made a single puller served by a
	// follower about a quarter slower than one served by the leader. A
	// leader of an older build ignores Runs and answers Flows.
	Runs bool `json:"runs,omitempty"`
}

// leaseGrant is the leader's answer: the flowfiles leased, in queue
// order, or Ordered when the port keeps the replicated lease, with Busy
// when memory leases taken before the port was made ordered are still
// live on its queue (the pull then gets nothing, as a pull of an ordered
// port does while another lease is live).
type leaseGrant struct {
	Queue   string       `json:"queue"`
	Flows   []queue.Flow `json:"flows,omitempty"`
	Ordered bool         `json:"ordered,omitempty"`
	Busy    bool         `json:"busy,omitempty"`
	// Runs answers a request for Runs: the flowfiles' sequence numbers.
	Runs [][2]uint64 `json:"runs,omitempty"`
}

type endReq struct {
	Tx string `json:"tx"`
}

// memLeases are the leases this node handed out while it leads. They are
// valid only for the leadership term they were made in (epoch, the
// cluster's count of this node's leadership changes).
type memLeases struct {
	mu    sync.Mutex
	epoch uint64
	byTx  map[string]*memLease
	held  map[string]map[uint64]string // queue → seq → tx
}

type memLease struct {
	queue   string
	runs    [][2]uint64 // ascending, as granted
	expires time.Time
}

// reset forgets every lease when the term changed.
func (m *memLeases) reset(epoch uint64) {
	if m.byTx != nil && m.epoch == epoch {
		return
	}
	m.epoch = epoch
	m.byTx = map[string]*memLease{}
	m.held = map[string]map[uint64]string{}
}

func (m *memLeases) drop(tx string) {
	l := m.byTx[tx]
	if l == nil {
		return
	}
	delete(m.byTx, tx)
	h := m.held[l.queue]
	for _, r := range l.runs {
		for seq := r[0]; seq <= r[1]; seq++ {
			if h[seq] == tx {
				delete(h, seq)
			}
		}
	}
	if len(h) == 0 {
		delete(m.held, l.queue)
	}
}

func (m *memLeases) expire(now time.Time) {
	for tx, l := range m.byTx {
		if !now.Before(l.expires) {
			m.drop(tx)
		}
	}
}

// end forgets a lease (its pull acked or released it).
func (m *memLeases) end(tx string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.byTx != nil {
		m.drop(tx)
	}
}

// leased counts the flowfiles of a queue held by live leases.
func (m *memLeases) leased(queue string) int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return int64(len(m.held[queue]))
}

// LeaderFuncs are the functions the relay serves on the leader; the
// daemon registers them with the cluster node (HandleLeader).
func (r *Relay) LeaderFuncs() map[string]func(context.Context, json.RawMessage) (any, error) {
	return map[string]func(context.Context, json.RawMessage) (any, error){
		callLease: func(ctx context.Context, b json.RawMessage) (any, error) {
			var req leaseReq
			if err := json.Unmarshal(b, &req); err != nil {
				return nil, model.Invalid(err.Error())
			}
			g, err := r.grant(req)
			if err == nil && req.Runs && len(g.Flows) > 0 {
				g.Runs, g.Flows = runsOf(g.Flows), nil
			}
			return g, err
		},
		callEnd: func(ctx context.Context, b json.RawMessage) (any, error) {
			var req endReq
			if err := json.Unmarshal(b, &req); err != nil {
				return nil, model.Invalid(err.Error())
			}
			r.mem.end(req.Tx)
			return nil, nil
		},
	}
}

// grant leases, on the leader, the oldest flowfiles of the port's queue
// that no lease holds. Grants are serialized, so no flowfile is in two
// live leases of one term. A retried request (same transaction) gets the
// flowfiles of its lease that are still queued.
func (r *Relay) grant(req leaseReq) (leaseGrant, error) {
	if req.Tx == "" {
		return leaseGrant{}, model.Invalid("A lease needs a transaction id.")
	}
	// Its confirm must fit one AckFlows, whatever the client's batch
	// count: at most MaxAckRuns runs, so at most that many flowfiles.
	req.MaxCount = min(req.MaxCount, command.MaxAckRuns)
	now := r.opt.Now()
	m := &r.mem
	m.mu.Lock()
	defer m.mu.Unlock()
	m.reset(r.c.LeaderChanges())
	m.expire(now)
	var g leaseGrant
	err := r.st.Read(func(tx *store.Tx) (err error) {
		if l := m.byTx[req.Tx]; l != nil {
			g.Queue = l.queue
			g.Flows, err = queue.FlowRuns(tx.Bolt(), l.queue, l.runs)
			return err
		}
		held := func(q string, seq uint64) bool { _, ok := m.held[q][seq]; return ok }
		g.Queue, g.Flows, g.Ordered, err = queue.Available(tx.Bolt(), req.Port, now.UnixMilli(), held, req.MaxCount, req.MaxBytes)
		return err
	})
	if g.Ordered {
		g.Busy = len(m.held[g.Queue]) > 0
	}
	if err != nil || g.Ordered || len(g.Flows) == 0 || m.byTx[req.Tx] != nil {
		return g, err
	}
	l := &memLease{queue: g.Queue, runs: runsOf(g.Flows), expires: now.Add(r.opt.LeaseTTL)}
	h := m.held[g.Queue]
	if h == nil {
		h = map[uint64]string{}
		m.held[g.Queue] = h
	}
	for _, f := range g.Flows {
		h[f.Seq] = req.Tx
	}
	m.byTx[req.Tx] = l
	return g, nil
}

var errBadGrant = &model.Error{Kind: model.KindUnavailable, Msg: "The leader's grant was malformed; retry."}

// replicaFlows reads the records of the flowfiles a leader granted as
// runs from this replica. A granted flowfile was nearly always queued
// long before, and this replica has it; only when some are missing does
// it take a read barrier (on a follower it lasts until the leader's next
// message, so it is not taken for every pull). Records do not change
// once written (a memory lease is not recorded in them), so an older
// replica's copy is the leader's. What is gone by then (expired, or its
// port deleted) is not sent, and the ack does not name it.
func (r *Relay) replicaFlows(ctx context.Context, g leaseGrant) ([]queue.Flow, error) {
	// A grant is at most MaxAckRuns flowfiles (its confirm must fit one
	// AckFlows), in ascending runs: anything else is not walked.
	want, ok := command.CheckRuns(g.Runs)
	if !ok || want > command.MaxAckRuns {
		return nil, errBadGrant
	}
	read := func() (flows []queue.Flow, err error) {
		err = r.st.Read(func(tx *store.Tx) error {
			flows, err = queue.FlowRuns(tx.Bolt(), g.Queue, g.Runs)
			return err
		})
		return flows, err
	}
	flows, err := read()
	if err != nil || uint64(len(flows)) == want {
		return flows, err
	}
	if err := r.c.ReadBarrier(ctx); err != nil {
		return nil, err
	}
	return read()
}

// endMem ends a memory lease on the leader: at once when this node leads,
// else by a call, which wait says to wait for; one that does not wait
// does not hold the client up, and a lost one leaves the lease to its TTL.
func (r *Relay) endMem(tx string, wait bool) {
	if r.c.IsLeader() {
		r.mem.end(tx)
		return
	}
	call := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := r.c.CallLeader(ctx, callEnd, endReq{Tx: tx}, nil); err != nil {
			r.opt.Log.Debug("site-to-site: cannot end a pull's lease on the leader; it expires", "tx", tx, "err", err)
		}
	}
	if wait {
		call()
		return
	}
	go call()
}

// runsOf writes ascending sequence numbers as runs [first, last].
func runsOf(flows []queue.Flow) [][2]uint64 {
	var runs [][2]uint64
	for _, f := range flows {
		if n := len(runs); n > 0 && runs[n-1][1]+1 == f.Seq {
			runs[n-1][1] = f.Seq
			continue
		}
		runs = append(runs, [2]uint64{f.Seq, f.Seq})
	}
	return runs
}
