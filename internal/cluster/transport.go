package cluster

import (
	"net"
	"time"

	"github.com/hashicorp/raft"
)

// streamLayer carries Raft traffic over the authenticated cluster port.
type streamLayer struct {
	net.Listener
	auth      *Auth
	advertise net.Addr
}

var _ raft.StreamLayer = (*streamLayer)(nil)

func (s *streamLayer) Dial(addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	return s.auth.dial(string(addr), streamRaft, timeout)
}

// Addr is the address other nodes reach us at.
func (s *streamLayer) Addr() net.Addr {
	if s.advertise != nil {
		return s.advertise
	}
	return s.Listener.Addr()
}

// raftTransport is the Raft transport with two changes.
//
// Pipelined replication is off. hashicorp/raft v1.7.3's pipeline can
// deadlock when a follower answers an append with Success=false (it does
// when its disk fails): the decoder stops reading answers while the sender
// waits to queue one more request, and nothing closes the pipeline. The
// leader then never sends that follower another entry while its heartbeats
// go on, so the follower is neither fed nor replaced (hashicorp/raft#612;
// the systest TestHardenDiskReadOnlyTornStore showed it). Without the
// pipeline, each batch is one request and answer, which bounds what is in
// flight to one batch per follower.
//
// Every AppendEntries a follower accepts is recorded with the time it was
// sent (acks), which linearizable reads need: see confirmLeadership.
type raftTransport struct {
	*raft.NetworkTransport
	acks *ackClock
}

func (raftTransport) AppendEntriesPipeline(raft.ServerID, raft.ServerAddress) (raft.AppendPipeline, error) {
	return nil, raft.ErrPipelineReplicationNotSupported
}

func (t raftTransport) AppendEntries(id raft.ServerID, target raft.ServerAddress, args *raft.AppendEntriesRequest, resp *raft.AppendEntriesResponse) error {
	return t.acks.send(id, target, args, resp, t.NetworkTransport.AppendEntries)
}

var (
	_ raft.Transport   = raftTransport{}
	_ raft.WithPreVote = raftTransport{}
	_ raft.WithClose   = raftTransport{}
)
