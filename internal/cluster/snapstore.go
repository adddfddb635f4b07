package cluster

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/raft"

	"github.com/weir-nifi/weir/internal/durable"
	"github.com/weir-nifi/weir/internal/store"
)

// snapStore is the Raft snapshot store. A snapshot is one store frame (see
// store.Snapshot.WriteTo: header, bbolt file, XXH64), which already
// carries its own checksum, so unlike raft.FileSnapshotStore this store
// adds none: it verifies the frame while the snapshot is written (a
// snapshot that fails verification is never installed), and Open hands
// out the file without reading it first. The layout is the file store's,
// so data directories written before keep working:
//
//	raft/snapshots/<term>-<index>-<ms>/meta.json  raft.SnapshotMeta (+ "Frame" when written here)
//	raft/snapshots/<term>-<index>-<ms>/state.bin  the frame
//
// A snapshot is written into <id>.tmp/, then state.bin is fsynced, meta.json
// written and fsynced, the directory renamed to <id> and its parent
// fsynced: a crash leaves either no snapshot or a complete, verified one.
// Leftover .tmp directories are removed when the store is opened.
type snapStore struct {
	dir    string
	retain int
	log    *slog.Logger
	// st, when set, is the store received snapshots are staged for: the
	// sink copies the database beside it while the snapshot arrives (see
	// store.Stage), so the restore that follows is a rename.
	st *store.Store

	mu sync.Mutex
	// verified holds the snapshots whose frame a sink of this process
	// checked while writing them: restoring one needs no second pass.
	// After a restart every snapshot is checked again when restored.
	verified map[string]bool
	staging  bool        // a sink is writing the stage
	staged   *stagedSnap // the snapshot whose stage is complete
}

// stagedSnap is a complete stage and the verified frame it holds.
type stagedSnap struct {
	id    string
	stage *store.Stage
	frame store.Frame
}

const (
	snapDirName   = "snapshots"
	snapMetaFile  = "meta.json"
	snapStateFile = "state.bin"
	snapTmpSuffix = ".tmp"
)

// snapMeta is meta.json: raft.FileSnapshotStore's fields (CRC is only in
// snapshots it wrote) plus the frame this store verified.
type snapMeta struct {
	raft.SnapshotMeta
	CRC   []byte     `json:",omitempty"`
	Frame *frameMeta `json:",omitempty"`
}

// frameMeta records what the frame in state.bin said about itself.
type frameMeta struct {
	AppliedIndex uint64
	XXH64        string
}

var (
	_ raft.SnapshotStore = (*snapStore)(nil)
	_ raft.SnapshotSink  = (*snapSink)(nil)
	_ io.ReaderFrom      = (*snapSink)(nil)
)

// newSnapStore opens the snapshot store under base (the raft directory)
// and removes what an interrupted snapshot left behind. Received
// snapshots are staged for st unless it is nil.
func newSnapStore(base string, retain int, log *slog.Logger, st *store.Store) (*snapStore, error) {
	if retain < 1 {
		return nil, errors.New("must retain at least one snapshot")
	}
	dir := filepath.Join(base, snapDirName)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("snapshot directory: %w", err)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	for _, e := range ents {
		if e.IsDir() && strings.HasSuffix(e.Name(), snapTmpSuffix) {
			// No sink exists yet: this is a snapshot a crash interrupted.
			log.Info("removing an unfinished snapshot", "dir", e.Name())
			if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
				return nil, err
			}
		}
	}
	if st != nil {
		if err := st.RemoveStage(); err != nil {
			return nil, err
		}
	}
	return &snapStore{dir: dir, retain: retain, log: log, st: st, verified: map[string]bool{}}, nil
}

// Create starts a snapshot. Raft writes the frame into the sink, either
// from the local FSM (Persist) or as received from the leader.
func (s *snapStore) Create(version raft.SnapshotVersion, index, term uint64, configuration raft.Configuration,
	configurationIndex uint64, _ raft.Transport) (raft.SnapshotSink, error) {
	if version != 1 {
		return nil, fmt.Errorf("unsupported snapshot version %d", version)
	}
	// Names sort like raft.FileSnapshotStore's; two in the same
	// millisecond get the next free one.
	ms := time.Now().UnixMilli()
	var id, tmp string
	for {
		id = fmt.Sprintf("%d-%d-%d", term, index, ms)
		tmp = filepath.Join(s.dir, id+snapTmpSuffix)
		err := os.Mkdir(tmp, 0o755)
		if err == nil {
			if _, err := os.Stat(filepath.Join(s.dir, id)); err == nil {
				os.Remove(tmp)
				ms++
				continue
			}
			break
		}
		if !errors.Is(err, os.ErrExist) {
			return nil, err
		}
		ms++
	}
	f, err := os.OpenFile(filepath.Join(tmp, snapStateFile), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		os.RemoveAll(tmp)
		return nil, err
	}
	s.log.Debug("writing snapshot", "id", id)
	return &snapSink{store: s, tmp: tmp, f: f, out: durable.Writer{F: f}, meta: snapMeta{SnapshotMeta: raft.SnapshotMeta{
		Version: version, ID: id, Index: index, Term: term,
		Configuration: configuration, ConfigurationIndex: configurationIndex,
	}}}, nil
}

// List returns the newest snapshots first, at most retain of them.
func (s *snapStore) List() ([]*raft.SnapshotMeta, error) {
	all, err := s.all()
	if err != nil {
		return nil, err
	}
	var out []*raft.SnapshotMeta
	for _, m := range all {
		if len(out) == s.retain {
			break
		}
		out = append(out, &m.SnapshotMeta)
	}
	return out, nil
}

// all reads every finished snapshot's meta, newest first.
func (s *snapStore) all() ([]*snapMeta, error) {
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, err
	}
	var out []*snapMeta
	for _, e := range ents {
		if !e.IsDir() || strings.HasSuffix(e.Name(), snapTmpSuffix) {
			continue
		}
		m, err := s.readMeta(e.Name())
		if err != nil {
			s.log.Warn("ignoring a snapshot without readable metadata", "dir", e.Name(), "err", err)
			continue
		}
		if m.Version < raft.SnapshotVersionMin || m.Version > raft.SnapshotVersionMax {
			s.log.Warn("ignoring a snapshot of an unsupported version", "dir", e.Name(), "version", m.Version)
			continue
		}
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Term != b.Term {
			return a.Term > b.Term
		}
		if a.Index != b.Index {
			return a.Index > b.Index
		}
		return a.ID > b.ID
	})
	return out, nil
}

func (s *snapStore) readMeta(id string) (*snapMeta, error) {
	b, err := os.ReadFile(filepath.Join(s.dir, id, snapMetaFile))
	if err != nil {
		return nil, err
	}
	var m snapMeta
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	if m.ID != id {
		return nil, fmt.Errorf("metadata names snapshot %q", m.ID)
	}
	return &m, nil
}

// Open returns the snapshot file, unread. Whoever consumes it checks the
// frame (a follower receiving it, or the store restoring from it), unless
// this process verified it while writing it; see snapshotFile.
func (s *snapStore) Open(id string) (*raft.SnapshotMeta, io.ReadCloser, error) {
	m, err := s.readMeta(id)
	if err != nil {
		return nil, nil, err
	}
	path := filepath.Join(s.dir, id, snapStateFile)
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	if st.Size() != m.Size {
		f.Close()
		return nil, nil, fmt.Errorf("snapshot %s: %s has %d bytes, its metadata says %d", id, snapStateFile, st.Size(), m.Size)
	}
	s.mu.Lock()
	verified := s.verified[id]
	s.mu.Unlock()
	return &m.SnapshotMeta, &snapshotFile{File: f, path: path, id: id, index: m.Index, verified: verified, snaps: s}, nil
}

// newStage starts staging a received snapshot, unless another sink is
// staging one; a complete stage of an earlier snapshot is dropped (they
// share the file).
func (s *snapStore) newStage() *store.Stage {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.st == nil || s.staging {
		return nil
	}
	if s.staged != nil {
		s.staged.stage.Discard()
		s.staged = nil
	}
	g, err := s.st.NewStage()
	if err != nil {
		s.log.Warn("cannot stage the snapshot being received; it will be copied when restored", "err", err)
		return nil
	}
	s.staging = true
	return g
}

// endStage keeps a complete stage for snapshot id (frame is the verified
// frame it holds), or drops it when frame is nil.
func (s *snapStore) endStage(id string, g *store.Stage, frame *store.Frame) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.staging = false
	if frame == nil {
		g.Discard()
		return
	}
	s.staged = &stagedSnap{id: id, stage: g, frame: *frame}
}

// takeStage hands over the stage of snapshot id, if there is one.
func (s *snapStore) takeStage(id string) *stagedSnap {
	s.mu.Lock()
	defer s.mu.Unlock()
	sg := s.staged
	if sg == nil || sg.id != id {
		return nil
	}
	s.staged = nil
	return sg
}

// reap deletes all but the newest retain snapshots. A reader of a reaped
// snapshot keeps its open file.
func (s *snapStore) reap() error {
	all, err := s.all()
	if err != nil {
		return err
	}
	for i := s.retain; i < len(all); i++ {
		id := all[i].ID
		s.log.Debug("removing an old snapshot", "id", id)
		if err := os.RemoveAll(filepath.Join(s.dir, id)); err != nil {
			return err
		}
		s.mu.Lock()
		delete(s.verified, id)
		if s.staged != nil && s.staged.id == id {
			s.staged.stage.Discard()
			s.staged = nil
		}
		s.mu.Unlock()
	}
	return nil
}

// snapshotFile is what Open returns: the snapshot file itself, so the
// transport can send it with sendfile (io.Copy reaches *os.File.WriteTo)
// and the FSM can restore from the file instead of the stream.
type snapshotFile struct {
	*os.File
	path     string
	id       string
	index    uint64 // the Raft index of the snapshot
	verified bool   // a sink of this process verified the frame
	snaps    *snapStore
}

// snapSink writes one snapshot: the frame goes to state.bin and through a
// store.FrameChecker, and Close refuses a frame that is incomplete, too
// long or altered.
type snapSink struct {
	store  *snapStore
	tmp    string
	f      *os.File
	out    durable.Writer // f, with writeback started while the rest arrives
	meta   snapMeta
	check  store.FrameChecker
	n      int64 // bytes written
	closed bool
	err    error

	// The stage of a received snapshot (see snapStore.st) is written by
	// its own goroutine, on another core than the one receiving.
	stage     *store.Stage
	stageCh   chan stageBuf
	stageDone chan error
	stageBad  bool // bytes reached the sink outside ReadFrom
}

// stageBuf is a piece of the frame for the stage goroutine, which hands
// buf back through free when it has written it.
type stageBuf struct {
	p, buf []byte
	free   chan<- []byte
}

func (k *snapSink) ID() string { return k.meta.ID }

// Write checks p as the next part of the frame and appends it to the file.
func (k *snapSink) Write(p []byte) (int, error) {
	if k.stage != nil {
		k.stageBad = true
	}
	return k.write(p)
}

func (k *snapSink) write(p []byte) (int, error) {
	if k.closed {
		return 0, errors.New("snapshot sink is closed")
	}
	if k.err != nil {
		return 0, k.err
	}
	if _, err := k.check.Write(p); err != nil {
		k.err = err
		return 0, err
	}
	n, err := k.out.Write(p)
	k.n += int64(n)
	if err != nil {
		k.err = err
	}
	return n, err
}

// ReadFrom takes the frame from r in large pieces. Raft copies a snapshot
// it receives from the leader into the sink with io.Copy, which lands here
// (our own snapshots are written with Write), so this is also where a
// received snapshot is staged for the restore that follows.
func (k *snapSink) ReadFrom(r io.Reader) (int64, error) {
	const nbuf = 4
	free := make(chan []byte, nbuf)
	for range nbuf {
		free <- make([]byte, 1<<20)
	}
	if k.stage == nil && k.n == 0 {
		k.startStage()
	}
	var total int64
	for {
		buf := <-free
		n, err := io.ReadFull(r, buf)
		if n > 0 {
			m, werr := k.write(buf[:n])
			total += int64(m)
			if werr != nil {
				return total, werr
			}
		}
		if n > 0 && k.stageCh != nil {
			k.stageCh <- stageBuf{p: buf[:n], buf: buf, free: free}
		} else {
			free <- buf
		}
		switch {
		case err == io.EOF || err == io.ErrUnexpectedEOF:
			return total, nil
		case err != nil:
			return total, err
		}
	}
}

// startStage starts the stage goroutine if the store stages snapshots.
func (k *snapSink) startStage() {
	g := k.store.newStage()
	if g == nil {
		return
	}
	k.stage = g
	k.stageCh = make(chan stageBuf, 4)
	k.stageDone = make(chan error, 1)
	go func() {
		var err error
		for b := range k.stageCh {
			if err == nil {
				_, err = g.Write(b.p)
			}
			b.free <- b.buf
		}
		k.stageDone <- err
	}()
}

// endStage waits for the stage goroutine and keeps the stage if it holds
// the verified frame (frame non-nil), or drops it.
func (k *snapSink) endStage(frame *store.Frame) {
	if k.stage == nil {
		return
	}
	close(k.stageCh)
	err := <-k.stageDone
	if err != nil || k.stageBad {
		if err != nil {
			k.store.log.Warn("staging the received snapshot failed; it will be copied when restored", "err", err)
		}
		frame = nil
	}
	k.store.endStage(k.meta.ID, k.stage, frame)
	k.stage = nil
}

// Close makes the snapshot durable and visible, if its frame is complete
// and its checksum matches.
func (k *snapSink) Close() error {
	if k.closed {
		return nil
	}
	k.closed = true
	fr, err := k.finish()
	if err != nil {
		k.endStage(nil)
		k.f.Close()
		os.RemoveAll(k.tmp)
		k.store.log.Warn("snapshot refused", "id", k.meta.ID, "err", err)
		return err
	}
	k.endStage(&fr)
	k.store.mu.Lock()
	k.store.verified[k.meta.ID] = true
	k.store.mu.Unlock()
	if err := k.store.reap(); err != nil {
		k.store.log.Warn("cannot remove old snapshots", "err", err)
	}
	return nil
}

func (k *snapSink) finish() (store.Frame, error) {
	if k.err != nil {
		return store.Frame{}, k.err
	}
	fr, err := k.check.Finish()
	if err != nil {
		return fr, err
	}
	if err := k.f.Sync(); err != nil {
		return fr, err
	}
	if err := k.f.Close(); err != nil {
		return fr, err
	}
	k.meta.Size = k.n
	k.meta.Frame = &frameMeta{AppliedIndex: fr.Index, XXH64: fmt.Sprintf("%x", fr.Sum)}
	b, err := json.Marshal(&k.meta)
	if err != nil {
		return fr, err
	}
	if err := durable.WriteFile(filepath.Join(k.tmp, snapMetaFile), b, 0o644); err != nil {
		return fr, err
	}
	final := filepath.Join(k.store.dir, k.meta.ID)
	if err := os.Rename(k.tmp, final); err != nil {
		return fr, err
	}
	return fr, durable.SyncParent(final)
}

// Cancel discards the snapshot.
func (k *snapSink) Cancel() error {
	if k.closed {
		return nil
	}
	k.closed = true
	k.endStage(nil)
	k.f.Close()
	return os.RemoveAll(k.tmp)
}

// restoreSnapshot replaces the store's state with a snapshot. Raft hands
// the FSM the reader Open returned, wrapped in a progress counter (whose
// count stays 0 here: the file is not read through it). When it is one of
// this store's files, the store installs the stage written while the
// snapshot was received (a rename), or else restores from the file (one
// in-kernel copy, and no second checksum pass if this process verified the
// file while writing it). Any other reader is read as a stream and
// verified.
func restoreSnapshot(st *store.Store, rc io.ReadCloser, log *slog.Logger) error {
	r := io.Reader(rc)
	for {
		if sf, ok := r.(*snapshotFile); ok {
			return restoreFile(st, sf, log)
		}
		w, ok := r.(interface{ WrappedReadCloser() io.ReadCloser })
		if !ok {
			return st.Restore(rc)
		}
		r = w.WrappedReadCloser()
	}
}

func restoreFile(st *store.Store, sf *snapshotFile, log *slog.Logger) error {
	t0 := time.Now()
	how := "staged copy"
	err := errors.New("no stage")
	if sg := sf.snaps.takeStage(sf.id); sg != nil {
		err = st.InstallStaged(sg.stage, sg.frame)
		if err != nil {
			log.Warn("cannot install the staged copy of the snapshot; copying it", "id", sf.id, "err", err)
		}
	}
	if err != nil {
		how = "copy of the snapshot file"
		if !sf.verified {
			how = "verified copy of the snapshot file"
		}
		err = st.RestoreFile(sf.path, sf.verified)
	}
	if err != nil {
		return err
	}
	if sf.index != 0 && st.AppliedIndex() != sf.index {
		// Another cluster's state (a DR standby seeded from its
		// primary through raft.Restore), or our own whose last entries
		// were Raft's no-ops: the store stands at the snapshot's Raft
		// index of this cluster, or it would skip (or wait for) the
		// wrong entries.
		log.Info("the restored state's applied index is set to the snapshot's Raft index", "id", sf.id, "frameIndex", st.AppliedIndex(), "raftIndex", sf.index)
		if err := st.SetAppliedIndex(sf.index); err != nil {
			return err
		}
	}
	log.Info("restored the store from a snapshot", "id", sf.id, "from", how, "appliedIndex", st.AppliedIndex(), "took", time.Since(t0).Round(time.Millisecond))
	return nil
}
