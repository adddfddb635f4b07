package migrate

import (
	"context"
	"fmt"

	"github.com/weir-nifi/weir/internal/client"
	"github.com/weir-nifi/weir/internal/model"
)

// migrateBundles copies the extension bundle versions of a source bucket
// that the destination bucket lacks (matched by group, artifact and
// version), streaming each one's content from the source into an upload
// with its SHA-256, which the destination verifies. NiFi's upload API
// keeps no source properties: bundle ids, authors and timestamps are the
// destination's.
func migrateBundles(ctx context.Context, t *target, src *client.Client, bucketID string) error {
	bs, err := src.BucketBundles(ctx, bucketID)
	if err != nil {
		return fmt.Errorf("list the source's bundles of bucket %s: %w", bucketID, err)
	}
	if len(bs) == 0 {
		return nil
	}
	have, err := t.bundleVersions(ctx, bucketID)
	if err != nil {
		return err
	}
	for _, b := range bs {
		vs, err := src.BundleVersions(ctx, b.Identifier)
		if err != nil {
			t.fail("list the source's versions of bundle %s: %v", b.Name, err)
			continue
		}
		// Oldest first, as they were uploaded (NiFi lists newest first).
		for i := len(vs) - 1; i >= 0; i-- {
			v := vs[i]
			key := b.GroupID + ":" + b.ArtifactID + ":" + v.Version
			if have[key] {
				t.res.BundleVersionsExisting++
				continue
			}
			if err := copyBundleVersion(ctx, t.c, src, bucketID, b, v); err != nil {
				t.fail("bundle %s version %s: %v", b.Name, v.Version, err)
				continue
			}
			t.res.BundleVersionsCopied++
		}
	}
	return nil
}

func copyBundleVersion(ctx context.Context, dst, src *client.Client, bucketID string, b model.Bundle, v model.BundleVersionMetadata) error {
	content, err := src.BundleContent(ctx, b.Identifier, v.Version)
	if err != nil {
		return fmt.Errorf("download: %w", err)
	}
	defer content.Close()
	if _, err := dst.UploadBundle(ctx, bucketID, b.BundleType, content, v.SHA256); err != nil {
		return fmt.Errorf("upload: %w", err)
	}
	return nil
}

// bundleVersions is what the destination bucket holds, by
// group:artifact:version.
func (t *target) bundleVersions(ctx context.Context, bucketID string) (map[string]bool, error) {
	have := map[string]bool{}
	bs, err := t.c.BucketBundles(ctx, bucketID)
	if err != nil {
		return nil, fmt.Errorf("list the destination's bundles of bucket %s: %w", bucketID, err)
	}
	for _, b := range bs {
		vs, err := t.c.BundleVersions(ctx, b.Identifier)
		if err != nil {
			return nil, fmt.Errorf("list the destination's versions of bundle %s: %w", b.Name, err)
		}
		for _, v := range vs {
			have[b.GroupID+":"+b.ArtifactID+":"+v.Version] = true
		}
	}
	return have, nil
}
