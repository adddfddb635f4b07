package backup

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/weir-nifi/weir/internal/command"
	"github.com/weir-nifi/weir/internal/flowgen"
	"github.com/weir-nifi/weir/internal/store"
	"github.com/weir-nifi/weir/internal/store/storetest"
)

// seeded returns a real store holding buckets, flows and versions with
// generated flow documents, applied as the state machine would.
func seeded(t testing.TB, versions int) (*store.Store, func(c command.Command)) {
	t.Helper()
	st, apply := storetest.Open(t)
	apply(&command.CreateBucket{ID: "b1", Name: "bucket one", Created: 1000, Actor: "alice"})
	apply(&command.CreateFlow{BucketID: "b1", ID: "f1", Name: "flow one", Created: 1001, Modified: 1001, Actor: "alice"})
	for v := 1; v <= versions; v++ {
		doc := flowgen.Snapshot(flowgen.Options{Seed: int64(v), TargetBytes: 16 << 10})
		apply(&command.CreateVersion{BucketID: "b1", FlowID: "f1", Version: int32(v), Timestamp: int64(2000 + v),
			Author: "alice", Modified: int64(2000 + v), Content: doc})
	}
	return st, apply
}

func takeBackup(t *testing.T, st *store.Store) ([]byte, Manifest) {
	t.Helper()
	return backupWithContent(t, st, nil)
}

func TestRoundTrip(t *testing.T) {
	st, _ := seeded(t, 5)
	b, m := takeBackup(t, st)
	wantHash, wantIdx, _ := st.StateHash()
	if m.Index != wantIdx || m.StateHash != wantHash {
		t.Fatalf("manifest index %d hash %s, store %d %s", m.Index, m.StateHash, wantIdx, wantHash)
	}
	if m.Counts != (store.Counts{Buckets: 1, Flows: 1, Versions: 5}) {
		t.Fatalf("counts %+v", m.Counts)
	}
	info, err := Verify(bytes.NewReader(b), nil)
	if err != nil {
		t.Fatal(err)
	}
	if info.FileBytes != int64(len(b)) || info.StateHash != wantHash || len(info.SHA256) != 64 {
		t.Fatalf("verify info %+v", info)
	}
	dir := filepath.Join(t.TempDir(), "new")
	// A byte at a time: the database bytes are picked out of writes at
	// every boundary of the frame.
	rinfo, err := Restore(iotest.OneByteReader(bytes.NewReader(b)), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rinfo.SHA256 != info.SHA256 || rinfo.ContentChecksum != info.ContentChecksum {
		t.Fatalf("restore saw %s/%s, verify %s/%s", rinfo.SHA256, rinfo.ContentChecksum, info.SHA256, info.ContentChecksum)
	}
	rs, err := store.Open(filepath.Join(dir, "state.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	h, idx, err := rs.StateHash()
	if err != nil || h != wantHash {
		t.Fatalf("restored hash %s (%v), want %s", h, err, wantHash)
	}
	if idx != 0 {
		t.Fatalf("restored applied index %d: a new cluster's log starts at 1, so it must be 0", idx)
	}
	if _, err := os.Stat(filepath.Join(dir, RestoredFile)); err != nil {
		t.Fatal(err)
	}
}

// TestDamageRefused alters one byte in every region of the file and cuts
// it at many lengths: Verify and Restore must refuse each, and Restore must
// leave no store file behind.
func TestDamageRefused(t *testing.T) {
	st, _ := seeded(t, 3)
	good, m := takeBackup(t, st)
	mlen := len(good) - int(m.StreamBytes) - trailerLen - fixedHdrLen
	snapStart := fixedHdrLen + mlen
	offsets := map[string]int{
		"magic":            0,
		"version":          9,
		"manifest":         fixedHdrLen + mlen/2,
		"snapshot header":  snapStart + 20,
		"snapshot length":  snapStart + 30,
		"database first":   snapStart + store.FrameHeaderLen,
		"database middle":  snapStart + store.FrameHeaderLen + int(m.StoreBytes)/2,
		"database last":    snapStart + store.FrameHeaderLen + int(m.StoreBytes) - 1,
		"content checksum": len(good) - trailerLen - 5,
		"trailer magic":    len(good) - trailerLen + 2,
		"trailer JSON":     len(good) - trailerLen + 12,
		"trailer checksum": len(good) - 1,
	}
	for name, off := range offsets {
		bad := bytes.Clone(good)
		bad[off] ^= 0x5a
		check(t, "altered "+name, bad)
	}
	for _, n := range []int{0, 5, fixedHdrLen, fixedHdrLen + mlen, snapStart + 10, snapStart + store.FrameHeaderLen + 100, len(good) - trailerLen, len(good) - 1} {
		check(t, fmt.Sprintf("truncated to %d of %d bytes", n, len(good)), good[:n])
	}
	check(t, "with trailing garbage", append(bytes.Clone(good), 'x'))
}

func check(t *testing.T, what string, b []byte) {
	t.Helper()
	if _, err := Verify(bytes.NewReader(b), nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("%s: Verify: want ErrInvalid, got %v", what, err)
	}
	dir := filepath.Join(t.TempDir(), "node")
	_, err := Restore(bytes.NewReader(b), dir, nil)
	if !errors.Is(err, ErrInvalid) {
		t.Errorf("%s: Restore: want ErrInvalid, got %v", what, err)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 0 {
		t.Errorf("%s: Restore left %d files in the data directory", what, len(ents))
	}
}

func TestRestoreRefusesUsedDataDir(t *testing.T) {
	st, _ := seeded(t, 1)
	b, _ := takeBackup(t, st)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "node-id"), []byte("n1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Restore(bytes.NewReader(b), dir, nil)
	if err == nil || !strings.Contains(err.Error(), "already holds a Weir node") {
		t.Fatalf("want refusal of a used data directory, got %v", err)
	}
}

// fakeNode stands in for the cluster node in the scheduler's logic tests.
type fakeNode struct{ leader bool }

func (f *fakeNode) ID() string                        { return "node-a" }
func (f *fakeNode) IsLeader() bool                    { return f.leader }
func (f *fakeNode) ReadBarrier(context.Context) error { return nil }

func TestScheduledSkipAndRetention(t *testing.T) {
	st, apply := seeded(t, 1)
	dir := t.TempDir()
	clock := time.Unix(1700000000, 0)
	s := New(st, &fakeNode{leader: true}, Config{Dir: dir, Interval: time.Hour, Keep: 2, Now: func() time.Time { return clock }})
	var paths []string
	for i := 0; i < 4; i++ {
		clock = clock.Add(time.Minute)
		p, err := s.RunOnce()
		if err != nil || p == "" {
			t.Fatalf("run %d: %q %v", i, p, err)
		}
		paths = append(paths, p)
		// Unchanged state: skipped.
		if p2, err := s.RunOnce(); err != nil || p2 != "" {
			t.Fatalf("run %d again: want a skip, got %q %v", i, p2, err)
		}
		apply(&command.UpdateBucket{ID: "b1", Description: strPtr(fmt.Sprint("rev ", i)), Actor: "bob"})
	}
	clock = clock.Add(time.Minute)
	last, err := s.RunOnce()
	if err != nil || last == "" {
		t.Fatalf("final run: %q %v", last, err)
	}
	paths = append(paths, last)
	files, err := List(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 2 || files[0] != paths[3] || files[1] != paths[4] {
		t.Fatalf("kept %v, want the newest two of %v", files, paths)
	}
	for _, f := range files {
		fh, _ := os.Open(f)
		_, err := Verify(fh, nil)
		fh.Close()
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
	}
	// A state change that leaves the registry as it was (a member record)
	// moves the index but not the state hash: skipped.
	apply(&command.SetNode{ID: "n9", APIURL: "http://x", RaftAddr: "x:1", At: 1})
	if p, err := s.RunOnce(); err != nil || p != "" {
		t.Fatalf("member-only change: want a skip, got %q %v", p, err)
	}
	if st := s.Status(); st.Succeeded["scheduled"] != 5 || st.Skipped != 5 {
		t.Fatalf("status %+v", st)
	}
	// A restarted service finds the newest backup in the directory.
	m, path, _, err := newest(dir)
	if err != nil || path != paths[4] || m.Index == 0 {
		t.Fatalf("newest: %v %q %v", m, path, err)
	}
}

func strPtr(s string) *string { return &s }

// The Checker gives the same answer however the file is cut into writes
// (a download hands it whatever each read returned), and refuses damage
// that falls inside one write or across two.
func TestCheckerAnyPieces(t *testing.T) {
	st, _ := seeded(t, 3)
	good, _ := takeBackup(t, st)
	want, err := Verify(bytes.NewReader(good), nil)
	if err != nil {
		t.Fatal(err)
	}
	feed := func(b []byte, piece int) (Info, error) {
		var c Checker
		for len(b) > 0 {
			k := min(piece, len(b))
			if _, err := c.Write(b[:k]); err != nil {
				return Info{}, err
			}
			b = b[k:]
		}
		return c.Finish()
	}
	for _, piece := range []int{1, 7, fixedHdrLen, 1000, 4096, 65536} {
		got, err := feed(good, piece)
		if err != nil || got != want {
			t.Fatalf("pieces of %d: %+v %v; want %+v", piece, got, err, want)
		}
		bad := bytes.Clone(good)
		bad[len(bad)/2] ^= 1
		if _, err := feed(bad, piece); !errors.Is(err, ErrInvalid) {
			t.Fatalf("pieces of %d, altered: want ErrInvalid, got %v", piece, err)
		}
		if _, err := feed(append(bytes.Clone(good), 'x'), piece); !errors.Is(err, ErrInvalid) {
			t.Fatalf("pieces of %d, trailing byte: want ErrInvalid, got %v", piece, err)
		}
	}
}

// A backup taken on request is written in place (the store copied straight
// into the file behind a padded header), verifies, restores to the same
// state, and leaves no partial file; a node without a backup directory
// says so; a partial file a crash left is removed when the schedule
// starts, one of another node is not.
func TestTakeNowInPlace(t *testing.T) {
	st, _ := seeded(t, 4)
	dir := t.TempDir()
	if _, err := New(st, &fakeNode{}, Config{}).TakeNow(); !errors.Is(err, ErrNoDir) {
		t.Fatalf("no directory: want ErrNoDir, got %v", err)
	}
	clock := time.Unix(1700000000, 0)
	s := New(st, &fakeNode{leader: true}, Config{Dir: dir, Keep: 3, Now: func() time.Time { clock = clock.Add(time.Second); return clock }})
	tk, err := s.TakeNow()
	if err != nil {
		t.Fatal(err)
	}
	// Same state: a requested backup is taken anyway.
	if again, err := s.TakeNow(); err != nil || again.Path == "" || again.Path == tk.Path {
		t.Fatalf("second request: %+v %v", again, err)
	}
	fi, err := os.Stat(tk.Path)
	if err != nil || fi.Size() != tk.SizeBytes {
		t.Fatalf("file %v (%v), answer says %d bytes", fi, err, tk.SizeBytes)
	}
	f, err := os.Open(tk.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	info, err := Verify(f, nil)
	if err != nil {
		t.Fatal(err)
	}
	if info.Manifest != tk.Manifest {
		t.Fatalf("file's manifest %+v, answer's %+v", info.Manifest, tk.Manifest)
	}
	want, _, _ := st.StateHash()
	if info.StateHash != want {
		t.Fatalf("backup state hash %s, store %s", info.StateHash, want)
	}
	if _, err := f.Seek(0, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := Restore(f, filepath.Join(t.TempDir(), "node"), nil); err != nil {
		t.Fatalf("restore of an in-place backup: %v", err)
	}

	mine := filepath.Join(dir, ".weir-backup-node-a-123.partial")
	theirs := filepath.Join(dir, ".weir-backup-node-b-456.partial")
	for _, p := range []string{mine, theirs} {
		if err := os.WriteFile(p, []byte("half"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	New(st, &fakeNode{leader: true}, Config{Dir: dir, Interval: time.Hour}).Run(ctx)
	if _, err := os.Stat(mine); !os.IsNotExist(err) {
		t.Fatalf("this node's partial backup is still there (%v)", err)
	}
	if _, err := os.Stat(theirs); err != nil {
		t.Fatalf("another node's partial backup was removed: %v", err)
	}
}

// TestScheduledBackupAfterBundleChange: an extension bundle uploaded while
// the registry stays as it was (its tables are outside the state hash) is
// not skipped by the next scheduled backup.
func TestScheduledBackupAfterBundleChange(t *testing.T) {
	st, apply := seeded(t, 1)
	s := New(st, &fakeNode{leader: true}, Config{Dir: t.TempDir(), Interval: time.Hour, Keep: 5, Now: time.Now})
	if p, err := s.RunOnce(); err != nil || p == "" {
		t.Fatalf("first run: %q %v", p, err)
	}
	if p, err := s.RunOnce(); err != nil || p != "" {
		t.Fatalf("unchanged: want a skip, got %q %v", p, err)
	}
	content := []byte("PK\x03\x04 a bundle")
	sum := sha256.Sum256(content)
	sha := hex.EncodeToString(sum[:])
	apply(&command.StageBundleChunk{Upload: "u1", SHA256: sha, Size: int64(len(content)), At: 1, Data: content})
	apply(&command.CreateBundleVersion{BucketID: "b1", BundleID: "x1", VersionID: "v1", BundleType: command.BundleNAR,
		Coordinate: command.BundleCoordinate{Group: "g", Artifact: "a", Version: "1"}, Upload: "u1", SHA256: sha,
		Size: int64(len(content)), Timestamp: 5, Author: "alice"})
	p, err := s.RunOnce()
	if err != nil || p == "" {
		t.Fatalf("after a bundle upload: want a backup, got %q %v", p, err)
	}
	if p, err := s.RunOnce(); err != nil || p != "" {
		t.Fatalf("unchanged again: want a skip, got %q %v", p, err)
	}
}
