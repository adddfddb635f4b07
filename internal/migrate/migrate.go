package migrate

import (
	"context"
	"fmt"
	"sort"

	"github.com/weir-nifi/weir/internal/client"
	"github.com/weir-nifi/weir/internal/model"
)

// Migrate copies everything from src (NiFi Registry or Weir) to dst:
// buckets, flows, versions and extension bundles. Per
// bucket and flow failures are collected in Result.Errors and the run goes
// on; the returned error is for failures that stop it (listing the source
// or the destination).
func Migrate(ctx context.Context, src, dst *client.Client, p Progress) (Result, error) {
	if p == nil {
		p = nopProgress{}
	}
	var res Result
	buckets, err := src.Buckets(ctx)
	if err != nil {
		return res, fmt.Errorf("list the source's buckets: %w", err)
	}
	sort.Slice(buckets, func(i, j int) bool { return model.Deref(buckets[i].Name) < model.Deref(buckets[j].Name) })
	flows := make([][]model.VersionedFlow, len(buckets))
	var total int64
	for i, b := range buckets {
		fs, err := src.Flows(ctx, model.Deref(b.Identifier))
		if err != nil {
			return res, fmt.Errorf("list the flows of source bucket %q: %w", model.Deref(b.Name), err)
		}
		flows[i] = fs
		for _, f := range fs {
			total += f.VersionCount
		}
	}
	p.SetTotal(total)
	p.Note(fmt.Sprintf("source %s: %d buckets, %d versions", src.Base, len(buckets), total))
	t, err := newTarget(ctx, dst, &res, p)
	if err != nil {
		return res, err
	}
	for i, b := range buckets {
		bid := model.Deref(b.Identifier)
		if err := t.ensureBucket(ctx, b); err != nil {
			t.fail("%v", err)
			continue
		}
		have, err := dst.Flows(ctx, bid)
		if err != nil {
			t.fail("list the flows of destination bucket %s: %v", bid, err)
			continue
		}
		existing := map[string]model.VersionedFlow{}
		for _, f := range have {
			existing[model.Deref(f.Identifier)] = f
		}
		for _, f := range flows[i] {
			if err := ctx.Err(); err != nil {
				return res, err
			}
			if err := migrateFlow(ctx, t, src, bid, f, existing); err != nil {
				t.fail("%v", err)
			}
		}
		if err := migrateBundles(ctx, t, src, bid); err != nil {
			t.fail("%v", err)
		}
	}
	return res, ctx.Err()
}

func migrateFlow(ctx context.Context, t *target, src *client.Client, bucketID string, f model.VersionedFlow, existing map[string]model.VersionedFlow) error {
	fid := model.Deref(f.Identifier)
	d, err := t.ensureFlow(ctx, bucketID, f, existing)
	if err != nil {
		return err
	}
	metas, err := src.Versions(ctx, bucketID, fid)
	if err != nil {
		return fmt.Errorf("list the source's versions of flow %s: %w", fid, err)
	}
	vs := make([]version, 0, len(metas))
	for _, md := range metas {
		n := int(md.Version)
		vs = append(vs, version{meta: md, body: func(ctx context.Context) ([]byte, error) {
			return src.Version(ctx, bucketID, fid, n)
		}})
	}
	return t.copyVersions(ctx, bucketID, fid, d, vs)
}
