package command

import "math"

// Site-to-site commands (level 2). Flowfile content travels through the
// Raft log in chunks (StageChunk), so a quorum has it on disk before the
// client is told it is stored; the queue tables are in the store but apart
// from the registry's state hash (package queue). Every time is fixed by
// the proposer (At) and Apply reads no clock.

// Port kinds as CreatePort carries them.
const (
	PortInput  = "input"
	PortOutput = "output"
)

// CreatePort adds a public site-to-site port. An input port owns a queue;
// an output port is fed by the input port From (a relay queue), or by
// nothing when From is empty.
type CreatePort struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Kind     string `json:"kind"`
	From     string `json:"from,omitempty"`
	Comments string `json:"comments,omitempty"`
	// MaxFlowFiles and MaxBytes bound an input port's queue: pushes that
	// would pass them are refused (NiFi's "destination full"); 0 = none.
	MaxFlowFiles int64  `json:"maxFlowFiles,omitempty"`
	MaxBytes     int64  `json:"maxBytes,omitempty"`
	At           int64  `json:"at"`
	Actor        string `json:"actor"`
}

// UpdatePort changes the non-nil fields of a port.
type UpdatePort struct {
	ID           string  `json:"id"`
	Enabled      *bool   `json:"enabled,omitempty"`
	Comments     *string `json:"comments,omitempty"`
	MaxFlowFiles *int64  `json:"maxFlowFiles,omitempty"`
	MaxBytes     *int64  `json:"maxBytes,omitempty"`
	At           int64   `json:"at"`
	Actor        string  `json:"actor"`
}

// DeletePort removes a port. An input port whose queue holds flowfiles, or
// that feeds an output port, is refused unless Force (which drops them).
type DeletePort struct {
	ID    string `json:"id"`
	Force bool   `json:"force,omitempty"`
	Actor string `json:"actor"`
}

// StageChunk appends the next bytes of a push transaction's packet stream
// (StandardFlowFileCodec packets, uncompressed) to its staging area. Off is
// the offset of Data in the stream; chunks come in order, and a chunk
// already staged (a retried proposal) is accepted again without effect.
// Packets lists the packets that end in this chunk as triples (offset of
// the packet's first byte in the stream, encoded length, content size).
type StageChunk struct {
	Port    string  `json:"port"`
	Tx      string  `json:"tx"`
	Off     int64   `json:"off"`
	Packets []int64 `json:"packets,omitempty"`
	At      int64   `json:"at"`
	Data    []byte  `json:"-"`
}

// StageChunkRef is a StageChunk (level 13) whose bytes are not in the
// command: the proposer wrote them as a content file (package blobs) and
// sent it to a majority of the voters before proposing. The file holds
// the chunk's key (queue.ChunkFileHeader: the transaction id and Off)
// followed by its Size bytes, so no two chunks share a file and the file
// can go as soon as its chunk does. SHA256 (lower-case hex) names it.
type StageChunkRef struct {
	Port    string  `json:"port"`
	Tx      string  `json:"tx"`
	Off     int64   `json:"off"`
	Packets []int64 `json:"packets,omitempty"`
	At      int64   `json:"at"`
	SHA256  string  `json:"sha256"`
	Size    int64   `json:"size"`
}

// CommitTx makes a staged transaction's flowfiles part of its port's queue.
// Count and Bytes are what the proposer staged (packets, content bytes):
// Apply refuses the commit if the staging area does not hold exactly that.
type CommitTx struct {
	Port  string `json:"port"`
	Tx    string `json:"tx"`
	Count int64  `json:"count"`
	Bytes int64  `json:"bytes"`
	At    int64  `json:"at"`
}

// StageCommit (level 14) stages a push's last chunk and commits the push
// in one entry: a StageChunk (Data) or, with SHA256, a StageChunkRef of
// Size bytes, then a CommitTx of Count flowfiles and Bytes content bytes.
// A push's last chunk is not needed in the log before its commit (the
// client is told its flowfiles are stored by the commit's answer, and only
// this node can commit it), so a push of one chunk costs one round of the
// log instead of two. When the port is full the chunk stays staged and
// the result says so (queue.CommitResult.Full), as after a StageChunk and
// a refused CommitTx.
type StageCommit struct {
	Port    string  `json:"port"`
	Tx      string  `json:"tx"`
	Off     int64   `json:"off"`
	Packets []int64 `json:"packets,omitempty"`
	SHA256  string  `json:"sha256,omitempty"`
	Size    int64   `json:"size"`
	Count   int64   `json:"count"`
	Bytes   int64   `json:"bytes"`
	At      int64   `json:"at"`
	Data    []byte  `json:"-"`
}

// DropTx forgets what a transaction staged (cancel, bad checksum, expiry).
// A committed or unknown transaction is left alone.
type DropTx struct {
	Tx string `json:"tx"`
	At int64  `json:"at"`
}

// Lease hands the oldest flowfiles of an output port's queue to a pull
// transaction, up to MaxCount flowfiles and MaxBytes content bytes (at
// least one when any is available), until Expires, unless another lease on
// the queue is live (then nothing: delivery is in order). Leases that
// expired by At are released first.
type Lease struct {
	Port     string `json:"port"`
	Tx       string `json:"tx"`
	MaxCount int64  `json:"maxCount"`
	MaxBytes int64  `json:"maxBytes"`
	At       int64  `json:"at"`
	Expires  int64  `json:"expires"`
}

// SharedLease is a Lease that does not wait for the queue's other leases
// (level 7): concurrent pulls of an output port each get the oldest
// flowfiles no one holds, as concurrent transactions on a NiFi output
// port do. On a port set to keep order (SetPortOrder) it is a Lease: one
// live lease per queue.
type SharedLease Lease

// SetPortOrder sets whether an output port hands its flowfiles out
// strictly in queue order, one pull at a time (level 7).
type SetPortOrder struct {
	ID      string `json:"id"`
	Ordered bool   `json:"ordered"`
	At      int64  `json:"at"`
	Actor   string `json:"actor"`
}

// Ack removes a lease's flowfiles from the queue: the client confirmed
// their checksum.
type Ack struct {
	Tx string `json:"tx"`
	At int64  `json:"at"`
}

// AckSent is an Ack of the flowfiles a pull sent before it stopped short
// of its lease's end (its batch duration ran out), which the client
// confirmed: those of the lease up to queue sequence Through (a lease
// holds its flowfiles in queue order, and they are sent in that order).
// The lease's other flowfiles go back to the queue in their places, as by
// a Release.
type AckSent struct {
	Tx      string `json:"tx"`
	At      int64  `json:"at"`
	Through uint64 `json:"through"`
}

// AckFlows removes the flowfiles a pull sent and its client confirmed,
// named by their queue and sequence numbers (level 11). Leases of shared
// output ports live in the leader's memory, not in the log, so the confirm
// names what it removes instead of a lease. Apply skips flowfiles that are
// gone (acked by another pull after a leader change forgot a lease, or
// expired) and those a replicated Lease holds (an ordered port's, or one
// taken before the cluster reached level 11): delivery is at-least-once.
type AckFlows struct {
	Port  string `json:"port"`
	Tx    string `json:"tx"`
	Queue string `json:"queue"`
	// Runs are the sequence numbers as runs [first, last], ascending.
	Runs [][2]uint64 `json:"runs"`
	At   int64       `json:"at"`
}

// MaxAckRuns bounds the runs of one AckFlows (a pull sends at most a few
// thousand flowfiles, usually one run).
const MaxAckRuns = 1 << 16

// CheckRuns reports whether runs of sequence numbers ([first, last]
// pairs) are ascending and apart, the form an AckFlows and a memory
// lease's grant name flowfiles in, and how many sequence numbers they
// name (saturating at the largest uint64, so a caller's bound holds
// whatever the runs claim).
func CheckRuns(runs [][2]uint64) (n uint64, ok bool) {
	for i, r := range runs {
		if r[0] > r[1] || (i > 0 && r[0] <= runs[i-1][1]) {
			return 0, false
		}
		if m := r[1] - r[0] + 1; m == 0 || n+m < n {
			n = math.MaxUint64
		} else {
			n += m
		}
	}
	return n, true
}

// Release returns a lease's flowfiles to the queue, in their order.
type Release struct {
	Tx string `json:"tx"`
	At int64  `json:"at"`
}

// SetPortRetention sets how long an input port's flowfiles may stay queued
// (level 5). From then on a flowfile committed more than MaxAge ms before a
// command's At is expired from the head of the queue (ExpireFlows, and
// before each Lease), unless it is leased. MaxAge 0 turns retention off.
// Flowfiles queued before retention was set count as committed at At.
type SetPortRetention struct {
	ID     string `json:"id"`
	MaxAge int64  `json:"maxAge"`
	At     int64  `json:"at"`
	Actor  string `json:"actor"`
}

// ExpireFlows removes, from the head of an input port's queue, up to Max
// unleased flowfiles older than the port's MaxAge at At (level 5). The
// leader proposes it when its replica shows expired flowfiles; applying it
// when nothing is expired changes nothing.
type ExpireFlows struct {
	Port string `json:"port"`
	Max  int64  `json:"max"`
	At   int64  `json:"at"`
}
