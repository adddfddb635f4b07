package api

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/weir-nifi/weir/internal/httpwire"
	"github.com/weir-nifi/weir/internal/jackson"
	"github.com/weir-nifi/weir/internal/model"
	"github.com/weir-nifi/weir/internal/registry"
)

// Base is the context path of the API.
const Base = "/nifi-registry-api"

// Version is what GET /about reports: the NiFi Registry version whose API
// Weir implements. nipyapi reads it to pick client behaviour.
const Version = "2.7.2"

// Registry is what the handlers need from the registry service.
type Registry interface {
	CreateBucket(ctx context.Context, c registry.Caller, in *model.Bucket, preserve bool) (*model.Bucket, error)
	GetBucket(id string) (*model.Bucket, error)
	ListBuckets() ([]*model.Bucket, error)
	UpdateBucket(ctx context.Context, c registry.Caller, id string, in *model.Bucket) (*model.Bucket, error)
	DeleteBucket(ctx context.Context, c registry.Caller, id string, rev registry.RevisionParam) (*model.Bucket, error)

	CreateFlow(ctx context.Context, c registry.Caller, bucketID string, in *model.VersionedFlow, preserve bool) (*model.VersionedFlow, error)
	GetFlow(bucketID, flowID string) (*model.VersionedFlow, error)
	GetFlowByID(flowID string) (*model.VersionedFlow, error)
	ListFlows(bucketID string) ([]*model.VersionedFlow, error)
	Items(bucketID string) ([]*model.VersionedFlow, error)
	UpdateFlow(ctx context.Context, c registry.Caller, bucketID, flowID string, in *model.VersionedFlow) (*model.VersionedFlow, error)
	DeleteFlow(ctx context.Context, c registry.Caller, bucketID, flowID string, rev registry.RevisionParam) (*model.VersionedFlow, error)

	CreateVersion(ctx context.Context, c registry.Caller, bucketID, flowID string, in *model.Snapshot, preserve bool) (*model.Snapshot, error)
	ImportVersion(ctx context.Context, c registry.Caller, bucketID, flowID string, in *model.Snapshot, comments string) (*model.Snapshot, error)
	GetVersion(bucketID, flowID string, n int32) (*model.Snapshot, error)
	GetVersionByFlow(flowID string, n int32) (*model.Snapshot, error)
	VersionJSON(bucketID, flowID string, n int32) (body []byte, release func(), err error)
	LatestMetadata(bucketID, flowID string) (*model.SnapshotMetadata, error)
	ListVersions(bucketID, flowID string) ([]*model.SnapshotMetadata, error)
	Export(bucketID, flowID string, n int32) (*model.Snapshot, string, error)
	Diff(bucketID, flowID string, a, b int32) (*model.FlowDifference, error)

	Bundles
}

// Freshness makes a read see every write acknowledged before it started
// (a linearizable read). Implemented by the cluster node.
type Freshness interface {
	ReadBarrier(ctx context.Context) error
}

// Gate refuses writes while the registry is read-only. It reads local
// replicated state, so every node answers 503 without asking the leader.
type Gate interface {
	WritesRefused() error
}

// Disk admits writes while the node's disk has room (package disk).
type Disk interface {
	Admit(bodyBytes int64) (release func(), err error)
}

// Options configure the API.
type Options struct {
	// MaxBody is the largest accepted request body in bytes.
	MaxBody int64
	// MaxBundle is the largest accepted bundle upload in bytes (its
	// body is spooled to disk, not held in memory).
	MaxBundle int64
	Log       *slog.Logger
	// Disk, when set, refuses writes the disk has no room for (507) or
	// cannot take (503).
	Disk Disk
}

// DefaultMaxBody admits the largest real flows (a few MB) with room to
// spare while bounding what one request can make a node buffer.
const DefaultMaxBody = 32 << 20

// DefaultMaxBundle admits NARs of a few hundred MB (NiFi's largest are
// around 300 MB).
const DefaultMaxBundle = 1 << 30

// API serves the NiFi Registry REST surface.
type API struct {
	reg     Registry
	bundles Bundles
	fresh   Freshness
	gate    Gate
	opts    Options
	mux     *http.ServeMux
}

// New builds the API handler.
func New(reg Registry, fresh Freshness, gate Gate, opts Options) *API {
	if opts.MaxBody <= 0 {
		opts.MaxBody = DefaultMaxBody
	}
	if opts.MaxBundle <= 0 {
		opts.MaxBundle = DefaultMaxBundle
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	a := &API{reg: reg, bundles: reg, fresh: fresh, gate: gate, opts: opts, mux: http.NewServeMux()}
	a.routes()
	return a
}

// Handle registers an extra handler on the API's mux (health, maintenance
// and other surfaces mounted under the context path).
func (a *API) Handle(pattern string, h http.Handler) { a.mux.Handle(pattern, h) }

// ServeHTTP routes a request. Unmatched paths get Jersey's texts.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h, pattern := a.mux.Handler(r)
	if pattern == "" {
		rec := &statusRecorder{header: http.Header{}}
		h.ServeHTTP(rec, r)
		if rec.status == http.StatusMethodNotAllowed {
			w.Header().Set("Allow", rec.header.Get("Allow"))
			httpwire.WriteText(w, http.StatusMethodNotAllowed, "HTTP 405 Method Not Allowed")
			return
		}
		httpwire.WriteText(w, http.StatusNotFound, "HTTP 404 Not Found")
		return
	}
	// ServeHTTP, not h: only the mux's own dispatch sets path values.
	a.mux.ServeHTTP(w, r)
}

type statusRecorder struct {
	header http.Header
	status int
}

func (s *statusRecorder) Header() http.Header         { return s.header }
func (s *statusRecorder) Write(b []byte) (int, error) { return len(b), nil }
func (s *statusRecorder) WriteHeader(code int)        { s.status = code }

// ---- plumbing shared by handlers

// handlerFunc is a handler that returns an error instead of writing one.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// read wraps a GET handler: it waits for freshness unless the caller asked
// for a stale read.
func (a *API) read(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a.fresh != nil && !StaleOK(r) {
			if err := a.fresh.ReadBarrier(r.Context()); err != nil {
				a.fail(w, r, err)
				return
			}
		}
		if err := h(w, r); err != nil {
			a.fail(w, r, err)
		}
	})
}

// write wraps a state-changing handler: refused fast while read-only.
func (a *API) write(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a.gate != nil {
			if err := a.gate.WritesRefused(); err != nil {
				a.fail(w, r, err)
				return
			}
		}
		if a.opts.Disk != nil {
			release, err := a.opts.Disk.Admit(max(r.ContentLength, 0))
			if err != nil {
				a.fail(w, r, err)
				return
			}
			defer release()
		}
		if err := h(w, r); err != nil {
			a.fail(w, r, err)
		}
	})
}

// StaleOK reports whether the caller accepts a local, possibly stale read:
// ?consistency=stale or the X-Weir-Consistency: stale header.
func StaleOK(r *http.Request) bool {
	if strings.EqualFold(r.URL.Query().Get("consistency"), "stale") {
		return true
	}
	return strings.EqualFold(r.Header.Get("X-Weir-Consistency"), "stale")
}

// fail writes err in NiFi's format: a text/plain message with the mapped
// status; unexpected errors are logged and hidden behind NiFi's message.
func (a *API) fail(w http.ResponseWriter, r *http.Request, err error) {
	var me *model.Error
	if !errors.As(err, &me) {
		if errors.Is(err, context.Canceled) {
			return
		}
		a.opts.Log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		httpwire.WriteError(w, err)
		return
	}
	if me.Kind == model.KindInternal {
		a.opts.Log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	httpwire.WriteError(w, me)
}

func writeSnapshot(w http.ResponseWriter, status int, s *model.Snapshot) error {
	b, err := model.AppendSnapshot(make([]byte, 0, len(s.FlowContents)+2048), s)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
	return nil
}

// body reads a request body up to the configured limit (413 above it).
func (a *API) body(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	buf, err := httpwire.ReadBody(w, r, a.opts.MaxBody)
	if err != nil {
		return nil, err
	}
	// Invalid UTF-8 would be stored as sent inside a flow document and
	// served back as invalid JSON, or silently replaced in names.
	if !utf8.Valid(buf) {
		return nil, model.Invalid("Unable to process request body: it is not valid UTF-8")
	}
	return buf, nil
}

// decodeSnapshotBody reads and decodes a snapshot body (nil when empty).
func (a *API) decodeSnapshotBody(w http.ResponseWriter, r *http.Request) (*model.Snapshot, error) {
	buf, err := a.body(w, r)
	if err != nil {
		return nil, err
	}
	return decodeSnapshot(buf)
}

// decode reads a JSON body into v. It returns (false, nil) for an empty
// body, so handlers can give NiFi's "cannot be null" messages.
func (a *API) decode(w http.ResponseWriter, r *http.Request, v any) (bool, error) {
	buf, err := a.body(w, r)
	if err != nil {
		return false, err
	}
	if len(bytes.TrimSpace(buf)) == 0 {
		return false, nil
	}
	// Jackson's coercions ("5" for a number, …): NiFi's mapper reads it so.
	if err := jackson.Unmarshal(buf, v); err != nil {
		return false, model.Invalid(describeJSONError(err))
	}
	return true, nil
}

func describeJSONError(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	var ee *jackson.EnumError
	switch {
	case errors.As(err, &ee):
		return ee.Error()
	case errors.As(err, &se):
		return "Unable to parse request body as JSON: " + se.Error() + " (at byte " + strconv.FormatInt(se.Offset, 10) + ")"
	case errors.As(err, &te):
		field := te.Field
		if field == "" {
			return "Unable to process request body: expected a JSON " + jsonKind(te.Type.Kind().String()) + ", got " + te.Value
		}
		return "Unable to process request body: field '" + field + "' must not be a JSON " + te.Value
	}
	return "Unable to process request body: " + err.Error()
}

func jsonKind(k string) string {
	switch k {
	case "struct", "map":
		return "object"
	case "slice":
		return "array"
	}
	return k
}

// callerOf returns who makes the request. Until security lands every
// request is the anonymous user with all permissions, as in an unsecured
// NiFi Registry; forwarded requests carry the original caller.
func callerOf(r *http.Request) registry.Caller {
	if c, ok := CallerFrom(r.Context()); ok {
		return c
	}
	return registry.Anonymous
}

type callerKey struct{}

// WithCaller attaches an authenticated caller to a request context (used by
// the cluster layer for forwarded requests).
func WithCaller(ctx context.Context, c registry.Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// EncodeCaller encodes who makes r (anonymous when no caller is
// attached), for a request forwarded to the leader (cluster.HTTPLayer).
func EncodeCaller(r *http.Request) string {
	c, ok := CallerFrom(r.Context())
	if !ok {
		c = registry.Anonymous // unsecured: every caller is anonymous
	}
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

// WithEncodedCaller attaches to ctx the caller EncodeCaller encoded
// (anonymous for "").
func WithEncodedCaller(ctx context.Context, s string) (context.Context, error) {
	c := registry.Anonymous
	if s != "" {
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil {
			return nil, err
		}
		c = registry.Caller{}
		if err := json.Unmarshal(b, &c); err != nil {
			return nil, err
		}
	}
	return WithCaller(ctx, c), nil
}

// CallerFrom returns the caller attached by WithCaller.
func CallerFrom(ctx context.Context) (registry.Caller, bool) {
	c, ok := ctx.Value(callerKey{}).(registry.Caller)
	return c, ok
}

// boolParam parses a boolean query parameter the way JAX-RS does: "true"
// in any case is true, everything else false.
func boolParam(r *http.Request, name string) bool {
	return strings.EqualFold(r.URL.Query().Get(name), "true")
}

// versionParam parses a {n} path segment. JAX-RS only matches \d+ there
// and answers 404 when the number does not fit an int.
func versionParam(r *http.Request, name string) (int32, error) {
	s := r.PathValue(name)
	if s == "" {
		return 0, model.NotFound("HTTP 404 Not Found")
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, model.NotFound("HTTP 404 Not Found")
		}
	}
	n, err := strconv.ParseInt(s, 10, 32)
	if err != nil {
		return 0, model.NotFound("HTTP 404 Not Found")
	}
	if n == 0 {
		// The registry reads 0 as "latest"; version 0 never exists, so
		// ask for one that cannot: the bucket and flow are still looked
		// up first, and the answer is NiFi's 404 for a missing version.
		return noVersion, nil
	}
	return int32(n), nil
}

// noVersion is a version number no flow has.
const noVersion int32 = -1

// revisionParams reads ?version=&clientId= of a DELETE.
func revisionParams(r *http.Request) (registry.RevisionParam, error) {
	var p registry.RevisionParam
	q := r.URL.Query()
	if v := q.Get("version"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return p, model.Invalid("Invalid value for version")
		}
		p.Version = &n
	}
	p.ClientID = strings.TrimSpace(q.Get("clientId"))
	return p, nil
}
