package cluster

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"
)

func TestMuxAuthenticatesBothWays(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	good := &Auth{Key: []byte("the-right-cluster-key")}
	m, err := NewMux("127.0.0.1:0", good, log)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ln := m.Listen(streamRPC)
	go m.Serve()
	addr := m.Addr().String()

	got := make(chan string, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		b := make([]byte, 5)
		_, _ = io.ReadFull(c, b)
		got <- string(b)
		c.Close()
	}()
	c, err := good.dial(addr, streamRPC, time.Second)
	if err != nil {
		t.Fatalf("dial with the right key: %v", err)
	}
	_, _ = c.Write([]byte("hello"))
	select {
	case s := <-got:
		if s != "hello" {
			t.Fatalf("got %q", s)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("stream never reached the listener")
	}
	c.Close()

	bad := &Auth{Key: []byte("a-wrong-cluster-key!")}
	if _, err := bad.dial(addr, streamRPC, time.Second); err == nil {
		t.Fatal("dial with the wrong key succeeded")
	}
	// A stream type nobody listens for is refused after authentication.
	if c, err := good.dial(addr, 99, time.Second); err == nil {
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		if _, err := c.Read(make([]byte, 1)); err == nil {
			t.Fatal("unknown stream type was served")
		}
		c.Close()
	}
}

// A server that does not know the key must not be able to impersonate a
// node: the dialer checks the server's proof too.
func TestDialerRejectsImpostorServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	impostor := &Auth{Key: []byte("impostor-key-xxxxxxx")}
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		// Run the server side with the wrong key: it will fail to verify
		// the client's proof and close, or send a bad proof.
		_, _ = impostor.serverHandshake(c)
	}()
	good := &Auth{Key: []byte("the-right-cluster-key")}
	if _, err := good.dial(ln.Addr().String(), streamRaft, time.Second); err == nil {
		t.Fatal("handshake with an impostor succeeded")
	}
}

// Anyone who reaches the cluster port can fail its handshake; the log
// must not grow with every attempt: one line a minute per address, with
// the count of refusals in between.
func TestRefusalLogIsRateLimitedPerAddress(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	var r refusalLog
	a := &net.TCPAddr{IP: net.ParseIP("192.0.2.1"), Port: 1}
	b := &net.TCPAddr{IP: net.ParseIP("192.0.2.2"), Port: 2}
	for i := 0; i < 1000; i++ {
		a.Port = 1000 + i // a new source port each time, same address
		r.note(log, a, errors.New("wrong cluster key"))
	}
	r.note(log, b, errors.New("wrong cluster key"))
	if lines := strings.Count(buf.String(), "\n"); lines != 2 {
		t.Fatalf("%d log lines for 1001 refusals from 2 addresses:\n%s", lines, buf.String())
	}
	// A minute later the next line carries the count.
	r.ips["192.0.2.1"].logged = time.Now().Add(-2 * refusalEvery)
	r.note(log, a, errors.New("wrong cluster key"))
	if !strings.Contains(buf.String(), "refusedSinceLastLine=999") {
		t.Fatalf("no count of suppressed refusals:\n%s", buf.String())
	}
}
