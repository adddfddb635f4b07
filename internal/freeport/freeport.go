// Package freeport picks free TCP ports for test and benchmark processes.
//
// A port is found by binding port 0 and closing the listener; the process
// that will use it binds it again later, so another process may take it
// meanwhile (rare on the per-node loopback addresses the harness uses).
// What this package does prevent is handing out the same port twice in one
// process: every probe stays open until all n are picked (closing one
// before the next bind let the kernel return the same port again, and a
// node then failed to bind its API port next to its Raft port), and a port
// handed out once is not handed out again (a node stopped and restarted by
// a test keeps its ports while others are picked).
package freeport

import (
	"fmt"
	"net"
	"sync"
)

var (
	mu   sync.Mutex
	used = map[string]bool{} // ip:port handed out in this process
)

// Ports returns n distinct free ports on ip.
func Ports(ip string, n int) ([]int, error) {
	out := make([]int, 0, n)
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	mu.Lock()
	defer mu.Unlock()
	for tries := 0; len(out) < n; tries++ {
		if tries > 100*n+1000 {
			return nil, fmt.Errorf("freeport: no unused port on %s", ip)
		}
		ln, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
		if err != nil {
			return nil, err
		}
		lns = append(lns, ln)
		addr := ln.Addr().String()
		if used[addr] {
			continue
		}
		used[addr] = true
		out = append(out, ln.Addr().(*net.TCPAddr).Port)
	}
	return out, nil
}
