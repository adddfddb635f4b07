package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/weir-nifi/weir/internal/blobs"
	"github.com/weir-nifi/weir/internal/bundles"
	"github.com/weir-nifi/weir/internal/bundles/nar"
	"github.com/weir-nifi/weir/internal/command"
	"github.com/weir-nifi/weir/internal/model"
	"github.com/weir-nifi/weir/internal/store"
)

// Extension bundles (docs/bundles-design.md): an upload is spooled to a
// temp file while hashed, its metadata read from the file, its content
// proposed in chunks unless the store holds that content already, and a
// CreateBundleVersion with ids, time and author fixed commits it.

// Messages of NiFi Registry's StandardExtensionService.
const (
	msgMiNiFiCppUnsupported = "Minifi CPP extensions are not yet supported"
	msgVersionNotFound      = "The specified extension bundle version does not exist."
	msgVersionNotInBucket   = "The specified extension bundle version does not exist in this bucket."
	msgBundleNotInBucket    = "The specified extension bundle does not exist in this bucket."
	msgExtensionNotFound    = "The specified extension does not exist in this registry."
	msgNoAdditionalDetails  = "The specified extension does not have additional details."
)

// uploadPrefix named uploads spooled in the data directory by builds
// before the file store; a restart removes what a crash left of them.
const uploadPrefix = ".bundle-upload-"

// RemoveUploadLeftovers removes uploads a crash left spooled in dir.
func RemoveUploadLeftovers(dir string) {
	left, _ := filepath.Glob(filepath.Join(dir, uploadPrefix+"*"))
	for _, f := range left {
		os.Remove(f)
	}
}

// Contents is where bundle content lives beside the log
// (*blobs.Replicator).
type Contents interface {
	// Store is this node's file store; uploads are spooled into it.
	Store() *blobs.Store
	// Replicate returns once a majority of the voters hold the file.
	Replicate(ctx context.Context, sha string, size int64) error
	// Fetch gets a file this node lacks from a node that has it.
	Fetch(ctx context.Context, sha string, size int64) error
	// Open opens a file, fetching it first when this node lacks it.
	Open(ctx context.Context, sha string, size int64) (*os.File, error)
}

// Spool is an uploaded bundle on disk with its size and SHA-256.
type Spool struct {
	sp     *blobs.Spool
	Size   int64
	SHA256 string
}

// Close drops the spooled file unless it was kept as content.
func (s *Spool) Close() error { return s.sp.Close() }

// spoolStore is where uploads are spooled: the content store, whose
// rename then keeps a spool as content without a copy; without one a
// directory of the temp dir.
func (s *Service) spoolStore() (*blobs.Store, error) {
	if s.opts.Contents != nil {
		return s.opts.Contents.Store(), nil
	}
	s.spoolOnce.Do(func() {
		dir := s.opts.TempDir
		if dir == "" {
			dir = os.TempDir()
		}
		s.spool, s.spoolErr = blobs.Open(filepath.Join(dir, "bundle-uploads"))
	})
	return s.spool, s.spoolErr
}

// SpoolBundle copies a bundle's bytes to a file, hashing them; memory is
// one copy buffer whatever the size.
func (s *Service) SpoolBundle(r io.Reader) (*Spool, error) {
	st, err := s.spoolStore()
	if err != nil {
		return nil, err
	}
	bs, err := st.Create()
	if err != nil {
		return nil, err
	}
	if _, err = io.Copy(bs, r); err == nil {
		err = bs.Finish()
	}
	if err != nil {
		bs.Close()
		return nil, err
	}
	return &Spool{sp: bs, Size: bs.Size, SHA256: bs.SHA256}, nil
}

// inFiles reports whether new content goes to the file store: there is
// one and every voter applies CreateBundleFileVersion.
func (s *Service) inFiles() bool {
	if s.opts.Contents == nil {
		return false
	}
	l, ok := s.p.(interface{ CommandLevel() int })
	return !ok || l.CommandLevel() >= command.LevelOf(command.TypeCreateBundleFileVersion)
}

// CreateBundleVersion stores a spooled bundle as a version in a bucket
// (StandardExtensionService.createBundleVersion). clientSHA is the
// client's "sha256" field ("" when absent).
func (s *Service) CreateBundleVersion(ctx context.Context, caller Caller, bucketID, bundleType string, sp *Spool, clientSHA string) (*model.BundleVersion, error) {
	supplied := strings.TrimSpace(clientSHA) != ""
	if supplied && !strings.EqualFold(sp.SHA256, clientSHA) {
		return nil, model.Conflict(bundles.MsgSHA256Mismatch)
	}
	if bundleType == command.BundleMiNiFiCpp {
		// NiFi's MiNiFiCppBundleExtractor throws this (a 500 there);
		// the client cannot fix it by retrying, so it is a 400 here.
		return nil, model.Invalid(msgMiNiFiCppUnsupported)
	}
	if sp.Size == 0 {
		return nil, model.Invalid("NAR bundles must contain a valid MANIFEST")
	}
	d, err := nar.Extract(sp.sp.File(), sp.Size)
	if err != nil {
		var be *nar.Error
		if errors.As(err, &be) {
			return nil, model.Invalid(be.Msg)
		}
		return nil, err
	}
	exts, err := json.Marshal(d.Extensions)
	if err != nil {
		return nil, err
	}
	if len(d.Extensions) == 0 {
		exts = nil
	}
	c := &command.CreateBundleVersion{
		BucketID: bucketID, BundleID: s.opts.NewID(), VersionID: s.opts.NewID(), BundleType: bundleType,
		Coordinate: command.BundleCoordinate{Group: d.Coordinate.Group, Artifact: d.Coordinate.Artifact, Version: d.Coordinate.Version},
		SHA256:     sp.SHA256, SHA256Supplied: supplied, Size: sp.Size, SystemAPIVersion: d.SystemAPIVersion,
		Build: command.BundleBuild{Tool: d.Build.BuildTool, Flags: d.Build.BuildFlags, Branch: d.Build.BuildBranch, Tag: d.Build.BuildTag,
			Revision: d.Build.BuildRevision, Built: d.Build.Built, BuiltBy: d.Build.BuiltBy},
		Extensions: exts, Author: caller.Identity,
	}
	for _, dep := range d.Dependencies {
		c.Dependencies = append(c.Dependencies, command.BundleCoordinate{Group: dep.Group, Artifact: dep.Artifact, Version: dep.Version})
	}
	for name, md := range d.AdditionalDetails {
		if slices.ContainsFunc(d.Extensions, func(e nar.Extension) bool { return e.Name == name }) {
			if c.AdditionalDetails == nil {
				c.AdditionalDetails = map[string]string{}
			}
			c.AdditionalDetails[name] = md
		}
	}
	// Content the store holds already is not sent again.
	var have bool
	if err := s.read(func(tx *store.Tx) (err error) {
		have, err = bundles.HasContent(tx.Bolt(), sp.SHA256)
		return err
	}); err != nil {
		return nil, err
	}
	var cmd command.Command = c
	switch {
	case s.inFiles():
		// The spool becomes the file of its SHA-256, which a majority of
		// the voters then hold before the metadata is proposed.
		cmd = &command.CreateBundleFileVersion{CreateBundleVersion: *c}
		if !have {
			if err := sp.sp.Keep(); err != nil {
				return nil, err
			}
			if err := s.opts.Contents.Replicate(ctx, sp.SHA256, sp.Size); err != nil {
				return nil, err
			}
		}
	case !have:
		c.Upload = s.opts.NewID()
		if err := s.stageContent(ctx, c.Upload, sp); err != nil {
			return nil, err
		}
	}
	c.Timestamp = s.now()
	cr, err := s.commitBundle(ctx, cmd, c)
	if err != nil {
		return nil, err
	}
	var out *model.BundleVersion
	err = s.read(func(tx *store.Tx) error {
		b, _, err := tx.Bucket(bucketID)
		if err != nil {
			return err
		}
		out = bundleVersionOf(b, cr.Bundle, cr.Version)
		out.Bundle.Permissions = model.AllPermissions()
		// NiFi builds the answer's metadata without group and artifact.
		out.VersionMetadata.GroupID, out.VersionMetadata.ArtifactID = nil, nil
		return nil
	})
	return out, err
}

// anywhere is a Proposer that can propose from a follower too (the
// cluster node): bundle uploads run on the node that takes them.
type anywhere interface {
	ProposeAnywhere(ctx context.Context, c command.Command, out any) error
}

// proposeBundle replicates a bundle command from this node, whichever it
// is, decoding the result into out. Both bundle writes an upload makes are
// safe to apply twice: a chunk already staged is accepted without effect,
// a version already stored is refused.
func (s *Service) proposeBundle(ctx context.Context, c command.Command, out any) error {
	if a, ok := s.p.(anywhere); ok {
		return a.ProposeAnywhere(ctx, c, out)
	}
	res, err := s.p.Propose(ctx, c)
	if err != nil || out == nil {
		return err
	}
	b, err := json.Marshal(res)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, out)
}

// stageContent proposes the spooled content in chunks, one in memory at a
// time.
func (s *Service) stageContent(ctx context.Context, upload string, sp *Spool) error {
	buf := make([]byte, bundles.ChunkSize)
	for off := int64(0); off < sp.Size; {
		n, err := sp.sp.File().ReadAt(buf[:min(int64(len(buf)), sp.Size-off)], off)
		if err != nil && !(errors.Is(err, io.EOF) && int64(n) == sp.Size-off) {
			return err
		}
		if err := s.stageChunk(ctx, &command.StageBundleChunk{Upload: upload, SHA256: sp.SHA256, Size: sp.Size,
			Off: off, At: s.now(), Data: buf[:n]}); err != nil {
			return err
		}
		off += int64(n)
	}
	return nil
}

// barrier is a Proposer that can make a following read linearizable (the
// cluster node).
type barrier interface {
	ReadBarrier(ctx context.Context) error
}

// commitBundle proposes a CreateBundleVersion. When its outcome is
// unknown (the leader died while replicating it), a read through the next
// leader decides it: the version is there under this command's id (it
// was applied), or it never will be and the command is proposed again.
func (s *Service) commitBundle(ctx context.Context, cmd command.Command, c *command.CreateBundleVersion) (*bundles.Created, error) {
	b, canCheck := s.p.(barrier)
	for try := 1; ; try++ {
		cr := &bundles.Created{}
		err := s.proposeBundle(ctx, cmd, cr)
		if err == nil {
			return cr, nil
		}
		if model.KindOf(err) != model.KindUnavailable || !canCheck || try == chunkRetries {
			return nil, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(min(time.Duration(try)*100*time.Millisecond, time.Second)):
		}
		if b.ReadBarrier(ctx) != nil {
			continue // no leader yet: try again
		}
		if cr, ok := s.appliedVersion(c); ok {
			return cr, nil
		}
	}
}

// appliedVersion finds the version a CreateBundleVersion stored, by its id.
func (s *Service) appliedVersion(c *command.CreateBundleVersion) (*bundles.Created, bool) {
	var out *bundles.Created
	s.read(func(tx *store.Tx) error {
		b, ok, err := bundles.ByCoordinate(tx.Bolt(), c.BucketID, c.Coordinate.Group, c.Coordinate.Artifact)
		if err != nil || !ok {
			return err
		}
		v, ok, err := bundles.GetVersion(tx.Bolt(), b.ID, c.Coordinate.Version)
		if err == nil && ok && v.ID == c.VersionID {
			out = &bundles.Created{Bundle: b, Version: v}
		}
		return err
	})
	return out, out != nil
}

// chunkRetries bounds how often a chunk whose outcome is unknown (the
// leader died while replicating it) is proposed again: staging a chunk
// twice changes nothing, so the upload goes on with the next leader
// instead of failing. About as long as an election takes.
const chunkRetries = 20

func (s *Service) stageChunk(ctx context.Context, c *command.StageBundleChunk) error {
	for try := 1; ; try++ {
		err := s.proposeBundle(ctx, c, nil)
		if err == nil || model.KindOf(err) != model.KindUnavailable || try == chunkRetries {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(min(time.Duration(try)*100*time.Millisecond, time.Second)):
		}
		c.At = s.now()
	}
}

// ---- mapping

func bundleLink(id string) *model.Link { return model.NewLink("bundles/"+id, "self") }

func bundleVersionLink(id, version string) *model.Link {
	return model.NewLink("bundles/"+id+"/versions/"+version, "self")
}

func bundleOf(b bundles.Bundle, bucketName string) *model.Bundle {
	return &model.Bundle{
		ArtifactID: b.Artifact, BucketIdentifier: b.BucketID, BucketName: model.Str(bucketName), BundleType: b.Type,
		CreatedTimestamp: b.Created, GroupID: b.Group, Identifier: b.ID, Link: bundleLink(b.ID),
		ModifiedTimestamp: b.Modified, Name: b.Group + ":" + b.Artifact, Type: model.ItemTypeBundle, VersionCount: b.VersionCount,
	}
}

func versionMetadataOf(v bundles.Version) *model.BundleVersionMetadata {
	return &model.BundleVersionMetadata{
		ArtifactID: model.Str(v.Artifact), Author: v.Author, BucketID: v.BucketID,
		BuildInfo: &model.BuildInfo{BuildBranch: v.Build.Branch, BuildFlags: v.Build.Flags, BuildRevision: v.Build.Revision,
			BuildTag: v.Build.Tag, BuildTool: v.Build.Tool, Built: v.Build.Built, BuiltBy: v.Build.BuiltBy},
		BundleID: v.BundleID, ContentSize: v.Size, GroupID: model.Str(v.Group), ID: v.ID,
		Link: bundleVersionLink(v.BundleID, v.Version), SHA256: v.SHA256, SHA256Supplied: v.SHA256Supplied,
		SystemAPIVersion: v.SystemAPIVersion, Timestamp: v.Timestamp, Version: v.Version,
	}
}

func bundleVersionOf(bucket store.BucketRec, b bundles.Bundle, v bundles.Version) *model.BundleVersion {
	// NiFi links the version's bucket but populates no permissions on it.
	bk := bucketBase(bucket)
	bk.Link = bucketLink(bucket.ID)
	deps := []model.BundleVersionDependency{}
	for _, d := range v.Dependencies {
		deps = append(deps, model.BundleVersionDependency{ArtifactID: d.Artifact, GroupID: d.Group, Version: d.Version})
	}
	return &model.BundleVersion{Bucket: bk, Bundle: bundleOf(b, bucket.Name), Dependencies: deps, VersionMetadata: versionMetadataOf(v)}
}

// displayName is NiFi's: the simple name of the extension's class.
func displayName(name string) string { return name[strings.LastIndex(name, ".")+1:] }

func extensionOf(bucketName string, b bundles.Bundle, v bundles.Version, e bundles.Extension) *model.ExtensionMetadata {
	m := &model.ExtensionMetadata{
		BundleInfo: &model.BundleInfo{ArtifactID: b.Artifact, BucketID: b.BucketID, BucketName: bucketName, BundleID: b.ID,
			BundleType: b.Type, GroupID: b.Group, SystemAPIVersion: v.SystemAPIVersion, Version: v.Version},
		DisplayName: displayName(e.Name), HasAdditionalDetails: slices.Contains(v.Docs, e.Name),
		Link:     model.NewLink("bundles/"+b.ID+"/versions/"+v.Version+"/extensions/"+e.Name, "self"),
		LinkDocs: model.NewLink("bundles/"+b.ID+"/versions/"+v.Version+"/extensions/"+e.Name+"/docs", "docs"),
		Name:     e.Name, Tags: e.Tags, Type: e.Type,
	}
	if e.Description != "" {
		m.Description = model.Str(e.Description)
	}
	if e.DeprecationNotice != nil {
		m.DeprecationNotice = e.DeprecationNotice
	}
	if e.Restricted != nil {
		m.Restricted = e.Restricted
	}
	if len(e.ProvidedAPIs) > 0 {
		m.ProvidedServiceAPIs = e.ProvidedAPIs
	}
	return m
}

// ---- reads

// BucketFilter says whether the caller may read a bucket: nil when it
// may, else the refusal. A nil BucketFilter allows every bucket.
type BucketFilter func(bucketID string) error

func (f BucketFilter) allows(id string) bool { return f == nil || f(id) == nil }

func (f BucketFilter) check(id string) error {
	if f == nil {
		return nil
	}
	return f(id)
}

// bundleView is every bundle with its bucket, read in one transaction.
type bundleView struct {
	tx      *store.Tx
	buckets map[string]store.BucketRec
}

func (v bundleView) bucketName(id string) string { return v.buckets[id].Name }

func (s *Service) viewBundles(fn func(v bundleView) error) error {
	return s.read(func(tx *store.Tx) error {
		bs, err := tx.Buckets()
		if err != nil {
			return err
		}
		v := bundleView{tx: tx, buckets: map[string]store.BucketRec{}}
		for _, b := range bs {
			v.buckets[b.ID] = b
		}
		return fn(v)
	})
}

// likeMatch is SQL LIKE with % wildcards (NiFi's filter params), case
// sensitive as its database is.
func likeMatch(pattern, s string) bool {
	if pattern == "" {
		return true
	}
	parts := strings.Split(pattern, "%")
	if len(parts) == 1 {
		return s == pattern
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	for i, p := range parts[1:] {
		last := i == len(parts)-2
		if last {
			return strings.HasSuffix(s, p)
		}
		j := strings.Index(s, p)
		if j < 0 {
			return false
		}
		s = s[j+len(p):]
	}
	return true
}

// BundleFilter is the query of GET /bundles.
type BundleFilter struct{ BucketName, Group, Artifact string }

// ListBundles answers GET /bundles: bundles of readable buckets matching
// the filter, by group and artifact.
func (s *Service) ListBundles(f BundleFilter, readable BucketFilter) ([]*model.Bundle, error) {
	out := []*model.Bundle{}
	err := s.viewBundles(func(v bundleView) error {
		all, err := bundles.All(v.tx.Bolt())
		if err != nil {
			return err
		}
		for _, b := range all {
			name := v.bucketName(b.BucketID)
			if !readable.allows(b.BucketID) || !likeMatch(f.BucketName, name) || !likeMatch(f.Group, b.Group) || !likeMatch(f.Artifact, b.Artifact) {
				continue
			}
			mb := bundleOf(b, name)
			mb.Permissions = model.AllPermissions()
			out = append(out, mb)
		}
		return nil
	})
	// NiFi orders by group and artifact (its SQL); the bucket name breaks
	// ties, which NiFi leaves to its database.
	slices.SortFunc(out, func(a, b *model.Bundle) int {
		return cmpStrings(a.GroupID, b.GroupID, a.ArtifactID, b.ArtifactID, model.Deref(a.BucketName), model.Deref(b.BucketName))
	})
	return out, err
}

func cmpStrings(pairs ...string) int {
	for i := 0; i+1 < len(pairs); i += 2 {
		if c := strings.Compare(pairs[i], pairs[i+1]); c != 0 {
			return c
		}
	}
	return 0
}

// BucketBundles answers GET /buckets/{id}/bundles.
func (s *Service) BucketBundles(bucketID string) ([]*model.Bundle, error) {
	if _, err := s.GetBucket(bucketID); err != nil {
		return nil, err
	}
	all, err := s.ListBundles(BundleFilter{}, func(id string) error {
		if id != bucketID {
			return model.NotFound("")
		}
		return nil
	})
	return all, err
}

// bundleIn reads a bundle and its bucket (StandardExtensionService
// .getBundle, then the facade's bucket authorization).
func (s *Service) bundleIn(v bundleView, id string, readable BucketFilter) (bundles.Bundle, store.BucketRec, error) {
	b, ok, err := bundles.Get(v.tx.Bolt(), id)
	if err != nil {
		return b, store.BucketRec{}, err
	}
	if !ok {
		return b, store.BucketRec{}, model.NotFound(bundles.MsgBundleNotFound)
	}
	bk, ok := v.buckets[b.BucketID]
	if !ok {
		return b, bk, model.NotFound(model.MsgBucketNotFound)
	}
	return b, bk, readable.check(b.BucketID)
}

// GetBundle answers GET /bundles/{id}.
func (s *Service) GetBundle(id string, readable BucketFilter) (*model.Bundle, error) {
	var out *model.Bundle
	err := s.viewBundles(func(v bundleView) error {
		b, bk, err := s.bundleIn(v, id, readable)
		if err == nil {
			out = bundleOf(b, bk.Name)
			out.Permissions = model.AllPermissions()
		}
		return err
	})
	return out, err
}

// BundleBucket finds the bucket of a bundle (for authorization).
func (s *Service) BundleBucket(id string) (string, bool) {
	var bucket string
	var found bool
	s.read(func(tx *store.Tx) error {
		b, ok, err := bundles.Get(tx.Bolt(), id)
		bucket, found = b.BucketID, ok
		return err
	})
	return bucket, found
}

// DeleteBundle answers DELETE /bundles/{id}.
func (s *Service) DeleteBundle(ctx context.Context, caller Caller, id string, readable BucketFilter) (*model.Bundle, error) {
	out, err := s.GetBundle(id, readable)
	if err != nil {
		return nil, err
	}
	if _, err := s.p.Propose(ctx, &command.DeleteBundle{BundleID: id, Actor: caller.Identity}); err != nil {
		return nil, err
	}
	return out, nil
}

// BundleVersions answers GET /bundles/{id}/versions: newest version
// string first (NiFi's reverse-ordered TreeSet).
func (s *Service) BundleVersions(id string, readable BucketFilter) ([]*model.BundleVersionMetadata, error) {
	out := []*model.BundleVersionMetadata{}
	err := s.viewBundles(func(v bundleView) error {
		b, _, err := s.bundleIn(v, id, readable)
		if err != nil {
			return err
		}
		vs, err := bundles.Versions(v.tx.Bolt(), b.ID)
		for i := len(vs) - 1; i >= 0; i-- {
			out = append(out, versionMetadataOf(vs[i]))
		}
		return err
	})
	return out, err
}

// VersionFilter is the query of GET /bundles/versions.
type VersionFilter struct{ Group, Artifact, Version string }

// AllBundleVersions answers GET /bundles/versions: versions in readable
// buckets, by bundle id then version.
func (s *Service) AllBundleVersions(f VersionFilter, readable BucketFilter) ([]*model.BundleVersionMetadata, error) {
	out := []*model.BundleVersionMetadata{}
	err := s.viewBundles(func(v bundleView) error {
		all, err := bundles.All(v.tx.Bolt())
		if err != nil {
			return err
		}
		slices.SortFunc(all, func(a, b bundles.Bundle) int { return strings.Compare(a.ID, b.ID) })
		for _, b := range all {
			if !readable.allows(b.BucketID) || !likeMatch(f.Group, b.Group) || !likeMatch(f.Artifact, b.Artifact) {
				continue
			}
			vs, err := bundles.Versions(v.tx.Bolt(), b.ID)
			if err != nil {
				return err
			}
			for _, x := range vs {
				if likeMatch(f.Version, x.Version) {
					out = append(out, versionMetadataOf(x))
				}
			}
		}
		return nil
	})
	return out, err
}

// versionIn reads a version of a bundle.
func (s *Service) versionIn(v bundleView, id, version string, readable BucketFilter) (store.BucketRec, bundles.Bundle, bundles.Version, error) {
	b, bk, err := s.bundleIn(v, id, readable)
	if err != nil {
		return bk, b, bundles.Version{}, err
	}
	x, ok, err := bundles.GetVersion(v.tx.Bolt(), id, version)
	if err == nil && !ok {
		err = model.NotFound(msgVersionNotFound)
	}
	return bk, b, x, err
}

// GetBundleVersion answers GET /bundles/{id}/versions/{version}.
func (s *Service) GetBundleVersion(id, version string, readable BucketFilter) (*model.BundleVersion, error) {
	var out *model.BundleVersion
	err := s.viewBundles(func(v bundleView) error {
		bk, b, x, err := s.versionIn(v, id, version, readable)
		if err == nil {
			out = bundleVersionOf(bk, b, x)
		}
		return err
	})
	return out, err
}

// DeleteBundleVersion answers DELETE /bundles/{id}/versions/{version}.
func (s *Service) DeleteBundleVersion(ctx context.Context, caller Caller, id, version string, readable BucketFilter) (*model.BundleVersion, error) {
	out, err := s.GetBundleVersion(id, version, readable)
	if err != nil {
		return nil, err
	}
	if _, err := s.p.Propose(ctx, &command.DeleteBundleVersion{BundleID: id, Version: version, Actor: caller.Identity}); err != nil {
		return nil, err
	}
	return out, nil
}

// BundleContent is a version's content to stream.
type BundleContent struct {
	Filename string
	SHA256   string
	Size     int64
}

// GetBundleContent finds a version's content (GET …/content).
func (s *Service) GetBundleContent(id, version string, readable BucketFilter) (*BundleContent, error) {
	var out *BundleContent
	err := s.viewBundles(func(v bundleView) error {
		_, b, x, err := s.versionIn(v, id, version, readable)
		if err == nil {
			out = contentOf(b, x)
		}
		return err
	})
	return out, err
}

func contentOf(b bundles.Bundle, x bundles.Version) *BundleContent {
	name := b.Artifact + "-" + x.Version
	if b.Type == command.BundleNAR {
		name += ".nar"
	}
	return &BundleContent{Filename: name, SHA256: x.SHA256, Size: x.Size}
}

// OpenBundleContent opens a version's content for reading. Content in a
// file this node lacks (it was down when the file was sent, or joined
// since) is fetched from a node that has it first.
func (s *Service) OpenBundleContent(ctx context.Context, c *BundleContent) (io.ReadCloser, error) {
	var rec bundles.Content
	var ok bool
	if err := s.read(func(tx *store.Tx) (err error) {
		rec, ok, err = bundles.ContentOf(tx.Bolt(), c.SHA256)
		return err
	}); err != nil {
		return nil, err
	}
	if !ok {
		return nil, model.NotFound(msgVersionNotFound)
	}
	if !rec.File {
		// One chunk per read transaction: none is held while the
		// client reads slowly.
		pr, pw := io.Pipe()
		view := func(fn func(*bolt.Tx) error) error {
			return s.read(func(tx *store.Tx) error { return fn(tx.Bolt()) })
		}
		go func() { pw.CloseWithError(bundles.CopyContent(view, c.SHA256, c.Size, pw)) }()
		return pr, nil
	}
	if s.opts.Contents == nil {
		return nil, fmt.Errorf("bundle content %s is in a file and this node keeps none", c.SHA256)
	}
	f, err := s.opts.Contents.Open(ctx, c.SHA256, rec.Size)
	if err != nil {
		return nil, model.Unavailable("The bundle's content is not on this node yet and no other node could send it; retry shortly.", time.Second)
	}
	return f, nil
}

// BundleExtensions answers GET /bundles/{id}/versions/{v}/extensions,
// ordered by display name (NiFi's TreeSet, which keeps one extension per
// display name).
func (s *Service) BundleExtensions(id, version string, readable BucketFilter) ([]*model.ExtensionMetadata, error) {
	var out []*model.ExtensionMetadata
	err := s.viewBundles(func(v bundleView) error {
		bk, b, x, err := s.versionIn(v, id, version, readable)
		if err != nil {
			return err
		}
		for _, e := range x.Extensions {
			out = append(out, extensionOf(bk.Name, b, x, e))
		}
		return nil
	})
	return byDisplayName(out), err
}

func byDisplayName(ms []*model.ExtensionMetadata) []*model.ExtensionMetadata {
	slices.SortStableFunc(ms, func(a, b *model.ExtensionMetadata) int { return strings.Compare(a.DisplayName, b.DisplayName) })
	out := []*model.ExtensionMetadata{}
	for i, m := range ms {
		if i > 0 && ms[i-1].DisplayName == m.DisplayName {
			continue
		}
		out = append(out, m)
	}
	return out
}

// BundleExtension answers GET …/extensions/{name}: the extension as the
// manifest describes it.
func (s *Service) BundleExtension(id, version, name string, readable BucketFilter) (*bundles.Extension, error) {
	var out *bundles.Extension
	err := s.viewBundles(func(v bundleView) error {
		_, _, x, err := s.versionIn(v, id, version, readable)
		if err != nil {
			return err
		}
		for _, e := range x.Extensions {
			if e.Name == name {
				out = &e
				return nil
			}
		}
		return model.NotFound(msgExtensionNotFound)
	})
	return out, err
}

// AdditionalDetails answers GET …/extensions/{name}/docs/additional-details.
func (s *Service) AdditionalDetails(id, version, name string, readable BucketFilter) (string, error) {
	var out string
	err := s.viewBundles(func(v bundleView) error {
		_, _, x, err := s.versionIn(v, id, version, readable)
		if err != nil {
			return err
		}
		if !slices.ContainsFunc(x.Extensions, func(e bundles.Extension) bool { return e.Name == name }) {
			return model.NotFound(msgExtensionNotFound)
		}
		md, ok := bundles.AdditionalDetails(v.tx.Bolt(), id, version, name)
		if !ok {
			return model.Conflict(msgNoAdditionalDetails)
		}
		out = md
		return nil
	})
	return out, err
}

// ExtensionFilter is the query of GET /extensions.
type ExtensionFilter struct {
	BundleType, ExtensionType string
	Tags                      []string
}

// SearchExtensions answers GET /extensions: extensions of readable
// buckets with the bundle type, extension type and any of the tags.
func (s *Service) SearchExtensions(f ExtensionFilter, readable BucketFilter) ([]*model.ExtensionMetadata, error) {
	return s.extensionsWhere(readable, func(b bundles.Bundle, e bundles.Extension) bool {
		if f.BundleType != "" && b.Type != f.BundleType || f.ExtensionType != "" && e.Type != f.ExtensionType {
			return false
		}
		if len(f.Tags) == 0 {
			return true
		}
		have := normalizedTags(e.Tags)
		return slices.ContainsFunc(f.Tags, func(t string) bool { return slices.Contains(have, normalizeTag(t)) })
	})
}

// normalizeTag is how NiFi stores and searches tags: trimmed, lower case.
func normalizeTag(t string) string { return strings.ToLower(strings.TrimSpace(t)) }

// normalizedTags are an extension's tags as NiFi stores them: normalized,
// blank ones left out, each once (a set per extension).
func normalizedTags(tags []string) []string {
	var out []string
	for _, t := range tags {
		if n := normalizeTag(t); n != "" && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

// ExtensionsProviding answers GET /extensions/provided-service-api.
func (s *Service) ExtensionsProviding(api bundles.ProvidedAPI, readable BucketFilter) ([]*model.ExtensionMetadata, error) {
	return s.extensionsWhere(readable, func(_ bundles.Bundle, e bundles.Extension) bool {
		return slices.Contains(e.ProvidedAPIs, api)
	})
}

func (s *Service) extensionsWhere(readable BucketFilter, keep func(bundles.Bundle, bundles.Extension) bool) ([]*model.ExtensionMetadata, error) {
	var out []*model.ExtensionMetadata
	err := s.eachVersion(readable, func(bk store.BucketRec, b bundles.Bundle, x bundles.Version) {
		for _, e := range x.Extensions {
			if keep(b, e) {
				out = append(out, extensionOf(bk.Name, b, x, e))
			}
		}
	})
	return byDisplayName(out), err
}

func (s *Service) eachVersion(readable BucketFilter, fn func(store.BucketRec, bundles.Bundle, bundles.Version)) error {
	return s.viewBundles(func(v bundleView) error {
		all, err := bundles.All(v.tx.Bolt())
		if err != nil {
			return err
		}
		slices.SortFunc(all, func(a, b bundles.Bundle) int { return strings.Compare(a.ID, b.ID) })
		for _, b := range all {
			if !readable.allows(b.BucketID) {
				continue
			}
			vs, err := bundles.Versions(v.tx.Bolt(), b.ID)
			if err != nil {
				return err
			}
			for _, x := range vs {
				fn(v.buckets[b.BucketID], b, x)
			}
		}
		return nil
	})
}

// ExtensionTags answers GET /extensions/tags: every tag of readable
// extensions with its count, by tag.
func (s *Service) ExtensionTags(readable BucketFilter) ([]model.TagCount, error) {
	counts := map[string]int32{}
	err := s.eachVersion(readable, func(_ store.BucketRec, _ bundles.Bundle, x bundles.Version) {
		for _, e := range x.Extensions {
			for _, t := range normalizedTags(e.Tags) {
				counts[t]++
			}
		}
	})
	out := []model.TagCount{}
	for t, n := range counts {
		out = append(out, model.TagCount{Tag: model.Str(t), Count: n})
	}
	slices.SortFunc(out, func(a, b model.TagCount) int { return strings.Compare(*a.Tag, *b.Tag) })
	return out, err
}

// RepoVersion is a version found by bucket name and coordinates.
type RepoVersion struct {
	Bucket  store.BucketRec
	Bundle  bundles.Bundle
	Version bundles.Version
}

// bucketByName is RegistryService.getBucketByName.
func (v bundleView) bucketByName(name string) (store.BucketRec, error) {
	for _, b := range v.buckets {
		if b.Name == name {
			return b, nil
		}
	}
	return store.BucketRec{}, model.NotFound("The specified bucket name does not exist in this registry.")
}

// RepoVersions lists the versions of a bucket (by name) matching the
// group, artifact and version given (empty for any), for the
// extension-repository browse tree.
func (s *Service) RepoVersions(bucketName, group, artifact, version string, readable BucketFilter) ([]RepoVersion, error) {
	var out []RepoVersion
	err := s.viewBundles(func(v bundleView) error {
		bk, err := v.bucketByName(bucketName)
		if err != nil {
			return err
		}
		if err := readable.check(bk.ID); err != nil {
			return err
		}
		all, err := bundles.All(v.tx.Bolt())
		if err != nil {
			return err
		}
		for _, b := range all {
			if b.BucketID != bk.ID || group != "" && b.Group != group || artifact != "" && b.Artifact != artifact {
				continue
			}
			vs, err := bundles.Versions(v.tx.Bolt(), b.ID)
			if err != nil {
				return err
			}
			for _, x := range vs {
				if version == "" || x.Version == version {
					out = append(out, RepoVersion{Bucket: bk, Bundle: b, Version: x})
				}
			}
		}
		return nil
	})
	return out, err
}

// RepoVersion finds one version by bucket name and coordinates
// (StandardExtensionService.getBundleVersion(bucket, group, artifact,
// version)).
func (s *Service) RepoVersion(bucketName, group, artifact, version string, readable BucketFilter) (RepoVersion, error) {
	vs, err := s.RepoVersions(bucketName, group, artifact, "", readable)
	if err != nil {
		return RepoVersion{}, err
	}
	if len(vs) == 0 {
		return RepoVersion{}, model.NotFound(msgBundleNotInBucket)
	}
	for _, x := range vs {
		if x.Version.Version == version {
			return x, nil
		}
	}
	return RepoVersion{}, model.NotFound(msgVersionNotInBucket)
}

// RepoContent is the content of a repository version.
func RepoContent(rv RepoVersion) *BundleContent { return contentOf(rv.Bundle, rv.Version) }

// RepoExtensions are the extensions of a repository version.
func RepoExtensions(rv RepoVersion) []*model.ExtensionMetadata {
	var out []*model.ExtensionMetadata
	for _, e := range rv.Version.Extensions {
		out = append(out, extensionOf(rv.Bucket.Name, rv.Bundle, rv.Version, e))
	}
	return byDisplayName(out)
}

// GlobalSHA256 answers GET /extension-repository/{g}/{a}/{v}/sha256: the
// checksum of the version in any readable bucket (they are all equal
// unless SNAPSHOT; NiFi takes the first).
func (s *Service) GlobalSHA256(group, artifact, version string, readable BucketFilter) (string, bool, error) {
	var sha string
	found := false
	err := s.eachVersion(readable, func(_ store.BucketRec, b bundles.Bundle, x bundles.Version) {
		if !found && b.Group == group && b.Artifact == artifact && x.Version == version {
			sha, found = x.SHA256, true
		}
	})
	return sha, found, err
}

// OpenContent opens the content with a SHA-256 whatever version refers
// to it (a DR standby fetching what its primary holds).
func (s *Service) OpenContent(ctx context.Context, sha string) (io.ReadCloser, error) {
	var rec bundles.Content
	var ok bool
	if err := s.read(func(tx *store.Tx) (err error) {
		rec, ok, err = bundles.ContentOf(tx.Bolt(), sha)
		return err
	}); err != nil {
		return nil, err
	}
	if !ok {
		// Other content files (queued site-to-site chunks) are sent when
		// this node holds them: the caller verifies them by their name.
		if s.opts.Contents != nil {
			if f, err := s.opts.Contents.Store().Open(sha); err == nil {
				return f, nil
			}
		}
		return nil, model.NotFound("No content with this SHA-256.")
	}
	return s.OpenBundleContent(ctx, &BundleContent{SHA256: sha, Size: rec.Size})
}
