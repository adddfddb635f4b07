package store

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// A SnapshotCopy streams exactly the bytes Snapshot.WriteTo streams for the
// same state (bbolt's WriteTo layout is what the copy relies on), keeps
// them while writes go on, leaves no file behind and restores.
func TestCopySnapshotMatchesSnapshot(t *testing.T) {
	a := seedVersions(t, 40)
	want, wantSum := frameOf(t, a.s)

	cp, err := a.s.CopySnapshot()
	if err != nil {
		t.Fatal(err)
	}
	defer cp.Release()
	// Both ways of streaming: handing file ranges to an io.ReaderFrom
	// (bytes.Buffer is one, as an HTTP response on TCP is), and Write.
	stream := func(c *SnapshotCopy) []byte {
		var got, written bytes.Buffer
		for _, w := range []io.Writer{&got, struct{ io.Writer }{&written}} {
			n, err := c.WriteTo(w)
			if err != nil {
				t.Fatal(err)
			}
			if n != c.StreamSize() {
				t.Fatalf("streamed %d bytes, StreamSize says %d", n, c.StreamSize())
			}
		}
		if !bytes.Equal(got.Bytes(), written.Bytes()) {
			t.Fatal("the copy streamed through ReadFrom differs from the one written")
		}
		return got.Bytes()
	}
	// No writes while the copy runs: the same bytes as Snapshot.WriteTo.
	if got := stream(cp); !bytes.Equal(got, want) {
		t.Fatalf("the copy streamed %d bytes that differ from the snapshot's %d", len(got), len(want))
	}
	// Writes after the copy change neither what it streams nor its summary.
	for v := 41; v <= 60; v++ {
		c := version(int32(v), int64(5000+v))
		c.Content = bytes.Repeat([]byte{byte(v)}, 20000)
		a.ok(c)
	}
	if got := stream(cp); !bytes.Equal(got, want) {
		t.Fatal("the copy changed after later writes")
	}
	if cp.Summary() != wantSum || cp.Index() != 42 {
		t.Fatalf("summary %+v index %d, want %+v and 42", cp.Summary(), cp.Index(), wantSum)
	}
	// Writes while a copy runs may reuse pages that were free in the
	// copied state (so bytes may differ there), never pages it holds: the
	// stream restores to exactly the copied state.
	var before Summary
	_ = a.s.Read(func(tx *Tx) error { before = tx.Summary(); return nil })
	racing, err := a.s.CopySnapshot()
	if err != nil {
		t.Fatal(err)
	}
	for v := 61; v <= 90; v++ {
		c := version(int32(v), int64(5000+v))
		c.Content = bytes.Repeat([]byte{byte(v)}, 30000)
		a.ok(c)
	}
	raced := stream(racing)
	racing.Release()
	if racing.Summary() != before {
		t.Fatalf("copy summary %+v, state was %+v", racing.Summary(), before)
	}
	restoreAndCheck(t, raced, before)
	ents, _ := os.ReadDir(filepath.Dir(a.s.path))
	for _, e := range ents {
		if e.Name() != "state.db" && e.Name() != "state.db.boot" {
			t.Errorf("unexpected file beside the store: %s", e.Name())
		}
	}
	restoreAndCheck(t, want, wantSum)
}

// seedVersions is a store holding n versions of different sizes.
func seedVersions(t *testing.T, n int) *applier {
	a := seed(t)
	for v := 1; v <= n; v++ {
		c := version(int32(v), int64(5000+v))
		c.Content = bytes.Repeat([]byte{byte(v)}, 9000+v*31)
		a.ok(c)
	}
	return a
}

// frameOf is what Snapshot.WriteTo streams for the store now, and its
// summary.
func frameOf(t *testing.T, s *Store) ([]byte, Summary) {
	t.Helper()
	sn, err := s.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	defer sn.Release()
	var b bytes.Buffer
	if _, err := sn.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes(), sn.Summary()
}

// restoreAndCheck restores a frame into a new store and checks its entries
// add up to want.
func restoreAndCheck(t *testing.T, frame []byte, want Summary) {
	t.Helper()
	other, err := Open(filepath.Join(t.TempDir(), "state.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if err := other.Restore(bytes.NewReader(frame)); err != nil {
		t.Fatal(err)
	}
	if h, err := other.recomputeSummary(); err != nil || h != want {
		t.Fatalf("restored %+v (%v), want %+v", h, err, want)
	}
}

// PointInTime copies when the file system has room, and otherwise streams
// from a transaction; both stream the same state.
func TestPointInTimeFallsBackWithoutRoom(t *testing.T) {
	a := seed(t)
	for v := 1; v <= 5; v++ {
		a.ok(version(int32(v), int64(5000+v)))
	}
	stream := func() ([]byte, bool) {
		p, copied, err := a.s.PointInTime()
		if err != nil {
			t.Fatal(err)
		}
		defer p.Release()
		var b bytes.Buffer
		if _, err := p.WriteTo(&b); err != nil {
			t.Fatal(err)
		}
		return b.Bytes(), copied
	}
	withRoom, copied := stream()
	if !copied {
		t.Fatal("did not copy with room on the disk")
	}
	defer func(f func(string) (int64, bool)) { freeSpace = f }(freeSpace)
	freeSpace = func(string) (int64, bool) { return 1 << 20, true }
	noRoom, copied := stream()
	if copied {
		t.Fatal("copied without room for it")
	}
	if !bytes.Equal(withRoom, noRoom) {
		t.Fatal("the two ways stream different bytes")
	}
}

// CopySnapshotInto and FinishFrame leave, at the given offset of the
// caller's file, the same frame Snapshot.WriteTo streams, and leave the
// bytes before it and the file itself alone.
func TestCopySnapshotIntoFile(t *testing.T) {
	a := seedVersions(t, 30)
	want, _ := frameOf(t, a.s)

	f, err := os.Create(filepath.Join(t.TempDir(), "backup"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	head := bytes.Repeat([]byte("h"), 1000)
	if _, err := f.Write(head); err != nil {
		t.Fatal(err)
	}
	if _, err := a.s.CopySnapshotInto(f, FrameHeaderLen-1); err == nil {
		t.Fatal("an offset with no room for the frame header was accepted")
	}
	base := int64(len(head)) + FrameHeaderLen
	c, err := a.s.CopySnapshotInto(f, base)
	if err != nil {
		t.Fatal(err)
	}
	fr, err := c.FinishFrame(nil)
	c.Release()
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got[:len(head)], head) {
		t.Fatal("the bytes before the frame were changed")
	}
	if !bytes.Equal(got[len(head):], want) {
		t.Fatalf("the file holds a %d-byte frame that differs from the %d-byte stream", len(got)-len(head), len(want))
	}
	if !bytes.Equal(fr.Header[:], want[:FrameHeaderLen]) || !bytes.Equal(fr.Sum[:], want[len(want)-FrameSumLen:]) {
		t.Fatal("FinishFrame returned another header or checksum than it wrote")
	}
	if _, err := f.Write(nil); err != nil {
		t.Fatalf("Release closed the caller's file: %v", err)
	}
}

// An image several times maxLead streams through an io.ReaderFrom (the
// checksum beside the stream, held within maxLead of it) to the same
// bytes as through Write, whichever of the two finishes first.
func TestCopySnapshotStreamsLargeImage(t *testing.T) {
	a := seed(t)
	for v := 1; v <= 400; v++ {
		c := version(int32(v), int64(5000+v))
		c.Content = bytes.Repeat([]byte{byte(v), byte(v >> 8)}, 20000)
		a.ok(c)
	}
	want, _ := frameOf(t, a.s)
	if len(want) < 3*maxLead {
		t.Fatalf("image of %d bytes is too small for this test", len(want))
	}
	cp, err := a.s.CopySnapshot()
	if err != nil {
		t.Fatal(err)
	}
	defer cp.Release()
	for i := 0; i < 5; i++ {
		var got bytes.Buffer
		if _, err := cp.WriteTo(&got); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Bytes(), want) {
			t.Fatalf("run %d: streamed %d bytes that differ from the snapshot's %d", i, got.Len(), len(want))
		}
	}
}
