package api

import (
	"bufio"
	"context"
	"errors"
	"html"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/weir-nifi/weir/internal/bundles"
	"github.com/weir-nifi/weir/internal/httpwire"
	"github.com/weir-nifi/weir/internal/model"
	"github.com/weir-nifi/weir/internal/registry"
)

// Extension bundles: BucketBundleResource, BundleResource,
// ExtensionRepoResource and ExtensionResource over package registry
// (docs/bundles-design.md). Checks run in NiFi's order: request parsing,
// the resource method, the facade's authorization, the service.

// Bundles is what the bundle routes need from the registry service.
type Bundles interface {
	SpoolBundle(r io.Reader) (*registry.Spool, error)
	CreateBundleVersion(ctx context.Context, c registry.Caller, bucketID, bundleType string, sp *registry.Spool, clientSHA string) (*model.BundleVersion, error)
	ListBundles(f registry.BundleFilter, readable registry.BucketFilter) ([]*model.Bundle, error)
	BucketBundles(bucketID string) ([]*model.Bundle, error)
	GetBundle(id string, readable registry.BucketFilter) (*model.Bundle, error)
	DeleteBundle(ctx context.Context, c registry.Caller, id string, readable registry.BucketFilter) (*model.Bundle, error)
	BundleVersions(id string, readable registry.BucketFilter) ([]*model.BundleVersionMetadata, error)
	AllBundleVersions(f registry.VersionFilter, readable registry.BucketFilter) ([]*model.BundleVersionMetadata, error)
	GetBundleVersion(id, version string, readable registry.BucketFilter) (*model.BundleVersion, error)
	DeleteBundleVersion(ctx context.Context, c registry.Caller, id, version string, readable registry.BucketFilter) (*model.BundleVersion, error)
	GetBundleContent(id, version string, readable registry.BucketFilter) (*registry.BundleContent, error)
	OpenBundleContent(ctx context.Context, c *registry.BundleContent) (io.ReadCloser, error)
	BundleExtensions(id, version string, readable registry.BucketFilter) ([]*model.ExtensionMetadata, error)
	BundleExtension(id, version, name string, readable registry.BucketFilter) (*bundles.Extension, error)
	AdditionalDetails(id, version, name string, readable registry.BucketFilter) (string, error)
	SearchExtensions(f registry.ExtensionFilter, readable registry.BucketFilter) ([]*model.ExtensionMetadata, error)
	ExtensionsProviding(api bundles.ProvidedAPI, readable registry.BucketFilter) ([]*model.ExtensionMetadata, error)
	ExtensionTags(readable registry.BucketFilter) ([]model.TagCount, error)
	RepoVersions(bucketName, group, artifact, version string, readable registry.BucketFilter) ([]registry.RepoVersion, error)
	RepoVersion(bucketName, group, artifact, version string, readable registry.BucketFilter) (registry.RepoVersion, error)
	GlobalSHA256(group, artifact, version string, readable registry.BucketFilter) (string, bool, error)
}

// IsBundleUpload reports whether r is a bundle upload (POST
// /buckets/{bucketId}/bundles/{bundleType}). Its body is a stream of up to
// Options.MaxBundle bytes that the handler spools to disk: the guard does
// not count it in the body budget, and the cluster layer does not forward
// it to the leader (it would read it into memory); the node that takes it
// proposes its chunks and its commit to the leader itself.
func IsBundleUpload(r *http.Request) bool {
	if r.Method != http.MethodPost {
		return false
	}
	rest, ok := strings.CutPrefix(r.URL.Path, Base+"/buckets/")
	if !ok {
		return false
	}
	seg := strings.Split(rest, "/")
	return len(seg) == 3 && seg[0] != "" && seg[1] == "bundles" && seg[2] != ""
}

// bundleTypes are the BundleType display names NiFi's fromString accepts.
var bundleTypes = []string{"nifi-nar", "minifi-cpp"}

type bucketFilterKey struct{}

// WithBucketFilter attaches the buckets the caller may read (package
// authz, in secured mode) to a request context; the bundle and extension
// lists answer only from those buckets, and single entities in others
// are refused with the filter's error.
func WithBucketFilter(ctx context.Context, f registry.BucketFilter) context.Context {
	return context.WithValue(ctx, bucketFilterKey{}, f)
}

func readableOf(r *http.Request) registry.BucketFilter {
	f, _ := r.Context().Value(bucketFilterKey{}).(registry.BucketFilter)
	return f
}

// ---- bundles (BucketBundleResource, BundleResource)

func (a *API) bundleRoutes() {
	// getExtensionBundles: the facade's authorizeBucketAccess refuses a
	// blank id, StandardExtensionService.getBundlesByBucket checks the
	// bucket, then lists its bundles.
	a.sget("/buckets/{bucketId}/bundles", func(w http.ResponseWriter, r *http.Request) error {
		if javaIsBlank(r.PathValue("bucketId")) {
			return model.Invalid(msgBlankBucketID)
		}
		bs, err := a.bundles.BucketBundles(r.PathValue("bucketId"))
		if err != nil {
			return err
		}
		return httpwire.WriteJSON(w, 200, bs)
	})
	a.spost("/buckets/{bucketId}/bundles/{bundleType}", a.uploadBundle)

	a.sget("/bundles", func(w http.ResponseWriter, r *http.Request) error {
		q := r.URL.Query()
		bs, err := a.bundles.ListBundles(registry.BundleFilter{BucketName: q.Get("bucketName"), Group: q.Get("groupId"),
			Artifact: q.Get("artifactId")}, readableOf(r))
		if err != nil {
			return err
		}
		return httpwire.WriteJSON(w, 200, bs)
	})
	a.sget("/bundles/versions", func(w http.ResponseWriter, r *http.Request) error {
		q := r.URL.Query()
		vs, err := a.bundles.AllBundleVersions(registry.VersionFilter{Group: q.Get("groupId"), Artifact: q.Get("artifactId"),
			Version: q.Get("version")}, readableOf(r))
		if err != nil {
			return err
		}
		return httpwire.WriteJSON(w, 200, vs)
	})

	// Everything under a bundle id starts with
	// StandardExtensionService.getBundle, which refuses a blank id.
	bundle := func(h func(w http.ResponseWriter, r *http.Request, id string) error) handlerFunc {
		return func(w http.ResponseWriter, r *http.Request) error {
			id := r.PathValue("bundleId")
			if javaIsBlank(id) {
				return model.Invalid(msgBlankBundleID)
			}
			return h(w, r, id)
		}
	}
	a.sget("/bundles/{bundleId}", bundle(func(w http.ResponseWriter, r *http.Request, id string) error {
		b, err := a.bundles.GetBundle(id, readableOf(r))
		return writeOr(w, b, err)
	}))
	a.sdel("/bundles/{bundleId}", bundle(func(w http.ResponseWriter, r *http.Request, id string) error {
		b, err := a.bundles.DeleteBundle(r.Context(), callerOf(r), id, readableOf(r))
		return writeOr(w, b, err)
	}))
	a.sget("/bundles/{bundleId}/versions", bundle(func(w http.ResponseWriter, r *http.Request, id string) error {
		vs, err := a.bundles.BundleVersions(id, readableOf(r))
		return writeOr(w, vs, err)
	}))
	const bv = "/bundles/{bundleId}/versions/{version}"
	a.sget(bv, bundle(func(w http.ResponseWriter, r *http.Request, id string) error {
		v, err := a.bundles.GetBundleVersion(id, r.PathValue("version"), readableOf(r))
		return writeOr(w, v, err)
	}))
	a.sdel(bv, bundle(func(w http.ResponseWriter, r *http.Request, id string) error {
		v, err := a.bundles.DeleteBundleVersion(r.Context(), callerOf(r), id, r.PathValue("version"), readableOf(r))
		return writeOr(w, v, err)
	}))
	a.sget(bv+"/content", bundle(func(w http.ResponseWriter, r *http.Request, id string) error {
		c, err := a.bundles.GetBundleContent(id, r.PathValue("version"), readableOf(r))
		if err != nil {
			return err
		}
		return a.writeContent(w, r, c)
	}))
	a.sget(bv+"/extensions", bundle(func(w http.ResponseWriter, r *http.Request, id string) error {
		es, err := a.bundles.BundleExtensions(id, r.PathValue("version"), readableOf(r))
		return writeOr(w, es, err)
	}))
	a.sget(bv+"/extensions/{name}", bundle(func(w http.ResponseWriter, r *http.Request, id string) error {
		e, err := a.bundles.BundleExtension(id, r.PathValue("version"), r.PathValue("name"), readableOf(r))
		return writeOr(w, e, err)
	}))
	a.sget(bv+"/extensions/{name}/docs", bundle(func(w http.ResponseWriter, r *http.Request, id string) error {
		e, err := a.bundles.BundleExtension(id, r.PathValue("version"), r.PathValue("name"), readableOf(r))
		if err != nil {
			return err
		}
		return writeDocs(w, e)
	}))
	a.sget(bv+"/extensions/{name}/docs/additional-details", bundle(func(w http.ResponseWriter, r *http.Request, id string) error {
		md, err := a.bundles.AdditionalDetails(id, r.PathValue("version"), r.PathValue("name"), readableOf(r))
		if err != nil {
			return err
		}
		return writeHTML(w, md)
	}))
}

func writeOr(w http.ResponseWriter, v any, err error) error {
	if err != nil {
		return err
	}
	return httpwire.WriteJSON(w, 200, v)
}

// writeContent streams a version's content as NiFi's getBundleVersionContent
// does (its header spelling included).
func (a *API) writeContent(w http.ResponseWriter, r *http.Request, c *registry.BundleContent) error {
	body, err := a.bundles.OpenBundleContent(r.Context(), c)
	if err != nil {
		return err
	}
	defer body.Close()
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.FormatInt(c.Size, 10))
	w.Header().Set("content-disposition", "attachment; filename = "+c.Filename)
	w.WriteHeader(200)
	if _, err := io.Copy(w, body); err != nil {
		// The status is sent: the client sees a short body.
		a.opts.Log.Error("bundle content", "sha256", c.SHA256, "err", err)
	}
	return nil
}

// writeDocs answers an extension's docs page. NiFi renders its full
// HtmlExtensionDocWriter page; this is the same facts in plain HTML.
func writeDocs(w http.ResponseWriter, e *bundles.Extension) error {
	var b strings.Builder
	esc := html.EscapeString
	b.WriteString("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>")
	b.WriteString(esc(e.Name[strings.LastIndex(e.Name, ".")+1:]))
	b.WriteString("</title></head><body><h2>" + esc(e.Name) + "</h2><p>" + esc(e.Type) + "</p>")
	if e.Description != "" {
		b.WriteString("<p>" + esc(e.Description) + "</p>")
	}
	if len(e.Tags) > 0 {
		b.WriteString("<h3>Tags</h3><p>")
		for i, t := range e.Tags {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(esc(t))
		}
		b.WriteString("</p>")
	}
	if e.Restricted != nil {
		b.WriteString("<h3>Restricted</h3><p>" + esc(e.Restricted.GeneralRestrictionExplanation) + "</p>")
	}
	b.WriteString("</body></html>")
	return writeHTML(w, b.String())
}

func writeHTML(w http.ResponseWriter, body string) error {
	w.Header().Set("Content-Type", "text/html")
	w.WriteHeader(200)
	_, err := io.WriteString(w, body)
	return err
}

// uploadBundle follows createExtensionBundleVersion: Jersey converts the
// bundle type and reads the multipart form, the facade's
// authorizeBucketAccess refuses a blank bucket id, then
// StandardExtensionService.createBundleVersion checks the input stream and
// the bucket, spools and hashes the bundle, compares the client's
// SHA-256, extracts the metadata and stores the version.
func (a *API) uploadBundle(w http.ResponseWriter, r *http.Request) error {
	bundleType := r.PathValue("bundleType")
	if !slices.Contains(bundleTypes, bundleType) {
		// NiFi answers 500 here (BundleType.fromString throws; Jersey makes
		// it a PathParamException that only ThrowableMapper maps). A bad
		// path is the client's error, and Weir keeps 5xx for its own
		// failures, so this is a 400 that names the valid types.
		return model.Invalid("Invalid bundle type '" + bundleType + "': expected one of " + strings.Join(bundleTypes, ", "))
	}
	bucketID := r.PathValue("bucketId")
	if javaIsBlank(bucketID) {
		return model.Invalid(msgBlankBucketID)
	}
	r.Body = http.MaxBytesReader(w, r.Body, a.opts.MaxBundle)
	mr, err := bufferedMultipart(r)
	if err != nil {
		return model.Invalid(msgNoBundleInputStream) // not a multipart form: there is no file
	}
	var sp *registry.Spool
	defer func() {
		if sp != nil {
			sp.Close()
		}
	}()
	clientSHA := ""
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return multipartError(err, a.opts.MaxBundle)
		}
		switch p.FormName() {
		case "file":
			if sp != nil {
				continue // Jersey binds the first part of a name
			}
			// Uploads run on the node that takes them (IsBundleUpload):
			// a follower first catches up, so a bucket created just
			// before is found.
			if a.fresh != nil {
				if err := a.fresh.ReadBarrier(r.Context()); err != nil {
					return err
				}
			}
			if _, err := a.reg.GetBucket(bucketID); err != nil {
				return err
			}
			if sp, err = a.bundles.SpoolBundle(p); err != nil {
				return multipartError(err, a.opts.MaxBundle)
			}
		case "sha256":
			if clientSHA != "" {
				continue
			}
			b, err := io.ReadAll(io.LimitReader(p, 1024))
			if err != nil {
				return multipartError(err, a.opts.MaxBundle)
			}
			clientSHA = string(b)
		}
	}
	if sp == nil {
		return model.Invalid(msgNoBundleInputStream)
	}
	v, err := a.bundles.CreateBundleVersion(r.Context(), callerOf(r), bucketID, bundleType, sp, clientSHA)
	return writeOr(w, v, err)
}

func multipartError(err error, limit int64) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return &model.Error{Kind: model.KindTooLarge, Msg: "Request body exceeds the limit of " + strconv.FormatInt(limit, 10) + " bytes"}
	}
	var me *model.Error
	if errors.As(err, &me) {
		return err
	}
	return model.Invalid("Unable to read multipart request body: " + err.Error())
}

// ---- /extension-repository (ExtensionRepoResource)

func (a *API) extensionRepoRoutes() {
	// getExtensionRepoBuckets: one entry per authorized bucket, a TreeSet
	// ordered by name, with absolute links.
	a.sget("/extension-repository", func(w http.ResponseWriter, r *http.Request) error {
		bs, err := a.reg.ListBuckets()
		if err != nil {
			return err
		}
		readable := readableOf(r)
		base := apiBaseURL(r)
		out := []model.ExtensionRepoBucket{}
		for _, b := range sortedByJavaName(bs) {
			if readable != nil && readable(model.Deref(b.Identifier)) != nil {
				continue
			}
			name := model.Deref(b.Name)
			out = append(out, model.ExtensionRepoBucket{
				BucketName: b.Name,
				Link:       model.NewLink(base+"extension-repository/"+encodeJerseyPath(name), "self"),
			})
		}
		return httpwire.WriteJSON(w, 200, out)
	})

	const repo = "/extension-repository/{bucketName}"
	// The browse levels: the facade looks the bucket up by name and
	// authorizes it, the service validates the coordinates and lists.
	a.sget(repo, func(w http.ResponseWriter, r *http.Request) error {
		vs, err := a.repoVersions(r)
		if err != nil {
			return err
		}
		// NiFi's facade populates the groups' links on one set and
		// returns another: groups carry no link.
		out := []model.ExtensionRepoGroup{}
		for _, v := range vs {
			g := model.ExtensionRepoGroup{BucketName: v.Bucket.Name, GroupID: v.Bundle.Group}
			if !slices.Contains(out, g) {
				out = append(out, g)
			}
		}
		slices.SortFunc(out, func(x, y model.ExtensionRepoGroup) int { return strings.Compare(x.GroupID, y.GroupID) })
		return httpwire.WriteJSON(w, 200, out)
	})
	a.sget(repo+"/{groupId}", func(w http.ResponseWriter, r *http.Request) error {
		vs, err := a.repoVersions(r, "groupId")
		if err != nil {
			return err
		}
		base := apiBaseURL(r)
		out := []model.ExtensionRepoArtifact{}
		seen := map[string]bool{}
		for _, v := range vs {
			if seen[v.Bundle.Artifact] {
				continue
			}
			seen[v.Bundle.Artifact] = true
			out = append(out, model.ExtensionRepoArtifact{ArtifactID: v.Bundle.Artifact, BucketName: v.Bucket.Name, GroupID: v.Bundle.Group,
				Link: model.NewLink(base+repoPath(v.Bucket.Name, v.Bundle.Group, v.Bundle.Artifact), "self")})
		}
		slices.SortFunc(out, func(x, y model.ExtensionRepoArtifact) int { return strings.Compare(x.ArtifactID, y.ArtifactID) })
		return httpwire.WriteJSON(w, 200, out)
	})
	a.sget(repo+"/{groupId}/{artifactId}", func(w http.ResponseWriter, r *http.Request) error {
		vs, err := a.repoVersions(r, "groupId", "artifactId")
		if err != nil {
			return err
		}
		base := apiBaseURL(r)
		out := []model.ExtensionRepoVersionSummary{}
		for _, v := range vs {
			out = append(out, model.ExtensionRepoVersionSummary{ArtifactID: v.Bundle.Artifact, Author: v.Version.Author,
				BucketName: v.Bucket.Name, GroupID: v.Bundle.Group, Timestamp: v.Version.Timestamp, Version: v.Version.Version,
				Link: model.NewLink(base+repoPath(v.Bucket.Name, v.Bundle.Group, v.Bundle.Artifact, v.Version.Version), "self")})
		}
		slices.SortFunc(out, func(x, y model.ExtensionRepoVersionSummary) int { return strings.Compare(x.Version, y.Version) })
		return httpwire.WriteJSON(w, 200, out)
	})

	const rv = repo + "/{groupId}/{artifactId}/{version}"
	a.sget(rv, a.repoVersion(func(w http.ResponseWriter, r *http.Request, v registry.RepoVersion) error {
		p := apiBaseURL(r) + repoPath(v.Bucket.Name, v.Bundle.Group, v.Bundle.Artifact, v.Version.Version)
		return httpwire.WriteJSON(w, 200, model.ExtensionRepoVersion{
			DownloadLink: model.NewLink(p+"/content", "content"), ExtensionsLink: model.NewLink(p+"/extensions", "extensions"),
			SHA256Link: model.NewLink(p+"/sha256", "sha256"), SHA256Supplied: v.Version.SHA256Supplied})
	}))
	a.sget(rv+"/content", a.repoVersion(func(w http.ResponseWriter, r *http.Request, v registry.RepoVersion) error {
		return a.writeContent(w, r, registry.RepoContent(v))
	}))
	a.sget(rv+"/sha256", a.repoVersion(func(w http.ResponseWriter, r *http.Request, v registry.RepoVersion) error {
		httpwire.WriteText(w, 200, v.Version.SHA256)
		return nil
	}))
	a.sget(rv+"/extensions", a.repoVersion(func(w http.ResponseWriter, r *http.Request, v registry.RepoVersion) error {
		base := apiBaseURL(r) + repoPath(v.Bucket.Name, v.Bundle.Group, v.Bundle.Artifact, v.Version.Version) + "/extensions/"
		out := []model.ExtensionRepoExtensionMetadata{}
		for _, m := range registry.RepoExtensions(v) {
			self := base + encodeJerseyPath(m.Name)
			m.Link, m.LinkDocs = nil, nil
			out = append(out, model.ExtensionRepoExtensionMetadata{ExtensionMetadata: m,
				Link: model.NewLink(self, "self"), LinkDocs: model.NewLink(self+"/docs", "docs")})
		}
		return httpwire.WriteJSON(w, 200, out)
	}))
	repoExtension := func(h func(w http.ResponseWriter, e *bundles.Extension) error) handlerFunc {
		return a.repoVersion(func(w http.ResponseWriter, r *http.Request, v registry.RepoVersion) error {
			name := r.PathValue("name")
			for _, e := range v.Version.Extensions {
				if e.Name == name {
					return h(w, &e)
				}
			}
			return model.NotFound("The specified extension does not exist in this registry.")
		})
	}
	a.sget(rv+"/extensions/{name}", repoExtension(func(w http.ResponseWriter, e *bundles.Extension) error { return httpwire.WriteJSON(w, 200, e) }))
	a.sget(rv+"/extensions/{name}/docs", repoExtension(writeDocs))
	a.sget(rv+"/extensions/{name}/docs/additional-details", a.repoVersion(func(w http.ResponseWriter, r *http.Request, v registry.RepoVersion) error {
		md, err := a.bundles.AdditionalDetails(v.Bundle.ID, v.Version.Version, r.PathValue("name"), readableOf(r))
		if err != nil {
			return err
		}
		return writeHTML(w, md)
	}))

	// getGlobalExtensionRepoVersionSha256 validates its path parameters
	// itself, then looks the version up in every authorized bucket.
	a.sget("/extension-repository/{groupId}/{artifactId}/{version}/sha256", func(w http.ResponseWriter, r *http.Request) error {
		if err := requireCoordinates(r, "groupId", "artifactId", "version"); err != nil {
			return err
		}
		sha, ok, err := a.bundles.GlobalSHA256(r.PathValue("groupId"), r.PathValue("artifactId"), r.PathValue("version"), readableOf(r))
		if err != nil {
			return err
		}
		if !ok {
			return model.NotFound(msgBundleVersionNotFoundGAV)
		}
		httpwire.WriteText(w, 200, sha)
		return nil
	})
}

// repoPath is an extension-repository path (relative to the API base)
// with each segment encoded as Jersey encodes path segments.
func repoPath(segs ...string) string {
	p := "extension-repository"
	for _, s := range segs {
		p += "/" + encodeJerseyPath(s)
	}
	return p
}

// repoVersions checks the bucket (by name) and the named coordinates, and
// lists the matching versions.
func (a *API) repoVersions(r *http.Request, coords ...string) ([]registry.RepoVersion, error) {
	if err := a.bucketByName(r.PathValue("bucketName")); err != nil {
		return nil, err
	}
	if err := requireCoordinates(r, coords...); err != nil {
		return nil, err
	}
	return a.bundles.RepoVersions(r.PathValue("bucketName"), r.PathValue("groupId"), r.PathValue("artifactId"), "", readableOf(r))
}

// repoVersion resolves {bucketName}/{groupId}/{artifactId}/{version}.
func (a *API) repoVersion(h func(w http.ResponseWriter, r *http.Request, v registry.RepoVersion) error) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if err := a.bucketByName(r.PathValue("bucketName")); err != nil {
			return err
		}
		if err := requireCoordinates(r, "groupId", "artifactId", "version"); err != nil {
			return err
		}
		v, err := a.bundles.RepoVersion(r.PathValue("bucketName"), r.PathValue("groupId"), r.PathValue("artifactId"),
			r.PathValue("version"), readableOf(r))
		if err != nil {
			return err
		}
		return h(w, r, v)
	}
}

// bucketByName is RegistryService.getBucketByName: an exact name match.
func (a *API) bucketByName(name string) error {
	bs, err := a.reg.ListBuckets()
	if err != nil {
		return err
	}
	for _, b := range bs {
		if model.Deref(b.Name) == name {
			return nil
		}
	}
	return model.NotFound(msgBucketNameNotFound)
}

// requireCoordinates applies the service's StringUtils.isBlank checks to
// the named path values, in order.
func requireCoordinates(r *http.Request, names ...string) error {
	msgs := map[string]string{"groupId": msgBlankGroupID, "artifactId": msgBlankArtifactID, "version": msgBlankVersion}
	for _, n := range names {
		if javaIsBlank(r.PathValue(n)) {
			return model.Invalid(msgs[n])
		}
	}
	return nil
}

// ---- /extensions (ExtensionResource)

func (a *API) extensionRoutes() {
	// getExtensions: Jersey converts bundleType (BundleType.fromString) and
	// extensionType (ExtensionType.valueOf) in declaration order; a bad
	// value is a QueryParamException, mapped to 400 "Invalid value for
	// <name>". An empty value converts to null. The filters are echoed.
	a.sget("/extensions", func(w http.ResponseWriter, r *http.Request) error {
		q := r.URL.Query()
		fp := &model.ExtensionFilterParams{Tags: javaHashSetOrder(q["tag"])}
		f := registry.ExtensionFilter{Tags: q["tag"]}
		if v := q.Get("bundleType"); v != "" {
			if !slices.Contains(bundleTypes, v) {
				return model.Invalid("Invalid value for bundleType")
			}
			fp.BundleType, f.BundleType = model.Str(v), v
		}
		if v := q.Get("extensionType"); v != "" {
			if !slices.Contains(bundles.ExtensionTypes, v) {
				return model.Invalid("Invalid value for extensionType")
			}
			fp.ExtensionType, f.ExtensionType = model.Str(v), v
		}
		es, err := a.bundles.SearchExtensions(f, readableOf(r))
		if err != nil {
			return err
		}
		return httpwire.WriteJSON(w, 200, model.ExtensionMetadataContainer{Extensions: es, FilterParams: fp, NumResults: int32(len(es))})
	})
	// getExtensionsProvidingServiceAPI: with no bucket the facade returns
	// an empty set at once; otherwise the service requires all four
	// coordinates before searching.
	a.sget("/extensions/provided-service-api", func(w http.ResponseWriter, r *http.Request) error {
		bs, err := a.reg.ListBuckets()
		if err != nil {
			return err
		}
		es := []*model.ExtensionMetadata{}
		if len(bs) > 0 {
			q := r.URL.Query()
			for _, n := range []string{"className", "groupId", "artifactId", "version"} {
				if javaIsBlank(q.Get(n)) {
					return model.Invalid(msgProvidedServiceAPIMissing)
				}
			}
			es, err = a.bundles.ExtensionsProviding(bundles.ProvidedAPI{ClassName: q.Get("className"), GroupID: q.Get("groupId"),
				ArtifactID: q.Get("artifactId"), Version: q.Get("version")}, readableOf(r))
			if err != nil {
				return err
			}
		}
		return httpwire.WriteJSON(w, 200, model.ExtensionMetadataContainer{Extensions: es, NumResults: int32(len(es))})
	})
	a.sget("/extensions/tags", func(w http.ResponseWriter, r *http.Request) error {
		tags, err := a.bundles.ExtensionTags(readableOf(r))
		return writeOr(w, tags, err)
	})
}

// bufferedMultipart is http.Request.MultipartReader over a 256 KiB
// buffer: the multipart reader fills its own 4 KiB buffer at a time, and
// each fill was a read system call on the connection (50,000 for a
// 200 MB bundle).
func bufferedMultipart(r *http.Request) (*multipart.Reader, error) {
	d, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || (d != "multipart/form-data" && d != "multipart/mixed") {
		return nil, http.ErrNotMultipart
	}
	boundary, ok := params["boundary"]
	if !ok {
		return nil, http.ErrMissingBoundary
	}
	return multipart.NewReader(bufio.NewReaderSize(r.Body, 256<<10), boundary), nil
}
