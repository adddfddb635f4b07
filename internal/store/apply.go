package store

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/weir-nifi/weir/internal/bundles"
	"github.com/weir-nifi/weir/internal/command"
	"github.com/weir-nifi/weir/internal/events"
	"github.com/weir-nifi/weir/internal/model"
	"github.com/weir-nifi/weir/internal/s2s/queue"
	"github.com/weir-nifi/weir/internal/tenants"
	"github.com/weir-nifi/weir/internal/tokens"
)

// Entry is one committed log entry to apply. Data is nil for entries that
// only advance the index (Raft configuration changes).
type Entry struct {
	Index uint64
	Data  []byte
}

// Result is the outcome of one entry: a result value (see records.go) or a
// *model.Error that the client who proposed it will see.
type Result struct {
	Value any
	Err   error
}

// maintenanceRetryAfter is what writers refused in maintenance are told.
const maintenanceRetryAfter = 30 * time.Second

// Apply applies a batch of committed entries in one transaction. Entries
// at or below the applied index are skipped (replay after a restart).
//
// What can go wrong is classified, because each case needs a different
// answer (see DESIGN.md, "Apply refuses, it does not halt"):
//   - a command the state does not allow, or with arguments the state
//     machine cannot store, is refused: its Result carries the
//     *model.Error, nothing of it is written, and every replica refuses
//     it alike;
//   - an entry this build cannot read (a newer format version or command
//     type) stops the batch before it: the entries before it are applied
//     and Apply returns their results with an *UnknownCommandError; the
//     caller must stop and never skip it;
//   - any other error is a failure of the local database (I/O, a full or
//     read-only disk, a corrupt record): nothing of the batch is applied
//     and the caller may retry the same batch later.
func (s *Store) Apply(entries []Entry) ([]Result, error) {
	results := make([]Result, len(entries))
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.db == nil {
		return nil, ErrClosed
	}
	s.applyMu.Lock()
	defer s.applyMu.Unlock()
	last := s.applied.Load()
	newLast := last
	var unknown *UnknownCommandError
	removed, members := false, false
	var gone []string
	err := s.db.Update(func(tx *bolt.Tx) error {
		gone = gone[:0] // a retried transaction starts over
		w := wtx{tx: tx, tr: loadTracker(tx), removed: &removed, members: &members, gone: &gone}
	entries:
		for i, e := range entries {
			if e.Index != 0 && e.Index <= last {
				results[i] = Result{Err: errAlreadyApplied}
				continue
			}
			if e.Data != nil {
				w.index = e.Index
				v, err := w.apply(e.Data)
				var me *model.Error
				switch {
				case err == nil, errors.As(err, &me):
					results[i] = Result{Value: v, Err: err}
				case errors.Is(err, command.ErrUnknown):
					unknown = &UnknownCommandError{Index: e.Index, Err: err}
					results = results[:i]
					break entries
				default:
					return fmt.Errorf("apply entry %d: %w", e.Index, err)
				}
			}
			if e.Index > newLast {
				newLast = e.Index
			}
		}
		if err := w.tr.flush(tx); err != nil {
			return err
		}
		if newLast != last {
			return tx.Bucket(tMeta).Put(appliedKey, u64(newLast))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.generation.Add(1)
	s.applied.Store(newLast)
	if removed {
		s.removals.Add(1)
	}
	if members {
		s.members.Add(1)
	}
	if len(gone) > 0 {
		s.goneMu.Lock()
		// Bounded for a store nobody drains (tools, tests): what is
		// dropped is left to the sweep of unreferenced files.
		if len(s.gone)+len(gone) <= maxGone {
			s.gone = append(s.gone, gone...)
		}
		s.goneMu.Unlock()
		select {
		case s.goneC <- struct{}{}:
		default:
		}
	}
	s.wake()
	if unknown != nil {
		return results, unknown
	}
	return results, nil
}

// UnknownCommandError is an entry this build cannot apply: it was proposed
// by a newer build. The replica must stop before it and be upgraded.
type UnknownCommandError struct {
	Index uint64
	Err   error
}

func (e *UnknownCommandError) Error() string {
	return fmt.Sprintf("log entry %d cannot be applied by this build (%v): upgrade this node to the build the rest of the cluster runs; the entry stays in the log and is applied after the upgrade", e.Index, e.Err)
}

func (e *UnknownCommandError) Unwrap() error { return e.Err }

// ErrClosed is returned by Apply after Close.
var ErrClosed = errors.New("store is closed")

var errAlreadyApplied = model.Errorf(model.KindInternal, "entry already applied")

// wtx is one Apply transaction; every table write goes through table, which
// keeps the state hash and counts (statehash.go).
type wtx struct {
	tx *bolt.Tx
	tr *tracker
	// index is the log index of the entry being applied.
	index uint64
	// removed is set when a flow is removed (see Store.removals).
	removed *bool
	// members is set when the member table changes (see Store.members).
	members *bool
	// gone collects the content files the state stopped referring to
	// (see Store.TakeGone).
	gone *[]string
}

func (w wtx) t(name []byte) table { return table{b: w.tx.Bucket(name), name: name, tr: w.tr} }

// apply decodes and applies one command. A *model.Error is a refused
// command (nothing written); any other error is a database failure.
func (w wtx) apply(data []byte) (any, error) {
	c, err := command.Decode(data)
	if err != nil {
		if errors.Is(err, command.ErrUnknown) {
			return nil, err
		}
		// Bytes of a known type that do not parse are refused the same
		// way on every replica of this build; they must not crash it.
		return nil, model.Invalid(err.Error())
	}
	// Arguments the tables cannot hold (empty or oversized keys, blank
	// names) are refused before anything is written: bbolt would fail
	// the write halfway through the command.
	if err := checkArgs(c); err != nil {
		return nil, err
	}
	return w.applyCommand(c, false)
}

// applyCommand applies a decoded, checked command. fromPrimary is set for
// a primary's commands that a DR standby applies (DRApply); any other
// write is refused unless this cluster is a primary.
func (w wtx) applyCommand(c command.Command, fromPrimary bool) (any, error) {
	switch c := c.(type) {
	case *command.SetDRRole:
		return w.setDRRole(c)
	case *command.DRApply:
		return w.drApply(c)
	}
	if !fromPrimary && !drLocal(c) {
		d, err := w.dr()
		if err != nil {
			return nil, err
		}
		if err := d.WritesRefused(); err != nil {
			return nil, err
		}
	}
	// Site-to-site ports and queues have tables of their own, outside the
	// registry's state hash; maintenance (a registry freeze) does not stop
	// data from flowing.
	if queue.Handles(c) {
		return queue.Apply(w.tx, c, func(sha string) { *w.gone = append(*w.gone, sha) })
	}
	// Token keys and logouts go on in maintenance too.
	if tokens.Handles(c) {
		return tokens.Apply(w.tx, c)
	}
	// So does the delivery of events of earlier changes.
	if events.Handles(c) {
		return events.Apply(w.tx, c)
	}
	switch c := c.(type) {
	case *command.SetMaintenance:
		return w.setMaintenance(c)
	case *command.SetNode:
		*w.members = true
		return nil, putJSON(w.t(tNodes), []byte(c.ID), NodeRec{ID: c.ID, APIURL: c.APIURL, RaftAddr: c.RaftAddr, Zone: c.Zone, Since: c.At, Level: c.Level})
	case *command.RemoveNode:
		*w.members = true
		return nil, w.t(tNodes).Delete([]byte(c.ID))
	}
	// Everything else changes the registry, which maintenance freezes.
	var m Maintenance
	if _, err := getJSON(w.t(tMeta), maintenanceKey, &m); err != nil {
		return nil, err
	}
	if m.On {
		return nil, MaintenanceError(m)
	}
	// The change's event is made before the change (a deleted user's
	// identity is gone after it) and written with it, in the same
	// transaction, only if the change is applied.
	evs, err := w.eventsOf(c)
	if err != nil {
		return nil, err
	}
	v, err := w.applyChange(c)
	for _, ev := range evs {
		if err == nil {
			err = events.Record(w.tx, w.index, ev.typ, ev.at, ev.fields...)
		}
	}
	return v, err
}

// applyChange applies a change of the registry or of its users, groups
// and policies.
func (w wtx) applyChange(c command.Command) (any, error) {
	// Users, groups and policies have tables of their own, outside the
	// registry's state hash; they are registry configuration, which
	// maintenance freezes too.
	if tenants.Handles(c) {
		return tenants.Apply(w.tx, c)
	}
	// Extension bundles have tables of their own too (package bundles),
	// outside the state hash; they live in buckets, looked up here.
	if bundles.Handles(c) {
		return bundles.Apply(w.tx, c, bundleBuckets{w})
	}
	switch c := c.(type) {
	case *command.CreateBucket:
		return w.createBucket(c)
	case *command.UpdateBucket:
		return w.updateBucket(c)
	case *command.DeleteBucket:
		return w.deleteBucket(c)
	case *command.CreateFlow:
		return w.createFlow(c)
	case *command.UpdateFlow:
		return w.updateFlow(c)
	case *command.DeleteFlow:
		return w.deleteFlow(c)
	case *command.CreateVersion:
		return w.createVersion(c)
	}
	return nil, model.Invalid(fmt.Sprintf("command %s cannot be applied", c.Type()))
}

// bundleBuckets is the registry's buckets as package bundles sees them.
type bundleBuckets struct{ w wtx }

func (b bundleBuckets) Bucket(id string) (bundles.Bucket, bool, error) {
	r, ok, err := b.w.bucket(id)
	return bundles.Bucket{AllowBundleRedeploy: r.AllowBundleRedeploy}, ok, err
}

// MaintenanceError is the refusal every write gets while maintenance is on.
func MaintenanceError(m Maintenance) *model.Error {
	msg := "Weir is in maintenance mode (read-only)"
	if m.Reason != "" {
		msg += ": " + m.Reason
	}
	msg += ". Writes are refused until an operator turns maintenance off; reads keep working."
	return model.Unavailable(msg, maintenanceRetryAfter)
}

func (w wtx) setMaintenance(c *command.SetMaintenance) (any, error) {
	m := Maintenance{On: c.On, Reason: c.Reason, By: c.By, Since: c.At}
	if !c.On {
		m = Maintenance{On: false, By: c.By, Since: c.At}
	}
	return m, putJSON(w.t(tMeta), maintenanceKey, m)
}

// ---- revisions

// invalidRevision is NiFi's message for a stale revision (a 400).
func invalidRevision(entityType, action, id string) *model.Error {
	return model.Invalid(fmt.Sprintf("The %s you attempted to %s with id '%s' is out of date with the server. You may need to refresh your client and try again.", entityType, action, id))
}

func (w wtx) revision(id string) (Revision, error) {
	var r Revision
	_, err := getJSON(w.t(tRevisions), []byte(id), &r)
	return r, err
}

// claimRevision checks a claim against the stored revision and, when it
// passes, bumps the version and records the claim's client id, as NiFi's
// JdbcRevisionManager does ("version = ? OR client_id = ?").
func (w wtx) claimRevision(id string, c *command.Claim, entityType, action string) (*Revision, error) {
	if c == nil {
		return nil, nil
	}
	cur, err := w.revision(id)
	if err != nil {
		return nil, err
	}
	if cur.Version != c.Version && (c.ClientID == nil || cur.ClientID == nil || *c.ClientID != *cur.ClientID) {
		return nil, invalidRevision(entityType, action, id)
	}
	next := Revision{Version: cur.Version + 1, ClientID: c.ClientID}
	return &next, nil
}

func (w wtx) checkDeleteRevision(id string, c *command.Claim, entityType string) error {
	if c == nil {
		return nil
	}
	cur, err := w.revision(id)
	if err != nil {
		return err
	}
	if cur.Version != c.Version && (c.ClientID == nil || cur.ClientID == nil || *c.ClientID != *cur.ClientID) {
		return invalidRevision(entityType, "delete", id)
	}
	return nil
}

func (w wtx) putRevision(id string, r *Revision) error {
	if r == nil {
		return nil
	}
	return putJSON(w.t(tRevisions), []byte(id), r)
}

// ---- buckets

func (w wtx) bucket(id string) (BucketRec, bool, error) {
	var b BucketRec
	ok, err := getJSON(w.t(tBuckets), []byte(id), &b)
	return b, ok, err
}

func (w wtx) createBucket(c *command.CreateBucket) (any, error) {
	if _, ok, err := w.bucket(c.ID); err != nil {
		return nil, err
	} else if ok {
		return nil, model.Conflict("A bucket with the same identifier already exists")
	}
	if w.t(tBucketNames).Get([]byte(c.Name)) != nil {
		return nil, model.Conflict(model.MsgBucketNameExists)
	}
	rev, err := w.claimRevision(c.ID, c.Rev, "Bucket", "create")
	if err != nil {
		return nil, err
	}
	b := BucketRec{ID: c.ID, Name: c.Name, Description: c.Description, Created: c.Created,
		AllowBundleRedeploy: c.AllowBundleRedeploy, AllowPublicRead: c.AllowPublicRead}
	if err := putJSON(w.t(tBuckets), []byte(b.ID), b); err != nil {
		return nil, err
	}
	if err := w.t(tBucketNames).Put([]byte(b.Name), []byte(b.ID)); err != nil {
		return nil, err
	}
	return BucketResult{Bucket: b, Rev: rev}, w.putRevision(b.ID, rev)
}

func (w wtx) updateBucket(c *command.UpdateBucket) (any, error) {
	b, ok, err := w.bucket(c.ID)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, model.NotFound(model.MsgBucketNotFound)
	}
	rename := c.Name != nil && *c.Name != "" && *c.Name != b.Name
	if rename {
		if other := w.t(tBucketNames).Get([]byte(*c.Name)); other != nil && string(other) != b.ID {
			return nil, model.Conflict(model.MsgBucketNameExists + " - " + *c.Name)
		}
	}
	rev, err := w.claimRevision(c.ID, c.Rev, "Bucket", "update")
	if err != nil {
		return nil, err
	}
	if rename {
		if err := w.t(tBucketNames).Delete([]byte(b.Name)); err != nil {
			return nil, err
		}
		b.Name = *c.Name
		if err := w.t(tBucketNames).Put([]byte(b.Name), []byte(b.ID)); err != nil {
			return nil, err
		}
	}
	if c.Description != nil {
		b.Description = c.Description
	}
	if c.AllowBundleRedeploy != nil {
		b.AllowBundleRedeploy = *c.AllowBundleRedeploy
	}
	if c.AllowPublicRead != nil {
		b.AllowPublicRead = *c.AllowPublicRead
	}
	if err := putJSON(w.t(tBuckets), []byte(b.ID), b); err != nil {
		return nil, err
	}
	return BucketResult{Bucket: b, Rev: rev}, w.putRevision(b.ID, rev)
}

func (w wtx) deleteBucket(c *command.DeleteBucket) (any, error) {
	b, ok, err := w.bucket(c.ID)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, model.NotFound(model.MsgBucketNotFound)
	}
	if err := w.checkDeleteRevision(c.ID, c.Rev, "Bucket"); err != nil {
		return nil, err
	}
	// Cascade: every flow of the bucket with its versions and contents.
	var flowIDs []string
	pfx := prefixed(b.ID)
	cur := w.t(tFlowNames).Cursor()
	for k, v := cur.Seek(pfx); k != nil && bytes.HasPrefix(k, pfx); k, v = cur.Next() {
		flowIDs = append(flowIDs, string(v))
	}
	for _, id := range flowIDs {
		f, ok, err := w.flow(id)
		if err != nil {
			return nil, err
		}
		if ok {
			if err := w.removeFlow(f); err != nil {
				return nil, err
			}
		}
	}
	// NiFi deletes the bucket's extension bundles with it.
	if err := bundles.DeleteBucket(w.tx, b.ID); err != nil {
		return nil, err
	}
	if err := w.t(tBucketNames).Delete([]byte(b.Name)); err != nil {
		return nil, err
	}
	if err := w.t(tBuckets).Delete([]byte(b.ID)); err != nil {
		return nil, err
	}
	return BucketResult{Bucket: b}, w.t(tRevisions).Delete([]byte(b.ID))
}

// ---- flows

func (w wtx) flow(id string) (FlowRec, bool, error) {
	var f FlowRec
	ok, err := getJSON(w.t(tFlows), []byte(id), &f)
	return f, ok, err
}

// flowIn loads a bucket and one of its flows with NiFi's error order:
// unknown bucket, unknown flow, flow in another bucket.
func (w wtx) flowIn(bucketID, flowID string) (BucketRec, FlowRec, error) {
	b, ok, err := w.bucket(bucketID)
	if err != nil {
		return b, FlowRec{}, err
	}
	if !ok {
		return b, FlowRec{}, model.NotFound(model.MsgBucketNotFound)
	}
	f, ok, err := w.flow(flowID)
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

func (w wtx) createFlow(c *command.CreateFlow) (any, error) {
	b, ok, err := w.bucket(c.BucketID)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, model.NotFound(model.MsgBucketNotFound)
	}
	if w.t(tFlowNames).Get(nameKey(b.ID, c.Name)) != nil {
		return nil, model.Conflict(model.MsgFlowNameExists)
	}
	if _, exists, err := w.flow(c.ID); err != nil {
		return nil, err
	} else if exists {
		return nil, model.Conflict("A versioned flow with the same identifier already exists")
	}
	rev, err := w.claimRevision(c.ID, c.Rev, "Versioned Flow", "create")
	if err != nil {
		return nil, err
	}
	f := FlowRec{ID: c.ID, BucketID: b.ID, Name: c.Name, Description: c.Description, Created: c.Created, Modified: c.Modified}
	if err := putJSON(w.t(tFlows), []byte(f.ID), f); err != nil {
		return nil, err
	}
	if err := w.t(tFlowNames).Put(nameKey(b.ID, f.Name), []byte(f.ID)); err != nil {
		return nil, err
	}
	return FlowResult{Flow: f, Bucket: b, Rev: rev}, w.putRevision(f.ID, rev)
}

// flowFirst is flowIn in the order NiFi's update and delete use: the flow
// must exist at all (verifyFlowExists) before its bucket is looked at.
func (w wtx) flowFirst(bucketID, flowID string) (BucketRec, FlowRec, error) {
	if _, ok, err := w.flow(flowID); err != nil {
		return BucketRec{}, FlowRec{}, err
	} else if !ok {
		return BucketRec{}, FlowRec{}, model.NotFound(model.MsgFlowNotFound)
	}
	return w.flowIn(bucketID, flowID)
}

func (w wtx) updateFlow(c *command.UpdateFlow) (any, error) {
	b, f, err := w.flowFirst(c.BucketID, c.ID)
	if err != nil {
		return nil, err
	}
	rename := c.Name != nil && *c.Name != "" && *c.Name != f.Name
	if rename {
		if other := w.t(tFlowNames).Get(nameKey(b.ID, *c.Name)); other != nil && string(other) != f.ID {
			return nil, model.Conflict(model.MsgFlowNameExists)
		}
	}
	rev, err := w.claimRevision(c.ID, c.Rev, "Versioned Flow", "update")
	if err != nil {
		return nil, err
	}
	if rename {
		if err := w.t(tFlowNames).Delete(nameKey(b.ID, f.Name)); err != nil {
			return nil, err
		}
		f.Name = *c.Name
		if err := w.t(tFlowNames).Put(nameKey(b.ID, f.Name), []byte(f.ID)); err != nil {
			return nil, err
		}
	}
	if c.Description != nil {
		f.Description = c.Description
	}
	f.Modified = c.Modified
	if err := putJSON(w.t(tFlows), []byte(f.ID), f); err != nil {
		return nil, err
	}
	return FlowResult{Flow: f, Bucket: b, Rev: rev}, w.putRevision(f.ID, rev)
}

func (w wtx) deleteFlow(c *command.DeleteFlow) (any, error) {
	b, f, err := w.flowFirst(c.BucketID, c.ID)
	if err != nil {
		return nil, err
	}
	if err := w.checkDeleteRevision(c.ID, c.Rev, "Versioned Flow"); err != nil {
		return nil, err
	}
	return FlowResult{Flow: f, Bucket: b}, w.removeFlow(f)
}

// removeFlow deletes a flow, its name index entry, versions, contents and
// revision.
func (w wtx) removeFlow(f FlowRec) error {
	if w.removed != nil {
		*w.removed = true
	}
	pfx := prefixed(f.ID)
	for _, t := range [][]byte{tVersions, tContents} {
		var keys [][]byte
		cur := w.t(t).Cursor()
		for k, _ := cur.Seek(pfx); k != nil && bytes.HasPrefix(k, pfx) && len(k) == len(pfx)+4; k, _ = cur.Next() {
			keys = append(keys, append([]byte(nil), k...))
		}
		for _, k := range keys {
			if err := w.t(t).Delete(k); err != nil {
				return err
			}
		}
	}
	if err := w.t(tFlowNames).Delete(nameKey(f.BucketID, f.Name)); err != nil {
		return err
	}
	if err := w.t(tRevisions).Delete([]byte(f.ID)); err != nil {
		return err
	}
	return w.t(tFlows).Delete([]byte(f.ID))
}

// ---- versions

func (w wtx) createVersion(c *command.CreateVersion) (any, error) {
	b, f, err := w.flowIn(c.BucketID, c.FlowID)
	if err != nil {
		return nil, err
	}
	last := f.VersionCount
	switch v := int64(c.Version); {
	case v <= 0:
		return nil, model.Invalid("Version must be greater than zero, or use -1 to indicate latest version")
	case last == 0 && v != 1:
		return nil, model.Conflict("Version of first snapshot must be 1")
	case v <= last:
		return nil, model.Conflict("A Versioned flow snapshot with the same version already exists: " + strconv.Itoa(int(v)))
	case v > last+1:
		return nil, model.Conflict(fmt.Sprintf("Version must be a one-up number, last version was %d and version for this snapshot was %d", last, v))
	}
	vr := VersionRec{Version: c.Version, Timestamp: c.Timestamp, Author: c.Author, Comments: c.Comments}
	key := versionKey(f.ID, c.Version)
	if err := putJSON(w.t(tVersions), key, vr); err != nil {
		return nil, err
	}
	// Content aliases the log entry's buffer, which bbolt copies on Put.
	if err := w.t(tContents).Put(key, c.Content); err != nil {
		return nil, err
	}
	f.VersionCount = int64(c.Version)
	// Never move the modified time backwards: a new leader's clock may be
	// behind, and a migration keeps the source's (later) modified time.
	f.Modified = max(f.Modified, c.Modified)
	if err := putJSON(w.t(tFlows), []byte(f.ID), f); err != nil {
		return nil, err
	}
	return VersionResult{Version: vr, Flow: f, Bucket: b}, nil
}
