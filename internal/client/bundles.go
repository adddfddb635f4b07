package client

import (
	"context"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"

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
	req, err := http.NewRequestWithContext(ctx, http.MethodGet,
		c.Base+"/nifi-registry-api/bundles/"+url.PathEscape(bundleID)+"/versions/"+url.PathEscape(version)+"/content", nil)
	if err != nil {
		return nil, err
	}
	for k, vs := range c.Header {
		req.Header[k] = vs
	}
	resp, err := c.streaming().Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		return nil, &Error{Status: resp.StatusCode, Message: string(b), Header: resp.Header}
	}
	return resp.Body, nil
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
