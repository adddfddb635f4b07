package api

import (
	"context"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"weak"

	"github.com/weir-nifi/weir/internal/httpwire"
	"github.com/weir-nifi/weir/internal/model"
	"github.com/weir-nifi/weir/internal/registry"
)

// TenantService manages users, groups and access policies (implemented by
// *registry.Service). Authorization is the caller's: the handlers only
// follow TenantResource and AccessPolicyResource.
type TenantService interface {
	ListUsers() ([]*model.User, error)
	GetUser(id string) (*model.User, error)
	CreateUser(ctx context.Context, c registry.Caller, in *model.User) (*model.User, error)
	UpdateUser(ctx context.Context, c registry.Caller, id string, in *model.User) (*model.User, error)
	DeleteUser(ctx context.Context, c registry.Caller, id string, rev registry.RevisionParam) (*model.User, error)

	ListUserGroups() ([]*model.UserGroup, error)
	GetUserGroup(id string) (*model.UserGroup, error)
	CreateUserGroup(ctx context.Context, c registry.Caller, in *model.UserGroup) (*model.UserGroup, error)
	UpdateUserGroup(ctx context.Context, c registry.Caller, id string, in *model.UserGroup) (*model.UserGroup, error)
	DeleteUserGroup(ctx context.Context, c registry.Caller, id string, rev registry.RevisionParam) (*model.UserGroup, error)

	ListPolicies() ([]*model.AccessPolicy, error)
	GetPolicy(id string) (*model.AccessPolicy, error)
	GetPolicyFor(action, resource string) (*model.AccessPolicy, error)
	CreatePolicy(ctx context.Context, c registry.Caller, in *model.AccessPolicy) (*model.AccessPolicy, error)
	UpdatePolicy(ctx context.Context, c registry.Caller, id string, in *model.AccessPolicy) (*model.AccessPolicy, error)
	DeletePolicy(ctx context.Context, c registry.Caller, id string, rev registry.RevisionParam) (*model.AccessPolicy, error)
}

var _ TenantService = (*registry.Service)(nil)

// managedTenants holds, per API, the TenantService ManageTenants set. It is
// kept beside the API (weakly keyed, dropped with it) so that the /tenants
// and /policies handlers registered by New can consult it.
var managedTenants sync.Map // weak.Pointer[API] → *atomic.Pointer[tenantHolder]

type tenantHolder struct{ svc TenantService }

func (a *API) tenantSlot() *atomic.Pointer[tenantHolder] {
	k := weak.Make(a)
	if v, ok := managedTenants.Load(k); ok {
		return v.(*atomic.Pointer[tenantHolder])
	}
	v, loaded := managedTenants.LoadOrStore(k, new(atomic.Pointer[tenantHolder]))
	if !loaded {
		runtime.AddCleanup(a, func(k weak.Pointer[API]) { managedTenants.Delete(k) }, k)
	}
	return v.(*atomic.Pointer[tenantHolder])
}

// ManageTenants makes the /tenants and /policies endpoints manage users,
// groups and policies through svc, as NiFi Registry does with a managed,
// configurable authorizer (a secured registry). nil restores the answers
// of an unsecured registry (409: not managed).
func (a *API) ManageTenants(svc TenantService) {
	if svc == nil {
		a.tenantSlot().Store(nil)
		return
	}
	a.tenantSlot().Store(&tenantHolder{svc: svc})
}

// tenantService is the service ManageTenants set, or nil.
func (a *API) tenantService() TenantService {
	v, ok := managedTenants.Load(weak.Make(a))
	if !ok {
		return nil
	}
	if h := v.(*atomic.Pointer[tenantHolder]).Load(); h != nil {
		return h.svc
	}
	return nil
}

// created answers a create as generateCreatedResponse does: 201 with the
// new entity's absolute URI.
func created(w http.ResponseWriter, r *http.Request, path, id string, v any) error {
	w.Header().Set("Location", apiBaseURL(r)+path+"/"+encodeJerseyPath(id))
	return httpwire.WriteJSON(w, http.StatusCreated, v)
}

// collection is one managed collection: where its entities live (for a
// create's Location), the messages of an update's body check, and the
// service's calls.
type collection[T any] struct {
	path   string // below the API base, no leading slash
	noBody string // an update without a body
	what   string // the entity in an update's id mismatch message
	id     func(*T) *string
	list   func() ([]*T, error)
	get    func(id string) (*T, error)
	create func(ctx context.Context, c registry.Caller, in *T) (*T, error)
	update func(ctx context.Context, c registry.Caller, id string, in *T) (*T, error)
	del    func(ctx context.Context, c registry.Caller, id string, rev registry.RevisionParam) (*T, error)
}

// routes are the five handlers of a collection.
func (c collection[T]) routes(a *API) tenantRoutes {
	return tenantRoutes{
		list: func(w http.ResponseWriter, r *http.Request) error {
			vs, err := c.list()
			if err != nil {
				return err
			}
			return httpwire.WriteJSON(w, 200, vs)
		},
		get: func(w http.ResponseWriter, r *http.Request) error {
			v, err := c.get(r.PathValue("id"))
			if err != nil {
				return err
			}
			return httpwire.WriteJSON(w, 200, v)
		},
		create: func(w http.ResponseWriter, r *http.Request) error {
			var in T
			ok, err := a.decode(w, r, &in)
			if err != nil {
				return err
			}
			v, err := c.create(r.Context(), callerOf(r), orNil(ok, &in))
			if err != nil {
				return err
			}
			return created(w, r, c.path, model.Deref(c.id(v)), v)
		},
		update: func(w http.ResponseWriter, r *http.Request) error {
			var in T
			ok, err := a.decode(w, r, &in)
			if err != nil {
				return err
			}
			if err := checkBodyID(ok, c.id(&in), r.PathValue("id"), c.noBody, c.what); err != nil {
				return err
			}
			v, err := c.update(r.Context(), callerOf(r), r.PathValue("id"), &in)
			if err != nil {
				return err
			}
			return httpwire.WriteJSON(w, 200, v)
		},
		del: func(w http.ResponseWriter, r *http.Request) error {
			rev, err := revisionParams(r)
			if err != nil {
				return err
			}
			v, err := c.del(r.Context(), callerOf(r), r.PathValue("id"), rev)
			if err != nil {
				return err
			}
			return httpwire.WriteJSON(w, 200, v)
		},
	}
}

// tenantRoutes are the five handlers of one collection.
type tenantRoutes struct {
	list, get, create, update, del handlerFunc
}

// ---- managed /tenants (TenantResource)

func (a *API) managedUsers(svc TenantService) tenantRoutes {
	return collection[model.User]{
		path: "tenants/users", noBody: "User details must be specified when updating a user.", what: "user",
		id:   func(u *model.User) *string { return u.Identifier },
		list: svc.ListUsers, get: svc.GetUser, create: svc.CreateUser, update: svc.UpdateUser, del: svc.DeleteUser,
	}.routes(a)
}

func (a *API) managedGroups(svc TenantService) tenantRoutes {
	return collection[model.UserGroup]{
		path: "tenants/user-groups", noBody: "User group details must be specified to update a user group.", what: "user group",
		id:   func(g *model.UserGroup) *string { return g.Identifier },
		list: svc.ListUserGroups, get: svc.GetUserGroup, create: svc.CreateUserGroup, update: svc.UpdateUserGroup, del: svc.DeleteUserGroup,
	}.routes(a)
}

// ---- managed /policies (AccessPolicyResource)

func (a *API) managedPolicies(svc TenantService) tenantRoutes {
	return collection[model.AccessPolicy]{
		path: "policies", noBody: "Access policy details must be specified when updating a policy.", what: "policy",
		id:   func(p *model.AccessPolicy) *string { return p.Identifier },
		list: svc.ListPolicies, get: svc.GetPolicy, create: svc.CreatePolicy, update: svc.UpdatePolicy, del: svc.DeletePolicy,
	}.routes(a)
}

// policyForResource is getAccessPolicyForResource after the action was
// parsed: the resource is "/" + the rest of the path.
func policyForResource(svc TenantService, w http.ResponseWriter, r *http.Request) error {
	p, err := svc.GetPolicyFor(strings.ToLower(r.PathValue("action")), "/"+r.PathValue("resource"))
	if err != nil {
		return err
	}
	return httpwire.WriteJSON(w, 200, p)
}
