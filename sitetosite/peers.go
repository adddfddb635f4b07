package sitetosite

import (
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/weir-nifi/weir/internal/s2s/server"
)

// Type aliases so that programs outside this module can name what the
// server answers.
type (
	// Controller is what GET /site-to-site answers.
	Controller = server.ControllerDTO
	// PeerStatus is one entry of GET /site-to-site/peers.
	PeerStatus = server.PeerDTO
)

// Peer is a node of a remote cluster as NiFi's client keys it: host,
// port and whether it speaks TLS.
type Peer struct {
	Host   string
	Port   int
	Secure bool
}

// URL is the peer's base URL (this package adds /nifi-api).
func (p Peer) URL() string {
	scheme := "http"
	if p.Secure {
		scheme = "https"
	}
	return scheme + "://" + net.JoinHostPort(p.Host, strconv.Itoa(p.Port))
}

func (p Peer) String() string { return net.JoinHostPort(p.Host, strconv.Itoa(p.Port)) }

// Direction is what a transaction does, which decides the peer weights.
type Direction int

const (
	// Send pushes to an input port: peers with fewer queued flowfiles
	// are preferred.
	Send Direction = iota
	// Receive pulls from an output port: peers with more queued
	// flowfiles are preferred.
	Receive
)

// Weights are NiFi's PeerSelector.calculateNormalizedWeight (since
// NIFI-7467, s2s-protocol.md §7.2): with N peers and C flowfiles queued in
// all, one peer 100, C = 0 an equal share each, otherwise with p = c/C a
// sender weighs (1 − p)/(N − 1) × 100 and a receiver p × 100, floored to
// two decimals.
func Weights(dir Direction, counts []int) []float64 {
	n := len(counts)
	w := make([]float64, n)
	if n == 0 {
		return w
	}
	if n == 1 {
		w[0] = 100
		return w
	}
	var total int64
	for _, c := range counts {
		total += int64(max(c, 0))
	}
	for i, c := range counts {
		var v float64
		switch {
		case total == 0:
			v = 100 / float64(n)
		case dir == Send:
			v = (1 - float64(max(c, 0))/float64(total)) / float64(n-1) * 100
		default:
			v = float64(max(c, 0)) / float64(total) * 100
		}
		w[i] = math.Floor(v*100+1e-9) / 100
	}
	return w
}

// selector is NiFi's PeerSelector: the last known peers of one cluster
// with their queued counts, penalties of failed peers, and a weighted
// random pick among the others.
type selector struct {
	mu        sync.Mutex
	peers     []PeerStatus
	refreshed time.Time // when peers came from the cluster (zero: restored or none)
	penalty   map[Peer]time.Time
	rand      func() float64
}

func newSelector() *selector {
	return &selector{penalty: map[Peer]time.Time{}, rand: rand.Float64}
}

func peerOf(s PeerStatus) Peer { return Peer{Host: s.Hostname, Port: s.Port, Secure: s.Secure} }

// set replaces the known peers (from a refresh at now, or restored from
// the cache with a zero time).
func (s *selector) set(peers []PeerStatus, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.peers = append([]PeerStatus(nil), peers...)
	s.refreshed = now
}

func (s *selector) known() []PeerStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]PeerStatus(nil), s.peers...)
}

// penalize keeps p out of picks until now+d (the later of that and any
// penalty it has), as NiFi does after a failed transaction.
func (s *selector) penalize(p Peer, now time.Time, d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if until := now.Add(d); until.After(s.penalty[p]) {
		s.penalty[p] = until
	}
}

// pick returns a peer that is not penalized at now, weighted for dir, and
// false when there is none. The weights are computed over every known
// peer and the penalized ones are then left out, as NiFi does.
func (s *selector) pick(dir Direction, now time.Time) (Peer, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	counts := make([]int, len(s.peers))
	for i, ps := range s.peers {
		counts[i] = ps.FlowFileCount
	}
	weights := Weights(dir, counts)
	var cands []Peer
	var w []float64
	var sum float64
	for i, ps := range s.peers {
		p := peerOf(ps)
		if now.Before(s.penalty[p]) {
			continue
		}
		cands = append(cands, p)
		w = append(w, weights[i])
		sum += weights[i]
	}
	if len(cands) == 0 {
		return Peer{}, false
	}
	r := s.rand() * min(100, sum)
	var run float64
	for i, p := range cands {
		run += w[i]
		if run >= r {
			return p, true
		}
	}
	// Every weight left is 0 (a receiver when penalized peers hold all
	// the flowfiles): NiFi returns no peer there and tries again later;
	// taking the first keeps the reachable peers usable.
	return cands[0], true
}

// parsePeerLine reads one "host:port:secure[:queryForPeers]" line of
// NiFi's peer cache; ok is false for any other line (NiFi skips them).
func parsePeerLine(line string) (PeerStatus, bool) {
	f := splitColons(line)
	if len(f) != 3 && len(f) != 4 {
		return PeerStatus{}, false
	}
	port, err := strconv.Atoi(f[1])
	if err != nil || port <= 0 || port > 65535 || f[0] == "" {
		return PeerStatus{}, false
	}
	secure, err := strconv.ParseBool(f[2])
	if err != nil {
		return PeerStatus{}, false
	}
	// Restored peers count 1 flowfile each: equal weights until the
	// first refresh (§7.2).
	return PeerStatus{Hostname: f[0], Port: port, Secure: secure, FlowFileCount: 1}, true
}

func splitColons(s string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == ':' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

func peerLine(p PeerStatus) string {
	return fmt.Sprintf("%s:%d:%t:true", p.Hostname, p.Port, p.Secure)
}
