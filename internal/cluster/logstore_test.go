package cluster

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	wal "github.com/hashicorp/raft-wal"
	"github.com/hashicorp/raft-wal/fs"
	"github.com/hashicorp/raft-wal/metadb"
	"github.com/hashicorp/raft-wal/segment"
	"github.com/hashicorp/raft-wal/types"

	"github.com/weir-nifi/weir/internal/disk"
)

// The segment size of these tests: a segment holds about 30 entries, so
// the log rotates every few dozen appends.
const testSegmentSize = 4096

// flakyFiler is raft-wal's segment filer whose Create fails while fails
// is positive, like fs.Create on a full disk: with leave set it leaves a
// partly allocated file of the segment's name behind (preallocation
// failed after the O_EXCL create), else none (the create itself failed).
type flakyFiler struct {
	*segment.Filer
	dir    string
	fails  atomic.Int32
	leave  bool
	failed atomic.Int32
}

func newFlakyFiler(dir string) *flakyFiler {
	return &flakyFiler{Filer: segment.NewFiler(dir, fs.New()), dir: dir}
}

func (f *flakyFiler) Create(info types.SegmentInfo) (types.SegmentWriter, error) {
	if f.fails.Add(-1) >= 0 {
		f.failed.Add(1)
		if f.leave {
			p := filepath.Join(f.dir, segment.FileName(info))
			fh, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_RDWR, 0o644)
			if err != nil {
				return nil, err
			}
			_ = fh.Truncate(int64(info.SizeLimit) / 3) // zeros, as fallocate leaves them
			_ = fh.Close()
		}
		return nil, fmt.Errorf("preallocate: %w", syscall.ENOSPC)
	}
	f.fails.Store(0)
	return f.Filer.Create(info)
}

// flakyMeta is raft-wal's bbolt meta store whose CommitState fails while
// fails is positive (bbolt cannot grow its file on a full disk). It keeps
// the last state committed in last.
type flakyMeta struct {
	types.MetaStore
	fails *atomic.Int32
	last  *atomic.Pointer[types.PersistentState]
}

func (m *flakyMeta) CommitState(ps types.PersistentState) error {
	if m.fails.Add(-1) >= 0 {
		return fmt.Errorf("commit: %w", syscall.ENOSPC)
	}
	m.fails.Store(0)
	err := m.MetaStore.CommitState(ps)
	if err == nil && m.last != nil {
		m.last.Store(&ps)
	}
	return err
}

func testEntry(i uint64) *raft.Log {
	return &raft.Log{Index: i, Term: 1 + i/50, Type: raft.LogCommand,
		Data: []byte(fmt.Sprintf("entry %d %s", i, strings.Repeat("x", 80)))}
}

type tlogWriter struct{ t testing.TB }

func (w tlogWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

func testLog(t testing.TB) *slog.Logger { return slog.New(slog.NewTextHandler(tlogWriter{t}, nil)) }

// testLogStore opens a logStore the way Start does, with tiny segments,
// the given filer (nil: raft-wal's) and meta commit failures (nil: none).
func testLogStore(t *testing.T, dir string, d *disk.Monitor, filer types.SegmentFiler, metaFails *atomic.Int32) logStore {
	t.Helper()
	return testLogStoreMeta(t, dir, d, filer, metaFails, nil)
}

func testLogStoreMeta(t *testing.T, dir string, d *disk.Monitor, filer types.SegmentFiler, metaFails *atomic.Int32, last *atomic.Pointer[types.PersistentState]) logStore {
	t.Helper()
	opts := []func(*wal.WAL){wal.WithSegmentSize(testSegmentSize)}
	s := &walStore{dir: dir, opts: opts, disk: d, stop: make(chan struct{}), log: testLog(t), filer: filer}
	if metaFails != nil || last != nil {
		if metaFails == nil {
			metaFails = new(atomic.Int32)
		}
		s.newMeta = func() types.MetaStore {
			return &flakyMeta{MetaStore: &metadb.BoltMetaDB{}, fails: metaFails, last: last}
		}
	}
	ls, err := s.start()
	if err != nil {
		t.Fatal(err)
	}
	return ls
}

// appendUntilSealed appends to a bare raft-wal from index from on until an
// append fails; it must fail with ErrSealed within a few segments. It
// returns the index that could not be appended.
func appendUntilSealed(t *testing.T, w *wal.WAL, from uint64) uint64 {
	t.Helper()
	for i := from; i < from+200; i++ {
		if err := w.StoreLogs([]*raft.Log{testEntry(i)}); err != nil {
			if !errors.Is(err, wal.ErrSealed) {
				t.Fatalf("append %d: %v, want ErrSealed", i, err)
			}
			return i
		}
	}
	t.Fatal("the log never became stuck")
	return 0
}

// checkLog checks that the log holds exactly first..last, each entry as
// written.
func checkLog(t *testing.T, ls logStore, first, last uint64) {
	t.Helper()
	gotFirst, err := ls.FirstIndex()
	if err != nil || gotFirst != first {
		t.Fatalf("FirstIndex = %d, %v; want %d", gotFirst, err, first)
	}
	gotLast, err := ls.LastIndex()
	if err != nil || gotLast != last {
		t.Fatalf("LastIndex = %d, %v; want %d", gotLast, err, last)
	}
	for i := first; i <= last; i++ {
		var l raft.Log
		if err := ls.GetLog(i, &l); err != nil {
			t.Fatalf("GetLog(%d): %v", i, err)
		}
		want := testEntry(i)
		if l.Index != i || l.Term != want.Term || string(l.Data) != string(want.Data) {
			t.Fatalf("GetLog(%d) = index %d term %d %q", i, l.Index, l.Term, l.Data)
		}
	}
	var l raft.Log
	if err := ls.GetLog(last+1, &l); err == nil {
		t.Fatalf("GetLog(%d) found an entry past the end", last+1)
	}
}

// appendAll appends from..to one entry at a time; every append must
// succeed.
func appendAll(t *testing.T, ls logStore, from, to uint64) {
	t.Helper()
	for i := from; i <= to; i++ {
		if err := ls.StoreLogs([]*raft.Log{testEntry(i)}); err != nil {
			t.Fatalf("append %d: %v", i, err)
		}
	}
}

// The bug: a rotation whose new segment cannot be created (a full disk)
// leaves raft-wal appending to a sealed segment for good; raft-wal's
// Open, run again, completes the rotation, reusing the partial file the
// failed create left behind.
func TestLogStoreFailedRotationCreate(t *testing.T) {
	for _, leave := range []bool{true, false} {
		t.Run(fmt.Sprintf("partialFile=%v", leave), func(t *testing.T) {
			// raft-wal alone stays stuck.
			bare := t.TempDir()
			bf := newFlakyFiler(bare)
			bf.leave = leave
			w, err := wal.Open(bare, wal.WithSegmentSize(testSegmentSize), wal.WithSegmentFiler(bf))
			if err != nil {
				t.Fatal(err)
			}
			bf.fails.Store(1)
			stuck := appendUntilSealed(t, w, 1)
			time.Sleep(50 * time.Millisecond)
			if err := w.StoreLogs([]*raft.Log{testEntry(stuck)}); !errors.Is(err, wal.ErrSealed) {
				t.Fatalf("bare raft-wal recovered by itself (%v): is the reopen still needed?", err)
			}
			w.Close()

			// logStore reopens the WAL and the append goes through.
			dir := t.TempDir()
			f := newFlakyFiler(dir)
			f.leave = leave
			ls := testLogStore(t, dir, nil, f, nil)
			f.fails.Store(1)
			appendAll(t, ls, 1, 150)
			if f.failed.Load() != 1 {
				t.Fatalf("%d creates failed, want 1", f.failed.Load())
			}
			checkLog(t, ls, 1, 150)
			if err := ls.Close(); err != nil {
				t.Fatal(err)
			}

			// What was written survives a plain reopen, and appends go on.
			ls = testLogStore(t, dir, nil, nil, nil)
			checkLog(t, ls, 1, 150)
			appendAll(t, ls, 151, 200)
			checkLog(t, ls, 1, 200)
			ls.Close()
			checkSegmentFiles(t, dir)
		})
	}
}

// A rotation whose meta update fails (bbolt cannot grow on a full disk)
// leaves meta naming the sealed segment as the tail. raft-wal's Open does
// not complete that rotation: the reopened log is stuck as well, across
// restarts. walMeta completes it.
func TestLogStoreFailedRotationMetaCommit(t *testing.T) {
	dir := t.TempDir()
	var fails atomic.Int32
	meta := &flakyMeta{MetaStore: &metadb.BoltMetaDB{}, fails: &fails}
	w, err := wal.Open(dir, wal.WithSegmentSize(testSegmentSize), wal.WithMetaStore(meta))
	if err != nil {
		t.Fatal(err)
	}
	fails.Store(1)
	stuck := appendUntilSealed(t, w, 1)
	w.Close()
	// Bare raft-wal, opened again: still sealed.
	w, err = wal.Open(dir, wal.WithSegmentSize(testSegmentSize))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.StoreLogs([]*raft.Log{testEntry(stuck)}); !errors.Is(err, wal.ErrSealed) {
		t.Fatalf("bare raft-wal reopened took the append (%v): is walMeta.completeRotation still needed?", err)
	}
	w.Close()

	// Opened as a logStore (as at a node's start): repaired.
	ls := testLogStore(t, dir, nil, nil, nil)
	checkLog(t, ls, 1, stuck-1)
	appendAll(t, ls, stuck, stuck+100)
	checkLog(t, ls, 1, stuck+100)
	ls.Close()

	// And while running: the rotation's meta update fails, the logStore
	// reopens the WAL, walMeta completes the rotation.
	dir = t.TempDir()
	fails.Store(0)
	ls = testLogStore(t, dir, nil, nil, &fails)
	fails.Store(1)
	appendAll(t, ls, 1, 150)
	if fails.Load() != 0 {
		t.Fatal("no meta update failed")
	}
	checkLog(t, ls, 1, 150)
	ls.Close()
	ls = testLogStore(t, dir, nil, nil, nil)
	checkLog(t, ls, 1, 150)
	ls.Close()
	checkSegmentFiles(t, dir)

	// When completing the rotation fails too, the stuck WAL stays open
	// and answers reads; the reopen is tried again a second later.
	dir = t.TempDir()
	fails.Store(0)
	ls = testLogStore(t, dir, nil, nil, &fails)
	fails.Store(2)
	start := time.Now()
	refused := 0
	for i := uint64(1); i <= 150; i++ {
		for {
			err := ls.StoreLogs([]*raft.Log{testEntry(i)})
			if err == nil {
				break
			}
			if !errors.Is(err, wal.ErrSealed) || time.Since(start) > 10*time.Second {
				t.Fatalf("append %d: %v", i, err)
			}
			refused++
			checkLog(t, ls, 1, i-1)
			time.Sleep(100 * time.Millisecond)
		}
	}
	if refused == 0 || fails.Load() != 0 {
		t.Fatalf("%d appends refused, %d meta failures left", refused, fails.Load())
	}
	checkLog(t, ls, 1, 150)
	ls.Close()
}

// A compaction between the failed rotation and the next append commits
// raft-wal's stale in-memory state: meta again names the sealed segment
// as the tail and no longer names the new segment, whose partial file is
// left behind under the id the repair gives the new segment.
// walMeta deletes that file (meta does not name it) and completes
// the rotation.
func TestLogStoreFailedRotationThenCompaction(t *testing.T) {
	dir := t.TempDir()
	f := newFlakyFiler(dir)
	f.leave = true
	var meta atomic.Pointer[types.PersistentState]
	ls := testLogStoreMeta(t, dir, nil, f, nil, &meta)
	appendAll(t, ls, 1, 5)
	f.fails.Store(1)
	first, last := uint64(1), uint64(5)
	for f.failed.Load() == 0 {
		last++
		if last > 200 {
			t.Fatal("no rotation failed")
		}
		if err := ls.StoreLogs([]*raft.Log{testEntry(last)}); err != nil {
			t.Fatalf("append %d: %v", last, err)
		}
		// DeleteRange waits for a rotation under way, then commits.
		if err := ls.DeleteRange(first, first); err != nil {
			t.Fatal(err)
		}
		first++
	}
	ps := meta.Load()
	if tail := ps.Segments[len(ps.Segments)-1]; !tail.SealTime.IsZero() {
		t.Fatalf("meta names a sealed tail: %+v", ps)
	}
	stray, _ := filepath.Glob(filepath.Join(dir, fmt.Sprintf("*-%016x.wal", ps.NextSegmentID)))
	if len(stray) != 1 {
		t.Fatalf("no partial file of segment %d left behind: %v", ps.NextSegmentID, stray)
	}
	appendAll(t, ls, last+1, last+100)
	checkLog(t, ls, first, last+100)
	ls.Close()
	checkSegmentFiles(t, dir)
	ls = testLogStore(t, dir, nil, nil, nil)
	checkLog(t, ls, first, last+100)
	ls.Close()
}

// When the reopen cannot complete the rotation yet (the disk still
// refuses the new segment), the stuck WAL is kept and keeps answering
// reads, the failure goes to the disk monitor, and the reopen is tried
// again only once the monitor's probe finds the disk taking writes, and
// not more than once a second.
func TestLogStoreReopenWaitsForDisk(t *testing.T) {
	dir := t.TempDir()
	mon := disk.New(disk.Options{Dir: t.TempDir(), Interval: 20 * time.Millisecond, Reserve: -1, Log: testLog(t)})
	var episodes atomic.Int32
	mon.OnChange(func(failed bool) {
		if failed {
			episodes.Add(1)
		}
	})
	stop := make(chan struct{})
	defer close(stop)
	go mon.Run(stop)

	f := newFlakyFiler(dir) // no partial file: Open must create the segment
	ls := testLogStore(t, dir, mon, f, nil)
	appendAll(t, ls, 1, 10)
	f.fails.Store(2) // the rotation and the first reopen
	start := time.Now()
	var firstErr error
	for i := uint64(11); i <= 150; i++ {
		for {
			err := ls.StoreLogs([]*raft.Log{testEntry(i)})
			if err == nil {
				break
			}
			if firstErr == nil {
				firstErr = err
				t.Logf("append %d: %v", i, err)
			}
			checkLog(t, ls, 1, i-1) // reads go on
			if time.Since(start) > 20*time.Second {
				t.Fatalf("append %d still fails: %v", i, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	if firstErr == nil || f.failed.Load() != 2 {
		t.Fatalf("creates failed %d times, first error %v; want 2 and an error", f.failed.Load(), firstErr)
	}
	if took := time.Since(start); took < reopenMin {
		t.Fatalf("reopened again after %v, before the pause of %v", took, reopenMin)
	}
	if episodes.Load() == 0 {
		t.Fatal("the disk monitor was never told")
	}
	checkLog(t, ls, 1, 150)
	ls.Close()
}

// Readers on other goroutines keep reading every entry while the writer
// meets failed rotations and the WAL is swapped under them (go test -race).
func TestLogStoreConcurrentReadersDuringReopen(t *testing.T) {
	dir := t.TempDir()
	f := newFlakyFiler(dir)
	f.leave = true
	ls := testLogStore(t, dir, nil, f, nil)
	appendAll(t, ls, 1, 5)

	var last atomic.Uint64
	last.Store(5)
	done := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for r := 0; r < 4; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := uint64(0); ; n++ {
				select {
				case <-done:
					return
				default:
				}
				hi := last.Load()
				i := 1 + n%hi
				var l raft.Log
				if err := ls.GetLog(i, &l); err != nil || string(l.Data) != string(testEntry(i).Data) {
					errs <- fmt.Errorf("GetLog(%d) = %q, %v", i, l.Data, err)
					return
				}
				if li, err := ls.LastIndex(); err != nil || li < hi {
					errs <- fmt.Errorf("LastIndex = %d, %v; want >= %d", li, err, hi)
					return
				}
				if _, err := ls.Get([]byte("k")); err != nil {
					errs <- fmt.Errorf("Get: %v", err)
					return
				}
			}
		}()
	}
	f.fails.Store(1)
	for i := uint64(6); i <= 300; i++ {
		if err := ls.StoreLogs([]*raft.Log{testEntry(i)}); err != nil {
			t.Fatalf("append %d: %v", i, err)
		}
		last.Store(i)
		if i%10 == 0 {
			if err := ls.SetUint64(termKey, i); err != nil {
				t.Fatal(err)
			}
		}
	}
	close(done)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if f.failed.Load() != 1 {
		t.Fatalf("%d creates failed, want 1", f.failed.Load())
	}
	checkLog(t, ls, 1, 300)
	if term, err := ls.GetUint64(termKey); err != nil || term != 300 {
		t.Fatalf("term %d, %v", term, err)
	}
	ls.Close()
}

// After Close every call fails with ErrClosed and nothing reopens.
func TestLogStoreClose(t *testing.T) {
	dir := t.TempDir()
	ls := testLogStore(t, dir, nil, nil, nil)
	appendAll(t, ls, 1, 3)
	if err := ls.Close(); err != nil {
		t.Fatal(err)
	}
	if err := ls.StoreLogs([]*raft.Log{testEntry(4)}); !errors.Is(err, wal.ErrClosed) {
		t.Fatalf("append after Close: %v", err)
	}
	if _, err := ls.LastIndex(); !errors.Is(err, wal.ErrClosed) {
		t.Fatalf("LastIndex after Close: %v", err)
	}
	if err := ls.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

// checkSegmentFiles checks that every segment file in dir is one the meta
// names: no file was left behind by the failed creates.
func checkSegmentFiles(t *testing.T, dir string) {
	t.Helper()
	var m metadb.BoltMetaDB
	ps, err := m.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	m.Close()
	named := map[string]bool{}
	for _, si := range ps.Segments {
		named[segment.FileName(si)] = true
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.wal"))
	for _, p := range files {
		if !named[filepath.Base(p)] {
			t.Errorf("segment file %s is not in meta %+v", filepath.Base(p), ps)
		}
	}
}

// The newest entries are served from memory, bounded by bytes; compacted
// entries are not (raft must see them gone), and a conflict's truncation
// leaves no stale entry behind.
func TestLogStoreRecentEntries(t *testing.T) {
	ls := testLogStore(t, t.TempDir(), nil, nil, nil)
	defer ls.Close()
	appendAll(t, ls, 1, 20)
	if n := len(ls.WAL.recent.logs); n != 20 {
		t.Fatalf("%d entries kept, want 20", n)
	}
	var l raft.Log
	if !ls.WAL.recent.get(7, &l) || string(l.Data) != string(testEntry(7).Data) {
		t.Fatalf("entry 7 from memory: %q", l.Data)
	}
	// Compaction: gone from memory and from the log.
	if err := ls.DeleteRange(1, 10); err != nil {
		t.Fatal(err)
	}
	if err := ls.GetLog(7, &l); !errors.Is(err, raft.ErrLogNotFound) {
		t.Fatalf("compacted entry 7: %v", err)
	}
	appendAll(t, ls, 21, 25)
	checkLog(t, ls, 11, 25)
	// A follower's truncation after a conflict, then other entries at
	// the same indexes: the new ones are read.
	if err := ls.DeleteRange(24, 25); err != nil {
		t.Fatal(err)
	}
	other := &raft.Log{Index: 24, Term: 9, Type: raft.LogCommand, Data: []byte("other 24")}
	if err := ls.StoreLogs([]*raft.Log{other}); err != nil {
		t.Fatal(err)
	}
	if err := ls.GetLog(24, &l); err != nil || string(l.Data) != "other 24" || l.Term != 9 {
		t.Fatalf("entry 24 after the truncation: %+v, %v", l, err)
	}
	// The bound: entries beyond recentLogBytes push the oldest out.
	big := make([]byte, recentLogBytes/4+1)
	for i := uint64(25); i < 30; i++ {
		if err := ls.StoreLogs([]*raft.Log{{Index: i, Term: 9, Type: raft.LogCommand, Data: big}}); err != nil {
			t.Fatal(err)
		}
	}
	r := &ls.WAL.recent
	if r.bytes > recentLogBytes || len(r.logs) != 3 || r.logs[0].Index != 27 {
		t.Fatalf("kept %d entries from %d, %d bytes", len(r.logs), r.logs[0].Index, r.bytes)
	}
	if err := ls.GetLog(25, &l); err != nil || len(l.Data) != len(big) {
		t.Fatalf("entry 25 from the WAL: %d bytes, %v", len(l.Data), err)
	}
}

// syncCountFile counts Sync calls on a segment file.
type syncCountFile struct {
	types.WritableFile
	syncs *atomic.Int32
}

func (f syncCountFile) Sync() error { f.syncs.Add(1); return f.WritableFile.Sync() }

// With --unsafe-no-sync (noSyncFS) no segment file is fsynced, across
// rotations and a reopen (raft-wal's RecoverTail opens the tail with
// OpenWriter), and what was appended reads back; the same appends
// without it fsync every batch.
func TestLogStoreNoSync(t *testing.T) {
	run := func(noSync bool) int32 {
		dir := t.TempDir()
		syncs := new(atomic.Int32)
		open := func() logStore {
			s := &walStore{dir: dir, opts: []func(*wal.WAL){wal.WithSegmentSize(testSegmentSize)}, stop: make(chan struct{}),
				log: testLog(t), noSync: noSync,
				vfs: wrapFS{fs.New(), func(w types.WritableFile) types.WritableFile { return syncCountFile{w, syncs} }}}
			ls, err := s.start()
			if err != nil {
				t.Fatal(err)
			}
			return ls
		}
		ls := open()
		appendAll(t, ls, 1, 100) // about three segments of testSegmentSize
		if err := ls.Close(); err != nil {
			t.Fatal(err)
		}
		ls = open()
		defer ls.Close()
		appendAll(t, ls, 101, 110)
		for i := uint64(1); i <= 110; i++ {
			var l raft.Log
			if err := ls.GetLog(i, &l); err != nil || !bytes.Equal(l.Data, testEntry(i).Data) {
				t.Fatalf("noSync %v: entry %d: %v %q", noSync, i, err, l.Data)
			}
		}
		return syncs.Load()
	}
	if n := run(true); n != 0 {
		t.Errorf("%d segment fsyncs with noSync, want none", n)
	}
	if n := run(false); n < 110 {
		t.Errorf("%d segment fsyncs without noSync, want one per batch (110)", n)
	}
}
