package hooks

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/weir-nifi/weir/internal/command"
	"github.com/weir-nifi/weir/internal/events"
	"github.com/weir-nifi/weir/internal/httpwire"
	"github.com/weir-nifi/weir/internal/model"
	"github.com/weir-nifi/weir/internal/store"
)

// Paths of the event API (under /weir-api, on every node).
const (
	Path      = "/weir-api/events"
	DeadPath  = Path + "/dead"
	RetryPath = DeadPath + "/retry"
)

// Limits of one stream request.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
	MaxWait      = 60 * time.Second
)

// Page is an answer of GET /weir-api/events: the events after the asked
// id, oldest first. First and Last are the oldest kept and the newest
// event ids: a reader whose after+1 is below First missed compacted events.
type Page struct {
	Events  []events.Event `json:"events"`
	First   uint64         `json:"first"`
	Last    uint64         `json:"last"`
	Started bool           `json:"started"`
}

// DeadPage is an answer of GET /weir-api/events/dead.
type DeadPage struct {
	Dead []events.Dead `json:"dead"`
}

// RetryRequest is the body of POST /weir-api/events/dead/retry: the
// hook's dead letters for Events, all of the hook's with Events empty,
// every hook's with Hook empty.
type RetryRequest struct {
	Hook   string   `json:"hook,omitempty"`
	Events []uint64 `json:"events,omitempty"`
}

// RetryResult is the answer to a retry.
type RetryResult struct {
	Retried int `json:"retried"`
}

// Routes mounts the event API on mux. The stream reads this node's replica
// (any node serves it; a node behind the one a reader used before makes it
// wait until it has caught up); the dead-letter list is read after a read
// barrier; a retry is replicated from any node.
func (r *Runner) Routes(mux *http.ServeMux, barrier func(*http.Request) error, actor func(*http.Request) string) {
	c, st := r.c, r.st
	mux.HandleFunc("GET "+Path, func(w http.ResponseWriter, req *http.Request) {
		// Long polls and streams end when the node shuts down, so they
		// do not hold up its HTTP server's graceful stop.
		ctx, cancel := context.WithCancel(req.Context())
		defer cancel()
		defer context.AfterFunc(r.life, cancel)()
		req = req.WithContext(ctx)
		q := req.URL.Query()
		after, err := uintParam(q.Get("after"), 0)
		if err != nil {
			httpwire.WriteError(w, model.Invalid("after must be an event id (a number)."))
			return
		}
		limit, err := uintParam(q.Get("limit"), DefaultLimit)
		if err != nil || limit == 0 || limit > MaxLimit {
			httpwire.WriteError(w, model.Invalid("limit must be 1 to "+strconv.Itoa(MaxLimit)+"."))
			return
		}
		var wait time.Duration
		if s := q.Get("wait"); s != "" {
			wait, err = time.ParseDuration(s)
			if err != nil || wait < 0 || wait > MaxWait {
				httpwire.WriteError(w, model.Invalid("wait must be a duration from 0s to "+MaxWait.String()+", e.g. 30s."))
				return
			}
		}
		if strings.Contains(req.Header.Get("Accept"), "text/event-stream") {
			if id := req.Header.Get("Last-Event-ID"); id != "" {
				if after, err = strconv.ParseUint(id, 10, 64); err != nil {
					httpwire.WriteError(w, model.Invalid("Last-Event-ID must be an event id (a number)."))
					return
				}
			}
			stream(w, req, st, after, int(limit))
			return
		}
		deadline := time.Now().Add(wait)
		for {
			seen := st.AppliedIndex()
			var p Page
			if err := st.Read(func(tx *store.Tx) (err error) {
				b := tx.Bolt()
				p.Started = events.Started(b)
				p.First, p.Last = events.Range(b)
				p.Events, err = events.After(b, after, int(limit))
				return err
			}); err != nil {
				httpwire.WriteError(w, err)
				return
			}
			left := time.Until(deadline)
			if len(p.Events) > 0 || left <= 0 {
				if p.Events == nil {
					p.Events = []events.Event{}
				}
				_ = httpwire.WriteJSON(w, http.StatusOK, p)
				return
			}
			wctx, cancel := context.WithDeadline(req.Context(), deadline)
			st.WaitApplied(wctx.Done(), seen+1)
			cancel()
			if req.Context().Err() != nil {
				return
			}
		}
	})
	mux.HandleFunc("GET "+DeadPath, func(w http.ResponseWriter, req *http.Request) {
		if err := barrier(req); err != nil {
			httpwire.WriteError(w, err)
			return
		}
		var p DeadPage
		if err := st.Read(func(tx *store.Tx) (err error) {
			p.Dead, err = events.DeadLetters(tx.Bolt(), req.URL.Query().Get("hook"))
			return err
		}); err != nil {
			httpwire.WriteError(w, err)
			return
		}
		if p.Dead == nil {
			p.Dead = []events.Dead{}
		}
		_ = httpwire.WriteJSON(w, http.StatusOK, p)
	})
	mux.HandleFunc("POST "+RetryPath, func(w http.ResponseWriter, req *http.Request) {
		var rr RetryRequest
		body, err := io.ReadAll(io.LimitReader(req.Body, 1<<20))
		if err == nil && len(body) > 0 {
			err = json.Unmarshal(body, &rr)
		}
		if err != nil {
			httpwire.WriteError(w, model.Invalid("The body must be JSON: {\"hook\": NAME, \"events\": [ID, …]}."))
			return
		}
		var res RetryResult
		if err := c.ProposeAnywhere(req.Context(), &command.RetryDead{Hook: rr.Hook, Events: rr.Events, By: actor(req)}, &res.Retried); err != nil {
			httpwire.WriteError(w, err)
			return
		}
		_ = httpwire.WriteJSON(w, http.StatusOK, res)
	})
}

// keepalive is how often an idle event stream sends a comment, so proxies
// and clients see the connection alive.
const keepalive = 15 * time.Second

// stream serves the events after after as Server-Sent Events (id: the
// event id, event: its type, data: its JSON) as they commit, until the
// client goes away; a client that reconnects with Last-Event-ID resumes
// after the last event it got.
func stream(w http.ResponseWriter, req *http.Request, st *store.Store, after uint64, limit int) {
	flusher, ok := w.(http.Flusher)
	if !ok {
		httpwire.WriteError(w, model.Errorf(model.KindInternal, "this connection cannot stream"))
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	flusher.Flush()
	ctx := req.Context()
	for ctx.Err() == nil {
		seen := st.AppliedIndex()
		var evs []events.Event
		if err := st.Read(func(tx *store.Tx) (err error) {
			evs, err = events.After(tx.Bolt(), after, limit)
			return err
		}); err != nil {
			return
		}
		for _, e := range evs {
			b, err := json.Marshal(e)
			if err != nil {
				return
			}
			if _, err := fmt.Fprintf(w, "id: %d\nevent: %s\ndata: %s\n\n", e.ID, e.Type, b); err != nil {
				return
			}
			after = e.ID
		}
		if len(evs) > 0 {
			flusher.Flush()
			continue
		}
		wctx, cancel := context.WithTimeout(ctx, keepalive)
		moved := st.WaitApplied(wctx.Done(), seen+1)
		cancel()
		if !moved && ctx.Err() == nil {
			if _, err := io.WriteString(w, ": keepalive\n\n"); err != nil {
				return
			}
			flusher.Flush()
		}
	}
}

func uintParam(s string, def uint64) (uint64, error) {
	if s == "" {
		return def, nil
	}
	return strconv.ParseUint(s, 10, 64)
}
