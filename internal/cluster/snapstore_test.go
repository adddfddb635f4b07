package cluster

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"

	"github.com/weir-nifi/weir/internal/command"
	"github.com/weir-nifi/weir/internal/store"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// testStore is a store holding a bucket, a flow and n versions, applied at
// indexes 1..n+2.
func testStore(t *testing.T, n int) *store.Store {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "state.db"), store.Options{LogBacked: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cmds := []command.Command{
		&command.CreateBucket{ID: "b1", Name: "Bucket 1", Created: 1000, Actor: "anonymous"},
		&command.CreateFlow{BucketID: "b1", ID: "f1", Name: "Flow 1", Created: 1001, Modified: 1001, Actor: "anonymous"},
	}
	for v := 1; v <= n; v++ {
		content := bytes.Repeat([]byte{byte(v)}, 3000+v)
		cmds = append(cmds, &command.CreateVersion{BucketID: "b1", FlowID: "f1", Version: int32(v), Timestamp: int64(2000 + v),
			Author: "anonymous", Modified: int64(2000 + v), Content: content})
	}
	for i, c := range cmds {
		b, err := command.Encode(c)
		if err != nil {
			t.Fatal(err)
		}
		res, err := st.Apply([]store.Entry{{Index: uint64(i + 1), Data: b}})
		if err != nil || res[0].Err != nil {
			t.Fatalf("apply %s: %v %v", c.Type(), err, res[0].Err)
		}
	}
	return st
}

// frameOf returns the snapshot frame of st and its state hash.
func frameOf(t *testing.T, st *store.Store) ([]byte, string) {
	t.Helper()
	sn, err := st.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	defer sn.Release()
	var buf bytes.Buffer
	if _, err := sn.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), sn.Summary().StateHash
}

func emptyStore(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "state.db"), store.Options{LogBacked: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func hashOf(t *testing.T, st *store.Store) string {
	t.Helper()
	h, _, err := st.StateHash()
	if err != nil {
		t.Fatal(err)
	}
	return h
}

var testConf = raft.Configuration{Servers: []raft.Server{{Suffrage: raft.Voter, ID: "n1", Address: "127.0.0.1:1"}}}

// writeSnap writes frame into a new snapshot of ss the way raft does when
// it receives one (io.Copy from the connection into the sink, then Close).
func writeSnap(t *testing.T, ss *snapStore, index uint64, frame []byte) (string, error) {
	t.Helper()
	sink, err := ss.Create(1, index, 2, testConf, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Like raft's counting reader around the connection: no WriteTo.
	if _, err := io.Copy(sink, struct{ io.Reader }{bytes.NewReader(frame)}); err != nil {
		_ = sink.Cancel()
		return sink.ID(), err
	}
	return sink.ID(), sink.Close()
}

// persistSnap writes frame the way fsmSnapshot.Persist does (Write calls).
func persistSnap(t *testing.T, ss *snapStore, index uint64, frame []byte) string {
	t.Helper()
	sink, err := ss.Create(1, index, 2, testConf, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	for b := frame; len(b) > 0; {
		k := min(len(b), 4096)
		if _, err := sink.Write(b[:k]); err != nil {
			t.Fatal(err)
		}
		b = b[k:]
	}
	if err := sink.Close(); err != nil {
		t.Fatal(err)
	}
	return sink.ID()
}

// progressReader stands for raft's counting wrapper around what Open
// returned (it exposes the wrapped reader the same way).
type progressReader struct{ io.ReadCloser }

func (p progressReader) WrappedReadCloser() io.ReadCloser { return p.ReadCloser }

// A snapshot written through the sink is listed, opened without a second
// pass, sent as the same bytes, and restores the state it was taken from.
func TestSnapStoreWriteOpenRestore(t *testing.T) {
	src := testStore(t, 20)
	frame, want := frameOf(t, src)
	ss, err := newSnapStore(t.TempDir(), 2, quiet, nil)
	if err != nil {
		t.Fatal(err)
	}
	id, err := writeSnap(t, ss, 22, frame)
	if err != nil {
		t.Fatal(err)
	}
	list, err := ss.List()
	if err != nil || len(list) != 1 || list[0].ID != id || list[0].Index != 22 || list[0].Term != 2 || list[0].Size != int64(len(frame)) {
		t.Fatalf("list: %+v %v", list, err)
	}
	if len(list[0].Configuration.Servers) != 1 || list[0].ConfigurationIndex != 1 {
		t.Fatalf("configuration not kept: %+v", list[0])
	}
	meta, rc, err := ss.Open(id)
	if err != nil {
		t.Fatal(err)
	}
	sf, ok := rc.(*snapshotFile)
	if !ok || !sf.verified || meta.Size != int64(len(frame)) {
		t.Fatalf("open: %T verified=%v size %d", rc, ok && sf.verified, meta.Size)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(got, frame) {
		t.Fatalf("snapshot bytes differ (%d vs %d): %v", len(got), len(frame), err)
	}

	dst := emptyStore(t)
	_, rc, _ = ss.Open(id)
	if err := restoreSnapshot(dst, progressReader{rc}, quiet); err != nil {
		t.Fatal(err)
	}
	rc.Close()
	if h := hashOf(t, dst); h != want || dst.AppliedIndex() != 22 {
		t.Fatalf("restored hash %s index %d, want %s 22", h, dst.AppliedIndex(), want)
	}
	// The snapshot file is unchanged by the restore and by writes after it.
	b, _ := command.Encode(&command.CreateBucket{ID: "b2", Name: "Bucket 2", Created: 5000, Actor: "anonymous"})
	if _, err := dst.Apply([]store.Entry{{Index: 23, Data: b}}); err != nil {
		t.Fatal(err)
	}
	_, rc, _ = ss.Open(id)
	got, _ = io.ReadAll(rc)
	rc.Close()
	if !bytes.Equal(got, frame) {
		t.Fatal("restore or later writes changed the snapshot file")
	}
}

// A frame that is truncated, altered, too long or not a frame at all is
// refused when the sink closes: nothing is listed and nothing is left.
func TestSnapSinkRefusesBadFrames(t *testing.T) {
	frame, _ := frameOf(t, testStore(t, 5))
	flip := func(at int) []byte {
		b := append([]byte(nil), frame...)
		b[at] ^= 0x10
		return b
	}
	cases := map[string][]byte{
		"empty":            {},
		"short header":     frame[:10],
		"truncated data":   frame[:len(frame)/2],
		"no checksum":      frame[:len(frame)-store.FrameSumLen],
		"altered header":   flip(20),
		"altered data":     flip(store.FrameHeaderLen + 100),
		"altered checksum": flip(len(frame) - 1),
		"extra bytes":      append(append([]byte(nil), frame...), 0),
		"not a frame":      bytes.Repeat([]byte("x"), 4096),
	}
	dir := t.TempDir()
	ss, err := newSnapStore(dir, 2, quiet, nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range cases {
		if _, err := writeSnap(t, ss, 7, b); err == nil {
			t.Errorf("%s: accepted", name)
		} else if !errors.Is(err, store.ErrBadSnapshot) {
			t.Errorf("%s: %v, want ErrBadSnapshot", name, err)
		}
	}
	if list, _ := ss.List(); len(list) != 0 {
		t.Fatalf("refused snapshots listed: %+v", list)
	}
	if ents, _ := os.ReadDir(filepath.Join(dir, snapDirName)); len(ents) != 0 {
		t.Fatalf("refused snapshots left files: %v", ents)
	}
}

// Only the newest two snapshots are kept, and List orders them newest
// first.
func TestSnapStoreRetainsTwo(t *testing.T) {
	dir := t.TempDir()
	ss, err := newSnapStore(dir, 2, quiet, nil)
	if err != nil {
		t.Fatal(err)
	}
	frame, _ := frameOf(t, testStore(t, 1))
	var ids []string
	for _, idx := range []uint64{10, 20, 30} {
		id, err := writeSnap(t, ss, idx, frame)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	list, _ := ss.List()
	if len(list) != 2 || list[0].ID != ids[2] || list[1].ID != ids[1] {
		t.Fatalf("list %+v, want %v", list, ids[1:])
	}
	if _, err := os.Stat(filepath.Join(dir, snapDirName, ids[0])); !os.IsNotExist(err) {
		t.Fatalf("oldest snapshot not removed: %v", err)
	}
}

// What a crash can leave behind: a half-written snapshot directory is
// removed when the store opens again, and a snapshot written by an earlier
// process is verified again when restored (a damaged one is refused and
// the state is kept).
func TestSnapStoreAfterCrash(t *testing.T) {
	dir := t.TempDir()
	ss, err := newSnapStore(dir, 2, quiet, nil)
	if err != nil {
		t.Fatal(err)
	}
	src := testStore(t, 8)
	frame, want := frameOf(t, src)
	id, err := writeSnap(t, ss, 10, frame)
	if err != nil {
		t.Fatal(err)
	}
	// A sink the crash interrupted.
	sink, err := ss.Create(1, 11, 2, testConf, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sink.Write(frame[:len(frame)/3]); err != nil {
		t.Fatal(err)
	}
	partial := filepath.Join(dir, snapDirName, sink.ID()+snapTmpSuffix)
	if _, err := os.Stat(partial); err != nil {
		t.Fatal(err)
	}

	// "Restart".
	ss2, err := newSnapStore(dir, 2, quiet, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(partial); !os.IsNotExist(err) {
		t.Fatalf("unfinished snapshot not removed: %v", err)
	}
	list, _ := ss2.List()
	if len(list) != 1 || list[0].ID != id {
		t.Fatalf("list after restart: %+v", list)
	}
	_, rc, err := ss2.Open(id)
	if err != nil {
		t.Fatal(err)
	}
	if rc.(*snapshotFile).verified {
		t.Fatal("a snapshot from before the restart counts as verified")
	}
	rc.Close()

	// Damage the file on disk: the restore must refuse it.
	path := filepath.Join(dir, snapDirName, id, snapStateFile)
	b, _ := os.ReadFile(path)
	b[store.FrameHeaderLen+50] ^= 1
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	dst := testStore(t, 2)
	before := hashOf(t, dst)
	_, rc, _ = ss2.Open(id)
	err = restoreSnapshot(dst, progressReader{rc}, quiet)
	rc.Close()
	if !errors.Is(err, store.ErrBadSnapshot) {
		t.Fatalf("restore of a damaged snapshot: %v", err)
	}
	if hashOf(t, dst) != before {
		t.Fatal("a refused restore changed the state")
	}
	if _, err := os.Stat(dst.Path() + ".restore"); !os.IsNotExist(err) {
		t.Fatal("a refused restore left its copy behind")
	}
	// Repaired, it restores.
	b[store.FrameHeaderLen+50] ^= 1
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	_, rc, _ = ss2.Open(id)
	if err := restoreSnapshot(dst, rc, quiet); err != nil {
		t.Fatal(err)
	}
	rc.Close()
	if hashOf(t, dst) != want {
		t.Fatal("restored state differs")
	}
}

// Data directories written before this store hold raft.FileSnapshotStore
// snapshots (the same frame in state.bin, a CRC in meta.json): they are
// listed, sent and restored (verified, as they were not written here).
func TestSnapStoreReadsFileSnapshotStore(t *testing.T) {
	base := t.TempDir()
	old, err := raft.NewFileSnapshotStoreWithLogger(base, 2, hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	src := testStore(t, 6)
	frame, want := frameOf(t, src)
	_, trans := raft.NewInmemTransport("127.0.0.1:1")
	sink, err := old.Create(1, 8, 2, testConf, 1, trans)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sink.Write(frame); err != nil {
		t.Fatal(err)
	}
	if err := sink.Close(); err != nil {
		t.Fatal(err)
	}
	ss, err := newSnapStore(base, 2, quiet, nil)
	if err != nil {
		t.Fatal(err)
	}
	list, err := ss.List()
	if err != nil || len(list) != 1 || list[0].ID != sink.ID() || list[0].Index != 8 || list[0].Term != 2 {
		t.Fatalf("list: %+v %v", list, err)
	}
	_, rc, err := ss.Open(sink.ID())
	if err != nil {
		t.Fatal(err)
	}
	if rc.(*snapshotFile).verified {
		t.Fatal("an old snapshot counts as verified")
	}
	// What the leader would send is the frame itself, which a follower's
	// sink accepts.
	other, _ := newSnapStore(t.TempDir(), 2, quiet, nil)
	sent, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := writeSnap(t, other, 8, sent); err != nil {
		t.Fatalf("follower refused an old snapshot: %v", err)
	}
	dst := emptyStore(t)
	_, rc, _ = ss.Open(sink.ID())
	if err := restoreSnapshot(dst, progressReader{rc}, quiet); err != nil {
		t.Fatal(err)
	}
	rc.Close()
	if hashOf(t, dst) != want {
		t.Fatal("restored state differs")
	}
	// A new snapshot next to it: both listed, the new one first, and the
	// old one reaped only beyond the retention.
	id, err := writeSnap(t, ss, 9, frame)
	if err != nil {
		t.Fatal(err)
	}
	list, _ = ss.List()
	if len(list) != 2 || list[0].ID != id || list[1].ID != sink.ID() {
		t.Fatalf("list %+v", list)
	}
}

// The node's start-up check restores the newest snapshot into a store that
// is behind it (a store file lost in a crash of the machine).
func TestCatchUpFromSnapshotRestoresBehindStore(t *testing.T) {
	ss, err := newSnapStore(t.TempDir(), 2, quiet, nil)
	if err != nil {
		t.Fatal(err)
	}
	frame, want := frameOf(t, testStore(t, 4))
	if _, err := writeSnap(t, ss, 6, frame); err != nil {
		t.Fatal(err)
	}
	st := emptyStore(t)
	if _, err := catchUpFromSnapshot(st, ss, quiet); err != nil {
		t.Fatal(err)
	}
	if hashOf(t, st) != want || st.AppliedIndex() != 6 {
		t.Fatalf("store not caught up: index %d", st.AppliedIndex())
	}
	// Not behind: nothing happens.
	if _, err := catchUpFromSnapshot(st, ss, quiet); err != nil {
		t.Fatal(err)
	}
}

// Reading through a non-file reader (another snapshot store) still works,
// verified as a stream.
func TestRestoreSnapshotFromStream(t *testing.T) {
	frame, want := frameOf(t, testStore(t, 3))
	dst := emptyStore(t)
	if err := restoreSnapshot(dst, io.NopCloser(bytes.NewReader(frame)), quiet); err != nil {
		t.Fatal(err)
	}
	if hashOf(t, dst) != want {
		t.Fatal("restored state differs")
	}
	bad := append([]byte(nil), frame...)
	bad[len(bad)/2] ^= 1
	if err := restoreSnapshot(dst, io.NopCloser(bytes.NewReader(bad)), quiet); err == nil || !strings.Contains(err.Error(), "checksum") {
		t.Fatalf("damaged stream: %v", err)
	}
}

// A snapshot received for a store is staged while it arrives: restoring
// it installs the staged copy (no copy of the file), with the same result.
// A refused frame leaves no stage, our own snapshots are not staged, and a
// stage goes with its snapshot when that is removed.
func TestSnapStoreStagesReceivedSnapshots(t *testing.T) {
	frame, want := frameOf(t, testStore(t, 30))
	dst := emptyStore(t)
	staged := dst.Path() + ".staged"
	if err := os.WriteFile(staged, []byte("left by a crash"), 0o600); err != nil {
		t.Fatal(err)
	}
	ss, err := newSnapStore(t.TempDir(), 2, quiet, dst)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(staged); !os.IsNotExist(err) {
		t.Fatal("a stage left by a crash was kept")
	}

	// Refused: nothing staged.
	bad := append([]byte(nil), frame...)
	bad[len(bad)/2] ^= 1
	if _, err := writeSnap(t, ss, 32, bad); err == nil {
		t.Fatal("damaged frame accepted")
	}
	if ss.staged != nil || ss.staging {
		t.Fatal("a refused snapshot left a stage")
	}
	if _, err := os.Stat(staged); !os.IsNotExist(err) {
		t.Fatal("a refused snapshot left its stage file")
	}

	// Our own snapshot: not staged.
	persistSnap(t, ss, 32, frame)
	if ss.staged != nil {
		t.Fatal("a local snapshot was staged")
	}

	id, err := writeSnap(t, ss, 32, frame)
	if err != nil {
		t.Fatal(err)
	}
	if ss.staged == nil || ss.staged.id != id {
		t.Fatalf("received snapshot not staged: %+v", ss.staged)
	}
	_, rc, _ := ss.Open(id)
	if err := restoreSnapshot(dst, progressReader{rc}, quiet); err != nil {
		t.Fatal(err)
	}
	rc.Close()
	if hashOf(t, dst) != want || dst.AppliedIndex() != 32 {
		t.Fatalf("staged restore: index %d", dst.AppliedIndex())
	}
	if ss.staged != nil {
		t.Fatal("the stage was not used up")
	}
	if _, err := os.Stat(staged); !os.IsNotExist(err) {
		t.Fatal("the stage file is still there")
	}
	// Restoring the same snapshot again copies the file.
	_, rc, _ = ss.Open(id)
	if err := restoreSnapshot(dst, progressReader{rc}, quiet); err != nil {
		t.Fatal(err)
	}
	rc.Close()
	if hashOf(t, dst) != want {
		t.Fatal("second restore differs")
	}

	// A stage whose snapshot is removed (two newer ones arrive, only the
	// newest staged) does not survive it.
	id2, err := writeSnap(t, ss, 40, frame)
	if err != nil {
		t.Fatal(err)
	}
	if ss.staged == nil || ss.staged.id != id2 {
		t.Fatal("newer snapshot not staged")
	}
	persistSnap(t, ss, 50, frame)
	persistSnap(t, ss, 60, frame)
	if ss.staged != nil {
		t.Fatal("the stage of a removed snapshot was kept")
	}
	if _, err := os.Stat(staged); !os.IsNotExist(err) {
		t.Fatal("the stage file of a removed snapshot is still there")
	}
}
