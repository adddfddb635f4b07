package cluster

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/hashicorp/raft"
	wal "github.com/hashicorp/raft-wal"
	"github.com/hashicorp/raft-wal/fs"
	"github.com/hashicorp/raft-wal/metadb"
	"github.com/hashicorp/raft-wal/segment"
	"github.com/hashicorp/raft-wal/types"

	"github.com/weir-nifi/weir/internal/disk"
)

// logStore is raft-wal with exact compaction, disk-failure handling and
// recovery from a failed segment rotation.
//
// Compaction: raft-wal frees whole segments only and still answers reads
// of compacted entries that share a segment with live ones. Raft must see
// them as gone, so a follower that needs them gets the snapshot (which
// holds them) instead of a log that pretends to start before the snapshot.
//
// Disk failures: a failed append or stable-store write is reported to the
// disk monitor, which makes the node refuse writes, leave leadership and
// stay out of elections until the disk takes writes again. Raft panics when
// it cannot persist its current term, so that one write is retried until
// it succeeds instead of failing (see SetUint64).
//
// Failed rotation: when a segment is full, raft-wal seals it in the append
// that fills it and creates the next segment in the background. If that
// fails (no space for the new file, or for the meta update) raft-wal only
// logs "rotate error": the sealed segment stays the tail, every later
// append fails with ErrSealed, and nothing tries the rotation again.
// raft-wal finishes an interrupted rotation only when it opens the log, so
// logStore then closes the WAL and opens it again (see reopen); with
// walMeta for the one case raft-wal's Open does not finish.
//
// logStore is a small value (Raft holds copies of it as its LogStore and
// StableStore); every copy shares the one walStore, which holds the WAL.
type logStore struct {
	// WAL is nil until the log is opened.
	WAL *walStore
}

var (
	_ raft.LogStore          = logStore{}
	_ raft.StableStore       = logStore{}
	_ raft.MonotonicLogStore = logStore{}
)

// openLogStore opens the raft-wal log in dir. opts are raft-wal's options
// (logger, segment size). disk may be nil. noSync (--unsafe-no-sync) makes
// the segment files' fsync a no-op: appends reach the page cache only.
func openLogStore(dir string, d *disk.Monitor, stop <-chan struct{}, log *slog.Logger, noSync bool, opts ...func(*wal.WAL)) (logStore, error) {
	if log == nil {
		log = slog.Default()
	}
	s := &walStore{dir: dir, opts: opts, disk: d, stop: stop, log: log, noSync: noSync}
	return s.start()
}

// noSyncFS is raft-wal's file system with Sync a no-op on segment files,
// for --unsafe-no-sync. raft-wal has no option for it, and without it the
// flag left one fsync per appended batch on every node: the benchmarks'
// "equal durability" pair (JetStream's default writes without fsync) was
// not equal, and pulls paid two fsyncs per confirm. raft-wal's meta store
// (bbolt, written on segment rotation and on term and vote changes) still
// syncs; those are rare.
func noSyncFS(vfs types.VFS) types.VFS {
	return wrapFS{vfs, func(w types.WritableFile) types.WritableFile { return noSyncFile{w} }}
}

type noSyncFile struct{ types.WritableFile }

func (noSyncFile) Sync() error { return nil }

// wrapFS is a raft-wal file system that wraps each segment file it opens
// for writing (Create for a new segment, OpenWriter for the tail that
// RecoverTail reopens).
type wrapFS struct {
	types.VFS
	wrap func(types.WritableFile) types.WritableFile
}

func (f wrapFS) Create(dir, name string, size uint64) (types.WritableFile, error) {
	w, err := f.VFS.Create(dir, name, size)
	if err != nil {
		return nil, err
	}
	return f.wrap(w), nil
}

func (f wrapFS) OpenWriter(dir, name string) (types.WritableFile, error) {
	w, err := f.VFS.OpenWriter(dir, name)
	if err != nil {
		return nil, err
	}
	return f.wrap(w), nil
}

var _ types.VFS = wrapFS{}

// Reopening is paced: at most one attempt per reopenMin at first, the
// pause doubling up to reopenMax while attempts do not cure the log.
const (
	reopenMin = time.Second
	reopenMax = time.Minute
)

// walStore holds the WAL behind a logStore and swaps it for a freshly
// opened one when a failed rotation left it unable to append.
//
// Every call into the WAL holds mu for reading; raft-wal itself allows
// concurrent readers and writers. Reopening holds mu for writing, so no
// call is inside the old WAL while it is closed and none sees it after.
type walStore struct {
	dir  string
	opts []func(*wal.WAL)
	disk *disk.Monitor // nil: failures are only returned
	stop <-chan struct{}
	log  *slog.Logger
	// filer and newMeta make raft-wal's segment files and meta store
	// (nil: its own, in dir). Tests make them fail.
	filer   types.SegmentFiler
	newMeta func() types.MetaStore
	// vfs is the file system under the default filer (nil: the real one);
	// noSync wraps it in noSyncFS.
	vfs    types.VFS
	noSync bool

	mu     sync.RWMutex
	w      *wal.WAL // nil when closed or when reopening failed
	meta   *walMeta // w's meta store
	err    error    // why w is nil
	closed bool     // Close was called: never reopen
	tried  time.Time
	pause  time.Duration // least time from tried to the next attempt

	recent recentLogs
}

// recentLogBytes bounds the entry data recentLogs keeps. The tail only has
// to cover the distance between the leader's append and the slowest
// follower's send and apply, a few batches; every byte of it is live heap
// that GOGC=300 lets grow fourfold before a collection, so 32 MiB put a
// node over the 200 MiB bound of systest TestS2SRelayLargeFlowFile.
const recentLogBytes = 8 << 20

// recentLogs keeps the newest entries appended, up to recentLogBytes of
// data, so that the leader sends them to its followers from memory (it
// reads each entry right after appending it, once per follower) and a
// follower applies them from memory: reading each back from the WAL (and
// decoding it) was a fifth of the servers' CPU in bench/s2s's 64 KiB push. Raft's own LogCache counts
// entries, not bytes, and entries run from a few bytes to megabytes.
type recentLogs struct {
	mu    sync.Mutex
	logs  []*raft.Log // contiguous indexes, oldest first
	bytes int
}

func (c *recentLogs) add(logs []*raft.Log) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, l := range logs {
		if n := len(c.logs); n > 0 && c.logs[n-1].Index+1 != l.Index {
			c.logs, c.bytes = nil, 0
		}
		c.logs = append(c.logs, l)
		c.bytes += len(l.Data) + len(l.Extensions)
	}
	drop := 0
	for drop < len(c.logs) && c.bytes > recentLogBytes {
		c.bytes -= len(c.logs[drop].Data) + len(c.logs[drop].Extensions)
		c.logs[drop] = nil
		drop++
	}
	c.logs = c.logs[drop:]
}

func (c *recentLogs) get(index uint64, out *raft.Log) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.logs) == 0 || index < c.logs[0].Index || index > c.logs[len(c.logs)-1].Index {
		return false
	}
	*out = *c.logs[index-c.logs[0].Index]
	return true
}

func (c *recentLogs) clear() {
	c.mu.Lock()
	c.logs, c.bytes = nil, 0
	c.mu.Unlock()
}

func (s *walStore) start() (logStore, error) {
	if err := s.open(); err != nil {
		return logStore{}, err
	}
	return logStore{WAL: s}, nil
}

// open opens the WAL in s.dir, with walMeta around its meta store, as
// s.w. s.mu must be held (or s not shared yet).
func (s *walStore) open() error {
	if s.filer == nil {
		vfs := s.vfs
		if vfs == nil {
			vfs = fs.New()
		}
		if s.noSync {
			vfs = noSyncFS(vfs)
		}
		s.filer = segment.NewFiler(s.dir, vfs)
	}
	var inner types.MetaStore = &metadb.BoltMetaDB{}
	if s.newMeta != nil {
		inner = s.newMeta()
	}
	meta := &walMeta{MetaStore: inner, dir: s.dir, filer: s.filer, log: s.log}
	// raft-wal's option type is unexported: apply ours through one option.
	w, err := wal.Open(s.dir, func(w *wal.WAL) {
		for _, o := range s.opts {
			o(w)
		}
		wal.WithSegmentFiler(s.filer)(w)
		wal.WithMetaStore(meta)(w)
	})
	if err != nil {
		// A failed Open leaves the meta store open, and bbolt's file
		// lock would make the next Open wait for ever.
		_ = meta.Close()
		return err
	}
	s.w, s.meta, s.err = w, meta, nil
	return nil
}

// use runs fn with the current WAL. When fn meets a sealed tail (a
// rotation failed), or when there is no WAL because reopening failed, it
// reopens the WAL if the disk may take writes and the pace allows, and
// then runs fn once more. A sealed tail refuses an append before writing
// anything, so running the append again cannot duplicate an entry.
func (s *walStore) use(fn func(*wal.WAL) error) error {
	s.mu.RLock()
	w, err := s.w, s.err
	if w != nil {
		err = fn(w)
	}
	s.mu.RUnlock()
	if w != nil && !errors.Is(err, wal.ErrSealed) {
		return err
	}
	if !s.reopen(w) {
		return err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.w == nil {
		return s.err
	}
	return fn(s.w)
}

// reopen replaces stuck, the WAL a call found unable to append (nil: no
// WAL), with a newly opened one, and reports whether there is a new WAL
// to try.
//
// raft-wal's Open completes an interrupted rotation: when the rotation
// committed its meta update but could not create the new segment's file,
// Open recovers that file as the tail (a partial file left by the failed
// create holds no committed frame and recovers as empty) or creates it.
// When the meta update itself failed, walMeta completes it first.
// prepareReopen makes those writes while the stuck WAL still serves
// reads, and keeps it when they fail. The new WAL reads the committed
// (fsynced) frames of the segments meta names, the same ones the stuck
// WAL answered from, so no entry is lost or added.
func (s *walStore) reopen(stuck *wal.WAL) bool {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return false
	}
	if s.w != stuck {
		// Another call reopened it meanwhile.
		s.mu.Unlock()
		return s.w != nil
	}
	// Not while the disk monitor knows the disk fails: its probe ends
	// the failure once the disk takes writes again. Then at most one
	// attempt per pause, so a disk that still cannot take the new
	// segment is not hammered.
	now := time.Now()
	if (s.disk != nil && s.disk.Failed()) || now.Sub(s.tried) < s.pause {
		s.mu.Unlock()
		return false
	}
	if now.Sub(s.tried) > 2*reopenMax {
		s.pause = 0 // an earlier, unrelated episode
	}
	s.pause = min(max(2*s.pause, reopenMin), reopenMax)
	s.tried = now
	if stuck != nil {
		s.log.Warn("the Raft log cannot append: a segment rotation failed; reopening it to complete the rotation", "dir", s.dir)
		if err := s.meta.prepareReopen(); err != nil {
			s.mu.Unlock()
			s.log.Warn("cannot complete the Raft log's segment rotation yet; trying again when the disk takes writes", "dir", s.dir, "err", err)
			s.failed("complete a Raft log segment rotation", err)
			return false
		}
		if err := stuck.Close(); err != nil {
			s.log.Warn("closing the Raft log to reopen it", "err", err)
		}
		s.w, s.meta, s.err = nil, nil, errors.New("the Raft log is being reopened")
	}
	if err := s.open(); err != nil {
		// Rare (prepareReopen made the writes Open needs): until a
		// later attempt succeeds, every call fails, reads included.
		s.err = fmt.Errorf("reopen the Raft log: %w", err)
		s.mu.Unlock()
		s.log.Error("cannot reopen the Raft log; trying again when the disk takes writes", "dir", s.dir, "err", err)
		s.failed("reopen the Raft log", err)
		return false
	}
	s.mu.Unlock()
	s.log.Info("reopened the Raft log", "dir", s.dir)
	return true
}

// Close closes the WAL for good (daemon shutdown).
func (s *walStore) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	w := s.w
	s.w, s.meta, s.err = nil, nil, wal.ErrClosed
	if w == nil {
		return nil
	}
	return w.Close()
}

func (s *walStore) failed(op string, err error) {
	if err != nil && s.disk != nil {
		s.disk.Fail(op, err)
	}
}

func (l logStore) FirstIndex() (idx uint64, err error) {
	err = l.WAL.use(func(w *wal.WAL) (err error) {
		idx, err = w.FirstIndex()
		return err
	})
	return idx, err
}

func (l logStore) LastIndex() (idx uint64, err error) {
	err = l.WAL.use(func(w *wal.WAL) (err error) {
		idx, err = w.LastIndex()
		return err
	})
	return idx, err
}

// GetLog reads an entry. Raft panics when it cannot read an entry it
// must apply, so a read that fails for another reason than the entry not
// being there (a failing disk: EIO) is reported and retried until it
// succeeds or the node stops, with the node out of leadership meanwhile.
func (l logStore) GetLog(index uint64, log *raft.Log) error {
	if l.WAL.recent.get(index, log) {
		return nil
	}
	wait := 50 * time.Millisecond
	for {
		err := l.WAL.use(func(w *wal.WAL) error {
			first, err := w.FirstIndex()
			if err != nil {
				return err
			}
			if index < first {
				return raft.ErrLogNotFound
			}
			return w.GetLog(index, log)
		})
		if err == nil || errors.Is(err, raft.ErrLogNotFound) || errors.Is(err, wal.ErrClosed) {
			return err
		}
		l.WAL.failed("read the Raft log", err)
		select {
		case <-l.WAL.stop:
			return err
		case <-time.After(wait):
		}
		wait = min(2*wait, time.Second)
	}
}

func (l logStore) StoreLog(log *raft.Log) error { return l.StoreLogs([]*raft.Log{log}) }

func (l logStore) StoreLogs(logs []*raft.Log) error {
	err := l.WAL.use(func(w *wal.WAL) error { return w.StoreLogs(logs) })
	l.WAL.failed("append to the Raft log", err)
	if err == nil {
		l.WAL.recent.add(logs)
	} else {
		l.WAL.recent.clear()
	}
	return err
}

func (l logStore) DeleteRange(min, max uint64) error {
	// Compaction removes a prefix, a conflict on a follower a suffix:
	// either way the cache starts again from the next append.
	l.WAL.recent.clear()
	err := l.WAL.use(func(w *wal.WAL) error { return w.DeleteRange(min, max) })
	l.WAL.failed("compact the Raft log", err)
	return err
}

// IsMonotonic tells Raft the log takes no gaps (raft-wal's rule): after
// installing a snapshot Raft then clears the log instead of leaving a gap.
func (l logStore) IsMonotonic() bool { return true }

func (l logStore) Get(key []byte) (val []byte, err error) {
	err = l.WAL.use(func(w *wal.WAL) (err error) {
		val, err = w.Get(key)
		return err
	})
	return val, err
}

func (l logStore) GetUint64(key []byte) (val uint64, err error) {
	err = l.WAL.use(func(w *wal.WAL) (err error) {
		val, err = w.GetUint64(key)
		return err
	})
	return val, err
}

func (l logStore) Set(key, val []byte) error {
	err := l.WAL.use(func(w *wal.WAL) error { return w.Set(key, val) })
	l.WAL.failed("write Raft's stable store", err)
	return err
}

// termKey is the stable-store key hashicorp/raft keeps its current term
// under; it panics when writing it fails.
var termKey = []byte("CurrentTerm")

// SetUint64 persists a Raft counter. Raft takes the node down with a panic
// when it cannot persist its current term (it must not answer in a term it
// has not recorded), so that write waits for the disk instead: the node
// stays out of elections while its disk fails (the campaigns that would
// write a term are suppressed), and a term pushed by a peer waits here,
// with this node silent to the cluster, until the disk takes writes. At
// shutdown the wait ends without the term recorded; nothing was promised
// in it (votes are written with Set and fail cleanly), so the process may
// stop.
func (l logStore) SetUint64(key []byte, val uint64) error {
	set := func(w *wal.WAL) error { return w.SetUint64(key, val) }
	err := l.WAL.use(set)
	if err == nil || !bytes.Equal(key, termKey) {
		l.WAL.failed("write Raft's stable store", err)
		return err
	}
	wait := 50 * time.Millisecond
	for err != nil {
		l.WAL.failed("record the Raft term", err)
		select {
		case <-l.WAL.stop:
			return nil
		case <-time.After(wait):
		}
		wait = min(wait*2, time.Second)
		err = l.WAL.use(set)
	}
	return nil
}

// Close closes the log for good.
func (l logStore) Close() error { return l.WAL.Close() }

// walMeta is raft-wal's meta store (its bbolt file) as the WAL sees it,
// plus what reopening needs: it remembers the meta last persisted, and it
// completes a rotation whose meta update never happened.
//
// raft-wal seals a full segment in the append that fills it (an index
// frame in the same fsynced batch), then updates meta (the segment sealed,
// a new tail segment named), then creates the new file. If the meta update
// fails (bbolt cannot grow its file on a full disk), or the process stops
// before it, meta still names the sealed segment as the unsealed tail.
// raft-wal's Open recovers it as the tail, sealed, and every append fails
// with ErrSealed for good, restarts included. completeRotation writes the
// meta update the rotation would have written, so Open creates (or
// recovers) the new tail.
type walMeta struct {
	types.MetaStore
	dir   string
	filer types.SegmentFiler
	log   *slog.Logger

	mu        sync.Mutex
	persisted types.PersistentState // as of the last Load or CommitState
}

func (m *walMeta) Load(dir string) (types.PersistentState, error) {
	ps, err := m.MetaStore.Load(dir)
	if err != nil {
		return ps, err
	}
	if fixed, err := m.completeRotation(ps); err != nil {
		// Open goes on with the sealed tail (reads work, appends fail
		// with ErrSealed, and the logStore tries again).
		m.log.Warn("cannot complete an interrupted Raft log segment rotation", "err", err)
	} else {
		ps = fixed
	}
	m.mu.Lock()
	m.persisted = ps
	m.mu.Unlock()
	return ps, nil
}

func (m *walMeta) CommitState(ps types.PersistentState) error {
	err := m.MetaStore.CommitState(ps)
	if err == nil {
		m.mu.Lock()
		m.persisted = ps
		m.mu.Unlock()
	}
	return err
}

// completeRotation returns ps with an interrupted rotation completed and
// committed, or ps itself when its tail is not a sealed segment.
func (m *walMeta) completeRotation(ps types.PersistentState) (types.PersistentState, error) {
	if len(ps.Segments) == 0 {
		return ps, nil
	}
	tail := ps.Segments[len(ps.Segments)-1]
	if !tail.SealTime.IsZero() {
		return ps, nil
	}
	for _, si := range ps.Segments {
		if si.ID >= ps.NextSegmentID {
			return ps, nil // not how raft-wal numbers segments: leave it to Open
		}
	}
	// Read the tail the way Open will: through its committed frames.
	sw, err := m.filer.RecoverTail(tail)
	if err != nil {
		return ps, nil // Open meets the same (or creates a missing file)
	}
	sealed, indexStart, err := sw.Sealed()
	last := sw.LastIndex()
	_ = sw.Close()
	if err != nil || !sealed || last < tail.MinIndex || last < tail.BaseIndex {
		return ps, nil
	}
	// What rotateSegmentLocked commits: the tail sealed where its file
	// is, and a new empty tail after it with the next segment id.
	now := time.Now()
	fixed := types.PersistentState{NextSegmentID: ps.NextSegmentID + 1}
	fixed.Segments = append(fixed.Segments, ps.Segments[:len(ps.Segments)-1]...)
	tail.SealTime, tail.MaxIndex, tail.IndexStart = now, last, indexStart
	next := types.SegmentInfo{
		ID:         ps.NextSegmentID,
		BaseIndex:  last + 1,
		MinIndex:   last + 1,
		SizeLimit:  tail.SizeLimit,
		Codec:      tail.Codec,
		CreateTime: now,
	}
	fixed.Segments = append(fixed.Segments, tail, next)
	// A file of the new segment's name may be left from a create that
	// failed. Meta names no segment with this id (every id it names is
	// below NextSegmentID, checked above), so nothing was ever committed
	// to it, and Open would delete it unread anyway as a file meta does
	// not name. Delete it first, so that the new tail starts from a file
	// created for it.
	if err := m.filer.Delete(next.BaseIndex, next.ID); err != nil && !errors.Is(err, os.ErrNotExist) {
		return ps, err
	}
	if err := m.MetaStore.CommitState(fixed); err != nil {
		return ps, err
	}
	m.log.Info("completed an interrupted Raft log segment rotation", "sealedSegment", tail.ID, "lastIndex", last, "newSegment", next.ID)
	return fixed, nil
}

// prepareReopen does, while the stuck WAL is still open, every write that
// opening the WAL again will need, so that the stuck WAL, which still
// answers reads, is closed only when the new one can open: Raft panics
// when it cannot read a committed entry it is about to apply. It fails
// when the directory takes no new file (a read-only file system: Open
// opens the meta and tail files for writing), when completing a rotation
// cannot commit, or when the tail segment meta names has no file and one
// cannot be created.
func (m *walMeta) prepareReopen() error {
	f, err := os.CreateTemp(m.dir, ".reopen-check-*")
	if err != nil {
		return err
	}
	_ = f.Close()
	if err := os.Remove(f.Name()); err != nil {
		return err
	}
	m.mu.Lock()
	ps := m.persisted
	m.mu.Unlock()
	ps, err = m.completeRotation(ps)
	if err != nil {
		return err
	}
	m.mu.Lock()
	m.persisted = ps
	m.mu.Unlock()
	if len(ps.Segments) == 0 {
		return nil
	}
	tail := ps.Segments[len(ps.Segments)-1]
	if !tail.SealTime.IsZero() {
		return nil
	}
	_, err = os.Stat(filepath.Join(m.dir, segment.FileName(tail)))
	if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	// The failed rotation committed meta but could not create the file:
	// create it as Open would (empty; Open recovers it as the tail).
	sw, err := m.filer.Create(tail)
	if err != nil {
		return err
	}
	return sw.Close()
}
