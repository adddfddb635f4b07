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
