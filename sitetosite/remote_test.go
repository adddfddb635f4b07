package sitetosite_test

import (
	"bytes"
	"context"
	"hash/crc32"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/weir-nifi/weir/sitetosite"
)

// The fake server decodes the reference's golden packet (s2s-protocol.md
// §5.1) and computes its CRC, so it is an implementation of the reference
// and not of this client.
func TestNiFiServerGolden(t *testing.T) {
	golden := []byte{0, 0, 0, 1, 0, 0, 0, 1, 'a', 0, 0, 0, 1, 'b', 0, 0, 0, 0, 0, 0, 0, 2, 'h', 'i'}
	ffs, err := readPackets(bytes.NewReader(golden))
	if err != nil || len(ffs) != 1 || ffs[0].attrs["a"] != "b" || string(ffs[0].content) != "hi" {
		t.Fatalf("golden packet: %+v %v", ffs, err)
	}
	if crc := crc32.ChecksumIEEE(golden); crc != 625414464 {
		t.Fatalf("golden CRC %d", crc)
	}
	var buf bytes.Buffer
	writePacket(&buf, ffs[0])
	if !bytes.Equal(buf.Bytes(), golden) {
		t.Fatalf("re-encoded % x", buf.Bytes())
	}
}

func files(tag string, n int) []sitetosite.FlowFile {
	var out []sitetosite.FlowFile
	for i := 0; i < n; i++ {
		out = append(out, sitetosite.FlowFile{Attributes: map[string]string{"tag": tag, "i": strconv.Itoa(i)}, Content: []byte(tag + "-" + strconv.Itoa(i))})
	}
	return out
}

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) Advance(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

// TestRemoteSendAcrossPeers: a named port is resolved, files get a
// stable id, and a node that refuses connections is penalized while the
// others take the transactions.
func TestRemoteSendAcrossPeers(t *testing.T) {
	nc := newNiFiCluster(t, "A", 3)
	r, err := sitetosite.New(sitetosite.Config{Clusters: [][]string{nc.urls()[:1]}, Port: "ingest"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	batch := files("x", 3)
	if _, err := r.Send(ctx, batch); err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, f := range batch {
		if f.Attributes[sitetosite.IDAttribute] == "" {
			t.Fatalf("no id attribute: %v", f.Attributes)
		}
		ids[f.Attributes[sitetosite.IDAttribute]] = true
	}
	nc.nodes[1].stop()
	used := map[string]bool{}
	for i := 0; i < 30; i++ {
		d, err := r.Send(ctx, files("y"+strconv.Itoa(i), 2))
		if err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
		used[d.Peer.String()] = true
	}
	if used[nc.nodes[1].ts.Listener.Addr().String()] {
		t.Fatal("a stopped node took a transaction")
	}
	if len(used) != 2 {
		t.Fatalf("peers used %v, want the two live ones", used)
	}
	got := nc.committed["A-in"]
	if len(got) != 3+60 {
		t.Fatalf("committed %d flowfiles", len(got))
	}
	for _, f := range got[:3] {
		if !ids[f.attrs[sitetosite.IDAttribute]] {
			t.Fatalf("the server got another id: %v", f.attrs)
		}
	}
}

// TestRemotePersistedPeers: a client that knew the cluster once delivers
// with every configured URL down, from its cache of peers and port ids.
func TestRemotePersistedPeers(t *testing.T) {
	nc := newNiFiCluster(t, "A", 3)
	dir := t.TempDir()
	cfg := sitetosite.Config{Clusters: [][]string{nc.urls()[:1]}, Port: "ingest", CacheDir: dir}
	r, err := sitetosite.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := r.Send(ctx, files("first", 1)); err != nil {
		t.Fatal(err)
	}
	nc.nodes[0].stop()             // the only configured URL
	r2, err := sitetosite.New(cfg) // a new process
	if err != nil {
		t.Fatal(err)
	}
	d, err := r2.Send(ctx, files("second", 2))
	if err != nil {
		t.Fatalf("send with the bootstrap URL down: %v", err)
	}
	if d.Peer.String() == nc.nodes[0].ts.Listener.Addr().String() {
		t.Fatal("sent to the stopped node")
	}
	if n := len(nc.committed["A-in"]); n != 3 {
		t.Fatalf("committed %d", n)
	}
	// Without a cache the same start fails.
	r3, _ := sitetosite.New(sitetosite.Config{Clusters: cfg.Clusters, Port: "ingest", CacheDir: t.TempDir()})
	if _, err := r3.Send(ctx, files("third", 1)); err == nil {
		t.Fatal("sent with no URL up and no cache")
	}
}

// TestRemoteClusterFailover: with the primary cluster down the client
// sends to the standby, stays there until FailBack has passed, then goes
// back to the primary.
func TestRemoteClusterFailover(t *testing.T) {
	a, b := newNiFiCluster(t, "A", 2), newNiFiCluster(t, "B", 2)
	clock := &fakeClock{now: time.Unix(1000, 0)}
	r, err := sitetosite.New(sitetosite.Config{Clusters: [][]string{a.urls(), b.urls()}, Port: "ingest",
		CacheDir: t.TempDir(), FailBack: 30 * time.Second, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	send := func(tag string) sitetosite.Delivery {
		t.Helper()
		d, err := r.Send(ctx, files(tag, 1))
		if err != nil {
			t.Fatalf("send %s: %v", tag, err)
		}
		return d
	}
	if d := send("a1"); d.Cluster != 0 {
		t.Fatalf("first send went to cluster %d", d.Cluster)
	}
	for _, n := range a.nodes {
		n.setDown(true)
	}
	clock.Advance(time.Second)
	if d := send("b1"); d.Cluster != 1 {
		t.Fatalf("with A down: cluster %d", d.Cluster)
	}
	for _, n := range a.nodes {
		n.setDown(false)
	}
	clock.Advance(10 * time.Second)
	if d := send("b2"); d.Cluster != 1 {
		t.Fatalf("before FailBack: cluster %d", d.Cluster)
	}
	clock.Advance(30 * time.Second)
	if d := send("a2"); d.Cluster != 0 {
		t.Fatalf("after FailBack: cluster %d", d.Cluster)
	}
	if len(a.committed["A-in"]) != 2 || len(b.committed["B-in"]) != 2 {
		t.Fatalf("A got %d, B got %d", len(a.committed["A-in"]), len(b.committed["B-in"]))
	}
}

// TestRemoteReceive pulls from the output port; a keep that fails leaves
// the flowfiles queued, one that succeeds confirms them with the CRC.
func TestRemoteReceive(t *testing.T) {
	nc := newNiFiCluster(t, "A", 2)
	nc.queued["A-out"] = []nifiFlowFile{{attrs: map[string]string{"k": "1"}, content: []byte("one")}, {attrs: map[string]string{"k": "2"}, content: []byte("two")}}
	r, err := sitetosite.New(sitetosite.Config{Clusters: [][]string{nc.urls()}, Port: "egress"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, _, err := r.Receive(ctx, func([]sitetosite.FlowFile) error { return context.Canceled }); err == nil {
		t.Fatal("a refused receive succeeded")
	}
	if len(nc.queued["A-out"]) != 2 {
		t.Fatal("refused flowfiles left the queue")
	}
	var got []string
	n, _, err := r.Receive(ctx, func(ffs []sitetosite.FlowFile) error {
		for _, f := range ffs {
			got = append(got, f.Attributes["k"]+"="+string(f.Content))
		}
		return nil
	})
	if err != nil || n != 2 || len(got) != 2 || got[0] != "1=one" || got[1] != "2=two" {
		t.Fatalf("received %d %v %v", n, got, err)
	}
	if len(nc.queued["A-out"]) != 0 {
		t.Fatal("confirmed flowfiles still queued")
	}
	if n, _, err := r.Receive(ctx, func([]sitetosite.FlowFile) error { return nil }); err != nil || n != 0 {
		t.Fatalf("empty receive: %d %v", n, err)
	}
}
