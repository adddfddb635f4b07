package command

import (
	"math"
	"testing"
)

func TestCheckRuns(t *testing.T) {
	for _, c := range []struct {
		runs [][2]uint64
		n    uint64
		ok   bool
	}{
		{nil, 0, true},
		{[][2]uint64{{5, 5}}, 1, true},
		{[][2]uint64{{1, 3}, {5, 9}}, 8, true},
		{[][2]uint64{{3, 1}}, 0, false},         // first > last
		{[][2]uint64{{1, 3}, {3, 4}}, 0, false}, // overlapping
		{[][2]uint64{{1, 3}, {4, 4}}, 4, true},  // adjacent is apart
		{[][2]uint64{{5, 6}, {1, 2}}, 0, false}, // descending
		{[][2]uint64{{0, math.MaxUint64}}, math.MaxUint64, true},
		{[][2]uint64{{0, math.MaxUint64 - 1}}, math.MaxUint64, true},
		{[][2]uint64{{0, 1 << 63}, {1<<63 + 1, math.MaxUint64 - 1}}, math.MaxUint64, true}, // the sum saturates
	} {
		n, ok := CheckRuns(c.runs)
		if n != c.n || ok != c.ok {
			t.Errorf("CheckRuns(%v) = %d, %v; want %d, %v", c.runs, n, ok, c.n, c.ok)
		}
	}
}
