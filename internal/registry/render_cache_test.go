package registry

import (
	"bytes"
	"fmt"
	"testing"
)

// Once the cache is full, an answer read once does not displace an entry;
// one read more often than the least recently used entry does.
func TestRenderCacheAdmitsByFrequency(t *testing.T) {
	c := newRenderCache(80_000)
	body := bytes.Repeat([]byte("x"), 1000)
	raw := func(string) []byte { return []byte("rec") }
	read := func(k renderKey) bool {
		if _, ok := c.get(k, 0, raw, raw); ok {
			return true
		}
		if c.wants(k, len(body)) {
			c.put(k, 0, "b", raw("b"), raw(k.flowID), body)
		}
		return false
	}
	key := func(i int) renderKey { return renderKey{flowID: fmt.Sprint("f", i), version: 1} }
	n := 0
	for ; c.size+len(body)+128 <= c.max; n++ { // until wants finds no free room
		read(key(n))
	}
	if len(c.items) != n {
		t.Fatalf("%d entries after %d reads into free room", len(c.items), n)
	}
	newcomer := key(n)
	if read(newcomer); c.items[newcomer] != nil {
		t.Fatal("an answer read once displaced an entry read as often")
	}
	for range 3 {
		read(newcomer)
	}
	if c.items[newcomer] == nil {
		t.Fatal("an answer read four times was refused in favour of one read once")
	}
	if !read(newcomer) {
		t.Fatal("the admitted answer is not served")
	}
	if len(c.items) != n {
		t.Fatalf("%d entries, want %d (one evicted for the newcomer)", len(c.items), n)
	}
}

// The sketch's counters saturate at 15 and halve every 10 × width
// additions, so that what was popular long ago fades.
func TestSketchAges(t *testing.T) {
	s := newSketch(64)
	k := renderKey{flowID: "f"}
	for range 40 {
		s.add(k)
	}
	if got := s.estimate(k); got != 15 {
		t.Fatalf("estimate %d after 40 additions, want the saturated 15", got)
	}
	for i := range s.period {
		s.add(renderKey{flowID: fmt.Sprint("other", i)})
	}
	if got := s.estimate(k); got > 8 {
		t.Fatalf("estimate %d after a period of other keys, want it halved", got)
	}
}
