package registry

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"sync"

	"github.com/weir-nifi/weir/internal/command"
	"github.com/weir-nifi/weir/internal/flowdoc"
	"github.com/weir-nifi/weir/internal/model"
	"github.com/weir-nifi/weir/internal/store"
)

// CreateVersion commits a new version of a flow: POST .../versions. With
// preserve (CLI import) the client's author and timestamp are kept and
// required; otherwise the author is the caller.
func (s *Service) CreateVersion(ctx context.Context, caller Caller, bucketID, flowID string, in *model.Snapshot, preserve bool) (*model.Snapshot, error) {
	if in == nil {
		return nil, model.Invalid("VersionedFlowSnapshot cannot be null in body")
	}
	md := in.SnapshotMetadata
	if md != nil && md.BucketIdentifier != nil && *md.BucketIdentifier != bucketID {
		return nil, model.Invalid("Bucket id in path param must match bucket id in body")
	}
	if md != nil && md.FlowIdentifier != nil && *md.FlowIdentifier != flowID {
		return nil, model.Invalid("Flow id in path param must match flow id in body")
	}
	if md == nil {
		md = &model.SnapshotMetadata{}
	}
	author := caller.Identity
	if preserve {
		if blank(md.Author) {
			return nil, model.Invalid("Author must not be blank")
		}
		if md.Timestamp <= 0 {
			return nil, model.Invalid("Invalid timestamp")
		}
		author = *md.Author
	}
	return s.commit(ctx, bucketID, flowID, in, md.Version, md.Timestamp, author, md.Comments, preserve)
}

// ImportVersion commits a snapshot exported elsewhere as the next version:
// POST .../versions/import. Only the comments of its metadata are kept; the
// Comments header wins when not blank.
func (s *Service) ImportVersion(ctx context.Context, caller Caller, bucketID, flowID string, in *model.Snapshot, commentsHeader string) (*model.Snapshot, error) {
	if in == nil {
		return nil, model.Invalid("VersionedFlowSnapshot cannot be null in body")
	}
	var comments *string
	if strings.TrimSpace(commentsHeader) != "" {
		comments = model.Str(commentsHeader)
	} else if in.SnapshotMetadata != nil && !blank(in.SnapshotMetadata.Comments) {
		comments = in.SnapshotMetadata.Comments
	}
	return s.commit(ctx, bucketID, flowID, in, -1, 0, caller.Identity, comments, false)
}

func (s *Service) commit(ctx context.Context, bucketID, flowID string, in *model.Snapshot, version int32, ts int64, author string, comments *string, preserve bool) (*model.Snapshot, error) {
	if ts <= 0 {
		ts = s.now()
	}
	doc, err := documentOf(in)
	if err != nil {
		return nil, err
	}
	if doc[flowdoc.FlowContents] == nil {
		return nil, model.Invalid("Cannot create versioned flow snapshot - flowContents must not be null")
	}
	if version < -1 {
		return nil, model.Invalid("Cannot create versioned flow snapshot - version must be greater than or equal to -1")
	}
	if len(author) > maxAuthorLen {
		return nil, model.Invalid("Cannot create versioned flow snapshot - author must be at most 4096 characters")
	}
	if strings.TrimSpace(author) == "" {
		return nil, model.Invalid("Cannot create versioned flow snapshot - author must not be blank")
	}
	content := flowdoc.Encode(doc)

	// Hold the flow's lock from reading the latest version until the new
	// one is applied, so "-1" resolves to consecutive numbers.
	lock := s.flowLock(flowID)
	lock.Lock()
	defer lock.Unlock()
	if version == -1 || version == 0 {
		// A new leader may not have applied the previous term's entries
		// yet; resolving "next" from its state then would reuse a number.
		if err := s.p.Ready(ctx); err != nil {
			return nil, err
		}
		next := func(tx *store.Tx) error {
			_, f, err := lookupFlow(tx, bucketID, flowID)
			if err != nil {
				return err
			}
			if version == -1 {
				version = int32(f.VersionCount + 1)
			}
			return nil
		}
		err := s.read(next)
		if b, ok := s.p.(barrier); ok && model.KindOf(err) == model.KindNotFound {
			// A leader deposed while it could not run (SIGSTOP, a long
			// pause) still believes it leads until it hears of the next
			// term, and its state lacks what was written meanwhile: a
			// "no such flow" from it is confirmed against the real
			// leader's commit index before the client hears it.
			if berr := b.ReadBarrier(ctx); berr != nil {
				return nil, berr
			}
			err = s.read(next)
		}
		if err != nil {
			return nil, err
		}
		if version == 0 {
			return nil, model.Invalid("Version must be greater than zero, or use -1 to indicate latest version")
		}
	}
	// The flow's modified time becomes now; a preserved (migrated) version
	// carries its own time, and apply never moves modified backwards, so a
	// migrated flow keeps its source's modified time.
	modified := s.now()
	if preserve {
		modified = ts
	}
	c := &command.CreateVersion{BucketID: bucketID, FlowID: flowID, Version: version, Timestamp: ts,
		Author: author, Comments: comments, Modified: modified, Content: content}
	r, err := propose[store.VersionResult](ctx, s, c)
	if err != nil {
		return nil, err
	}
	return snapshotOf(r.Bucket, r.Flow, r.Version, doc), nil
}

// documentOf checks the opaque parts of a decoded snapshot.
func documentOf(in *model.Snapshot) (flowdoc.Doc, error) {
	var d flowdoc.Doc
	parts := [...]json.RawMessage{
		flowdoc.ExternalControllerServices: in.ExternalControllerServices,
		flowdoc.FlowContents:               in.FlowContents,
		flowdoc.FlowEncodingVersion:        nil,
		flowdoc.ParameterContexts:          in.ParameterContexts,
		flowdoc.ParameterProviders:         in.ParameterProviders,
	}
	if in.FlowEncodingVersion != nil {
		b, _ := json.Marshal(*in.FlowEncodingVersion)
		parts[flowdoc.FlowEncodingVersion] = b
	}
	for i, raw := range parts {
		c, err := flowdoc.Normalize(flowdoc.Part(i), raw)
		if err != nil {
			return d, model.Invalid("Cannot create versioned flow snapshot - " + err.Error())
		}
		d[i] = c
	}
	return d, nil
}

// snapshotOf assembles a full snapshot response: metadata with link, the
// flow (link, no permissions or revision) and the bucket (permissions and
// link, no revision), as NiFi's populateLinksAndPermissions leaves them.
func snapshotOf(b store.BucketRec, f store.FlowRec, v store.VersionRec, d flowdoc.Doc) *model.Snapshot {
	flow := flowBase(f, b.Name)
	flow.Link = flowLink(f.BucketID, f.ID)
	bucket := bucketBase(b)
	bucket.Permissions = model.AllPermissions()
	bucket.Link = bucketLink(b.ID)
	out := &model.Snapshot{Bucket: bucket, Flow: flow, SnapshotMetadata: metadata(v, b.ID, f.ID)}
	setDoc(out, d)
	return out
}

func setDoc(out *model.Snapshot, d flowdoc.Doc) {
	out.ExternalControllerServices = d[flowdoc.ExternalControllerServices]
	out.FlowContents = d[flowdoc.FlowContents]
	out.ParameterContexts = d[flowdoc.ParameterContexts]
	out.ParameterProviders = d[flowdoc.ParameterProviders]
	if raw := d[flowdoc.FlowEncodingVersion]; raw != nil {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			out.FlowEncodingVersion = &s
		}
	}
}

// loadVersion reads one version's record and document.
func loadVersion(tx *store.Tx, f store.FlowRec, n int32) (store.VersionRec, flowdoc.Doc, error) {
	return loadVersionInto(tx, f, n, nil)
}

// loadVersionInto is loadVersion decompressing into *scratch (see
// flowdoc.DecodeInto); nil allocates. With scratch, the document's parts
// may also alias the transaction's stored bytes: use them before it ends.
func loadVersionInto(tx *store.Tx, f store.FlowRec, n int32, scratch *[]byte) (store.VersionRec, flowdoc.Doc, error) {
	v, ok, err := tx.Version(f.ID, n)
	if err != nil {
		return v, flowdoc.Doc{}, err
	}
	if !ok {
		return v, flowdoc.Doc{}, model.NotFound(model.MsgSnapshotNotFound)
	}
	content := tx.Content
	if scratch != nil {
		// The caller renders within the transaction (VersionJSON): the
		// parts may alias the stored bytes, which stay valid until then.
		content = tx.ContentView
	}
	raw, ok := content(f.ID, n)
	if !ok {
		return v, flowdoc.Doc{}, model.Errorf(model.KindConflict, "No serialized content found for snapshot with flow identifier %s and version %d", f.ID, n)
	}
	if scratch == nil {
		d, err := flowdoc.Decode(raw)
		return v, d, err
	}
	d, buf, err := flowdoc.DecodeInto(*scratch, raw)
	*scratch = buf
	return v, d, err
}

// GetVersion returns version n of a flow addressed through its bucket.
// n == 0 means the latest version (404 when the flow has none).
func (s *Service) GetVersion(bucketID, flowID string, n int32) (*model.Snapshot, error) {
	var out *model.Snapshot
	err := s.read(func(tx *store.Tx) error {
		b, f, err := lookupFlow(tx, bucketID, flowID)
		if err != nil {
			return err
		}
		out, err = s.versionOf(tx, b, f, n, nil)
		return err
	})
	return out, err
}

// GetVersionByFlow is GetVersion addressed by flow id alone (/flows/...).
// NiFi looks up the latest version's metadata first on this path, hence
// its messages: an unknown flow "does not exist in this bucket" and a flow
// without versions "has no versions", whatever version was asked for.
func (s *Service) GetVersionByFlow(flowID string, n int32) (*model.Snapshot, error) {
	var out *model.Snapshot
	err := s.read(func(tx *store.Tx) error {
		var err error
		out, err = s.versionByFlowIn(tx, flowID, n, nil)
		return err
	})
	return out, err
}

func (s *Service) versionByFlowIn(tx *store.Tx, flowID string, n int32, scratch *[]byte) (*model.Snapshot, error) {
	b, f, err := lookupFlowByID(tx, flowID)
	if model.KindOf(err) == model.KindNotFound {
		return nil, model.NotFound(model.MsgFlowNotFoundInBucket)
	}
	if err != nil {
		return nil, err
	}
	if f.VersionCount == 0 {
		return nil, model.NotFound(model.MsgNoSnapshots)
	}
	return s.versionOf(tx, b, f, n, scratch)
}

// versionOf reads version n (0: the latest) of a flow; its opaque parts
// alias *scratch when scratch is given (see loadVersionInto).
func (s *Service) versionOf(tx *store.Tx, b store.BucketRec, f store.FlowRec, n int32, scratch *[]byte) (*model.Snapshot, error) {
	if n == 0 {
		if f.VersionCount == 0 {
			return nil, model.NotFound(model.MsgNoSnapshots)
		}
		n = int32(f.VersionCount)
	}
	v, d, err := loadVersionInto(tx, f, n, scratch)
	if err != nil {
		return nil, err
	}
	return snapshotOf(b, f, v, d), nil
}

// decodeScratch holds VersionJSON's decompression buffers, answerBufs the
// answers the render cache does not keep. A buffer larger than maxScratch
// is not kept.
var (
	decodeScratch = sync.Pool{New: func() any { return new([]byte) }}
	answerBufs    = sync.Pool{New: func() any { return new([]byte) }}
)

const maxScratch = 8 << 20

func putBuf(p *sync.Pool, b *[]byte) {
	if cap(*b) <= maxScratch {
		p.Put(b)
	}
}

func noRelease() {}

// VersionJSON is GetVersion rendered as the JSON answer, served from the
// render cache while the bucket and flow are unchanged. bucketID == ""
// addresses the flow by id alone (/flows/{id}/versions/...).
//
// The caller writes body, then calls release, and does not touch body
// after: an answer the cache does not keep (a cold read of a version read
// too rarely to displace what it holds) is rendered into a pooled buffer
// that release hands back, so random reads of old versions do not allocate
// and zero a document-sized buffer each.
func (s *Service) VersionJSON(bucketID, flowID string, n int32) (body []byte, release func(), err error) {
	release = noRelease
	err = s.read(func(tx *store.Tx) error {
		k := renderKey{bucketID: bucketID, flowID: flowID, version: n}
		if b, ok := s.cache.get(k, tx.RemovalEpoch(), tx.RawBucket, tx.RawFlow); ok {
			body = b
			return nil
		}
		// The document is decompressed into a pooled buffer: the answer
		// is a copy, and cold reads of large versions otherwise allocated
		// (and zeroed) one document-sized buffer per request.
		sp := decodeScratch.Get().(*[]byte)
		defer putBuf(&decodeScratch, sp)
		var snap *model.Snapshot
		var b store.BucketRec
		if bucketID == "" {
			var err error
			if snap, err = s.versionByFlowIn(tx, flowID, n, sp); err != nil {
				return err
			}
			b.ID = model.Deref(snap.Bucket.Identifier)
		} else {
			bk, f, err := lookupFlow(tx, bucketID, flowID)
			if err != nil {
				return err
			}
			if snap, err = s.versionOf(tx, bk, f, n, sp); err != nil {
				return err
			}
			b = bk
		}
		size := model.SnapshotSize(snap)
		// An answer the cache keeps is its own allocation; any other is
		// rendered into a pooled buffer that release hands back.
		keep := s.cache.wants(k, size)
		var ap *[]byte
		var buf []byte
		if keep {
			buf = make([]byte, 0, size)
		} else {
			ap = answerBufs.Get().(*[]byte)
			buf = (*ap)[:0]
		}
		out, err := model.AppendSnapshot(buf, snap)
		if err != nil {
			if ap != nil {
				putBuf(&answerBufs, ap)
			}
			return err
		}
		if keep {
			s.cache.put(k, tx.RemovalEpoch(), b.ID, tx.RawBucket(b.ID), tx.RawFlow(flowID), out)
		} else {
			*ap = out
			release = func() { putBuf(&answerBufs, ap) }
		}
		body = out
		return nil
	})
	return body, release, err
}

// LatestMetadata returns the metadata of a flow's latest version.
func (s *Service) LatestMetadata(bucketID, flowID string) (*model.SnapshotMetadata, error) {
	var out *model.SnapshotMetadata
	err := s.read(func(tx *store.Tx) error {
		var (
			b   store.BucketRec
			f   store.FlowRec
			err error
		)
		if bucketID == "" {
			b, f, err = lookupFlowByID(tx, flowID)
			if model.KindOf(err) == model.KindNotFound {
				err = model.NotFound(model.MsgFlowNotFoundInBucket)
			}
		} else {
			b, f, err = lookupFlow(tx, bucketID, flowID)
		}
		if err != nil {
			return err
		}
		if f.VersionCount == 0 {
			return model.NotFound(model.MsgNoSnapshots)
		}
		v, ok, err := tx.Version(f.ID, int32(f.VersionCount))
		if err != nil {
			return err
		}
		if !ok {
			return model.NotFound(model.MsgNoSnapshots)
		}
		out = metadata(v, b.ID, f.ID)
		return nil
	})
	return out, err
}

// ListVersions returns a flow's versions newest first. bucketID may be
// empty for /flows/{id}/versions.
func (s *Service) ListVersions(bucketID, flowID string) ([]*model.SnapshotMetadata, error) {
	out := []*model.SnapshotMetadata{}
	err := s.read(func(tx *store.Tx) error {
		var (
			b   store.BucketRec
			f   store.FlowRec
			err error
		)
		if bucketID == "" {
			b, f, err = lookupFlowByID(tx, flowID)
		} else {
			b, f, err = lookupFlow(tx, bucketID, flowID)
		}
		if err != nil {
			return err
		}
		vs, err := tx.Versions(f.ID)
		if err != nil {
			return err
		}
		for _, v := range vs {
			out = append(out, metadata(v, b.ID, f.ID))
		}
		return nil
	})
	return out, err
}

// Export returns version n for download and the file name NiFi gives it:
// no flow or bucket, and metadata without identifiers or link.
func (s *Service) Export(bucketID, flowID string, n int32) (*model.Snapshot, string, error) {
	snap, err := s.GetVersion(bucketID, flowID, n)
	if err != nil {
		return nil, "", err
	}
	filename := dashSpaces(model.Deref(snap.Flow.Name)) + "-version-" + strconv.Itoa(int(snap.SnapshotMetadata.Version)) + ".json"
	snap.Flow = nil
	snap.Bucket = nil
	snap.SnapshotMetadata.BucketIdentifier = nil
	snap.SnapshotMetadata.FlowIdentifier = nil
	snap.SnapshotMetadata.Link = nil
	return snap, filename, nil
}

// dashSpaces replaces every whitespace character with '-', like Java's
// replaceAll("\\s", "-") (which matches [ \t\n\x0B\f\r] only).
func dashSpaces(s string) string {
	b := []byte(s)
	for i, c := range b {
		if isJavaSpace(rune(c)) {
			b[i] = '-'
		}
	}
	return string(b)
}

func isJavaSpace(r rune) bool {
	switch r {
	case ' ', '\t', '\n', '\x0b', '\f', '\r':
		return true
	}
	return false
}
