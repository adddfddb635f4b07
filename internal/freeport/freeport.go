// Package freeport picks free TCP ports for test and benchmark processes.
//
// A port is found by binding it and closing the listener; the process that
// will use it binds it again later, so something may take it meanwhile.
// Ports are picked below the kernel's ephemeral range (Linux:
// ip_local_port_range), where only explicit binds go: a port picked inside
// it, released and bound later by a node could be handed meanwhile to any
// listen on port 0 or outgoing connection of the same process (the
// harness's proxies listen on port 0 on the node's address), and the node
// then failed with "address already in use". Where the range is unknown,
// port 0 is bound instead.
//
// What this package also prevents is handing out the same port twice in
// one process: every probe stays open until all n are picked, and a port
// handed out once is not handed out again (a node stopped and restarted by
// a test keeps its ports while others are picked).
package freeport

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
)

var (
	mu   sync.Mutex
	used = map[string]bool{} // ip:port handed out in this process
)

// low is the lowest port picked; ports below it are left to services.
const low = 10000

// span is the range ports are picked from: [low, ephemeral start), or
// zero when the ephemeral range is unknown or leaves too little below it.
var span = sync.OnceValue(func() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return 0
	}
	start, err := strconv.Atoi(f[0])
	if err != nil || start-low < 2000 {
		return 0
	}
	return start - low
})

// Ports returns n distinct ports free on ip now, none handed out before
// by this process.
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
		port := 0
		if s := span(); s > 0 {
			port = low + rand.IntN(s)
		}
		ln, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(port)))
		if err != nil {
			if port != 0 {
				continue // taken: pick another
			}
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
