package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/weir-nifi/weir/internal/adminauth"
	"github.com/weir-nifi/weir/internal/metrics/promtext"
	"github.com/weir-nifi/weir/internal/s2s/queue"
	"github.com/weir-nifi/weir/internal/s2s/relay"
	"github.com/weir-nifi/weir/sitetosite"
)

// A QueueSystem is a replicated queue the site-to-site measurements push
// flowfiles into and pull them out of: Weir's relay (an input port and an
// output port fed from it) or a JetStream stream with a durable pull
// consumer. Push and Pull are one batch each, confirmed by the system
// before they return.
type QueueSystem interface {
	Name() string
	// Push sends one batch of flowfiles as client c (c picks the node or
	// connection, spreading clients over the cluster) and returns once the
	// system confirmed all of them.
	Push(ctx context.Context, c int, files []QueueFile) error
	// Pull takes up to max flowfiles (maxBytes of content) as client c,
	// and returns how many it received and acknowledged, 0 when there
	// were none.
	Pull(ctx context.Context, c, max int, maxBytes int64) (n int, bytes int64, err error)
	// PIDs are the server processes (for RSS).
	PIDs() []int
	Stop()
}

// QueueFile is one flowfile: a name (a NiFi attribute, or a NATS header)
// and its content.
type QueueFile struct {
	Name    string
	Content []byte
}

// ---- Weir

// WeirS2S is a Weir cluster with an input port "in" and an output port
// "out" fed from it. Clients push to "in" and pull from "out" through
// node c mod 3 with the transaction-level S2S client (one transaction
// per batch: create, send, confirm).
type WeirS2S struct {
	Cluster *WeirCluster
	In, Out string
	Label   string
	// EmptyPause is how long a puller waits after an empty answer before
	// asking again (the relay hands a queue to one pull at a time; an
	// empty answer costs a Raft round trip).
	EmptyPause time.Duration
	hc         *http.Client
	clients    []*sitetosite.Client
}

// StartWeirS2S starts a 3-node Weir cluster with the given extra flags
// and creates the ports.
func (e *Env) StartWeirS2S(ctx context.Context, label string, nodes int, args ...string) (*WeirS2S, error) {
	c, err := e.StartWeirCluster(nodes, args...)
	if err != nil {
		return nil, err
	}
	w := &WeirS2S{Cluster: c, Label: label, EmptyPause: 10 * time.Millisecond, hc: NewHTTPClient(64, 120*time.Second)}
	for _, n := range c.Nodes {
		w.clients = append(w.clients, &sitetosite.Client{URL: n.API, HTTP: w.hc})
	}
	l, err := c.Leader()
	if err != nil {
		c.Stop()
		return nil, err
	}
	if w.In, err = createPort(ctx, l, relay.CreateRequest{Name: "in", Kind: "input"}); err != nil {
		c.Stop()
		return nil, err
	}
	if w.Out, err = createPort(ctx, l, relay.CreateRequest{Name: "out", Kind: "output", From: "in"}); err != nil {
		c.Stop()
		return nil, err
	}
	// Every node must know the ports before clients use them.
	for _, cl := range w.clients {
		err := poll(30*time.Second, 20*time.Millisecond, func() (bool, error) {
			_, err := cl.PortID(ctx, "out", false)
			return err == nil, err
		})
		if err != nil {
			c.Stop()
			return nil, fmt.Errorf("port not visible on %s: %w", cl.URL, err)
		}
	}
	return w, nil
}

// createPort POSTs a signed port creation (the admin API wants the
// cluster key) and returns the new port's id.
func createPort(ctx context.Context, n *WeirNode, cr relay.CreateRequest) (string, error) {
	body, err := json.Marshal(cr)
	if err != nil {
		return "", err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.API+relay.AdminPath, bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	adminauth.Sign([]byte(ClusterKey), req, body)
	resp, err := ctlClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated {
		return "", fmt.Errorf("create port %q: %s: %s", cr.Name, resp.Status, b)
	}
	var p queue.Port
	if err := json.Unmarshal(b, &p); err != nil {
		return "", err
	}
	return p.ID, nil
}

func (w *WeirS2S) Name() string { return w.Label }

func (w *WeirS2S) Push(ctx context.Context, c int, files []QueueFile) error {
	ffs := make([]sitetosite.FlowFile, len(files))
	for i, f := range files {
		ffs[i] = sitetosite.FlowFile{Attributes: map[string]string{"filename": f.Name}, Content: f.Content}
	}
	_, err := w.clients[c%len(w.clients)].Send(ctx, w.In, ffs)
	return err
}

func (w *WeirS2S) Pull(ctx context.Context, c, max int, maxBytes int64) (int, int64, error) {
	cl := *w.clients[c%len(w.clients)]
	cl.BatchCount, cl.BatchBytes = max, maxBytes
	var size int64
	n, err := cl.Receive(ctx, w.Out, func(fs []sitetosite.FlowFile) error {
		for _, f := range fs {
			size += int64(len(f.Content))
		}
		return nil
	})
	if err == nil && n == 0 && w.EmptyPause > 0 {
		select {
		case <-time.After(w.EmptyPause):
		case <-ctx.Done():
		}
	}
	return n, size, err
}

func (w *WeirS2S) PIDs() []int {
	var out []int
	for _, n := range w.Cluster.Nodes {
		if n.Proc != nil && !n.Proc.Exited() {
			out = append(out, n.Proc.PID())
		}
	}
	return out
}

func (w *WeirS2S) Stop() { w.Cluster.Stop() }

// StageSteps adds up, over the nodes, the weir_s2s_stage_seconds
// histograms: per step, the seconds spent and the chunks counted.
func (w *WeirS2S) StageSteps(ctx context.Context) map[string][2]float64 {
	out := map[string][2]float64{}
	for _, n := range w.Cluster.Nodes {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, n.API+"/nifi-registry-api/actuator/prometheus", nil)
		if err != nil {
			continue
		}
		resp, err := ctlClient.Do(req)
		if err != nil {
			continue
		}
		fs, err := promtext.Parse(resp.Body)
		resp.Body.Close()
		if err != nil || fs["weir_s2s_stage_seconds"] == nil {
			continue
		}
		for _, m := range fs["weir_s2s_stage_seconds"].Metric {
			step := promtext.Label(m, "step")
			v := out[step]
			v[0] += m.Histogram.GetSampleSum()
			v[1] += float64(m.Histogram.GetSampleCount())
			out[step] = v
		}
	}
	return out
}

// stageStepsSince is the mean time per chunk of each staging step
// between two StageSteps readings, for the log.
func stageStepsSince(before, after map[string][2]float64) string {
	var parts []string
	for _, step := range []string{"local", "majority", "propose"} {
		d := after[step][1] - before[step][1]
		if d <= 0 {
			continue
		}
		parts = append(parts, fmt.Sprintf("%s %.2f ms", step, 1000*(after[step][0]-before[step][0])/d))
	}
	if len(parts) == 0 {
		return ""
	}
	return "mean per chunk: " + strings.Join(parts, ", ")
}

// ---- NATS JetStream

// NATSS2S is a JetStream cluster with the stream and consumer of
// CreateS2SStream. Client c publishes and fetches over its own connection
// to server c mod 3 (connections are made on first use).
type NATSS2S struct {
	Cluster *NATSCluster
	conns   []*natsConn
}

type natsConn struct {
	nc  *nats.Conn
	js  nats.JetStreamContext
	sub *nats.Subscription
}

// StartNATSS2S starts a 3-server JetStream cluster with the stream and
// consumer; conns connections are opened for clients 0..conns-1.
func (e *Env) StartNATSS2S(ctx context.Context, servers, conns int) (*NATSS2S, error) {
	c, err := e.StartNATS(servers)
	if err != nil {
		return nil, err
	}
	s := &NATSS2S{Cluster: c}
	if err := c.CreateS2SStream(ctx, servers); err != nil {
		s.Stop()
		return nil, err
	}
	for i := range conns {
		nc, err := c.Connect(i)
		if err != nil {
			s.Stop()
			return nil, err
		}
		js, err := nc.JetStream(nats.PublishAsyncMaxPending(1<<16), nats.MaxWait(30*time.Second))
		if err != nil {
			nc.Close()
			s.Stop()
			return nil, err
		}
		sub, err := js.PullSubscribe(NATSSubject, NATSConsumer, nats.Bind(NATSStream, NATSConsumer))
		if err != nil {
			nc.Close()
			s.Stop()
			return nil, err
		}
		s.conns = append(s.conns, &natsConn{nc: nc, js: js, sub: sub})
	}
	return s, nil
}

func (s *NATSS2S) Name() string { return "JetStream" }

// Push publishes the batch asynchronously and waits for every ack: the
// same batch as one Weir transaction, same bytes.
func (s *NATSS2S) Push(ctx context.Context, c int, files []QueueFile) error {
	cn := s.conns[c%len(s.conns)]
	futs := make([]nats.PubAckFuture, 0, len(files))
	for _, f := range files {
		m := &nats.Msg{Subject: NATSSubject, Header: nats.Header{"filename": []string{f.Name}}, Data: f.Content}
		fut, err := cn.js.PublishMsgAsync(m)
		if err != nil {
			return err
		}
		futs = append(futs, fut)
	}
	for _, fut := range futs {
		select {
		case <-fut.Ok():
		case err := <-fut.Err():
			return err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// Pull fetches up to max messages from the durable consumer and acks
// them: each with an ack, the last one with an ack the server confirms
// (it has then processed every ack of the batch, which came before it on
// the same connection).
func (s *NATSS2S) Pull(ctx context.Context, c, max int, _ int64) (int, int64, error) {
	cn := s.conns[c%len(s.conns)]
	fctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	msgs, err := cn.sub.Fetch(max, nats.Context(fctx))
	cancel()
	if len(msgs) == 0 {
		if err == nil || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) {
			return 0, 0, ctx.Err()
		}
		return 0, 0, err
	}
	var size int64
	for i, m := range msgs {
		size += int64(len(m.Data))
		if i < len(msgs)-1 {
			err = m.Ack()
		} else {
			err = m.AckSync() // times out after the context's MaxWait (30 s)
		}
		if err != nil {
			return 0, 0, err
		}
	}
	return len(msgs), size, nil
}

func (s *NATSS2S) PIDs() []int {
	var out []int
	for _, sv := range s.Cluster.Servers {
		if sv.Proc != nil && !sv.Proc.Exited() {
			out = append(out, sv.Proc.PID())
		}
	}
	return out
}

func (s *NATSS2S) Stop() {
	for _, c := range s.conns {
		c.nc.Close()
	}
	s.Cluster.Stop()
}

// ---- content

// QueueFiles makes n flowfiles of size bytes named for client c and
// batch seq, all sharing one random (incompressible) content buffer.
func QueueFiles(content []byte, c, seq, n int) []QueueFile {
	out := make([]QueueFile, n)
	for i := range out {
		out[i] = QueueFile{Name: "f-" + strconv.Itoa(c) + "-" + strconv.Itoa(seq) + "-" + strconv.Itoa(i), Content: content}
	}
	return out
}

// RandomContent is size bytes of seeded random data.
func RandomContent(seed uint64, size int) []byte {
	r := rand.New(rand.NewPCG(seed, 0x5_2_5))
	b := make([]byte, size)
	for i := 0; i < len(b); i += 8 {
		v := r.Uint64()
		for j := 0; j < 8 && i+j < len(b); j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return b
}
