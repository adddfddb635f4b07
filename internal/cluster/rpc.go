package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/hashicorp/raft"

	"github.com/weir-nifi/weir/internal/command"
	"github.com/weir-nifi/weir/internal/httpwire"
	"github.com/weir-nifi/weir/internal/model"
)

// The internal RPC is plain HTTP/1.1 carried on authenticated cluster
// streams: anyone who reaches these handlers proved the cluster key, so
// headers such as the forwarded caller are trusted here and nowhere else.
const (
	rpcReadIndex = "/rpc/readindex"
	rpcForward   = "/rpc/forward"
	rpcJoin      = "/rpc/join"
	rpcRegister  = "/rpc/register"
	rpcRemove    = "/rpc/remove"
	rpcTransfer  = "/rpc/transfer"
	rpcLocal     = "/rpc/local"

	hdrCaller        = "X-Weir-Caller"
	hdrForwardedHost = "X-Weir-Forwarded-Host"
	hdrForwardedTLS  = "X-Weir-Forwarded-Tls"
)

// newPeerClient returns a client whose connections are authenticated
// cluster streams to the host in the URL (a raft address).
func (n *Node) newPeerClient() *http.Client {
	dial := func(ctx context.Context, _, addr string) (net.Conn, error) {
		timeout := 2 * time.Second
		if dl, ok := ctx.Deadline(); ok {
			timeout = time.Until(dl)
		}
		return n.cfg.Auth.dial(addr, streamRPC, timeout)
	}
	return &http.Client{Transport: &http.Transport{
		DialContext:         dial,
		MaxIdleConnsPerHost: 4,
		IdleConnTimeout:     30 * time.Second,
	}}
}

// forwardClient opens a fresh stream per forwarded write, so a dial error
// proves the write was not sent and may go to the next leader, while any
// later error means the outcome is unknown.
func (n *Node) forwardClient() *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
			c, err := n.cfg.Auth.dial(addr, streamRPC, 2*time.Second)
			if err != nil {
				return nil, &dialError{err}
			}
			return c, nil
		},
		DisableKeepAlives: true,
	}}
}

type dialError struct{ error }

func (e *dialError) Unwrap() error { return e.error }

func (n *Node) startRPC() {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+rpcReadIndex, n.handleReadIndex)
	mux.HandleFunc(rpcForward+"/", n.handleForwarded)
	mux.HandleFunc("POST "+rpcPropose, n.handlePropose)
	mux.HandleFunc("POST "+rpcCall+"{name}", n.handleCall)
	mux.HandleFunc(rpcPeer+"{name}/", n.handlePeer)
	mux.HandleFunc("POST "+rpcJoin, n.leaderOnly(func(r *http.Request) (any, error) {
		var req JoinRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			return nil, model.Invalid(err.Error())
		}
		return nil, n.join(req)
	}))
	mux.HandleFunc("POST "+rpcRegister, n.leaderOnly(func(r *http.Request) (any, error) {
		var c command.SetNode
		if err := json.NewDecoder(r.Body).Decode(&c); err != nil {
			return nil, model.Invalid(err.Error())
		}
		c.At = time.Now().UnixMilli()
		_, err := n.Propose(r.Context(), &c)
		return nil, err
	}))
	mux.HandleFunc("POST "+rpcRemove, n.leaderOnly(func(r *http.Request) (any, error) {
		var req RemoveRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			return nil, model.Invalid(err.Error())
		}
		return nil, n.remove(r.Context(), req)
	}))
	mux.HandleFunc("POST "+rpcTransfer, n.leaderOnly(func(r *http.Request) (any, error) {
		var req TransferRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			return nil, model.Invalid(err.Error())
		}
		return nil, n.TransferLeadership(req.ID)
	}))
	mux.HandleFunc("GET "+rpcLocal, func(w http.ResponseWriter, r *http.Request) {
		_ = httpwire.WriteJSON(w, 200, n.LocalStatus())
	})
	n.rpc = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = n.rpc.Serve(n.mux.Listen(streamRPC)) }()
}

// leaderOnly runs fn on the leader and answers its result as JSON.
func (n *Node) leaderOnly(fn func(*http.Request) (any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if n.raft.State() != raft.Leader {
			httpwire.WriteError(w, ErrNotLeader)
			return
		}
		v, err := fn(r)
		if err != nil {
			httpwire.WriteError(w, err)
			return
		}
		if v == nil {
			v = struct{}{}
		}
		_ = httpwire.WriteJSON(w, 200, v)
	}
}

func (n *Node) handleReadIndex(w http.ResponseWriter, r *http.Request) {
	if err := n.waitReady(r.Context()); err != nil {
		if errors.Is(err, errNotLeader) {
			err = ErrNotLeader
		}
		httpwire.WriteError(w, err)
		return
	}
	idx, err := n.reads.wait(r.Context())
	if err != nil {
		httpwire.WriteError(w, ErrNotLeader)
		return
	}
	_ = httpwire.WriteJSON(w, 200, map[string]uint64{"index": idx})
}

// handleForwarded serves a write a follower forwarded, as the original
// caller, through the same API handler clients reach directly.
func (n *Node) handleForwarded(w http.ResponseWriter, r *http.Request) {
	// Read the whole body before answering anything. A refusal sent with
	// part of the body unread (413, 404, 409, maintenance, not ready)
	// makes the server close the connection with unread data; the kernel
	// then resets it, and the follower can lose the answer and tell its
	// client the write "may or may not have been applied". The follower
	// already bounded and buffered the body.
	body, err := io.ReadAll(r.Body)
	if err != nil {
		httpwire.WriteError(w, model.Unavailable("The forwarded request body did not arrive whole; it was not applied. Retry.", time.Second))
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	n.apiMu.RLock()
	l := n.layer
	n.apiMu.RUnlock()
	if l == nil {
		httpwire.WriteError(w, model.Unavailable("This node is starting.", time.Second))
		return
	}
	// Forwarded writes run here only once this node is a ready leader,
	// like writes that reach it directly.
	if err := n.Ready(r.Context()); err != nil {
		httpwire.WriteError(w, err)
		return
	}
	ctx, err := l.WithCaller(r.Context(), r.Header.Get(hdrCaller))
	if err != nil {
		httpwire.WriteError(w, model.Invalid("bad forwarded caller"))
		return
	}
	r2 := r.Clone(ctx)
	r2.URL.Path = strings.TrimPrefix(r.URL.Path, rpcForward)
	r2.URL.RawPath = ""
	r2.RequestURI = ""
	if host := r.Header.Get(hdrForwardedHost); host != "" {
		r2.Host = host
	}
	if r.Header.Get(hdrForwardedTLS) == "1" {
		r2.Header.Set("X-Forwarded-Proto", "https")
	} else {
		r2.Header.Set("X-Forwarded-Proto", "http")
	}
	for _, k := range []string{hdrCaller, hdrForwardedHost, hdrForwardedTLS} {
		r2.Header.Del(k)
	}
	l.Handler.ServeHTTP(w, r2)
}

// leaderAddr waits up to LeaderWait for a known leader other than ourselves
// being a follower, returning its raft address.
func (n *Node) leaderAddr(ctx context.Context) (id, addr string, err error) {
	deadline := time.Now().Add(n.cfg.LeaderWait)
	for {
		if !n.iso.Until().IsZero() {
			// Cut off by a drill: no leader can be reached, and a
			// request waiting here would only hold its client up.
			return "", "", errIsolated
		}
		id, addr = n.Leader()
		if addr != "" {
			return id, addr, nil
		}
		if time.Now().After(deadline) {
			return "", "", noLeader()
		}
		select {
		case <-ctx.Done():
			return "", "", ctx.Err()
		case <-n.stopCh:
			return "", "", model.Unavailable("This node is shutting down.", time.Second)
		case <-time.After(25 * time.Millisecond):
		}
	}
}

func (n *Node) remoteReadIndex(ctx context.Context) (uint64, error) {
	var out struct {
		Index uint64 `json:"index"`
	}
	err := n.leaderCall(ctx, http.MethodGet, rpcReadIndex, nil, &out)
	return out.Index, err
}

// leaderCall sends an internal request to the leader, retrying while no
// leader is known or the one we knew has stepped down.
func (n *Node) leaderCall(ctx context.Context, method, path string, body any, out any) error {
	var payload []byte
	if body != nil {
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return err
		}
	}
	deadline := time.Now().Add(n.cfg.LeaderWait)
	for {
		_, addr, err := n.leaderAddr(ctx)
		if err != nil {
			return err
		}
		if addr == n.cfg.RaftAdvertise && n.raft.State() != raft.Leader {
			// We were leader a moment ago; wait for the news.
			addr = ""
		}
		if addr != "" {
			err = n.peerCall(ctx, addr, method, path, payload, out)
			if err == nil {
				return nil
			}
			var me *model.Error
			if errors.As(err, &me) && me.Kind != model.KindUnavailable {
				return err
			}
		}
		if time.Now().After(deadline) {
			if err == nil {
				err = noLeader()
			}
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// peerCall performs one internal request; errors the peer answered become
// *model.Error with its status and message.
func (n *Node) peerCall(ctx context.Context, addr, method, path string, payload []byte, out any) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, "http://"+addr+path, bytes.NewReader(payload))
	if err != nil {
		return err
	}
	resp, err := n.peers.Do(req)
	if err != nil {
		return model.Unavailable(fmt.Sprintf("cluster peer %s unreachable: %v", addr, err), time.Second)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return &model.Error{Kind: kindOfStatus(resp.StatusCode), Msg: string(b), RetryAfter: time.Second}
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

func kindOfStatus(code int) model.Kind {
	switch code {
	case 400:
		return model.KindInvalid
	case 404:
		return model.KindNotFound
	case 409:
		return model.KindConflict
	case 413:
		return model.KindTooLarge
	case 503:
		return model.KindUnavailable
	case 401:
		return model.KindUnauthorized
	case 403:
		return model.KindForbidden
	}
	return model.KindInternal
}
