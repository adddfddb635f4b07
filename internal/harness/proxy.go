package harness

import (
	"errors"
	"io"
	"net"
	"sync"
	"testing"
)

// Network injects network partitions between nodes on loopback addresses.
//
// Every node gets a Proxy on its own IP that forwards to its real cluster
// port, and advertises the proxy instead of that port. Weir binds outgoing
// cluster connections to the IP of its cluster port, so the source IP of a
// connection arriving at a proxy names the node that dialled. Cutting the
// pair (a, b) makes a's proxy refuse connections from b's IP and b's proxy
// refuse connections from a's IP, and closes the connections already
// established between them: Raft, write forwarding and read-index traffic
// all stop. Client traffic to the HTTP API is not proxied, so clients still
// reach a node cut off from its peers.
type Network struct {
	mu      sync.Mutex
	cut     map[[2]string]bool // unordered IP pairs that cannot talk
	proxies []*Proxy
}

// NewNetwork returns a network with no cuts.
func NewNetwork() *Network { return &Network{cut: map[[2]string]bool{}} }

func pair(a, b string) [2]string {
	if a > b {
		a, b = b, a
	}
	return [2]string{a, b}
}

// Cut stops traffic between two IPs (both directions) and closes the
// connections between them.
func (nw *Network) Cut(a, b string) {
	nw.mu.Lock()
	nw.cut[pair(a, b)] = true
	proxies := append([]*Proxy(nil), nw.proxies...)
	nw.mu.Unlock()
	for _, p := range proxies {
		p.dropBlocked()
	}
}

// HealAll removes every cut.
func (nw *Network) HealAll() {
	nw.mu.Lock()
	clear(nw.cut)
	nw.mu.Unlock()
}

// Blocked reports whether traffic between two IPs is cut.
func (nw *Network) Blocked(a, b string) bool {
	nw.mu.Lock()
	defer nw.mu.Unlock()
	return nw.cut[pair(a, b)]
}

// Proxy forwards TCP connections arriving at Addr to Target, unless the
// network cuts the caller's IP from the proxy's owner.
type Proxy struct {
	Addr   string // ip:port the proxy listens on (what the node advertises)
	Target string // the node's real cluster address
	owner  string // IP of the node behind the proxy
	nw     *Network
	ln     net.Listener

	mu     sync.Mutex
	conns  map[*link]struct{}
	closed bool
	wg     sync.WaitGroup
}

// link is one proxied connection: the caller's side and ours to the target.
type link struct {
	from      string // caller IP
	down, up  net.Conn
	closeOnce sync.Once
}

func (l *link) close() {
	l.closeOnce.Do(func() {
		l.down.Close()
		l.up.Close()
	})
}

// NewProxy listens on ip:0 and forwards to target. It is closed when the
// test ends.
func (nw *Network) NewProxy(t testing.TB, ip, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{Addr: ln.Addr().String(), Target: target, owner: ip, nw: nw, ln: ln, conns: map[*link]struct{}{}}
	nw.mu.Lock()
	nw.proxies = append(nw.proxies, p)
	nw.mu.Unlock()
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(p.Close)
	return p
}

func (p *Proxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		p.wg.Add(1)
		go p.handle(c)
	}
}

func (p *Proxy) handle(down net.Conn) {
	defer p.wg.Done()
	from := down.RemoteAddr().(*net.TCPAddr).IP.String()
	if p.nw.Blocked(from, p.owner) {
		down.Close()
		return
	}
	// Dial from the caller's IP, so the node behind the proxy logs the
	// real peer.
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	up, err := d.Dial("tcp", p.Target)
	if err != nil {
		down.Close()
		return
	}
	l := &link{from: from, down: down, up: up}
	p.mu.Lock()
	if p.closed || p.nw.Blocked(from, p.owner) {
		p.mu.Unlock()
		l.close()
		return
	}
	p.conns[l] = struct{}{}
	p.mu.Unlock()
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(up, down); done <- struct{}{} }()
	go func() { _, _ = io.Copy(down, up); done <- struct{}{} }()
	<-done
	l.close()
	<-done
	p.mu.Lock()
	delete(p.conns, l)
	p.mu.Unlock()
}

// dropBlocked closes the proxied connections the network now cuts.
func (p *Proxy) dropBlocked() {
	p.mu.Lock()
	var drop []*link
	for l := range p.conns {
		if p.nw.Blocked(l.from, p.owner) {
			drop = append(drop, l)
		}
	}
	p.mu.Unlock()
	for _, l := range drop {
		l.close()
	}
}

// Conns is the number of open proxied connections.
func (p *Proxy) Conns() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.conns)
}

// PeerConns is the number of open proxied connections from other IPs
// than the owner's (a node may reach itself through its own proxy).
func (p *Proxy) PeerConns() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for l := range p.conns {
		if l.from != p.owner {
			n++
		}
	}
	return n
}

// Close stops the proxy and closes its connections.
func (p *Proxy) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	var all []*link
	for l := range p.conns {
		all = append(all, l)
	}
	p.mu.Unlock()
	p.ln.Close()
	for _, l := range all {
		l.close()
	}
	p.wg.Wait()
}
