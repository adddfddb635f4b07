package store

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/weir-nifi/weir/internal/command"
)

func logBacked(t *testing.T, path string) *Store {
	t.Helper()
	s, err := Open(path, Options{LogBacked: true})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func withBucket(t *testing.T, path string) {
	t.Helper()
	s := logBacked(t, path)
	a := &applier{t: t, s: s}
	a.ok(&command.CreateBucket{ID: "b1", Name: "one", Actor: "anonymous"})
	// Left unclean, as by a crash: no Close.
	s.mu.Lock()
	s.db.Close()
	s.db = nil
	s.mu.Unlock()
}

// An unclean store from another mount of its file system (an ext4 error
// dropped unwritten pages, then it was mounted again) is rebuilt like one
// from another boot, even though the kernel kept running.
func TestStoreFromAnotherMountIsDiscarded(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	withBucket(t, path)
	var m bootMark
	b, _ := os.ReadFile(bootMarkPath(path))
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if m.Mount == "" {
		t.Skip("this kernel gives no unique mount id (needs Linux 6.8+)")
	}
	m.Mount += "0"
	b, _ = json.Marshal(m)
	if err := os.WriteFile(bootMarkPath(path), b, 0o644); err != nil {
		t.Fatal(err)
	}
	s := logBacked(t, path)
	defer s.Close()
	if aside, why := s.Discarded(); aside == "" || !strings.Contains(why, "file system") {
		t.Fatalf("not discarded: %q %q", aside, why)
	}
}

// The same file, unclean, on the same boot and mount is kept: a process
// crash loses nothing.
func TestStoreAfterProcessCrashIsKept(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	withBucket(t, path)
	s := logBacked(t, path)
	defer s.Close()
	if aside, _ := s.Discarded(); aside != "" {
		t.Fatalf("discarded after a process crash: %s", aside)
	}
	var c Counts
	_ = s.Read(func(tx *Tx) error { c = tx.Counts(); return nil })
	if c.Buckets != 1 {
		t.Fatalf("buckets %d", c.Buckets)
	}
}

// A damaged file (here: both meta pages gone) never makes Open panic: a
// log-backed store is moved aside to be rebuilt; any other is refused.
func TestDamagedStoreIsRebuiltNotFatal(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	withBucket(t, path)
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(make([]byte, 16<<10), 0); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if s, err := Open(path, Options{}); err == nil {
		s.Close()
		t.Fatal("a damaged store opened without LogBacked")
	}
	s := logBacked(t, path)
	defer s.Close()
	if aside, why := s.Discarded(); aside == "" || !strings.Contains(why, "damaged") {
		t.Fatalf("not moved aside: %q %q", aside, why)
	}
	if s.AppliedIndex() != 0 {
		t.Fatalf("applied %d in a rebuilt store", s.AppliedIndex())
	}
}
