package store

import (
	"strconv"

	"github.com/weir-nifi/weir/internal/bundles"
	"github.com/weir-nifi/weir/internal/command"
	"github.com/weir-nifi/weir/internal/events"
	"github.com/weir-nifi/weir/internal/model"
	"github.com/weir-nifi/weir/internal/tenants"
)

// change is the event a change writes to the outbox.
type change struct {
	typ    string
	at     int64
	fields []events.Field
}

// Event field names (NiFi's EventFieldName).
const (
	fBucketID          = "BUCKET_ID"
	fFlowID            = "FLOW_ID"
	fVersion           = "VERSION"
	fUser              = "USER"
	fComment           = "COMMENT"
	fUserID            = "USER_ID"
	fUserIdentity      = "USER_IDENTITY"
	fUserGroupID       = "USER_GROUP_ID"
	fUserGroupIdentity = "USER_GROUP_IDENTITY"
	fBundleID          = "EXTENSION_BUNDLE_ID"
)

// fieldsOf is an event's fields from name, value pairs.
func fieldsOf(kv ...string) []events.Field {
	out := make([]events.Field, 0, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, events.Field{Name: kv[i], Value: kv[i+1]})
	}
	return out
}

// eventsOf are the events NiFi Registry publishes for a change, made by
// its EventFactory with the same fields in the same order: one per change,
// two for a bundle upload (CREATE_EXTENSION_BUNDLE, then
// CREATE_EXTENSION_BUNDLE_VERSION, as NiFi's BucketBundleResource
// publishes them on every upload), none for policies and the security
// seed. They are made from the state before the change. Nothing is made
// while the outbox is off.
func (w wtx) eventsOf(c command.Command) ([]*change, error) {
	if !events.Started(w.tx) {
		return nil, nil
	}
	if f, ok := c.(*command.CreateBundleFileVersion); ok {
		c = &f.CreateBundleVersion // the same events, wherever the content is
	}
	switch c := c.(type) {
	case *command.CreateBundleVersion:
		return []*change{
			{events.CreateBundle, c.Timestamp, fieldsOf(fBucketID, c.BucketID, fBundleID, c.BundleID, fUser, c.Author)},
			{events.CreateBundleVersion, c.Timestamp, fieldsOf(fBucketID, c.BucketID, fBundleID, c.BundleID, fVersion, c.Coordinate.Version, fUser, c.Author)},
		}, nil
	case *command.DeleteBundleVersion:
		b, _, err := bundles.Get(w.tx, c.BundleID)
		return []*change{{events.DeleteBundleVersion, 0, fieldsOf(fBucketID, b.BucketID, fBundleID, c.BundleID, fVersion, c.Version, fUser, c.Actor)}}, err
	case *command.DeleteBundle:
		b, _, err := bundles.Get(w.tx, c.BundleID)
		return []*change{{events.DeleteBundle, 0, fieldsOf(fBucketID, b.BucketID, fBundleID, c.BundleID, fUser, c.Actor)}}, err
	}
	ev, err := w.eventOf(c)
	if ev == nil || err != nil {
		return nil, err
	}
	return []*change{ev}, nil
}

// eventOf is the one event of a registry, user or group change (nil for
// any other command).
func (w wtx) eventOf(c command.Command) (*change, error) {
	switch c := c.(type) {
	case *command.CreateBucket:
		return &change{events.CreateBucket, c.Created, fieldsOf(fBucketID, c.ID, fUser, c.Actor)}, nil
	case *command.UpdateBucket:
		return &change{events.UpdateBucket, 0, fieldsOf(fBucketID, c.ID, fUser, c.Actor)}, nil
	case *command.DeleteBucket:
		return &change{events.DeleteBucket, 0, fieldsOf(fBucketID, c.ID, fUser, c.Actor)}, nil
	case *command.CreateFlow:
		return &change{events.CreateFlow, c.Created, fieldsOf(fBucketID, c.BucketID, fFlowID, c.ID, fUser, c.Actor)}, nil
	case *command.UpdateFlow:
		return &change{events.UpdateFlow, c.Modified, fieldsOf(fBucketID, c.BucketID, fFlowID, c.ID, fUser, c.Actor)}, nil
	case *command.DeleteFlow:
		return &change{events.DeleteFlow, 0, fieldsOf(fBucketID, c.BucketID, fFlowID, c.ID, fUser, c.Actor)}, nil
	case *command.CreateVersion:
		return &change{events.CreateFlowVersion, c.Timestamp, fieldsOf(fBucketID, c.BucketID, fFlowID, c.FlowID,
			fVersion, strconv.Itoa(int(c.Version)), fUser, c.Author, fComment, model.Deref(c.Comments))}, nil
	case *command.CreateUser:
		return &change{events.CreateUser, 0, fieldsOf(fUserID, c.ID, fUserIdentity, c.Identity)}, nil
	case *command.UpdateUser:
		return &change{events.UpdateUser, 0, fieldsOf(fUserID, c.ID, fUserIdentity, c.Identity)}, nil
	case *command.DeleteUser:
		identity, _, err := tenants.Identity(w.tx, c.ID)
		return &change{events.DeleteUser, 0, fieldsOf(fUserID, c.ID, fUserIdentity, identity)}, err
	case *command.CreateGroup:
		return &change{events.CreateUserGroup, 0, fieldsOf(fUserGroupID, c.ID, fUserGroupIdentity, c.Identity)}, nil
	case *command.UpdateGroup:
		return &change{events.UpdateUserGroup, 0, fieldsOf(fUserGroupID, c.ID, fUserGroupIdentity, c.Identity)}, nil
	case *command.DeleteGroup:
		identity, _, err := tenants.Identity(w.tx, c.ID)
		return &change{events.DeleteUserGroup, 0, fieldsOf(fUserGroupID, c.ID, fUserGroupIdentity, identity)}, err
	}
	return nil, nil
}
