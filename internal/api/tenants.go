package api

import (
	"context"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"weak"

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
	return WriteJSON(w, http.StatusCreated, v)
}

// ---- managed /tenants (TenantResource)

func (a *API) managedUsers(svc TenantService) tenantRoutes {
	return tenantRoutes{
		list: func(w http.ResponseWriter, r *http.Request) error {
			us, err := svc.ListUsers()
			if err != nil {
				return err
			}
			return WriteJSON(w, 200, us)
		},
		get: func(w http.ResponseWriter, r *http.Request) error {
			u, err := svc.GetUser(r.PathValue("id"))
			if err != nil {
				return err
			}
			return WriteJSON(w, 200, u)
		},
		create: func(w http.ResponseWriter, r *http.Request) error {
			var in model.User
			ok, err := a.decode(w, r, &in)
			if err != nil {
				return err
			}
			u, err := svc.CreateUser(r.Context(), callerOf(r), orNil(ok, &in))
			if err != nil {
				return err
			}
			return created(w, r, "tenants/users", model.Deref(u.Identifier), u)
		},
		update: func(w http.ResponseWriter, r *http.Request) error {
			var in model.User
			ok, err := a.decode(w, r, &in)
			if err != nil {
				return err
			}
			if err := checkBodyID(ok, in.Identifier, r.PathValue("id"), "User details must be specified when updating a user.", "user"); err != nil {
				return err
			}
			u, err := svc.UpdateUser(r.Context(), callerOf(r), r.PathValue("id"), &in)
			if err != nil {
				return err
			}
			return WriteJSON(w, 200, u)
		},
		del: func(w http.ResponseWriter, r *http.Request) error {
			rev, err := revisionParams(r)
			if err != nil {
				return err
			}
			u, err := svc.DeleteUser(r.Context(), callerOf(r), r.PathValue("id"), rev)
			if err != nil {
				return err
			}
			return WriteJSON(w, 200, u)
		},
	}
}

func (a *API) managedGroups(svc TenantService) tenantRoutes {
	return tenantRoutes{
		list: func(w http.ResponseWriter, r *http.Request) error {
			gs, err := svc.ListUserGroups()
			if err != nil {
				return err
			}
			return WriteJSON(w, 200, gs)
		},
		get: func(w http.ResponseWriter, r *http.Request) error {
			g, err := svc.GetUserGroup(r.PathValue("id"))
			if err != nil {
				return err
			}
			return WriteJSON(w, 200, g)
		},
		create: func(w http.ResponseWriter, r *http.Request) error {
			var in model.UserGroup
			ok, err := a.decode(w, r, &in)
			if err != nil {
				return err
			}
			g, err := svc.CreateUserGroup(r.Context(), callerOf(r), orNil(ok, &in))
			if err != nil {
				return err
			}
			return created(w, r, "tenants/user-groups", model.Deref(g.Identifier), g)
		},
		update: func(w http.ResponseWriter, r *http.Request) error {
			var in model.UserGroup
			ok, err := a.decode(w, r, &in)
			if err != nil {
				return err
			}
			if err := checkBodyID(ok, in.Identifier, r.PathValue("id"), "User group details must be specified to update a user group.", "user group"); err != nil {
				return err
			}
			g, err := svc.UpdateUserGroup(r.Context(), callerOf(r), r.PathValue("id"), &in)
			if err != nil {
				return err
			}
			return WriteJSON(w, 200, g)
		},
		del: func(w http.ResponseWriter, r *http.Request) error {
			rev, err := revisionParams(r)
			if err != nil {
				return err
			}
			g, err := svc.DeleteUserGroup(r.Context(), callerOf(r), r.PathValue("id"), rev)
			if err != nil {
				return err
			}
			return WriteJSON(w, 200, g)
		},
	}
}

// tenantRoutes are the five handlers of one collection.
type tenantRoutes struct {
	list, get, create, update, del handlerFunc
}

// ---- managed /policies (AccessPolicyResource)

func (a *API) managedPolicies(svc TenantService) tenantRoutes {
	return tenantRoutes{
		list: func(w http.ResponseWriter, r *http.Request) error {
			ps, err := svc.ListPolicies()
			if err != nil {
				return err
			}
			return WriteJSON(w, 200, ps)
		},
		get: func(w http.ResponseWriter, r *http.Request) error {
			p, err := svc.GetPolicy(r.PathValue("id"))
			if err != nil {
				return err
			}
			return WriteJSON(w, 200, p)
		},
		create: func(w http.ResponseWriter, r *http.Request) error {
			var in model.AccessPolicy
			ok, err := a.decode(w, r, &in)
			if err != nil {
				return err
			}
			p, err := svc.CreatePolicy(r.Context(), callerOf(r), orNil(ok, &in))
			if err != nil {
				return err
			}
			return created(w, r, "policies", model.Deref(p.Identifier), p)
		},
		update: func(w http.ResponseWriter, r *http.Request) error {
			var in model.AccessPolicy
			ok, err := a.decode(w, r, &in)
			if err != nil {
				return err
			}
			if err := checkBodyID(ok, in.Identifier, r.PathValue("id"), "Access policy details must be specified when updating a policy.", "policy"); err != nil {
				return err
			}
			p, err := svc.UpdatePolicy(r.Context(), callerOf(r), r.PathValue("id"), &in)
			if err != nil {
				return err
			}
			return WriteJSON(w, 200, p)
		},
		del: func(w http.ResponseWriter, r *http.Request) error {
			rev, err := revisionParams(r)
			if err != nil {
				return err
			}
			p, err := svc.DeletePolicy(r.Context(), callerOf(r), r.PathValue("id"), rev)
			if err != nil {
				return err
			}
			return WriteJSON(w, 200, p)
		},
	}
}

// policyForResource is getAccessPolicyForResource after the action was
// parsed: the resource is "/" + the rest of the path.
func policyForResource(svc TenantService, w http.ResponseWriter, r *http.Request) error {
	p, err := svc.GetPolicyFor(strings.ToLower(r.PathValue("action")), "/"+r.PathValue("resource"))
	if err != nil {
		return err
	}
	return WriteJSON(w, 200, p)
}
