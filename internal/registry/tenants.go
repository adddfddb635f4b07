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
	slices.SortFunc(ps, func(a, b tenants.Policy) int {
		return cmp.Or(cmp.Compare(a.Resource, b.Resource), cmp.Compare(actionRank(a.Action), actionRank(b.Action)),
			cmp.Compare(a.ID, b.ID))
	})
	return ps
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

// ---- reads

// ListUsers returns every user, ordered by identity.
func (s *Service) ListUsers() ([]*model.User, error) {
	st, err := s.Tenants()
	if err != nil {
		return nil, err
	}
	us := make([]tenants.User, 0, len(st.Users))
	for _, u := range st.Users {
		us = append(us, u)
	}
	slices.SortFunc(us, func(a, b tenants.User) int {
		return cmp.Or(cmp.Compare(a.Identity, b.Identity), cmp.Compare(a.ID, b.ID))
	})
	out := make([]*model.User, 0, len(us))
	for _, u := range us {
		out = append(out, s.renderUser(st, u, s.tenantRevision(u.Rev, false)))
	}
	return out, nil
}

// GetUser returns one user.
func (s *Service) GetUser(id string) (*model.User, error) {
	st, err := s.Tenants()
	if err != nil {
		return nil, err
	}
	u, ok := st.Users[id]
	if !ok {
		return nil, model.NotFound(tenants.MsgUserNotFound)
	}
	return s.renderUser(st, u, s.tenantRevision(u.Rev, false)), nil
}

// ListUserGroups returns every group, ordered by identity.
func (s *Service) ListUserGroups() ([]*model.UserGroup, error) {
	st, err := s.Tenants()
	if err != nil {
		return nil, err
	}
	gs := make([]tenants.Group, 0, len(st.Groups))
	for _, g := range st.Groups {
		gs = append(gs, g)
	}
	slices.SortFunc(gs, func(a, b tenants.Group) int {
		return cmp.Or(cmp.Compare(a.Identity, b.Identity), cmp.Compare(a.ID, b.ID))
	})
	out := make([]*model.UserGroup, 0, len(gs))
	for _, g := range gs {
		out = append(out, s.renderGroup(st, g, s.tenantRevision(g.Rev, false)))
	}
	return out, nil
}

// GetUserGroup returns one group.
func (s *Service) GetUserGroup(id string) (*model.UserGroup, error) {
	st, err := s.Tenants()
	if err != nil {
		return nil, err
	}
	g, ok := st.Groups[id]
	if !ok {
		return nil, model.NotFound(tenants.MsgGroupNotFound)
	}
	return s.renderGroup(st, g, s.tenantRevision(g.Rev, false)), nil
}

// ListPolicies returns every access policy, ordered by resource and action.
func (s *Service) ListPolicies() ([]*model.AccessPolicy, error) {
	st, err := s.Tenants()
	if err != nil {
		return nil, err
	}
	ps := make([]tenants.Policy, 0, len(st.Policies))
	for _, p := range st.Policies {
		ps = append(ps, p)
	}
	out := make([]*model.AccessPolicy, 0, len(ps))
	for _, p := range sortedPolicies(ps) {
		out = append(out, s.renderPolicy(st, p, s.tenantRevision(p.Rev, false)))
	}
	return out, nil
}

// GetPolicy returns one access policy.
func (s *Service) GetPolicy(id string) (*model.AccessPolicy, error) {
	st, err := s.Tenants()
	if err != nil {
		return nil, err
	}
	p, ok := st.Policies[id]
	if !ok {
		return nil, model.NotFound(tenants.MsgPolicyNotFound)
	}
	return s.renderPolicy(st, p, s.tenantRevision(p.Rev, false)), nil
}

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
	return s.renderPolicy(st, p, s.tenantRevision(p.Rev, false)), nil
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

func (st *tenantsView) userExists(id string) bool  { _, ok := st.Users[id]; return ok }
func (st *tenantsView) groupExists(id string) bool { _, ok := st.Groups[id]; return ok }

type tenantsView struct{ *tenants.State }

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

// blankRevisionCheck gives NiFi's order for an update whose body the
// state machine would refuse before it looks at the revision: the entity
// must exist (404), the revision must be current (400), then the body's
// problem.
func (s *Service) checkCurrent(rev tenants.Revision, c *command.Claim, entityType, id string) error {
	if c == nil {
		return nil
	}
	if rev.Version != c.Version && (c.ClientID == nil || rev.ClientID == "" || *c.ClientID != rev.ClientID) {
		return model.Invalid(fmt.Sprintf("The %s you attempted to update with id '%s' is out of date with the server. You may need to refresh your client and try again.", entityType, id))
	}
	return nil
}

// CreateUser creates a user (StandardServiceFacade.createUser).
func (s *Service) CreateUser(ctx context.Context, caller Caller, in *model.User) (*model.User, error) {
	if in == nil {
		return nil, model.Invalid("User cannot be null")
	}
	claim, err := s.createClaim(in.Revision, userEntity)
	if err != nil {
		return nil, err
	}
	if in.Identifier != nil {
		return nil, model.Invalid("User identifier cannot be specified when creating a new user.")
	}
	if in.Identity == nil || blank(in.Identity) {
		return nil, model.Invalid("User identity must be specified when creating a new user.")
	}
	id := s.opts.NewID()
	st, err := stateResult(s.p.Propose(ctx, &command.CreateUser{ID: id, Identity: *in.Identity, Rev: claim, Actor: caller.Identity}))
	if err != nil {
		return nil, err
	}
	u := st.Users[id]
	return s.renderUser(st, u, s.tenantRevision(u.Rev, true)), nil
}

// UpdateUser changes a user's identity (StandardServiceFacade.updateUser).
func (s *Service) UpdateUser(ctx context.Context, caller Caller, id string, in *model.User) (*model.User, error) {
	if in == nil {
		return nil, model.Invalid("User cannot be null")
	}
	claim, err := s.claimFor(in.Revision)
	if err != nil {
		return nil, err
	}
	cur, err := s.Tenants()
	if err != nil {
		return nil, err
	}
	u, ok := cur.Users[id]
	if !ok {
		return nil, model.NotFound(tenants.MsgUserNotFound)
	}
	if in.Identity == nil || blank(in.Identity) {
		if err := s.checkCurrent(u.Rev, claim, userEntity, id); err != nil {
			return nil, err
		}
		return nil, model.Invalid("User identity must be specified when updating a user.")
	}
	st, err := stateResult(s.p.Propose(ctx, &command.UpdateUser{ID: id, Identity: *in.Identity, Rev: claim, Actor: caller.Identity}))
	if err != nil {
		return nil, err
	}
	u = st.Users[id]
	return s.renderUser(st, u, s.tenantRevision(u.Rev, true)), nil
}

// DeleteUser removes a user from the registry, its groups and policies.
func (s *Service) DeleteUser(ctx context.Context, caller Caller, id string, rev RevisionParam) (*model.User, error) {
	if strings.TrimSpace(id) == "" {
		return nil, model.Invalid("User identifier is required")
	}
	claim, err := s.deleteClaim(rev)
	if err != nil {
		return nil, err
	}
	if _, err := s.GetUser(id); err != nil {
		return nil, err
	}
	st, err := stateResult(s.p.Propose(ctx, &command.DeleteUser{ID: id, Rev: claim, Actor: caller.Identity}))
	if err != nil {
		return nil, err
	}
	return s.renderUser(st, st.Users[id], s.deletedRevision()), nil
}

// CreateUserGroup creates a group (StandardServiceFacade.createUserGroup).
func (s *Service) CreateUserGroup(ctx context.Context, caller Caller, in *model.UserGroup) (*model.UserGroup, error) {
	if in == nil {
		return nil, model.Invalid("User Group cannot be null")
	}
	claim, err := s.createClaim(in.Revision, groupEntity)
	if err != nil {
		return nil, err
	}
	if in.Identifier != nil {
		return nil, model.Invalid("User Group identifier cannot be specified when creating a new user group.")
	}
	if in.Identity == nil || blank(in.Identity) {
		return nil, model.Invalid("User group identity must be specified when creating a new group.")
	}
	cur, err := s.Tenants()
	if err != nil {
		return nil, err
	}
	v := &tenantsView{cur}
	users, err := tenantIDs(in.Users, v.userExists, "user")
	if err != nil {
		return nil, err
	}
	id := s.opts.NewID()
	st, err := stateResult(s.p.Propose(ctx, &command.CreateGroup{ID: id, Identity: *in.Identity, Users: users, Rev: claim, Actor: caller.Identity}))
	if err != nil {
		return nil, err
	}
	g := st.Groups[id]
	return s.renderGroup(st, g, s.tenantRevision(g.Rev, true)), nil
}

// UpdateUserGroup replaces a group's identity and members.
func (s *Service) UpdateUserGroup(ctx context.Context, caller Caller, id string, in *model.UserGroup) (*model.UserGroup, error) {
	if in == nil {
		return nil, model.Invalid("User Group cannot be null")
	}
	claim, err := s.claimFor(in.Revision)
	if err != nil {
		return nil, err
	}
	cur, err := s.Tenants()
	if err != nil {
		return nil, err
	}
	g, ok := cur.Groups[id]
	if !ok {
		return nil, model.NotFound(tenants.MsgGroupNotFound)
	}
	v := &tenantsView{cur}
	users, uerr := tenantIDs(in.Users, v.userExists, "user")
	if in.Identity == nil || blank(in.Identity) || uerr != nil {
		if err := s.checkCurrent(g.Rev, claim, groupEntity, id); err != nil {
			return nil, err
		}
		if uerr == nil {
			uerr = model.Invalid("User group identity must be specified when updating a group.")
		}
		return nil, uerr
	}
	st, err := stateResult(s.p.Propose(ctx, &command.UpdateGroup{ID: id, Identity: *in.Identity, Users: users, Rev: claim, Actor: caller.Identity}))
	if err != nil {
		return nil, err
	}
	g = st.Groups[id]
	return s.renderGroup(st, g, s.tenantRevision(g.Rev, true)), nil
}

// DeleteUserGroup removes a group from the registry and its policies.
func (s *Service) DeleteUserGroup(ctx context.Context, caller Caller, id string, rev RevisionParam) (*model.UserGroup, error) {
	if strings.TrimSpace(id) == "" {
		return nil, model.Invalid("User Group identifier is required")
	}
	claim, err := s.deleteClaim(rev)
	if err != nil {
		return nil, err
	}
	if _, err := s.GetUserGroup(id); err != nil {
		return nil, err
	}
	st, err := stateResult(s.p.Propose(ctx, &command.DeleteGroup{ID: id, Rev: claim, Actor: caller.Identity}))
	if err != nil {
		return nil, err
	}
	return s.renderGroup(st, st.Groups[id], s.deletedRevision()), nil
}

// CreatePolicy creates an access policy (StandardServiceFacade and
// AuthorizationService.createAccessPolicy).
func (s *Service) CreatePolicy(ctx context.Context, caller Caller, in *model.AccessPolicy) (*model.AccessPolicy, error) {
	if in == nil {
		return nil, model.Invalid("Access Policy cannot be null")
	}
	claim, err := s.createClaim(in.Revision, policyEntity)
	if err != nil {
		return nil, err
	}
	if in.Identifier != nil {
		return nil, model.Invalid("Access Policy identifier cannot be specified when creating a new access policy.")
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
	v := &tenantsView{cur}
	users, err := tenantIDs(in.Users, v.userExists, "user")
	if err != nil {
		return nil, err
	}
	groups, err := tenantIDs(in.UserGroups, v.groupExists, "user group")
	if err != nil {
		return nil, err
	}
	id := s.opts.NewID()
	st, err := stateResult(s.p.Propose(ctx, &command.CreatePolicy{ID: id, Resource: *in.Resource, Action: action,
		Users: users, Groups: groups, Rev: claim, Actor: caller.Identity}))
	if err != nil {
		return nil, err
	}
	p := st.Policies[id]
	return s.renderPolicy(st, p, s.tenantRevision(p.Rev, true)), nil
}

// UpdatePolicy replaces a policy's users and groups; its resource and
// action stay (AuthorizationService.updateAccessPolicy).
func (s *Service) UpdatePolicy(ctx context.Context, caller Caller, id string, in *model.AccessPolicy) (*model.AccessPolicy, error) {
	if in == nil {
		return nil, model.Invalid("Access Policy cannot be null")
	}
	claim, err := s.claimFor(in.Revision)
	if err != nil {
		return nil, err
	}
	cur, err := s.Tenants()
	if err != nil {
		return nil, err
	}
	p, ok := cur.Policies[id]
	if !ok {
		return nil, model.NotFound(tenants.MsgPolicyNotFound)
	}
	v := &tenantsView{cur}
	users, err := tenantIDs(in.Users, v.userExists, "user")
	if err == nil {
		var groups []string
		if groups, err = tenantIDs(in.UserGroups, v.groupExists, "user group"); err == nil {
			st, err := stateResult(s.p.Propose(ctx, &command.UpdatePolicy{ID: id, Users: users, Groups: groups, Rev: claim, Actor: caller.Identity}))
			if err != nil {
				return nil, err
			}
			p = st.Policies[id]
			return s.renderPolicy(st, p, s.tenantRevision(p.Rev, true)), nil
		}
	}
	if cerr := s.checkCurrent(p.Rev, claim, policyEntity, id); cerr != nil {
		return nil, cerr
	}
	return nil, err
}

// DeletePolicy removes an access policy.
func (s *Service) DeletePolicy(ctx context.Context, caller Caller, id string, rev RevisionParam) (*model.AccessPolicy, error) {
	if strings.TrimSpace(id) == "" {
		return nil, model.Invalid("Access Policy identifier is required")
	}
	claim, err := s.deleteClaim(rev)
	if err != nil {
		return nil, err
	}
	if _, err := s.GetPolicy(id); err != nil {
		return nil, err
	}
	st, err := stateResult(s.p.Propose(ctx, &command.DeletePolicy{ID: id, Rev: claim, Actor: caller.Identity}))
	if err != nil {
		return nil, err
	}
	return s.renderPolicy(st, st.Policies[id], s.deletedRevision()), nil
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
