package registry

import (
	"strconv"

	"github.com/weir-nifi/weir/internal/model"
	"github.com/weir-nifi/weir/internal/store"
)

// Links are relative to the API base, in JAXB's wire form.
func bucketLink(id string) *model.Link { return model.NewLink("buckets/"+id, "self") }

func flowLink(bucketID, flowID string) *model.Link {
	return model.NewLink("buckets/"+bucketID+"/flows/"+flowID, "self")
}

// VersionPath is the API-relative path of a version, also used for the
// Location header of an import.
func VersionPath(bucketID, flowID string, v int32) string {
	return "buckets/" + bucketID + "/flows/" + flowID + "/versions/" + strconv.Itoa(int(v))
}

// bucketBase maps a stored bucket without link, permissions or revision.
func bucketBase(b store.BucketRec) *model.Bucket {
	return &model.Bucket{
		AllowBundleRedeploy: model.Bool(b.AllowBundleRedeploy),
		AllowPublicRead:     model.Bool(b.AllowPublicRead),
		CreatedTimestamp:    b.Created,
		Description:         b.Description,
		Identifier:          model.Str(b.ID),
		Name:                model.Str(b.Name),
	}
}

// bucketFull adds what GET/list/create/update return: permissions and link.
func bucketFull(b store.BucketRec, rev *model.RevisionInfo) *model.Bucket {
	out := bucketBase(b)
	out.Permissions = model.AllPermissions()
	out.Link = bucketLink(b.ID)
	out.Revision = rev
	return out
}

// flowBase maps a stored flow with its bucket's name, without link,
// permissions or revision.
func flowBase(f store.FlowRec, bucketName string) *model.VersionedFlow {
	return &model.VersionedFlow{
		BucketIdentifier:  model.Str(f.BucketID),
		BucketName:        model.Str(bucketName),
		CreatedTimestamp:  f.Created,
		Description:       f.Description,
		Identifier:        model.Str(f.ID),
		ModifiedTimestamp: f.Modified,
		Name:              model.Str(f.Name),
		Type:              model.ItemTypeFlow,
		VersionCount:      f.VersionCount,
	}
}

func flowFull(f store.FlowRec, bucketName string, rev *model.RevisionInfo) *model.VersionedFlow {
	out := flowBase(f, bucketName)
	out.Permissions = model.AllPermissions()
	out.Link = flowLink(f.BucketID, f.ID)
	out.Revision = rev
	return out
}

func metadata(v store.VersionRec, bucketID, flowID string) *model.SnapshotMetadata {
	return &model.SnapshotMetadata{
		Author:           model.Str(v.Author),
		BucketIdentifier: model.Str(bucketID),
		Comments:         v.Comments,
		FlowIdentifier:   model.Str(flowID),
		Link:             model.NewLink(VersionPath(bucketID, flowID, v.Version), "content"),
		Timestamp:        v.Timestamp,
		Version:          v.Version,
	}
}
