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
