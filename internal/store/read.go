package store

import (
	"bytes"
	"errors"

	bolt "go.etcd.io/bbolt"

	"github.com/weir-nifi/weir/internal/bundles"
)

// Tx is a consistent read-only view of the state. It is valid only inside
// the function passed to Read.
type Tx struct {
	tx      *bolt.Tx
	epoch   uint64
	members uint64
}

// Read runs fn against one consistent snapshot of the state.
func (s *Store) Read(fn func(*Tx) error) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.db == nil {
		return errors.New("store is closed")
	}
	// The epoch is read before the transaction begins (Apply bumps it
	// after its commit), so a Tx never pairs a new epoch with old data.
	epoch, members := s.removals.Load(), s.members.Load()
	return s.db.View(func(tx *bolt.Tx) error { return fn(&Tx{tx: tx, epoch: epoch, members: members}) })
}

// RemovalEpoch counts, on this node since it started, the applied commands
// that removed flows (deleting a flow or a bucket) and restores. A cache
// of something derived from a flow's records is stale when the epoch has
// moved: a flow deleted and created again can have byte-identical records.
func (t *Tx) RemovalEpoch() uint64 { return t.epoch }

// MembersEpoch is the member epoch now (see Tx.MembersEpoch).
func (s *Store) MembersEpoch() uint64 { return s.members.Load() }

// MembersEpoch counts, on this node since it started, the applied batches
// that changed the member table (Nodes) and restores: what was derived
// from Nodes under the same epoch is still true.
func (t *Tx) MembersEpoch() uint64 { return t.members }

func (t *Tx) b(name []byte) *bolt.Bucket { return t.tx.Bucket(name) }

// Bucket returns a bucket by id.
func (t *Tx) Bucket(id string) (BucketRec, bool, error) {
	var b BucketRec
	ok, err := getJSON(t.b(tBuckets), []byte(id), &b)
	return b, ok, err
}

// Buckets lists all buckets ordered by name.
func (t *Tx) Buckets() ([]BucketRec, error) {
	var out []BucketRec
	err := t.b(tBucketNames).ForEach(func(_, id []byte) error {
		b, ok, err := t.Bucket(string(id))
		if err != nil || !ok {
			return err
		}
		out = append(out, b)
		return nil
	})
	return out, err
}

// RawBucket returns a bucket's stored bytes (nil if absent), valid only in
// this transaction: callers compare them to detect any change cheaply.
func (t *Tx) RawBucket(id string) []byte { return t.b(tBuckets).Get([]byte(id)) }

// RawFlow returns a flow's stored bytes (nil if absent), valid only in this
// transaction.
func (t *Tx) RawFlow(id string) []byte { return t.b(tFlows).Get([]byte(id)) }

// Flow returns a flow by id.
func (t *Tx) Flow(id string) (FlowRec, bool, error) {
	var f FlowRec
	ok, err := getJSON(t.b(tFlows), []byte(id), &f)
	return f, ok, err
}

// Flows lists the flows of a bucket ordered by name.
func (t *Tx) Flows(bucketID string) ([]FlowRec, error) {
	var out []FlowRec
	pfx := prefixed(bucketID)
	cur := t.b(tFlowNames).Cursor()
	for k, id := cur.Seek(pfx); k != nil && bytes.HasPrefix(k, pfx); k, id = cur.Next() {
		f, ok, err := t.Flow(string(id))
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, f)
		}
	}
	return out, nil
}

// FlowCount is the number of flows in the registry.
func (t *Tx) FlowCount() int { return t.b(tFlows).Stats().KeyN }

// Version returns the metadata of one version.
func (t *Tx) Version(flowID string, v int32) (VersionRec, bool, error) {
	var r VersionRec
	ok, err := getJSON(t.b(tVersions), versionKey(flowID, v), &r)
	return r, ok, err
}

// Versions lists a flow's versions newest first.
func (t *Tx) Versions(flowID string) ([]VersionRec, error) {
	var out []VersionRec
	pfx := prefixed(flowID)
	cur := t.b(tVersions).Cursor()
	// Seek past the last possible key of this flow, then walk back.
	k, v := cur.Seek(prefixed(flowID, 0xff, 0xff, 0xff, 0xff, 0xff))
	if k == nil {
		k, v = cur.Last()
	} else {
		k, v = cur.Prev()
	}
	for ; k != nil && bytes.HasPrefix(k, pfx) && len(k) == len(pfx)+4; k, v = cur.Prev() {
		var r VersionRec
		if err := jsonUnmarshal(v, &r); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// Content returns the encoded flow document of a version (see package
// flowdoc). The bytes are copied out of the database.
func (t *Tx) Content(flowID string, v int32) ([]byte, bool) {
	c, ok := t.ContentView(flowID, v)
	if !ok {
		return nil, false
	}
	return append([]byte(nil), c...), true
}

// ContentView is Content without the copy: the stored bytes themselves,
// valid only until the transaction ends, and never to be modified. A
// reader that decodes the document within the transaction (a rendered
// answer) saves a document-sized allocation and copy per read.
func (t *Tx) ContentView(flowID string, v int32) ([]byte, bool) {
	c := t.b(tContents).Get(versionKey(flowID, v))
	return c, c != nil
}

// Revision returns an entity's revision; absent means version 0.
func (t *Tx) Revision(id string) (Revision, error) {
	var r Revision
	_, err := getJSON(t.b(tRevisions), []byte(id), &r)
	return r, err
}

// Maintenance returns the read-only switch.
func (t *Tx) Maintenance() (Maintenance, error) {
	var m Maintenance
	_, err := getJSON(t.b(tMeta), maintenanceKey, &m)
	return m, err
}

// Nodes lists the recorded cluster members ordered by id.
func (t *Tx) Nodes() ([]NodeRec, error) {
	var out []NodeRec
	err := t.b(tNodes).ForEach(func(_, v []byte) error {
		var n NodeRec
		if err := jsonUnmarshal(v, &n); err != nil {
			return err
		}
		out = append(out, n)
		return nil
	})
	return out, err
}

// Counts are the sizes of the registry, for health and backup manifests.
type Counts struct {
	Buckets  int `json:"buckets"`
	Flows    int `json:"flows"`
	Versions int `json:"versions"`
}

// Counts is the number of buckets, flows and versions, as kept by Apply
// (statehash.go): no walk over the tables.
func (t *Tx) Counts() Counts { return summaryOf(t.tx).Counts }

// Summary is the state hash and counts of this view.
func (t *Tx) Summary() Summary { return summaryOf(t.tx) }

// Bolt is the transaction underneath, for packages that keep tables of
// their own in the store's file (site-to-site queues).
func (t *Tx) Bolt() *bolt.Tx { return t.tx }

// BundleGeneration counts the extension bundle commands applied (package
// bundles): their tables are outside the state hash.
func (s *Store) BundleGeneration() uint64 {
	var gen uint64
	_ = s.Read(func(tx *Tx) error {
		gen = bundles.Generation(tx.tx)
		return nil
	})
	return gen
}
