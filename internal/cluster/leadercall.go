package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/weir-nifi/weir/internal/model"
)

// rpcCall runs a function a higher layer registered (HandleLeader) on the
// leader, for state the leader keeps in memory rather than in the log
// (site-to-site pull leases): a follower asks, the leader answers.
const rpcCall = "/rpc/call/"

// maxCallBody bounds a call's request.
const maxCallBody = 8 << 20

// LeaderFunc serves a call on the leader. Its answer is encoded as JSON;
// an error is given back to the caller as a *model.Error, Reason kept.
type LeaderFunc func(ctx context.Context, req json.RawMessage) (any, error)

// HandleLeader registers fn under name for CallLeader. Calls that arrive
// before it is registered are refused as unavailable.
func (n *Node) HandleLeader(name string, fn LeaderFunc) {
	n.leaderFuncs.Store(name, fn)
}

func (n *Node) leaderFunc(name string) (LeaderFunc, bool) {
	v, ok := n.leaderFuncs.Load(name)
	if !ok {
		return nil, false
	}
	return v.(LeaderFunc), true
}

// CallLeader runs the function registered under name on the leader with
// req (encoded as JSON) and decodes its answer into out: in this process
// when this node leads, over the cluster port otherwise. Not knowing a
// leader, or reaching a node that no longer leads, is retried for up to
// LeaderWait; the functions called this way must be safe to run twice,
// since an answer lost on the way back is indistinguishable from a call
// that never arrived.
func (n *Node) CallLeader(ctx context.Context, name string, req, out any) error {
	body, err := json.Marshal(req)
	if err != nil {
		return err
	}
	return n.toLeader(ctx, out, func() (proposal, error) {
		if n.IsLeader() {
			return n.callLocal(ctx, name, body), nil
		}
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		return n.postLeader(ctx, n.peers, rpcCall+name, body)
	})
}

func (n *Node) callLocal(ctx context.Context, name string, body []byte) proposal {
	fn, ok := n.leaderFunc(name)
	if !ok {
		return toProposal(nil, &model.Error{Kind: model.KindUnavailable, Msg: fmt.Sprintf("The leader does not serve %q yet.", name), RetryAfter: time.Second, NotApplied: true})
	}
	return toProposal(fn(ctx, body))
}

// handleCall serves a follower's CallLeader.
func (n *Node) handleCall(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	body, err := readBody(r, maxCallBody+1)
	var p proposal
	switch {
	case err != nil:
		p = toProposal(nil, &model.Error{Kind: model.KindUnavailable, Msg: "The call did not arrive whole; it was not run.", NotApplied: true})
	case len(body) > maxCallBody:
		p = toProposal(nil, model.Errorf(model.KindTooLarge, "A call is limited to %d bytes.", maxCallBody))
	case !n.IsLeader():
		p = toProposal(nil, ErrNotLeader)
	default:
		p = n.callLocal(r.Context(), name, body)
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(p)
}
