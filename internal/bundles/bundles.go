// Package bundles is the replicated state of NiFi Registry's extension
// bundles (command level 9): content addressed by SHA-256 (from level 12
// kept in files beside the log, which Apply only refers to; before, staged
// in chunks under an upload id), bundles, their versions, extensions and
// extension docs. The tables live in the store's bbolt file (names
// prefixed "x."), outside the registry's state hash, and the store hands
// every bundle command to Apply inside its own write transaction
// (docs/bundles-design.md).
//
// Apply follows the store's rules: it reads no clock, re-checks every
// precondition and refuses with a *model.Error what it cannot apply,
// writing nothing. Any other error is a failure of the database.
package bundles

import (
	"bytes"
	"crypto/sha256"
	"encoding"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/weir-nifi/weir/internal/boltjson"
	"github.com/weir-nifi/weir/internal/command"
	"github.com/weir-nifi/weir/internal/model"
)

// Table names, all in the store's file.
var (
	tStage      = []byte("x.stage")      // upload id → Stage
	tChunks     = []byte("x.chunks")     // prefixed(upload id)+u64(off) → bucket {"d": bytes}
	tContent    = []byte("x.content")    // sha256 hex → Content
	tBundles    = []byte("x.bundles")    // bundle id → Bundle
	tBundleKeys = []byte("x.bundlekeys") // prefixed(bucket)+prefixed(group)+artifact → bundle id
	tVersions   = []byte("x.versions")   // prefixed(bundle id)+version → Version
	tDocs       = []byte("x.docs")       // prefixed(bundle id)+prefixed(version)+extension name → additionalDetails.md
	tMeta       = []byte("x.meta")       // genKey → u64

	// Tables are created by the store with its own.
	Tables = [][]byte{tStage, tChunks, tContent, tBundles, tBundleKeys, tVersions, tDocs, tMeta}

	genKey = []byte("gen")
)

// Generation counts the bundle commands applied (refusals excepted). The
// tables are outside the state hash, so this is how a scheduled backup
// learns that bundles changed when the registry did not.
func Generation(tx *bolt.Tx) uint64 {
	if b := tx.Bucket(tMeta); b != nil {
		if v := b.Get(genKey); len(v) == 8 {
			return binary.BigEndian.Uint64(v)
		}
	}
	return 0
}

// Limits the state machine holds every command to (NiFi's columns are
// VARCHAR(500) for coordinates; ids are the registry's 50).
const (
	maxID         = 50
	maxCoordinate = 500
	// MaxChunk is the largest chunk a StageBundleChunk may carry; the
	// uploader cuts content into ChunkSize pieces.
	MaxChunk  = 4 << 20
	ChunkSize = 1 << 20
	// MaxSize bounds a bundle's content.
	MaxSize = 1 << 40
)

// Messages of NiFi Registry (StandardExtensionService).
const (
	MsgBundleNotFound      = "The specified extension bundle ID does not exist."
	MsgVersionExists       = "The specified version already exists for the given extension bundle"
	MsgDifferentChecksum   = "Found existing extension bundle with same group, artifact, and version, but different SHA-256 checksums"
	MsgDifferentBundleType = "A bundle already exists with the same group id and artifact id, but a different bundle type"
	MsgSHA256Mismatch      = "The SHA-256 of the received extension bundle does not match the SHA-256 provided by the client"
	MsgBundleVersionNotIn  = "The specified extension bundle version does not exist for the given bundle."
)

// snapshotSuffix marks versions that may always be overwritten.
const snapshotSuffix = "SNAPSHOT"

// Stage is content being uploaded.
type Stage struct {
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
	Staged int64  `json:"staged"`
	// Digest is the SHA-256 state after Staged bytes (crypto/sha256's
	// MarshalBinary, whose format Go keeps across releases), so no
	// replica re-reads content to verify it.
	Digest []byte `json:"digest"`
	At     int64  `json:"at"`
}

// Content is stored content: Size bytes in the chunks staged under the
// upload Chunks, or (File) in the file named by its SHA-256 beside the
// log (package blobs), referred to by Refs versions.
type Content struct {
	Size   int64  `json:"size"`
	Chunks string `json:"chunks"`
	Refs   int64  `json:"refs"`
	File   bool   `json:"file,omitempty"`
}

// Bundle is an extension bundle: a group and artifact in a bucket.
type Bundle struct {
	ID           string `json:"id"`
	BucketID     string `json:"bucketId"`
	Group        string `json:"group"`
	Artifact     string `json:"artifact"`
	Type         string `json:"type"`
	Created      int64  `json:"created"`
	Modified     int64  `json:"modified"`
	VersionCount int64  `json:"versionCount"`
}

// Version is one version of a bundle.
type Version struct {
	ID               string                     `json:"id"`
	BundleID         string                     `json:"bundleId"`
	BucketID         string                     `json:"bucketId"`
	Group            string                     `json:"group"`
	Artifact         string                     `json:"artifact"`
	Version          string                     `json:"version"`
	Timestamp        int64                      `json:"timestamp"`
	Author           string                     `json:"author"`
	SHA256           string                     `json:"sha256"`
	SHA256Supplied   bool                       `json:"sha256Supplied"`
	Size             int64                      `json:"size"`
	SystemAPIVersion string                     `json:"systemApiVersion"`
	Build            command.BundleBuild        `json:"build"`
	Dependencies     []command.BundleCoordinate `json:"dependencies,omitempty"`
	Extensions       []Extension                `json:"extensions,omitempty"`
	// Docs lists the extensions that have additional details.
	Docs []string `json:"docs,omitempty"`
}

// Extension is one extension of a bundle version, as the extension
// manifest describes it (the fields NiFi's ExtensionMetadata answers with).
type Extension struct {
	Name              string             `json:"name"`
	Type              string             `json:"type"`
	Description       string             `json:"description,omitempty"`
	DeprecationNotice *DeprecationNotice `json:"deprecationNotice,omitempty"`
	Tags              []string           `json:"tags,omitempty"`
	Restricted        *Restricted        `json:"restricted,omitempty"`
	ProvidedAPIs      []ProvidedAPI      `json:"providedServiceAPIs,omitempty"`
}

// DeprecationNotice is an extension's deprecation.
type DeprecationNotice struct {
	Reason       string   `json:"reason,omitempty"`
	Alternatives []string `json:"alternatives,omitempty"`
}

// Restricted lists what a restricted extension needs.
type Restricted struct {
	GeneralRestrictionExplanation string        `json:"generalRestrictionExplanation,omitempty"`
	Restrictions                  []Restriction `json:"restrictions,omitempty"`
}

// Restriction is one required permission.
type Restriction struct {
	Explanation        string `json:"explanation,omitempty"`
	RequiredPermission string `json:"requiredPermission,omitempty"`
}

// ProvidedAPI is a controller service API an extension implements.
type ProvidedAPI struct {
	ArtifactID string `json:"artifactId"`
	ClassName  string `json:"className"`
	GroupID    string `json:"groupId"`
	Version    string `json:"version"`
}

// ExtensionTypes are the constants of NiFi's ExtensionType.
var ExtensionTypes = []string{"PROCESSOR", "CONTROLLER_SERVICE", "REPORTING_TASK", "FLOW_ANALYSIS_RULE",
	"PARAMETER_PROVIDER", "FLOW_REGISTRY_CLIENT"}

// Bucket is what Apply needs to know of a bucket.
type Bucket struct {
	AllowBundleRedeploy bool
}

// Buckets looks buckets up in the registry's tables (the store provides
// it, so this package does not import the store).
type Buckets interface {
	Bucket(id string) (Bucket, bool, error)
}

// Created is CreateBundleVersion's result.
type Created struct {
	Bundle  Bundle
	Version Version
}

// Handles reports whether c is a bundle command (applied by Apply).
func Handles(c command.Command) bool {
	t := c.Type()
	return t >= command.TypeStageBundleChunk && t <= command.TypeDeleteBundle || t == command.TypeCreateBundleFileVersion
}

// Apply applies one bundle command in the store's write transaction. A
// *model.Error is a refusal and nothing was written.
func Apply(tx *bolt.Tx, c command.Command, buckets Buckets) (any, error) {
	var unchanged bool
	w := wtx{tx: tx, unchanged: &unchanged}
	var res any
	var err error
	switch c := c.(type) {
	case *command.StageBundleChunk:
		res, err = w.stage(c)
	case *command.CreateBundleVersion:
		res, err = w.createVersion(c, buckets, false)
	case *command.CreateBundleFileVersion:
		res, err = w.createVersion(&c.CreateBundleVersion, buckets, true)
	case *command.DeleteBundleVersion:
		res, err = w.deleteVersion(c)
	case *command.DeleteBundle:
		res, err = w.deleteBundle(c)
	default:
		return nil, model.Invalid(fmt.Sprintf("command %s is not a bundle command", c.Type()))
	}
	if err != nil || unchanged {
		return res, err
	}
	return res, w.b(tMeta).Put(genKey, u64(Generation(tx)+1))
}

type wtx struct {
	tx *bolt.Tx
	// unchanged is set by a command accepted without effect (a retried
	// chunk), which leaves the generation as it is.
	unchanged *bool
}

func (w wtx) b(name []byte) *bolt.Bucket { return w.tx.Bucket(name) }

// ---- keys and records

func u64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

// prefixed is uvarint(len(s)) + s, so one value is never a prefix of
// another and range scans are exact.
func prefixed(s string) []byte {
	return append(binary.AppendUvarint(nil, uint64(len(s))), s...)
}

func chunkKey(upload string, off int64) []byte { return append(prefixed(upload), u64(uint64(off))...) }

func bundleKey(bucket, group, artifact string) []byte {
	return append(append(prefixed(bucket), prefixed(group)...), artifact...)
}

func versionKey(bundleID, version string) []byte { return append(prefixed(bundleID), version...) }

func docKey(bundleID, version, name string) []byte {
	return append(append(prefixed(bundleID), prefixed(version)...), name...)
}

// get and put are JSON records (package boltjson).
var (
	get = boltjson.Get
	put = boltjson.Put
)

// chunkValue is the key of the one value in a chunk's bucket: each chunk
// has a bucket of its own, as site-to-site chunks do (queue.putChunk),
// so neighbouring inserts and deletes do not rewrite it.
var chunkValue = []byte("d")

// ---- argument checks (before any write; see store/args.go)

func checkID(what, v string) error {
	if strings.TrimSpace(v) == "" {
		return model.Invalid(what + " identifier cannot be null or blank")
	}
	if len(v) > maxID {
		return model.Invalid(fmt.Sprintf("%s identifier is longer than %d bytes", what, maxID))
	}
	return nil
}

func checkSHA(v string) error {
	if len(v) != 64 || strings.ToLower(v) != v {
		return model.Invalid("A SHA-256 must be 64 lower-case hex digits")
	}
	if _, err := hex.DecodeString(v); err != nil {
		return model.Invalid("A SHA-256 must be 64 lower-case hex digits")
	}
	return nil
}

func checkCoordinate(c command.BundleCoordinate) error {
	for _, f := range []struct{ what, v string }{{"Group id", c.Group}, {"Artifact id", c.Artifact}, {"Version", c.Version}} {
		if strings.TrimSpace(f.v) == "" {
			return model.Invalid(f.what + " cannot be null or blank")
		}
		if len(f.v) > maxCoordinate {
			return model.Invalid(fmt.Sprintf("%s is longer than %d bytes", f.what, maxCoordinate))
		}
	}
	return nil
}

// ---- staging

func (w wtx) stage(c *command.StageBundleChunk) (any, error) {
	if err := checkID("Upload", c.Upload); err != nil {
		return nil, err
	}
	if err := checkSHA(c.SHA256); err != nil {
		return nil, err
	}
	n := int64(len(c.Data))
	switch {
	case c.Size <= 0 || c.Size > MaxSize:
		return nil, model.Invalid(fmt.Sprintf("A bundle's size must be between 1 and %d bytes", int64(MaxSize)))
	case n == 0 || n > MaxChunk:
		return nil, model.Invalid(fmt.Sprintf("A bundle chunk must hold between 1 and %d bytes", MaxChunk))
	case c.Off < 0 || c.Off > c.Size-n:
		return nil, model.Invalid("A bundle chunk must lie within the bundle")
	}
	var st Stage
	ok, err := get(w.b(tStage), []byte(c.Upload), &st)
	if err != nil {
		return nil, err
	}
	switch {
	case !ok && c.Off != 0:
		return nil, model.Conflict("The bundle upload " + c.Upload + " is not staged (it was committed, or dropped after waiting too long); upload the bundle again")
	case !ok && w.b(tChunks).Bucket(chunkKey(c.Upload, 0)) != nil:
		// The id of an upload that was committed: its chunks hold stored
		// content (bbolt would refuse the chunk's bucket).
		return nil, model.Conflict("The bundle upload " + c.Upload + " was committed already")
	case ok && (st.SHA256 != c.SHA256 || st.Size != c.Size):
		return nil, model.Conflict("The bundle upload " + c.Upload + " stages other content")
	case ok && c.Off+n <= st.Staged:
		*w.unchanged = true
		return st.Staged, nil // a retried proposal: already staged
	case ok && c.Off != st.Staged:
		return nil, model.Conflict(fmt.Sprintf("The bundle upload %s has %d bytes staged, not %d", c.Upload, st.Staged, c.Off))
	}
	h := sha256.New()
	if ok {
		if err := h.(encoding.BinaryUnmarshaler).UnmarshalBinary(st.Digest); err != nil {
			return nil, fmt.Errorf("bundles: staged digest of %s: %w", c.Upload, err)
		}
	} else {
		st = Stage{SHA256: c.SHA256, Size: c.Size}
	}
	// Everything is checked: drop what waited too long, then write.
	if err := w.dropStale(c.At, c.Upload); err != nil {
		return nil, err
	}
	h.Write(c.Data)
	if st.Digest, err = h.(encoding.BinaryMarshaler).MarshalBinary(); err != nil {
		return nil, err
	}
	st.Staged += n
	st.At = c.At
	cb, err := w.b(tChunks).CreateBucket(chunkKey(c.Upload, c.Off))
	if err != nil {
		return nil, err
	}
	if err := cb.Put(chunkValue, c.Data); err != nil {
		return nil, err
	}
	return st.Staged, put(w.b(tStage), []byte(c.Upload), st)
}

// dropStale drops staging areas (and their chunks) whose last chunk is
// BundleStageTimeout older than now: their uploader died or gave up.
func (w wtx) dropStale(now int64, keep string) error {
	var stale []string
	err := w.b(tStage).ForEach(func(k, v []byte) error {
		var st Stage
		if err := json.Unmarshal(v, &st); err != nil {
			return fmt.Errorf("bundles: decode stage %s: %w", k, err)
		}
		if string(k) != keep && st.At+command.BundleStageTimeout < now {
			stale = append(stale, string(k))
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, u := range stale {
		if err := w.dropChunks(u); err != nil {
			return err
		}
		if err := w.b(tStage).Delete([]byte(u)); err != nil {
			return err
		}
	}
	return nil
}

func (w wtx) dropChunks(upload string) error {
	b := w.b(tChunks)
	p := prefixed(upload)
	var keys [][]byte
	c := b.Cursor()
	for k, _ := c.Seek(p); k != nil && bytes.HasPrefix(k, p) && len(k) == len(p)+8; k, _ = c.Next() {
		keys = append(keys, bytes.Clone(k))
	}
	for _, k := range keys {
		if err := b.DeleteBucket(k); err != nil {
			return err
		}
	}
	return nil
}

// ---- versions

func checkExtensions(raw json.RawMessage) ([]Extension, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	var exts []Extension
	if err := json.Unmarshal(raw, &exts); err != nil {
		return nil, model.Invalid("Invalid extension due to one or more constraint violations: " + err.Error())
	}
	for _, e := range exts {
		if strings.TrimSpace(e.Name) == "" || !slices.Contains(ExtensionTypes, e.Type) {
			return nil, model.Invalid("Invalid extension due to one or more constraint violations")
		}
	}
	return exts, nil
}

// createVersion applies CreateBundleVersion, or with inFile
// CreateBundleFileVersion, whose content not stored already is a file
// beside the log (recorded, never read: a replica may not have it yet).
func (w wtx) createVersion(c *command.CreateBundleVersion, buckets Buckets, inFile bool) (any, error) {
	if err := checkID("Bucket", c.BucketID); err != nil {
		return nil, err
	}
	if err := checkID("Bundle", c.BundleID); err != nil {
		return nil, err
	}
	if err := checkID("Bundle version", c.VersionID); err != nil {
		return nil, err
	}
	if c.BundleType != command.BundleNAR && c.BundleType != command.BundleMiNiFiCpp {
		return nil, model.Invalid("Bundle type cannot be null")
	}
	if err := checkCoordinate(c.Coordinate); err != nil {
		return nil, err
	}
	for _, d := range c.Dependencies {
		if err := checkCoordinate(d); err != nil {
			return nil, model.Invalid("Cannot create extension bundle version dependency: " + err.Error())
		}
	}
	if err := checkSHA(c.SHA256); err != nil {
		return nil, err
	}
	if c.Size <= 0 || c.Size > MaxSize {
		return nil, model.Invalid("Cannot create extension bundle version: no content")
	}
	exts, err := checkExtensions(c.Extensions)
	if err != nil {
		return nil, err
	}
	names := map[string]bool{}
	for _, e := range exts {
		names[e.Name] = true
	}
	for n := range c.AdditionalDetails {
		if !names[n] || len(n) > maxCoordinate {
			return nil, model.Invalid("Additional details name an extension the bundle does not have: " + n)
		}
	}
	bucket, ok, err := buckets.Bucket(c.BucketID)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, model.NotFound(model.MsgBucketNotFound)
	}

	// The content: stored already, or staged complete under c.Upload.
	var content Content
	stored, err := get(w.b(tContent), []byte(c.SHA256), &content)
	if err != nil {
		return nil, err
	}
	var st Stage
	staged := false
	if c.Upload != "" && !inFile {
		if staged, err = get(w.b(tStage), []byte(c.Upload), &st); err != nil {
			return nil, err
		}
	}
	switch {
	case stored && content.Size != c.Size:
		return nil, model.Conflict("Stored content with this SHA-256 has another size")
	case !stored && inFile:
		// The proposer sent the file to a majority of the voters.
	case !stored && !staged:
		return nil, model.Conflict("The bundle's content is not staged (it was dropped after waiting too long); upload the bundle again")
	case !stored && (st.SHA256 != c.SHA256 || st.Size != c.Size || st.Staged != c.Size):
		return nil, model.Conflict(fmt.Sprintf("The bundle's content is incomplete: %d of %d bytes staged", st.Staged, c.Size))
	case !stored:
		h := sha256.New()
		if err := h.(encoding.BinaryUnmarshaler).UnmarshalBinary(st.Digest); err != nil {
			return nil, fmt.Errorf("bundles: staged digest of %s: %w", c.Upload, err)
		}
		if hex.EncodeToString(h.Sum(nil)) != c.SHA256 {
			return nil, model.Conflict(MsgSHA256Mismatch)
		}
	}

	// NiFi's rules (StandardExtensionService.createBundleVersion).
	coord := c.Coordinate
	isSnapshot := strings.HasSuffix(coord.Version, snapshotSuffix)
	overwrite := isSnapshot || bucket.AllowBundleRedeploy
	all, err := w.allBundles()
	if err != nil {
		return nil, err
	}
	var bundle Bundle
	haveBundle := false
	for _, b := range all {
		if b.Group != coord.Group || b.Artifact != coord.Artifact {
			continue
		}
		var v Version
		ok, err := get(w.b(tVersions), versionKey(b.ID, coord.Version), &v)
		if err != nil {
			return nil, err
		}
		if ok && v.SHA256 != c.SHA256 && !isSnapshot {
			return nil, model.Conflict(MsgDifferentChecksum)
		}
		if b.BucketID == c.BucketID {
			bundle, haveBundle = b, true
		}
	}
	if haveBundle && bundle.Type != c.BundleType {
		return nil, model.Conflict(MsgDifferentBundleType)
	}
	if !haveBundle {
		if _, taken, err := w.bundle(c.BundleID); err != nil {
			return nil, err
		} else if taken {
			return nil, model.Conflict("An extension bundle with the same identifier already exists")
		}
		bundle = Bundle{ID: c.BundleID, BucketID: c.BucketID, Group: coord.Group, Artifact: coord.Artifact,
			Type: c.BundleType, Created: c.Timestamp, Modified: c.Timestamp}
	}
	var old Version
	exists, err := get(w.b(tVersions), versionKey(bundle.ID, coord.Version), &old)
	if err != nil {
		return nil, err
	}
	if exists && !overwrite {
		return nil, model.Conflict(MsgVersionExists)
	}

	// Everything is checked: write. The new version's content is counted
	// before the version it replaces is removed, so content the two share
	// is never dropped in between.
	if !stored && inFile {
		content = Content{Size: c.Size, File: true}
	} else if !stored {
		content = Content{Size: c.Size, Chunks: c.Upload}
		if err := w.b(tStage).Delete([]byte(c.Upload)); err != nil {
			return nil, err
		}
	} else if staged && st.SHA256 == c.SHA256 && c.Upload != content.Chunks {
		// Raced with another upload of the same bytes: keep one copy.
		if err := w.dropChunks(c.Upload); err != nil {
			return nil, err
		}
		if err := w.b(tStage).Delete([]byte(c.Upload)); err != nil {
			return nil, err
		}
	}
	content.Refs++
	if err := put(w.b(tContent), []byte(c.SHA256), content); err != nil {
		return nil, err
	}
	if exists {
		if err := w.removeVersion(&bundle, old); err != nil {
			return nil, err
		}
	}
	v := Version{ID: c.VersionID, BundleID: bundle.ID, BucketID: c.BucketID, Group: coord.Group, Artifact: coord.Artifact,
		Version: coord.Version, Timestamp: c.Timestamp, Author: c.Author, SHA256: c.SHA256, SHA256Supplied: c.SHA256Supplied,
		Size: c.Size, SystemAPIVersion: c.SystemAPIVersion, Build: c.Build, Dependencies: c.Dependencies, Extensions: exts}
	for n, md := range c.AdditionalDetails {
		if strings.TrimSpace(md) == "" {
			continue // NiFi keeps only non-blank details
		}
		v.Docs = append(v.Docs, n)
		if err := w.b(tDocs).Put(docKey(bundle.ID, coord.Version, n), []byte(md)); err != nil {
			return nil, err
		}
	}
	slices.Sort(v.Docs)
	if err := put(w.b(tVersions), versionKey(bundle.ID, coord.Version), v); err != nil {
		return nil, err
	}
	bundle.VersionCount++
	bundle.Modified = c.Timestamp
	if err := w.putBundle(bundle); err != nil {
		return nil, err
	}
	return &Created{Bundle: bundle, Version: v}, nil
}

func (w wtx) bundle(id string) (Bundle, bool, error) {
	var b Bundle
	ok, err := get(w.b(tBundles), []byte(id), &b)
	return b, ok, err
}

func (w wtx) putBundle(b Bundle) error {
	if err := put(w.b(tBundles), []byte(b.ID), b); err != nil {
		return err
	}
	return w.b(tBundleKeys).Put(bundleKey(b.BucketID, b.Group, b.Artifact), []byte(b.ID))
}

func (w wtx) allBundles() ([]Bundle, error) { return readBundles(w.b(tBundles)) }

// removeVersion deletes a version, its docs and its reference to its
// content (the content with it when it was the last), and counts it off
// the bundle (which the caller writes).
func (w wtx) removeVersion(b *Bundle, v Version) error {
	for _, n := range v.Docs {
		if err := w.b(tDocs).Delete(docKey(b.ID, v.Version, n)); err != nil {
			return err
		}
	}
	if err := w.b(tVersions).Delete(versionKey(b.ID, v.Version)); err != nil {
		return err
	}
	b.VersionCount--
	var content Content
	ok, err := get(w.b(tContent), []byte(v.SHA256), &content)
	if err != nil || !ok {
		return err
	}
	content.Refs--
	if content.Refs > 0 {
		return put(w.b(tContent), []byte(v.SHA256), content)
	}
	if !content.File {
		if err := w.dropChunks(content.Chunks); err != nil {
			return err
		}
	}
	// A file is left for the sweep (blobs.Keeper): Apply never
	// touches files.
	return w.b(tContent).Delete([]byte(v.SHA256))
}

// existing is the stored bundle a delete names, or NiFi's 404.
func (w wtx) existing(id string) (Bundle, error) {
	if err := checkID("Bundle", id); err != nil {
		return Bundle{}, err
	}
	b, ok, err := w.bundle(id)
	if err == nil && !ok {
		err = model.NotFound(MsgBundleNotFound)
	}
	return b, err
}

func (w wtx) deleteVersion(c *command.DeleteBundleVersion) (any, error) {
	b, err := w.existing(c.BundleID)
	if err != nil {
		return nil, err
	}
	var v Version
	if ok, err := get(w.b(tVersions), versionKey(b.ID, c.Version), &v); err != nil {
		return nil, err
	} else if !ok {
		return nil, model.NotFound(MsgBundleVersionNotIn)
	}
	if err := w.removeVersion(&b, v); err != nil {
		return nil, err
	}
	if err := w.putBundle(b); err != nil {
		return nil, err
	}
	return &Created{Bundle: b, Version: v}, nil
}

func (w wtx) deleteBundle(c *command.DeleteBundle) (any, error) {
	b, err := w.existing(c.BundleID)
	if err != nil {
		return nil, err
	}
	return b, w.removeBundle(b)
}

func (w wtx) removeBundle(b Bundle) error {
	vs, err := readVersions(w.b(tVersions), b.ID)
	if err != nil {
		return err
	}
	for _, v := range vs {
		if err := w.removeVersion(&b, v); err != nil {
			return err
		}
	}
	if err := w.b(tBundleKeys).Delete(bundleKey(b.BucketID, b.Group, b.Artifact)); err != nil {
		return err
	}
	return w.b(tBundles).Delete([]byte(b.ID))
}

// DeleteBucket deletes the bundles of a bucket being deleted (NiFi's
// RegistryService.deleteBucket deletes its extension bundles too). The
// store calls it once it has checked the bucket deletion.
func DeleteBucket(tx *bolt.Tx, bucketID string) error {
	w := wtx{tx: tx, unchanged: new(bool)}
	all, err := w.allBundles()
	if err != nil {
		return err
	}
	for _, b := range all {
		if b.BucketID == bucketID {
			if err := w.removeBundle(b); err != nil {
				return err
			}
		}
	}
	return nil
}
