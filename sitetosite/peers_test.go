package sitetosite

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"syscall"
	"testing"
	"time"
)

func TestWeights(t *testing.T) {
	for _, tc := range []struct {
		dir    Direction
		counts []int
		want   []float64
	}{
		{Send, []int{5}, []float64{100}},
		{Receive, []int{0}, []float64{100}},
		{Send, []int{0, 0, 0}, []float64{33.33, 33.33, 33.33}},
		{Receive, []int{0, 0}, []float64{50, 50}},
		// p = 0.1, 0.2, 0.7: senders avoid the full peer, receivers seek it.
		{Send, []int{10, 20, 70}, []float64{45, 40, 15}},
		{Receive, []int{10, 20, 70}, []float64{10, 20, 70}},
		// Floored to two decimals, as BigDecimal FLOOR.
		{Receive, []int{1, 2}, []float64{33.33, 66.66}},
		{Send, []int{1, 1, 1}, []float64{33.33, 33.33, 33.33}},
	} {
		if got := Weights(tc.dir, tc.counts); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Weights(%v, %v) = %v, want %v", tc.dir, tc.counts, got, tc.want)
		}
	}
}

func TestPickWeightsAndPenalties(t *testing.T) {
	s := newSelector()
	s.set([]PeerStatus{
		{Hostname: "a", Port: 1, FlowFileCount: 10},
		{Hostname: "b", Port: 1, FlowFileCount: 20},
		{Hostname: "c", Port: 1, FlowFileCount: 70},
	}, time.Unix(0, 0))
	now := time.Unix(100, 0)
	// Send weights 45, 40, 15: r = x·100 walks a (45), b (85), c (100).
	for _, tc := range []struct {
		x    float64
		want string
	}{{0, "a"}, {0.45, "a"}, {0.46, "b"}, {0.85, "b"}, {0.86, "c"}, {0.999, "c"}} {
		s.rand = func() float64 { return tc.x }
		if p, ok := s.pick(Send, now); !ok || p.Host != tc.want {
			t.Errorf("send pick at %v = %v, want %s", tc.x, p, tc.want)
		}
	}
	// Penalize a: the walk covers b (40) and c (15), r = x·55.
	s.penalize(Peer{Host: "a", Port: 1}, now, 3*time.Second)
	s.rand = func() float64 { return 0.5 } // r = 27.5
	if p, _ := s.pick(Send, now); p.Host != "b" {
		t.Errorf("with a penalized: %v", p)
	}
	s.rand = func() float64 { return 0.9 } // r = 49.5
	if p, _ := s.pick(Send, now); p.Host != "c" {
		t.Errorf("with a penalized: %v", p)
	}
	// A shorter penalty does not cut a longer one; it lapses after.
	s.penalize(Peer{Host: "a", Port: 1}, now, time.Second)
	s.rand = func() float64 { return 0 }
	if p, _ := s.pick(Send, now.Add(2*time.Second)); p.Host == "a" {
		t.Error("a picked inside its penalty")
	}
	if p, _ := s.pick(Send, now.Add(3*time.Second)); p.Host != "a" {
		t.Errorf("a not picked after its penalty: %v", p)
	}
	for _, h := range []string{"a", "b", "c"} {
		s.penalize(Peer{Host: h, Port: 1}, now, time.Minute)
	}
	if p, ok := s.pick(Receive, now); ok {
		t.Errorf("picked %v with every peer penalized", p)
	}
}

// The file NiFi's client wrote (s2s-protocol.md §7.4) reads, with the
// restored counts of 1; Weir's own lines hold no colon, so NiFi's parser
// (3 or 4 colon-separated fields) skips them.
func TestPeerCacheFormat(t *testing.T) {
	nifi := "HTTP\nRemote Instance URIs: http://127.0.3.1:18081/nifi\n127.0.3.2:18082:false:true\n127.0.3.3:18083:false:true\n127.0.3.1:18081:false:true\n"
	c, err := decodeCache([]byte(nifi), "http://127.0.3.1:18081/nifi")
	if err != nil {
		t.Fatal(err)
	}
	want := []PeerStatus{{Hostname: "127.0.3.2", Port: 18082, FlowFileCount: 1}, {Hostname: "127.0.3.3", Port: 18083, FlowFileCount: 1}, {Hostname: "127.0.3.1", Port: 18081, FlowFileCount: 1}}
	if !reflect.DeepEqual(c.Peers, want) {
		t.Fatalf("peers %+v", c.Peers)
	}
	if _, err := decodeCache([]byte(nifi), "http://other:1/nifi"); err == nil {
		t.Fatal("a cache for another URL string was used")
	}
	if _, err := decodeCache([]byte("RAW\nRemote Instance URIs: x\na:1:false\n"), "x"); err == nil {
		t.Fatal("a RAW cache was used")
	}
	if _, err := decodeCache([]byte("HTTP\nRemote Instance URIs: x\n"), "x"); err == nil {
		t.Fatal("a cache without peers was used")
	}

	c = peerCache{URLs: "http://a:1,http://b:2", Controller: "ctl-1",
		Peers: []PeerStatus{{Hostname: "a", Port: 1, Secure: true, FlowFileCount: 1}},
		Ports: map[portKey]string{{input: true, name: "in: 流 x"}: "id-1", {name: "out"}: "id-2"}}
	data := c.encode()
	for _, line := range bytes.Split(data, []byte("\n"))[2:] {
		if f := bytes.Count(line, []byte(":")); len(line) > 0 && line[0] == '#' && f != 0 {
			t.Errorf("Weir line %q has colons: NiFi would read it as a peer", line)
		}
	}
	back, err := decodeCache(data, c.URLs)
	if err != nil || !reflect.DeepEqual(back, c) {
		t.Fatalf("round trip: %+v %v\nwant %+v", back, err, c)
	}
}

// TestPeerCacheCrash: a process saving the cache over and over is
// SIGKILLed at random moments; every time the file left behind is a
// whole cache (the previous or the next), never torn or empty.
func TestPeerCacheCrash(t *testing.T) {
	if os.Getenv("WEIR_CACHE_WRITER") != "" {
		path := os.Getenv("WEIR_CACHE_WRITER")
		for i := 0; ; i++ {
			c := peerCache{URLs: "u", Controller: "c"}
			for j := 0; j < 1+i%200; j++ {
				c.Peers = append(c.Peers, PeerStatus{Hostname: "host-" + strconv.Itoa(i), Port: 1 + j})
			}
			if err := saveCache(path, c); err != nil {
				os.Exit(3)
			}
		}
	}
	path := filepath.Join(t.TempDir(), "c.peers")
	if err := saveCache(path, peerCache{URLs: "u", Controller: "c", Peers: []PeerStatus{{Hostname: "first", Port: 1}}}); err != nil {
		t.Fatal(err)
	}
	for round := 0; round < 20; round++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestPeerCacheCrash$")
		cmd.Env = append(os.Environ(), "WEIR_CACHE_WRITER="+path)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(5+round*3) * time.Millisecond)
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
		c, err := loadCache(path, "u")
		if err != nil {
			t.Fatalf("round %d: the cache left by a killed writer does not load: %v", round, err)
		}
		host := c.Peers[0].Hostname
		for _, p := range c.Peers {
			if p.Hostname != host {
				t.Fatalf("round %d: a torn cache mixes %s and %s", round, host, p.Hostname)
			}
		}
		if host != "first" {
			i, _ := strconv.Atoi(host[len("host-"):])
			if len(c.Peers) != 1+i%200 {
				t.Fatalf("round %d: cache of write %d has %d peers, want %d", round, i, len(c.Peers), 1+i%200)
			}
		}
	}
}
