package cluster

import (
	"testing"

	"github.com/hashicorp/raft"
)

func TestOrphansKeepOnlyLedTerms(t *testing.T) {
	o := newOrphans()
	o.keep(&raft.Log{Index: 5, Term: 2}, "not ours")
	if _, ok := o.take(5); ok {
		t.Fatal("kept the result of an entry of a term this node never led")
	}
	o.led(3)
	o.keep(&raft.Log{Index: 7, Term: 3}, "ours")
	if r, ok := o.take(7); !ok || r.r != "ours" || r.term != 3 {
		t.Fatalf("take(7) = %+v %v", r, ok)
	}
	if _, ok := o.take(7); ok {
		t.Fatal("a result was handed out twice")
	}
	// Bounded: the oldest indexes go first.
	for i := uint64(1); i <= orphanMax+10; i++ {
		o.keep(&raft.Log{Index: 100 + i, Term: 3}, i)
	}
	kept := 0
	for _, r := range o.res {
		if r.index != 0 {
			kept++
		}
	}
	if kept != orphanMax {
		t.Fatalf("%d results kept, want %d", kept, orphanMax)
	}
	if _, ok := o.take(101); ok {
		t.Fatal("the oldest result was not dropped")
	}
	if _, ok := o.take(100 + orphanMax + 10); !ok {
		t.Fatal("the newest result was dropped")
	}
	for term := uint64(10); term < 10+orphanTerms+1; term++ {
		o.led(term)
	}
	o.keep(&raft.Log{Index: 1, Term: 3}, "too old a term")
	if _, ok := o.take(1); ok {
		t.Fatal("a term beyond the last ones led was kept")
	}
}
