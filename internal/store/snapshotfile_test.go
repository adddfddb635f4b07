package store

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/weir-nifi/weir/internal/command"
)

// snapshotFrame returns a frame of a store with a few versions and its
// state hash.
func snapshotFrame(t *testing.T, versions int) ([]byte, string) {
	t.Helper()
	frame, sum := frameOf(t, seedVersions(t, versions).s)
	return frame, sum.StateHash
}

// FrameChecker accepts a good frame in any split and refuses every
// single-byte alteration, truncation and extra byte, like CopyFrame.
func TestFrameCheckerMatchesCopyFrame(t *testing.T) {
	good, _ := snapshotFrame(t, 3)
	feed := func(b []byte, step int) error {
		var c FrameChecker
		for len(b) > 0 {
			k := min(step, len(b))
			if _, err := c.Write(b[:k]); err != nil {
				return err
			}
			b = b[k:]
		}
		_, err := c.Finish()
		return err
	}
	for _, step := range []int{1, 7, FrameHeaderLen, 4096, len(good)} {
		if err := feed(good, step); err != nil {
			t.Fatalf("good frame in pieces of %d refused: %v", step, err)
		}
	}
	for _, at := range []int{0, 9, 13, 20, 27, FrameHeaderLen, len(good) / 2, len(good) - FrameSumLen - 1, len(good) - 1} {
		bad := append([]byte(nil), good...)
		bad[at] ^= 0x40
		if err := feed(bad, 1000); !errors.Is(err, ErrBadSnapshot) && !errors.Is(err, ErrFormat) {
			t.Errorf("altered byte %d: %v", at, err)
		}
	}
	for _, n := range []int{0, FrameHeaderLen - 1, FrameHeaderLen, FrameHeaderLen + 10, len(good) - FrameSumLen, len(good) - 1} {
		if err := feed(good[:n], 1000); !errors.Is(err, ErrBadSnapshot) {
			t.Errorf("frame truncated to %d bytes: %v", n, err)
		}
	}
	long := append(append([]byte(nil), good...), 1, 2, 3)
	if err := feed(long, 4096); !errors.Is(err, ErrBadSnapshot) {
		t.Errorf("bytes after the checksum: %v", err)
	}
}

// RestoreFile restores from a snapshot file, verified or not, into a
// log-backed store (unsynced copy, old file removed first) and into a
// synced one (atomic rename), and leaves the snapshot file as it was.
func TestRestoreFile(t *testing.T) {
	frame, want := snapshotFrame(t, 40)
	for _, logBacked := range []bool{true, false} {
		for _, verified := range []bool{true, false} {
			t.Run(fmt.Sprintf("logBacked=%v,verified=%v", logBacked, verified), func(t *testing.T) {
				dir := t.TempDir()
				path := filepath.Join(dir, "state.bin")
				if err := os.WriteFile(path, frame, 0o600); err != nil {
					t.Fatal(err)
				}
				dst, err := Open(filepath.Join(dir, "state.db"), Options{LogBacked: logBacked})
				if err != nil {
					t.Fatal(err)
				}
				defer dst.Close()
				if err := dst.RestoreFile(path, verified); err != nil {
					t.Fatal(err)
				}
				got, idx, _ := dst.StateHash()
				if got != want || idx != 42 || dst.AppliedIndex() != 42 {
					t.Fatalf("restored %s at %d, want %s at 42", got, idx, want)
				}
				if b, _ := os.ReadFile(path); !bytes.Equal(b, frame) {
					t.Fatal("the snapshot file changed")
				}
				if _, err := os.Stat(dst.Path() + ".restore"); !os.IsNotExist(err) {
					t.Fatal("the copy was left beside the store")
				}
				// The restored store goes on applying, and reopens.
				a := &applier{t: t, s: dst, idx: 42}
				a.ok(version(41, 9000))
				after, _, _ := dst.StateHash()
				if err := dst.Close(); err != nil {
					t.Fatal(err)
				}
				re, err := Open(dst.Path(), Options{LogBacked: logBacked})
				if err != nil {
					t.Fatal(err)
				}
				defer re.Close()
				if h, idx, _ := re.StateHash(); h != after || idx != 43 {
					t.Fatalf("reopened: %s at %d", h, idx)
				}
			})
		}
	}
}

// A damaged snapshot file is refused unless the caller says it verified it;
// a file that does not hold exactly one frame is refused either way. The
// state stays as it was.
func TestRestoreFileRefusesDamage(t *testing.T) {
	frame, _ := snapshotFrame(t, 10)
	dst := seed(t)
	dst.ok(version(1, 5000))
	before, _, _ := dst.s.StateHash()
	write := func(b []byte) string {
		path := filepath.Join(t.TempDir(), "state.bin")
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	flip := append([]byte(nil), frame...)
	flip[FrameHeaderLen+len(frame)/3] ^= 1
	cases := []struct {
		name     string
		b        []byte
		verified bool
	}{
		{"altered data", flip, false},
		{"altered header", append([]byte("XEIRSNAP"), frame[8:]...), true},
		{"truncated", frame[:len(frame)-100], true},
		{"longer", append(append([]byte(nil), frame...), 0), true},
		{"header only", frame[:FrameHeaderLen], true},
		{"empty", nil, true},
	}
	for _, c := range cases {
		err := dst.s.RestoreFile(write(c.b), c.verified)
		if !errors.Is(err, ErrBadSnapshot) {
			t.Errorf("%s: %v", c.name, err)
		}
		if h, _, _ := dst.s.StateHash(); h != before {
			t.Fatalf("%s: a refused restore changed the state", c.name)
		}
	}
	if _, err := os.Stat(dst.s.Path() + ".restore"); !os.IsNotExist(err) {
		t.Fatal("a refused restore left its copy behind")
	}
}

// A crash during a restore leaves the copy beside the store: the store
// still opens with its old state, and the next restore overwrites it.
func TestRestoreAfterInterruptedRestore(t *testing.T) {
	frame, want := snapshotFrame(t, 5)
	dir := t.TempDir()
	path := filepath.Join(dir, "state.db")
	s, err := Open(path, Options{LogBacked: true})
	if err != nil {
		t.Fatal(err)
	}
	a := &applier{t: t, s: s}
	a.ok(&command.CreateBucket{ID: "old", Name: "Old", Created: 1, Actor: "anonymous"})
	s.Close()
	// The half-written copy a crash left.
	if err := os.WriteFile(path+".restore", frame[FrameHeaderLen:len(frame)/2], 0o600); err != nil {
		t.Fatal(err)
	}
	s, err = Open(path, Options{LogBacked: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.AppliedIndex() != 1 {
		t.Fatalf("applied %d after the crash", s.AppliedIndex())
	}
	snap := filepath.Join(dir, "state.bin")
	if err := os.WriteFile(snap, frame, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := s.RestoreFile(snap, false); err != nil {
		t.Fatal(err)
	}
	if h, _, _ := s.StateHash(); h != want {
		t.Fatal("restored state differs")
	}
}

// A stage fed a frame installs as a restore of that frame; a stage that
// does not hold the whole verified frame is refused and the state kept.
func TestStage(t *testing.T) {
	frame, want := snapshotFrame(t, 12)
	other, _ := snapshotFrame(t, 13)
	verify := func(b []byte) Frame {
		var c FrameChecker
		if _, err := c.Write(b); err != nil {
			t.Fatal(err)
		}
		fr, err := c.Finish()
		if err != nil {
			t.Fatal(err)
		}
		return fr
	}
	fr := verify(frame)
	dst := seed(t)
	before, _, _ := dst.s.StateHash()
	stage := func(b []byte) *Stage {
		g, err := dst.s.NewStage()
		if err != nil {
			t.Fatal(err)
		}
		for len(b) > 0 {
			k := min(len(b), 3000)
			if _, err := g.Write(b[:k]); err != nil {
				t.Fatal(err)
			}
			b = b[k:]
		}
		return g
	}
	for name, g := range map[string]*Stage{
		"partial":     stage(frame[:len(frame)/2]),
		"other frame": stage(other),
	} {
		if err := dst.s.InstallStaged(g, fr); !errors.Is(err, ErrBadSnapshot) {
			t.Errorf("%s: %v", name, err)
		}
		if h, _, _ := dst.s.StateHash(); h != before {
			t.Fatalf("%s: a refused stage changed the state", name)
		}
	}
	g := stage(frame)
	if err := dst.s.InstallStaged(g, fr); err != nil {
		t.Fatal(err)
	}
	if h, idx, _ := dst.s.StateHash(); h != want || idx != 14 {
		t.Fatalf("staged state %s at %d", h, idx)
	}
	if err := dst.s.InstallStaged(g, fr); err == nil {
		t.Fatal("a stage was used twice")
	}
	if _, err := os.Stat(dst.s.Path() + ".staged"); !os.IsNotExist(err) {
		t.Fatal("stage file left")
	}
}
