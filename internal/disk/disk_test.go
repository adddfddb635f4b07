package disk

import (
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/weir-nifi/weir/internal/model"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// Writes are refused with 507 when they would eat into the reserve, with
// the bytes already promised to writes in flight counted; released
// promises free room again.
func TestAdmitKeepsTheReserve(t *testing.T) {
	var free atomic.Int64
	free.Store(100 << 20)
	m := New(Options{Dir: t.TempDir(), Reserve: 64 << 20, Log: quiet(),
		statfs: func(string) (int64, error) { return free.Load(), nil }})
	r1, err := m.Admit(10 << 20) // needs 20 MiB: 100-20 >= 64
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Admit(10 << 20); model.KindOf(err) != model.KindInsufficientStorage {
		t.Fatalf("second write while the first is in flight: %v, want 507", err)
	}
	r1()
	r1() // releasing twice is harmless
	r2, err := m.Admit(10 << 20)
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	r2()
	free.Store(60 << 20)
	if st := m.Status(); st.State != "low" {
		t.Fatalf("status below the reserve: %+v", st)
	}
	if _, err := m.Admit(0); model.KindOf(err) != model.KindInsufficientStorage {
		t.Fatalf("below the reserve: %v, want 507", err)
	}
	free.Store(1 << 30)
	if st := m.Status(); st.State != "ok" {
		t.Fatalf("status with room: %+v", st)
	}
}

// A failure reported by a writer refuses writes with 503 naming the cause
// and tells the subscribers; the probe ends it once the directory takes
// writes again, and tells them too.
func TestFailureAndRecovery(t *testing.T) {
	dir := t.TempDir()
	m := New(Options{Dir: dir, Reserve: -1, Interval: 20 * time.Millisecond, Log: quiet()})
	changes := make(chan bool, 4)
	m.OnChange(func(failed bool) { changes <- failed })
	stop := make(chan struct{})
	defer close(stop)
	go m.Run(stop)

	// Make the probe fail too while the failure lasts: the directory
	// cannot be written (a file where it would create its probe).
	probe := filepath.Join(dir, probeName)
	if err := os.Mkdir(probe, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(probe, "x"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	m.Fail("append to the Raft log", &os.PathError{Op: "write", Path: "x", Err: syscall.ENOSPC})
	if !m.Failed() || !<-changes {
		t.Fatal("not failed")
	}
	_, err := m.Admit(0)
	var me *model.Error
	if !errors.As(err, &me) || me.Kind != model.KindUnavailable || !strings.Contains(me.Msg, "no space left") {
		t.Fatalf("write while failed: %v", err)
	}
	if st := m.Status(); st.State != "failed" || st.Since == 0 {
		t.Fatalf("status while failed: %+v", st)
	}
	time.Sleep(100 * time.Millisecond)
	if !m.Failed() {
		t.Fatal("recovered while the directory still cannot be written")
	}
	if err := os.RemoveAll(probe); err != nil {
		t.Fatal(err)
	}
	select {
	case failed := <-changes:
		if failed {
			t.Fatal("told of a failure again, not of the recovery")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("never recovered")
	}
	if _, err := m.Admit(0); err != nil {
		t.Fatalf("write after recovery: %v", err)
	}
}

func TestDescribe(t *testing.T) {
	for err, want := range map[error]string{
		syscall.ENOSPC: "no space left", syscall.EDQUOT: "no space left",
		syscall.EROFS: "read-only", syscall.EIO: "I/O error",
	} {
		if got := Describe(&os.PathError{Op: "write", Path: "f", Err: err}); !strings.Contains(got, want) {
			t.Errorf("%v: %q", err, got)
		}
	}
}
