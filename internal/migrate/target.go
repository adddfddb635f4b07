package migrate

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"

	"github.com/weir-nifi/weir/internal/client"
	"github.com/weir-nifi/weir/internal/model"
)

// Progress is told how the run advances (counted in versions).
type Progress interface {
	SetTotal(n int64)
	Add(n int64)
	Note(msg string)
}

type nopProgress struct{}

func (nopProgress) SetTotal(int64) {}
func (nopProgress) Add(int64)      {}
func (nopProgress) Note(string)    {}

// Result counts what a run did.
type Result struct {
	BucketsCreated   int `json:"bucketsCreated"`
	BucketsExisting  int `json:"bucketsExisting"`
	FlowsCreated     int `json:"flowsCreated"`
	FlowsExisting    int `json:"flowsExisting"`
	VersionsCopied   int `json:"versionsCopied"`
	VersionsExisting int `json:"versionsExisting"`
	// Extension bundle versions (content included).
	BundleVersionsCopied   int      `json:"bundleVersionsCopied"`
	BundleVersionsExisting int      `json:"bundleVersionsExisting"`
	Warnings               []string `json:"warnings,omitempty"`
	Errors                 []string `json:"errors,omitempty"`
}

// Changed reports whether the run wrote anything.
func (r Result) Changed() bool {
	return r.BucketsCreated+r.FlowsCreated+r.VersionsCopied+r.BundleVersionsCopied > 0
}

// target is the destination registry and what it already holds.
type target struct {
	c       *client.Client
	buckets map[string]model.Bucket // by id
	names   map[string]string       // bucket name → id
	res     *Result
	p       Progress
}

func newTarget(ctx context.Context, c *client.Client, res *Result, p Progress) (*target, error) {
	bs, err := c.Buckets(ctx)
	if err != nil {
		return nil, fmt.Errorf("list the destination's buckets: %w", err)
	}
	t := &target{c: c, buckets: map[string]model.Bucket{}, names: map[string]string{}, res: res, p: p}
	for _, b := range bs {
		t.buckets[model.Deref(b.Identifier)] = b
		t.names[model.Deref(b.Name)] = model.Deref(b.Identifier)
	}
	return t, nil
}

func (t *target) warn(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	t.res.Warnings = append(t.res.Warnings, msg)
	t.p.Note("warning: " + msg)
}

func (t *target) fail(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	t.res.Errors = append(t.res.Errors, msg)
	t.p.Note("error: " + msg)
}

// ensureBucket creates the bucket unless the destination has it.
func (t *target) ensureBucket(ctx context.Context, b model.Bucket) error {
	id, name := model.Deref(b.Identifier), model.Deref(b.Name)
	if have, ok := t.buckets[id]; ok {
		if model.Deref(have.Name) != name {
			t.warn("bucket %s is named %q on the destination and %q on the source; left as it is", id, model.Deref(have.Name), name)
		}
		t.res.BucketsExisting++
		return nil
	}
	if other, ok := t.names[name]; ok {
		return fmt.Errorf("the destination already has a bucket named %q with another identifier (%s, source %s)", name, other, id)
	}
	in := model.Bucket{Identifier: &id, Name: &name, Description: b.Description,
		AllowBundleRedeploy: b.AllowBundleRedeploy, AllowPublicRead: b.AllowPublicRead, CreatedTimestamp: b.CreatedTimestamp}
	out, err := t.c.CreateBucket(ctx, in, true)
	if err != nil {
		return fmt.Errorf("create bucket %q (%s): %w", name, id, err)
	}
	t.buckets[id] = *out
	t.names[name] = id
	t.res.BucketsCreated++
	return nil
}

// destFlow is what the destination holds of a flow.
type destFlow struct {
	exists   bool
	versions map[int32]bool
	max      int32
}

// ensureFlow creates the flow (keeping its identifier and timestamps)
// unless the destination has it, and returns the versions it holds.
func (t *target) ensureFlow(ctx context.Context, bucketID string, f model.VersionedFlow, existing map[string]model.VersionedFlow) (destFlow, error) {
	id := model.Deref(f.Identifier)
	d := destFlow{versions: map[int32]bool{}}
	if _, ok := existing[id]; ok {
		d.exists = true
		vs, err := t.c.Versions(ctx, bucketID, id)
		if err != nil {
			return d, fmt.Errorf("list the destination's versions of flow %s: %w", id, err)
		}
		for _, v := range vs {
			d.versions[v.Version] = true
			if v.Version > d.max {
				d.max = v.Version
			}
		}
		t.res.FlowsExisting++
		return d, nil
	}
	// A flow id is global: refuse when it lives in another bucket there.
	if other, err := t.c.Flow(ctx, id); err == nil {
		return d, fmt.Errorf("flow %s is in bucket %s on the destination, not %s", id, model.Deref(other.BucketIdentifier), bucketID)
	} else if client.StatusOf(err) != http.StatusNotFound {
		return d, fmt.Errorf("look up flow %s on the destination: %w", id, err)
	}
	body := model.VersionedFlow{Identifier: &id, Name: f.Name, Description: f.Description, BucketIdentifier: &bucketID,
		CreatedTimestamp: f.CreatedTimestamp, ModifiedTimestamp: f.ModifiedTimestamp, Type: model.ItemTypeFlow}
	raw, err := json.Marshal(body)
	if err != nil {
		return d, err
	}
	path := "/buckets/" + url.PathEscape(bucketID) + "/flows?preserveSourceProperties=true"
	if _, _, err := t.c.Do(ctx, http.MethodPost, path, raw, nil); err != nil {
		return d, fmt.Errorf("create flow %q (%s): %w", model.Deref(f.Name), id, err)
	}
	t.res.FlowsCreated++
	return d, nil
}

// version is one version to copy: its metadata and a way to get its
// document (a VersionedFlowSnapshot, JSON).
type version struct {
	meta model.SnapshotMetadata
	body func(ctx context.Context) ([]byte, error)
}

// copyVersions commits, in order, the versions the destination lacks.
func (t *target) copyVersions(ctx context.Context, bucketID, flowID string, d destFlow, vs []version) error {
	sort.Slice(vs, func(i, j int) bool { return vs[i].meta.Version < vs[j].meta.Version })
	next := d.max + 1
	for _, v := range vs {
		n := v.meta.Version
		if d.versions[n] {
			t.res.VersionsExisting++
			t.p.Add(1)
			continue
		}
		if n != next {
			return fmt.Errorf("flow %s: version %d cannot follow version %d (Weir keeps versions contiguous from 1)", flowID, n, next-1)
		}
		raw, err := v.body(ctx)
		if err != nil {
			return fmt.Errorf("flow %s version %d: %w", flowID, n, err)
		}
		doc, err := withMetadata(raw, bucketID, flowID, v.meta)
		if err != nil {
			return fmt.Errorf("flow %s version %d: %w", flowID, n, err)
		}
		if _, err := t.c.CommitVersion(ctx, bucketID, flowID, doc, true); err != nil {
			return fmt.Errorf("commit flow %s version %d: %w", flowID, n, err)
		}
		t.res.VersionsCopied++
		t.p.Add(1)
		next++
	}
	return nil
}

// withMetadata replaces a snapshot's snapshotMetadata with the one to
// preserve and drops the bucket and flow objects (the destination fills
// them in).
func withMetadata(raw []byte, bucketID, flowID string, md model.SnapshotMetadata) ([]byte, error) {
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("not a flow snapshot: %w", err)
	}
	if _, ok := doc["flowContents"]; !ok {
		return nil, fmt.Errorf("the snapshot has no flowContents")
	}
	delete(doc, "bucket")
	delete(doc, "flow")
	m := model.SnapshotMetadata{BucketIdentifier: &bucketID, FlowIdentifier: &flowID, Version: md.Version,
		Timestamp: md.Timestamp, Author: md.Author, Comments: md.Comments}
	if model.Deref(m.Author) == "" {
		m.Author = model.Str("anonymous")
	}
	mb, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	doc["snapshotMetadata"] = mb
	return json.Marshal(doc)
}
