package server_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"

	"github.com/weir-nifi/weir/internal/s2s/server"
)

// Bodies that are not well-formed packet streams are 400 {250}, nothing
// is staged, and the transaction stays open for a good body.
func TestMalformedPush(t *testing.T) {
	i32 := func(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }
	i64 := func(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	two, _ := body(t, []ff{oneFile()[0], {[]kv{{"k", "v"}}, gen(3000, 1)}}, false)
	first := len(packetBytes(oneFile()[0]))
	twoZ, _ := body(t, []ff{oneFile()[0], {[]kv{{"k", "v"}}, gen(3000, 1)}}, true)
	firstZ := len(func() []byte { b, _ := body(t, oneFile(), true); return b }())

	type bad struct {
		name       string
		body       []byte
		compressed bool
	}
	cases := []bad{
		{"attribute count 2^31-1", i32(0x7fffffff), false},
		{"attribute count 2^31 (negative)", i32(0x80000000), false},
		{"attribute count 25001", i32(25001), false},
		{"key length 2^31-1", cat(i32(1), i32(0x7fffffff), []byte("k")), false},
		{"key length negative", cat(i32(1), i32(0xfffffff0)), false},
		{"value length past the body", cat(i32(1), i32(1), []byte("k"), i32(100), []byte("short")), false},
		{"content length negative", cat(i32(0), i64(1<<63)), false},
		{"content length past the body", cat(i32(0), i64(1000), []byte("short")), false},
		{"content length 2^63-1", cat(i32(0), i64(1<<63-1), gen(100, 1)), false},
		{"attribute bytes over 4 MiB", cat(i32(5), i32(1), []byte("a"), i32(1<<20), bytes.Repeat([]byte("v"), 1<<20),
			i32(1), []byte("b"), i32(1<<20), bytes.Repeat([]byte("v"), 1<<20),
			i32(1), []byte("c"), i32(1<<20), bytes.Repeat([]byte("v"), 1<<20),
			i32(1), []byte("d"), i32(1<<20), bytes.Repeat([]byte("v"), 1<<20),
			i32(1), []byte("e"), i32(1<<20)), false},
		{"compressed: not SYNC", []byte("SYNX\x00\x00\x00\x01\x00\x00\x00\x01x\x00"), true},
		{"compressed: chunk claims 4 GiB", []byte("SYNC\xff\xff\xff\xff\x00\x00\x00\x10"), true},
		{"compressed: corrupt zlib", cat(twoZ[:12], bytes.Repeat([]byte{0x55}, len(twoZ)-12)), true},
		{"plain body sent as compressed", two, true},
		{"compressed body sent as plain", twoZ, false},
	}
	// Every truncation of a two-packet body, except at the boundary.
	for cut := 1; cut < len(two); cut += max(1, (cut/40)*7) {
		if cut != first {
			cases = append(cases, bad{fmt.Sprintf("plain cut at %d", cut), two[:cut], false})
		}
	}
	for cut := 1; cut < len(twoZ); cut += max(1, (cut/40)*7) {
		if cut != firstZ && cut != firstZ-1 && cut != len(twoZ)-1 { // EOF for a stream's end marker is its end (§5.3)
			cases = append(cases, bad{fmt.Sprintf("compressed cut at %d", cut), twoZ[:cut], true})
		}
	}

	e := newEnv(t, envOpts{})
	for _, compressed := range []bool{false, true} {
		c := newRawClient(t, e, false, compressed)
		_, _, loc := c.create("input-ports", inPort)
		committed := len(e.store.Committed(inPort))
		for _, bc := range cases {
			if bc.compressed != compressed {
				continue
			}
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			resp, b := c.push(loc, bc.body, nil)
			runtime.ReadMemStats(&after)
			if resp.StatusCode != 400 {
				t.Fatalf("%s: %d %s", bc.name, resp.StatusCode, b)
			}
			expectResult(t, resp, b, 400, 250)
			if st, _ := e.store.Outstanding(); st != 0 || len(e.store.Committed(inPort)) != committed {
				t.Fatalf("%s: something was staged", bc.name)
			}
			if strings.HasPrefix(bc.name, "attribute count 2^31") || strings.HasPrefix(bc.name, "key length 2^31") {
				if grew := after.TotalAlloc - before.TotalAlloc; grew > 4<<20 {
					t.Fatalf("%s: %d bytes allocated", bc.name, grew)
				}
			}
			if resp.Close {
				c.conn.Close() // the server gave up the connection: the rest of the body was not read
				c.conn = nil
			}
		}
		// The transaction survived every refusal.
		good, crc := body(t, oneFile(), compressed)
		resp, b := c.push(loc, good, nil)
		if resp.StatusCode != 202 || string(b) != crc {
			t.Fatalf("good push after the bad ones: %d %s", resp.StatusCode, b)
		}
		resp, b = c.end(loc, "responseCode=12")
		expectResult(t, resp, b, 200, 13)
	}
	if n := len(e.store.Committed(inPort)); n != 2 {
		t.Fatalf("%d committed, want 2", n)
	}
	e.settled()
}

// A body with no packet is NiFi's plain-text 400.
func TestEmptyPush(t *testing.T) {
	e := newEnv(t, envOpts{})
	c := newRawClient(t, e, false, false)
	_, _, loc := c.create("input-ports", inPort)
	resp, b := c.push(loc, nil, nil)
	if resp.StatusCode != 400 || string(b) != "Client should send request when there is data to send. There was no flow file sent." {
		t.Fatalf("%d %q", resp.StatusCode, b)
	}
	data, _ := body(t, oneFile(), false)
	if resp, _ := c.push(loc, data, nil); resp.StatusCode != 202 {
		t.Fatal(resp.StatusCode)
	}
	c.end(loc, "responseCode=15")
	e.settled()
}

func TestProtocolVersion(t *testing.T) {
	e := newEnv(t, envOpts{})
	c := newRawClient(t, e, false, false)
	_, _, loc := c.create("input-ports", inPort)
	tx := loc[strings.LastIndex(loc, "/")+1:]
	paths := []struct{ method, path string }{
		{"GET", "/nifi-api/site-to-site/peers"},
		{"POST", "/nifi-api/data-transfer/input-ports/" + inPort + "/transactions"},
		{"POST", "/nifi-api/data-transfer/input-ports/" + inPort + "/transactions/" + tx + "/flow-files"},
		{"GET", "/nifi-api/data-transfer/output-ports/" + outPort + "/transactions/" + tx + "/flow-files"},
		{"PUT", "/nifi-api/data-transfer/input-ports/" + inPort + "/transactions/" + tx},
		{"DELETE", "/nifi-api/data-transfer/input-ports/" + inPort + "/transactions/" + tx + "?responseCode=15"},
	}
	for _, p := range paths {
		for v, want := range map[string]string{
			"":    "Protocol version was not specified.",
			"abc": "Specified protocol version was not in a valid number format: abc",
			"1.0": "Specified protocol version was not in a valid number format: 1.0",
			"0":   "Specified protocol version is not supported: 0",
			"-3":  "Specified protocol version is not supported: -3",
		} {
			req := httptest.NewRequest(p.method, p.path, nil)
			if v != "" {
				req.Header.Set(server.HeaderProtocolVersion, v)
			}
			w := httptest.NewRecorder()
			e.srv.ServeHTTP(w, req)
			r := expectResult(t, w.Result(), w.Body.Bytes(), 400, 250)
			if *r.Message != want {
				t.Fatalf("%s %s version %q: %q", p.method, p.path, v, *r.Message)
			}
		}
	}
	// A newer client is answered with version 1, the preferred lower one.
	req := httptest.NewRequest("POST", paths[1].path, nil)
	req.Header.Set(server.HeaderProtocolVersion, "7")
	w := httptest.NewRecorder()
	e.srv.ServeHTTP(w, req)
	if w.Code != 201 || w.Header().Get(server.HeaderProtocolVersion) != "1" {
		t.Fatalf("%d %v", w.Code, w.Header())
	}
	// /site-to-site needs no version.
	w = httptest.NewRecorder()
	e.srv.ServeHTTP(w, httptest.NewRequest("GET", "/nifi-api/site-to-site", nil))
	if w.Code != 200 {
		t.Fatal(w.Code)
	}
	c.end(loc, "responseCode=15")
}

func TestHandshakeProperties(t *testing.T) {
	e := newEnv(t, envOpts{})
	for header, property := range map[string]string{
		server.HeaderBatchCount:    "BATCH_COUNT",
		server.HeaderBatchSize:     "BATCH_SIZE",
		server.HeaderBatchDuration: "BATCH_DURATION",
		server.HeaderExpiration:    "REQUEST_EXPIRATION_MILLIS",
	} {
		c := newRawClient(t, e, false, false)
		c.set(header, "12x")
		resp, b, _ := c.create("output-ports", outPort)
		r := expectResult(t, resp, b, 400, 231)
		if *r.Message != "Received invalid value for property '"+property+"'; invalid value: 12x" {
			t.Fatal(*r.Message)
		}
	}
	c := newRawClient(t, e, false, false)
	c.set(server.HeaderBatchCount, "99999999999") // not a Java int
	resp, b, _ := c.create("output-ports", outPort)
	expectResult(t, resp, b, 400, 231)

	// Compression is on for "true" in any case, off otherwise.
	c = newRawClient(t, e, false, false)
	c.set(server.HeaderCompression, "TRUE")
	_, _, loc := c.create("input-ports", inPort)
	data, crc := body(t, oneFile(), true)
	if resp, b := c.push(loc, data, nil); resp.StatusCode != 202 || string(b) != crc {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
	c.end(loc, "responseCode=15")
	c.set(server.HeaderCompression, "yes")
	_, _, loc = c.create("input-ports", inPort)
	data, crc = body(t, oneFile(), false)
	if resp, b := c.push(loc, data, nil); resp.StatusCode != 202 || string(b) != crc {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
	c.end(loc, "responseCode=15")
	e.settled()
}

func TestPorts(t *testing.T) {
	e := newEnv(t, envOpts{})
	c := newRawClient(t, e, false, false)
	check := func(typ, port string, status, code int, msg string) {
		t.Helper()
		resp, b, _ := c.create(typ, port)
		r := expectResult(t, resp, b, status, code)
		if *r.Message != msg {
			t.Fatalf("%q", *r.Message)
		}
	}
	check("input-ports", unknown, 404, 200, "Received unknown port identifier: "+unknown)
	check("output-ports", inPort, 404, 200, "Received unknown port identifier: "+inPort) // an input port is not an output port
	check("input-ports", outPort, 404, 200, "Received unknown port identifier: "+outPort)
	check("remote-ports", inPort, 404, 250, "Port was not found.")
	check("input-ports", stopped, 503, 201, "Port not running")
	e.store.SetPortState(stopped, server.Disabled)
	check("input-ports", stopped, 503, 201, "Port not running")
	e.store.HardLimit = 1
	e.store.Put(inPort, map[string]string{"a": "b"}, nil)
	check("input-ports", inPort, 503, 202, "Received port identifier "+inPort+", but its destination is full")
	if e.srv.Transactions() != 0 {
		t.Fatal("a refused create left a transaction")
	}

	// The port is checked again on flow-files while the transaction holds
	// nothing (C13): a port stopped after the create refuses the body.
	e.store.HardLimit = 0
	_, _, loc := c.create("input-ports", inPort2)
	e.store.SetPortState(inPort2, server.Stopped)
	data, _ := body(t, oneFile(), false)
	resp, b := c.push(loc, data, nil)
	expectResult(t, resp, b, 503, 201)
	c.conn.Close()
	c.conn = nil
	e.store.SetPortState(inPort2, server.Running)
	resp, b = c.push(loc, data, nil)
	if resp.StatusCode != 202 {
		t.Fatal(resp.StatusCode, string(b))
	}
	// Once it holds flowfiles, the commit does not depend on the port.
	e.store.SetPortState(inPort2, server.Stopped)
	resp, b = c.end(loc, "responseCode=12")
	expectResult(t, resp, b, 200, 13)
	e.settled()
}

// A transaction is bound to its port and direction: used with another
// port, or the other type, it does not exist.
func TestTransactionBoundToPort(t *testing.T) {
	e := newEnv(t, envOpts{})
	c := newRawClient(t, e, false, false)
	_, _, loc := c.create("input-ports", inPort)
	tx := loc[strings.LastIndex(loc, "/")+1:]
	data, _ := body(t, oneFile(), false)
	for _, p := range []struct{ method, path string }{
		{"POST", "/nifi-api/data-transfer/input-ports/" + inPort2 + "/transactions/" + tx + "/flow-files"},
		{"GET", "/nifi-api/data-transfer/output-ports/" + outPort + "/transactions/" + tx + "/flow-files"},
		{"PUT", "/nifi-api/data-transfer/input-ports/" + inPort2 + "/transactions/" + tx},
		{"PUT", "/nifi-api/data-transfer/output-ports/" + inPort + "/transactions/" + tx},
		{"DELETE", "/nifi-api/data-transfer/input-ports/" + inPort2 + "/transactions/" + tx + "?responseCode=15"},
		{"DELETE", "/nifi-api/data-transfer/output-ports/" + inPort + "/transactions/" + tx + "?responseCode=15"},
		{"PUT", "/nifi-api/data-transfer/input-ports/" + inPort + "/transactions/00000000-0000-4000-8000-000000000000"},
	} {
		req := httptest.NewRequest(p.method, p.path, bytes.NewReader(data))
		req.Header.Set(server.HeaderProtocolVersion, "1")
		w := httptest.NewRecorder()
		e.srv.ServeHTTP(w, req)
		r := expectResult(t, w.Result(), w.Body.Bytes(), 404, 250)
		if *r.Message != "Transaction was not found." {
			t.Fatal(*r.Message)
		}
	}
	if st, _ := e.store.Outstanding(); st != 0 {
		t.Fatal("staged through another port")
	}
	// Still whole on its own port.
	resp, _ := c.push(loc, data, nil)
	if resp.StatusCode != 202 {
		t.Fatal(resp.StatusCode)
	}
	resp, b := c.end(loc, "responseCode=12")
	expectResult(t, resp, b, 200, 13)
	if len(e.store.Committed(inPort)) != 1 || len(e.store.Committed(inPort2)) != 0 {
		t.Fatal("committed to the wrong port")
	}
	e.settled()
}

func TestResponseCodes(t *testing.T) {
	e := newEnv(t, envOpts{})
	c := newRawClient(t, e, false, false)
	_, _, in := c.create("input-ports", inPort)
	for q, msg := range map[string]string{
		"":                  "responseCode is required.",
		"responseCode=13":   "responseCode 13 is invalid. ",
		"responseCode=abc":  "responseCode abc is invalid. ",
		"responseCode=10":   "responseCode 10 is invalid. ",
		"checksum=1":        "responseCode is required.",
		"responseCode=-12":  "responseCode -12 is invalid. ",
		"responseCode=12.0": "responseCode 12.0 is invalid. ",
	} {
		resp, b := c.end(in, q)
		if r := expectResult(t, resp, b, 400, 250); *r.Message != msg {
			t.Fatalf("%q: %q", q, *r.Message)
		}
	}
	_, _, out := c.create("output-ports", outPort)
	resp, b := c.end(out, "responseCode=19") // 19 is the pushing client's word only
	expectResult(t, resp, b, 400, 250)
	c.end(in, "responseCode=15")
	c.end(out, "responseCode=15")
	e.settled()
}

func TestQueueFailures(t *testing.T) {
	e := newEnv(t, envOpts{})
	c := newRawClient(t, e, false, false)
	data, _ := body(t, manyFiles(3), false)

	_, _, loc := c.create("input-ports", inPort)
	e.store.Fail("stage", errors.New("disk on fire"))
	resp, b := c.push(loc, data, nil)
	if r := expectResult(t, resp, b, 500, 250); *r.Message != "Server encountered an exception." {
		t.Fatal(*r.Message)
	}
	e.store.Fail("stage", fmt.Errorf("staging: %w", server.ErrDestinationFull))
	resp, b = c.push(loc, data, nil)
	expectResult(t, resp, b, 503, 202)
	e.store.Fail("stage", nil)
	if resp, _ := c.push(loc, data, nil); resp.StatusCode != 202 {
		t.Fatal(resp.StatusCode)
	}
	e.store.Fail("commit", errors.New("no quorum"))
	resp, b = c.end(loc, "responseCode=12")
	expectResult(t, resp, b, 500, 250)
	e.store.Fail("commit", nil)
	if len(e.store.Committed(inPort)) != 0 {
		t.Fatal("committed")
	}
	e.settled()

	files := manyFiles(4)
	for _, f := range files {
		e.store.Put(outPort, f.attrMap(), f.content)
	}
	_, _, loc = c.create("output-ports", outPort)
	e.store.Fail("lease", errors.New("index unreadable"))
	resp, b = c.pull(loc)
	expectResult(t, resp, b, 500, 250)
	e.store.Fail("lease", nil)
	_, b = c.pull(loc)
	_, crc := decodePull(t, b, false)
	e.store.Fail("ack", errors.New("no quorum"))
	resp, b = c.end(loc, "responseCode=12&checksum="+crc)
	expectResult(t, resp, b, 500, 250)
	e.store.Fail("ack", nil)
	sameFiles(t, e.store.Committed(outPort), files) // released, not lost
	e.settled()
}

// Back-pressure after a commit is {14}, not an error.
func TestCommitBackoff(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.store.SoftLimit = 2
	c := newRawClient(t, e, false, false)
	_, _, loc := c.create("input-ports", inPort)
	data, _ := body(t, manyFiles(3), false)
	c.push(loc, data, nil)
	resp, b := c.end(loc, "responseCode=12")
	if r := expectResult(t, resp, b, 200, 14); *r.FlowFileSent != 3 {
		t.Fatal(string(b))
	}
	e.settled()
}

// HEAD is not a pull (Go's mux lets HEAD into GET patterns).
func TestHeadIsNotAPull(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.store.Put(outPort, map[string]string{"a": "b"}, []byte("x"))
	c := newRawClient(t, e, false, false)
	_, _, loc := c.create("output-ports", outPort)
	req := httptest.NewRequest("HEAD", loc+"/flow-files", nil)
	req.Header.Set(server.HeaderProtocolVersion, "1")
	w := httptest.NewRecorder()
	e.srv.ServeHTTP(w, req)
	if w.Code != http.StatusMethodNotAllowed {
		t.Fatal(w.Code)
	}
	if len(e.store.Committed(outPort)) != 1 {
		t.Fatal("HEAD leased flowfiles")
	}
	c.end(loc, "responseCode=15")
}
