package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/hashicorp/raft"

	"github.com/weir-nifi/weir/internal/command"
	"github.com/weir-nifi/weir/internal/model"
	"github.com/weir-nifi/weir/internal/store"
)

// rpcPropose carries an encoded command from a follower to the leader,
// for writes that do not come in as one HTTP request a follower can
// forward whole (site-to-site content arrives as a stream and is proposed
// chunk by chunk from the node holding the transaction).
const rpcPropose = "/rpc/propose"

// maxProposal bounds what /rpc/propose reads: a chunk plus its header.
const maxProposal = 64 << 20

// proposal is the leader's answer on /rpc/propose: the command's result as
// JSON, or the refusal.
type proposal struct {
	Value json.RawMessage `json:"value,omitempty"`
	Err   *proposalError  `json:"err,omitempty"`
}

type proposalError struct {
	Kind       model.Kind    `json:"kind"`
	Msg        string        `json:"msg"`
	Reason     string        `json:"reason,omitempty"`
	RetryAfter time.Duration `json:"retryAfter,omitempty"`
	NotApplied bool          `json:"notApplied,omitempty"`
}

func toProposal(v any, err error) proposal {
	if err != nil {
		var me *model.Error
		if !errors.As(err, &me) {
			me = model.Errorf(model.KindInternal, "%v", err)
		}
		return proposal{Err: &proposalError{Kind: me.Kind, Msg: me.Msg, Reason: me.Reason, RetryAfter: me.RetryAfter, NotApplied: me.NotApplied}}
	}
	raw, merr := json.Marshal(v)
	if merr != nil {
		return proposal{Err: &proposalError{Kind: model.KindInternal, Msg: merr.Error()}}
	}
	return proposal{Value: raw}
}

func (p proposal) result(out any) error {
	if p.Err != nil {
		return &model.Error{Kind: p.Err.Kind, Msg: p.Err.Msg, Reason: p.Err.Reason, RetryAfter: p.Err.RetryAfter, NotApplied: p.Err.NotApplied}
	}
	if out == nil || len(p.Value) == 0 || string(p.Value) == "null" {
		return nil
	}
	return json.Unmarshal(p.Value, out)
}

// ProposeAnywhere replicates c from whichever node this is and decodes the
// result into out (nil to ignore it): the leader proposes it, a follower
// sends it to the leader over the cluster port, following leadership
// changes for up to LeaderWait while the command certainly was not
// appended. A refusal is a *model.Error with its Reason kept; an error
// whose NotApplied is false after a transport failure means the command
// may or may not have been applied, so commands sent this way must be
// safe to apply twice (package queue makes them so).
func (n *Node) ProposeAnywhere(ctx context.Context, c command.Command, out any) error {
	data, err := command.Encode(c)
	if err != nil {
		return err
	}
	return n.toLeader(ctx, out, func() (proposal, error) {
		if n.raft.State() == raft.Leader {
			return toProposal(n.proposeEncoded(ctx, c.Type(), data)), nil
		}
		return n.sendProposal(ctx, data)
	})
}

// toLeader runs try (one attempt to reach the leader) again while its
// answer says it certainly did not run (NotApplied: no leader known, or a
// node that no longer leads), for up to LeaderWait, and decodes the last
// answer into out. An error from try ends it at once, and so does a DR
// standby's refusal: every leader of this cluster would give it.
func (n *Node) toLeader(ctx context.Context, out any, try func() (proposal, error)) error {
	deadline := time.Now().Add(n.cfg.LeaderWait)
	for {
		p, err := try()
		if err != nil {
			return err
		}
		if p.Err == nil || !p.Err.NotApplied || store.IsDRRefusal(p.Err.Reason) || time.Now().After(deadline) {
			return p.result(out)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// sendProposal sends an encoded command to the leader. Not knowing a
// leader, or failing to reach it, comes back as a NotApplied refusal;
// failing after the command was sent is an error: it may have been
// applied.
func (n *Node) sendProposal(ctx context.Context, data []byte) (proposal, error) {
	return n.postLeader(ctx, n.proposer, rpcPropose, data)
}

// postLeader posts body to path on the leader with hc and reads the
// proposal envelope it answers. Not knowing a leader is a NotApplied
// refusal, and so is failing to dial it when hc reports dial errors
// (forwardClient); any other failure is an error, since the leader may
// have acted on the request.
func (n *Node) postLeader(ctx context.Context, hc *http.Client, path string, body []byte) (proposal, error) {
	_, addr, err := n.leaderAddr(ctx)
	if err != nil {
		return toProposal(nil, err), nil
	}
	if addr == n.cfg.RaftAdvertise {
		return toProposal(nil, ErrNotLeader), nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+path, bytes.NewReader(body))
	if err != nil {
		return proposal{}, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		var de *dialError
		if errors.As(err, &de) {
			return toProposal(nil, &model.Error{Kind: model.KindUnavailable, Msg: fmt.Sprintf("The leader %s is unreachable.", addr), RetryAfter: time.Second, NotApplied: true}), nil
		}
		return proposal{}, model.Unavailable(fmt.Sprintf("The leader %s became unreachable while replicating; the write may or may not have been applied: %v", addr, err), time.Second)
	}
	defer resp.Body.Close()
	var p proposal
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(&p); err != nil {
		return proposal{}, model.Unavailable(fmt.Sprintf("The leader's answer was cut off; the write may or may not have been applied: %v", err), time.Second)
	}
	return p, nil
}

// handlePropose proposes a command a follower sent (see ProposeAnywhere).
// readBody reads a request body of at most limit bytes, into one buffer
// of the declared length when there is one (io.ReadAll grows its buffer
// from 512 bytes, copying a 1 MiB chunk a dozen times).
func readBody(r *http.Request, limit int64) ([]byte, error) {
	if n := r.ContentLength; n > 0 && n <= limit {
		b := make([]byte, n)
		_, err := io.ReadFull(r.Body, b)
		return b, err
	}
	return io.ReadAll(io.LimitReader(r.Body, limit))
}

func (n *Node) handlePropose(w http.ResponseWriter, r *http.Request) {
	data, err := readBody(r, maxProposal+1)
	var p proposal
	switch {
	case err != nil:
		p = toProposal(nil, &model.Error{Kind: model.KindUnavailable, Msg: "The proposal did not arrive whole; it was not applied.", NotApplied: true})
	case len(data) > maxProposal:
		p = toProposal(nil, model.Errorf(model.KindTooLarge, "A proposal is limited to %d bytes.", maxProposal))
	case n.raft.State() != raft.Leader:
		p = toProposal(nil, ErrNotLeader)
	default:
		c, derr := command.Decode(data)
		if derr != nil {
			p = toProposal(nil, model.Invalid(derr.Error()))
		} else {
			// The bytes as they came: they decode to c (checked), and
			// encoding c again would copy a 1 MiB chunk for nothing.
			p = toProposal(n.proposeEncoded(r.Context(), c.Type(), data))
		}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(p)
}
