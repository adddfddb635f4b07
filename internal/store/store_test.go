package store

import (
	"bytes"
	"errors"
	"io"
	"path/filepath"
	"testing"

	"github.com/weir-nifi/weir/internal/command"
	"github.com/weir-nifi/weir/internal/model"
)

func mustOpen(t *testing.T) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "state.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// applier feeds commands with increasing indexes.
type applier struct {
	t   *testing.T
	s   *Store
	idx uint64
}

func (a *applier) do(c command.Command) Result {
	a.t.Helper()
	b, err := command.Encode(c)
	if err != nil {
		a.t.Fatal(err)
	}
	a.idx++
	res, err := a.s.Apply([]Entry{{Index: a.idx, Data: b}})
	if err != nil {
		a.t.Fatal(err)
	}
	return res[0]
}

func (a *applier) ok(c command.Command) any {
	a.t.Helper()
	r := a.do(c)
	if r.Err != nil {
		a.t.Fatalf("%s: %v", c.Type(), r.Err)
	}
	return r.Value
}

func (a *applier) fails(c command.Command, kind model.Kind, msg string) {
	a.t.Helper()
	before, _, _ := a.s.StateHash()
	r := a.do(c)
	var me *model.Error
	if !errors.As(r.Err, &me) {
		a.t.Fatalf("%s: want %v error, got %v", c.Type(), kind, r.Err)
	}
	if me.Kind != kind || (msg != "" && me.Msg != msg) {
		a.t.Fatalf("%s: got (%v) %q, want (%v) %q", c.Type(), me.Kind, me.Msg, kind, msg)
	}
	after, _, _ := a.s.StateHash()
	if before != after {
		a.t.Fatalf("%s: refused command changed the state", c.Type())
	}
}

func seed(t *testing.T) *applier {
	a := &applier{t: t, s: mustOpen(t)}
	a.ok(&command.CreateBucket{ID: "b1", Name: "Bucket 1", Created: 1000, Actor: "anonymous"})
	a.ok(&command.CreateFlow{BucketID: "b1", ID: "f1", Name: "Flow 1", Created: 1001, Modified: 1001, Actor: "anonymous"})
	return a
}

func version(v int32, ts int64) *command.CreateVersion {
	return &command.CreateVersion{BucketID: "b1", FlowID: "f1", Version: v, Timestamp: ts, Author: "anonymous", Modified: ts, Content: []byte{0, 0, 0, 0, 0, 0}}
}

func TestVersionRules(t *testing.T) {
	a := seed(t)
	a.fails(version(2, 5), model.KindConflict, "Version of first snapshot must be 1")
	a.fails(version(0, 5), model.KindInvalid, "Version must be greater than zero, or use -1 to indicate latest version")
	res := a.ok(version(1, 5000)).(VersionResult)
	if res.Flow.VersionCount != 1 || res.Flow.Modified != 5000 || res.Bucket.ID != "b1" {
		t.Fatalf("result %+v", res)
	}
	// An older time (a leader with a slow clock, a migration) never moves
	// the flow's modified time backwards.
	res = a.ok(version(2, 6)).(VersionResult)
	if res.Flow.Modified != 5000 {
		t.Fatalf("modified went back to %d", res.Flow.Modified)
	}
	a.fails(version(2, 7), model.KindConflict, "A Versioned flow snapshot with the same version already exists: 2")
	_ = res
	a.fails(version(1, 7), model.KindConflict, "A Versioned flow snapshot with the same version already exists: 1")
	a.fails(version(5, 7), model.KindConflict, "Version must be a one-up number, last version was 2 and version for this snapshot was 5")
	err := a.s.Read(func(tx *Tx) error {
		vs, err := tx.Versions("f1")
		if err != nil {
			return err
		}
		if len(vs) != 2 || vs[0].Version != 2 || vs[1].Version != 1 {
			t.Fatalf("versions %+v, want newest first", vs)
		}
		if _, ok := tx.Content("f1", 2); !ok {
			t.Fatal("no content")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestNamesAndLookups(t *testing.T) {
	a := seed(t)
	a.fails(&command.CreateBucket{ID: "b2", Name: "Bucket 1", Created: 1}, model.KindConflict, model.MsgBucketNameExists)
	a.fails(&command.CreateBucket{ID: "b1", Name: "Other", Created: 1}, model.KindConflict, "")
	a.fails(&command.CreateFlow{BucketID: "b1", ID: "f2", Name: "Flow 1"}, model.KindConflict, model.MsgFlowNameExists)
	a.fails(&command.CreateFlow{BucketID: "nope", ID: "f2", Name: "x"}, model.KindNotFound, model.MsgBucketNotFound)
	a.ok(&command.CreateBucket{ID: "b2", Name: "A bucket", Created: 2})
	// Same flow name in another bucket is fine; same flow id is not.
	a.ok(&command.CreateFlow{BucketID: "b2", ID: "f2", Name: "Flow 1"})
	a.fails(&command.CreateFlow{BucketID: "b2", ID: "f1", Name: "Other"}, model.KindConflict, "")
	a.fails(&command.CreateVersion{BucketID: "b2", FlowID: "f1", Version: 1, Content: []byte{0}}, model.KindConflict, model.MsgFlowNotInBucket)
	a.fails(&command.CreateVersion{BucketID: "b2", FlowID: "zz", Version: 1, Content: []byte{0}}, model.KindNotFound, model.MsgFlowNotFoundInBucket)
	// Renames check other entities only.
	a.ok(&command.UpdateBucket{ID: "b1", Name: model.Str("Bucket 1")})
	a.fails(&command.UpdateBucket{ID: "b1", Name: model.Str("A bucket")}, model.KindConflict, "A bucket with the same name already exists - A bucket")
	a.ok(&command.UpdateBucket{ID: "b1", Name: model.Str("Zed"), Description: model.Str("d")})
	a.ok(&command.UpdateFlow{BucketID: "b2", ID: "f2", Name: model.Str("Renamed"), Modified: 99})
	err := a.s.Read(func(tx *Tx) error {
		bs, _ := tx.Buckets()
		if len(bs) != 2 || bs[0].Name != "A bucket" || bs[1].Name != "Zed" || model.Deref(bs[1].Description) != "d" {
			t.Fatalf("buckets %+v", bs)
		}
		fs, _ := tx.Flows("b2")
		if len(fs) != 1 || fs[0].Name != "Renamed" || fs[0].Modified != 99 {
			t.Fatalf("flows %+v", fs)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// The old name is free again.
	a.ok(&command.CreateFlow{BucketID: "b2", ID: "f3", Name: "Flow 1"})
}

func TestCascadeDelete(t *testing.T) {
	a := seed(t)
	a.ok(version(1, 5))
	a.ok(version(2, 6))
	empty := mustOpen(t)
	emptyHash, _, _ := empty.StateHash()
	r := a.ok(&command.DeleteBucket{ID: "b1"}).(BucketResult)
	if r.Bucket.Name != "Bucket 1" {
		t.Fatalf("deleted %+v", r)
	}
	h, _, _ := a.s.StateHash()
	if h != emptyHash {
		t.Fatal("delete bucket left state behind")
	}
	a.fails(&command.DeleteBucket{ID: "b1"}, model.KindNotFound, model.MsgBucketNotFound)
}

func TestRevisions(t *testing.T) {
	a := &applier{t: t, s: mustOpen(t)}
	c1 := model.Str("client-1")
	r := a.ok(&command.CreateBucket{ID: "b1", Name: "B", Rev: &command.Claim{Version: 0, ClientID: c1}, Actor: "alice"}).(BucketResult)
	if r.Rev == nil || r.Rev.Version != 1 || *r.Rev.ClientID != "client-1" {
		t.Fatalf("rev %+v", r.Rev)
	}
	// Stale version from another client is refused with NiFi's message.
	a.fails(&command.UpdateBucket{ID: "b1", Description: model.Str("x"), Rev: &command.Claim{Version: 0, ClientID: model.Str("other")}},
		model.KindInvalid, "The Bucket you attempted to update with id 'b1' is out of date with the server. You may need to refresh your client and try again.")
	// Same client id passes even with a stale version.
	r = a.ok(&command.UpdateBucket{ID: "b1", Description: model.Str("x"), Rev: &command.Claim{Version: 0, ClientID: c1}}).(BucketResult)
	if r.Rev.Version != 2 {
		t.Fatalf("rev %+v", r.Rev)
	}
	a.fails(&command.DeleteBucket{ID: "b1", Rev: &command.Claim{Version: 1}}, model.KindInvalid, "")
	a.ok(&command.DeleteBucket{ID: "b1", Rev: &command.Claim{Version: 2}})
}

func TestMaintenanceFreezesWrites(t *testing.T) {
	a := seed(t)
	a.ok(&command.SetMaintenance{On: true, Reason: "backup", By: "ops", At: 7})
	a.fails(&command.CreateBucket{ID: "b9", Name: "n"}, model.KindUnavailable, "")
	a.ok(&command.SetNode{ID: "n1", APIURL: "http://x", At: 1}) // cluster facts still change
	a.ok(&command.SetMaintenance{On: false, By: "ops", At: 8})
	a.ok(&command.CreateBucket{ID: "b9", Name: "n"})
}

func TestReplaySkipsAppliedEntries(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := command.Encode(&command.CreateBucket{ID: "b1", Name: "B", Created: 1})
	if _, err := s.Apply([]Entry{{Index: 5, Data: b}}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.AppliedIndex() != 5 {
		t.Fatalf("applied %d", s.AppliedIndex())
	}
	res, err := s.Apply([]Entry{{Index: 5, Data: b}, {Index: 6}})
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Err != errAlreadyApplied || s.AppliedIndex() != 6 {
		t.Fatalf("replay: %+v applied=%d", res, s.AppliedIndex())
	}
}

func TestSnapshotRestoreKeepsHash(t *testing.T) {
	a := seed(t)
	a.ok(version(1, 5))
	src, _, _ := a.s.StateHash()
	sn, err := a.s.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := sn.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	if sn.Summary().StateHash != src {
		t.Fatal("snapshot hash differs")
	}
	sn.Release()
	// Writes after the snapshot are not in it.
	a.ok(version(2, 6))

	dst := mustOpen(t)
	if err := dst.Restore(bytes.NewReader(buf.Bytes())); err != nil {
		t.Fatal(err)
	}
	got, idx, _ := dst.StateHash()
	if got != src || idx != 3 {
		t.Fatalf("restored hash %s idx %d, want %s idx 3", got, idx, src)
	}
	// A damaged file is refused and the old state stays.
	bad := append([]byte(nil), buf.Bytes()...)
	bad = bad[:len(bad)/2]
	if err := dst.Restore(bytes.NewReader(bad)); err == nil {
		t.Fatal("restore of truncated file succeeded")
	}
	if got2, _, _ := dst.StateHash(); got2 != src {
		t.Fatal("failed restore changed the state")
	}
}

func TestPrepareRestoredResetsIndexAndMembers(t *testing.T) {
	a := seed(t)
	a.ok(&command.SetNode{ID: "old-node", APIURL: "http://old", At: 1})
	want, _, _ := a.s.StateHash()
	sn, _ := a.s.Snapshot()
	path := filepath.Join(t.TempDir(), "state.db")
	var buf bytes.Buffer
	if _, err := sn.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	sn.Release()
	if _, err := ReadSnapshotFile(&buf, path); err != nil {
		t.Fatal(err)
	}
	if err := PrepareRestored(path); err != nil {
		t.Fatal(err)
	}
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, idx, _ := s.StateHash()
	if got != want || idx != 0 || s.AppliedIndex() != 0 {
		t.Fatalf("hash %s idx %d; want %s idx 0", got, idx, want)
	}
	_ = s.Read(func(tx *Tx) error {
		if ns, _ := tx.Nodes(); len(ns) != 0 {
			t.Fatalf("old members kept: %+v", ns)
		}
		return nil
	})
}

// Every single-byte alteration of a frame is refused before bbolt sees it.
func TestFrameDetectsDamage(t *testing.T) {
	a := seed(t)
	a.ok(version(1, 5000))
	sn, err := a.s.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := sn.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	if got := int64(buf.Len()); got != sn.StreamSize() {
		t.Fatalf("wrote %d bytes, StreamSize says %d", got, sn.StreamSize())
	}
	sum := sn.Summary()
	if sum.Counts != (Counts{Buckets: 1, Flows: 1, Versions: 1}) {
		t.Fatalf("counts %+v", sum.Counts)
	}
	sn.Release()
	good := buf.Bytes()
	if _, err := CopyFrame(bytes.NewReader(good), io.Discard); err != nil {
		t.Fatal(err)
	}
	for _, at := range []int{0, 9, 13, 20, 27, FrameHeaderLen, len(good) / 2, len(good) - FrameSumLen - 1, len(good) - 1} {
		bad := append([]byte(nil), good...)
		bad[at] ^= 0x40
		if _, err := CopyFrame(bytes.NewReader(bad), io.Discard); err == nil {
			t.Errorf("altered byte %d accepted", at)
		}
	}
	for _, n := range []int{0, FrameHeaderLen - 1, FrameHeaderLen + 10, len(good) - 1} {
		if _, err := CopyFrame(bytes.NewReader(good[:n]), io.Discard); err == nil {
			t.Errorf("frame truncated to %d bytes accepted", n)
		}
	}
}

// Snapshot's two views see the same point even while Apply runs.
func TestSnapshotViewsAgreeUnderWrites(t *testing.T) {
	a := seed(t)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := int32(1); i <= 200; i++ {
			a.ok(version(i, 5000+int64(i)))
		}
	}()
	for i := 0; i < 50; i++ {
		sn, err := a.s.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if _, err := sn.WriteTo(&buf); err != nil {
			t.Fatal(err)
		}
		want := sn.Summary().StateHash
		sn.Release()
		other, err := Open(filepath.Join(t.TempDir(), "x.db"), Options{NoSync: true})
		if err != nil {
			t.Fatal(err)
		}
		if err := other.Restore(&buf); err != nil {
			t.Fatal(err)
		}
		got, _, _ := other.StateHash()
		other.Close()
		if got != want {
			t.Fatalf("streamed state %s differs from the summary %s", got, want)
		}
	}
	<-done
}

// The member epoch moves when the member table may have changed (a
// member's record set or removed, a restore) and not otherwise: the
// cluster keeps the command level it derived from the table until then.
func TestMembersEpoch(t *testing.T) {
	a := seed(t)
	epoch := func() uint64 {
		var e uint64
		if err := a.s.Read(func(tx *Tx) error { e = tx.MembersEpoch(); return nil }); err != nil {
			t.Fatal(err)
		}
		if e != a.s.MembersEpoch() {
			t.Fatalf("Tx epoch %d, store epoch %d", e, a.s.MembersEpoch())
		}
		return e
	}
	e0 := epoch()
	a.ok(version(1, 5))
	if epoch() != e0 {
		t.Fatal("a registry write moved the member epoch")
	}
	a.ok(&command.SetNode{ID: "n1", APIURL: "http://n1", Level: 3})
	e1 := epoch()
	if e1 == e0 {
		t.Fatal("SetNode did not move the member epoch")
	}
	a.ok(&command.RemoveNode{ID: "n1"})
	e2 := epoch()
	if e2 == e1 {
		t.Fatal("RemoveNode did not move the member epoch")
	}
	frame, _ := frameOf(t, a.s)
	if err := a.s.Restore(bytes.NewReader(frame)); err != nil {
		t.Fatal(err)
	}
	if epoch() == e2 {
		t.Fatal("a restore did not move the member epoch")
	}
}
