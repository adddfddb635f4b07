package model

// Extension bundles, in Jackson's alphabetical field order like the rest
// of the wire types.

// ItemTypeBundle is the BucketItem type discriminator of a bundle.
const ItemTypeBundle = "Bundle"

// Bundle is an extension bundle (a BucketItem of type "Bundle").
type Bundle struct {
	ArtifactID        string       `json:"artifactId"`
	BucketIdentifier  string       `json:"bucketIdentifier"`
	BucketName        *string      `json:"bucketName,omitempty"`
	BundleType        string       `json:"bundleType"`
	CreatedTimestamp  int64        `json:"createdTimestamp"`
	GroupID           string       `json:"groupId"`
	Identifier        string       `json:"identifier"`
	Link              *Link        `json:"link,omitempty"`
	ModifiedTimestamp int64        `json:"modifiedTimestamp"`
	Name              string       `json:"name"`
	Permissions       *Permissions `json:"permissions,omitempty"`
	Type              string       `json:"type"`
	VersionCount      int64        `json:"versionCount"`
}

// BuildInfo is how a bundle version was built.
type BuildInfo struct {
	BuildBranch   string `json:"buildBranch"`
	BuildFlags    string `json:"buildFlags"`
	BuildRevision string `json:"buildRevision"`
	BuildTag      string `json:"buildTag"`
	BuildTool     string `json:"buildTool"`
	Built         int64  `json:"built"`
	BuiltBy       string `json:"builtBy"`
}

// BundleVersionMetadata describes one version of a bundle. GroupID and
// ArtifactID are absent from an upload's answer, as in NiFi (it builds
// that metadata without them).
type BundleVersionMetadata struct {
	ArtifactID       *string    `json:"artifactId,omitempty"`
	Author           string     `json:"author"`
	BucketID         string     `json:"bucketId"`
	BuildInfo        *BuildInfo `json:"buildInfo,omitempty"`
	BundleID         string     `json:"bundleId"`
	ContentSize      int64      `json:"contentSize"`
	GroupID          *string    `json:"groupId,omitempty"`
	ID               string     `json:"id"`
	Link             *Link      `json:"link,omitempty"`
	SHA256           string     `json:"sha256"`
	SHA256Supplied   bool       `json:"sha256Supplied"`
	SystemAPIVersion string     `json:"systemApiVersion"`
	Timestamp        int64      `json:"timestamp"`
	Version          string     `json:"version"`
}

// BundleVersionDependency is a bundle a version depends on.
type BundleVersionDependency struct {
	ArtifactID string `json:"artifactId"`
	GroupID    string `json:"groupId"`
	Version    string `json:"version"`
}

// BundleVersion is a version with its bundle, bucket and dependencies.
type BundleVersion struct {
	Bucket          *Bucket                   `json:"bucket,omitempty"`
	Bundle          *Bundle                   `json:"bundle,omitempty"`
	Dependencies    []BundleVersionDependency `json:"dependencies"`
	VersionMetadata *BundleVersionMetadata    `json:"versionMetadata,omitempty"`
}

// BundleInfo places an extension in its bundle version.
type BundleInfo struct {
	ArtifactID       string `json:"artifactId"`
	BucketID         string `json:"bucketId"`
	BucketName       string `json:"bucketName"`
	BundleID         string `json:"bundleId"`
	BundleType       string `json:"bundleType"`
	GroupID          string `json:"groupId"`
	SystemAPIVersion string `json:"systemApiVersion"`
	Version          string `json:"version"`
}

// ExtensionMetadata is an extension as the searches answer it. The
// nested objects are the extension manifest's, passed through.
type ExtensionMetadata struct {
	BundleInfo           *BundleInfo `json:"bundleInfo,omitempty"`
	DeprecationNotice    any         `json:"deprecationNotice,omitempty"`
	Description          *string     `json:"description,omitempty"`
	DisplayName          string      `json:"displayName"`
	HasAdditionalDetails bool        `json:"hasAdditionalDetails"`
	Link                 *Link       `json:"link,omitempty"`
	LinkDocs             *Link       `json:"linkDocs,omitempty"`
	Name                 string      `json:"name"`
	ProvidedServiceAPIs  any         `json:"providedServiceAPIs,omitempty"`
	Restricted           any         `json:"restricted,omitempty"`
	Tags                 []string    `json:"tags,omitempty"`
	Type                 string      `json:"type"`
}

// ExtensionRepoGroup, ExtensionRepoArtifact and ExtensionRepoVersionSummary
// are the levels of the extension repository browse tree.
type ExtensionRepoGroup struct {
	BucketName string `json:"bucketName"`
	GroupID    string `json:"groupId"`
	Link       *Link  `json:"link,omitempty"`
}

// ExtensionRepoArtifact is an artifact of a group in a bucket.
type ExtensionRepoArtifact struct {
	ArtifactID string `json:"artifactId"`
	BucketName string `json:"bucketName"`
	GroupID    string `json:"groupId"`
	Link       *Link  `json:"link,omitempty"`
}

// ExtensionRepoVersionSummary is a version of an artifact.
type ExtensionRepoVersionSummary struct {
	ArtifactID string `json:"artifactId"`
	Author     string `json:"author"`
	BucketName string `json:"bucketName"`
	GroupID    string `json:"groupId"`
	Link       *Link  `json:"link,omitempty"`
	Timestamp  int64  `json:"timestamp"`
	Version    string `json:"version"`
}

// ExtensionRepoVersion links to a version's parts.
type ExtensionRepoVersion struct {
	DownloadLink   *Link `json:"downloadLink,omitempty"`
	ExtensionsLink *Link `json:"extensionsLink,omitempty"`
	SHA256Link     *Link `json:"sha256Link,omitempty"`
	SHA256Supplied bool  `json:"sha256Supplied"`
}

// ExtensionRepoExtensionMetadata is an extension in the browse tree.
type ExtensionRepoExtensionMetadata struct {
	ExtensionMetadata *ExtensionMetadata `json:"extensionMetadata,omitempty"`
	Link              *Link              `json:"link,omitempty"`
	LinkDocs          *Link              `json:"linkDocs,omitempty"`
}
