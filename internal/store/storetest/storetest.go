// Package storetest gives a test a store of its own and a function that
// applies commands to it as the Raft log would: one entry at a time, at
// increasing indexes, failing the test on a refusal.
package storetest

import (
	"path/filepath"
	"testing"

	"github.com/weir-nifi/weir/internal/command"
	"github.com/weir-nifi/weir/internal/store"
)

// Open opens a new store in a temporary directory (closed when the test
// ends) and returns it with its apply function.
func Open(t testing.TB) (*store.Store, func(command.Command)) {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "state.db"), store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	var idx uint64
	return st, func(c command.Command) {
		t.Helper()
		data, err := command.Encode(c)
		if err != nil {
			t.Fatal(err)
		}
		idx++
		res, err := st.Apply([]store.Entry{{Index: idx, Data: data}})
		if err != nil || res[0].Err != nil {
			t.Fatalf("apply %s: %v %v", c.Type(), err, res[0].Err)
		}
	}
}
