package client

import (
	"context"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"

	"github.com/weir-nifi/weir/internal/model"
)

// BucketBundles lists the extension bundles of a bucket.
func (c *Client) BucketBundles(ctx context.Context, bucketID string) ([]model.Bundle, error) {
	var out []model.Bundle
	return out, c.call(ctx, http.MethodGet, "/buckets/"+url.PathEscape(bucketID)+"/bundles", nil, &out)
}

// BundleVersions lists the versions of a bundle.
func (c *Client) BundleVersions(ctx context.Context, bundleID string) ([]model.BundleVersionMetadata, error) {
	var out []model.BundleVersionMetadata
	return out, c.call(ctx, http.MethodGet, "/bundles/"+url.PathEscape(bundleID)+"/versions", nil, &out)
}

// BundleContent streams the content of a bundle version; the caller
// closes it. Content can be hundreds of MB: it is never read whole.
func (c *Client) BundleContent(ctx context.Context, bundleID, version string) (io.ReadCloser, error) {
	rc, _, err := c.stream(ctx, "/bundles/"+url.PathEscape(bundleID)+"/versions/"+url.PathEscape(version)+"/content")
	return rc, err
}

// RepoBundleContent streams the content of a version addressed by bucket
// name and coordinates, as the toolkit's download-bundle asks for it, with
// the file name the answer's content-disposition gives ("" if none).
func (c *Client) RepoBundleContent(ctx context.Context, bucketName, group, artifact, version string) (io.ReadCloser, string, error) {
	rc, h, err := c.stream(ctx, repoPath(bucketName, group, artifact, version)+"/content")
	if err != nil {
		return nil, "", err
	}
	return rc, dispositionFilename(h.Get("Content-Disposition")), nil
}

// dispositionFilename reads the file name of a content-disposition.
// NiFi Registry writes "attachment; filename = NAME" (spaces around the
// equals sign), which mime.ParseMediaType refuses, so it is cut by hand.
func dispositionFilename(v string) string {
	_, after, ok := strings.Cut(v, "filename")
	if !ok {
		return ""
	}
	after = strings.TrimSpace(after)
	after, ok = strings.CutPrefix(after, "=")
	if !ok {
		return ""
	}
	after, _, _ = strings.Cut(after, ";")
	return strings.Trim(strings.TrimSpace(after), `"`)
}

// stream sends a GET for a large answer and hands over its body.
func (c *Client) stream(ctx context.Context, path string) (io.ReadCloser, http.Header, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.Base+"/nifi-registry-api"+path, nil)
	if err != nil {
		return nil, nil, err
	}
	for k, vs := range c.Header {
		req.Header[k] = vs
	}
	resp, err := c.streaming().Do(req)
	if err != nil {
		return nil, nil, err
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		return nil, nil, &Error{Status: resp.StatusCode, Message: string(b), Header: resp.Header}
	}
	return resp.Body, resp.Header, nil
}

// repoPath is an /extension-repository path of segments, each escaped
// (bucket names may hold spaces).
func repoPath(segs ...string) string {
	p := "/extension-repository"
	for _, s := range segs {
		p += "/" + url.PathEscape(s)
	}
	return p
}

// RepoGroups lists the bundle groups of the bucket named bucketName.
func (c *Client) RepoGroups(ctx context.Context, bucketName string) ([]model.ExtensionRepoGroup, error) {
	var out []model.ExtensionRepoGroup
	return out, c.call(ctx, http.MethodGet, repoPath(bucketName), nil, &out)
}

// RepoArtifacts lists the bundle artifacts of a group in a bucket.
func (c *Client) RepoArtifacts(ctx context.Context, bucketName, group string) ([]model.ExtensionRepoArtifact, error) {
	var out []model.ExtensionRepoArtifact
	return out, c.call(ctx, http.MethodGet, repoPath(bucketName, group), nil, &out)
}

// RepoVersions lists the versions of an artifact in a bucket.
func (c *Client) RepoVersions(ctx context.Context, bucketName, group, artifact string) ([]model.ExtensionRepoVersionSummary, error) {
	var out []model.ExtensionRepoVersionSummary
	return out, c.call(ctx, http.MethodGet, repoPath(bucketName, group, artifact), nil, &out)
}

// RepoSHA256 is the hex SHA-256 of a version's content (the API answers
// it as text/plain).
func (c *Client) RepoSHA256(ctx context.Context, bucketName, group, artifact, version string) (string, error) {
	b, _, err := c.Do(ctx, http.MethodGet, repoPath(bucketName, group, artifact, version)+"/sha256", nil, nil)
	return strings.TrimSpace(string(b)), err
}

// ExtensionFilter narrows Extensions; the zero value lists every
// extension the caller may read.
type ExtensionFilter struct {
	BundleType    string   // nifi-nar or minifi-cpp
	ExtensionType string   // PROCESSOR, CONTROLLER_SERVICE, …
	Tags          []string // any of them (the API ORs them)
}

// Extensions searches the extensions of every readable bucket.
func (c *Client) Extensions(ctx context.Context, f ExtensionFilter) (*model.ExtensionMetadataContainer, error) {
	q := url.Values{}
	if f.BundleType != "" {
		q.Set("bundleType", f.BundleType)
	}
	if f.ExtensionType != "" {
		q.Set("extensionType", f.ExtensionType)
	}
	for _, t := range f.Tags {
		q.Add("tag", t)
	}
	path := "/extensions"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var out model.ExtensionMetadataContainer
	return &out, c.call(ctx, http.MethodGet, path, nil, &out)
}

// ExtensionTags lists the extension tags with the number of extensions
// carrying each.
func (c *Client) ExtensionTags(ctx context.Context) ([]model.TagCount, error) {
	var out []model.TagCount
	return out, c.call(ctx, http.MethodGet, "/extensions/tags", nil, &out)
}

// UploadBundle uploads a bundle as NiFi's client does (multipart "file"
// and "sha256"), streaming content.
func (c *Client) UploadBundle(ctx context.Context, bucketID, bundleType string, content io.Reader, sha256 string) (*model.BundleVersion, error) {
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		fw, err := mw.CreateFormFile("file", "bundle")
		if err == nil {
			_, err = io.Copy(fw, content)
		}
		if err == nil && sha256 != "" {
			err = mw.WriteField("sha256", sha256)
		}
		if err == nil {
			err = mw.Close()
		}
		pw.CloseWithError(err)
	}()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost,
		c.Base+"/nifi-registry-api/buckets/"+url.PathEscape(bucketID)+"/bundles/"+url.PathEscape(bundleType), pr)
	if err != nil {
		pr.Close()
		return nil, err
	}
	for k, vs := range c.Header {
		req.Header[k] = vs
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err := c.streaming().Do(req)
	if err != nil {
		pr.Close()
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, &Error{Status: resp.StatusCode, Message: string(b), Header: resp.Header}
	}
	var out model.BundleVersion
	return &out, json.Unmarshal(b, &out)
}

// streaming is the HTTP client without the overall timeout: a bundle
// takes as long as its size needs (the context bounds it).
func (c *Client) streaming() *http.Client {
	hc := *c.HTTP
	hc.Timeout = 0
	return &hc
}
