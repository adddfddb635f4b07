package model

// Wire types of authorization (resources, tenants, policies) and of
// extension bundles. An unsecured registry only decodes tenants and
// policies (it refuses to manage them after validating the request); a
// secured one manages them (package tenants). The extension types are sent
// with the empty results of a registry without bundles.

// Resource is an authorizable resource (GET /policies/resources).
type Resource struct {
	Identifier *string `json:"identifier,omitempty"`
	Name       *string `json:"name,omitempty"`
}

// Tenant is a user or group as referenced from other entities.
type Tenant struct {
	AccessPolicies      []AccessPolicySummary `json:"accessPolicies,omitempty"`
	Configurable        *bool                 `json:"configurable,omitempty"`
	Identifier          *string               `json:"identifier,omitempty"`
	Identity            *string               `json:"identity,omitempty"`
	ResourcePermissions *ResourcePermissions  `json:"resourcePermissions,omitempty"`
	Revision            *RevisionInfo         `json:"revision,omitempty"`
}

// User is a tenant with the groups it belongs to. Its lists are always
// sent (NiFi's AuthorizationService fills them, possibly empty).
type User struct {
	AccessPolicies      []AccessPolicySummary `json:"accessPolicies"`
	Configurable        *bool                 `json:"configurable,omitempty"`
	Identifier          *string               `json:"identifier,omitempty"`
	Identity            *string               `json:"identity,omitempty"`
	ResourcePermissions *ResourcePermissions  `json:"resourcePermissions,omitempty"`
	Revision            *RevisionInfo         `json:"revision,omitempty"`
	UserGroups          []Tenant              `json:"userGroups"`
}

// UserGroup is a tenant with its member users (lists always sent).
type UserGroup struct {
	AccessPolicies      []AccessPolicySummary `json:"accessPolicies"`
	Configurable        *bool                 `json:"configurable,omitempty"`
	Identifier          *string               `json:"identifier,omitempty"`
	Identity            *string               `json:"identity,omitempty"`
	ResourcePermissions *ResourcePermissions  `json:"resourcePermissions,omitempty"`
	Revision            *RevisionInfo         `json:"revision,omitempty"`
	Users               []Tenant              `json:"users"`
}

// AccessPolicySummary is a policy without its tenants.
type AccessPolicySummary struct {
	Action       *string       `json:"action,omitempty"`
	Configurable *bool         `json:"configurable,omitempty"`
	Identifier   *string       `json:"identifier,omitempty"`
	Resource     *string       `json:"resource,omitempty"`
	Revision     *RevisionInfo `json:"revision,omitempty"`
}

// AccessPolicy grants an action on a resource to users and groups (lists
// always sent).
type AccessPolicy struct {
	Action       *string       `json:"action,omitempty"`
	Configurable *bool         `json:"configurable,omitempty"`
	Identifier   *string       `json:"identifier,omitempty"`
	Resource     *string       `json:"resource,omitempty"`
	Revision     *RevisionInfo `json:"revision,omitempty"`
	UserGroups   []Tenant      `json:"userGroups"`
	Users        []Tenant      `json:"users"`
}

// ExtensionRepoBucket is one bucket of the extension repository browse
// tree; its link is absolute (scheme, host and context path included).
type ExtensionRepoBucket struct {
	BucketName *string `json:"bucketName,omitempty"`
	Link       *Link   `json:"link,omitempty"`
}

// ExtensionFilterParams echoes the filters of GET /extensions. NiFi builds
// it from the request, so tags is always a (possibly empty) array; the
// enums are sent as NiFi spells them: bundle types by their display name
// ("nifi-nar"), extension types by constant name ("PROCESSOR").
type ExtensionFilterParams struct {
	BundleType    *string  `json:"bundleType,omitempty"`
	ExtensionType *string  `json:"extensionType,omitempty"`
	Tags          []string `json:"tags"`
}

// ExtensionMetadataContainer is the answer of the /extensions searches.
// Extensions is always an array.
type ExtensionMetadataContainer struct {
	Extensions   []*ExtensionMetadata   `json:"extensions"`
	FilterParams *ExtensionFilterParams `json:"filterParams,omitempty"`
	NumResults   int32                  `json:"numResults"`
}

// TagCount is an extension tag with the number of extensions carrying it.
type TagCount struct {
	Count int32   `json:"count"`
	Tag   *string `json:"tag,omitempty"`
}
