package registry

import (
	"context"
	"strings"

	"github.com/weir-nifi/weir/internal/command"
	"github.com/weir-nifi/weir/internal/model"
	"github.com/weir-nifi/weir/internal/store"
)

// CreateFlow creates a flow in a bucket. A client-supplied identifier is
// kept: NiFi has always sent one, and so is a createdTimestamp > 0. With
// preserve (a Weir extension of ?preserveSourceProperties=true, used by
// migrations) a modifiedTimestamp > 0 is kept too.
func (s *Service) CreateFlow(ctx context.Context, caller Caller, bucketID string, in *model.VersionedFlow, preserve bool) (*model.VersionedFlow, error) {
	if in == nil {
		return nil, model.Invalid("Object in body cannot be null")
	}
	if in.BucketIdentifier != nil && *in.BucketIdentifier != bucketID {
		return nil, model.Invalid("Bucket id in path param must match bucket id in body")
	}
	claim, err := s.createClaim(in.Revision, "Versioned Flow")
	if err != nil {
		return nil, err
	}
	id := ""
	if in.Identifier != nil {
		id = *in.Identifier
		if strings.TrimSpace(id) == "" {
			return nil, model.Invalid("Cannot create versioned flow - identifier must not be blank")
		}
		if err := checkID("Versioned flow", id); err != nil {
			return nil, err
		}
	} else {
		id = s.opts.NewID()
	}
	if blank(in.Name) {
		return nil, model.Invalid("Cannot create versioned flow - name must not be blank")
	}
	if err := checkName("Versioned flow", in.Name); err != nil {
		return nil, err
	}
	now := s.now()
	created := in.CreatedTimestamp
	if created <= 0 {
		created = now
	}
	modified := now
	if preserve && in.ModifiedTimestamp > 0 {
		modified = in.ModifiedTimestamp
	}
	c := &command.CreateFlow{BucketID: bucketID, ID: id, Name: *in.Name, Description: in.Description,
		Created: created, Modified: modified, Rev: claim, Actor: caller.Identity}
	r, err := propose[store.FlowResult](ctx, s, c)
	if err != nil {
		return nil, err
	}
	return flowFull(r.Flow, r.Bucket.Name, s.writtenRevision(r.Rev, caller.Identity)), nil
}

// lookupFlow loads a bucket and a flow in it with NiFi's error order.
func lookupFlow(tx *store.Tx, bucketID, flowID string) (store.BucketRec, store.FlowRec, error) {
	b, ok, err := tx.Bucket(bucketID)
	if err != nil {
		return b, store.FlowRec{}, err
	}
	if !ok {
		return b, store.FlowRec{}, model.NotFound(model.MsgBucketNotFound)
	}
	f, ok, err := tx.Flow(flowID)
	if err != nil {
		return b, f, err
	}
	if !ok {
		return b, f, model.NotFound(model.MsgFlowNotFoundInBucket)
	}
	if f.BucketID != b.ID {
		return b, f, model.Conflict(model.MsgFlowNotInBucket)
	}
	return b, f, nil
}

// lookupFlowByID loads a flow and its bucket by the flow id alone.
func lookupFlowByID(tx *store.Tx, flowID string) (store.BucketRec, store.FlowRec, error) {
	f, ok, err := tx.Flow(flowID)
	if err != nil {
		return store.BucketRec{}, f, err
	}
	if !ok {
		return store.BucketRec{}, f, model.NotFound(model.MsgFlowNotFound)
	}
	b, ok, err := tx.Bucket(f.BucketID)
	if err != nil {
		return b, f, err
	}
	if !ok {
		return b, f, model.NotFound(model.MsgBucketNotFound)
	}
	return b, f, nil
}

// GetFlow returns a flow addressed through its bucket.
func (s *Service) GetFlow(bucketID, flowID string) (*model.VersionedFlow, error) {
	var out *model.VersionedFlow
	err := s.read(func(tx *store.Tx) error {
		b, f, err := lookupFlow(tx, bucketID, flowID)
		if err != nil {
			return err
		}
		rev, err := s.revisionInfo(tx, f.ID)
		out = flowFull(f, b.Name, rev)
		return err
	})
	return out, err
}

// GetFlowByID returns a flow by its id alone (/flows/{id}).
func (s *Service) GetFlowByID(flowID string) (*model.VersionedFlow, error) {
	var out *model.VersionedFlow
	err := s.read(func(tx *store.Tx) error {
		b, f, err := lookupFlowByID(tx, flowID)
		if err != nil {
			return err
		}
		rev, err := s.revisionInfo(tx, f.ID)
		out = flowFull(f, b.Name, rev)
		return err
	})
	return out, err
}

// ListFlows returns the flows of a bucket ordered by name.
func (s *Service) ListFlows(bucketID string) ([]*model.VersionedFlow, error) {
	out := []*model.VersionedFlow{}
	err := s.read(func(tx *store.Tx) error {
		b, ok, err := tx.Bucket(bucketID)
		if err != nil {
			return err
		}
		if !ok {
			return model.NotFound(model.MsgBucketNotFound)
		}
		fs, err := tx.Flows(bucketID)
		if err != nil {
			return err
		}
		for _, f := range fs {
			rev, err := s.revisionInfo(tx, f.ID)
			if err != nil {
				return err
			}
			out = append(out, flowFull(f, b.Name, rev))
		}
		return nil
	})
	return out, err
}

// Items returns the flows of every bucket (bucket name order, then flow
// name), or of one bucket when bucketID is not empty.
func (s *Service) Items(bucketID string) ([]*model.VersionedFlow, error) {
	if bucketID != "" {
		return s.ListFlows(bucketID)
	}
	out := []*model.VersionedFlow{}
	err := s.read(func(tx *store.Tx) error {
		bs, err := tx.Buckets()
		if err != nil {
			return err
		}
		for _, b := range bs {
			fs, err := tx.Flows(b.ID)
			if err != nil {
				return err
			}
			for _, f := range fs {
				rev, err := s.revisionInfo(tx, f.ID)
				if err != nil {
					return err
				}
				out = append(out, flowFull(f, b.Name, rev))
			}
		}
		return nil
	})
	return out, err
}

// UpdateFlow changes a flow's name and description.
func (s *Service) UpdateFlow(ctx context.Context, caller Caller, bucketID, flowID string, in *model.VersionedFlow) (*model.VersionedFlow, error) {
	if in == nil {
		return nil, model.Invalid("Object in body cannot be null")
	}
	if in.BucketIdentifier != nil && *in.BucketIdentifier != bucketID {
		return nil, model.Invalid("Bucket id in path param must match bucket id in body")
	}
	if in.Identifier != nil && *in.Identifier != flowID {
		return nil, model.Invalid("Item id in path param must match item id in body")
	}
	claim, err := s.claimFor(in.Revision)
	if err != nil {
		return nil, err
	}
	if in.Name != nil && blank(in.Name) {
		return nil, model.Invalid("Versioned flow name cannot be blank")
	}
	if err := checkName("Versioned flow", in.Name); err != nil {
		return nil, err
	}
	c := &command.UpdateFlow{BucketID: bucketID, ID: flowID, Name: in.Name, Description: in.Description,
		Modified: s.now(), Rev: claim, Actor: caller.Identity}
	r, err := propose[store.FlowResult](ctx, s, c)
	if err != nil {
		return nil, err
	}
	return flowFull(r.Flow, r.Bucket.Name, s.writtenRevision(r.Rev, caller.Identity)), nil
}

// DeleteFlow deletes a flow with its versions and returns it.
func (s *Service) DeleteFlow(ctx context.Context, caller Caller, bucketID, flowID string, rev RevisionParam) (*model.VersionedFlow, error) {
	claim, err := s.deleteClaim(rev)
	if err != nil {
		return nil, err
	}
	lock := s.flowLock(flowID)
	lock.Lock()
	defer lock.Unlock()
	r, err := propose[store.FlowResult](ctx, s, &command.DeleteFlow{BucketID: bucketID, ID: flowID, Rev: claim, Actor: caller.Identity})
	if err != nil {
		return nil, err
	}
	out := flowBase(r.Flow, r.Bucket.Name)
	// NiFi loads the flow without its snapshot count before deleting it,
	// so the echoed flow says versionCount 0.
	out.VersionCount = 0
	if !s.opts.Revisions {
		out.Revision = model.ZeroRevision()
	}
	return out, nil
}
