package server_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/weir-nifi/weir/internal/s2s/codec"
	"github.com/weir-nifi/weir/internal/s2s/server"
	"github.com/weir-nifi/weir/internal/s2s/server/memqueue"
)

const (
	inPort   = "9b1f0e2c-0000-4000-8000-00000000000a" // input port "in"
	inPort2  = "9b1f0e2c-0000-4000-8000-00000000000b" // input port "in2"
	outPort  = "9b1f0e2c-0000-4000-8000-00000000000c" // output port "out"
	stopped  = "9b1f0e2c-0000-4000-8000-00000000000d" // input port, stopped
	unknown  = "9b1f0e2c-0000-4000-8000-0000000000ff"
	rootID   = "9b1f0e2c-0000-4000-8000-000000000001"
	instance = "9b1f0e2c-0000-4000-8000-000000000002"
)

// fakeClock is the server's Now; it moves only when told to.
type fakeClock struct {
	mu   sync.Mutex
	t    time.Time
	step time.Duration // added after every reading, when set
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.t
	c.t = c.t.Add(c.step)
	return t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// seen is a request as the server received it.
type seen struct {
	method, path, proto string
	header              http.Header
}

// env is a server over memqueue behind a real listener.
type env struct {
	t     *testing.T
	store *memqueue.Store
	srv   *server.Server
	ts    *httptest.Server
	clock *fakeClock

	mu   sync.Mutex
	reqs []seen
}

type envOpts struct {
	tls    bool // HTTP/2 over TLS, as NiFi ≥ 2.7 clients get it
	mutate func(*server.Options)
}

func newEnv(t *testing.T, o envOpts) *env {
	t.Helper()
	e := &env{t: t, store: memqueue.New(), clock: &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}}
	e.store.AddPort(server.Port{ID: inPort, Name: "in", Type: server.InputPort, State: server.Running})
	e.store.AddPort(server.Port{ID: inPort2, Name: "in2", Comments: "second", Type: server.InputPort, State: server.Running})
	e.store.AddPort(server.Port{ID: outPort, Name: "out", Type: server.OutputPort, State: server.Running})
	e.store.AddPort(server.Port{ID: stopped, Name: "stopped", Type: server.InputPort, State: server.Stopped})
	e.store.SetPeers([]server.Peer{{Hostname: "127.0.0.1", Port: 18080, FlowFileCount: 3, Zone: "a"}}, nil)
	opts := server.Options{
		Ports: e.store, Peers: e.store, Queues: e.store,
		Controller: server.Controller{ID: rootID, InstanceID: instance, Name: "weir"},
		TTL:        30 * time.Second,
		Now:        e.clock.Now,
	}
	if o.mutate != nil {
		o.mutate(&opts)
	}
	srv, err := server.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	e.srv = srv
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.mu.Lock()
		e.reqs = append(e.reqs, seen{r.Method, r.URL.Path, r.Proto, r.Header.Clone()})
		e.mu.Unlock()
		srv.ServeHTTP(w, r)
	})
	e.ts = httptest.NewUnstartedServer(h)
	if o.tls {
		e.ts.EnableHTTP2 = true
		e.ts.StartTLS()
	} else {
		e.ts.Start()
	}
	t.Cleanup(func() {
		e.ts.Close()
		srv.Close()
	})
	return e
}

func (e *env) seen() []seen {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.reqs)
}

// settled checks that every transaction ended and nothing is held.
func (e *env) settled() {
	e.t.Helper()
	if n := e.srv.Transactions(); n != 0 {
		e.t.Fatalf("%d transactions still open", n)
	}
	if st, ls := e.store.Outstanding(); st != 0 || ls != 0 {
		e.t.Fatalf("%d staged and %d leases outstanding", st, ls)
	}
}

// ---- packets as a NiFi client writes them (independent of the codec's encoder)

type kv struct{ k, v string }

type ff struct {
	attrs   []kv
	content []byte
}

func (f ff) attrMap() map[string]string {
	m := map[string]string{}
	for _, a := range f.attrs {
		m[a.k] = a.v
	}
	return m
}

// packetBytes is StandardFlowFileCodec.encode, attribute order as given.
func packetBytes(f ff) []byte {
	var b []byte
	b = binary.BigEndian.AppendUint32(b, uint32(len(f.attrs)))
	for _, a := range f.attrs {
		b = binary.BigEndian.AppendUint32(b, uint32(len(a.k)))
		b = append(b, a.k...)
		b = binary.BigEndian.AppendUint32(b, uint32(len(a.v)))
		b = append(b, a.v...)
	}
	b = binary.BigEndian.AppendUint64(b, uint64(len(f.content)))
	return append(b, f.content...)
}

// body is the push body for flowfiles, each packet in its own compression
// stream when compressed, and the CRC the client computes over the
// uncompressed bytes (CheckedOutputStream under CompressionOutputStream).
func body(t testing.TB, files []ff, compressed bool) ([]byte, string) {
	var out bytes.Buffer
	crc := crc32.NewIEEE()
	for _, f := range files {
		p := packetBytes(f)
		crc.Write(p)
		if compressed {
			cw := codec.NewCompressionWriter(&out)
			cw.Write(p)
			if err := cw.Close(); err != nil {
				t.Fatal(err)
			}
		} else {
			out.Write(p)
		}
	}
	return out.Bytes(), codec.FormatChecksum(crc.Sum32())
}

func gen(n, seed int) []byte {
	b := make([]byte, n)
	x := uint32(seed)*2654435761 + 7
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}

// Flowfile sets used by the replays.
func oneFile() []ff {
	return []ff{{[]kv{{"filename", "a.txt"}, {"path", "./"}, {"uuid", "4a1c5e3e-26c8-4b4c-9f5d-6f1d1c7f0a01"}}, []byte("hello, site-to-site")}}
}

func manyFiles(n int) []ff {
	out := make([]ff, n)
	for i := range out {
		out[i] = ff{[]kv{{"filename", fmt.Sprintf("f%03d", i)}, {"i", fmt.Sprint(i)}}, gen(i*97%5000, i)}
	}
	return out
}

func unicodeFiles() []ff {
	return []ff{
		{[]kv{{"clé", "välue ☃"}, {"名前", "値 🚀"}, {"emoji🎉", "ok"}}, []byte("héllo wörld")},
		{[]kv{{"empty", ""}}, nil}, // empty content
		{nil, nil},                 // no attributes at all
		{[]kv{{"big", strings.Repeat("é", 40000)}}, gen(70000, 1)}, // value and content over 64 KiB
	}
}

// ---- the JSON NiFi's clients read

type txResult struct {
	FlowFileSent *int    `json:"flowFileSent"`
	ResponseCode *int    `json:"responseCode"`
	Message      *string `json:"message"`
}

// expectResult checks a TransactionResultEntity answer.
func expectResult(t testing.TB, resp *http.Response, b []byte, status, code int) txResult {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("status %d, want %d; body %s", resp.StatusCode, status, b)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type %q; body %s", ct, b)
	}
	var r txResult
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	if r.ResponseCode == nil || *r.ResponseCode != code || r.FlowFileSent == nil {
		t.Fatalf("body %s, want responseCode %d", b, code)
	}
	return r
}

func readBody(t testing.TB, resp *http.Response) []byte {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// ---- replays of NiFi's Java clients

// client is one of NiFi's site-to-site clients, replayed request for
// request (s2s-protocol.md §3, §4.1, §4.2, C3–C6).
type client interface {
	name() string
	// get: GET /site-to-site or /site-to-site/peers.
	get(path string) (*http.Response, []byte)
	// create: POST .../transactions; returns the response and Location.
	create(typ, port string) (*http.Response, []byte, string)
	// push: POST {loc}/flow-files with the body; midway runs while the body
	// is open, after the first half was sent.
	push(loc string, body []byte, midway func()) (*http.Response, []byte)
	// pull: GET {loc}/flow-files.
	pull(loc string) (*http.Response, []byte)
	// extend: PUT {loc}.
	extend(loc string) (*http.Response, []byte)
	// end: DELETE {loc}?query.
	end(loc, query string) (*http.Response, []byte)
	// set: a handshake header sent on every /data-transfer request.
	set(name, value string)
	proto() string // the HTTP version its requests arrive with
}

// rawClient writes HTTP/1.1 requests byte for byte as NiFi 2.6 (Apache
// HttpClient 4.5 / HttpAsyncClient 4.1) or, on cleartext, NiFi ≥ 2.7
// (java.net.http with its h2c upgrade offer) write them. The create,
// flow-files and DELETE requests of a transaction share one connection;
// /site-to-site, /peers and PUT use their own (C4).
type rawClient struct {
	t     testing.TB
	addr  string
	tls   *tls.Config // over TLS without ALPN: HTTP/1.1, as the 2.6 client (C2)
	head  bool        // NiFi ≥ 2.7 on cleartext
	hs    [][2]string
	conn  net.Conn
	br    *bufio.Reader
	extra []string // more header lines, for tests that break things
}

func newRawClient(t testing.TB, e *env, head bool, compress bool) *rawClient {
	c := &rawClient{t: t, addr: e.ts.Listener.Addr().String(), head: head}
	if e.ts.TLS != nil {
		c.tls = &tls.Config{RootCAs: e.ts.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs}
	}
	c.hs = [][2]string{{server.HeaderProtocolVersion, "1"}, {server.HeaderExpiration, "30000"}}
	if compress {
		c.hs = append(c.hs, [2]string{server.HeaderCompression, "true"})
	}
	t.Cleanup(func() {
		if c.conn != nil {
			c.conn.Close()
		}
	})
	return c
}

func (c *rawClient) name() string {
	switch {
	case c.head:
		return "nifi-2.7+/http1.1-h2c-offer"
	case c.tls != nil:
		return "nifi-2.6/apache-http1.1-tls"
	}
	return "nifi-2.6/apache-http1.1"
}

func (c *rawClient) proto() string { return "HTTP/1.1" }

func (c *rawClient) set(name, value string) {
	c.hs = slices.DeleteFunc(c.hs, func(h [2]string) bool { return h[0] == name })
	c.hs = append(c.hs, [2]string{name, value})
}

func (c *rawClient) dial() (net.Conn, *bufio.Reader) {
	var conn net.Conn
	var err error
	if c.tls != nil {
		conn, err = tls.Dial("tcp", c.addr, c.tls)
	} else {
		conn, err = net.Dial("tcp", c.addr)
	}
	if err != nil {
		c.t.Fatal(err)
	}
	return conn, bufio.NewReader(conn)
}

// txConn is the connection of the current transaction.
func (c *rawClient) txConn() (net.Conn, *bufio.Reader) {
	if c.conn == nil {
		c.conn, c.br = c.dial()
	}
	return c.conn, c.br
}

type bodyKind int

const (
	noBody        bodyKind = iota // no body headers at all (GET, DELETE)
	emptyLength                   // Content-Length: 0
	emptyChunked                  // Transfer-Encoding: chunked and the last chunk only (C6)
	chunkedStream                 // Transfer-Encoding: chunked, streamed
)

// head writes the request line and headers in the client's order.
func (c *rawClient) writeHead(w io.Writer, method, target string, lines []string, kind bodyKind, async bool) {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\n", method, target)
	if c.head {
		// java.net.http on cleartext offers h2c on every request (C3).
		b.WriteString("Connection: Upgrade, HTTP2-Settings\r\n")
		if kind == emptyLength {
			b.WriteString("Content-Length: 0\r\n")
		}
		fmt.Fprintf(&b, "Host: %s\r\n", c.addr)
		b.WriteString("HTTP2-Settings: AAEAAEAAAAIAAAABAAMAAABkAAQBAAAAAAUAAEAA\r\n")
		if kind == chunkedStream || kind == emptyChunked {
			b.WriteString("Transfer-Encoding: chunked\r\n")
		}
		b.WriteString("Upgrade: h2c\r\n")
		b.WriteString("User-Agent: Java-http-client/21.0.8\r\n")
		for _, l := range lines {
			b.WriteString(l + "\r\n")
		}
	} else {
		for _, l := range lines {
			b.WriteString(l + "\r\n")
		}
		switch kind {
		case emptyLength:
			b.WriteString("Content-Length: 0\r\n")
		case emptyChunked, chunkedStream:
			b.WriteString("Transfer-Encoding: chunked\r\n")
		}
		fmt.Fprintf(&b, "Host: %s\r\n", c.addr)
		b.WriteString("Connection: Keep-Alive\r\n")
		if async {
			b.WriteString("User-Agent: Apache-HttpAsyncClient/4.1.5 (Java/17.0.12)\r\n")
		} else {
			b.WriteString("User-Agent: Apache-HttpClient/4.5.14 (Java/17.0.12)\r\n")
			b.WriteString("Accept-Encoding: gzip,deflate\r\n")
		}
	}
	for _, l := range c.extra {
		b.WriteString(l + "\r\n")
	}
	b.WriteString("\r\n")
	if _, err := io.WriteString(w, b.String()); err != nil {
		c.t.Fatal(err)
	}
	if kind == emptyChunked {
		io.WriteString(w, "0\r\n\r\n")
	}
}

func (c *rawClient) lines(accept string, handshake bool) []string {
	out := []string{"Accept: " + accept}
	if handshake {
		for _, h := range c.hs {
			out = append(out, h[0]+": "+h[1])
		}
	} else {
		out = append(out, server.HeaderProtocolVersion+": 1")
	}
	return out
}

func (c *rawClient) read(br *bufio.Reader, method string) (*http.Response, []byte) {
	resp, err := http.ReadResponse(br, &http.Request{Method: method})
	if err != nil {
		c.t.Fatal(err)
	}
	return resp, readBody(c.t, resp)
}

func (c *rawClient) get(path string) (*http.Response, []byte) {
	conn, br := c.dial()
	defer conn.Close()
	c.writeHead(conn, "GET", "/nifi-api"+path, c.lines("application/json", false), noBody, false)
	return c.read(br, "GET")
}

func (c *rawClient) create(typ, port string) (*http.Response, []byte, string) {
	if c.conn != nil { // a new transaction, a new connection (C4)
		c.conn.Close()
		c.conn = nil
	}
	conn, br := c.txConn()
	kind := emptyLength // pulls, and every create of NiFi ≥ 2.7
	if !c.head && typ == "input-ports" {
		kind = emptyChunked // the 2.6 push create (C6)
	}
	c.writeHead(conn, "POST", "/nifi-api/data-transfer/"+typ+"/"+port+"/transactions", c.lines("application/json", true), kind, typ == "input-ports")
	resp, b := c.read(br, "POST")
	return resp, b, resp.Header.Get("Location")
}

// target is the request target for an absolute transaction URL; the
// clients use the Location verbatim.
func (c *rawClient) target(loc, suffix string) string {
	u, err := url.Parse(loc)
	if err != nil || !u.IsAbs() {
		c.t.Fatalf("Location %q is not an absolute URL", loc)
	}
	if u.Host != c.addr {
		c.t.Fatalf("Location %q does not name the server %s", loc, c.addr)
	}
	return u.EscapedPath() + suffix
}

func (c *rawClient) push(loc string, body []byte, midway func()) (*http.Response, []byte) {
	conn, br := c.txConn()
	lines := append([]string{"Content-Type: application/octet-stream", "Accept: text/plain"}, c.lines("", true)[1:]...)
	c.writeHead(conn, "POST", c.target(loc, "/flow-files"), lines, chunkedStream, true)
	cw := httputil.NewChunkedWriter(conn)
	half := len(body) / 2
	cw.Write(body[:half])
	if midway != nil {
		midway()
	}
	cw.Write(body[half:])
	cw.Close()
	io.WriteString(conn, "\r\n")
	return c.read(br, "POST")
}

func (c *rawClient) pull(loc string) (*http.Response, []byte) {
	conn, br := c.txConn()
	c.writeHead(conn, "GET", c.target(loc, "/flow-files"), c.lines("*/*", true)[1:], noBody, true)
	return c.read(br, "GET")
}

func (c *rawClient) extend(loc string) (*http.Response, []byte) {
	conn, br := c.dial()
	defer conn.Close()
	c.writeHead(conn, "PUT", c.target(loc, ""), c.lines("application/json", true), emptyLength, false)
	return c.read(br, "PUT")
}

func (c *rawClient) end(loc, query string) (*http.Response, []byte) {
	conn, br := c.txConn()
	c.writeHead(conn, "DELETE", c.target(loc, "?"+query), c.lines("application/json", true), noBody, false)
	return c.read(br, "DELETE")
}

// h2Client is NiFi ≥ 2.7's java.net.http client over TLS, which ALPN
// turns into HTTP/2 (C2): Go's HTTP/2 client sends the same requests.
type h2Client struct {
	t  testing.TB
	e  *env
	hc *http.Client
	hs [][2]string
}

func newH2Client(t testing.TB, e *env, compress bool) *h2Client {
	tr := e.ts.Client().Transport.(*http.Transport).Clone()
	tr.ForceAttemptHTTP2 = true
	tr.DisableCompression = true // java.net.http sends no Accept-Encoding
	tr.TLSClientConfig = &tls.Config{RootCAs: e.ts.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs}
	c := &h2Client{t: t, e: e, hc: &http.Client{Transport: tr}}
	c.hs = [][2]string{{server.HeaderProtocolVersion, "1"}, {server.HeaderExpiration, "30000"}}
	if compress {
		c.hs = append(c.hs, [2]string{server.HeaderCompression, "true"})
	}
	t.Cleanup(tr.CloseIdleConnections)
	return c
}

func (c *h2Client) name() string  { return "nifi-2.7+/h2-tls" }
func (c *h2Client) proto() string { return "HTTP/2.0" }

func (c *h2Client) set(name, value string) {
	c.hs = slices.DeleteFunc(c.hs, func(h [2]string) bool { return h[0] == name })
	c.hs = append(c.hs, [2]string{name, value})
}

func (c *h2Client) do(method, u string, body io.Reader, accept string, handshake bool, ctype string) (*http.Response, []byte) {
	resp, b, err := c.doErr(method, u, body, accept, handshake, ctype)
	if err != nil {
		c.t.Fatal(err)
	}
	return resp, b
}

// doErr is do for other goroutines than the test's: it reports, not fails.
func (c *h2Client) doErr(method, u string, body io.Reader, accept string, handshake bool, ctype string) (*http.Response, []byte, error) {
	req, err := http.NewRequestWithContext(context.Background(), method, u, body)
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("User-Agent", "Java-http-client/21.0.8")
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if handshake {
		for _, h := range c.hs {
			req.Header.Set(h[0], h[1])
		}
	} else {
		req.Header.Set(server.HeaderProtocolVersion, "1")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, nil, err
	}
	if resp.ProtoMajor != 2 {
		return nil, nil, fmt.Errorf("answered over %s, want HTTP/2", resp.Proto)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, b, err
}

func (c *h2Client) get(path string) (*http.Response, []byte) {
	return c.do("GET", c.e.ts.URL+"/nifi-api"+path, nil, "application/json", false, "")
}

func (c *h2Client) create(typ, port string) (*http.Response, []byte, string) {
	resp, b := c.do("POST", c.e.ts.URL+"/nifi-api/data-transfer/"+typ+"/"+port+"/transactions", http.NoBody, "application/json", true, "")
	return resp, b, resp.Header.Get("Location")
}

// push streams the body through a pipe: the request runs in its own
// goroutine, so that midway runs on the test's while the stream is open.
func (c *h2Client) push(loc string, body []byte, midway func()) (*http.Response, []byte) {
	pr, pw := io.Pipe()
	type answer struct {
		resp *http.Response
		b    []byte
		err  error
	}
	done := make(chan answer, 1)
	go func() {
		resp, b, err := c.doErr("POST", loc+"/flow-files", pr, "text/plain", true, "application/octet-stream")
		pr.CloseWithError(io.ErrClosedPipe) // unblock the writes if the request failed early
		done <- answer{resp, b, err}
	}()
	half := len(body) / 2
	pw.Write(body[:half])
	if midway != nil {
		midway()
	}
	pw.Write(body[half:])
	pw.Close()
	a := <-done
	if a.err != nil {
		c.t.Fatal(a.err)
	}
	return a.resp, a.b
}

func (c *h2Client) pull(loc string) (*http.Response, []byte) {
	return c.do("GET", loc+"/flow-files", nil, "", true, "")
}

func (c *h2Client) extend(loc string) (*http.Response, []byte) {
	return c.do("PUT", loc, http.NoBody, "application/json", true, "")
}

func (c *h2Client) end(loc, query string) (*http.Response, []byte) {
	return c.do("DELETE", loc+"?"+query, nil, "application/json", true, "")
}

// clients returns each client generation, with its own server.
func clients(t *testing.T, compress bool, mutate func(*server.Options)) []struct {
	c client
	e *env
} {
	e1 := newEnv(t, envOpts{mutate: mutate})
	e2 := newEnv(t, envOpts{tls: true, mutate: mutate})
	e3 := newEnv(t, envOpts{mutate: mutate})
	e4 := newEnv(t, envOpts{tls: true, mutate: mutate})
	return []struct {
		c client
		e *env
	}{
		{newRawClient(t, e1, false, compress), e1}, // NiFi ≤ 2.6, cleartext
		{newRawClient(t, e2, false, compress), e2}, // NiFi ≤ 2.6, TLS without ALPN
		{newRawClient(t, e3, true, compress), e3},  // NiFi ≥ 2.7, cleartext (h2c offered, ignored)
		{newH2Client(t, e4, compress), e4},         // NiFi ≥ 2.7, TLS: h2
	}
}

// decodePull decodes a pulled body as the client does, returning the
// flowfiles and the CRC it sends back.
func decodePull(t testing.TB, b []byte, compressed bool) ([]ff, string) {
	t.Helper()
	dec := codec.NewDecoder(bytes.NewReader(b), compressed, codec.Limits{})
	var out []ff
	for {
		p, err := dec.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		c, err := io.ReadAll(p.Content)
		if err != nil {
			t.Fatal(err)
		}
		var attrs []kv
		for k, v := range p.Attributes {
			attrs = append(attrs, kv{k, v})
		}
		out = append(out, ff{attrs, c})
	}
	return out, codec.FormatChecksum(dec.Checksum())
}

func sameFiles(t testing.TB, got []memqueue.Record, want []ff) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d flowfiles, want %d", len(got), len(want))
	}
	for i := range want {
		wm := want[i].attrMap()
		if len(got[i].Attributes) != len(wm) {
			t.Fatalf("flowfile %d: attributes %v, want %v", i, got[i].Attributes, wm)
		}
		for k, v := range wm {
			if got[i].Attributes[k] != v {
				t.Fatalf("flowfile %d: attribute %q differs", i, k)
			}
		}
		if !bytes.Equal(got[i].Content, want[i].content) {
			t.Fatalf("flowfile %d: content differs", i)
		}
	}
}

func sameFF(t testing.TB, got, want []ff) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d flowfiles, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i].attrMap(), want[i].attrMap()
		if len(g) != len(w) {
			t.Fatalf("flowfile %d: attributes %v, want %v", i, g, w)
		}
		for k, v := range w {
			if g[k] != v {
				t.Fatalf("flowfile %d: attribute %q differs", i, k)
			}
		}
		if !bytes.Equal(got[i].content, want[i].content) {
			t.Fatalf("flowfile %d: content differs", i)
		}
	}
}
