package systest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/weir-nifi/weir/internal/harness"
	"github.com/weir-nifi/weir/internal/s2s/relay"
	"github.com/weir-nifi/weir/sitetosite"
)

// s2sStatus returns the ports as a node reports them.
func s2sStatus(t *testing.T, c *harness.Cluster, n *harness.Node) map[string]relay.PortStatus {
	t.Helper()
	status, body, err := c.Signed(n, http.MethodGet, relay.AdminPath, nil)
	var ps []relay.PortStatus
	if err != nil || status != http.StatusOK || json.Unmarshal([]byte(body), &ps) != nil {
		t.Fatalf("port list from %s: %d %s %v", n.Opts.ID, status, body, err)
	}
	out := map[string]relay.PortStatus{}
	for _, p := range ps {
		out[p.Name] = p
	}
	return out
}

// s2sSettled waits until no node has anything staging for "in" and every
// node reports want queued flowfiles behind it.
func s2sSettled(t *testing.T, c *harness.Cluster, want int64) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ok := true
		var last relay.PortStatus
		for _, n := range c.Nodes {
			last = s2sStatus(t, c, n)["in"]
			if last.Staging != 0 || last.Queued != want || last.Leased != 0 {
				ok = false
			}
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("queue did not settle at %d: %+v", want, last)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// s2sDo sends one raw site-to-site request.
func s2sDo(t *testing.T, method, u string, body io.Reader, hdr map[string]string) (int, string, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("x-nifi-site-to-site-protocol-version", "1")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

func s2sCreate(t *testing.T, n *harness.Node, kind, port string) string {
	t.Helper()
	status, body, h := s2sDo(t, http.MethodPost, n.API+"/nifi-api/data-transfer/"+kind+"/"+port+"/transactions", nil, nil)
	if status != http.StatusCreated {
		t.Fatalf("create %s transaction: %d %s", kind, status, body)
	}
	return h.Get("Location")
}

// packet is one StandardFlowFileCodec packet, written by hand so tests can
// break it.
func packet(attrs [][2]string, declared int64, content []byte) []byte {
	var b []byte
	b = binary.BigEndian.AppendUint32(b, uint32(len(attrs)))
	for _, kv := range attrs {
		b = binary.BigEndian.AppendUint32(b, uint32(len(kv[0])))
		b = append(b, kv[0]...)
		b = binary.BigEndian.AppendUint32(b, uint32(len(kv[1])))
		b = append(b, kv[1]...)
	}
	b = binary.BigEndian.AppendUint64(b, uint64(declared))
	return append(b, content...)
}

// TestS2SRelayBadInput sends what a broken or hostile client could through
// a follower of a 3-node cluster: every case gets a 4xx with NiFi's codes,
// nothing of it stays staged or queued on any node, no node stops, and a
// good push and pull work afterwards.
func TestS2SRelayBadInput(t *testing.T) {
	c := harness.StartCluster(t, harness.ClusterOptions{N: 3})
	leader := c.MustLeader()
	n := c.Nodes[0]
	if n == leader {
		n = c.Nodes[1]
	}
	in, out := s2sPorts(t, c, n, relay.CreateRequest{})
	octet := map[string]string{"Content-Type": "application/octet-stream"}

	push := func(name string, body []byte, wantStatus int) {
		t.Helper()
		loc := s2sCreate(t, n, "input-ports", in)
		status, resp, _ := s2sDo(t, http.MethodPost, loc+"/flow-files", bytes.NewReader(body), octet)
		if status != wantStatus {
			t.Errorf("%s: push answered %d %s, want %d", name, status, resp, wantStatus)
		}
		// Whatever the push answered, the client cannot commit it.
		if status != http.StatusAccepted {
			status, resp, _ = s2sDo(t, http.MethodDelete, loc+"?responseCode=12", nil, nil)
			if status == http.StatusOK && strings.Contains(resp, `"responseCode":13`) {
				t.Errorf("%s: a broken push was committed: %s", name, resp)
			}
		}
	}
	good := packet([][2]string{{"a", "b"}}, 2, []byte("hi"))
	push("truncated content", packet([][2]string{{"a", "b"}}, 100, []byte("0123456789")), http.StatusBadRequest)
	push("truncated attributes", good[:7], http.StatusBadRequest)
	push("2^31-1 attributes", binary.BigEndian.AppendUint32(nil, 1<<31-1), http.StatusBadRequest)
	push("negative content length", packet(nil, -1, nil), http.StatusBadRequest)
	push("good then garbage", append(append([]byte{}, good...), 0xff, 0xff), http.StatusBadRequest)
	s2sSettled(t, c, 0)

	// Unknown port, another port's transaction, wrong version, bad codes.
	if status, body, _ := s2sDo(t, http.MethodPost, n.API+"/nifi-api/data-transfer/input-ports/no-such-port/transactions", nil, nil); status != http.StatusNotFound || !strings.Contains(body, `"responseCode":200`) {
		t.Errorf("unknown port: %d %s", status, body)
	}
	loc := s2sCreate(t, n, "input-ports", in)
	other := strings.Replace(loc, "input-ports/"+in, "output-ports/"+out, 1)
	if status, body, _ := s2sDo(t, http.MethodDelete, other+"?responseCode=12", nil, nil); status != http.StatusNotFound || !strings.Contains(body, `"responseCode":250`) {
		t.Errorf("transaction of another port: %d %s", status, body)
	}
	// A version this server does not speak and has nothing below: 400
	// (a higher one is negotiated down to 1, as NiFi does).
	req, _ := http.NewRequest(http.MethodPost, n.API+"/nifi-api/data-transfer/input-ports/"+in+"/transactions", nil)
	req.Header.Set("x-nifi-site-to-site-protocol-version", "0")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusBadRequest {
		t.Errorf("protocol version 0: %v %v", resp, err)
	}
	if status, body, _ := s2sDo(t, http.MethodDelete, loc+"?responseCode=99", nil, nil); status != http.StatusBadRequest {
		t.Errorf("response code 99: %d %s", status, body)
	}
	// Commit without a push commits nothing.
	loc = s2sCreate(t, n, "input-ports", in)
	s2sDo(t, http.MethodDelete, loc+"?responseCode=12", nil, nil)
	s2sSettled(t, c, 0)

	// A good push, committed twice: stored once.
	loc = s2sCreate(t, n, "input-ports", in)
	if status, body, _ := s2sDo(t, http.MethodPost, loc+"/flow-files", bytes.NewReader(good), octet); status != http.StatusAccepted {
		t.Fatalf("good push: %d %s", status, body)
	}
	if status, body, _ := s2sDo(t, http.MethodDelete, loc+"?responseCode=12", nil, nil); status != http.StatusOK || !strings.Contains(body, `"responseCode":13`) {
		t.Fatalf("commit: %d %s", status, body)
	}
	if status, body, _ := s2sDo(t, http.MethodDelete, loc+"?responseCode=12", nil, nil); status != http.StatusNotFound {
		t.Errorf("second commit: %d %s", status, body)
	}
	s2sSettled(t, c, 1)

	// A pull whose checksum does not match is refused and returns the
	// flowfile; the right checksum removes it.
	loc = s2sCreate(t, c.Nodes[2], "output-ports", out)
	if status, body, _ := s2sDo(t, http.MethodGet, loc+"/flow-files", nil, nil); status != http.StatusAccepted || body != string(good) {
		t.Fatalf("pull: %d %q", status, body)
	}
	if status, body, _ := s2sDo(t, http.MethodDelete, loc+"?responseCode=12&checksum=1", nil, nil); status != http.StatusBadRequest || !strings.Contains(body, `"responseCode":19`) {
		t.Errorf("pull with a wrong checksum: %d %s", status, body)
	}
	s2sSettled(t, c, 1)
	cl := &sitetosite.Client{URL: c.Nodes[2].API}
	var got []sitetosite.FlowFile
	if k, err := cl.Receive(context.Background(), out, func(fs []sitetosite.FlowFile) error { got = fs; return nil }); err != nil || k != 1 || string(got[0].Content) != "hi" {
		t.Fatalf("pull after refusals: %d %v %+v", k, err, got)
	}
	s2sSettled(t, c, 0)

	// The metrics tell the story: one flowfile in through n, one out
	// through the third node, the refused pull counted, nothing queued.
	for _, want := range []string{`weir_s2s_flowfiles_total{direction="in",port="in"} 1`, `weir_s2s_transactions_total{outcome="committed",port="in"} 1`,
		`weir_s2s_queued_flowfiles{kind="input",port="in"} 0`} {
		if got := metricsText(t, n); !strings.Contains(got, want+"\n") {
			t.Errorf("metrics of %s lack %s", n.Opts.ID, want)
		}
	}
	// The good push's one chunk went through the log from n (small
	// chunks are not files: no local or majority step).
	if got := metricsText(t, n); !strings.Contains(got, `weir_s2s_stage_seconds_count{step="propose"} `) || strings.Contains(got, `step="majority"`) {
		t.Errorf("stage steps of %s:\n%s", n.Opts.ID, grepLines(got, "weir_s2s_stage_seconds_count"))
	}
	for _, want := range []string{`weir_s2s_flowfiles_total{direction="out",port="out"} 1`, `weir_s2s_transactions_total{outcome="released",port="out"} 1`} {
		if got := metricsText(t, c.Nodes[2]); !strings.Contains(got, want+"\n") {
			t.Errorf("metrics of %s lack %s", c.Nodes[2].Opts.ID, want)
		}
	}
	c.MustConverge()
}

// genReader yields n deterministic bytes without holding them.
type genReader struct {
	n, off int64
	h      interface{ Write([]byte) (int, error) }
}

func (g *genReader) Read(p []byte) (int, error) {
	if g.off >= g.n {
		return 0, io.EOF
	}
	k := min(int64(len(p)), g.n-g.off)
	for i := range k {
		x := uint64(g.off+i) * 0x9E3779B97F4A7C15
		p[i] = byte(x >> 56)
	}
	g.off += k
	if g.h != nil {
		g.h.Write(p[:k])
	}
	return int(k), nil
}

// TestS2SRelayLargeFlowFile pushes a 100 MiB flowfile through a follower
// and pulls it from another node: it streams through in chunks, arrives
// byte-identical, and no node's anonymous memory grows anywhere near the
// flowfile's size.
func TestS2SRelayLargeFlowFile(t *testing.T) {
	const size = 100 << 20
	c := harness.StartCluster(t, harness.ClusterOptions{N: 3})
	leader := c.MustLeader()
	var others []*harness.Node
	for _, n := range c.Nodes {
		if n != leader {
			others = append(others, n)
		}
	}
	in, out := s2sPorts(t, c, others[0], relay.CreateRequest{})

	var peak [3]atomic.Int64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			for i, n := range c.Nodes {
				if kb := rssAnonKB(n.PID()); kb > peak[i].Load() {
					peak[i].Store(kb)
				}
			}
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()

	sum := sha256.New()
	ff := sitetosite.FlowFile{Attributes: map[string]string{"filename": "big.bin"}, Reader: &genReader{n: size, h: sum}, Size: size}
	t0 := time.Now()
	if _, err := (&sitetosite.Client{URL: others[0].API, HTTP: &http.Client{Timeout: 5 * time.Minute}}).Send(context.Background(), in, []sitetosite.FlowFile{ff}); err != nil {
		t.Fatalf("push 100 MiB: %v", err)
	}
	pushed := time.Since(t0)
	want := sum.Sum(nil)
	t1 := time.Now()
	var got []byte
	k, err := (&sitetosite.Client{URL: others[1].API, HTTP: &http.Client{Timeout: 5 * time.Minute}}).Receive(context.Background(), out, func(fs []sitetosite.FlowFile) error {
		if len(fs) == 1 {
			h := sha256.Sum256(fs[0].Content)
			got = h[:]
		}
		return nil
	})
	if err != nil || k != 1 {
		t.Fatalf("pull: %d %v", k, err)
	}
	pulled := time.Since(t1)
	close(stop)
	<-sampled
	if !bytes.Equal(got, want) {
		t.Fatal("the pulled content differs from what was pushed")
	}
	t.Logf("100 MiB pushed through a follower in %v, pulled from another in %v (timings for information, not asserted)", pushed.Round(time.Millisecond), pulled.Round(time.Millisecond))
	for i, n := range c.Nodes {
		t.Logf("%s peak anonymous memory %d MiB", n.Opts.ID, peak[i].Load()/1024)
		// Memory per push is one 1 MiB chunk in the relay plus the Raft
		// log's batches; the bound is well under the flowfile's size.
		if mb := peak[i].Load() / 1024; mb > s2sLargeAnonBoundMiB {
			t.Errorf("%s: peak anonymous memory %d MiB, over the %d MiB bound", n.Opts.ID, mb, s2sLargeAnonBoundMiB)
		}
	}
	s2sSettled(t, c, 0)
	c.MustConverge()
}

// s2sLargeAnonBoundMiB is the stated bound for a node's anonymous memory
// while a 100 MiB flowfile passes through (docs/benchmarks.md).
const s2sLargeAnonBoundMiB = 200

// TestS2SPeers asks every node for the peer list: each lists every live
// node with its address and zone, a killed node drops out of the lists
// of the others, and comes back when it restarts.
func TestS2SPeers(t *testing.T) {
	c := harness.StartCluster(t, harness.ClusterOptions{N: 3, Zones: zones3})
	c.MustLeader()
	peersOf := func(n *harness.Node) map[string]string {
		ps, err := (&sitetosite.Client{URL: n.API}).Peers(context.Background())
		if err != nil {
			t.Fatalf("peers from %s: %v", n.Opts.ID, err)
		}
		out := map[string]string{}
		for _, p := range ps {
			out[fmt.Sprintf("http://%s:%d", p.Hostname, p.Port)] = p.Zone
		}
		return out
	}
	waitPeers := func(from *harness.Node, want []*harness.Node) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			got := peersOf(from)
			ok := len(got) == len(want)
			for _, n := range want {
				if zone, in := got[n.API]; !in || zone != n.Opts.Zone {
					ok = false
				}
			}
			if ok {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("peers from %s: %v, want the %d nodes %v", from.Opts.ID, got, len(want), want)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	for _, n := range c.Nodes {
		waitPeers(n, c.Nodes)
	}
	dead := c.Nodes[2]
	dead.Kill()
	for _, n := range c.Nodes[:2] {
		waitPeers(n, c.Nodes[:2])
	}
	dead.Start()
	for _, n := range c.Nodes {
		waitPeers(n, c.Nodes)
	}
}
