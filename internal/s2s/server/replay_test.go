package server_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/weir-nifi/weir/internal/s2s/server"
)

// checkCreated checks the 201 as both clients require it (§9.1, C8, C11).
func checkCreated(t *testing.T, c client, e *env, status int, b []byte, loc, typ, port string, hdr func(string) string) string {
	t.Helper()
	if status != 201 {
		t.Fatalf("create: status %d: %s", status, b)
	}
	u, err := url.Parse(loc)
	if err != nil || !u.IsAbs() || u.Host != e.ts.Listener.Addr().String() {
		t.Fatalf("Location %q is not this server's absolute URL", loc)
	}
	prefix := "/nifi-api/data-transfer/" + typ + "/" + port + "/transactions/"
	if !strings.HasPrefix(u.Path, prefix) || len(u.Path) != len(prefix)+36 {
		t.Fatalf("Location path %q", u.Path)
	}
	if hdr(server.HeaderLocationIntent) != "transaction-url" || hdr(server.HeaderProtocolVersion) != "1" || hdr(server.HeaderTransactionTTL) != "30" {
		t.Fatalf("201 headers: intent %q version %q ttl %q", hdr(server.HeaderLocationIntent), hdr(server.HeaderProtocolVersion), hdr(server.HeaderTransactionTTL))
	}
	if hdr("Cache-Control") == "" {
		t.Fatal("no Cache-Control on the 201")
	}
	var r struct {
		FlowFileSent int    `json:"flowFileSent"`
		ResponseCode int    `json:"responseCode"`
		Message      string `json:"message"`
	}
	if err := json.Unmarshal(b, &r); err != nil || r.ResponseCode != 1 ||
		r.Message != "Handshake properties are valid, and port is running. A transaction is created:"+u.Path[len(prefix):] {
		t.Fatalf("create body %s", b)
	}
	return loc
}

// TestPushReplay replays NiFi's push (§4.1) with each client generation:
// /site-to-site, /peers, create, the streamed POST with a TTL extension
// while the body is open, then DELETE 12.
func TestPushReplay(t *testing.T) {
	sets := map[string][]ff{
		"one flowfile":          oneFile(),
		"100 flowfiles":         manyFiles(100),
		"unicode, empty, large": unicodeFiles(),
	}
	for _, compress := range []bool{false, true} {
		for _, cc := range clients(t, compress, nil) {
			for name, files := range sets {
				t.Run(fmt.Sprintf("%s/compress=%v/%s", cc.c.name(), compress, name), func(t *testing.T) {
					c, e := cc.c, cc.e
					before := len(e.store.Committed(inPort))

					resp, b := c.get("/site-to-site")
					if resp.StatusCode != 200 || !strings.Contains(string(b), `"remoteSiteHttpListeningPort"`) {
						t.Fatalf("site-to-site: %d %s", resp.StatusCode, b)
					}
					resp, b = c.get("/site-to-site/peers")
					if resp.StatusCode != 200 || !strings.Contains(string(b), `"peers":[{`) {
						t.Fatalf("peers: %d %s", resp.StatusCode, b)
					}

					resp, b, loc := c.create("input-ports", inPort)
					checkCreated(t, c, e, resp.StatusCode, b, loc, "input-ports", inPort, resp.Header.Get)

					data, crc := body(t, files, compress)
					resp, b = c.push(loc, data, func() {
						// The client's TTL extension while the body is open.
						e.clock.Advance(20 * time.Second)
						r, b := c.extend(loc)
						res := expectResult(t, r, b, 200, 10)
						if *res.Message != "Extended TTL." || r.Header.Get(server.HeaderTransactionTTL) != "30" {
							t.Fatalf("extend: %s", b)
						}
					})
					if resp.StatusCode != 202 || string(b) != crc {
						t.Fatalf("push: %d %q, want 202 %q", resp.StatusCode, b, crc)
					}
					if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
						t.Fatalf("push Content-Type %q", ct)
					}
					if resp.Header.Get(server.HeaderProtocolVersion) != "1" || resp.Header.Get(server.HeaderTransactionTTL) != "30" {
						t.Fatal("no common headers on the 202")
					}
					if got := len(e.store.Committed(inPort)); got != before {
						t.Fatal("flowfiles visible before the commit")
					}

					resp, b = c.end(loc, "responseCode=12")
					res := expectResult(t, resp, b, 200, 13)
					if *res.FlowFileSent != len(files) {
						t.Fatalf("flowFileSent %d, want %d", *res.FlowFileSent, len(files))
					}
					sameFiles(t, e.store.Committed(inPort)[before:], files)
					e.settled()

					for _, r := range e.seen() {
						if r.proto != c.proto() {
							t.Fatalf("%s %s arrived over %s, want %s", r.method, r.path, r.proto, c.proto())
						}
					}
				})
			}
		}
	}
}

// TestPullReplay replays NiFi's pull (§4.2): create, GET flow-files, then
// DELETE 12 with the client's checksum.
func TestPullReplay(t *testing.T) {
	sets := map[string][]ff{
		"one flowfile":          oneFile(),
		"100 flowfiles":         manyFiles(100),
		"unicode, empty, large": unicodeFiles(),
	}
	for _, compress := range []bool{false, true} {
		for _, cc := range clients(t, compress, nil) {
			for name, files := range sets {
				t.Run(fmt.Sprintf("%s/compress=%v/%s", cc.c.name(), compress, name), func(t *testing.T) {
					c, e := cc.c, cc.e
					for _, f := range files {
						e.store.Put(outPort, f.attrMap(), f.content)
					}
					resp, b, loc := c.create("output-ports", outPort)
					checkCreated(t, c, e, resp.StatusCode, b, loc, "output-ports", outPort, resp.Header.Get)

					resp, b = c.pull(loc)
					if resp.StatusCode != 202 || resp.Header.Get("Content-Type") != "application/octet-stream" {
						t.Fatalf("pull: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
					}
					got, crc := decodePull(t, b, compress)
					sameFF(t, got, files)
					if len(e.store.Committed(outPort)) != 0 {
						t.Fatal("leased flowfiles still available")
					}

					r, rb := c.extend(loc)
					expectResult(t, r, rb, 200, 10)

					resp, b = c.end(loc, "responseCode=12&checksum="+crc)
					res := expectResult(t, resp, b, 200, 12)
					if *res.FlowFileSent != len(files) {
						t.Fatalf("flowFileSent %d", *res.FlowFileSent)
					}
					if len(e.store.Committed(outPort)) != 0 {
						t.Fatal("acked flowfiles came back")
					}
					e.settled()
				})
			}
		}
	}
}

// An empty pull is 200 with no body; the client sends no DELETE (C12) and
// the reaper ends the transaction.
func TestEmptyPull(t *testing.T) {
	for _, cc := range clients(t, false, nil) {
		t.Run(cc.c.name(), func(t *testing.T) {
			c, e := cc.c, cc.e
			_, _, loc := c.create("output-ports", outPort)
			resp, b := c.pull(loc)
			if resp.StatusCode != 200 || len(b) != 0 {
				t.Fatalf("empty pull: %d %q", resp.StatusCode, b)
			}
			if st, ls := e.store.Outstanding(); st != 0 || ls != 0 {
				t.Fatal("an empty lease is held")
			}
			if e.srv.Transactions() != 1 {
				t.Fatal("the transaction should live until it expires")
			}
			e.clock.Advance(30 * time.Second)
			if e.srv.Reap() != 0 {
				t.Fatal("reaped at exactly the TTL; NiFi waits for more")
			}
			e.clock.Advance(1 * time.Second)
			if e.srv.Reap() != 1 {
				t.Fatal("not reaped after TTL+1 s")
			}
			e.settled()
			resp, b = c.end(loc, "responseCode=12&checksum=0")
			expectResult(t, resp, b, 404, 250)
		})
	}
}

// The client found the pushed checksum wrong and sends 19: nothing is
// committed, the answer is {15}.
func TestPushBadChecksum(t *testing.T) {
	for _, cc := range clients(t, true, nil) {
		t.Run(cc.c.name(), func(t *testing.T) {
			c, e := cc.c, cc.e
			_, _, loc := c.create("input-ports", inPort)
			data, _ := body(t, manyFiles(5), true)
			if resp, b := c.push(loc, data, nil); resp.StatusCode != 202 {
				t.Fatalf("%d %s", resp.StatusCode, b)
			}
			resp, b := c.end(loc, "responseCode=19")
			res := expectResult(t, resp, b, 200, 15)
			if res.Message != nil {
				t.Fatalf("NiFi's answer to 19 has no message: %s", b)
			}
			if len(e.store.Committed(inPort)) != 0 {
				t.Fatal("committed after a bad checksum")
			}
			e.settled()
		})
	}
}

// A pull whose checksum the client gets wrong is 400 {19}, and the
// flowfiles are available again, in order.
func TestPullChecksumMismatch(t *testing.T) {
	for _, cc := range clients(t, false, nil) {
		t.Run(cc.c.name(), func(t *testing.T) {
			c, e := cc.c, cc.e
			files := manyFiles(7)
			for _, f := range files {
				e.store.Put(outPort, f.attrMap(), f.content)
			}
			for _, query := range []string{"responseCode=12&checksum=12345", "responseCode=12"} {
				_, _, loc := c.create("output-ports", outPort)
				_, b := c.pull(loc)
				_, crc := decodePull(t, b, false)
				if strings.HasSuffix(query, "12345") && crc == "12345" {
					t.Fatal("unlucky checksum")
				}
				resp, rb := c.end(loc, query)
				expectResult(t, resp, rb, 400, 19)
				sameFiles(t, e.store.Committed(outPort), files)
				e.settled()
				resp, rb = c.end(loc, "responseCode=12&checksum="+crc)
				expectResult(t, resp, rb, 404, 250)
			}
		})
	}
}

func TestCancel(t *testing.T) {
	e := newEnv(t, envOpts{})
	c := newRawClient(t, e, false, false)
	files := manyFiles(3)
	for _, f := range files {
		e.store.Put(outPort, f.attrMap(), f.content)
	}
	_, _, loc := c.create("output-ports", outPort)
	c.pull(loc)
	resp, b := c.end(loc, "responseCode=15")
	if r := expectResult(t, resp, b, 200, 15); *r.Message != "Transaction has been canceled." {
		t.Fatal(string(b))
	}
	sameFiles(t, e.store.Committed(outPort), files)

	_, _, loc = c.create("input-ports", inPort)
	data, _ := body(t, files, false)
	c.push(loc, data, nil)
	resp, b = c.end(loc, "responseCode=15")
	expectResult(t, resp, b, 200, 15)
	if len(e.store.Committed(inPort)) != 0 {
		t.Fatal("a canceled push was committed")
	}
	e.settled()
}

// DELETE 12 with nothing pushed is a conflict that changes nothing; a
// second DELETE 12 finds no transaction.
func TestCommitWithoutPushAndDoubleCommit(t *testing.T) {
	for _, cc := range clients(t, false, nil) {
		t.Run(cc.c.name(), func(t *testing.T) {
			c, e := cc.c, cc.e
			_, _, loc := c.create("input-ports", inPort)
			resp, b := c.end(loc, "responseCode=12")
			expectResult(t, resp, b, 409, 250)

			data, crc := body(t, oneFile(), false)
			if resp, b := c.push(loc, data, nil); resp.StatusCode != 202 || string(b) != crc {
				t.Fatalf("push after the refused commit: %d %s", resp.StatusCode, b)
			}
			// A second body for a transaction that holds one.
			resp, b = c.push(loc, data, nil)
			expectResult(t, resp, b, 409, 250)

			resp, b = c.end(loc, "responseCode=12")
			expectResult(t, resp, b, 200, 13)
			resp, b = c.end(loc, "responseCode=12")
			expectResult(t, resp, b, 404, 250)
			if n := len(e.store.Committed(inPort)); n != 1 {
				t.Fatalf("%d flowfiles committed, want 1", n)
			}
			e.settled()

			// The same for a pull confirmed before anything was sent.
			_, _, loc = c.create("output-ports", outPort)
			resp, b = c.end(loc, "responseCode=12&checksum=0")
			expectResult(t, resp, b, 409, 250)
			c.end(loc, "responseCode=15")
			e.settled()
		})
	}
}
