package registry

import (
	"context"
	"hash/fnv"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/google/uuid"

	"github.com/weir-nifi/weir/internal/blobs"
	"github.com/weir-nifi/weir/internal/command"
	"github.com/weir-nifi/weir/internal/model"
	"github.com/weir-nifi/weir/internal/store"
)

// Proposer replicates a command and returns the state machine's result for
// it once applied on this node: a store result value, or the *model.Error
// the state machine refused it with. Ready waits until this node leads and
// has applied everything committed before its term, so state read next is
// not stale.
type Proposer interface {
	Propose(ctx context.Context, c command.Command) (any, error)
	Ready(ctx context.Context) error
}

// State is the local replicated state to read from.
type State interface {
	Read(fn func(*store.Tx) error) error
}

// Caller is who makes a request, after authentication and proxy handling.
type Caller struct {
	Identity  string
	Anonymous bool
	// Proxies are the identities the request came through on behalf of
	// the end user (NiFi nodes), in X-ProxiedEntitiesChain order.
	Proxies []string `json:",omitempty"`
	// Cluster is set when the caller proved the cluster key with the
	// admin token: another node or cluster of this deployment (a DR
	// standby following its primary) or an operator's script. It is
	// authorized for Weir's own operations (/weir-api), not as a user.
	Cluster bool `json:",omitempty"`
}

// ClusterIdentity names a Cluster caller in audit records.
const ClusterIdentity = "weir-cluster-key"

// Anonymous is the caller of every request while Weir runs unsecured.
var Anonymous = Caller{Identity: "anonymous", Anonymous: true}

// Options configure the service.
type Options struct {
	// Revisions turns on NiFi's optimistic locking
	// (nifi.registry.revisions.enabled). Off by default, as in NiFi.
	Revisions bool
	// Now and NewID are the clock and identifier source; tests pin them.
	Now   func() time.Time
	NewID func() string
	// TempDir is where uploaded bundles are spooled (the OS's temp
	// directory when empty; the daemon uses the data directory).
	TempDir string
	// RenderCacheBytes bounds the cache of rendered version answers
	// (0 = DefaultRenderCacheBytes, negative = off).
	RenderCacheBytes int
	// Contents keeps bundle content in files beside the log
	// (blobs.Replicator; docs/bundles-design.md). Without it, or in a
	// cluster below command level 12, content goes through the log.
	Contents Contents
}

// DefaultRenderCacheBytes holds a few hundred typical flow versions.
const DefaultRenderCacheBytes = 16 << 20

// Service implements the registry operations.
type Service struct {
	p     Proposer
	st    State
	opts  Options
	flows [256]sync.Mutex // striped per-flow locks for version numbering
	cache *renderCache

	// spool is where uploads are spooled when there is no content store.
	spoolOnce sync.Once
	spool     *blobs.Store
	spoolErr  error
}

// New builds a service.
func New(p Proposer, st State, opts Options) *Service {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.NewID == nil {
		opts.NewID = func() string { return uuid.NewString() }
	}
	if opts.RenderCacheBytes == 0 {
		opts.RenderCacheBytes = DefaultRenderCacheBytes
	}
	return &Service{p: p, st: st, opts: opts, cache: newRenderCache(opts.RenderCacheBytes)}
}

// RevisionsEnabled reports whether optimistic locking is on.
func (s *Service) RevisionsEnabled() bool { return s.opts.Revisions }

func (s *Service) now() int64 { return s.opts.Now().UnixMilli() }

func (s *Service) flowLock(flowID string) *sync.Mutex {
	h := fnv.New32a()
	h.Write([]byte(flowID))
	return &s.flows[h.Sum32()%uint32(len(s.flows))]
}

// Limits on client-supplied strings, from NiFi Registry's schema (IDs are
// VARCHAR(50), names VARCHAR(1000), authors VARCHAR(4096)).
const (
	maxIDLen     = 50
	maxNameLen   = 1000
	maxAuthorLen = 4096
)

func blank(p *string) bool { return p == nil || strings.TrimSpace(*p) == "" }

// checkID validates an identifier a client chose. Ids are path segments
// of the API, so besides NiFi's length limit they must be addressable: not
// blank, not "." or ".." (a path with them is cleaned to another
// resource), no "/" or "\\".
func checkID(what string, id string) error {
	if strings.TrimSpace(id) == "" {
		return model.Invalid(what + " identifier must not be blank")
	}
	if len(id) > maxIDLen {
		return model.Invalid(what + " identifier must be at most 50 characters")
	}
	if id == "." || id == ".." {
		return model.Invalid(what + " identifier must not be '.' or '..'")
	}
	for _, r := range id {
		if unicode.IsControl(r) {
			return model.Invalid(what + " identifier must not contain control characters")
		}
		if r == '/' || r == '\\' {
			return model.Invalid(what + " identifier must not contain '/' or '\\'")
		}
	}
	return nil
}

func checkName(what string, name *string) error {
	if name != nil && len(*name) > maxNameLen {
		return model.Invalid(what + " name must be at most 1000 characters")
	}
	return nil
}

// RevisionParam is the revision a caller sends with a DELETE
// (?version=&clientId=).
type RevisionParam struct {
	Version  *int64
	ClientID string
}

// claimFor validates a revision for an update or delete and turns it into a
// command claim; nil when revisions are off.
func (s *Service) claimFor(rev *model.RevisionInfo) (*command.Claim, error) {
	if !s.opts.Revisions {
		return nil, nil
	}
	if rev == nil || rev.Version == nil {
		return nil, model.Invalid("Revision info must be specified.")
	}
	return &command.Claim{Version: *rev.Version, ClientID: rev.ClientID}, nil
}

// createClaim validates the revision of a create: it must be 0.
func (s *Service) createClaim(rev *model.RevisionInfo, entityType string) (*command.Claim, error) {
	if !s.opts.Revisions {
		return nil, nil
	}
	if rev == nil || rev.Version == nil || *rev.Version != 0 {
		return nil, model.Invalid("A revision of 0 must be specified when creating a new " + entityType + ".")
	}
	return &command.Claim{Version: 0, ClientID: rev.ClientID}, nil
}

// propose sends a command and unwraps the result.
func propose[T any](ctx context.Context, s *Service, c command.Command) (T, error) {
	var zero T
	v, err := s.p.Propose(ctx, c)
	if err != nil {
		return zero, err
	}
	r, ok := v.(T)
	if !ok {
		return zero, model.Errorf(model.KindInternal, "unexpected result %T for %s", v, c.Type())
	}
	return r, nil
}

// read runs fn in a read transaction.
func (s *Service) read(fn func(*store.Tx) error) error { return s.st.Read(fn) }

// revisionInfo renders a stored revision for a response. With revisions
// off every revisable entity says {"version":0}.
func (s *Service) revisionInfo(tx *store.Tx, id string) (*model.RevisionInfo, error) {
	if !s.opts.Revisions {
		return model.ZeroRevision(), nil
	}
	r, err := tx.Revision(id)
	if err != nil {
		return nil, err
	}
	v := r.Version
	return &model.RevisionInfo{Version: &v, ClientID: r.ClientID}, nil
}

// writtenRevision renders the revision returned by a write: NiFi adds the
// last modifier there (and only there).
func (s *Service) writtenRevision(r *store.Revision, actor string) *model.RevisionInfo {
	if !s.opts.Revisions || r == nil {
		return model.ZeroRevision()
	}
	v := r.Version
	return &model.RevisionInfo{Version: &v, ClientID: r.ClientID, LastModifier: model.Str(actor)}
}
