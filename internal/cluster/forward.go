package cluster

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/raft"

	"github.com/weir-nifi/weir/internal/httpwire"
	"github.com/weir-nifi/weir/internal/model"
	"github.com/weir-nifi/weir/internal/store"
)

// HTTPLayer is what serving and forwarding requests needs from the HTTP
// layer above this package; the daemon hands it over, so that the cluster
// does not import the API.
type HTTPLayer struct {
	// Handler serves requests: those that reach this node, and the
	// writes followers forward to it while it leads.
	Handler http.Handler
	// Base is the path prefix of the API. Writes under it go to the
	// leader; those under Base+"/actuator/" are operations (maintenance,
	// backups), which background work (a backup) does not yield to: a
	// requested backup would otherwise yield to itself.
	Base string
	// MaxBody bounds a write's body, read whole before it is forwarded.
	MaxBody int64
	// Local reports a write that runs on the node it reaches: a bundle
	// upload is a stream the handler spools to disk and proposes from
	// there (ProposeAnywhere); reading it whole to forward it would hold
	// hundreds of MB in memory.
	Local func(*http.Request) bool
	// Caller encodes who makes a request, for the leader; WithCaller
	// attaches what Caller encoded to the forwarded request's context.
	Caller     func(*http.Request) string
	WithCaller func(ctx context.Context, caller string) (context.Context, error)
}

// isWrite says whether a request changes state and must run on the leader.
func (l *HTTPLayer) isWrite(r *http.Request) bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return false
	}
	return strings.HasPrefix(r.URL.Path, l.Base+"/")
}

func (l *HTTPLayer) isOperation(r *http.Request) bool {
	return strings.HasPrefix(r.URL.Path, l.Base+"/actuator/")
}

// ServeAPI returns the handler to mount at l.Base: it sends writes that
// reach a follower to the leader, as the original caller, and relays the
// leader's answer; in redirect mode it answers 307 with the leader's URL
// instead. Reads and writes on the leader pass through to l.Handler, which
// also serves the writes followers forward here.
func (n *Node) ServeAPI(l HTTPLayer) http.Handler {
	if l.Caller == nil || l.WithCaller == nil { // no callers: every one alike
		l.Caller = func(*http.Request) string { return "" }
		l.WithCaller = func(ctx context.Context, _ string) (context.Context, error) { return ctx, nil }
	}
	n.apiMu.Lock()
	n.layer = &l
	n.apiMu.Unlock()
	next := l.Handler
	fc := n.forwardClient()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if l.isWrite(r) && !l.isOperation(r) {
			// From the first byte of the body to the answer, not only
			// while Raft replicates it: backups yield to the whole
			// request (WritesInFlight).
			n.inflight.Add(1)
			defer n.inflight.Add(-1)
		}
		if !l.isWrite(r) || (l.Local != nil && l.Local(r)) {
			next.ServeHTTP(w, r)
			return
		}
		if n.cfg.WriteMode == WriteRedirect {
			if n.IsLeader() {
				next.ServeHTTP(w, r)
			} else {
				n.redirect(w, r)
			}
			return
		}
		body, err := httpwire.ReadBody(w, r, l.MaxBody)
		if err != nil {
			httpwire.WriteError(w, err)
			return
		}
		if n.IsLeader() {
			// Served here; if this node stops leading before the write is
			// appended, the answer says so (and that nothing was applied),
			// and the write goes on to the next leader instead of failing.
			httpwire.SetBody(r, body)
			c := &notLeader{ResponseWriter: w}
			next.ServeHTTP(c, r)
			if !c.caught {
				return
			}
		}
		n.forward(fc, w, r, body, next)
	})
}

// notLeader passes an answer through unless it is a 503 that says this
// node does not lead (model.HeaderNotLeader, only ever given with
// nothing applied); that one it keeps back, so the write can go to the
// next leader. Every other answer, refusals that say nothing was applied
// included (a DR standby's), is the client's: the handler ran once.
type notLeader struct {
	http.ResponseWriter
	caught, wrote bool
}

func (c *notLeader) WriteHeader(code int) {
	if !c.wrote && code == http.StatusServiceUnavailable && c.Header().Get(model.HeaderNotLeader) != "" {
		c.caught = true
		for k := range c.Header() {
			c.Header().Del(k)
		}
		return
	}
	c.wrote = true
	c.ResponseWriter.WriteHeader(code)
}

func (c *notLeader) Write(b []byte) (int, error) {
	if c.caught {
		return len(b), nil
	}
	c.wrote = true
	return c.ResponseWriter.Write(b)
}

func (c *notLeader) Unwrap() http.ResponseWriter { return c.ResponseWriter }

func (n *Node) forward(fc *http.Client, w http.ResponseWriter, r *http.Request, body []byte, local http.Handler) {
	deadline := time.Now().Add(n.cfg.LeaderWait)
	// wait pauses before the next attempt; false when the time is up
	// (answered: no leader) or the client has gone.
	wait := func() bool {
		if time.Now().After(deadline) {
			httpwire.WriteError(w, noLeader())
			return false
		}
		select {
		case <-r.Context().Done():
			return false
		case <-time.After(50 * time.Millisecond):
			return true
		}
	}
	for {
		if n.IsLeader() {
			// Leadership came to us while we waited, or this node still
			// leads while it hands leadership on (it refuses new writes
			// then, saying it does not lead and nothing was applied: wait
			// for the next leader).
			httpwire.SetBody(r, body)
			c := &notLeader{ResponseWriter: w}
			local.ServeHTTP(c, r)
			if !c.caught {
				return
			}
			if !wait() {
				return
			}
			continue
		}
		_, addr, err := n.leaderAddr(r.Context())
		if err != nil {
			if n.cfg.Disk != nil && n.cfg.Disk.Failed() {
				// A node whose disk fails cannot follow a new leader
				// (it cannot record the new term): say so, not "no leader".
				if _, derr := n.cfg.Disk.Admit(0); derr != nil {
					err = derr
				}
			}
			httpwire.WriteError(w, err)
			return
		}
		if addr == n.cfg.RaftAdvertise {
			addr = "" // stale news of our own leadership
		}
		if addr != "" {
			resp, err := n.sendForward(fc, r, addr, body)
			if err == nil && resp.Header.Get(model.HeaderNotLeader) != "" && time.Now().Before(deadline) {
				// It reached a node that no longer leads: certainly not
				// applied, so it may go to the next leader. Other
				// NotApplied refusals (a DR standby's) are the answer:
				// retrying them held the client for LeaderWait and then
				// told it "no leader".
				resp.Body.Close()
				err = &dialError{errors.New("not the leader any more")}
			}
			if err == nil {
				relay(w, resp)
				return
			}
			var de *dialError
			if !errors.As(err, &de) {
				// The leader may have applied the write before the
				// connection broke: only the client can decide to retry.
				httpwire.WriteError(w, model.Unavailable("The leader became unreachable while handling the write; it may or may not have been applied. Check and retry.", time.Second))
				return
			}
		}
		if !wait() {
			return
		}
	}
}

func (n *Node) sendForward(fc *http.Client, r *http.Request, addr string, body []byte) (*http.Response, error) {
	ctx, cancel := context.WithTimeout(r.Context(), 60*time.Second)
	u := "http://" + addr + rpcForward + r.URL.EscapedPath()
	if r.URL.RawQuery != "" {
		u += "?" + r.URL.RawQuery
	}
	req, err := http.NewRequestWithContext(ctx, r.Method, u, bytes.NewReader(body))
	if err != nil {
		cancel()
		return nil, err
	}
	for k, vs := range r.Header {
		if hopHeader(k) {
			continue
		}
		req.Header[k] = vs
	}
	n.apiMu.RLock()
	l := n.layer
	n.apiMu.RUnlock()
	req.Header.Set(hdrCaller, l.Caller(r))
	req.Header.Set(hdrForwardedHost, r.Host)
	if r.TLS != nil {
		req.Header.Set(hdrForwardedTLS, "1")
	}
	resp, err := fc.Do(req)
	if err != nil {
		cancel()
		return nil, err
	}
	resp.Body = &cancelBody{ReadCloser: resp.Body, cancel: cancel}
	return resp, nil
}

type cancelBody struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelBody) Close() error { err := b.ReadCloser.Close(); b.cancel(); return err }

// relay sends the leader's answer on. Its length goes with it, and if the
// answer breaks off the client's connection is broken too: a client must
// never take a cut body for a whole one (the leader's answer to a commit
// is the version it stored).
func relay(w http.ResponseWriter, resp *http.Response) {
	defer resp.Body.Close()
	for k, vs := range resp.Header {
		if hopHeader(k) {
			continue
		}
		w.Header()[k] = vs
	}
	if resp.ContentLength >= 0 {
		w.Header().Set("Content-Length", strconv.FormatInt(resp.ContentLength, 10))
	}
	w.WriteHeader(resp.StatusCode)
	if _, err := io.Copy(w, resp.Body); err != nil {
		panic(http.ErrAbortHandler)
	}
}

func hopHeader(k string) bool {
	switch http.CanonicalHeaderKey(k) {
	case "Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade", "Content-Length":
		return true
	}
	return false
}

// redirect answers a write with 307 to the leader's advertised URL.
func (n *Node) redirect(w http.ResponseWriter, r *http.Request) {
	id, _, err := n.leaderAddr(r.Context())
	if err != nil {
		httpwire.WriteError(w, err)
		return
	}
	rec, ok := n.nodeRec(id)
	if !ok || rec.APIURL == "" {
		httpwire.WriteError(w, model.Unavailable("The leader's address is not known yet. Retry shortly.", time.Second))
		return
	}
	loc := trimURL(rec.APIURL) + r.URL.EscapedPath()
	if r.URL.RawQuery != "" {
		loc += "?" + r.URL.RawQuery
	}
	w.Header().Set("Location", loc)
	w.Header().Set("Content-Type", "text/plain")
	w.WriteHeader(http.StatusTemporaryRedirect)
	_, _ = w.Write([]byte("Writes are handled by the cluster leader at " + trimURL(rec.APIURL)))
}

// WritesRefused implements api.Gate: while maintenance is on, every node
// refuses writes from its local replica of the switch.
func (n *Node) WritesRefused() error {
	var m store.Maintenance
	err := n.st.Read(func(tx *store.Tx) error {
		var err error
		m, err = tx.Maintenance()
		return err
	})
	if err != nil {
		return err
	}
	if m.On {
		return store.MaintenanceError(m)
	}
	return nil
}

// State returns the raft state name (Leader, Follower, Candidate, ...).
func (n *Node) State() raft.RaftState { return n.raft.State() }
