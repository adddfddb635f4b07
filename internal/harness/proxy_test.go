package harness

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// echoServer answers every line with the caller's IP and the line.
func echoServer(t *testing.T, ip string) string {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func(c net.Conn) {
				defer c.Close()
				from := c.RemoteAddr().(*net.TCPAddr).IP.String()
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					fmt.Fprintf(c, "%s %s", from, line)
				}
			}(c)
		}
	}()
	return ln.Addr().String()
}

// dialFrom connects from a given local IP.
func dialFrom(ip, addr string) (net.Conn, error) {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	return d.Dial("tcp", addr)
}

// roundTrip sends a line and returns the answer.
func roundTrip(c net.Conn, msg string) (string, error) {
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := fmt.Fprintf(c, "%s\n", msg); err != nil {
		return "", err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSpace(line), err
}

func TestProxyPartition(t *testing.T) {
	ips := clusterIPs(3)
	a, b, other := ips[0], ips[1], ips[2]
	nw := NewNetwork()
	p := nw.NewProxy(t, b, echoServer(t, b))

	ca, err := dialFrom(a, p.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer ca.Close()
	// The target sees the caller's IP, not the proxy's.
	if got, err := roundTrip(ca, "hello"); err != nil || got != a+" hello" {
		t.Fatalf("through the proxy: %q %v", got, err)
	}

	nw.Cut(a, b)
	// The established connection is closed...
	if got, err := roundTrip(ca, "again"); err == nil {
		t.Fatalf("connection survived the cut: %q", got)
	}
	// ...new ones from a are closed at once...
	if c, err := dialFrom(a, p.Addr); err == nil {
		_, err = roundTrip(c, "new")
		c.Close()
		if err == nil || !(errors.Is(err, io.EOF) || strings.Contains(err.Error(), "reset")) {
			t.Fatalf("new connection from a cut-off IP: %v", err)
		}
	}
	// ...while a third IP still gets through.
	co, err := dialFrom(other, p.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer co.Close()
	if got, err := roundTrip(co, "x"); err != nil || got != other+" x" {
		t.Fatalf("unrelated IP during the cut: %q %v", got, err)
	}
	if !nw.Blocked(b, a) || nw.Blocked(a, other) {
		t.Fatal("Blocked is not symmetric or blocks too much")
	}

	nw.HealAll()
	c2, err := dialFrom(a, p.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if got, err := roundTrip(c2, "healed"); err != nil || got != a+" healed" {
		t.Fatalf("after heal: %q %v", got, err)
	}
	p.Close()
	if n := p.Conns(); n != 0 {
		t.Fatalf("%d connections left after Close", n)
	}
}
