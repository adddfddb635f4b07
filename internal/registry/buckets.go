package registry

import (
	"context"

	"github.com/weir-nifi/weir/internal/command"
	"github.com/weir-nifi/weir/internal/model"
	"github.com/weir-nifi/weir/internal/store"
)

// CreateBucket creates a bucket. With preserve (the CLI's import-all) the
// client's identifier is kept and required; otherwise it must be absent.
func (s *Service) CreateBucket(ctx context.Context, caller Caller, in *model.Bucket, preserve bool) (*model.Bucket, error) {
	if in == nil {
		return nil, model.Invalid("Bucket cannot be null")
	}
	claim, err := s.createClaim(in.Revision, "Bucket")
	if err != nil {
		return nil, err
	}
	var id string
	if preserve {
		if in.Identifier == nil {
			return nil, model.Invalid("Bucket identifier must be specified.")
		}
		id = *in.Identifier
		if err := checkID("Bucket", id); err != nil {
			return nil, err
		}
	} else {
		if in.Identifier != nil {
			return nil, model.Invalid("Bucket identifier cannot be specified when creating a new bucket.")
		}
		id = s.opts.NewID()
	}
	if blank(in.Name) {
		return nil, model.Invalid("Cannot create Bucket - name must not be blank")
	}
	if err := checkName("Bucket", in.Name); err != nil {
		return nil, err
	}
	// A Weir extension for migrations, as for flows: with preserve a
	// createdTimestamp > 0 is kept (NiFi stamps every bucket with now).
	created := s.now()
	if preserve && in.CreatedTimestamp > 0 {
		created = in.CreatedTimestamp
	}
	c := &command.CreateBucket{
		ID: id, Name: *in.Name, Description: in.Description, Created: created,
		AllowBundleRedeploy: in.AllowBundleRedeploy != nil && *in.AllowBundleRedeploy,
		AllowPublicRead:     in.AllowPublicRead != nil && *in.AllowPublicRead,
		Rev:                 claim, Actor: caller.Identity,
	}
	r, err := propose[store.BucketResult](ctx, s, c)
	if err != nil {
		return nil, err
	}
	return bucketFull(r.Bucket, s.writtenRevision(r.Rev, caller.Identity)), nil
}

// GetBucket returns one bucket.
func (s *Service) GetBucket(id string) (*model.Bucket, error) {
	var out *model.Bucket
	err := s.read(func(tx *store.Tx) error {
		b, ok, err := tx.Bucket(id)
		if err != nil {
			return err
		}
		if !ok {
			return model.NotFound(model.MsgBucketNotFound)
		}
		rev, err := s.revisionInfo(tx, id)
		out = bucketFull(b, rev)
		return err
	})
	return out, err
}

// ListBuckets returns every bucket, ordered by name.
func (s *Service) ListBuckets() ([]*model.Bucket, error) {
	out := []*model.Bucket{}
	err := s.read(func(tx *store.Tx) error {
		bs, err := tx.Buckets()
		if err != nil {
			return err
		}
		for _, b := range bs {
			rev, err := s.revisionInfo(tx, b.ID)
			if err != nil {
				return err
			}
			out = append(out, bucketFull(b, rev))
		}
		return nil
	})
	return out, err
}

// UpdateBucket changes the non-null fields of a bucket.
func (s *Service) UpdateBucket(ctx context.Context, caller Caller, id string, in *model.Bucket) (*model.Bucket, error) {
	if in == nil {
		return nil, model.Invalid("Bucket cannot be null")
	}
	if in.Identifier != nil && *in.Identifier != id {
		return nil, model.Invalid("Bucket id in path param must match bucket id in body")
	}
	claim, err := s.claimFor(in.Revision)
	if err != nil {
		return nil, err
	}
	if in.Name != nil && blank(in.Name) {
		return nil, model.Invalid("Bucket name cannot be blank")
	}
	if err := checkName("Bucket", in.Name); err != nil {
		return nil, err
	}
	c := &command.UpdateBucket{
		ID: id, Name: in.Name, Description: in.Description,
		AllowBundleRedeploy: in.AllowBundleRedeploy, AllowPublicRead: in.AllowPublicRead,
		Rev: claim, Actor: caller.Identity,
	}
	r, err := propose[store.BucketResult](ctx, s, c)
	if err != nil {
		return nil, err
	}
	return bucketFull(r.Bucket, s.writtenRevision(r.Rev, caller.Identity)), nil
}

// DeleteBucket deletes a bucket with all its flows and versions and returns
// it (without link or permissions, as NiFi does).
func (s *Service) DeleteBucket(ctx context.Context, caller Caller, id string, rev RevisionParam) (*model.Bucket, error) {
	claim, err := s.deleteClaim(rev)
	if err != nil {
		return nil, err
	}
	r, err := propose[store.BucketResult](ctx, s, &command.DeleteBucket{ID: id, Rev: claim, Actor: caller.Identity})
	if err != nil {
		return nil, err
	}
	out := bucketBase(r.Bucket)
	if !s.opts.Revisions {
		out.Revision = model.ZeroRevision()
	}
	return out, nil
}

func (s *Service) deleteClaim(rev RevisionParam) (*command.Claim, error) {
	if !s.opts.Revisions {
		return nil, nil
	}
	if rev.Version == nil {
		return nil, model.Invalid("Revision info must be specified.")
	}
	cid := rev.ClientID
	if cid == "" {
		// NiFi's ClientIdParameter invents one; the leader fixes it here so
		// every replica sees the same claim.
		cid = s.opts.NewID()
	}
	return &command.Claim{Version: *rev.Version, ClientID: &cid}, nil
}
