package authz

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"sync"

	"github.com/weir-nifi/weir/internal/api"
	"github.com/weir-nifi/weir/internal/httpwire"
	"github.com/weir-nifi/weir/internal/model"
)

// Options connect the middleware to the node.
type Options struct {
	// View runs fn with the current policies and the records a decision
	// looks up, all read in one transaction of the store (one commit's
	// state, and one read where three used to cost a tenth of the
	// authorization's CPU). It waits for the node to be current first.
	View func(r *http.Request, fn func(PolicySource, Records) error) error
}

// Records are the registry records authorization looks up.
type Records interface {
	// Bucket reports whether a bucket exists and is publicly readable.
	Bucket(id string) (public, exists bool)
	// FlowBucket finds the bucket of a flow.
	FlowBucket(flowID string) (string, bool)
	// BundleBucket finds the bucket of an extension bundle.
	BundleBucket(bundleID string) (string, bool)
}

// allPermissions is how Weir's answers render permissions before this
// middleware sets the caller's (model.AllPermissions, marshalled).
var allPermissions = []byte(`"permissions":{"canDelete":true,"canRead":true,"canWrite":true}`)

// Middleware authorizes every request it passes to next, which must be
// the handler that executes it (on a follower, writes are forwarded first
// and authorized by the leader, whose policies are current; reads load
// policies through Options.View, which waits for the node to be current).
func Middleware(o Options, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t := TargetOf(r.Method, r.URL.Path)
		if t.Kind == Open {
			next.ServeHTTP(w, r)
			return
		}
		c := callerOf(r)
		if c.Cluster && t.Resource == Actuator {
			// The cluster key holds every Weir operation already (it
			// can join a node and read the whole log): no policy adds
			// to or takes from that. The proof itself is checked by
			// package adminauth for the operations that need it.
			next.ServeHTTP(w, r)
			return
		}
		var (
			p       PolicySource
			missing bool  // the handler answers 404
			denied  error // Authorize's refusal
			perms   model.Permissions
		)
		err := o.View(r, func(ps PolicySource, rec Records) error {
			p = ps
			switch t.Kind {
			case Access, Config, ListBuckets, ListItems, ReadableBuckets:
				return nil
			}
			// A bundle or flow is governed by its bucket's policies.
			for _, in := range []struct {
				id     string
				bucket func(string) (string, bool)
			}{{t.Bundle, rec.BundleBucket}, {t.Flow, rec.FlowBucket}} {
				if in.id == "" {
					continue
				}
				b, ok := in.bucket(in.id)
				if !ok {
					missing = true
					return nil
				}
				t.Bucket, t.Resource = b, BucketResource(b)
			}
			public := false
			if t.Bucket != "" {
				var exists bool
				public, exists = rec.Bucket(t.Bucket)
				if !exists {
					missing = true // as NiFi looks the bucket up first
					return nil
				}
			}
			if denied = Authorize(p, c, t.Resource, t.Action, public); denied == nil {
				perms = Permissions(p, c, t.Resource, public)
			}
			return nil
		})
		if err != nil {
			httpwire.WriteError(w, err)
			return
		}
		switch t.Kind {
		case Access:
			writeJSON(w, currentUser(p, c))
			return
		case Config:
			if !Allowed(p, c.Identity, Policies, Read) && !Allowed(p, c.Identity, Tenants, Read) || c.Anonymous {
				httpwire.WriteError(w, Denied(c, Policies, Read))
				return
			}
			next.ServeHTTP(w, r)
			return
		case ListBuckets, ListItems:
			filterList(w, r, next, o, func(rec Records, bucket string) (bool, model.Permissions) {
				perms := Permissions(p, c, BucketResource(bucket), bucketPublic(rec, bucket))
				return perms.CanRead, perms
			}, t.Kind == ListItems)
			return
		case ReadableBuckets:
			readable := func(bucket string) error {
				public := false
				if err := o.View(r, func(_ PolicySource, rec Records) error {
					public = bucketPublic(rec, bucket)
					return nil
				}); err != nil {
					return err
				}
				return Authorize(p, c, BucketResource(bucket), Read, public)
			}
			next.ServeHTTP(w, r.WithContext(api.WithBucketFilter(r.Context(), readable)))
			return
		}
		switch {
		case missing:
			next.ServeHTTP(w, r)
		case denied != nil:
			httpwire.WriteError(w, denied)
		case t.Bucket == "" || perms == *model.AllPermissions():
			// The answer already says so (or has no permissions):
			// send it as it is written, without holding a copy.
			next.ServeHTTP(w, r)
		default:
			rewrite(w, r, next, func(body []byte) []byte {
				if !bytes.Contains(body, allPermissions) {
					return body // nothing to change
				}
				return bytes.ReplaceAll(body, allPermissions, permissionsJSON(perms))
			})
		}
	})
}

// bucketPublic reports whether a bucket allows public reads (false for one
// that does not exist).
func bucketPublic(rec Records, bucket string) bool {
	public, _ := rec.Bucket(bucket)
	return public
}

func callerOf(r *http.Request) Caller {
	rc, ok := api.CallerFrom(r.Context())
	if !ok {
		return Caller{Identity: "anonymous", Anonymous: true}
	}
	return Caller{Identity: rc.Identity, Anonymous: rc.Anonymous, Proxies: rc.Proxies, Cluster: rc.Cluster}
}

func permissionsJSON(p model.Permissions) []byte {
	return []byte(`"permissions":{"canDelete":` + strconv.FormatBool(p.CanDelete) + `,"canRead":` + strconv.FormatBool(p.CanRead) + `,"canWrite":` + strconv.FormatBool(p.CanWrite) + `}`)
}

func currentUser(p PolicySource, c Caller) model.CurrentUser {
	perm := func(resource string) *model.Permissions {
		pm := Permissions(p, c, resource, false)
		return &pm
	}
	rp := &model.ResourcePermissions{Buckets: perm(Buckets), Tenants: perm(Tenants), Policies: perm(Policies), Proxy: perm(Proxy)}
	any := model.Permissions{}
	for _, r := range TopLevel {
		pm := Permissions(p, c, r, false)
		any.CanRead = any.CanRead || pm.CanRead
		any.CanWrite = any.CanWrite || pm.CanWrite
		any.CanDelete = any.CanDelete || pm.CanDelete
	}
	rp.AnyTopLevelResource = &any
	return model.CurrentUser{Identity: c.Identity, Anonymous: c.Anonymous, ResourcePermissions: rp}
}

func writeJSON(w http.ResponseWriter, v any) {
	b, err := model.Marshal(v)
	if err != nil {
		httpwire.WriteError(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

// recorder holds an answer so it can be rewritten before it is sent.
type recorder struct {
	h      http.Header
	status int
	body   *bytes.Buffer
}

func (rec *recorder) Header() http.Header         { return rec.h }
func (rec *recorder) WriteHeader(status int)      { rec.status = status }
func (rec *recorder) Write(p []byte) (int, error) { return rec.body.Write(p) }

// buffers hold answers being rewritten (a flow version is tens of KB;
// growing a fresh buffer for each showed in profiles).
var buffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// rewrite runs next into a buffer and sends its answer with a JSON body
// passed through fn (other answers unchanged).
func rewrite(w http.ResponseWriter, r *http.Request, next http.Handler, fn func([]byte) []byte) {
	rec := &recorder{h: w.Header(), status: http.StatusOK}
	buf := buffers.Get().(*bytes.Buffer)
	buf.Reset()
	rec.body = buf
	defer func() {
		if buf.Cap() <= 4<<20 {
			buffers.Put(buf)
		}
	}()
	next.ServeHTTP(rec, r)
	body := rec.body.Bytes()
	if ct := rec.h.Get("Content-Type"); len(body) > 0 && (ct == "application/json" || bytes.HasPrefix([]byte(ct), []byte("application/json;"))) {
		body = fn(body)
		rec.h.Set("Content-Length", strconv.Itoa(len(body)))
	}
	w.WriteHeader(rec.status)
	_, _ = w.Write(body)
}

// filterList keeps the entries of a bucket or item list the caller may
// read, each with the caller's permissions, in their order and with their
// bytes otherwise untouched (Weir renders fields in Jackson's order).
func filterList(w http.ResponseWriter, r *http.Request, next http.Handler, o Options, can func(rec Records, bucket string) (bool, model.Permissions), items bool) {
	rewrite(w, r, next, func(body []byte) []byte {
		var entries []json.RawMessage
		if json.Unmarshal(body, &entries) != nil {
			return body
		}
		out := []byte{'['}
		n := 0
		err := o.View(r, func(_ PolicySource, rec Records) error {
			for _, e := range entries {
				var ids struct {
					Identifier       string `json:"identifier"`
					BucketIdentifier string `json:"bucketIdentifier"`
				}
				if json.Unmarshal(e, &ids) != nil {
					continue
				}
				bucket := ids.Identifier
				if items {
					bucket = ids.BucketIdentifier
				}
				ok, perms := can(rec, bucket)
				if !ok {
					continue
				}
				if n > 0 {
					out = append(out, ',')
				}
				out = append(out, bytes.ReplaceAll(e, allPermissions, permissionsJSON(perms))...)
				n++
			}
			return nil
		})
		if err != nil {
			return []byte("[]") // fail closed: nothing the caller may not see
		}
		return append(out, ']')
	})
}
