// Package authz decides whether a caller may act on a resource, with NiFi
// Registry's model (registry-api.md §4.5): policies name users and groups
// for an action (read, write, delete) on a resource; a bucket without a
// policy of its own for the action inherits the one of /buckets; a public
// bucket is readable by anyone; every proxy in a caller's chain must hold
// /proxy for the same action (unless the target is publicly readable);
// an anonymous caller holds no policy. Denials are 401 for anonymous
// callers and 403 for known ones, with NiFi's "... Contact the system
// administrator." text.
//
// The package is pure: it reads policies through the Policies interface
// and knows nothing of HTTP routing beyond Target (target.go) and the
// middleware that applies it (middleware.go).
package authz

import (
	"fmt"
	"slices"
	"strings"

	"github.com/weir-nifi/weir/internal/model"
)

// Actions.
const (
	Read   = "read"
	Write  = "write"
	Delete = "delete"
)

// Top-level resources of NiFi Registry, and Weir's own.
const (
	Buckets  = "/buckets"
	Tenants  = "/tenants"
	Policies = "/policies"
	Proxy    = "/proxy"
	Actuator = "/actuator"
	Swagger  = "/swagger"
	// SiteToSite is read to see the site-to-site ports and peers; pushing
	// to or pulling from a port is write on /data-transfer/{input|output}-ports/{id},
	// as in NiFi.
	SiteToSite = "/site-to-site"
)

// TopLevel are the resources /policies/resources lists besides buckets.
var TopLevel = []string{Actuator, Buckets, Policies, Proxy, SiteToSite, Swagger, Tenants}

// BucketResource is the resource of one bucket.
func BucketResource(id string) string { return Buckets + "/" + id }

// PolicySource is what decisions read (the replicated users, groups and
// policies; package tenants).
type PolicySource interface {
	// UserID finds a user by identity.
	UserID(identity string) (string, bool)
	// GroupIDs are the groups a user belongs to.
	GroupIDs(userID string) []string
	// Policy returns the users and groups of the policy for resource and
	// action; ok is false when there is none.
	Policy(resource, action string) (users, groups []string, ok bool)
}

// Caller is who makes a request: the end user and the proxies it came
// through (NiFi nodes), in chain order.
type Caller struct {
	Identity  string
	Anonymous bool
	Proxies   []string
	// Cluster: proved the cluster key (registry.Caller.Cluster).
	Cluster bool
}

// Allowed reports whether identity holds action on resource, inheriting
// from /buckets for a bucket without a policy of its own.
func Allowed(p PolicySource, identity, resource, action string) bool {
	uid, ok := p.UserID(identity)
	if !ok {
		return false
	}
	groups := p.GroupIDs(uid)
	for r := resource; ; {
		users, gs, ok := p.Policy(r, action)
		if ok {
			if slices.Contains(users, uid) {
				return true
			}
			for _, g := range groups {
				if slices.Contains(gs, g) {
					return true
				}
			}
			return false
		}
		parent, has := parentOf(r)
		if !has {
			return false
		}
		r = parent
	}
}

// parentOf is the resource a resource inherits from when it has no policy
// of its own: a bucket inherits from /buckets, a port from its kind.
func parentOf(r string) (string, bool) {
	if strings.HasPrefix(r, Buckets+"/") {
		return Buckets, true
	}
	for _, kind := range []string{"/data-transfer/input-ports", "/data-transfer/output-ports"} {
		if strings.HasPrefix(r, kind+"/") {
			return kind, true
		}
	}
	return "", false
}

// Authorize decides a request: the proxies first, then the end user.
// public says the resource is readable by anyone (a public bucket).
func Authorize(p PolicySource, c Caller, resource, action string, public bool) error {
	if public && action == Read {
		return nil
	}
	for _, proxy := range c.Proxies {
		if !Allowed(p, proxy, Proxy, action) {
			kind := model.KindForbidden
			if c.Anonymous {
				kind = model.KindUnauthorized
			}
			return &model.Error{Kind: kind, Msg: fmt.Sprintf("Untrusted proxy [%s] for %s operation.", proxy, strings.ToUpper(action))}
		}
	}
	if !c.Anonymous && Allowed(p, c.Identity, resource, action) {
		return nil
	}
	return Denied(c, resource, action)
}

// Denied is the refusal of action on resource: 401 for an anonymous
// caller (it may log in), 403 for a known one.
func Denied(c Caller, resource, action string) *model.Error {
	verb := map[string]string{Read: "view", Write: "modify", Delete: "delete"}[action]
	msg := fmt.Sprintf("Unable to %s %s. Contact the system administrator.", verb, describe(resource))
	if c.Anonymous {
		return &model.Error{Kind: model.KindUnauthorized, Msg: msg}
	}
	return &model.Error{Kind: model.KindForbidden, Msg: msg}
}

func describe(resource string) string {
	switch {
	case resource == Buckets:
		return "buckets"
	case strings.HasPrefix(resource, Buckets+"/"):
		return "bucket with ID " + strings.TrimPrefix(resource, Buckets+"/")
	case resource == Tenants:
		return "users and groups"
	case resource == Policies:
		return "policies"
	}
	return "resource " + resource
}

// Permissions is what the caller may do on resource, for the permissions
// objects of NiFi's answers.
func Permissions(p PolicySource, c Caller, resource string, public bool) model.Permissions {
	ok := func(action string) bool { return Authorize(p, c, resource, action, public) == nil }
	return model.Permissions{CanRead: ok(Read), CanWrite: ok(Write), CanDelete: ok(Delete)}
}
