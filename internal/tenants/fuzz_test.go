package tenants_test

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/weir-nifi/weir/internal/command"
	"github.com/weir-nifi/weir/internal/model"
	"github.com/weir-nifi/weir/internal/store"
	"github.com/weir-nifi/weir/internal/tenants"
)

// FuzzApplyTenants drives the users, groups and policies state machine
// through the store with command sequences built from the fuzz input: ids,
// identities and resources from small pools (so they clash), hostile ids
// (empty, beyond bbolt's key limit), members that do not exist, actions of
// any case, revision claims right and wrong, and seeds. Store A applies
// every entry alone, store B the same entries in batches. Checked:
//   - store.Apply never fails: every bad input is a refusal;
//   - a refusal changes no t.* table;
//   - the state's invariants hold (unique identities across users and
//     groups, members and policy tenants exist, one policy per resource
//     and action);
//   - A and B give the same results and end with identical t.* tables.
func FuzzApplyTenants(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9})
	f.Add([]byte{9, 0, 0, 0, 1, 1, 3, 1, 6, 2, 1, 0, 2, 0, 5, 1})
	f.Add(bytes.Repeat([]byte{0, 3, 3, 6, 6, 1, 2, 4, 5, 7, 8, 9}, 4))
	f.Add([]byte{0, 7, 0, 0, 8, 3, 3, 3, 2, 2, 2, 250, 251, 252, 253})
	dir := f.TempDir()
	var n atomic.Int64
	f.Fuzz(func(t *testing.T, data []byte) {
		i := n.Add(1)
		a := open(t, filepath.Join(dir, fmt.Sprintf("%d-a.db", i)))
		b := open(t, filepath.Join(dir, fmt.Sprintf("%d-b.db", i)))
		runTenants(t, a, b, data)
	})
}

type gen struct {
	b []byte
	i int
}

func (g *gen) more() bool { return g.i < len(g.b) }

func (g *gen) u8() byte {
	if g.i >= len(g.b) {
		return 0
	}
	g.i++
	return g.b[g.i-1]
}

func (g *gen) pick(n int) int { return int(g.u8()) % n }

var (
	idPool       = []string{"a", "b", "c", "d", "", strings.Repeat("x", 40000), "é/.."}
	identityPool = []string{"alice", "bob", "team", "CN=admin", " ", "", strings.Repeat("i", 33000)}
	resourcePool = []string{"/buckets", "/tenants", "/buckets/a", "buckets", ""}
	actionPool   = []string{"read", "write", "delete", "READ", "fly", ""}
	clientPool   = []string{"", "c1", "c2"}
)

func (g *gen) id() string       { return idPool[g.pick(len(idPool))] }
func (g *gen) identity() string { return identityPool[g.pick(len(identityPool))] }

func (g *gen) ids() []string {
	var out []string
	for range g.pick(4) {
		out = append(out, g.id())
	}
	return out
}

func (g *gen) claim() *command.Claim {
	switch g.pick(4) {
	case 0:
		return nil
	default:
		c := &command.Claim{Version: int64(g.pick(4))}
		if cid := clientPool[g.pick(len(clientPool))]; cid != "" {
			c.ClientID = &cid
		}
		return c
	}
}

func (g *gen) command() command.Command {
	switch g.pick(10) {
	case 0:
		return &command.CreateUser{ID: g.id(), Identity: g.identity(), Rev: g.claim(), Actor: "x"}
	case 1:
		return &command.UpdateUser{ID: g.id(), Identity: g.identity(), Rev: g.claim(), Actor: "y"}
	case 2:
		return &command.DeleteUser{ID: g.id(), Rev: g.claim()}
	case 3:
		return &command.CreateGroup{ID: g.id(), Identity: g.identity(), Users: g.ids(), Rev: g.claim()}
	case 4:
		return &command.UpdateGroup{ID: g.id(), Identity: g.identity(), Users: g.ids(), Rev: g.claim()}
	case 5:
		return &command.DeleteGroup{ID: g.id(), Rev: g.claim()}
	case 6:
		return &command.CreatePolicy{ID: g.id(), Resource: resourcePool[g.pick(len(resourcePool))],
			Action: actionPool[g.pick(len(actionPool))], Users: g.ids(), Groups: g.ids(), Rev: g.claim()}
	case 7:
		return &command.UpdatePolicy{ID: g.id(), Users: g.ids(), Groups: g.ids(), Rev: g.claim()}
	case 8:
		return &command.DeletePolicy{ID: g.id(), Rev: g.claim()}
	default:
		c := &command.SeedSecurity{At: int64(g.u8())}
		for range g.pick(3) {
			c.Users = append(c.Users, command.SeedUser{ID: g.id(), Identity: g.identity()})
		}
		for range g.pick(3) {
			p := command.SeedPolicy{ID: g.id(), Resource: resourcePool[g.pick(len(resourcePool))], Action: actionPool[g.pick(len(actionPool))]}
			for range g.pick(3) {
				p.Identities = append(p.Identities, g.identity())
			}
			c.Policies = append(c.Policies, p)
		}
		return c
	}
}

func runTenants(t *testing.T, a, b *ts, data []byte) {
	g := &gen{b: data}
	var pending []store.Entry
	var want []store.Result
	flush := func() {
		if len(pending) == 0 {
			return
		}
		res, err := b.st.Apply(pending)
		if err != nil {
			t.Fatalf("B: Apply failed: %v", err)
		}
		for i := range res {
			if !sameResult(res[i], want[i]) {
				t.Fatalf("B result %d differs: %v / %v", i, res[i].Err, want[i].Err)
			}
		}
		pending, want = nil, nil
	}
	for ops := 0; g.more() && ops < 80; ops++ {
		c := g.command()
		data, err := command.Encode(c)
		if err != nil {
			t.Fatal(err)
		}
		before := a.dump()
		a.idx++
		res, err := a.st.Apply([]store.Entry{{Index: a.idx, Data: data}})
		if err != nil {
			t.Fatalf("Apply %s failed: %v", c.Type(), err)
		}
		var me *model.Error
		if res[0].Err != nil {
			if !errors.As(res[0].Err, &me) {
				t.Fatalf("Apply %s: %T %v is not a refusal", c.Type(), res[0].Err, res[0].Err)
			}
			if !bytes.Equal(before, a.dump()) {
				t.Fatalf("refused %s (%v) changed the tenants tables", c.Type(), res[0].Err)
			}
		}
		checkInvariants(t, a.state())
		pending = append(pending, store.Entry{Index: a.idx, Data: data})
		want = append(want, res[0])
		if g.pick(3) == 0 {
			flush()
		}
	}
	flush()
	if !bytes.Equal(a.dump(), b.dump()) {
		t.Fatal("stores A and B differ")
	}
}

func sameResult(x, y store.Result) bool {
	if (x.Err == nil) != (y.Err == nil) {
		return false
	}
	if x.Err != nil {
		return x.Err.Error() == y.Err.Error()
	}
	return fmt.Sprint(x.Value) == fmt.Sprint(y.Value)
}

func checkInvariants(t *testing.T, st *tenants.State) {
	t.Helper()
	identities := map[string]string{}
	for id, u := range st.Users {
		if id != u.ID || strings.TrimSpace(u.Identity) == "" {
			t.Fatalf("bad user %q %+v", id, u)
		}
		if other, dup := identities[u.Identity]; dup {
			t.Fatalf("identity %q held by %s and %s", u.Identity, other, id)
		}
		identities[u.Identity] = id
	}
	for id, g := range st.Groups {
		if id != g.ID || strings.TrimSpace(g.Identity) == "" {
			t.Fatalf("bad group %q %+v", id, g)
		}
		if other, dup := identities[g.Identity]; dup {
			t.Fatalf("identity %q held by %s and %s", g.Identity, other, id)
		}
		identities[g.Identity] = id
		for _, u := range g.Users {
			if _, ok := st.Users[u]; !ok {
				t.Fatalf("group %s names missing user %q", id, u)
			}
		}
	}
	keys := map[string]bool{}
	for id, p := range st.Policies {
		k := p.Resource + "\x00" + p.Action
		if keys[k] {
			t.Fatalf("two policies for %s %s", p.Resource, p.Action)
		}
		keys[k] = true
		if tenants.CheckAction(p.Action) != nil || tenants.CheckResource(p.Resource) != nil {
			t.Fatalf("bad policy %s %+v", id, p)
		}
		for _, u := range p.Users {
			if _, ok := st.Users[u]; !ok {
				t.Fatalf("policy %s names missing user %q", id, u)
			}
		}
		for _, g := range p.Groups {
			if _, ok := st.Groups[g]; !ok {
				t.Fatalf("policy %s names missing group %q", id, g)
			}
		}
	}
}
