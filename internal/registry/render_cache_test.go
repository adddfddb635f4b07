package registry

import (
	"bytes"
	"fmt"
	"testing"
)

// Once the cache is full, an answer read once does not displace an entry;
// one read more often than the least recently used entry does. The
// sketch's hash seed is random, so the test picks a newcomer whose
// counters no other key shares in some row (its estimate is then exactly
// its reads) and checks admission against the victim's estimate.
func TestRenderCacheAdmitsByFrequency(t *testing.T) {
	c := newRenderCache(8 << 20) // a sketch 2,048 counters wide
	body := bytes.Repeat([]byte("x"), 64<<10)
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
	for i := n + 1; c.freq.estimate(newcomer) != 0; i++ {
		newcomer = key(i)
	}
	victim := c.ll.Back().Value.(*renderEntry).key
	if read(newcomer); c.items[newcomer] != nil {
		t.Fatal("an answer read once displaced an entry read at least as often")
	}
	for range 3 {
		read(newcomer)
	}
	fn, fv := c.freq.estimate(newcomer), c.freq.estimate(victim)
	if fn != 4 {
		t.Fatalf("newcomer's estimate %d after 4 reads, want 4", fn)
	}
	if admitted := c.items[newcomer] != nil; admitted != (fn > fv) {
		t.Fatalf("newcomer read %d times, victim %d: admitted = %v", fn, fv, admitted)
	}
	if fv >= fn {
		return // the victim's counters all collide with busier keys: nothing more to check
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
