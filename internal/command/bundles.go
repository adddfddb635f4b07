package command

import "encoding/json"

// Extension bundle commands (level 9, package bundles). From level 12 a
// bundle's content is a file beside the log, sent to a majority of the
// voters before CreateBundleFileVersion commits the version's metadata.
// Before, it travelled through the log in chunks (StageBundleChunk) staged
// under an upload id, and CreateBundleVersion made the staged content the
// content of its SHA-256. Both use content already stored under that
// SHA-256. Every id, time and author is fixed by the proposer.

// Bundle types as NiFi's BundleType displays them.
const (
	BundleNAR       = "nifi-nar"
	BundleMiNiFiCpp = "minifi-cpp"
)

// StageBundleChunk appends Data at Off to the content staged under
// Upload, which will be Size bytes with SHA-256 SHA256 (lower-case hex).
// A chunk already staged (a retried proposal) is accepted without effect.
// At is the proposer's time: staging areas untouched for
// BundleStageTimeout before it are dropped by Apply.
type StageBundleChunk struct {
	Upload string `json:"upload"`
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
	Off    int64  `json:"off"`
	At     int64  `json:"at"`
	Data   []byte `json:"-"`
}

// BundleStageTimeout is how long (ms) a staging area may wait for its next
// chunk or its commit before a later StageBundleChunk drops it.
const BundleStageTimeout = 10 * 60 * 1000

// BundleCoordinate is a group, artifact and version.
type BundleCoordinate struct {
	Group    string `json:"group"`
	Artifact string `json:"artifact"`
	Version  string `json:"version"`
}

// BundleBuild is NiFi's BuildInfo of a bundle version.
type BundleBuild struct {
	Tool     string `json:"tool"`
	Flags    string `json:"flags"`
	Branch   string `json:"branch"`
	Tag      string `json:"tag"`
	Revision string `json:"revision"`
	Built    int64  `json:"built"`
	BuiltBy  string `json:"builtBy"`
}

// CreateBundleVersion stores a version of the bundle Group:Artifact in a
// bucket, creating the bundle (with BundleID, at Timestamp) when the
// bucket has none with those coordinates. The content is the stored
// content with SHA256 when there is one, else the content staged under
// Upload, which must be complete (Size bytes hashing to SHA256).
// Extensions is a JSON array of the extension manifest's extensions (as
// package bundles reads them); AdditionalDetails maps extension names to
// their additionalDetails.md.
type CreateBundleVersion struct {
	BucketID          string             `json:"bucketId"`
	BundleID          string             `json:"bundleId"`
	VersionID         string             `json:"versionId"`
	BundleType        string             `json:"bundleType"`
	Coordinate        BundleCoordinate   `json:"coordinate"`
	Upload            string             `json:"upload,omitempty"`
	SHA256            string             `json:"sha256"`
	SHA256Supplied    bool               `json:"sha256Supplied"`
	Size              int64              `json:"size"`
	SystemAPIVersion  string             `json:"systemApiVersion"`
	Build             BundleBuild        `json:"build"`
	Dependencies      []BundleCoordinate `json:"dependencies,omitempty"`
	Extensions        json.RawMessage    `json:"extensions,omitempty"`
	AdditionalDetails map[string]string  `json:"additionalDetails,omitempty"`
	Timestamp         int64              `json:"timestamp"`
	Author            string             `json:"author"`
}

// DeleteBundleVersion deletes one version of a bundle; its content goes
// when no other version refers to it.
type DeleteBundleVersion struct {
	BundleID string `json:"bundleId"`
	Version  string `json:"version"`
	Actor    string `json:"actor"`
}

// DeleteBundle deletes a bundle with all its versions.
type DeleteBundle struct {
	BundleID string `json:"bundleId"`
	Actor    string `json:"actor"`
}

// CreateBundleFileVersion is a CreateBundleVersion (level 12) whose
// content, unless stored already, is a file of SHA256 that the proposer
// sent to a majority of the voters before proposing it (package blobs):
// nothing is staged, and Apply records a reference to the file without
// reading it. Upload is unused.
type CreateBundleFileVersion struct {
	CreateBundleVersion
}

func (*CreateBundleFileVersion) Type() Type { return TypeCreateBundleFileVersion }

func (*StageBundleChunk) Type() Type    { return TypeStageBundleChunk }
func (*CreateBundleVersion) Type() Type { return TypeCreateBundleVersion }
func (*DeleteBundleVersion) Type() Type { return TypeDeleteBundleVersion }
func (*DeleteBundle) Type() Type        { return TypeDeleteBundle }

func (c *StageBundleChunk) blob() []byte     { return c.Data }
func (c *StageBundleChunk) setBlob(b []byte) { c.Data = b }
