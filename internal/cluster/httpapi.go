package cluster

import (
	"encoding/json"
	"io"
	"net/http"
	"time"

	"github.com/weir-nifi/weir/internal/httpwire"
	"github.com/weir-nifi/weir/internal/model"
)

// AdminBase is where the cluster API lives, outside the NiFi paths.
const AdminBase = "/weir-api/cluster"

// IsolatePath isolates this node (POST {"seconds":N}) or ends it
// (DELETE): drills. While isolated, the node answers nothing else.
const IsolatePath = AdminBase + "/isolate"

// IsolateRequest is the body of POST IsolatePath.
type IsolateRequest struct {
	// Seconds bounds the isolation (1 to 3600, default 60): it ends by
	// itself then, whatever happens to the drill.
	Seconds int `json:"seconds,omitempty"`
}

// IsolateResult tells when the isolation ends by itself.
type IsolateResult struct {
	Until time.Time `json:"until"`
}

// Routes registers the cluster API:
//
//	GET  /weir-api/cluster/status           cluster report (any node)
//	GET  /weir-api/cluster/local            this node's raft state and state hash
//	                                         (?recompute=1: recomputed from every entry)
//	POST /weir-api/cluster/join             add a member
//	POST /weir-api/cluster/remove           remove a member
//	POST /weir-api/cluster/transfer-leader  move leadership
//
// The changes and ?recompute need proof of the cluster key: the server
// mounts these routes behind package adminauth's check.
func (n *Node) Routes(mux *http.ServeMux) {
	mux.HandleFunc("GET "+AdminBase+"/status", func(w http.ResponseWriter, r *http.Request) {
		st, err := n.ClusterStatus()
		if err != nil {
			httpwire.WriteError(w, err)
			return
		}
		_ = httpwire.WriteJSON(w, 200, st)
	})
	mux.HandleFunc("GET "+AdminBase+"/local", func(w http.ResponseWriter, r *http.Request) {
		// ?recompute=1 walks every entry to check the kept state hash
		// (tests use it once the cluster has converged).
		hashOf := n.st.StateHash
		if r.URL.Query().Get("recompute") != "" {
			hashOf = n.st.RecomputedStateHash
		}
		hash, idx, err := hashOf()
		if err != nil {
			httpwire.WriteError(w, err)
			return
		}
		_ = httpwire.WriteJSON(w, 200, struct {
			LocalStatus
			StateHash string `json:"stateHash"`
			HashIndex uint64 `json:"stateHashIndex"`
		}{n.LocalStatus(), hash, idx})
	})
	mux.HandleFunc("POST "+AdminBase+"/join", n.admin(func(r *http.Request, body []byte) error {
		var req JoinRequest
		if err := json.Unmarshal(body, &req); err != nil {
			return model.Invalid(err.Error())
		}
		return n.Join(r.Context(), req)
	}))
	mux.HandleFunc("POST "+AdminBase+"/remove", n.admin(func(r *http.Request, body []byte) error {
		var req RemoveRequest
		if err := json.Unmarshal(body, &req); err != nil {
			return model.Invalid(err.Error())
		}
		return n.Remove(r.Context(), req)
	}))
	mux.HandleFunc("POST "+IsolatePath, func(w http.ResponseWriter, r *http.Request) {
		var req IsolateRequest
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<16))
		if err == nil && len(body) > 0 {
			err = json.Unmarshal(body, &req)
		}
		if err != nil {
			httpwire.WriteError(w, model.Invalid(err.Error()))
			return
		}
		if req.Seconds == 0 {
			req.Seconds = 60
		}
		if req.Seconds < 1 || req.Seconds > 3600 {
			httpwire.WriteError(w, model.Invalid("seconds must be between 1 and 3600"))
			return
		}
		_ = httpwire.WriteJSON(w, 200, IsolateResult{Until: n.Isolate(time.Duration(req.Seconds) * time.Second)})
	})
	mux.HandleFunc("DELETE "+IsolatePath, func(w http.ResponseWriter, r *http.Request) {
		n.Rejoin()
		_ = httpwire.WriteJSON(w, 200, map[string]bool{"ok": true})
	})
	mux.HandleFunc("POST "+AdminBase+"/transfer-leader", n.admin(func(r *http.Request, body []byte) error {
		var req TransferRequest
		if len(body) > 0 {
			if err := json.Unmarshal(body, &req); err != nil {
				return model.Invalid(err.Error())
			}
		}
		return n.Transfer(r.Context(), req)
	}))
}

// admin runs fn with the request body (at most 1 MB) and answers
// {"ok":true} or the error.
func (n *Node) admin(fn func(*http.Request, []byte) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			httpwire.WriteError(w, model.Invalid(err.Error()))
			return
		}
		if err := fn(r, body); err != nil {
			httpwire.WriteError(w, err)
			return
		}
		_ = httpwire.WriteJSON(w, 200, map[string]bool{"ok": true})
	}
}
