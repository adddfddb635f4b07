package server_test

import (
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/weir-nifi/weir/internal/s2s/server"
	"github.com/weir-nifi/weir/internal/s2s/server/memqueue"
)

func ttl2(o *server.Options) { o.TTL = 2 * time.Second }

// Idle time is counted in whole seconds and must exceed the TTL (§4.3); a
// PUT or any held result restarts it. The clock is the test's.
func TestTTLExpiryAndExtension(t *testing.T) {
	e := newEnv(t, envOpts{mutate: ttl2})
	c := newRawClient(t, e, false, false)
	resp, _, loc := c.create("input-ports", inPort)
	if resp.Header.Get(server.HeaderTransactionTTL) != "2" {
		t.Fatalf("TTL header %q", resp.Header.Get(server.HeaderTransactionTTL))
	}
	e.clock.Advance(2900 * time.Millisecond) // 2 whole seconds: not more than the TTL
	r, b := c.extend(loc)
	expectResult(t, r, b, 200, 10)
	e.clock.Advance(2500 * time.Millisecond) // extended: still alive
	r, b = c.extend(loc)
	expectResult(t, r, b, 200, 10)
	e.clock.Advance(3 * time.Second)
	r, b = c.extend(loc)
	expectResult(t, r, b, 404, 250)
	e.settled()

	// A staged push that expires is discarded by the reaper.
	_, _, loc = c.create("input-ports", inPort)
	data, _ := body(t, manyFiles(3), false)
	if resp, _ := c.push(loc, data, nil); resp.StatusCode != 202 {
		t.Fatal(resp.StatusCode)
	}
	e.clock.Advance(2 * time.Second)
	if e.srv.Reap() != 0 {
		t.Fatal("reaped too early")
	}
	e.clock.Advance(1 * time.Second)
	if e.srv.Reap() != 1 {
		t.Fatal("not reaped")
	}
	resp, b = c.end(loc, "responseCode=12")
	expectResult(t, resp, b, 404, 250)
	if len(e.store.Committed(inPort)) != 0 {
		t.Fatal("an expired push was committed")
	}
	e.settled()

	// An expired pull gives its flowfiles back.
	files := manyFiles(4)
	for _, f := range files {
		e.store.Put(outPort, f.attrMap(), f.content)
	}
	_, _, loc = c.create("output-ports", outPort)
	c.pull(loc)
	e.clock.Advance(3 * time.Second)
	// The request finds it expired before the reaper does: 404, and rolled back.
	resp, b = c.end(loc, "responseCode=12&checksum=1")
	expectResult(t, resp, b, 404, 250)
	sameFiles(t, e.store.Committed(outPort), files)
	e.settled()
}

// A transaction whose body is still streaming is not reaped, however long
// it takes (NiFi does not check the TTL while a body streams), and a
// cancel while it streams ends it.
func TestStreamingIsNotReaped(t *testing.T) {
	e := newEnv(t, envOpts{mutate: ttl2})
	staging := make(chan struct{}, 1)
	e.store.OnStage = func(string, string) { staging <- struct{}{} }
	streaming := func() { // the server is inside Stage: the transaction is busy
		select {
		case <-staging:
		case <-time.After(10 * time.Second): // a hang guard, not a timing assertion
			t.Error("the push never reached Stage")
		}
	}
	c := newRawClient(t, e, false, false)
	_, _, loc := c.create("input-ports", inPort)
	data, crc := body(t, manyFiles(20), false)
	resp, b := c.push(loc, data, func() {
		streaming()
		e.clock.Advance(time.Hour)
		if n := e.srv.Reap(); n != 0 {
			t.Errorf("reaped %d streaming transactions", n)
		}
	})
	if resp.StatusCode != 202 || string(b) != crc {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
	resp, b = c.end(loc, "responseCode=12") // idle time restarted when the body ended
	expectResult(t, resp, b, 200, 13)
	e.settled()

	// Cancel while streaming: the push is refused and nothing is staged.
	other := newRawClient(t, e, false, false)
	_, _, loc = c.create("input-ports", inPort)
	resp, b = c.push(loc, data, func() {
		streaming()
		r, b := other.end(loc, "responseCode=15")
		if r.StatusCode != 200 || !strings.Contains(string(b), `"responseCode":15`) {
			t.Errorf("cancel while streaming: %d %s", r.StatusCode, b)
		}
	})
	if resp.StatusCode != 404 {
		t.Fatalf("push of a canceled transaction: %d %s", resp.StatusCode, b)
	}
	if len(e.store.Committed(inPort)) != 20 {
		t.Fatal("the canceled push was committed")
	}
	e.settled()

	// A confirm while streaming is a conflict.
	_, _, loc = c.create("input-ports", inPort)
	resp, b = c.push(loc, data, func() {
		streaming()
		r, b := other.end(loc, "responseCode=12")
		if r.StatusCode != 409 {
			t.Errorf("confirm while streaming: %d %s", r.StatusCode, b)
		}
	})
	if resp.StatusCode != 202 {
		t.Fatal(resp.StatusCode)
	}
	c.end(loc, "responseCode=15")
	e.settled()
}

// The reaper runs by itself every TTL/2 seconds (§4.3). In a synctest
// bubble the clock is virtual, so this takes no real time and depends on
// none.
func TestReaperPeriod(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := memqueue.New()
		store.AddPort(server.Port{ID: outPort, Name: "out", Type: server.OutputPort, State: server.Running})
		store.Put(outPort, map[string]string{"a": "b"}, []byte("x"))
		srv, err := server.New(server.Options{Ports: store, Peers: store, Queues: store, TTL: 2 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		defer srv.Close()
		do := func(method, target string) *httptest.ResponseRecorder {
			req := httptest.NewRequest(method, target, nil)
			req.Header.Set(server.HeaderProtocolVersion, "1")
			w := httptest.NewRecorder()
			srv.ServeHTTP(w, req)
			return w
		}
		w := do("POST", "/nifi-api/data-transfer/output-ports/"+outPort+"/transactions")
		loc := w.Header().Get("Location")
		path := loc[strings.Index(loc, "/nifi-api"):]
		if w := do("GET", path+"/flow-files"); w.Code != 202 {
			t.Fatal(w.Code)
		}
		if _, leases := store.Outstanding(); leases != 1 {
			t.Fatal("no lease")
		}
		time.Sleep(2500 * time.Millisecond)
		synctest.Wait()
		if srv.Transactions() != 1 {
			t.Fatal("reaped before it expired")
		}
		// Idle for 3 whole seconds > 2: the tick at 3 s takes it.
		time.Sleep(1 * time.Second)
		synctest.Wait()
		if srv.Transactions() != 0 {
			t.Fatal("the reaper did not run")
		}
		if _, leases := store.Outstanding(); leases != 0 || len(store.Committed(outPort)) != 1 {
			t.Fatal("the lease was not released")
		}
	})
}

func TestOptions(t *testing.T) {
	store := memqueue.New()
	for _, ttl := range []time.Duration{time.Second, 1999 * time.Millisecond, -time.Second} {
		if _, err := server.New(server.Options{Ports: store, Peers: store, Queues: store, TTL: ttl}); err == nil {
			t.Fatalf("TTL %v accepted; clients need at least 2 s", ttl)
		}
	}
	if _, err := server.New(server.Options{Ports: store, Peers: store}); err == nil {
		t.Fatal("no Queues accepted")
	}
	srv, err := server.New(server.Options{Ports: store, Peers: store, Queues: store})
	if err != nil {
		t.Fatal(err)
	}
	srv.Close()
	srv.Close() // twice is fine
}
