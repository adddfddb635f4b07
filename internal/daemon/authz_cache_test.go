package daemon

import (
	"slices"
	"sync"
	"testing"

	"github.com/weir-nifi/weir/internal/authz"
	"github.com/weir-nifi/weir/internal/command"
	"github.com/weir-nifi/weir/internal/store"
	"github.com/weir-nifi/weir/internal/store/storetest"
)

// The decoded-record cache answers from the bytes as they are now: a
// changed record is decoded again, a removed one is gone.
func TestDecodedFollowsTheBytes(t *testing.T) {
	d := newDecoded[store.BucketRec]()
	b, ok, err := d.get("b1", []byte(`{"identifier":"b1","allowPublicRead":true}`))
	if err != nil || !ok || !b.AllowPublicRead {
		t.Fatalf("first: %+v %v %v", b, ok, err)
	}
	if b, ok, _ := d.get("b1", []byte(`{"identifier":"b1","allowPublicRead":true}`)); !ok || !b.AllowPublicRead {
		t.Fatalf("same bytes: %+v %v", b, ok)
	}
	if b, ok, _ := d.get("b1", []byte(`{"identifier":"b1","allowPublicRead":false}`)); !ok || b.AllowPublicRead {
		t.Fatalf("changed bytes served the old record: %+v %v", b, ok)
	}
	if _, ok, _ := d.get("b1", nil); ok {
		t.Fatal("a removed record was found")
	}
	if _, _, err := d.get("b2", []byte(`{`)); err == nil {
		t.Fatal("a corrupt record decoded")
	}
}

// The authorization view answers as of the store's latest change: what it
// remembers for one generation is dropped once an applied command moves
// the generation, so a bucket made public, a flow removed or a bucket
// deleted is seen by the next decision.
func TestAuthzViewFollowsEveryChange(t *testing.T) {
	st, apply := storetest.Open(t)
	v := newAuthzView(st)
	type facts struct {
		public, exists, flowFound bool
		flowBucket                string
	}
	look := func() facts {
		t.Helper()
		var f facts
		// Twice: the second answer comes from what the first remembered.
		for range 2 {
			if err := v.run(func(_ authz.PolicySource, rec authz.Records) error {
				f.public, f.exists = rec.Bucket("b1")
				f.flowBucket, f.flowFound = rec.FlowBucket("f1")
				return nil
			}); err != nil {
				t.Fatal(err)
			}
		}
		return f
	}
	if f := look(); f.exists || f.flowFound {
		t.Fatalf("empty store: %+v", f)
	}
	apply(&command.CreateBucket{ID: "b1", Name: "one", Created: 1, Actor: "a"})
	if f := look(); !f.exists || f.public {
		t.Fatalf("after create: %+v", f)
	}
	apply(&command.UpdateBucket{ID: "b1", AllowPublicRead: ptr(true), Actor: "a"})
	if f := look(); !f.exists || !f.public {
		t.Fatalf("after making it public: %+v", f)
	}
	apply(&command.CreateFlow{BucketID: "b1", ID: "f1", Name: "flow", Created: 2, Modified: 2, Actor: "a"})
	if f := look(); !f.flowFound || f.flowBucket != "b1" {
		t.Fatalf("after creating the flow: %+v", f)
	}
	apply(&command.DeleteBucket{ID: "b1", Actor: "a"})
	if f := look(); f.exists || f.flowFound {
		t.Fatalf("after deleting the bucket: %+v", f)
	}
}

func ptr[T any](v T) *T { return &v }

// Under concurrent decisions, a change is seen by every decision that
// starts after its Apply returned: readers racing to remember older
// generations never hide a newer one.
func TestAuthzViewNeverStaleUnderConcurrency(t *testing.T) {
	st, apply := storetest.Open(t)
	apply(&command.CreateBucket{ID: "b1", Name: "one", Created: 1, Actor: "a"})
	v := newAuthzView(st)
	public := func() bool {
		var p bool
		if err := v.run(func(_ authz.PolicySource, rec authz.Records) error {
			p, _ = rec.Bucket("b1")
			return nil
		}); err != nil {
			t.Error(err)
		}
		return p
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
					public()
				}
			}
		}()
	}
	for i := range 300 {
		want := i%2 == 0
		apply(&command.UpdateBucket{ID: "b1", AllowPublicRead: ptr(want), Actor: "a"})
		if got := public(); got != want {
			close(stop)
			wg.Wait()
			t.Fatalf("change %d: a decision after the apply saw public=%v", i, got)
		}
	}
	close(stop)
	wg.Wait()
}

// The indexed policies answer as the tenants state does, and follow a
// change to it: the caller's user id by identity, its groups ordered by
// id, the policy of a resource and action or none.
func TestPoliciesIndexFollowsTheState(t *testing.T) {
	st, apply := storetest.Open(t)
	v := newAuthzView(st)
	for _, c := range []command.Command{
		&command.CreateUser{ID: "u1", Identity: "alice", Actor: "a"},
		&command.CreateUser{ID: "u2", Identity: "bob", Actor: "a"},
		&command.CreateGroup{ID: "g2", Identity: "ops", Users: []string{"u1"}, Actor: "a"},
		&command.CreateGroup{ID: "g1", Identity: "dev", Users: []string{"u1", "u2"}, Actor: "a"},
		&command.CreatePolicy{ID: "p1", Resource: "/buckets", Action: "read", Users: []string{"u2"}, Groups: []string{"g2"}, Actor: "a"},
	} {
		apply(c)
	}
	type answer struct {
		alice, nobody string
		aliceOK, noOK bool
		groups        []string
		users, gs     []string
		found, other  bool
	}
	look := func() answer {
		t.Helper()
		var a answer
		if err := v.run(func(p authz.PolicySource, _ authz.Records) error {
			a.alice, a.aliceOK = p.UserID("alice")
			a.nobody, a.noOK = p.UserID("nobody")
			a.groups = p.GroupIDs(a.alice)
			a.users, a.gs, a.found = p.Policy("/buckets", "read")
			_, _, a.other = p.Policy("/buckets", "write")
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return a
	}
	a := look()
	if a.alice != "u1" || !a.aliceOK || a.noOK || !slices.Equal(a.groups, []string{"g1", "g2"}) ||
		!a.found || !slices.Equal(a.users, []string{"u2"}) || !slices.Equal(a.gs, []string{"g2"}) || a.other {
		t.Fatalf("index: %+v", a)
	}
	apply(&command.DeletePolicy{ID: "p1", Actor: "a"})
	apply(&command.UpdateUser{ID: "u1", Identity: "alice2", Actor: "a"})
	if a := look(); a.aliceOK || a.found {
		t.Fatalf("after the policy's removal and the identity's change: %+v", a)
	}
}
