package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/weir-nifi/weir/internal/model"
)

// Client talks to one registry base URL (scheme://host:port; the
// /nifi-registry-api context path is added).
type Client struct {
	Base string
	HTTP *http.Client
	// Header is added to every request (e.g. X-Weir-Consistency).
	Header http.Header
}

// New returns a client for base (with or without /nifi-registry-api).
func New(base string) *Client {
	base = strings.TrimRight(base, "/")
	base = strings.TrimSuffix(base, "/nifi-registry-api")
	return &Client{Base: base, HTTP: &http.Client{Timeout: 60 * time.Second}}
}

// Error is a non-2xx answer: NiFi's status and text/plain message.
type Error struct {
	Status  int
	Message string
	Header  http.Header
}

func (e *Error) Error() string { return fmt.Sprintf("%d: %s", e.Status, e.Message) }

// StatusOf returns the HTTP status of an *Error, or 0.
func StatusOf(err error) int {
	if e, ok := err.(*Error); ok {
		return e.Status
	}
	return 0
}

// Do sends a request to an API path ("/buckets") and returns the raw body
// of a 2xx answer.
func (c *Client) Do(ctx context.Context, method, path string, body []byte, hdr http.Header) ([]byte, http.Header, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.Base+"/nifi-registry-api"+path, rd)
	if err != nil {
		return nil, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, vs := range c.Header {
		req.Header[k] = vs
	}
	for k, vs := range hdr {
		req.Header[k] = vs
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, nil, err
	}
	if resp.StatusCode/100 != 2 {
		return nil, resp.Header, &Error{Status: resp.StatusCode, Message: string(b), Header: resp.Header}
	}
	return b, resp.Header, nil
}

func (c *Client) call(ctx context.Context, method, path string, in, out any) error {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return err
		}
	}
	b, _, err := c.Do(ctx, method, path, body, nil)
	if err != nil {
		return err
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

// Buckets lists buckets.
func (c *Client) Buckets(ctx context.Context) ([]model.Bucket, error) {
	var out []model.Bucket
	return out, c.call(ctx, http.MethodGet, "/buckets", nil, &out)
}

// Bucket gets one bucket.
func (c *Client) Bucket(ctx context.Context, id string) (*model.Bucket, error) {
	var out model.Bucket
	return &out, c.call(ctx, http.MethodGet, "/buckets/"+url.PathEscape(id), nil, &out)
}

// CreateBucket creates a bucket; preserve keeps b.Identifier
// (?preserveSourceProperties=true).
func (c *Client) CreateBucket(ctx context.Context, b model.Bucket, preserve bool) (*model.Bucket, error) {
	var out model.Bucket
	p := "/buckets"
	if preserve {
		p += "?preserveSourceProperties=true"
	}
	return &out, c.call(ctx, http.MethodPost, p, b, &out)
}

// DeleteBucket deletes a bucket (revision 0, as nipyapi sends it).
func (c *Client) DeleteBucket(ctx context.Context, id string) error {
	return c.call(ctx, http.MethodDelete, "/buckets/"+url.PathEscape(id)+"?version=0", nil, nil)
}

// Flows lists the flows of a bucket.
func (c *Client) Flows(ctx context.Context, bucketID string) ([]model.VersionedFlow, error) {
	var out []model.VersionedFlow
	return out, c.call(ctx, http.MethodGet, "/buckets/"+url.PathEscape(bucketID)+"/flows", nil, &out)
}

// Flow gets one flow by id.
func (c *Client) Flow(ctx context.Context, flowID string) (*model.VersionedFlow, error) {
	var out model.VersionedFlow
	return &out, c.call(ctx, http.MethodGet, "/flows/"+url.PathEscape(flowID), nil, &out)
}

// CreateFlow creates a flow in a bucket.
func (c *Client) CreateFlow(ctx context.Context, bucketID string, f model.VersionedFlow) (*model.VersionedFlow, error) {
	var out model.VersionedFlow
	return &out, c.call(ctx, http.MethodPost, "/buckets/"+url.PathEscape(bucketID)+"/flows", f, &out)
}

// DeleteFlow deletes a flow.
func (c *Client) DeleteFlow(ctx context.Context, bucketID, flowID string) error {
	return c.call(ctx, http.MethodDelete, flowPath(bucketID, flowID), nil, nil)
}

func flowPath(bucketID, flowID string) string {
	return "/buckets/" + url.PathEscape(bucketID) + "/flows/" + url.PathEscape(flowID)
}

// Versions lists a flow's versions, newest first.
func (c *Client) Versions(ctx context.Context, bucketID, flowID string) ([]model.SnapshotMetadata, error) {
	var out []model.SnapshotMetadata
	return out, c.call(ctx, http.MethodGet, flowPath(bucketID, flowID)+"/versions", nil, &out)
}

// CommitVersion posts a snapshot document (raw JSON) as a new version and
// returns the response body. preserve keeps author and timestamp.
func (c *Client) CommitVersion(ctx context.Context, bucketID, flowID string, snapshot []byte, preserve bool) ([]byte, error) {
	p := flowPath(bucketID, flowID) + "/versions"
	if preserve {
		p += "?preserveSourceProperties=true"
	}
	b, _, err := c.Do(ctx, http.MethodPost, p, snapshot, nil)
	return b, err
}

// Version returns version n (0 = latest) as raw JSON.
func (c *Client) Version(ctx context.Context, bucketID, flowID string, n int) ([]byte, error) {
	v := "latest"
	if n > 0 {
		v = strconv.Itoa(n)
	}
	b, _, err := c.Do(ctx, http.MethodGet, flowPath(bucketID, flowID)+"/versions/"+v, nil, nil)
	return b, err
}

// LatestMetadata returns the latest version's metadata.
func (c *Client) LatestMetadata(ctx context.Context, bucketID, flowID string) (*model.SnapshotMetadata, error) {
	var out model.SnapshotMetadata
	return &out, c.call(ctx, http.MethodGet, flowPath(bucketID, flowID)+"/versions/latest/metadata", nil, &out)
}

// DecodeSnapshot parses a version answer.
func DecodeSnapshot(b []byte) (*model.Snapshot, error) {
	var s model.Snapshot
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, err
	}
	return &s, nil
}
