package cluster

import (
	"net/http"
	"strings"

	"github.com/hashicorp/raft"
)

// rpcPeer carries a higher layer's own traffic between nodes (content
// sent and fetched outside the log, package blobs): HandlePeer registers a
// handler under a name, PeerURL addresses it on another node, and
// PeerClient reaches it over the authenticated cluster port. The cluster
// package knows nothing of what travels there.
const rpcPeer = "/rpc/x/"

// HandlePeer serves h to the other nodes at PeerURL(addr, name, path).
// Whoever reaches h proved the cluster key. Requests that arrive before
// it is registered are answered 503.
func (n *Node) HandlePeer(name string, h http.Handler) {
	n.peerHandlers.Store(name, h)
}

func (n *Node) handlePeer(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	h, ok := n.peerHandlers.Load(name)
	if !ok {
		http.Error(w, "not served by this node yet", http.StatusServiceUnavailable)
		return
	}
	r2 := r.Clone(r.Context())
	r2.URL.Path = "/" + strings.TrimPrefix(r.URL.Path, rpcPeer+name+"/")
	r2.URL.RawPath = ""
	h.(http.Handler).ServeHTTP(w, r2)
}

// PeerURL is the URL of path under the handler registered as name on the
// node whose Raft address is addr.
func PeerURL(addr, name, path string) string {
	return "http://" + addr + rpcPeer + name + "/" + strings.TrimPrefix(path, "/")
}

// PeerClient sends requests to PeerURLs over the cluster port. It has no
// timeout of its own: the request's context bounds it.
func (n *Node) PeerClient() *http.Client { return n.peers }

// Voters lists the Raft addresses of the voters other than this node, and
// whether this node is a voter.
func (n *Node) Voters() (self bool, others []string) {
	f := n.raft.GetConfiguration()
	if f.Error() != nil {
		return false, nil
	}
	for _, s := range f.Configuration().Servers {
		if s.Suffrage != raft.Voter {
			continue
		}
		if string(s.ID) == n.cfg.ID {
			self = true
			continue
		}
		others = append(others, string(s.Address))
	}
	return self, others
}
