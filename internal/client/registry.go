package client

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/url"
	"strconv"

	"github.com/weir-nifi/weir/internal/model"
)

// The calls below are the NiFi Registry API requests `weir registry`
// sends; they use only /nifi-registry-api paths, so they work against
// NiFi Registry as well as Weir.

// revisionQuery is the ?version= a delete must carry: the entity's
// revision when the server keeps revisions, 0 otherwise (NiFi Registry
// ignores it when revisions are off).
func revisionQuery(r *model.RevisionInfo) string {
	v := int64(0)
	if r != nil && r.Version != nil {
		v = *r.Version
	}
	return "?version=" + strconv.FormatInt(v, 10)
}

// DeleteBucketAt deletes a bucket at the revision of b (as read before).
func (c *Client) DeleteBucketAt(ctx context.Context, b *model.Bucket) error {
	return c.call(ctx, http.MethodDelete, "/buckets/"+url.PathEscape(deref(b.Identifier))+revisionQuery(b.Revision), nil, nil)
}

// DeleteFlowAt deletes a flow at the revision of f (as read before).
func (c *Client) DeleteFlowAt(ctx context.Context, f *model.VersionedFlow) error {
	return c.call(ctx, http.MethodDelete, flowPath(deref(f.BucketIdentifier), deref(f.Identifier))+revisionQuery(f.Revision), nil, nil)
}

// FlowVersion returns version n (0 = latest) of a flow known by its id
// alone (GET /flows/{id}/versions/…), as raw JSON.
func (c *Client) FlowVersion(ctx context.Context, flowID string, n int) ([]byte, error) {
	v := "latest"
	if n > 0 {
		v = strconv.Itoa(n)
	}
	b, _, err := c.Do(ctx, http.MethodGet, "/flows/"+url.PathEscape(flowID)+"/versions/"+v, nil, nil)
	return b, err
}

// FlowVersions lists the versions of a flow known by its id alone.
func (c *Client) FlowVersions(ctx context.Context, flowID string) ([]model.SnapshotMetadata, error) {
	var out []model.SnapshotMetadata
	return out, c.call(ctx, http.MethodGet, "/flows/"+url.PathEscape(flowID)+"/versions", nil, &out)
}

// Diff compares two versions of a flow (raw JSON of a VersionedFlowDifference).
func (c *Client) Diff(ctx context.Context, bucketID, flowID string, a, b int) ([]byte, error) {
	out, _, err := c.Do(ctx, http.MethodGet, flowPath(bucketID, flowID)+"/diff/"+strconv.Itoa(a)+"/"+strconv.Itoa(b), nil, nil)
	return out, err
}

// CurrentUser is GET /access: who the server takes the caller for.
func (c *Client) CurrentUser(ctx context.Context) (*model.CurrentUser, error) {
	var out model.CurrentUser
	return &out, c.call(ctx, http.MethodGet, "/access", nil, &out)
}

// Users lists the users of a managed authorizer.
func (c *Client) Users(ctx context.Context) ([]model.User, error) {
	var out []model.User
	return out, c.call(ctx, http.MethodGet, "/tenants/users", nil, &out)
}

// CreateUser creates a user with an identity.
func (c *Client) CreateUser(ctx context.Context, identity string) (*model.User, error) {
	var out model.User
	in := model.User{Identity: &identity, Revision: newRevision()}
	return &out, c.call(ctx, http.MethodPost, "/tenants/users", in, &out)
}

// UpdateUser changes a user's identity (u as read before, so its
// revision is sent back).
func (c *Client) UpdateUser(ctx context.Context, u *model.User) (*model.User, error) {
	var out model.User
	in := model.User{Identifier: u.Identifier, Identity: u.Identity, Revision: u.Revision}
	return &out, c.call(ctx, http.MethodPut, "/tenants/users/"+url.PathEscape(deref(u.Identifier)), in, &out)
}

// User gets one user.
func (c *Client) User(ctx context.Context, id string) (*model.User, error) {
	var out model.User
	return &out, c.call(ctx, http.MethodGet, "/tenants/users/"+url.PathEscape(id), nil, &out)
}

// UserGroups lists the user groups of a managed authorizer.
func (c *Client) UserGroups(ctx context.Context) ([]model.UserGroup, error) {
	var out []model.UserGroup
	return out, c.call(ctx, http.MethodGet, "/tenants/user-groups", nil, &out)
}

// UserGroup gets one user group.
func (c *Client) UserGroup(ctx context.Context, id string) (*model.UserGroup, error) {
	var out model.UserGroup
	return &out, c.call(ctx, http.MethodGet, "/tenants/user-groups/"+url.PathEscape(id), nil, &out)
}

// CreateUserGroup creates a group with members (user ids).
func (c *Client) CreateUserGroup(ctx context.Context, name string, users []string) (*model.UserGroup, error) {
	var out model.UserGroup
	in := model.UserGroup{Identity: &name, Users: tenantRefs(users), Revision: newRevision()}
	return &out, c.call(ctx, http.MethodPost, "/tenants/user-groups", in, &out)
}

// UpdateUserGroup sends g's identity and members (g as read before, so
// its revision is sent back).
func (c *Client) UpdateUserGroup(ctx context.Context, g *model.UserGroup) (*model.UserGroup, error) {
	var out model.UserGroup
	in := model.UserGroup{Identifier: g.Identifier, Identity: g.Identity, Users: g.Users, Revision: g.Revision}
	return &out, c.call(ctx, http.MethodPut, "/tenants/user-groups/"+url.PathEscape(deref(g.Identifier)), in, &out)
}

// PolicyFor gets the policy of an action on a resource ("/buckets/…");
// a 404 means there is none.
func (c *Client) PolicyFor(ctx context.Context, action, resource string) (*model.AccessPolicy, error) {
	var out model.AccessPolicy
	return &out, c.call(ctx, http.MethodGet, "/policies/"+url.PathEscape(action)+resource, nil, &out)
}

// CreatePolicy creates an access policy.
func (c *Client) CreatePolicy(ctx context.Context, p model.AccessPolicy) (*model.AccessPolicy, error) {
	var out model.AccessPolicy
	p.Revision = newRevision()
	return &out, c.call(ctx, http.MethodPost, "/policies", p, &out)
}

// UpdatePolicy replaces an access policy's users and groups (p carries
// the revision read before).
func (c *Client) UpdatePolicy(ctx context.Context, p model.AccessPolicy) (*model.AccessPolicy, error) {
	var out model.AccessPolicy
	return &out, c.call(ctx, http.MethodPut, "/policies/"+url.PathEscape(deref(p.Identifier)), p, &out)
}

// newRevision is the revision a create sends: version 0, as NiFi's
// clients do.
func newRevision() *model.RevisionInfo {
	v := int64(0)
	return &model.RevisionInfo{Version: &v}
}

func tenantRefs(ids []string) []model.Tenant {
	out := make([]model.Tenant, 0, len(ids))
	for _, id := range ids {
		out = append(out, model.Tenant{Identifier: &id})
	}
	return out
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// AccessToken asks for a token for the identity the client's certificate
// proves (POST /access/token).
func (c *Client) AccessToken(ctx context.Context) (string, error) {
	b, _, err := c.Do(ctx, http.MethodPost, "/access/token", nil, nil)
	return string(b), err
}

// LoginToken asks for a token for a user of the registry's identity
// provider (POST /access/token/login with HTTP Basic credentials).
func (c *Client) LoginToken(ctx context.Context, user, password string) (string, error) {
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password))
	b, _, err := c.Do(ctx, http.MethodPost, "/access/token/login", nil, http.Header{"Authorization": {basic}})
	return string(b), err
}

// Logout revokes the bearer token the client sends (DELETE /access/logout).
func (c *Client) Logout(ctx context.Context) error {
	_, _, err := c.Do(ctx, http.MethodDelete, "/access/logout", nil, nil)
	return err
}
