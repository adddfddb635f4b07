package server

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/weir-nifi/weir/internal/s2s/codec"
)

// PortType says which way data flows through a port.
type PortType int

const (
	// InputPort receives flowfiles: clients push to it.
	InputPort PortType = iota
	// OutputPort sends flowfiles: clients pull from it.
	OutputPort
)

func (t PortType) String() string {
	if t == InputPort {
		return "input"
	}
	return "output"
}

// pathSegment is the port type as it appears in /data-transfer paths.
func (t PortType) pathSegment() string {
	if t == InputPort {
		return "input-ports"
	}
	return "output-ports"
}

// PortState is a NiFi ScheduledState name. NiFi's clients parse it with
// ScheduledState.valueOf, so it must be one of these.
type PortState string

const (
	Running  PortState = "RUNNING"
	Stopped  PortState = "STOPPED"
	Disabled PortState = "DISABLED"
)

// Port is a public (root group) port as site-to-site clients see it.
type Port struct {
	ID       string
	Name     string
	Comments string
	Type     PortType
	State    PortState
}

// Peer is a node that serves site-to-site, as /site-to-site/peers lists it.
// FlowFileCount drives the clients' choice: a high count deflects pushes
// and attracts pulls (s2s-protocol.md §7.2).
type Peer struct {
	Hostname      string
	Port          int
	Secure        bool
	FlowFileCount int
	Zone          string // Weir's extension; NiFi's clients ignore it
}

// Controller describes this site to /site-to-site.
type Controller struct {
	ID         string // the root process group id NiFi would report
	InstanceID string
	Name       string
	Comments   string
	// HTTPPort is remoteSiteHttpListeningPort, the port clients use for
	// peers and transactions. Zero means the port the request came in on.
	HTTPPort int
	// Secure is siteToSiteSecure: clients use https for peers when true.
	Secure bool
}

// Ports is the configuration of public ports (replicated in the daemon).
type Ports interface {
	Ports() []Port
}

// Peers lists the nodes clients may use. It must never return an empty
// list while this node serves: NiFi's client counts an empty list as a
// failure of the node that sent it.
type Peers interface {
	Peers(ctx context.Context) ([]Peer, error)
}

// PacketReader yields the packets of one push body in order: Next returns
// io.EOF after the last. A packet's Content must be read (or skipped) before
// the next call; it returns an error, not io.EOF, if the body is cut short.
// *codec.Decoder satisfies it.
type PacketReader interface {
	Next() (*codec.Packet, error)
}

// Staged is a queue's handle on the flowfiles of one push transaction,
// staged but not committed. It is opaque to the server.
type Staged any

// FlowFile is one flowfile handed out by a Lease.
type FlowFile struct {
	Attributes map[string]string
	Size       int64
	// Content yields Size bytes; it is read before the lease's next call
	// to Next and is not used after that.
	Content io.Reader
}

// Lease is a queue's handle on the flowfiles handed to one pull
// transaction.
type Lease interface {
	// Next hands out the port's oldest flowfile not leased to anyone,
	// which from then on belongs to this lease; io.EOF when there is none.
	Next(ctx context.Context) (*FlowFile, error)
}

// BatchLimits are the client's batch handshake properties for a pull; a
// zero field is unset. The server stops asking the lease for flowfiles once
// a limit is reached; a queue that hands out batches in advance may use
// them to size its batches.
type BatchLimits struct {
	Count    int
	Bytes    int64
	Duration time.Duration
}

// Queues holds the data. The server calls it outside its own locks, from
// request goroutines and from the reaper.
type Queues interface {
	// Full reports that the input port's queue is above its hard limit:
	// new pushes are refused with 503 {202} so clients go elsewhere.
	Full(port string) bool

	// Stage reads every packet of a push body from packets, streaming each
	// packet's content, and keeps them staged (durably, in the daemon)
	// under the transaction without making them visible. It returns once
	// packets returned io.EOF and everything is staged; that answers the
	// client's POST with 202. If it fails, or packets fails, nothing stays
	// staged.
	Stage(ctx context.Context, port, tx string, packets PacketReader) (Staged, error)
	// Commit makes staged flowfiles part of the port's queue (on a quorum,
	// in the daemon) before it returns; backoff asks the client to slow
	// down ({14} instead of {13}). After an error the server calls Discard,
	// which must not undo a commit that took effect nonetheless.
	Commit(ctx context.Context, s Staged) (backoff bool, err error)
	// Discard drops what is staged. It is called once per Staged that is
	// not committed: on cancel, bad checksum, expiry or a failed commit.
	Discard(s Staged)

	// Lease starts handing out the port's oldest unleased flowfiles to a
	// pull transaction.
	Lease(ctx context.Context, port, tx string, limits BatchLimits) (Lease, error)
	// Ack removes the flowfiles the lease handed out from the queue (on a
	// quorum, in the daemon), after the client confirmed their checksum.
	// After an error the server calls Release.
	Ack(ctx context.Context, l Lease) error
	// Release returns the lease's flowfiles to the queue, in order, to be
	// handed out again. It is called once per Lease that is not acked:
	// on cancel, a checksum mismatch, expiry, a failed send or ack.
	Release(l Lease)
}

// Errors a Ports, Queues or Peers implementation may return (wrapped or
// not) to get NiFi's answer for them instead of a 500.
var (
	// ErrUnknownPort: 404 {200}.
	ErrUnknownPort = errors.New("unknown port")
	// ErrPortNotRunning: 503 {201}.
	ErrPortNotRunning = errors.New("port not running")
	// ErrDestinationFull: 503 {202}; the client tries another peer.
	ErrDestinationFull = errors.New("destination full")
	// ErrUnavailable: 503 {250}, a temporary failure (e.g. a leadership
	// change while replicating); NiFi's client penalizes this peer and
	// tries another, and the sender keeps its data.
	ErrUnavailable = errors.New("temporarily unavailable")
)
