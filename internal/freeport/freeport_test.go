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
