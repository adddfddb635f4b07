package registry

import (
	"cmp"
	"context"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"weak"

	"github.com/weir-nifi/weir/internal/command"
	"github.com/weir-nifi/weir/internal/model"
	"github.com/weir-nifi/weir/internal/store"
	"github.com/weir-nifi/weir/internal/tenants"
)

// Users, groups and access policies, as NiFi Registry's StandardServiceFacade
// and AuthorizationService answer them with a managed, configurable
// authorizer: checks in NiFi's order, then a command the state machine
// re-checks (package tenants). Every tenant and policy is configurable.

// Entity type names of NiFi's revision messages.
const (
	userEntity   = "User"
	groupEntity  = "User Group"
	policyEntity = "Access Policy"
)

// top-level resources whose permissions a tenant's resourcePermissions
// report (AuthorizationService.getTopLevelPermissions).
var topLevel = []string{"/buckets", "/policies", "/tenants", "/proxy"}

// tenantCache keeps the last State loaded per Service, keyed by the store's
// removal epoch (a restore moves it) and the tenants version.
type tenantCache struct {
	epoch uint64
	st    *tenants.State
}

var tenantCaches sync.Map // weak.Pointer[Service] → *atomic.Pointer[tenantCache]

func (s *Service) tenantCache() *atomic.Pointer[tenantCache] {
	k := weak.Make(s)
	if v, ok := tenantCaches.Load(k); ok {
		return v.(*atomic.Pointer[tenantCache])
	}
	v, loaded := tenantCaches.LoadOrStore(k, new(atomic.Pointer[tenantCache]))
	if !loaded {
		runtime.AddCleanup(s, func(k weak.Pointer[Service]) { tenantCaches.Delete(k) }, k)
	}
	return v.(*atomic.Pointer[tenantCache])
}

// Tenants returns every user, group and policy as replicated on this node.
// The State is shared (cached until the next tenants change): callers must
// not modify it.
func (s *Service) Tenants() (*tenants.State, error) {
	cache := s.tenantCache()
	var out *tenants.State
	err := s.read(func(tx *store.Tx) error {
		v := tenants.Version(tx.Bolt())
		if c := cache.Load(); c != nil && c.epoch == tx.RemovalEpoch() && c.st.Version == v {
			out = c.st
			return nil
		}
		st, err := tenants.Load(tx.Bolt())
		if err != nil {
			return err
		}
		cache.Store(&tenantCache{epoch: tx.RemovalEpoch(), st: st})
		out = st
		return nil
	})
	return out, err
}

// ---- rendering (AuthorizationService.*ToDTO)

func (s *Service) tenantRevision(r tenants.Revision, written bool) *model.RevisionInfo {
	if !s.opts.Revisions {
		return model.ZeroRevision()
	}
	v := r.Version
	out := &model.RevisionInfo{Version: &v}
	if r.ClientID != "" {
		out.ClientID = model.Str(r.ClientID)
	}
	if written && r.LastModifier != "" {
		out.LastModifier = model.Str(r.LastModifier)
	}
	return out
}

// deletedRevision is what a delete answers: NiFi drops the revision of a
// deleted entity (version 0 when revisions are off).
func (s *Service) deletedRevision() *model.RevisionInfo {
	if !s.opts.Revisions {
		return model.ZeroRevision()
	}
	return nil
}

func userTenant(u tenants.User) model.Tenant {
	return model.Tenant{Configurable: model.Bool(true), Identifier: model.Str(u.ID), Identity: model.Str(u.Identity)}
}

func groupTenant(g tenants.Group) model.Tenant {
	return model.Tenant{Configurable: model.Bool(true), Identifier: model.Str(g.ID), Identity: model.Str(g.Identity)}
}

func policySummary(p tenants.Policy) model.AccessPolicySummary {
	return model.AccessPolicySummary{Action: model.Str(p.Action), Configurable: model.Bool(true),
		Identifier: model.Str(p.ID), Resource: model.Str(p.Resource)}
}

func sortTenants(ts []model.Tenant) []model.Tenant {
	slices.SortFunc(ts, func(a, b model.Tenant) int {
		return cmp.Or(cmp.Compare(*a.Identity, *b.Identity), cmp.Compare(*a.Identifier, *b.Identifier))
	})
	return ts
}

func sortedPolicies(ps []tenants.Policy) []tenants.Policy {
	slices.SortFunc(ps, comparePolicies)
	return ps
}

// comparePolicies orders policies by resource, action (as NiFi lists
// them), then id.
func comparePolicies(a, b tenants.Policy) int {
	return cmp.Or(cmp.Compare(a.Resource, b.Resource), cmp.Compare(actionRank(a.Action), actionRank(b.Action)),
		cmp.Compare(a.ID, b.ID))
}

func actionRank(a string) int { return slices.Index(tenants.Actions, a) }

func summaries(ps []tenants.Policy) []model.AccessPolicySummary {
	out := []model.AccessPolicySummary{}
	for _, p := range sortedPolicies(ps) {
		out = append(out, policySummary(p))
	}
	return out
}

// permissionsOf is getTopLevelPermissions(tenantIdentifier): which of the
// top-level policies name the tenant itself (not through a group).
func permissionsOf(st *tenants.State, id string) *model.ResourcePermissions {
	perms := make([]*model.Permissions, len(topLevel))
	top := &model.Permissions{}
	for i, res := range topLevel {
		p := &model.Permissions{}
		in := func(action string) bool {
			pol, ok := st.PolicyFor(res, action)
			return ok && (slices.Contains(pol.Users, id) || slices.Contains(pol.Groups, id))
		}
		p.CanRead, p.CanWrite, p.CanDelete = in("read"), in("write"), in("delete")
		top.CanRead = top.CanRead || p.CanRead
		top.CanWrite = top.CanWrite || p.CanWrite
		top.CanDelete = top.CanDelete || p.CanDelete
		perms[i] = p
	}
	return &model.ResourcePermissions{AnyTopLevelResource: top, Buckets: perms[0], Policies: perms[1], Tenants: perms[2], Proxy: perms[3]}
}

func (s *Service) renderUser(st *tenants.State, u tenants.User, rev *model.RevisionInfo) *model.User {
	groups := st.GroupsOf(u.ID)
	inGroup := map[string]bool{}
	ts := []model.Tenant{}
	for _, g := range groups {
		inGroup[g.ID] = true
		ts = append(ts, groupTenant(g))
	}
	var ps []tenants.Policy
	for _, p := range st.Policies {
		if slices.Contains(p.Users, u.ID) || slices.ContainsFunc(p.Groups, func(g string) bool { return inGroup[g] }) {
			ps = append(ps, p)
		}
	}
	return &model.User{
		AccessPolicies:      summaries(ps),
		Configurable:        model.Bool(true),
		Identifier:          model.Str(u.ID),
		Identity:            model.Str(u.Identity),
		ResourcePermissions: permissionsOf(st, u.ID),
		Revision:            rev,
		UserGroups:          sortTenants(ts),
	}
}

func (s *Service) renderGroup(st *tenants.State, g tenants.Group, rev *model.RevisionInfo) *model.UserGroup {
	ts := []model.Tenant{}
	for _, id := range g.Users {
		if u, ok := st.Users[id]; ok {
			ts = append(ts, userTenant(u))
		}
	}
	var ps []tenants.Policy
	for _, p := range st.Policies {
		if slices.Contains(p.Groups, g.ID) {
			ps = append(ps, p)
		}
	}
	return &model.UserGroup{
		AccessPolicies:      summaries(ps),
		Configurable:        model.Bool(true),
		Identifier:          model.Str(g.ID),
		Identity:            model.Str(g.Identity),
		ResourcePermissions: permissionsOf(st, g.ID),
		Revision:            rev,
		Users:               sortTenants(ts),
	}
}

func (s *Service) renderPolicy(st *tenants.State, p tenants.Policy, rev *model.RevisionInfo) *model.AccessPolicy {
	users, groups := []model.Tenant{}, []model.Tenant{}
	for _, id := range p.Users {
		if u, ok := st.Users[id]; ok {
			users = append(users, userTenant(u))
		}
	}
	for _, id := range p.Groups {
		if g, ok := st.Groups[id]; ok {
			groups = append(groups, groupTenant(g))
		}
	}
	return &model.AccessPolicy{
		Action:       model.Str(p.Action),
		Configurable: model.Bool(true),
		Identifier:   model.Str(p.ID),
		Resource:     model.Str(p.Resource),
		Revision:     rev,
		UserGroups:   sortTenants(groups),
		Users:        sortTenants(users),
	}
}

// ---- kinds

// tenantKind is what users, groups and policies share in the service: a
// table of the State, NiFi's entity type name (in revision messages and in
// "<entity> cannot be null", "<entity> identifier is required" and
// "<entity> identifier cannot be specified when creating a new <entity,
// lower case>."), the order of a list and the rendering.
type tenantKind[E, M any] struct {
	entity   string
	notFound string
	table    func(*tenants.State) map[string]E
	rev      func(E) tenants.Revision
	compare  func(a, b E) int
	body     func(*M) (id *string, rev *model.RevisionInfo)
	render   func(s *Service, st *tenants.State, e E, rev *model.RevisionInfo) *M
}

var (
	userKind = &tenantKind[tenants.User, model.User]{entity: userEntity, notFound: tenants.MsgUserNotFound,
		table:   func(st *tenants.State) map[string]tenants.User { return st.Users },
		rev:     func(u tenants.User) tenants.Revision { return u.Rev },
		compare: func(a, b tenants.User) int { return compareTenants(a.Identity, a.ID, b.Identity, b.ID) },
		body:    func(u *model.User) (*string, *model.RevisionInfo) { return u.Identifier, u.Revision },
		render:  (*Service).renderUser}
	groupKind = &tenantKind[tenants.Group, model.UserGroup]{entity: groupEntity, notFound: tenants.MsgGroupNotFound,
		table:   func(st *tenants.State) map[string]tenants.Group { return st.Groups },
		rev:     func(g tenants.Group) tenants.Revision { return g.Rev },
		compare: func(a, b tenants.Group) int { return compareTenants(a.Identity, a.ID, b.Identity, b.ID) },
		body:    func(g *model.UserGroup) (*string, *model.RevisionInfo) { return g.Identifier, g.Revision },
		render:  (*Service).renderGroup}
	policyKind = &tenantKind[tenants.Policy, model.AccessPolicy]{entity: policyEntity, notFound: tenants.MsgPolicyNotFound,
		table:   func(st *tenants.State) map[string]tenants.Policy { return st.Policies },
		rev:     func(p tenants.Policy) tenants.Revision { return p.Rev },
		compare: comparePolicies,
		body:    func(p *model.AccessPolicy) (*string, *model.RevisionInfo) { return p.Identifier, p.Revision },
		render:  (*Service).renderPolicy}
)

// compareTenants orders users and groups by identity, then id.
func compareTenants(identityA, idA, identityB, idB string) int {
	return cmp.Or(cmp.Compare(identityA, identityB), cmp.Compare(idA, idB))
}

// show renders an entity with its revision (written: as a write answers it).
func (k *tenantKind[E, M]) show(s *Service, st *tenants.State, e E, written bool) *M {
	return k.render(s, st, e, s.tenantRevision(k.rev(e), written))
}

// find loads the state and the entity with id (404 when there is none).
func (k *tenantKind[E, M]) find(s *Service, id string) (*tenants.State, E, error) {
	var e E
	st, err := s.Tenants()
	if err != nil {
		return nil, e, err
	}
	e, ok := k.table(st)[id]
	if !ok {
		return nil, e, model.NotFound(k.notFound)
	}
	return st, e, nil
}

// list renders every entity of the kind, in its order.
func (k *tenantKind[E, M]) list(s *Service) ([]*M, error) {
	st, err := s.Tenants()
	if err != nil {
		return nil, err
	}
	es := make([]E, 0, len(k.table(st)))
	for _, e := range k.table(st) {
		es = append(es, e)
	}
	slices.SortFunc(es, k.compare)
	out := make([]*M, 0, len(es))
	for _, e := range es {
		out = append(out, k.show(s, st, e, false))
	}
	return out, nil
}

// get renders one entity.
func (k *tenantKind[E, M]) get(s *Service, id string) (*M, error) {
	st, e, err := k.find(s, id)
	if err != nil {
		return nil, err
	}
	return k.show(s, st, e, false), nil
}

// ---- reads

// ListUsers returns every user, ordered by identity.
func (s *Service) ListUsers() ([]*model.User, error) { return userKind.list(s) }

// GetUser returns one user.
func (s *Service) GetUser(id string) (*model.User, error) { return userKind.get(s, id) }

// ListUserGroups returns every group, ordered by identity.
func (s *Service) ListUserGroups() ([]*model.UserGroup, error) { return groupKind.list(s) }

// GetUserGroup returns one group.
func (s *Service) GetUserGroup(id string) (*model.UserGroup, error) { return groupKind.get(s, id) }

// ListPolicies returns every access policy, ordered by resource and action.
func (s *Service) ListPolicies() ([]*model.AccessPolicy, error) { return policyKind.list(s) }

// GetPolicy returns one access policy.
func (s *Service) GetPolicy(id string) (*model.AccessPolicy, error) { return policyKind.get(s, id) }

// GetPolicyFor returns the policy for an action (any case) on a resource.
func (s *Service) GetPolicyFor(action, resource string) (*model.AccessPolicy, error) {
	action = strings.ToLower(action)
	if err := tenants.CheckAction(action); err != nil {
		return nil, err
	}
	st, err := s.Tenants()
	if err != nil {
		return nil, err
	}
	p, ok := st.PolicyFor(resource, action)
	if !ok {
		return nil, model.NotFound("No policy found for action='" + action + "', resource='" + resource + "'")
	}
	return policyKind.show(s, st, p, false), nil
}

// ---- writes

// tenantIDs turns the tenants of a request body into identifiers (NiFi
// keeps only their identifiers) and checks they name existing entities.
func tenantIDs(ts []model.Tenant, exists func(string) bool, what string) ([]string, error) {
	var out []string
	for _, t := range ts {
		if t.Identifier == nil {
			continue
		}
		if !exists(*t.Identifier) {
			return nil, model.Invalid(fmt.Sprintf("Unable to find %s with id '%s'.", what, *t.Identifier))
		}
		out = append(out, *t.Identifier)
	}
	return out, nil
}

// userIDs and groupIDs are tenantIDs for a body's users and user groups.
func userIDs(st *tenants.State, ts []model.Tenant) ([]string, error) {
	return tenantIDs(ts, func(id string) bool { _, ok := st.Users[id]; return ok }, "user")
}

func groupIDs(st *tenants.State, ts []model.Tenant) ([]string, error) {
	return tenantIDs(ts, func(id string) bool { _, ok := st.Groups[id]; return ok }, "user group")
}

// stateResult unwraps what a tenants command answered.
func stateResult(v any, err error) (*tenants.State, error) {
	if err != nil {
		return nil, err
	}
	st, ok := v.(*tenants.State)
	if !ok || st == nil {
		return nil, model.Errorf(model.KindInternal, "unexpected result %T for a tenants command", v)
	}
	return st, nil
}

// checkCurrent refuses a claim that is out of date for an update (400);
// a nil claim (revisions off) passes.
func (s *Service) checkCurrent(rev tenants.Revision, c *command.Claim, entityType, id string) error {
	if c == nil {
		return nil
	}
	if rev.Version != c.Version && (c.ClientID == nil || rev.ClientID == "" || *c.ClientID != rev.ClientID) {
		return model.Invalid(fmt.Sprintf("The %s you attempted to update with id '%s' is out of date with the server. You may need to refresh your client and try again.", entityType, id))
	}
	return nil
}

// createClaim starts a create: a body is required, then its revision
// claim, then it must carry no identifier.
func (k *tenantKind[E, M]) createClaim(s *Service, in *M) (*command.Claim, error) {
	if in == nil {
		return nil, model.Invalid(k.entity + " cannot be null")
	}
	id, rev := k.body(in)
	claim, err := s.createClaim(rev, k.entity)
	if err != nil {
		return nil, err
	}
	if id != nil {
		return nil, model.Invalid(k.entity + " identifier cannot be specified when creating a new " + strings.ToLower(k.entity) + ".")
	}
	return claim, nil
}

// update is an update in NiFi's order: a body is required, its revision
// claim must parse, the entity must exist (404); then build checks the body
// and makes the command. When build refuses the body (a problem the state
// machine would find before it looks at the revision), an out-of-date
// revision is reported first (400), then the body's problem.
func (k *tenantKind[E, M]) update(ctx context.Context, s *Service, id string, in *M,
	build func(cur *tenants.State, claim *command.Claim) (command.Command, error)) (*M, error) {
	if in == nil {
		return nil, model.Invalid(k.entity + " cannot be null")
	}
	_, rev := k.body(in)
	claim, err := s.claimFor(rev)
	if err != nil {
		return nil, err
	}
	cur, e, err := k.find(s, id)
	if err != nil {
		return nil, err
	}
	c, err := build(cur, claim)
	if err != nil {
		if cerr := s.checkCurrent(k.rev(e), claim, k.entity, id); cerr != nil {
			return nil, cerr
		}
		return nil, err
	}
	return k.propose(ctx, s, id, c)
}

// remove is a delete: an identifier, a revision claim, an existing entity
// (404), then the command; the answer has no revision.
func (k *tenantKind[E, M]) remove(ctx context.Context, s *Service, id string, rev RevisionParam,
	cmd func(claim *command.Claim) command.Command) (*M, error) {
	if strings.TrimSpace(id) == "" {
		return nil, model.Invalid(k.entity + " identifier is required")
	}
	claim, err := s.deleteClaim(rev)
	if err != nil {
		return nil, err
	}
	if _, _, err := k.find(s, id); err != nil {
		return nil, err
	}
	st, err := stateResult(s.p.Propose(ctx, cmd(claim)))
	if err != nil {
		return nil, err
	}
	return k.render(s, st, k.table(st)[id], s.deletedRevision()), nil
}

// propose proposes a create or update of entity id and renders the result.
func (k *tenantKind[E, M]) propose(ctx context.Context, s *Service, id string, c command.Command) (*M, error) {
	st, err := stateResult(s.p.Propose(ctx, c))
	if err != nil {
		return nil, err
	}
	return k.show(s, st, k.table(st)[id], true), nil
}

// CreateUser creates a user (StandardServiceFacade.createUser).
func (s *Service) CreateUser(ctx context.Context, caller Caller, in *model.User) (*model.User, error) {
	claim, err := userKind.createClaim(s, in)
	if err != nil {
		return nil, err
	}
	if blank(in.Identity) {
		return nil, model.Invalid("User identity must be specified when creating a new user.")
	}
	id := s.opts.NewID()
	return userKind.propose(ctx, s, id, &command.CreateUser{ID: id, Identity: *in.Identity, Rev: claim, Actor: caller.Identity})
}

// UpdateUser changes a user's identity (StandardServiceFacade.updateUser).
func (s *Service) UpdateUser(ctx context.Context, caller Caller, id string, in *model.User) (*model.User, error) {
	return userKind.update(ctx, s, id, in, func(_ *tenants.State, claim *command.Claim) (command.Command, error) {
		if blank(in.Identity) {
			return nil, model.Invalid("User identity must be specified when updating a user.")
		}
		return &command.UpdateUser{ID: id, Identity: *in.Identity, Rev: claim, Actor: caller.Identity}, nil
	})
}

// DeleteUser removes a user from the registry, its groups and policies.
func (s *Service) DeleteUser(ctx context.Context, caller Caller, id string, rev RevisionParam) (*model.User, error) {
	return userKind.remove(ctx, s, id, rev, func(claim *command.Claim) command.Command {
		return &command.DeleteUser{ID: id, Rev: claim, Actor: caller.Identity}
	})
}

// CreateUserGroup creates a group (StandardServiceFacade.createUserGroup).
func (s *Service) CreateUserGroup(ctx context.Context, caller Caller, in *model.UserGroup) (*model.UserGroup, error) {
	claim, err := groupKind.createClaim(s, in)
	if err != nil {
		return nil, err
	}
	if blank(in.Identity) {
		return nil, model.Invalid("User group identity must be specified when creating a new group.")
	}
	cur, err := s.Tenants()
	if err != nil {
		return nil, err
	}
	users, err := userIDs(cur, in.Users)
	if err != nil {
		return nil, err
	}
	id := s.opts.NewID()
	return groupKind.propose(ctx, s, id, &command.CreateGroup{ID: id, Identity: *in.Identity, Users: users, Rev: claim, Actor: caller.Identity})
}

// UpdateUserGroup replaces a group's identity and members.
func (s *Service) UpdateUserGroup(ctx context.Context, caller Caller, id string, in *model.UserGroup) (*model.UserGroup, error) {
	return groupKind.update(ctx, s, id, in, func(cur *tenants.State, claim *command.Claim) (command.Command, error) {
		users, err := userIDs(cur, in.Users)
		if err != nil {
			return nil, err
		}
		if blank(in.Identity) {
			return nil, model.Invalid("User group identity must be specified when updating a group.")
		}
		return &command.UpdateGroup{ID: id, Identity: *in.Identity, Users: users, Rev: claim, Actor: caller.Identity}, nil
	})
}

// DeleteUserGroup removes a group from the registry and its policies.
func (s *Service) DeleteUserGroup(ctx context.Context, caller Caller, id string, rev RevisionParam) (*model.UserGroup, error) {
	return groupKind.remove(ctx, s, id, rev, func(claim *command.Claim) command.Command {
		return &command.DeleteGroup{ID: id, Rev: claim, Actor: caller.Identity}
	})
}

// policyMembers turns a policy body's users, then its user groups, into
// identifiers.
func policyMembers(cur *tenants.State, in *model.AccessPolicy) (users, groups []string, err error) {
	if users, err = userIDs(cur, in.Users); err != nil {
		return nil, nil, err
	}
	if groups, err = groupIDs(cur, in.UserGroups); err != nil {
		return nil, nil, err
	}
	return users, groups, nil
}

// CreatePolicy creates an access policy (StandardServiceFacade and
// AuthorizationService.createAccessPolicy).
func (s *Service) CreatePolicy(ctx context.Context, caller Caller, in *model.AccessPolicy) (*model.AccessPolicy, error) {
	claim, err := policyKind.createClaim(s, in)
	if err != nil {
		return nil, err
	}
	if in.Resource == nil {
		return nil, model.Invalid("Resource must be specified when creating a new access policy.")
	}
	action := "null"
	if in.Action != nil {
		action = strings.ToLower(*in.Action)
	}
	if err := tenants.CheckAction(action); err != nil {
		if in.Action != nil {
			return nil, model.Invalid("Action '" + *in.Action + "' is invalid. Must be one of [read, write, delete]")
		}
		return nil, err
	}
	if err := tenants.CheckResource(*in.Resource); err != nil {
		return nil, err
	}
	cur, err := s.Tenants()
	if err != nil {
		return nil, err
	}
	if _, ok := cur.PolicyFor(*in.Resource, action); ok {
		return nil, model.Conflict(fmt.Sprintf("Found multiple policies for '%s' with '%s'.", *in.Resource, action))
	}
	users, groups, err := policyMembers(cur, in)
	if err != nil {
		return nil, err
	}
	id := s.opts.NewID()
	return policyKind.propose(ctx, s, id, &command.CreatePolicy{ID: id, Resource: *in.Resource, Action: action,
		Users: users, Groups: groups, Rev: claim, Actor: caller.Identity})
}

// UpdatePolicy replaces a policy's users and groups; its resource and
// action stay (AuthorizationService.updateAccessPolicy).
func (s *Service) UpdatePolicy(ctx context.Context, caller Caller, id string, in *model.AccessPolicy) (*model.AccessPolicy, error) {
	return policyKind.update(ctx, s, id, in, func(cur *tenants.State, claim *command.Claim) (command.Command, error) {
		users, groups, err := policyMembers(cur, in)
		if err != nil {
			return nil, err
		}
		return &command.UpdatePolicy{ID: id, Users: users, Groups: groups, Rev: claim, Actor: caller.Identity}, nil
	})
}

// DeletePolicy removes an access policy.
func (s *Service) DeletePolicy(ctx context.Context, caller Caller, id string, rev RevisionParam) (*model.AccessPolicy, error) {
	return policyKind.remove(ctx, s, id, rev, func(claim *command.Claim) command.Command {
		return &command.DeletePolicy{ID: id, Rev: claim, Actor: caller.Identity}
	})
}

// SeedSecurity proposes the users and policies a secured registry starts
// with (see command.SeedSecurity). Missing identifiers and the time are
// filled in here; applying it again changes nothing.
func (s *Service) SeedSecurity(ctx context.Context, seed command.SeedSecurity) error {
	c := &command.SeedSecurity{At: seed.At, Users: slices.Clone(seed.Users), Policies: slices.Clone(seed.Policies)}
	if c.At == 0 {
		c.At = s.now()
	}
	for i := range c.Users {
		if c.Users[i].ID == "" {
			c.Users[i].ID = s.opts.NewID()
		}
	}
	for i := range c.Policies {
		if c.Policies[i].ID == "" {
			c.Policies[i].ID = s.opts.NewID()
		}
	}
	_, err := s.p.Propose(ctx, c)
	return err
}
