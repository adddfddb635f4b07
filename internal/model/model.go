package model

import (
	"encoding/json"
)

// Link is the JAXB wire form of a JAX-RS Link: a relative href and its
// params (rel). It is not the OpenAPI "Link" schema, which NiFi never sends.
type Link struct {
	Href   string            `json:"href"`
	Params map[string]string `json:"params"`
}

// NewLink builds a link whose href is relative to the API base.
func NewLink(href, rel string) *Link {
	return &Link{Href: href, Params: map[string]string{"rel": rel}}
}

// Permissions is the access the current user has to a resource.
type Permissions struct {
	CanDelete bool `json:"canDelete"`
	CanRead   bool `json:"canRead"`
	CanWrite  bool `json:"canWrite"`
}

// AllPermissions is what every caller holds while Weir runs unsecured.
func AllPermissions() *Permissions {
	return &Permissions{CanDelete: true, CanRead: true, CanWrite: true}
}

// RevisionInfo is NiFi Registry's optimistic-locking token.
type RevisionInfo struct {
	ClientID     *string `json:"clientId,omitempty"`
	LastModifier *string `json:"lastModifier,omitempty"`
	Version      *int64  `json:"version,omitempty"`
}

// ZeroRevision is what revisable entities carry while revisions are off.
func ZeroRevision() *RevisionInfo {
	var v int64
	return &RevisionInfo{Version: &v}
}

// Bucket is a named container of flows.
type Bucket struct {
	AllowBundleRedeploy *bool         `json:"allowBundleRedeploy,omitempty"`
	AllowPublicRead     *bool         `json:"allowPublicRead,omitempty"`
	CreatedTimestamp    int64         `json:"createdTimestamp"`
	Description         *string       `json:"description,omitempty"`
	Identifier          *string       `json:"identifier,omitempty"`
	Link                *Link         `json:"link,omitempty"`
	Name                *string       `json:"name,omitempty"`
	Permissions         *Permissions  `json:"permissions,omitempty"`
	Revision            *RevisionInfo `json:"revision,omitempty"`
}

// ItemTypeFlow is the BucketItem type discriminator of a flow.
const ItemTypeFlow = "Flow"

// VersionedFlow is a flow (a BucketItem of type "Flow"). versionCount is the
// number of snapshots, which NiFi reads as the latest version number.
type VersionedFlow struct {
	BucketIdentifier  *string       `json:"bucketIdentifier,omitempty"`
	BucketName        *string       `json:"bucketName,omitempty"`
	CreatedTimestamp  int64         `json:"createdTimestamp"`
	Description       *string       `json:"description,omitempty"`
	Identifier        *string       `json:"identifier,omitempty"`
	Link              *Link         `json:"link,omitempty"`
	ModifiedTimestamp int64         `json:"modifiedTimestamp"`
	Name              *string       `json:"name,omitempty"`
	Permissions       *Permissions  `json:"permissions,omitempty"`
	Revision          *RevisionInfo `json:"revision,omitempty"`
	Type              string        `json:"type" jackson:"enum=org.apache.nifi.registry.bucket.BucketItemType:Flow|Bundle"`
	VersionCount      int64         `json:"versionCount"`
}

// SnapshotMetadata describes one immutable version of a flow.
type SnapshotMetadata struct {
	Author           *string `json:"author,omitempty"`
	BucketIdentifier *string `json:"bucketIdentifier,omitempty"`
	Comments         *string `json:"comments,omitempty"`
	FlowIdentifier   *string `json:"flowIdentifier,omitempty"`
	Link             *Link   `json:"link,omitempty"`
	Timestamp        int64   `json:"timestamp"`
	Version          int32   `json:"version"`
}

// Snapshot is a VersionedFlowSnapshot. The flow document itself
// (flowContents and the maps next to it) is opaque raw JSON.
type Snapshot struct {
	Bucket                     *Bucket           `json:"bucket,omitempty"`
	ExternalControllerServices json.RawMessage   `json:"externalControllerServices,omitempty"`
	Flow                       *VersionedFlow    `json:"flow,omitempty"`
	FlowContents               json.RawMessage   `json:"flowContents,omitempty"`
	FlowEncodingVersion        *string           `json:"flowEncodingVersion,omitempty"`
	ParameterContexts          json.RawMessage   `json:"parameterContexts,omitempty"`
	ParameterProviders         json.RawMessage   `json:"parameterProviders,omitempty"`
	SnapshotMetadata           *SnapshotMetadata `json:"snapshotMetadata,omitempty"`
}

// Fields is the answer of the /fields endpoints.
type Fields struct {
	Fields []string `json:"fields"`
}

// RegistryAbout is the answer of GET /about.
type RegistryAbout struct {
	RegistryAboutVersion string `json:"registryAboutVersion"`
}

// RegistryConfiguration is the answer of GET /config.
type RegistryConfiguration struct {
	SupportsConfigurableAuthorizer     bool `json:"supportsConfigurableAuthorizer"`
	SupportsConfigurableUsersAndGroups bool `json:"supportsConfigurableUsersAndGroups"`
	SupportsManagedAuthorizer          bool `json:"supportsManagedAuthorizer"`
}

// ResourcePermissions summarises the caller's access to top-level resources.
type ResourcePermissions struct {
	AnyTopLevelResource *Permissions `json:"anyTopLevelResource,omitempty"`
	Buckets             *Permissions `json:"buckets,omitempty"`
	Policies            *Permissions `json:"policies,omitempty"`
	Proxy               *Permissions `json:"proxy,omitempty"`
	Tenants             *Permissions `json:"tenants,omitempty"`
}

// CurrentUser is the answer of GET /access. The odd key oidcloginSupported
// is the real one.
type CurrentUser struct {
	Anonymous           bool                 `json:"anonymous"`
	Identity            string               `json:"identity"`
	LoginSupported      bool                 `json:"loginSupported"`
	OIDCLoginSupported  bool                 `json:"oidcloginSupported"`
	ResourcePermissions *ResourcePermissions `json:"resourcePermissions,omitempty"`
}

// FlowDifference is the answer of the diff endpoint.
type FlowDifference struct {
	BucketID                  string            `json:"bucketId"`
	ComponentDifferenceGroups []json.RawMessage `json:"componentDifferenceGroups"`
	FlowID                    string            `json:"flowId"`
	VersionA                  int32             `json:"versionA"`
	VersionB                  int32             `json:"versionB"`
}

// Str returns a pointer to s, for the many nullable string fields.
func Str(s string) *string { return &s }

// Bool returns a pointer to b.
func Bool(b bool) *bool { return &b }

// Deref returns *p, or "" when p is nil.
func Deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
