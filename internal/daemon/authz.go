package daemon

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/weir-nifi/weir/internal/authz"
	"github.com/weir-nifi/weir/internal/bundles"
	"github.com/weir-nifi/weir/internal/cluster"
	"github.com/weir-nifi/weir/internal/command"
	"github.com/weir-nifi/weir/internal/identity"
	"github.com/weir-nifi/weir/internal/ldapauth"
	"github.com/weir-nifi/weir/internal/login"
	"github.com/weir-nifi/weir/internal/model"
	"github.com/weir-nifi/weir/internal/registry"
	"github.com/weir-nifi/weir/internal/store"
	"github.com/weir-nifi/weir/internal/tenants"
	"github.com/weir-nifi/weir/internal/tokens"
)

// policies answers authz's lookups from the replicated tenants state, in
// constant time: a decision asks for the caller's user, its groups and the
// policies along the resource's inheritance, and again for each of the
// three permissions written into the answer; scanning the users, groups
// and policies for each was most of the authorization's own CPU.
type policies struct {
	users    map[string]string            // identity → user id
	groups   map[string][]string          // user id → group ids, ordered by id
	policies map[[2]string]tenants.Policy // {resource, action} → policy
}

func indexPolicies(s *tenants.State) *policies {
	p := &policies{users: make(map[string]string, len(s.Users)), groups: map[string][]string{},
		policies: make(map[[2]string]tenants.Policy, len(s.Policies))}
	for _, u := range s.Users {
		p.users[u.Identity] = u.ID
	}
	// One walk over the groups, not one per user (GroupsOf): each group
	// adds itself to its members' lists, sorted by id as GroupsOf's are.
	for _, g := range s.Groups {
		for _, uid := range g.Users {
			p.groups[uid] = append(p.groups[uid], g.ID)
		}
	}
	for uid, ids := range p.groups {
		slices.Sort(ids)
		p.groups[uid] = slices.Compact(ids)
	}
	// Identities are unique among users, and there is one policy per
	// resource and action: the state machine refuses a second.
	for _, pol := range s.Policies {
		p.policies[[2]string{pol.Resource, pol.Action}] = pol
	}
	return p
}

func (p *policies) UserID(identity string) (string, bool) {
	id, ok := p.users[identity]
	return id, ok
}

func (p *policies) GroupIDs(userID string) []string { return p.groups[userID] }

func (p *policies) Policy(resource, action string) ([]string, []string, bool) {
	pol, ok := p.policies[[2]string{resource, action}]
	return pol.Users, pol.Groups, ok
}

// policyCache keeps the indexed tenants state of the version last read:
// policies change seldom, requests are many.
type policyCache struct {
	mu      sync.Mutex
	version uint64
	index   *policies
}

// load returns the tenants state as of tx, decoding and indexing it only
// when its version moved.
func (c *policyCache) load(tx *store.Tx) (*policies, error) {
	v := tenants.Version(tx.Bolt())
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.index != nil && c.version == v {
		return c.index, nil
	}
	s, err := tenants.Load(tx.Bolt())
	if err != nil {
		return nil, err
	}
	c.index, c.version = indexPolicies(s), v
	return c.index, nil
}

// decoded remembers the last decoding of records by id, checked against
// the record's current bytes (so it is never stale): decoding the bucket
// record's JSON for every authorized request was about a tenth of a
// secured node's CPU under GET load.
type decoded[T any] struct {
	mu sync.Mutex
	m  map[string]decodedRec[T]
}

type decodedRec[T any] struct {
	raw []byte
	v   T
}

// decodedMax bounds a cache; it starts over when full.
const decodedMax = 4096

func newDecoded[T any]() *decoded[T] { return &decoded[T]{m: map[string]decodedRec[T]{}} }

// get decodes raw (the record of id as stored now; nil when there is
// none), or returns the decoding of the same bytes from an earlier call.
func (d *decoded[T]) get(id string, raw []byte) (T, bool, error) {
	var v T
	if raw == nil {
		return v, false, nil
	}
	d.mu.Lock()
	r, ok := d.m[id]
	d.mu.Unlock()
	if ok && bytes.Equal(r.raw, raw) {
		return r.v, true, nil
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return v, false, err
	}
	d.mu.Lock()
	if len(d.m) >= decodedMax {
		clear(d.m)
	}
	d.m[id] = decodedRec[T]{raw: bytes.Clone(raw), v: v}
	d.mu.Unlock()
	return v, true, nil
}

// authzOptions connect authz to the node: every decision first waits until
// this node has applied everything committed (a revoked policy is in force
// on every node once the revoke returned), then reads the policies and
// records it needs through a view remembered per store generation.
func authzOptions(node *cluster.Node, st *store.Store) authz.Options {
	v := newAuthzView(st)
	return authz.Options{
		View: func(r *http.Request, fn func(authz.PolicySource, authz.Records) error) error {
			if err := node.RequestBarrier(r.Context()); err != nil {
				return err
			}
			return v.run(fn)
		},
	}
}

// authzView remembers what authorization reads (the tenants state, and
// which bucket a record belongs to) for one store generation, so that a
// decision seldom opens a store transaction of its own: under GET load a
// secured node spent about a tenth of its CPU opening one per decision,
// beside the one the handler opens anyway.
//
// Why it is never stale: the generation is read after the request's
// barrier, and everything remembered under generation g was read in a
// transaction begun after the generation reached g, so it holds every
// change a client was told about before the request began (a write is
// answered after its Apply, which bumps the generation). A fact looked up
// later under g may come from a newer transaction than the policies; both
// are at least as new as the request, which overlaps any change they
// differ by.
type authzView struct {
	st       *store.Store
	policies policyCache
	buckets  *decoded[store.BucketRec]
	flows    *decoded[store.FlowRec]

	mu     sync.Mutex
	gen    uint64
	state  *policies // nil: nothing remembered yet
	bucket map[string]bucketFacts
	owner  map[ownerKey]ownerFacts
}

type bucketFacts struct{ public, exists bool }

// ownerKey names a flow or a bundle, whose bucket is an ownerFacts.
type ownerKey struct {
	bundle bool
	id     string
}

type ownerFacts struct {
	bucket string
	exists bool
}

func newAuthzView(st *store.Store) *authzView {
	return &authzView{st: st, buckets: newDecoded[store.BucketRec](), flows: newDecoded[store.FlowRec](),
		bucket: map[string]bucketFacts{}, owner: map[ownerKey]ownerFacts{}}
}

// run calls fn with the policies and records as of the store's current
// generation or later.
func (v *authzView) run(fn func(authz.PolicySource, authz.Records) error) error {
	gen := v.st.Generation()
	v.mu.Lock()
	s := v.state
	if v.gen != gen {
		s = nil
	}
	v.mu.Unlock()
	if s == nil {
		if err := v.st.Read(func(tx *store.Tx) error {
			var err error
			s, err = v.policies.load(tx)
			return err
		}); err != nil {
			return err
		}
		v.mu.Lock()
		// A request that read an older generation than the one remembered
		// (it lost a race with a newer one) uses what it read and keeps it
		// to itself.
		if gen > v.gen || v.state == nil {
			v.gen, v.state = gen, s
			clear(v.bucket)
			clear(v.owner)
		}
		v.mu.Unlock()
	}
	rec := &viewRecords{v: v, gen: gen}
	if err := fn(s, rec); err != nil {
		return err
	}
	return rec.err
}

// viewRecords answers authz's record lookups from the view, reading the
// store for what the view does not know yet. A read that fails is
// reported by run, and the decision is not used.
type viewRecords struct {
	v   *authzView
	gen uint64
	err error
}

func (r *viewRecords) Bucket(id string) (public, exists bool) {
	f := lookup(r, r.v.bucket, id, func(tx *store.Tx) bucketFacts {
		b, found, err := r.v.buckets.get(id, tx.RawBucket(id))
		return bucketFacts{public: b.AllowPublicRead, exists: found && err == nil}
	})
	return f.public, f.exists
}

func (r *viewRecords) FlowBucket(flowID string) (string, bool) {
	f := lookup(r, r.v.owner, ownerKey{id: flowID}, func(tx *store.Tx) ownerFacts {
		f, found, err := r.v.flows.get(flowID, tx.RawFlow(flowID))
		return ownerFacts{bucket: f.BucketID, exists: found && err == nil}
	})
	return f.bucket, f.exists
}

func (r *viewRecords) BundleBucket(bundleID string) (string, bool) {
	f := lookup(r, r.v.owner, ownerKey{bundle: true, id: bundleID}, func(tx *store.Tx) ownerFacts {
		b, found, err := bundles.Get(tx.Bolt(), bundleID)
		return ownerFacts{bucket: b.BucketID, exists: found && err == nil}
	})
	return f.bucket, f.exists
}

// lookup answers k from m (one of the view's maps) when the view still
// holds r's generation, and otherwise reads it with look and keeps it
// there while that generation lasts.
func lookup[K comparable, F any](r *viewRecords, m map[K]F, k K, look func(*store.Tx) F) F {
	r.v.mu.Lock()
	f, ok := m[k]
	ok = ok && r.v.gen == r.gen
	r.v.mu.Unlock()
	if ok {
		return f
	}
	r.read(func(tx *store.Tx) { f = look(tx) })
	if r.err == nil {
		r.v.mu.Lock()
		if r.v.gen == r.gen && len(m) < decodedMax {
			m[k] = f
		}
		r.v.mu.Unlock()
	}
	return f
}

// read runs fn in a transaction of its own, unless a read already failed.
func (r *viewRecords) read(fn func(*store.Tx)) {
	if r.err != nil {
		return
	}
	r.err = r.v.st.Read(func(tx *store.Tx) error { fn(tx); return nil })
}

// seedPolicies is NiFi Registry's InitialPolicies for the initial admin
// and the NiFi node identities, and Weir's additions: the admin may read
// site-to-site, NiFi nodes may read it and push to and pull from every
// port (site-to-site clients are NiFi nodes).
func seedPolicies(admin string, nodes []string) *command.SeedSecurity {
	seed := &command.SeedSecurity{At: time.Now().UnixMilli()}
	seed.Users = append(seed.Users, command.SeedUser{ID: uuid.NewString(), Identity: admin})
	for _, n := range nodes {
		seed.Users = append(seed.Users, command.SeedUser{ID: uuid.NewString(), Identity: n})
	}
	grant := func(resource, action string, ids ...string) {
		seed.Policies = append(seed.Policies, command.SeedPolicy{ID: uuid.NewString(), Resource: resource, Action: action, Identities: ids})
	}
	rwd := []string{authz.Read, authz.Write, authz.Delete}
	for _, r := range []string{authz.Tenants, authz.Policies, authz.Buckets, authz.Actuator, authz.Swagger, authz.Proxy} {
		for _, a := range rwd {
			ids := []string{admin}
			if r == authz.Proxy || (r == authz.Buckets && a == authz.Read) {
				ids = append(ids, nodes...)
			}
			grant(r, a, ids...)
		}
	}
	grant(authz.SiteToSite, authz.Read, append([]string{admin}, nodes...)...)
	if len(nodes) > 0 {
		grant("/data-transfer/input-ports", authz.Write, nodes...)
		grant("/data-transfer/output-ports", authz.Write, nodes...)
	}
	return seed
}

// seedSecurity proposes the initial policies until the cluster takes them (Apply
// creates only what is missing, so every node may propose them at every
// start).
func seedSecurity(ctx context.Context, node *cluster.Node, admin string, nodes []string, log *slog.Logger) {
	for wait := 200 * time.Millisecond; ; wait = min(wait*2, 10*time.Second) {
		err := node.ProposeAnywhere(ctx, seedPolicies(admin, nodes), nil)
		if err == nil {
			log.Info("initial admin and node identities are in the policies", "admin", admin, "nodes", len(nodes))
			return
		}
		log.Warn("cannot seed the initial policies yet; retrying", "err", err, "retryIn", wait)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// loginOptions connect package login to the node.
func loginOptions(cfg Config, sec *security, node *cluster.Node, st *store.Store, log *slog.Logger) (login.Options, error) {
	o := login.Options{TTL: cfg.TokenTTL, Log: log,
		Keys: func(ctx context.Context) ([]tokens.Key, error) {
			// Current keys and revocations: a token logged out on any
			// node is refused here once the logout returned.
			if err := node.RequestBarrier(ctx); err != nil {
				return nil, err
			}
			var keys []tokens.Key
			err := st.Read(func(tx *store.Tx) (err error) {
				keys, err = tokens.Keys(tx.Bolt())
				return err
			})
			return keys, err
		},
		Revoked: func(id string) bool {
			revoked := false
			_ = st.Read(func(tx *store.Tx) error {
				revoked = tokens.Revoked(tx.Bolt(), id)
				return nil
			})
			return revoked
		},
		Propose: func(ctx context.Context, c command.Command) error { return node.ProposeAnywhere(ctx, c, nil) },
	}
	if cfg.LDAP.URL != "" {
		if err := cfg.LDAP.Check(); err != nil {
			return o, err
		}
		l := cfg.LDAP
		o.LDAP = &l
	}
	if cfg.OIDC.Issuer != "" {
		if cfg.OIDC.ClientID == "" {
			return o, errors.New("--oidc-issuer needs --oidc-client-id (and --oidc-client-secret)")
		}
		oc := cfg.OIDC
		oc.RedirectBase = strings.TrimRight(cfg.Advertise, "/")
		o.OIDC = &oc
	}
	var err error
	o.Mappings, err = parseMappings(cfg.LoginMappings)
	return o, err
}

// rotateKeys adds a signing key when there is none or the newest is older
// than every (default 24 h). Nodes may race; the extra key is harmless
// (Apply keeps the newest tokens.MaxKeys).
func rotateKeys(ctx context.Context, node *cluster.Node, st *store.Store, every time.Duration, log *slog.Logger) {
	if every <= 0 {
		every = 24 * time.Hour
	}
	check := min(every/4, time.Minute)
	for wait := 200 * time.Millisecond; ; {
		var newest int64
		_ = st.Read(func(tx *store.Tx) error {
			keys, err := tokens.Keys(tx.Bolt())
			if len(keys) > 0 {
				newest = keys[0].Created
			}
			return err
		})
		next := check
		if time.Since(time.UnixMilli(newest)) >= every {
			secret := make([]byte, 32)
			if _, err := rand.Read(secret); err == nil {
				err = node.ProposeAnywhere(ctx, &command.AddSigningKey{ID: uuid.NewString(), Secret: secret, At: time.Now().UnixMilli()}, nil)
				if err != nil {
					log.Warn("cannot add a token signing key yet; retrying", "err", err, "retryIn", wait)
					next, wait = wait, min(wait*2, 10*time.Second)
				} else {
					log.Info("added a token signing key")
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(next):
		}
	}
}

// syncLDAPGroups copies the directory's groups and their members into the
// registry's user groups every interval, on the leader: a missing user or
// group is created, a group's members are set to the directory's. Groups
// that disappear from the directory are left in place (policies may name
// them; an admin deletes them). The changes are ordinary replicated writes
// by "ldap-sync" (in the audit trail).
func syncLDAPGroups(ctx context.Context, node *cluster.Node, svc *registry.Service, l ldapauth.Config, gs ldapauth.GroupSearch,
	mappings []identity.Mapping, every time.Duration, log *slog.Logger) {
	if every <= 0 {
		every = 5 * time.Minute
	}
	caller := registry.Caller{Identity: "ldap-sync"}
	for {
		if node.IsLeader() {
			if err := syncGroupsOnce(ctx, svc, l, gs, mappings, caller); err != nil {
				log.Warn("LDAP group sync failed; retrying at the next interval", "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
	}
}

func syncGroupsOnce(ctx context.Context, svc *registry.Service, l ldapauth.Config, gs ldapauth.GroupSearch, mappings []identity.Mapping, caller registry.Caller) error {
	groups, err := l.Groups(gs)
	if err != nil {
		return err
	}
	for _, g := range groups {
		state, err := svc.Tenants()
		if err != nil {
			return err
		}
		var members []model.Tenant
		var want []string
		for _, m := range g.Members {
			who := identity.Map(m, mappings)
			u, ok := state.UserByIdentity(who)
			id := u.ID
			if !ok {
				created, err := svc.CreateUser(ctx, caller, &model.User{Identity: &who})
				if err != nil {
					return fmt.Errorf("create user %s: %w", who, err)
				}
				id = *created.Identifier
			}
			members = append(members, model.Tenant{Identifier: &id})
			want = append(want, id)
		}
		name := g.Name
		var existing *tenants.Group
		for _, cur := range state.Groups {
			if cur.Identity == name {
				existing = &cur
				break
			}
		}
		switch {
		case existing == nil:
			if _, err := svc.CreateUserGroup(ctx, caller, &model.UserGroup{Identity: &name, Users: members}); err != nil {
				return fmt.Errorf("create group %s: %w", name, err)
			}
		case !sameSet(existing.Users, want):
			id, v := existing.ID, existing.Rev.Version
			if _, err := svc.UpdateUserGroup(ctx, caller, id, &model.UserGroup{Identifier: &id, Identity: &name, Users: members,
				Revision: &model.RevisionInfo{Version: &v}}); err != nil {
				return fmt.Errorf("update group %s: %w", name, err)
			}
		}
	}
	return nil
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	seen := map[string]int{}
	for _, x := range a {
		seen[x]++
	}
	for _, x := range b {
		if seen[x]--; seen[x] < 0 {
			return false
		}
	}
	return true
}

func parseMappings(specs []string) ([]identity.Mapping, error) {
	var out []identity.Mapping
	for _, m := range specs {
		im, err := identity.ParseMapping(m)
		if err != nil {
			return nil, err
		}
		out = append(out, im)
	}
	return out, nil
}
