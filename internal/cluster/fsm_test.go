package cluster

import (
	"errors"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/hashicorp/raft"

	"github.com/weir-nifi/weir/internal/command"
	"github.com/weir-nifi/weir/internal/store"
)

// An entry a newer build proposed stops this replica before it: the
// entries before it are applied, the node halts (exits in production), and
// it is never skipped or answered as a refusal.
func TestFSMHaltsBeforeUnknownEntry(t *testing.T) {
	st, err := store.Open(filepath.Join(t.TempDir(), "state.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var halted error
	f := &fsm{st: st, log: slog.Default(), stop: make(chan struct{}), halt: func(err error) { halted = err }}
	ok, _ := command.Encode(&command.CreateBucket{ID: "b1", Name: "one", Actor: "anonymous"})
	newer := []byte{command.FormatVersion, 250, 2, '{', '}'}
	out := f.ApplyBatch([]*raft.Log{
		{Index: 1, Type: raft.LogCommand, Data: ok},
		{Index: 2, Type: raft.LogCommand, Data: newer},
	})
	var uc *store.UnknownCommandError
	if !errors.As(halted, &uc) || uc.Index != 2 {
		t.Fatalf("halt got %v", halted)
	}
	if st.AppliedIndex() != 1 {
		t.Fatalf("applied %d, want 1", st.AppliedIndex())
	}
	if len(out) != 2 {
		t.Fatalf("%d responses for 2 entries", len(out))
	}
}

// The FSM keeps the result of an entry of a term this node led whenever it
// applies it outside that term: as a follower, and as the leader of a later
// term (elected again after stepping down, it commits its own entries of
// the lost term, whose proposers wait in outcome for their result). An
// entry of the term it leads now is answered through its future only.
func TestFSMKeepsOrphanResultsWhenLeadingAgain(t *testing.T) {
	st, err := store.Open(filepath.Join(t.TempDir(), "state.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	o := newOrphans()
	o.led(4)
	o.led(5)
	leading, term := true, uint64(5)
	f := &fsm{st: st, log: slog.Default(), stop: make(chan struct{}), halt: func(err error) { t.Fatal(err) },
		orphans: o, leading: func() (bool, uint64) { return leading, term }}
	enc := func(id string) []byte {
		b, _ := command.Encode(&command.CreateBucket{ID: id, Name: id, Actor: "anonymous"})
		return b
	}
	f.ApplyBatch([]*raft.Log{
		{Index: 1, Term: 4, Type: raft.LogCommand, Data: enc("b1")},
		{Index: 2, Term: 5, Type: raft.LogCommand, Data: enc("b2")},
	})
	if r, ok := o.take(1); !ok || r.term != 4 {
		t.Fatalf("the lost term's entry applied by the re-elected leader: kept %v (%+v)", ok, r)
	} else if res, _ := r.r.(store.Result); res.Err != nil {
		t.Fatalf("its result: %v", res.Err)
	}
	if _, ok := o.take(2); ok {
		t.Fatal("kept the result of an entry of the term this node leads")
	}
	leading = false
	f.ApplyBatch([]*raft.Log{{Index: 3, Term: 5, Type: raft.LogCommand, Data: enc("b3")}})
	if _, ok := o.take(3); !ok {
		t.Fatal("a follower did not keep the result of an entry of a term it led")
	}
}
