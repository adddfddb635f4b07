package tenants_test

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/weir-nifi/weir/internal/command"
	"github.com/weir-nifi/weir/internal/model"
	"github.com/weir-nifi/weir/internal/store"
	"github.com/weir-nifi/weir/internal/tenants"
)

type ts struct {
	t   *testing.T
	st  *store.Store
	idx uint64
}

func open(t *testing.T, path string) *ts {
	t.Helper()
	st, err := store.Open(path, store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return &ts{t: t, st: st}
}

func newTS(t *testing.T) *ts { return open(t, filepath.Join(t.TempDir(), "s.db")) }

// apply applies c as the next entry and returns its result; Apply itself
// must never fail.
func (s *ts) apply(c command.Command) store.Result {
	s.t.Helper()
	data, err := command.Encode(c)
	if err != nil {
		s.t.Fatal(err)
	}
	s.idx++
	res, err := s.st.Apply([]store.Entry{{Index: s.idx, Data: data}})
	if err != nil {
		s.t.Fatalf("Apply %s: %v", c.Type(), err)
	}
	var me *model.Error
	if res[0].Err != nil && !errors.As(res[0].Err, &me) {
		s.t.Fatalf("Apply %s: %T %v is not a refusal", c.Type(), res[0].Err, res[0].Err)
	}
	return res[0]
}

func (s *ts) ok(c command.Command) *tenants.State {
	s.t.Helper()
	r := s.apply(c)
	if r.Err != nil {
		s.t.Fatalf("%s %+v refused: %v", c.Type(), c, r.Err)
	}
	st, _ := r.Value.(*tenants.State)
	return st
}

// refused applies c, expects a refusal with status and message, and checks
// that no t.* table changed.
func (s *ts) refused(c command.Command, status int, msg string) {
	s.t.Helper()
	before := s.dump()
	r := s.apply(c)
	var me *model.Error
	if !errors.As(r.Err, &me) {
		s.t.Fatalf("%s %+v: want refusal %d %q, got %v", c.Type(), c, status, msg, r.Err)
	}
	if me.Status() != status || (msg != "" && me.Msg != msg) {
		s.t.Fatalf("%s: got %d %q, want %d %q", c.Type(), me.Status(), me.Msg, status, msg)
	}
	if after := s.dump(); !bytes.Equal(before, after) {
		s.t.Fatalf("%s: refusal changed the tenants tables", c.Type())
	}
}

// dump is every t.* table's keys and values.
func (s *ts) dump() []byte {
	s.t.Helper()
	var out []byte
	err := s.st.Read(func(tx *store.Tx) error {
		return dumpTables(tx.Bolt(), &out)
	})
	if err != nil {
		s.t.Fatal(err)
	}
	return out
}

func dumpTables(btx *bolt.Tx, out *[]byte) error {
	for _, name := range tenants.Tables {
		*out = append(*out, name...)
		*out = append(*out, 0)
		if err := btx.Bucket(name).ForEach(func(k, v []byte) error {
			*out = fmt.Appendf(*out, "%q=%q\n", k, v)
			return nil
		}); err != nil {
			return err
		}
	}
	return nil
}

func (s *ts) state() *tenants.State {
	s.t.Helper()
	var st *tenants.State
	if err := s.st.Read(func(tx *store.Tx) (err error) { st, err = tenants.Load(tx.Bolt()); return }); err != nil {
		s.t.Fatal(err)
	}
	return st
}

func claim(v int64, client string) *command.Claim {
	if client == "" {
		return &command.Claim{Version: v}
	}
	return &command.Claim{Version: v, ClientID: &client}
}

func TestUsersGroupsPolicies(t *testing.T) {
	s := newTS(t)
	s.ok(&command.CreateUser{ID: "u1", Identity: "alice", Actor: "admin"})
	s.ok(&command.CreateUser{ID: "u2", Identity: "bob"})
	s.refused(&command.CreateUser{ID: "u3", Identity: "alice"}, 409, "User/user group already exists with the identity 'alice'.")
	s.refused(&command.CreateUser{ID: "u3", Identity: "  "}, 400, "User identity must be specified when creating a new user.")
	s.refused(&command.CreateUser{ID: "", Identity: "carol"}, 400, "")
	s.refused(&command.UpdateUser{ID: "nope", Identity: "x"}, 404, tenants.MsgUserNotFound)
	s.refused(&command.UpdateUser{ID: "u2", Identity: "alice"}, 409, "User/user group already exists with the identity 'alice'.")

	g := s.ok(&command.CreateGroup{ID: "g1", Identity: "team", Users: []string{"u2", "u1", "u1"}})
	if got := g.Groups["g1"].Users; !slices.Equal(got, []string{"u1", "u2"}) {
		t.Fatalf("group users %v", got)
	}
	s.refused(&command.CreateGroup{ID: "g2", Identity: "bob"}, 409, "User/user group already exists with the identity 'bob'.")
	s.refused(&command.CreateUser{ID: "u9", Identity: "team"}, 409, "User/user group already exists with the identity 'team'.")
	s.refused(&command.CreateGroup{ID: "g2", Identity: "other", Users: []string{"ghost"}}, 400, "Unable to find user with id 'ghost'.")
	s.refused(&command.UpdateGroup{ID: "g9", Identity: "x"}, 404, tenants.MsgGroupNotFound)

	p := s.ok(&command.CreatePolicy{ID: "p1", Resource: "/buckets", Action: "read", Users: []string{"u1"}, Groups: []string{"g1"}})
	if _, ok := p.Policies["p1"]; !ok || p.Users["u1"].Identity != "alice" || p.Groups["g1"].Identity != "team" {
		t.Fatalf("create policy result %+v", p)
	}
	s.refused(&command.CreatePolicy{ID: "p2", Resource: "/buckets", Action: "read"}, 409, "Found multiple policies for '/buckets' with 'read'.")
	s.refused(&command.CreatePolicy{ID: "p2", Resource: "/buckets", Action: "READ"}, 400, "Action 'READ' is invalid. Must be one of [read, write, delete]")
	s.refused(&command.CreatePolicy{ID: "p2", Resource: "buckets", Action: "write"}, 400, "")
	s.refused(&command.CreatePolicy{ID: "p2", Resource: "/x", Action: "write", Groups: []string{"u1"}}, 400, "Unable to find user group with id 'u1'.")
	s.refused(&command.UpdatePolicy{ID: "p9"}, 404, tenants.MsgPolicyNotFound)
	s.ok(&command.CreatePolicy{ID: "p2", Resource: "/tenants", Action: "write", Users: []string{"u2"}})

	st := s.state()
	if u, ok := st.UserByIdentity("bob"); !ok || u.ID != "u2" {
		t.Fatalf("UserByIdentity bob: %+v %v", u, ok)
	}
	if gs := st.GroupsOf("u1"); len(gs) != 1 || gs[0].ID != "g1" {
		t.Fatalf("GroupsOf u1: %+v", gs)
	}
	if p, ok := st.PolicyFor("/tenants", "write"); !ok || p.ID != "p2" {
		t.Fatalf("PolicyFor: %+v %v", p, ok)
	}

	// Deleting a user removes it from groups and policies; the result is
	// the state around it before.
	before := s.ok(&command.DeleteUser{ID: "u2"})
	if _, ok := before.Users["u2"]; !ok || before.Groups["g1"].ID != "g1" || before.Policies["p2"].ID != "p2" {
		t.Fatalf("delete result %+v", before)
	}
	st = s.state()
	if _, ok := st.Users["u2"]; ok {
		t.Fatal("u2 still there")
	}
	if !slices.Equal(st.Groups["g1"].Users, []string{"u1"}) || st.Policies["p2"].Users != nil {
		t.Fatalf("cascade: group %v policy %v", st.Groups["g1"].Users, st.Policies["p2"].Users)
	}
	// Deleting a group removes it from policies.
	s.ok(&command.DeleteGroup{ID: "g1"})
	st = s.state()
	if st.Policies["p1"].Groups != nil || !slices.Equal(st.Policies["p1"].Users, []string{"u1"}) {
		t.Fatalf("group cascade: %+v", st.Policies["p1"])
	}
	s.ok(&command.DeletePolicy{ID: "p1"})
	s.refused(&command.DeletePolicy{ID: "p1"}, 404, tenants.MsgPolicyNotFound)
	s.refused(&command.DeleteGroup{ID: "g1"}, 404, tenants.MsgGroupNotFound)
	s.refused(&command.DeleteUser{ID: "u2"}, 404, tenants.MsgUserNotFound)
}

func TestRevisions(t *testing.T) {
	s := newTS(t)
	r := s.ok(&command.CreateUser{ID: "u1", Identity: "alice", Rev: claim(0, "c1"), Actor: "admin"})
	if got := r.Users["u1"].Rev; got != (tenants.Revision{Version: 1, ClientID: "c1", LastModifier: "admin"}) {
		t.Fatalf("rev after create %+v", got)
	}
	s.refused(&command.UpdateUser{ID: "u1", Identity: "alice2", Rev: claim(0, "c2")}, 400,
		"The User you attempted to update with id 'u1' is out of date with the server. You may need to refresh your client and try again.")
	// Same client id: passes whatever the version.
	s.ok(&command.UpdateUser{ID: "u1", Identity: "alice2", Rev: claim(7, "c1"), Actor: "x"})
	s.ok(&command.UpdateUser{ID: "u1", Identity: "alice3", Rev: claim(2, "")})
	s.refused(&command.DeleteUser{ID: "u1", Rev: claim(2, "c9")}, 400,
		"The User you attempted to delete with id 'u1' is out of date with the server. You may need to refresh your client and try again.")
	s.ok(&command.DeleteUser{ID: "u1", Rev: claim(3, "")})
	s.refused(&command.CreateGroup{ID: "g1", Identity: "g", Rev: claim(1, "")}, 400, "")
}

func TestSeedIdempotent(t *testing.T) {
	s := newTS(t)
	seed := &command.SeedSecurity{
		Users: []command.SeedUser{{ID: "admin-id", Identity: "CN=admin"}, {ID: "node-id", Identity: "CN=node"}},
		Policies: []command.SeedPolicy{
			{ID: "p-tenants-r", Resource: "/tenants", Action: "read", Identities: []string{"CN=admin"}},
			{ID: "p-buckets-r", Resource: "/buckets", Action: "read", Identities: []string{"CN=admin", "CN=node"}},
		},
		At: 1,
	}
	s.ok(seed)
	first := s.state()
	// Again: nothing changes but the version counter.
	s.ok(seed)
	second := s.state()
	if second.Version != first.Version+1 {
		t.Fatalf("version %d then %d", first.Version, second.Version)
	}
	second.Version = first.Version
	if fmt.Sprint(first) != fmt.Sprint(second) {
		t.Fatalf("seed again changed state:\n%v\n%v", first, second)
	}
	// A policy that exists gets the missing users; a user that exists
	// under another id is not created again.
	s.ok(&command.CreateUser{ID: "u-other", Identity: "CN=other"})
	s.ok(&command.UpdatePolicy{ID: "p-buckets-r", Users: []string{"u-other"}})
	s.ok(&command.SeedSecurity{
		Users:    []command.SeedUser{{ID: "new-id", Identity: "CN=other"}},
		Policies: []command.SeedPolicy{{ID: "p-x", Resource: "/buckets", Action: "read", Identities: []string{"CN=admin", "CN=other"}}},
	})
	st := s.state()
	if _, ok := st.Users["new-id"]; ok {
		t.Fatal("seed created a second user for an identity")
	}
	if _, ok := st.Policies["p-x"]; ok {
		t.Fatal("seed created a second policy for /buckets read")
	}
	if got := st.Policies["p-buckets-r"].Users; !slices.Equal(got, []string{"admin-id", "u-other"}) {
		t.Fatalf("merged users %v", got)
	}
	// Bad seeds are refused whole.
	s.refused(&command.SeedSecurity{
		Users:    []command.SeedUser{{ID: "n2", Identity: "CN=new"}},
		Policies: []command.SeedPolicy{{ID: "p-y", Resource: "/proxy", Action: "write", Identities: []string{"CN=nobody"}}},
	}, 400, "")
	s.refused(&command.SeedSecurity{Policies: []command.SeedPolicy{{ID: "p-y", Resource: "/proxy", Action: "fly"}}}, 400, "")
}

func TestMaintenanceFreezesTenants(t *testing.T) {
	s := newTS(t)
	s.ok(&command.SetMaintenance{On: true, By: "op", At: 1})
	s.refused(&command.CreateUser{ID: "u1", Identity: "alice"}, 503, "")
	s.ok(&command.SetMaintenance{On: false, By: "op", At: 2})
	s.ok(&command.CreateUser{ID: "u1", Identity: "alice"})
}

func TestTenantsOutsideStateHash(t *testing.T) {
	s := newTS(t)
	h1, _, err := s.st.StateHash()
	if err != nil {
		t.Fatal(err)
	}
	s.ok(&command.CreateUser{ID: "u1", Identity: "alice"})
	h2, _, err := s.st.StateHash()
	if err != nil {
		t.Fatal(err)
	}
	if h1 != h2 {
		t.Fatal("a user changed the registry state hash")
	}
}
