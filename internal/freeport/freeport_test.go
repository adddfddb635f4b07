package freeport

import "testing"

func TestPortsAreDistinct(t *testing.T) {
	for range 50 {
		ps, err := Ports("127.0.0.1", 4)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[int]bool{}
		for _, p := range ps {
			if p <= 0 || seen[p] {
				t.Fatalf("ports %v", ps)
			}
			seen[p] = true
		}
	}
}

// TestPortsBelowTheEphemeralRange: where the kernel says its range, ports
// come from below it, so a listen on port 0 can never be handed one.
func TestPortsBelowTheEphemeralRange(t *testing.T) {
	s := span()
	if s == 0 {
		t.Log("the ephemeral range is unknown here: ports come from port 0")
		return
	}
	ps, err := Ports("127.0.0.1", 20)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		if p < low || p >= low+s {
			t.Fatalf("port %d outside [%d, %d)", p, low, low+s)
		}
	}
}
