package store

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/weir-nifi/weir/internal/command"
	"github.com/weir-nifi/weir/internal/model"
)

type drStore struct {
	t   *testing.T
	s   *Store
	idx uint64
}

func openDR(t *testing.T, name string) *drStore {
	s, err := Open(filepath.Join(t.TempDir(), name), Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return &drStore{t: t, s: s}
}

func (d *drStore) apply(c command.Command) (any, error) {
	d.t.Helper()
	data, err := command.Encode(c)
	if err != nil {
		d.t.Fatal(err)
	}
	d.idx++
	res, err := d.s.Apply([]Entry{{Index: d.idx, Data: data}})
	if err != nil {
		d.t.Fatalf("Apply(%T): %v", c, err)
	}
	return res[0].Value, res[0].Err
}

func (d *drStore) hash() string {
	d.t.Helper()
	h, _, err := d.s.StateHash()
	if err != nil {
		d.t.Fatal(err)
	}
	return h
}

func (d *drStore) role() DRState {
	var st DRState
	if err := d.s.Read(func(tx *Tx) (err error) { st, err = tx.DR(); return }); err != nil {
		d.t.Fatal(err)
	}
	return st
}

// TestDRStandbyFollowsPrimary: a standby applying the primary's entries
// (refusals, member records and retries included) ends with the primary's
// state hash; it refuses writes of its own; promote, fence and demote
// follow their epochs.
func TestDRStandbyFollowsPrimary(t *testing.T) {
	p, s := openDR(t, "p.db"), openDR(t, "s.db")
	var idx []uint64
	var log [][]byte
	prim := func(c command.Command) {
		t.Helper()
		p.apply(c)
		data, _ := command.Encode(c)
		idx = append(idx, p.idx)
		log = append(log, data)
	}
	desc := "d"
	prim(&command.SetNode{ID: "p1", APIURL: "http://p1", Level: command.Level})
	prim(&command.CreateBucket{ID: "b1", Name: "one", Created: 1})
	prim(&command.CreateBucket{ID: "b2", Name: "one", Created: 2}) // refused: same name
	prim(&command.CreateBucket{ID: "", Name: "x"})                 // refused: bad args
	prim(&command.UpdateBucket{ID: "b1", Description: &desc})
	prim(&command.SetMaintenance{On: true, By: "op", At: 3})
	prim(&command.CreateBucket{ID: "b3", Name: "three", Created: 4}) // refused: maintenance
	prim(&command.SetMaintenance{On: false, By: "op", At: 5})
	prim(&command.CreateFlow{BucketID: "b1", ID: "f1", Name: "flow", Created: 6, Modified: 6})
	prim(&command.CreateVersion{BucketID: "b1", FlowID: "f1", Version: 1, Timestamp: 7, Modified: 7, Content: []byte(`{}`)})

	s.apply(&command.SetNode{ID: "s1", APIURL: "http://s1", Level: command.Level})
	// Not a standby yet: DRApply is refused.
	if _, err := s.apply(command.NewDRApply(idx, log, p.idx, 10)); err == nil {
		t.Fatal("a primary applied another cluster's log")
	}
	if _, err := s.apply(&command.SetDRRole{Role: command.RoleStandby, Primary: []string{"http://p1"}, At: 11}); err != nil {
		t.Fatal(err)
	}
	// Its own writes are refused, naming the primary.
	_, err := s.apply(&command.CreateBucket{ID: "x", Name: "x", Created: 1})
	var me *model.Error
	if !errors.As(err, &me) || me.Kind != model.KindUnavailable || me.Reason != "dr.standby" {
		t.Fatalf("a standby's own write: %v", err)
	}
	// The log in two batches, the second retried.
	if _, err := s.apply(command.NewDRApply(idx[:4], log[:4], idx[3], 12)); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		v, err := s.apply(command.NewDRApply(idx[2:], log[2:], p.idx, 13))
		if err != nil {
			t.Fatal(err)
		}
		if r := v.(DRApplied); r.Index != p.idx {
			t.Fatalf("applied %+v", r)
		}
	}
	if s.hash() != p.hash() {
		t.Fatalf("standby hash %s, primary %s", s.hash(), p.hash())
	}
	var nodes []NodeRec
	_ = s.s.Read(func(tx *Tx) (err error) { nodes, err = tx.Nodes(); return })
	if len(nodes) != 1 || nodes[0].ID != "s1" {
		t.Fatalf("the standby's members: %+v", nodes)
	}

	// Promote: epoch 1, a primary again; the primary it followed is kept.
	if _, err := s.apply(&command.SetDRRole{Role: command.RolePrimary, Epoch: 0, At: 14}); err == nil {
		t.Fatal("promoted without a higher epoch")
	}
	if _, err := s.apply(&command.SetDRRole{Role: command.RolePrimary, Epoch: 1, At: 14}); err != nil {
		t.Fatal(err)
	}
	if r := s.role(); !r.IsPrimary() || r.Epoch != 1 || r.Previous[0] != "http://p1" || r.Index != p.idx || r.Since != s.idx {
		t.Fatalf("promoted: %+v", r)
	}
	if _, err := s.apply(&command.CreateBucket{ID: "b9", Name: "nine", Created: 15}); err != nil {
		t.Fatalf("a promoted cluster refused a write: %v", err)
	}
	// The old primary is fenced by epoch 1 and refuses writes; a stale
	// fence (epoch 0) is refused.
	if _, err := p.apply(&command.SetDRRole{Role: command.RoleFenced, Epoch: 0, Primary: []string{"http://s1"}, At: 16}); err == nil {
		t.Fatal("fenced by a lower epoch")
	}
	if _, err := p.apply(&command.SetDRRole{Role: command.RoleFenced, Epoch: 1, Primary: []string{"http://s1"}, Index: idx[5], At: 16}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.apply(&command.CreateBucket{ID: "b4", Name: "four", Created: 17}); err == nil {
		t.Fatal("a fenced cluster took a write")
	}
	if _, err := p.apply(&command.SetDRRole{Role: command.RolePrimary, Epoch: 2, At: 18}); err == nil {
		t.Fatal("a fenced cluster made itself primary")
	}
	// Demoted: a standby of the new primary.
	if _, err := p.apply(&command.SetDRRole{Role: command.RoleStandby, Epoch: 1, Primary: []string{"http://s1"}, Reset: true, Index: 0, At: 19}); err != nil {
		t.Fatal(err)
	}
	if r := p.role(); r.RoleName() != command.RoleStandby || r.Epoch != 1 {
		t.Fatalf("demoted: %+v", r)
	}
}

// TestSeedFrame: a primary's snapshot rewritten for a standby restores to
// the primary's registry state with the standby's members and its standby
// role already in it, and a frame that is damaged or a command the image
// refuses fails the seed.
func TestSeedFrame(t *testing.T) {
	p := openDR(t, "p.db")
	p.apply(&command.SetNode{ID: "n1", APIURL: "http://p1", RaftAddr: "p1:1", Level: command.Level})
	p.apply(&command.CreateBucket{ID: "b1", Name: "one", Created: 1})
	p.apply(&command.SetDRRole{Role: command.RoleFenced, Epoch: 1, Primary: []string{"http://old"}, At: 2})
	p.apply(&command.SetDRRole{Role: command.RoleStandby, Primary: []string{"http://old"}, At: 3})
	p.apply(&command.SetDRRole{Role: command.RolePrimary, Epoch: 2, At: 4})
	var frame bytes.Buffer
	sn, err := p.s.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sn.WriteTo(&frame); err != nil {
		t.Fatal(err)
	}
	sn.Release()

	dir := t.TempDir()
	own := &command.SetNode{ID: "n1", APIURL: "http://s1", RaftAddr: "s1:1", Level: command.Level}
	set := &command.SetDRRole{Role: command.RoleStandby, Epoch: 2, Primary: []string{"http://p1"}, Index: p.idx, Reset: true, At: 5, By: "dr seed"}
	path := filepath.Join(dir, "seed.frame")
	size, err := SeedFrame(bytes.NewReader(frame.Bytes()), path, own, set)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if st, _ := f.Stat(); st.Size() != size {
		t.Fatalf("SeedFrame said %d bytes, wrote %d", size, st.Size())
	}
	s := openDR(t, "s.db")
	if err := s.s.Restore(f); err != nil {
		t.Fatal(err)
	}
	if s.hash() != p.hash() {
		t.Fatalf("seeded hash %s, primary %s", s.hash(), p.hash())
	}
	if h, _, err := s.s.RecomputedStateHash(); err != nil || h != s.hash() {
		t.Fatalf("recomputed hash %s %v, kept %s", h, err, s.hash())
	}
	if r := s.role(); r.RoleName() != command.RoleStandby || r.Epoch != 2 || r.Index != p.idx || r.NeedsSeed || r.Primary[0] != "http://p1" {
		t.Fatalf("seeded role: %+v", r)
	}
	var nodes []NodeRec
	_ = s.s.Read(func(tx *Tx) (err error) { nodes, err = tx.Nodes(); return })
	if len(nodes) != 1 || nodes[0].APIURL != "http://s1" {
		t.Fatalf("seeded members: %+v", nodes)
	}

	// Damage and refusals fail it.
	bad := bytes.Clone(frame.Bytes())
	bad[len(bad)/2] ^= 1
	if _, err := SeedFrame(bytes.NewReader(bad), path, own, set); !errors.Is(err, ErrBadSnapshot) {
		t.Fatalf("a damaged frame: %v", err)
	}
	promote := &command.SetDRRole{Role: command.RolePrimary, Epoch: 1, At: 6}
	if _, err := SeedFrame(bytes.NewReader(frame.Bytes()), path, promote); err == nil {
		t.Fatal("a refused command seeded")
	}
	if _, err := SeedFrame(bytes.NewReader(frame.Bytes()), path, &command.SetNode{}); err == nil {
		t.Fatal("a command with bad arguments seeded")
	}
}
