package harness

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/weir-nifi/weir/internal/client"
	"github.com/weir-nifi/weir/internal/linearize"
	"github.com/weir-nifi/weir/internal/model"
)

// ---- the history recorder

// History records the operations of concurrent clients with their
// invocation and return times, for a linearizability check.
type History struct {
	mu    sync.Mutex
	start time.Time
	ops   []*Op
	tags  atomic.Int64
}

// Op is one recorded operation.
type Op struct {
	Client int
	Node   string // node the request was sent to
	Input  linearize.Input
	Output linearize.Output
	Call   int64  // ns since the history began
	Return int64  // 0 while pending or when the outcome is unknown
	Err    string // the error the client got, if any
	done   bool
	drop   bool
	h      *History
}

// NewHistory starts an empty history.
func NewHistory() *History { return &History{start: time.Now()} }

func (h *History) now() int64 { return int64(time.Since(h.start)) }

// Tag returns a fresh operation tag (1, 2, ...).
func (h *History) Tag() int { return int(h.tags.Add(1)) }

// Invoke records that a client is about to send an operation.
func (h *History) Invoke(clientID int, node string, in linearize.Input) *Op {
	op := &Op{Client: clientID, Node: node, Input: in, h: h}
	h.mu.Lock()
	op.Call = h.now()
	h.ops = append(h.ops, op)
	h.mu.Unlock()
	return op
}

// End records the answer.
func (op *Op) End(out linearize.Output) { op.EndErr(out, nil) }

// EndErr records the answer and the error that carried it (a refusal).
func (op *Op) EndErr(out linearize.Output, err error) {
	op.h.mu.Lock()
	op.Output, op.Return, op.done = out, op.h.now(), true
	op.Err = errString(err)
	op.h.mu.Unlock()
}

// Unknown records that the client cannot know whether the operation took
// effect: it may take effect at any time after its invocation.
func (op *Op) Unknown(err error) {
	op.h.mu.Lock()
	op.Output = linearize.Output{Outcome: linearize.Unknown}
	op.Err, op.done = errString(err), true
	op.h.mu.Unlock()
}

// Drop removes the operation (a read that got no answer constrains
// nothing).
func (op *Op) Drop() {
	op.h.mu.Lock()
	op.drop = true
	op.h.mu.Unlock()
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// Ops returns a copy of the recorded operations.
func (h *History) Ops() []Op {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]Op, 0, len(h.ops))
	for _, op := range h.ops {
		if !op.drop {
			out = append(out, *op)
		}
	}
	return out
}

// Operations converts the history for porcupine. Operations with an
// unknown outcome (and any still pending) return after everything else,
// i.e. they may have taken effect at any point after their invocation.
func (h *History) Operations() []porcupine.Operation {
	h.mu.Lock()
	defer h.mu.Unlock()
	end := h.now() + 1
	for _, op := range h.ops {
		if op.Return >= end {
			end = op.Return + 1
		}
	}
	out := make([]porcupine.Operation, 0, len(h.ops))
	for _, op := range h.ops {
		if op.drop {
			continue
		}
		o, ret := op.Output, op.Return
		if !op.done || op.Output.Outcome == linearize.Unknown {
			o, ret = linearize.Output{Outcome: linearize.Unknown}, end
		}
		meta := op.Node
		if op.Err != "" {
			meta += ": " + op.Err
		}
		out = append(out, porcupine.Operation{ClientId: op.Client, Input: op.Input, Call: op.Call, Output: o, Return: ret, Metadata: meta})
	}
	return out
}

// CheckLinearizable checks the history against linearize.Model and fails
// the test if it is not linearizable, leaving porcupine's visualisation in
// a directory that outlives the test.
func (h *History) CheckLinearizable(t testing.TB, timeout time.Duration) linearize.Result {
	t.Helper()
	ops := h.Operations()
	r := linearize.Check(ops, timeout)
	switch r.Verdict {
	case porcupine.Ok:
		t.Logf("history of %d operations over %d keys is linearizable", len(ops), r.Partitions)
	case porcupine.Unknown:
		t.Errorf("linearizability check of %d operations timed out after %v", len(ops), timeout)
	default:
		dir, err := os.MkdirTemp("", "weir-history-")
		path := filepath.Join(dir, "history.html")
		if err == nil {
			err = linearize.Visualize(r, path)
		}
		t.Errorf("history of %d operations is NOT linearizable; visualisation: %s (%v)\n%s", len(ops), path, err, describeIllegal(ops))
	}
	return r
}

// describeIllegal lists, for each key whose operations are not
// linearizable, its operations in invocation order.
func describeIllegal(ops []porcupine.Operation) string {
	var b strings.Builder
	for _, key := range linearize.IllegalKeys(ops, time.Minute) {
		fmt.Fprintf(&b, "not linearizable: %s\n", key)
		var part []porcupine.Operation
		for _, op := range ops {
			if op.Input.(linearize.Input).Key == key {
				part = append(part, op)
			}
		}
		sort.Slice(part, func(i, j int) bool { return part[i].Call < part[j].Call })
		if len(part) > 200 {
			part = part[len(part)-200:]
			fmt.Fprintf(&b, "  (last 200 operations)\n")
		}
		for _, op := range part {
			ret := fmt.Sprintf("%.3fs", float64(op.Return)/1e9)
			if op.Output.(linearize.Output).Outcome == linearize.Unknown {
				ret = "?"
			}
			fmt.Fprintf(&b, "  client %d [%.3fs, %s] %s (%v)\n", op.ClientId, float64(op.Call)/1e9, ret, linearize.Describe(op), op.Metadata)
		}
	}
	return b.String()
}

// ---- the workload

// WorkloadOptions tune a Workload.
type WorkloadOptions struct {
	Clients        int           // concurrent clients (default 8)
	BucketNames    int           // bucket names clients compete for (default 3)
	FlowNames      int           // flow names per bucket (default 4)
	RequestTimeout time.Duration // per request (default 10s)
	Seed           int64
}

// Workload is a set of concurrent clients sending random registry
// operations to random nodes (running or not, as real clients would) and
// recording them in a History. Clients compete for a few bucket and flow
// names and commit versions of the same few flows, with "-1" and with
// explicit next numbers.
type Workload struct {
	c    *Cluster
	o    WorkloadOptions
	H    *History
	stop chan struct{}
	once sync.Once
	wg   sync.WaitGroup

	mu        sync.Mutex
	buckets   map[string]string // name → id, as learnt
	flows     map[string]flowRef
	flowIDs   []string
	maxSeen   map[string]int32      // flow id → highest version seen
	ackBucket map[string]string     // id → name of acknowledged creates
	ackFlow   map[string]flowRef    // id → flow of acknowledged creates
	commits   map[int]CommitAttempt // tag → commit attempt
	anomalies []string

	acked   atomic.Int64
	outcome [5]atomic.Int64 // by linearize.Outcome, writes only
	pace    atomic.Int64    // pause between a client's operations (ns)
}

type flowRef struct{ BucketID, Name string }

// CommitAttempt is one commit a client sent.
type CommitAttempt struct {
	Flow      string
	Requested int32 // -1 or an explicit number
	Outcome   linearize.Outcome
	Version   int32  // the number it was given, when acknowledged
	Node      string // the node it was sent to
}

// StartWorkload starts the clients.
func (c *Cluster) StartWorkload(o WorkloadOptions) *Workload {
	if o.Clients == 0 {
		o.Clients = 8
	}
	if o.BucketNames == 0 {
		o.BucketNames = 3
	}
	if o.FlowNames == 0 {
		o.FlowNames = 4
	}
	if o.RequestTimeout == 0 {
		o.RequestTimeout = 10 * time.Second
	}
	if o.Seed == 0 {
		o.Seed = time.Now().UnixNano()
	}
	w := &Workload{c: c, o: o, H: NewHistory(), stop: make(chan struct{}),
		buckets: map[string]string{}, flows: map[string]flowRef{}, maxSeen: map[string]int32{},
		ackBucket: map[string]string{}, ackFlow: map[string]flowRef{}, commits: map[int]CommitAttempt{}}
	c.t.Logf("workload: %d clients, seed %d", o.Clients, o.Seed)
	for i := 0; i < o.Clients; i++ {
		w.wg.Add(1)
		go w.run(i, rand.New(rand.NewSource(o.Seed+int64(i))))
	}
	c.t.Cleanup(w.Stop)
	return w
}

// SetPace makes every client pause d between operations (0: none), to
// keep histories small while a scenario waits for something slow.
func (w *Workload) SetPace(d time.Duration) { w.pace.Store(int64(d)) }

// Acked is the number of acknowledged writes so far.
func (w *Workload) Acked() int64 { return w.acked.Load() }

// WaitAcked waits until n more writes have been acknowledged.
func (w *Workload) WaitAcked(n int64, timeout time.Duration) error {
	target := w.acked.Load() + n
	deadline := time.Now().Add(timeout)
	for w.acked.Load() < target {
		if time.Now().After(deadline) {
			return fmt.Errorf("only %d of %d more writes acknowledged in %v (%s)", n-(target-w.acked.Load()), n, timeout, w.Summary())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil
}

// MustProgress is WaitAcked failing the test: the cluster accepts writes.
func (w *Workload) MustProgress(n int64) {
	w.c.t.Helper()
	if err := w.WaitAcked(n, 90*time.Second); err != nil {
		w.c.t.Fatal(err)
	}
}

// Stop stops the clients and waits for their requests to end.
func (w *Workload) Stop() {
	w.once.Do(func() { close(w.stop) })
	w.wg.Wait()
}

// Summary counts write outcomes.
func (w *Workload) Summary() string {
	return fmt.Sprintf("writes ok=%d refused=%d failed=%d unknown=%d",
		w.outcome[linearize.OK].Load(), w.outcome[linearize.Refused].Load(),
		w.outcome[linearize.Failed].Load(), w.outcome[linearize.Unknown].Load())
}

// Commits returns the commit attempts by tag.
func (w *Workload) Commits() map[int]CommitAttempt {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make(map[int]CommitAttempt, len(w.commits))
	for k, v := range w.commits {
		out[k] = v
	}
	return out
}

func (w *Workload) anomaly(format string, args ...any) {
	w.mu.Lock()
	w.anomalies = append(w.anomalies, fmt.Sprintf(format, args...))
	w.mu.Unlock()
}

func (w *Workload) stopped() bool {
	select {
	case <-w.stop:
		return true
	default:
		return false
	}
}

func (w *Workload) newClient(n *Node) *client.Client {
	cl := client.New(n.API)
	cl.HTTP = &http.Client{Timeout: w.o.RequestTimeout}
	return cl
}

func (w *Workload) run(id int, rnd *rand.Rand) {
	defer w.wg.Done()
	clients := map[*Node]*client.Client{}
	for !w.stopped() {
		n := w.c.Nodes[rnd.Intn(len(w.c.Nodes))]
		cl := clients[n]
		if cl == nil {
			cl = w.newClient(n)
			clients[n] = cl
		}
		pause := time.Duration(w.pace.Load())
		if failedFast := w.step(id, n, cl, rnd); failedFast {
			// The node is down: do not spin.
			pause = max(pause, 20*time.Millisecond)
		}
		if pause > 0 {
			select {
			case <-w.stop:
			case <-time.After(pause):
			}
		}
	}
}

// step runs one random operation; it reports a request that failed
// without reaching a server.
func (w *Workload) step(id int, n *Node, cl *client.Client, rnd *rand.Rand) bool {
	w.mu.Lock()
	var bucketIDs []string
	for _, b := range w.buckets {
		bucketIDs = append(bucketIDs, b)
	}
	sort.Strings(bucketIDs)
	flowIDs := append([]string(nil), w.flowIDs...)
	w.mu.Unlock()

	ctx := context.Background()
	r := rnd.Intn(100)
	switch {
	case len(bucketIDs) == 0 && r < 50, r < 3:
		return w.createBucket(ctx, id, n, cl, fmt.Sprintf("bucket-%d", rnd.Intn(w.o.BucketNames)))
	case len(bucketIDs) == 0, r < 5:
		return w.listBuckets(ctx, id, n, cl)
	case len(flowIDs) == 0 && r < 50, r < 10:
		return w.createFlow(ctx, id, n, cl, bucketIDs[rnd.Intn(len(bucketIDs))], fmt.Sprintf("flow-%d", rnd.Intn(w.o.FlowNames)))
	case len(flowIDs) == 0, r < 13:
		return w.listFlows(ctx, id, n, cl, bucketIDs[rnd.Intn(len(bucketIDs))])
	}
	flow := flowIDs[rnd.Intn(len(flowIDs))]
	switch {
	case r < 50:
		return w.commit(ctx, id, n, cl, flow, -1)
	case r < 65:
		w.mu.Lock()
		next := w.maxSeen[flow] + 1
		w.mu.Unlock()
		return w.commit(ctx, id, n, cl, flow, next)
	case r < 85:
		return w.readLatest(ctx, id, n, cl, flow)
	default:
		return w.readCount(ctx, id, n, cl, flow)
	}
}

// classify maps a write's error to its outcome: 409 is a refusal by the
// state machine; a request that never reached a server, or that the server
// answered with a definite "not done" (a 503 marked X-Weir-Not-Applied,
// or 507: refused for want of disk space before anything was proposed),
// did not happen; anything else (timeouts, broken connections, other 503s
// and 5xx) is unknown. The header, not the message, decides: a 503 whose
// text does not happen to say "may or may not" is no proof that nothing
// was written.
func classify(err error) linearize.Outcome {
	var ce *client.Error
	if errors.As(err, &ce) {
		switch {
		case ce.Status == http.StatusConflict:
			return linearize.Refused
		case ce.Status == http.StatusServiceUnavailable && ce.Header.Get(model.HeaderNotApplied) != "":
			return linearize.Failed
		case ce.Status == http.StatusInsufficientStorage:
			return linearize.Failed
		case ce.Status >= 400 && ce.Status < 500:
			return linearize.Failed
		}
		return linearize.Unknown
	}
	if notSent(err) {
		return linearize.Failed
	}
	return linearize.Unknown
}

// notSent reports an error from connecting, before any byte of the
// request was sent.
func notSent(err error) bool {
	var oe *net.OpError
	return errors.As(err, &oe) && oe.Op == "dial"
}

func (w *Workload) finish(op *Op, out linearize.Outcome, err error) {
	w.outcome[out].Add(1)
	var ce *client.Error
	if errors.As(err, &ce) && ce.Status != http.StatusConflict && ce.Status != http.StatusServiceUnavailable && ce.Status != http.StatusInsufficientStorage {
		w.anomaly("#%d %s on %s: unexpected %v", op.Input.Tag, linearize.Describe(porcupine.Operation{Input: op.Input, Output: linearize.Output{Outcome: out}}), op.Node, err)
	}
	switch out {
	case linearize.OK:
		w.acked.Add(1)
	case linearize.Unknown:
		op.Unknown(err)
	default:
		op.EndErr(linearize.Output{Outcome: out}, err)
	}
}

func (w *Workload) createBucket(ctx context.Context, id int, n *Node, cl *client.Client, name string) bool {
	op := w.H.Invoke(id, n.Opts.ID, linearize.Input{Kind: linearize.CreateBucket, Key: linearize.BucketKey(name), Tag: w.H.Tag()})
	b, err := cl.CreateBucket(ctx, model.Bucket{Name: model.Str(name)}, false)
	if err != nil {
		out := classify(err)
		w.finish(op, out, err)
		return notSent(err)
	}
	op.End(linearize.Output{Outcome: linearize.OK})
	w.finish(op, linearize.OK, nil)
	if b.Identifier == nil || model.Deref(b.Name) != name {
		w.anomaly("create bucket %q answered %+v", name, b)
		return false
	}
	w.mu.Lock()
	w.buckets[name] = *b.Identifier
	w.ackBucket[*b.Identifier] = name
	w.mu.Unlock()
	return false
}

func (w *Workload) createFlow(ctx context.Context, id int, n *Node, cl *client.Client, bucketID, name string) bool {
	op := w.H.Invoke(id, n.Opts.ID, linearize.Input{Kind: linearize.CreateFlow, Key: linearize.FlowNameKey(bucketID, name), Tag: w.H.Tag()})
	f, err := cl.CreateFlow(ctx, bucketID, model.VersionedFlow{Name: model.Str(name), Type: model.ItemTypeFlow})
	if err != nil {
		w.finish(op, classify(err), err)
		return notSent(err)
	}
	op.End(linearize.Output{Outcome: linearize.OK})
	w.finish(op, linearize.OK, nil)
	if f.Identifier == nil || model.Deref(f.Name) != name || model.Deref(f.BucketIdentifier) != bucketID {
		w.anomaly("create flow %q in %s answered %+v", name, bucketID, f)
		return false
	}
	w.mu.Lock()
	w.learnFlow(*f.Identifier, flowRef{BucketID: bucketID, Name: name})
	w.ackFlow[*f.Identifier] = flowRef{BucketID: bucketID, Name: name}
	w.mu.Unlock()
	return false
}

// learnFlow adds a flow clients may use (w.mu held).
func (w *Workload) learnFlow(id string, f flowRef) {
	if _, ok := w.flows[id]; !ok {
		w.flows[id] = f
		w.flowIDs = append(w.flowIDs, id)
	}
}

// listBuckets reads the bucket list, learning ids, and records one lookup
// per contested name (the projection of one atomic read onto each name).
func (w *Workload) listBuckets(ctx context.Context, id int, n *Node, cl *client.Client) bool {
	call := w.H.now()
	bs, err := cl.Buckets(ctx)
	ret := w.H.now()
	if err != nil {
		return notSent(err)
	}
	have := map[string]bool{}
	w.mu.Lock()
	for _, b := range bs {
		name := model.Deref(b.Name)
		if !strings.HasPrefix(name, "bucket-") {
			continue
		}
		have[name] = true
		w.buckets[name] = model.Deref(b.Identifier)
	}
	w.mu.Unlock()
	for i := 0; i < w.o.BucketNames; i++ {
		name := fmt.Sprintf("bucket-%d", i)
		w.H.record(id, n.Opts.ID, call, ret, linearize.Input{Kind: linearize.LookupName, Key: linearize.BucketKey(name), Tag: w.H.Tag()},
			linearize.Output{Outcome: linearize.OK, Exists: have[name]})
	}
	return false
}

func (w *Workload) listFlows(ctx context.Context, id int, n *Node, cl *client.Client, bucketID string) bool {
	call := w.H.now()
	fs, err := cl.Flows(ctx, bucketID)
	ret := w.H.now()
	if err != nil {
		if client.StatusOf(err) == http.StatusNotFound {
			w.anomaly("list flows of known bucket %s on %s: %v", bucketID, n.Opts.ID, err)
		}
		return notSent(err)
	}
	have := map[string]bool{}
	w.mu.Lock()
	for _, f := range fs {
		name := model.Deref(f.Name)
		have[name] = true
		w.learnFlow(model.Deref(f.Identifier), flowRef{BucketID: bucketID, Name: name})
	}
	w.mu.Unlock()
	for i := 0; i < w.o.FlowNames; i++ {
		name := fmt.Sprintf("flow-%d", i)
		w.H.record(id, n.Opts.ID, call, ret, linearize.Input{Kind: linearize.LookupName, Key: linearize.FlowNameKey(bucketID, name), Tag: w.H.Tag()},
			linearize.Output{Outcome: linearize.OK, Exists: have[name]})
	}
	return false
}

// record adds a completed operation with given times.
func (h *History) record(clientID int, node string, call, ret int64, in linearize.Input, out linearize.Output) {
	h.mu.Lock()
	h.ops = append(h.ops, &Op{Client: clientID, Node: node, Input: in, Output: out, Call: call, Return: ret, done: true, h: h})
	h.mu.Unlock()
}

// Marker is what a commit with the given tag writes into the version's
// comments and into its flow contents' name.
func Marker(tag int) string { return "op-" + strconv.Itoa(tag) }

func tagOf(marker string) int {
	t, err := strconv.Atoi(strings.TrimPrefix(marker, "op-"))
	if err != nil || !strings.HasPrefix(marker, "op-") {
		return -1
	}
	return t
}

// snapshotBody is the document a commit posts: small, with the marker in
// the comments and in the flow contents.
func snapshotBody(bucketID, flowID string, version int32, tag int) []byte {
	m := Marker(tag)
	doc := map[string]any{
		"snapshotMetadata": map[string]any{"bucketIdentifier": bucketID, "flowIdentifier": flowID, "version": version, "comments": m},
		"flowContents": map[string]any{
			"identifier": "pg-" + m, "name": m, "componentType": "PROCESS_GROUP",
			"processors": []any{}, "processGroups": []any{}, "connections": []any{},
			"position": map[string]float64{"x": 0, "y": 0},
		},
		"flowEncodingVersion": "1.0",
	}
	b, _ := json.Marshal(doc)
	return b
}

func (w *Workload) commit(ctx context.Context, id int, n *Node, cl *client.Client, flow string, version int32) bool {
	w.mu.Lock()
	ref := w.flows[flow]
	w.mu.Unlock()
	tag := w.H.Tag()
	op := w.H.Invoke(id, n.Opts.ID, linearize.Input{Kind: linearize.Commit, Key: linearize.FlowKey(flow), Version: version, Tag: tag})
	body, err := cl.CommitVersion(ctx, ref.BucketID, flow, snapshotBody(ref.BucketID, flow, version, tag), false)
	if err != nil {
		out := classify(err)
		w.mu.Lock()
		w.commits[tag] = CommitAttempt{Flow: flow, Requested: version, Outcome: out, Node: n.Opts.ID}
		w.mu.Unlock()
		w.finish(op, out, err)
		return notSent(err)
	}
	snap, err := client.DecodeSnapshot(body)
	if err != nil || snap.SnapshotMetadata == nil {
		// Acknowledged, but the answer is unreadable: it happened with
		// some number.
		w.anomaly("commit #%d answered %q: %v", tag, body, err)
		w.finish(op, linearize.Unknown, err)
		return false
	}
	v := snap.SnapshotMetadata.Version
	op.End(linearize.Output{Outcome: linearize.OK, Version: v})
	w.finish(op, linearize.OK, nil)
	if model.Deref(snap.SnapshotMetadata.Comments) != Marker(tag) || contentsName(snap.FlowContents) != Marker(tag) {
		w.anomaly("commit #%d answered version %d with other content", tag, v)
	}
	w.mu.Lock()
	w.commits[tag] = CommitAttempt{Flow: flow, Requested: version, Outcome: linearize.OK, Version: v, Node: n.Opts.ID}
	if v > w.maxSeen[flow] {
		w.maxSeen[flow] = v
	}
	w.mu.Unlock()
	return false
}

func contentsName(raw json.RawMessage) string {
	var c struct {
		Name string `json:"name"`
	}
	_ = json.Unmarshal(raw, &c)
	return c.Name
}

func (w *Workload) readLatest(ctx context.Context, id int, n *Node, cl *client.Client, flow string) bool {
	w.mu.Lock()
	ref := w.flows[flow]
	w.mu.Unlock()
	op := w.H.Invoke(id, n.Opts.ID, linearize.Input{Kind: linearize.ReadLatest, Key: linearize.FlowKey(flow), Tag: w.H.Tag()})
	md, err := cl.LatestMetadata(ctx, ref.BucketID, flow)
	var out linearize.Output
	switch {
	case err == nil:
		out = linearize.Output{Outcome: linearize.OK, Version: md.Version, Writer: tagOf(model.Deref(md.Comments))}
	case client.StatusOf(err) == http.StatusNotFound && strings.Contains(err.Error(), model.MsgNoSnapshots):
		out = linearize.Output{Outcome: linearize.OK}
	default:
		if s := client.StatusOf(err); s != 0 && s != http.StatusServiceUnavailable {
			w.anomaly("read latest of %s on %s: %v", flow, n.Opts.ID, err)
		}
		op.Drop()
		return notSent(err)
	}
	op.End(out)
	w.seen(flow, out.Version)
	return false
}

func (w *Workload) readCount(ctx context.Context, id int, n *Node, cl *client.Client, flow string) bool {
	op := w.H.Invoke(id, n.Opts.ID, linearize.Input{Kind: linearize.ReadCount, Key: linearize.FlowKey(flow), Tag: w.H.Tag()})
	f, err := cl.Flow(ctx, flow)
	if err != nil {
		if s := client.StatusOf(err); s != 0 && s != http.StatusServiceUnavailable {
			w.anomaly("read flow %s on %s: %v", flow, n.Opts.ID, err)
		}
		op.Drop()
		return notSent(err)
	}
	op.End(linearize.Output{Outcome: linearize.OK, Version: int32(f.VersionCount)})
	w.seen(flow, int32(f.VersionCount))
	return false
}

func (w *Workload) seen(flow string, v int32) {
	w.mu.Lock()
	if v > w.maxSeen[flow] {
		w.maxSeen[flow] = v
	}
	w.mu.Unlock()
}

// ---- verification after the faults

// Verify stops the workload, waits until the cluster has converged and
// checks:
//
//	(a) every acknowledged bucket, flow and version is there with the
//	    content that was acknowledged, every stored version was written by
//	    exactly one commit attempt that may have written it, and versions
//	    are numbered 1..n without gaps;
//	(b) the history, completed with final reads of every name and flow, is
//	    linearizable;
//	(c) every node has the same state hash (returned).
func (w *Workload) Verify(t testing.TB) string {
	t.Helper()
	w.Stop()
	w.c.CheckAlive()
	hash, err := w.c.WaitConverged(2 * time.Minute)
	if err != nil {
		t.Fatalf("(c) %v", err)
	}
	t.Logf("(c) all %d running nodes converged on state hash %.12s; %s", len(w.c.Running()), hash, w.Summary())
	leader := w.c.MustLeader()
	cl := w.newClient(leader)
	cl.HTTP.Timeout = 30 * time.Second
	ctx := context.Background()
	final := w.o.Clients // the final reader's client id

	// Final linearizable reads, part of the history.
	if w.listBuckets(ctx, final, leader, cl) {
		t.Fatal("final bucket list failed")
	}
	w.mu.Lock()
	var bucketIDs []string
	for _, id := range w.buckets {
		bucketIDs = append(bucketIDs, id)
	}
	w.mu.Unlock()
	sort.Strings(bucketIDs)
	for _, b := range bucketIDs {
		w.listFlows(ctx, final, leader, cl, b)
	}
	w.mu.Lock()
	flowIDs := append([]string(nil), w.flowIDs...)
	flows := make(map[string]flowRef, len(w.flows))
	for k, v := range w.flows {
		flows[k] = v
	}
	ackB := make(map[string]string, len(w.ackBucket))
	for k, v := range w.ackBucket {
		ackB[k] = v
	}
	ackF := make(map[string]flowRef, len(w.ackFlow))
	for k, v := range w.ackFlow {
		ackF[k] = v
	}
	anomalies := append([]string(nil), w.anomalies...)
	w.mu.Unlock()
	for _, f := range flowIDs {
		w.readLatest(ctx, final, leader, cl, f)
	}
	for _, a := range anomalies {
		t.Errorf("workload anomaly: %s", a)
	}
	for tag, c := range w.Commits() {
		if c.Requested == -1 && c.Outcome == linearize.Refused {
			// Reproduced alone by systest.TestClusterNextVersionAfterElection.
			t.Errorf("commit #%d of flow %s with version -1 was refused (409) by %s", tag, c.Flow, c.Node)
		}
	}

	// (a) Durability, checked on every running node (local reads: the
	// nodes have converged).
	commits := w.Commits()
	for _, n := range w.c.Running() {
		rc := w.newClient(n)
		rc.HTTP.Timeout = 30 * time.Second
		rc.Header = http.Header{"X-Weir-Consistency": {"stale"}}
		for id, name := range ackB {
			b, err := rc.Bucket(ctx, id)
			if err != nil || model.Deref(b.Name) != name {
				t.Errorf("(a) %s: acknowledged bucket %s (%q) lost: %+v %v", n.Opts.ID, id, name, b, err)
			}
		}
		for id, ref := range ackF {
			f, err := rc.Flow(ctx, id)
			if err != nil || model.Deref(f.Name) != ref.Name || model.Deref(f.BucketIdentifier) != ref.BucketID {
				t.Errorf("(a) %s: acknowledged flow %s (%+v) lost: %+v %v", n.Opts.ID, id, ref, f, err)
			}
		}
		w.verifyUniqueNames(t, ctx, n, rc)
		w.verifyVersions(t, ctx, n, rc, flowIDs, flows, commits)
	}
	acked := 0
	for _, c := range commits {
		if c.Outcome == linearize.OK {
			acked++
		}
	}
	t.Logf("(a) %d acknowledged buckets, %d flows, %d versions present on every node", len(ackB), len(ackF), acked)

	// (b)
	w.H.CheckLinearizable(t, 2*time.Minute)
	return hash
}

// verifyUniqueNames checks that no two buckets, and no two flows of a
// bucket, share a name on a node (creates whose outcome was unknown are
// not in the model's name check as acknowledged ones are).
func (w *Workload) verifyUniqueNames(t testing.TB, ctx context.Context, n *Node, rc *client.Client) {
	t.Helper()
	bs, err := rc.Buckets(ctx)
	if err != nil {
		t.Errorf("(a) %s: list buckets: %v", n.Opts.ID, err)
		return
	}
	names := map[string]bool{}
	for _, b := range bs {
		if names[model.Deref(b.Name)] {
			t.Errorf("(a) %s: two buckets named %q", n.Opts.ID, model.Deref(b.Name))
		}
		names[model.Deref(b.Name)] = true
		fs, err := rc.Flows(ctx, model.Deref(b.Identifier))
		if err != nil {
			t.Errorf("(a) %s: list flows of %s: %v", n.Opts.ID, model.Deref(b.Identifier), err)
			continue
		}
		flowNames := map[string]bool{}
		for _, f := range fs {
			if flowNames[model.Deref(f.Name)] {
				t.Errorf("(a) %s: two flows named %q in bucket %q", n.Opts.ID, model.Deref(f.Name), model.Deref(b.Name))
			}
			flowNames[model.Deref(f.Name)] = true
		}
	}
}

// verifyVersions checks one node's versions of every flow against the
// commit attempts.
func (w *Workload) verifyVersions(t testing.TB, ctx context.Context, n *Node, rc *client.Client, flowIDs []string, flows map[string]flowRef, commits map[int]CommitAttempt) {
	t.Helper()
	byFlow := map[string][]int{}
	for tag, c := range commits {
		byFlow[c.Flow] = append(byFlow[c.Flow], tag)
	}
	for _, flow := range flowIDs {
		ref := flows[flow]
		mds, err := rc.Versions(ctx, ref.BucketID, flow)
		if err != nil {
			t.Errorf("(a) %s: versions of %s: %v", n.Opts.ID, flow, err)
			continue
		}
		stored := map[int32]int{} // version → tag
		writers := map[int]int32{}
		for _, md := range mds {
			tag := tagOf(model.Deref(md.Comments))
			if prev, dup := writers[tag]; dup {
				t.Errorf("(a) %s: flow %s: commit #%d stored twice, as versions %d and %d", n.Opts.ID, flow, tag, prev, md.Version)
			}
			writers[tag] = md.Version
			stored[md.Version] = tag
			c, ok := commits[tag]
			switch {
			case !ok || c.Flow != flow:
				t.Errorf("(a) %s: flow %s version %d was written by no commit to it (%q)", n.Opts.ID, flow, md.Version, model.Deref(md.Comments))
			case c.Outcome == linearize.Failed || c.Outcome == linearize.Refused:
				t.Errorf("(a) %s: flow %s version %d was written by commit #%d, which was answered %s (%s)", n.Opts.ID, flow, md.Version, tag, c.Outcome, c.Node)
			case c.Requested != -1 && c.Requested != md.Version:
				t.Errorf("(a) %s: flow %s version %d was written by commit #%d, which asked for version %d", n.Opts.ID, flow, md.Version, tag, c.Requested)
			case c.Outcome == linearize.OK && c.Version != md.Version:
				t.Errorf("(a) %s: flow %s: commit #%d was acknowledged as version %d but is stored as %d", n.Opts.ID, flow, tag, c.Version, md.Version)
			}
		}
		for v := int32(1); v <= int32(len(mds)); v++ {
			if _, ok := stored[v]; !ok {
				t.Errorf("(a) %s: flow %s has %d versions but no version %d", n.Opts.ID, flow, len(mds), v)
			}
		}
		for _, tag := range byFlow[flow] {
			c := commits[tag]
			if c.Outcome != linearize.OK {
				continue
			}
			if stored[c.Version] != tag {
				t.Errorf("(a) %s: flow %s: acknowledged commit #%d (version %d, via %s) lost; version %d holds #%d", n.Opts.ID, flow, tag, c.Version, c.Node, c.Version, stored[c.Version])
				continue
			}
			body, err := rc.Version(ctx, ref.BucketID, flow, int(c.Version))
			if err != nil {
				t.Errorf("(a) %s: flow %s version %d: %v", n.Opts.ID, flow, c.Version, err)
				continue
			}
			s, err := client.DecodeSnapshot(body)
			if err != nil || contentsName(s.FlowContents) != Marker(tag) {
				t.Errorf("(a) %s: flow %s version %d does not hold the content of commit #%d", n.Opts.ID, flow, c.Version, tag)
			}
		}
	}
}
