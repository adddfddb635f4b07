package blobs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/weir-nifi/weir/internal/model"
)

// Cluster is what replication needs of the cluster (*cluster.Node).
type Cluster interface {
	ID() string
	// HandlePeer serves h to the other nodes under name.
	HandlePeer(name string, h http.Handler)
	// PeerClient reaches handlers of other nodes at the URLs url makes.
	PeerClient() *http.Client
	// Voters lists the other voters' Raft addresses and whether this
	// node votes.
	Voters() (self bool, others []string)
	// Members maps every member's id to its Raft address.
	Members() map[string]string
}

// Source is somewhere else content can be fetched from (a DR standby's
// primary): it opens the bytes of sha, or answers fs.ErrNotExist.
type Source func(ctx context.Context, sha string) (io.ReadCloser, error)

// Replicator sends a store's files to the other voters and fetches the
// files a node lacks, over the cluster port.
type Replicator struct {
	st   *Store
	c    Cluster
	url  func(addr, name, path string) string
	name string
	log  *slog.Logger

	// extra is tried after the cluster's members.
	extra Source
	// pushTimeout bounds a push to one voter; it goes on in the
	// background after Replicate returned with a quorum.
	pushTimeout time.Duration

	mu sync.Mutex
	// inflight counts the pushes under way to each voter: a voter that
	// stopped answering (SIGSTOP, a dead link) would otherwise collect a
	// goroutine, a file and a connection per file sent, at relay rates
	// thousands. Past maxInflight it is skipped: it fetches what it
	// missed when it is back.
	inflight map[string]int
	// warned is when a failed push to each voter was last logged.
	warned map[string]time.Time
}

// maxInflight bounds the pushes under way to one voter.
const maxInflight = 16

// errBusy is a push not started: the voter has maxInflight under way.
var errBusy = errors.New("too many pushes to this voter under way")

// NewReplicator serves st to the cluster's other nodes under name and
// returns what replicates to and fetches from them. url is
// cluster.PeerURL.
func NewReplicator(st *Store, c Cluster, name string, url func(addr, name, path string) string, log *slog.Logger) *Replicator {
	r := &Replicator{st: st, c: c, url: url, name: name, log: log, pushTimeout: 10 * time.Minute,
		inflight: map[string]int{}, warned: map[string]time.Time{}}
	c.HandlePeer(name, r)
	return r
}

// SetSource adds a source tried when no member has a file.
func (r *Replicator) SetSource(s Source) { r.extra = s }

// Store is the store replicated.
func (r *Replicator) Store() *Store { return r.st }

// ServeHTTP answers the other nodes: PUT /{sha} stores the body (its
// Content-Length is the size), GET /{sha} sends the file.
func (r *Replicator) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	sha := strings.TrimPrefix(req.URL.Path, "/")
	if !ValidSHA(sha) {
		http.Error(w, "not a SHA-256", http.StatusBadRequest)
		return
	}
	switch req.Method {
	case http.MethodPut:
		if req.ContentLength < 0 {
			http.Error(w, "Content-Length required", http.StatusLengthRequired)
			return
		}
		err := r.st.Put(sha, req.ContentLength, req.Body)
		switch {
		case errors.Is(err, ErrMismatch):
			http.Error(w, err.Error(), http.StatusBadRequest)
		case err != nil:
			http.Error(w, err.Error(), http.StatusInternalServerError)
		default:
			w.WriteHeader(http.StatusNoContent)
		}
	case http.MethodGet:
		f, err := r.st.Open(sha)
		if err != nil {
			http.Error(w, "no such content here", http.StatusNotFound)
			return
		}
		defer f.Close()
		st, err := f.Stat()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Length", strconv.FormatInt(st.Size(), 10))
		_, _ = io.Copy(w, f)
	default:
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

// Replicate sends the store's file for sha (size bytes) to the other
// voters and returns once a majority of the voters, this node included
// when it votes, hold it durably. The pushes not needed for the majority
// go on in the background.
func (r *Replicator) Replicate(ctx context.Context, sha string, size int64) error {
	if !r.st.Has(sha, size) {
		return fmt.Errorf("blobs: %s is not stored here", sha)
	}
	return r.replicate(ctx, sha, size, func() (io.ReadCloser, error) { return r.st.Open(sha) })
}

// ReplicateBytes is Replicate for a file whose bytes, the concatenation
// of parts, are in memory: they are sent from there, so the caller may
// write its own copy meanwhile (this node counts toward the majority only
// once the caller has it; see Replicate). The caller must not change
// parts afterwards: pushes beyond the majority still read them.
func (r *Replicator) ReplicateBytes(ctx context.Context, sha string, parts ...[]byte) error {
	var size int64
	for _, p := range parts {
		size += int64(len(p))
	}
	return r.replicate(ctx, sha, size, func() (io.ReadCloser, error) {
		rs := make([]io.Reader, len(parts))
		for i, p := range parts {
			rs[i] = bytes.NewReader(p)
		}
		return io.NopCloser(io.MultiReader(rs...)), nil
	})
}

func (r *Replicator) replicate(ctx context.Context, sha string, size int64, body func() (io.ReadCloser, error)) error {
	self, others := r.c.Voters()
	voters := len(others)
	if self {
		voters++
	}
	need := voters/2 + 1
	if self {
		need--
	}
	if need <= 0 {
		return nil
	}
	if len(others) < need {
		// No configuration read (or too few voters): nothing to wait for.
		return model.Unavailable(fmt.Sprintf("The content needs %d more voters and the cluster knows %d; it was not stored. Retry.", need, len(others)), time.Second)
	}
	results := make(chan error, len(others))
	for _, addr := range others {
		if !r.begin(addr) {
			results <- errBusy
			continue
		}
		go func() {
			defer r.end(addr)
			// Detached from the caller: a push beyond the majority is
			// still worth finishing.
			pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.pushTimeout)
			defer cancel()
			err := r.push(pctx, addr, sha, size, body)
			if err != nil {
				r.warn(addr, sha, err)
			}
			results <- err
		}()
	}
	ok, failed := 0, 0
	var last error
	for ok < need {
		select {
		case err := <-results:
			if err == nil {
				ok++
				continue
			}
			failed++
			last = err
			if len(others)-failed < need {
				return model.Unavailable(fmt.Sprintf("The content reached %d of the %d voters it needs (%v); it was not stored. Retry.", ok, need, last), time.Second)
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

func (r *Replicator) begin(addr string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.inflight[addr] >= maxInflight {
		return false
	}
	r.inflight[addr]++
	return true
}

func (r *Replicator) end(addr string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.inflight[addr]--; r.inflight[addr] <= 0 {
		delete(r.inflight, addr)
	}
}

// warn logs a failed push, once per voter every 10 seconds: a voter
// that is down fails every push.
func (r *Replicator) warn(addr, sha string, err error) {
	r.mu.Lock()
	now := time.Now()
	quiet := now.Sub(r.warned[addr]) < 10*time.Second
	if !quiet {
		r.warned[addr] = now
	}
	r.mu.Unlock()
	if !quiet {
		r.log.Warn("content not sent to a voter (it fetches what it lacks when back; repeats are not logged for 10 s)", "sha256", sha, "to", addr, "err", err)
	}
}

func (r *Replicator) push(ctx context.Context, addr, sha string, size int64, body func() (io.ReadCloser, error)) error {
	f, err := body()
	if err != nil {
		return err
	}
	defer f.Close()
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, r.url(addr, r.name, sha), f)
	if err != nil {
		return err
	}
	req.ContentLength = size
	resp, err := r.c.PeerClient().Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
		return fmt.Errorf("%s answered %d: %s", addr, resp.StatusCode, strings.TrimSpace(string(b)))
	}
	return nil
}

// Fetch gets the file for sha (size bytes) from a member that has it (or
// the extra source), verified, unless this node has it already.
func (r *Replicator) Fetch(ctx context.Context, sha string, size int64) error {
	if r.st.Has(sha, size) {
		return nil
	}
	var errs []error
	for id, addr := range r.c.Members() {
		if id == r.c.ID() {
			continue
		}
		err := r.fetchFrom(ctx, sha, size, func(ctx context.Context) (io.ReadCloser, error) {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.url(addr, r.name, sha), nil)
			if err != nil {
				return nil, err
			}
			resp, err := r.c.PeerClient().Do(req)
			if err != nil {
				return nil, err
			}
			if resp.StatusCode != http.StatusOK {
				resp.Body.Close()
				if resp.StatusCode == http.StatusNotFound {
					return nil, fs.ErrNotExist
				}
				return nil, fmt.Errorf("%s answered %d", addr, resp.StatusCode)
			}
			return resp.Body, nil
		})
		if err == nil {
			return nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", id, err))
	}
	if r.extra != nil {
		err := r.fetchFrom(ctx, sha, size, func(ctx context.Context) (io.ReadCloser, error) { return r.extra(ctx, sha) })
		if err == nil {
			return nil
		}
		errs = append(errs, err)
	}
	return fmt.Errorf("blobs: no source had %s: %w", sha, errors.Join(errs...))
}

// Open opens the file for sha (size bytes), fetching it first when this
// node lacks it (a node that was down or joined since it was written).
func (r *Replicator) Open(ctx context.Context, sha string, size int64) (*os.File, error) {
	if err := r.Fetch(ctx, sha, size); err != nil {
		return nil, err
	}
	return r.st.Open(sha)
}

func (r *Replicator) fetchFrom(ctx context.Context, sha string, size int64, open func(context.Context) (io.ReadCloser, error)) error {
	ctx, cancel := context.WithTimeout(ctx, r.pushTimeout)
	defer cancel()
	body, err := open(ctx)
	if err != nil {
		return err
	}
	defer body.Close()
	return r.st.Put(sha, size, body)
}
