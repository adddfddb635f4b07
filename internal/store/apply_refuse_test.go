package store

import (
	"errors"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/weir-nifi/weir/internal/command"
	"github.com/weir-nifi/weir/internal/model"
)

// The outside tester's poison pill: a bucket with an empty id reached
// Apply, bbolt refused the key, Apply called that fatal and every node
// exited on every restart while replaying it. Every argument bbolt cannot
// store must be a refusal that changes nothing.
func TestApplyRefusesArgumentsTheTablesCannotHold(t *testing.T) {
	long := strings.Repeat("x", bolt.MaxKeySize+1)
	str := func(s string) *string { return &s }
	cases := []command.Command{
		&command.CreateBucket{ID: "", Name: "x"},
		&command.CreateBucket{ID: "b2", Name: ""},
		&command.CreateBucket{ID: "b2", Name: "   "},
		&command.CreateBucket{ID: long, Name: "x"},
		&command.CreateBucket{ID: "b2", Name: long},
		&command.UpdateBucket{ID: "", Name: str("y")},
		&command.UpdateBucket{ID: "b1", Name: str(long)},
		&command.DeleteBucket{ID: ""},
		&command.CreateFlow{BucketID: "b1", ID: "", Name: "f"},
		&command.CreateFlow{BucketID: "b1", ID: "f2", Name: ""},
		&command.CreateFlow{BucketID: "", ID: "f2", Name: "f"},
		&command.CreateFlow{BucketID: "b1", ID: "f2", Name: long},
		&command.CreateFlow{BucketID: "b1", ID: long, Name: "f"},
		&command.UpdateFlow{BucketID: "b1", ID: "f1", Name: str(long)},
		&command.UpdateFlow{BucketID: "b1", ID: ""},
		&command.DeleteFlow{BucketID: "b1", ID: ""},
		&command.CreateVersion{BucketID: "b1", FlowID: "", Version: 1},
		&command.SetNode{ID: ""},
		&command.SetNode{ID: long},
		&command.RemoveNode{ID: ""},
	}
	a := seed(t)
	for _, c := range cases {
		a.fails(c, model.KindInvalid, "")
	}
	// The store still takes writes, and refused entries advanced the
	// applied index like any other (they are decided, not pending).
	a.ok(&command.CreateBucket{ID: "b3", Name: "after", Actor: "anonymous"})
	if got := a.s.AppliedIndex(); got != a.idx {
		t.Fatalf("applied index %d, want %d", got, a.idx)
	}
	if _, _, err := a.s.RecomputedStateHash(); err != nil {
		t.Fatal(err)
	}
}

// Bytes of a known command type that do not parse are refused alike on
// every replica of a build; they never stop it.
func TestApplyRefusesMalformedCommands(t *testing.T) {
	a := seed(t)
	for _, data := range [][]byte{
		{command.FormatVersion, byte(command.TypeCreateBucket), 3, '{', '}', '}'},
		{command.FormatVersion, byte(command.TypeCreateBucket), 200},
		{command.FormatVersion, byte(command.TypeDeleteBucket), 2, '{', '}', 'x'},
		{command.FormatVersion},
	} {
		before, _, _ := a.s.StateHash()
		a.idx++
		res, err := a.s.Apply([]Entry{{Index: a.idx, Data: data}})
		if err != nil {
			t.Fatalf("%x: %v", data, err)
		}
		if model.KindOf(res[0].Err) != model.KindInvalid {
			t.Fatalf("%x: got %v", data, res[0].Err)
		}
		if after, _, _ := a.s.StateHash(); after != before {
			t.Fatalf("%x changed the state", data)
		}
	}
}

// An entry from a newer build (unknown format version or type) stops the
// batch before it: what precedes it is applied, it is not skipped, and
// replaying the batch stops at the same entry again.
func TestApplyStopsBeforeUnknownCommands(t *testing.T) {
	for name, unknown := range map[string][]byte{
		"format": {command.FormatVersion + 1, byte(command.TypeCreateBucket), 2, '{', '}'},
		"type":   {command.FormatVersion, 200, 2, '{', '}'},
	} {
		t.Run(name, func(t *testing.T) {
			s := mustOpen(t)
			ok, _ := command.Encode(&command.CreateBucket{ID: "b1", Name: "one", Actor: "anonymous"})
			later, _ := command.Encode(&command.CreateBucket{ID: "b2", Name: "two", Actor: "anonymous"})
			batch := []Entry{{Index: 1, Data: ok}, {Index: 2, Data: unknown}, {Index: 3, Data: later}}
			for round := 0; round < 2; round++ {
				res, err := s.Apply(batch)
				var uc *UnknownCommandError
				if !errors.As(err, &uc) || uc.Index != 2 || !errors.Is(err, command.ErrUnknown) {
					t.Fatalf("round %d: got %v", round, err)
				}
				if len(res) != 1 || (round == 0 && res[0].Err != nil) {
					t.Fatalf("round %d: results %+v", round, res)
				}
				if got := s.AppliedIndex(); got != 1 {
					t.Fatalf("round %d: applied index %d, want 1 (entry 2 must not be skipped)", round, got)
				}
			}
			var c Counts
			_ = s.Read(func(tx *Tx) error { c = tx.Counts(); return nil })
			if c.Buckets != 1 {
				t.Fatalf("buckets %d, want 1", c.Buckets)
			}
		})
	}
}
