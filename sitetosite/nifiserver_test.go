package sitetosite_test

// A minimal NiFi site-to-site server (HTTP transport version 1), written
// from ../shared/reference/s2s.md and s2s-protocol.md without Weir's
// server or codec, so that the client is not only tested against the
// implementation it shares code with. Uncompressed transfers only.

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
)

type nifiFlowFile struct {
	attrs   map[string]string
	content []byte
}

type nifiTx struct {
	port     string
	input    bool
	received []nifiFlowFile
	sent     []nifiFlowFile
	crc      uint32
}

// nifiNode is one node of a fake NiFi cluster. Every node of a cluster
// shares its queues (like a load-balanced flow would not, but it keeps the
// test's accounting simple) and lists the cluster's live nodes as peers.
type nifiNode struct {
	cl   *nifiCluster
	ts   *httptest.Server
	mu   sync.Mutex
	down bool // answers 503 to everything
	txs  map[string]*nifiTx
	next int
}

type nifiCluster struct {
	id    string
	in    map[string]string // input port name → id
	out   map[string]string
	mu    sync.Mutex
	nodes []*nifiNode
	// committed holds the flowfiles each input port's pushes committed;
	// queued the flowfiles each output port hands out.
	committed map[string][]nifiFlowFile
	queued    map[string][]nifiFlowFile
	counts    map[*nifiNode]int // flowFileCount each node reports
}

func newNiFiCluster(t *testing.T, id string, n int) *nifiCluster {
	c := &nifiCluster{id: id, in: map[string]string{"ingest": id + "-in"}, out: map[string]string{"egress": id + "-out"},
		committed: map[string][]nifiFlowFile{}, queued: map[string][]nifiFlowFile{}, counts: map[*nifiNode]int{}}
	for i := 0; i < n; i++ {
		nd := &nifiNode{cl: c, txs: map[string]*nifiTx{}}
		nd.ts = httptest.NewServer(http.HandlerFunc(nd.serve))
		t.Cleanup(nd.ts.Close)
		c.nodes = append(c.nodes, nd)
	}
	return c
}

func (c *nifiCluster) urls() []string {
	var out []string
	for _, n := range c.nodes {
		out = append(out, n.ts.URL+"/nifi")
	}
	return out
}

func (n *nifiNode) setDown(down bool) { n.mu.Lock(); n.down = down; n.mu.Unlock() }

// stop closes the node's listener: connections are refused.
func (n *nifiNode) stop() { n.ts.Close() }

func (n *nifiNode) hostPort() (string, int) {
	h, p, _ := net.SplitHostPort(n.ts.Listener.Addr().String())
	port, _ := strconv.Atoi(p)
	return h, port
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func result(w http.ResponseWriter, status, code int, msg string, sent int) {
	writeJSON(w, status, map[string]any{"flowFileSent": sent, "responseCode": code, "message": msg})
}

func (n *nifiNode) serve(w http.ResponseWriter, r *http.Request) {
	n.mu.Lock()
	down := n.down
	n.mu.Unlock()
	if down {
		http.Error(w, "node is disconnected", http.StatusServiceUnavailable)
		return
	}
	c := n.cl
	path := strings.TrimPrefix(r.URL.Path, "/nifi-api")
	w.Header().Set("x-nifi-site-to-site-protocol-version", "1")
	switch {
	case r.Method == http.MethodGet && path == "/site-to-site":
		_, port := n.hostPort()
		ports := func(m map[string]string) []map[string]any {
			var out []map[string]any
			for name, id := range m {
				out = append(out, map[string]any{"id": id, "name": name, "state": "RUNNING"})
			}
			return out
		}
		writeJSON(w, 200, map[string]any{"controller": map[string]any{
			"id": c.id, "name": "NiFi " + c.id, "instanceId": c.id + "-instance",
			"remoteSiteHttpListeningPort": port, "siteToSiteSecure": false,
			"inputPorts": ports(c.in), "outputPorts": ports(c.out)}})
	case r.Method == http.MethodGet && path == "/site-to-site/peers":
		c.mu.Lock()
		var peers []map[string]any
		for _, m := range c.nodes {
			m.mu.Lock()
			down := m.down
			m.mu.Unlock()
			if down {
				continue
			}
			h, p := m.hostPort()
			peers = append(peers, map[string]any{"hostname": h, "port": p, "secure": false, "flowFileCount": c.counts[m]})
		}
		c.mu.Unlock()
		writeJSON(w, 200, map[string]any{"peers": peers})
	case strings.HasPrefix(path, "/data-transfer/"):
		n.transfer(w, r, strings.Split(strings.TrimPrefix(path, "/data-transfer/"), "/"))
	default:
		http.NotFound(w, r)
	}
}

// transfer serves /data-transfer/{input-ports|output-ports}/{port}/transactions[/{tx}[/flow-files]].
func (n *nifiNode) transfer(w http.ResponseWriter, r *http.Request, parts []string) {
	c := n.cl
	if len(parts) < 3 || parts[2] != "transactions" || (parts[0] != "input-ports" && parts[0] != "output-ports") {
		http.NotFound(w, r)
		return
	}
	input := parts[0] == "input-ports"
	port := parts[1]
	known := false
	for _, id := range map[bool]map[string]string{true: c.in, false: c.out}[input] {
		known = known || id == port
	}
	if !known {
		result(w, 404, 250, "port not found", 0)
		return
	}
	if len(parts) == 3 && r.Method == http.MethodPost {
		n.mu.Lock()
		n.next++
		tx := fmt.Sprintf("%08d-0000-4000-8000-%012d", n.next, n.next)
		n.txs[tx] = &nifiTx{port: port, input: input}
		n.mu.Unlock()
		loc := n.ts.URL + "/nifi-api/data-transfer/" + parts[0] + "/" + port + "/transactions/" + tx
		w.Header().Set("Location", loc)
		w.Header().Set("x-location-uri-intent", "transaction-url")
		w.Header().Set("x-nifi-site-to-site-server-transaction-ttl", "30")
		result(w, 201, 1, "Handshake properties are valid, and port is running. A transaction is created:"+tx, 0)
		return
	}
	if len(parts) < 4 {
		http.NotFound(w, r)
		return
	}
	n.mu.Lock()
	tx := n.txs[parts[3]]
	n.mu.Unlock()
	if tx == nil || tx.port != port {
		result(w, 404, 250, "Transaction was not found.", 0)
		return
	}
	switch {
	case len(parts) == 5 && parts[4] == "flow-files" && r.Method == http.MethodPost && input:
		h := crc32.NewIEEE()
		ffs, err := readPackets(io.TeeReader(r.Body, h))
		if err != nil {
			result(w, 400, 0, err.Error(), 0)
			return
		}
		tx.received, tx.crc = ffs, h.Sum32()
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(202)
		io.WriteString(w, strconv.FormatUint(uint64(tx.crc), 10))
	case len(parts) == 5 && parts[4] == "flow-files" && r.Method == http.MethodGet && !input:
		c.mu.Lock()
		q := c.queued[port]
		c.mu.Unlock()
		if len(q) == 0 {
			w.WriteHeader(200)
			return
		}
		var buf bytes.Buffer
		for _, f := range q {
			writePacket(&buf, f)
		}
		tx.sent, tx.crc = q, crc32.ChecksumIEEE(buf.Bytes())
		w.Header().Set("Content-Type", "application/octet-stream")
		w.WriteHeader(202)
		w.Write(buf.Bytes())
	case len(parts) == 4 && r.Method == http.MethodDelete:
		code := r.URL.Query().Get("responseCode")
		n.mu.Lock()
		delete(n.txs, parts[3])
		n.mu.Unlock()
		switch {
		case code == "15" || code == "19":
			result(w, 200, 15, "Cancelled", 0)
		case code == "12" && input:
			c.mu.Lock()
			c.committed[port] = append(c.committed[port], tx.received...)
			c.mu.Unlock()
			result(w, 200, 13, "Nice doing business with you.", len(tx.received))
		case code == "12":
			if r.URL.Query().Get("checksum") != strconv.FormatUint(uint64(tx.crc), 10) {
				result(w, 400, 19, "checksum mismatch", 0)
				return
			}
			c.mu.Lock()
			c.queued[port] = c.queued[port][len(tx.sent):]
			c.mu.Unlock()
			result(w, 200, 12, "Nice doing business with you.", len(tx.sent))
		default:
			result(w, 400, 0, "bad response code "+code, 0)
		}
	default:
		http.NotFound(w, r)
	}
}

// readPackets decodes StandardFlowFileCodec packets (s2s-protocol.md
// §5.1) until EOF on a packet boundary.
func readPackets(r io.Reader) ([]nifiFlowFile, error) {
	br := bufio.NewReader(r)
	var out []nifiFlowFile
	for {
		var n int32
		if err := binary.Read(br, binary.BigEndian, &n); err == io.EOF {
			return out, nil
		} else if err != nil {
			return nil, err
		}
		if n < 0 || n > 25000 {
			return nil, errors.New("bad attribute count")
		}
		f := nifiFlowFile{attrs: map[string]string{}}
		str := func() (string, error) {
			var l int32
			if err := binary.Read(br, binary.BigEndian, &l); err != nil {
				return "", err
			}
			if l < 0 || l > 1<<20 {
				return "", errors.New("bad string length")
			}
			b := make([]byte, l)
			_, err := io.ReadFull(br, b)
			return string(b), err
		}
		for i := int32(0); i < n; i++ {
			k, err := str()
			if err != nil {
				return nil, err
			}
			v, err := str()
			if err != nil {
				return nil, err
			}
			f.attrs[k] = v
		}
		var size int64
		if err := binary.Read(br, binary.BigEndian, &size); err != nil {
			return nil, err
		}
		if size < 0 || size > 1<<30 {
			return nil, errors.New("bad content length")
		}
		f.content = make([]byte, size)
		if _, err := io.ReadFull(br, f.content); err != nil {
			return nil, err
		}
		out = append(out, f)
	}
}

func writePacket(w *bytes.Buffer, f nifiFlowFile) {
	binary.Write(w, binary.BigEndian, int32(len(f.attrs)))
	for k, v := range f.attrs {
		binary.Write(w, binary.BigEndian, int32(len(k)))
		w.WriteString(k)
		binary.Write(w, binary.BigEndian, int32(len(v)))
		w.WriteString(v)
	}
	binary.Write(w, binary.BigEndian, int64(len(f.content)))
	w.Write(f.content)
}
