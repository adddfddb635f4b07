// Package queue is the replicated part of site-to-site: public ports and
// the queues of flowfiles behind them, as tables in the store's bbolt file
// applied from the Raft log (docs/s2s-design.md, "Durability").
//
// The store hands every site-to-site command to Apply inside its own
// transaction, so a queue change and the applied index are written
// together, snapshots and restores carry the queues, and the boot-id rule
// that rebuilds an unsynced store after a machine crash covers them too.
// The tables are not part of the registry's state hash or counts: data
// traffic does not change what a registry backup reports.
//
// Apply follows the store's rules: it reads no clock (times come in the
// commands), re-checks every precondition and refuses with a *model.Error
// what it cannot apply, changing nothing. Any other error is a failure of
// the database. Chunks kept in files (StageChunkRef) are references:
// Apply never reads or removes a file, it reports the references it
// deletes so that the node can remove their files.
package queue

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/weir-nifi/weir/internal/blobs"
	"github.com/weir-nifi/weir/internal/boltjson"
	"github.com/weir-nifi/weir/internal/command"
	"github.com/weir-nifi/weir/internal/model"
)

// Table names, all in the store's file.
var (
	tPorts     = []byte("q.ports")     // port id → Port
	tPortNames = []byte("q.portNames") // kind + 0 + name → port id
	tQueues    = []byte("q.queues")    // input port id → Stats
	tFlows     = []byte("q.flows")     // key(queue)+u64(seq) → flowRec
	tStaged    = []byte("q.staged")    // tx → stagedRec
	tChunks    = []byte("q.chunks")    // key(tx)+u64(stream offset) → bucket {"d": packet bytes} or {"r": file ref} (see putChunk)
	tRefs      = []byte("q.refs")      // key(tx)+u64(packet offset) → u64 length, u64 content size
	tTxs       = []byte("q.txs")       // committed tx → txRec (flowfiles not yet acked)
	tLeases    = []byte("q.leases")    // pull tx → leaseRec

	// Tables are created by the store with its own.
	Tables = [][]byte{tPorts, tPortNames, tQueues, tFlows, tStaged, tChunks, tRefs, tTxs, tLeases}
)

// Reasons set on refusals (model.Error.Reason) so the site-to-site server
// can answer NiFi's codes for them.
const (
	ReasonUnknownPort = "s2s.unknownPort"
	ReasonNotRunning  = "s2s.portNotRunning"
	ReasonFull        = "s2s.destinationFull"
	ReasonUnknownTx   = "s2s.unknownTransaction"
)

// StaleStaging is how long (by the times carried in commands) a staged
// transaction that neither committed nor dropped is kept: its node died
// mid-push. Apply drops it when a later StageChunk is older by this much.
const StaleStaging = int64(10 * 60 * 1000)

// LeaseExpireMax bounds the flowfiles a CommitTx or a Lease expires from
// the head of a queue with retention before it runs (the leader's
// ExpireFlows takes the rest): part of what those commands mean at level
// 5, so never change it.
const LeaseExpireMax = 1000

// SoftLimitPercent of a queue's bound answers commits with back-pressure
// ({14}, "transaction finished, back off").
const SoftLimitPercent = 80

// Port is a public port's replicated configuration.
type Port struct {
	ID           string `json:"id"`
	Name         string `json:"name"`
	Kind         string `json:"kind"`
	From         string `json:"from,omitempty"`
	Comments     string `json:"comments,omitempty"`
	Enabled      bool   `json:"enabled"`
	MaxFlowFiles int64  `json:"maxFlowFiles,omitempty"`
	MaxBytes     int64  `json:"maxBytes,omitempty"`
	// MaxAge (ms) expires an input port's flowfiles that long after their
	// commit (SetPortRetention, level 5); 0 = kept until pulled.
	MaxAge int64 `json:"maxAge,omitempty"`
	// AgeSince is when retention was first set: flowfiles committed
	// before it carry no commit time and count as committed then.
	AgeSince int64 `json:"ageSince,omitempty"`
	// Ordered (output ports, level 7) hands flowfiles out strictly in
	// queue order, one pull at a time; otherwise concurrent pulls each
	// take the oldest flowfiles no one holds (SharedLease).
	Ordered  bool  `json:"ordered,omitempty"`
	Created  int64 `json:"created"`
	Modified int64 `json:"modified"`
}

// Stats describe one queue (kept by Apply as it writes).
type Stats struct {
	NextSeq uint64 `json:"nextSeq"`
	Count   int64  `json:"count"`
	Bytes   int64  `json:"bytes"`
	Leased  int64  `json:"leased"`
	// Expired counts the flowfiles retention removed, ever.
	Expired int64 `json:"expired,omitempty"`
}

// Flow is a queued flowfile: where its packet is in its push transaction's
// stream.
type Flow struct {
	Seq  uint64 `json:"seq"`
	Tx   string `json:"tx"`
	Off  int64  `json:"off"`
	Len  int64  `json:"len"`
	Size int64  `json:"size"`
}

// CommitResult is what CommitTx answers.
type CommitResult struct {
	First   uint64 `json:"first"`
	Count   int64  `json:"count"`
	Backoff bool   `json:"backoff"`
	// Full is a StageCommit that staged its chunk but did not commit:
	// the port is full (a CommitTx is refused then).
	Full bool `json:"full,omitempty"`
}

// LeaseResult is what Lease answers: the flowfiles leased, in order.
type LeaseResult struct {
	Flows []Flow `json:"flows"`
}

type stagedRec struct {
	Port string `json:"port"`
	At   int64  `json:"at"`
	Next int64  `json:"next"`
	// NextPacket is where the next packet must start.
	NextPacket int64 `json:"nextPacket"`
	Count      int64 `json:"count"`
	Bytes      int64 `json:"bytes"`
}

type txRec struct {
	Remaining int64 `json:"remaining"`
	// At is the commit time, kept for ports that ever had retention set
	// (level 5): builds before level 5 wrote none.
	At int64 `json:"at,omitempty"`
}

type leaseRec struct {
	Port    string   `json:"port"`
	Queue   string   `json:"queue"`
	Expires int64    `json:"expires"`
	Seqs    []uint64 `json:"seqs"`
}

// leaseHead is a lease record without its flowfiles: the scans over every
// lease (in each Lease and Ack) need only these, and decoding Seqs cost
// allocations proportional to everything leased.
type leaseHead struct {
	Queue   string `json:"queue"`
	Expires int64  `json:"expires"`
}

// flowRec is a queued flowfile in tFlows: tx, packet offset and length,
// content size, and the pull tx holding it ("" when available).
type flowRec struct {
	Tx    string
	Off   int64
	Len   int64
	Size  int64
	Lease string
}

// flow is the record as the flowfile at seq, as reads hand it out.
func (f flowRec) flow(seq uint64) Flow {
	return Flow{Seq: seq, Tx: f.Tx, Off: f.Off, Len: f.Len, Size: f.Size}
}

func (f flowRec) encode() []byte {
	b := make([]byte, 0, 2+len(f.Tx)+24+2+len(f.Lease))
	b = binary.BigEndian.AppendUint16(b, uint16(len(f.Tx)))
	b = append(b, f.Tx...)
	b = binary.BigEndian.AppendUint64(b, uint64(f.Off))
	b = binary.BigEndian.AppendUint64(b, uint64(f.Len))
	b = binary.BigEndian.AppendUint64(b, uint64(f.Size))
	b = binary.BigEndian.AppendUint16(b, uint16(len(f.Lease)))
	return append(b, f.Lease...)
}

func decodeFlow(b []byte) (flowRec, error) {
	var f flowRec
	bad := fmt.Errorf("corrupt queue record (%d bytes)", len(b))
	if len(b) < 2 {
		return f, bad
	}
	n := int(binary.BigEndian.Uint16(b))
	if len(b) < 2+n+24+2 {
		return f, bad
	}
	f.Tx = string(b[2 : 2+n])
	b = b[2+n:]
	f.Off = int64(binary.BigEndian.Uint64(b))
	f.Len = int64(binary.BigEndian.Uint64(b[8:]))
	f.Size = int64(binary.BigEndian.Uint64(b[16:]))
	m := int(binary.BigEndian.Uint16(b[24:]))
	if len(b) != 26+m {
		return f, bad
	}
	f.Lease = string(b[26:])
	return f, nil
}

// leasedRaw reports, without decoding, that a well-formed record names a
// lease (a malformed one says no, and decodeFlow reports it).
func leasedRaw(b []byte) bool {
	if len(b) < 2 {
		return false
	}
	n := int(binary.BigEndian.Uint16(b))
	if len(b) < 2+n+26 {
		return false
	}
	m := int(binary.BigEndian.Uint16(b[2+n+24:]))
	return m > 0 && len(b) == 2+n+26+m
}

// key is uvarint(len(id)) + id + extra: no id is a prefix of another's key.
func key(id string, extra ...byte) []byte {
	b := make([]byte, 0, binary.MaxVarintLen32+len(id)+len(extra))
	b = binary.AppendUvarint(b, uint64(len(id)))
	b = append(b, id...)
	return append(b, extra...)
}

func keyN(id string, n uint64) []byte {
	var nb [8]byte
	binary.BigEndian.PutUint64(nb[:], n)
	return key(id, nb[:]...)
}

func nameKey(kind, name string) []byte { return []byte(kind + "\x00" + name) }

// get and put are JSON records (package boltjson).
var (
	get = boltjson.Get
	put = boltjson.Put
)

func refuse(kind model.Kind, reason, msg string) *model.Error {
	return &model.Error{Kind: kind, Msg: msg, Reason: reason}
}

func unknownPort(id string) *model.Error {
	return refuse(model.KindNotFound, ReasonUnknownPort, fmt.Sprintf("No site-to-site port with id '%s'.", id))
}

func unknownTx(tx string) *model.Error {
	return refuse(model.KindNotFound, ReasonUnknownTx, fmt.Sprintf("Transaction '%s' is not staged or leased here (it was committed, dropped or expired).", tx))
}

// Handles reports whether c is a site-to-site command (applied by Apply).
func Handles(c command.Command) bool {
	t := c.Type()
	return (t >= command.TypeCreatePort && t <= command.TypeRelease) ||
		t == command.TypeSetPortRetention || t == command.TypeExpireFlows ||
		t == command.TypeSharedLease || t == command.TypeSetPortOrder ||
		t == command.TypeAckSent || t == command.TypeAckFlows || t == command.TypeStageChunkRef ||
		t == command.TypeStageCommit
}

// Apply applies one site-to-site command in the store's write
// transaction. A *model.Error is a refusal and nothing was written;
// any other error is a database failure. gone (may be nil) is told the
// SHA-256 of each chunk file (StageChunkRef) the state stopped referring
// to: no later command can refer to it again, so once the transaction is
// committed its file can go.
func Apply(btx *bolt.Tx, c command.Command, gone func(sha256 string)) (any, error) {
	if gone == nil {
		gone = func(string) {}
	}
	w := wtx{tx: btx, gone: gone}
	switch c := c.(type) {
	case *command.CreatePort:
		return w.createPort(c)
	case *command.UpdatePort:
		return w.updatePort(c)
	case *command.DeletePort:
		return w.deletePort(c)
	case *command.StageChunk:
		return w.stageChunk(chunkCmd{Port: c.Port, Tx: c.Tx, Off: c.Off, Packets: c.Packets, At: c.At, Size: int64(len(c.Data)), Data: c.Data})
	case *command.StageChunkRef:
		if !blobs.ValidSHA(c.SHA256) || c.Size <= 0 {
			return nil, model.Invalid("A chunk file needs a SHA-256 in lower-case hex and a size.")
		}
		return w.stageChunk(chunkCmd{Port: c.Port, Tx: c.Tx, Off: c.Off, Packets: c.Packets, At: c.At, Size: c.Size, SHA256: c.SHA256})
	case *command.CommitTx:
		return w.commitTx(c)
	case *command.StageCommit:
		return w.stageCommit(c)
	case *command.DropTx:
		return nil, w.dropTx(c.Tx)
	case *command.Lease:
		return w.lease(c, false)
	case *command.SharedLease:
		return w.lease((*command.Lease)(c), true)
	case *command.SetPortOrder:
		return w.setOrder(c)
	case *command.Ack:
		return nil, w.ack(c)
	case *command.AckSent:
		return nil, w.ackSent(c)
	case *command.AckFlows:
		return nil, w.ackFlows(c)
	case *command.Release:
		return nil, w.release(c.Tx)
	case *command.SetPortRetention:
		return w.setRetention(c)
	case *command.ExpireFlows:
		return w.expireFlows(c)
	}
	return nil, model.Invalid(fmt.Sprintf("command %s is not a site-to-site command", c.Type()))
}

type wtx struct {
	tx   *bolt.Tx
	gone func(sha256 string)
}

func (w wtx) b(name []byte) *bolt.Bucket { return w.tx.Bucket(name) }

func (w wtx) port(id string) (Port, bool, error) {
	var p Port
	ok, err := get(w.b(tPorts), []byte(id), &p)
	return p, ok, err
}

func (w wtx) stats(queue string) (Stats, error) {
	var s Stats
	_, err := get(w.b(tQueues), []byte(queue), &s)
	return s, err
}

// ---- ports

func (w wtx) createPort(c *command.CreatePort) (any, error) {
	if c.Kind != command.PortInput && c.Kind != command.PortOutput {
		return nil, model.Invalid(fmt.Sprintf("A port is '%s' or '%s', not '%s'.", command.PortInput, command.PortOutput, c.Kind))
	}
	if c.MaxFlowFiles < 0 || c.MaxBytes < 0 {
		return nil, model.Invalid("Queue bounds cannot be negative.")
	}
	if _, ok, err := w.port(c.ID); err != nil {
		return nil, err
	} else if ok {
		return nil, model.Conflict(fmt.Sprintf("A port with id '%s' already exists.", c.ID))
	}
	if w.b(tPortNames).Get(nameKey(c.Kind, c.Name)) != nil {
		return nil, model.Conflict(fmt.Sprintf("An %s port named '%s' already exists.", c.Kind, c.Name))
	}
	if c.From != "" {
		if c.Kind != command.PortOutput {
			return nil, model.Invalid("Only an output port is fed from another port.")
		}
		if err := w.checkFeed(c.From, ""); err != nil {
			return nil, err
		}
	}
	p := Port{ID: c.ID, Name: c.Name, Kind: c.Kind, From: c.From, Comments: c.Comments, Enabled: true,
		MaxFlowFiles: c.MaxFlowFiles, MaxBytes: c.MaxBytes, Created: c.At, Modified: c.At}
	if err := put(w.b(tPorts), []byte(p.ID), p); err != nil {
		return nil, err
	}
	if err := w.b(tPortNames).Put(nameKey(p.Kind, p.Name), []byte(p.ID)); err != nil {
		return nil, err
	}
	if p.Kind == command.PortInput {
		if err := put(w.b(tQueues), []byte(p.ID), Stats{}); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// checkFeed checks that input port from may feed an output port (other
// than self): it exists, is an input port and feeds no other output port
// (a queue has one reader, so two outputs would each see half the data).
func (w wtx) checkFeed(from, self string) error {
	src, ok, err := w.port(from)
	if err != nil {
		return err
	}
	if !ok || src.Kind != command.PortInput {
		return model.Invalid(fmt.Sprintf("'%s' is not an input port; an output port is fed from an input port.", from))
	}
	return w.b(tPorts).ForEach(func(_, v []byte) error {
		var p Port
		if err := json.Unmarshal(v, &p); err != nil {
			return fmt.Errorf("corrupt port record: %w", err)
		}
		if p.From == from && p.ID != self {
			return model.Conflict(fmt.Sprintf("Input port '%s' already feeds output port '%s'.", src.Name, p.Name))
		}
		return nil
	})
}

func (w wtx) updatePort(c *command.UpdatePort) (any, error) {
	p, ok, err := w.port(c.ID)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, unknownPort(c.ID)
	}
	if (c.MaxFlowFiles != nil && *c.MaxFlowFiles < 0) || (c.MaxBytes != nil && *c.MaxBytes < 0) {
		return nil, model.Invalid("Queue bounds cannot be negative.")
	}
	if c.Enabled != nil {
		p.Enabled = *c.Enabled
	}
	if c.Comments != nil {
		p.Comments = *c.Comments
	}
	if c.MaxFlowFiles != nil {
		p.MaxFlowFiles = *c.MaxFlowFiles
	}
	if c.MaxBytes != nil {
		p.MaxBytes = *c.MaxBytes
	}
	p.Modified = c.At
	return p, put(w.b(tPorts), []byte(p.ID), p)
}

func (w wtx) deletePort(c *command.DeletePort) (any, error) {
	p, ok, err := w.port(c.ID)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, unknownPort(c.ID)
	}
	if p.Kind == command.PortInput {
		st, err := w.stats(p.ID)
		if err != nil {
			return nil, err
		}
		var feeds []Port
		if err := w.b(tPorts).ForEach(func(_, v []byte) error {
			var o Port
			if err := json.Unmarshal(v, &o); err != nil {
				return fmt.Errorf("corrupt port record: %w", err)
			}
			if o.From == p.ID {
				feeds = append(feeds, o)
			}
			return nil
		}); err != nil {
			return nil, err
		}
		if !c.Force && (st.Count > 0 || len(feeds) > 0) {
			return nil, model.Conflict(fmt.Sprintf("Input port '%s' holds %d flowfiles and feeds %d output ports; delete with force to drop them.", p.Name, st.Count, len(feeds)))
		}
		if err := w.dropQueue(p.ID); err != nil {
			return nil, err
		}
		for _, o := range feeds {
			o.From = ""
			if err := put(w.b(tPorts), []byte(o.ID), o); err != nil {
				return nil, err
			}
		}
	}
	if err := w.b(tPortNames).Delete(nameKey(p.Kind, p.Name)); err != nil {
		return nil, err
	}
	return p, w.b(tPorts).Delete([]byte(p.ID))
}

// dropQueue deletes a queue with its flowfiles and their content. Leases
// on it stay until acked, released or expired; they find nothing.
func (w wtx) dropQueue(queue string) error {
	pre := key(queue)
	c := w.b(tFlows).Cursor()
	for k, v := c.Seek(pre); k != nil && bytes.HasPrefix(k, pre); k, v = c.Seek(pre) {
		f, err := decodeFlow(v)
		if err != nil {
			return err
		}
		if err := w.b(tFlows).Delete(k); err != nil {
			return err
		}
		if err := w.flowGone(f.Tx); err != nil {
			return err
		}
	}
	return w.b(tQueues).Delete([]byte(queue))
}

// flowGone counts one flowfile of a committed tx as gone and deletes the
// tx's content once none is left.
func (w wtx) flowGone(tx string) error { return w.flowsGone(tx, 1) }

// flowsGone is flowGone for n flowfiles of one transaction at once.
func (w wtx) flowsGone(tx string, n int64) error {
	var t txRec
	ok, err := get(w.b(tTxs), []byte(tx), &t)
	if err != nil || !ok {
		return err
	}
	t.Remaining -= n
	if t.Remaining > 0 {
		return put(w.b(tTxs), []byte(tx), t)
	}
	if err := w.b(tTxs).Delete([]byte(tx)); err != nil {
		return err
	}
	return w.deleteChunks(tx)
}

// txGone counts the flowfiles of one push transaction an ack removed.
type txGone struct {
	tx string
	n  int64
}

// countGone adds one flowfile of tx to gone, in the order the
// transactions first appear (a lease's flowfiles are in queue order, so
// one transaction's are together and the last entry is nearly always it).
func countGone(gone []txGone, tx string) []txGone {
	for i := len(gone) - 1; i >= 0; i-- {
		if gone[i].tx == tx {
			gone[i].n++
			return gone
		}
	}
	return append(gone, txGone{tx: tx, n: 1})
}

func (w wtx) deletePrefixed(table []byte, id string) error {
	pre := key(id)
	b := w.b(table)
	c := b.Cursor()
	for k, _ := c.Seek(pre); k != nil && bytes.HasPrefix(k, pre); k, _ = c.Seek(pre) {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// deleteChunks deletes the chunks of tx, telling w.gone the files of
// those kept in files.
func (w wtx) deleteChunks(tx string) error {
	pre := key(tx)
	b := w.b(tChunks)
	c := b.Cursor()
	for k, v := c.Seek(pre); k != nil && bytes.HasPrefix(k, pre); k, v = c.Seek(pre) {
		if v != nil { // a plain value: written by builds before putChunk
			if err := b.Delete(k); err != nil {
				return err
			}
			continue
		}
		if ref, ok := refIn(b, k); ok {
			w.gone(ref.SHA256)
		}
		if err := b.DeleteBucket(k); err != nil {
			return err
		}
	}
	return nil
}

// chunkValue and chunkRef are the keys of the one value in a chunk's
// bucket: its bytes, or the file that holds them (fileRef).
var (
	chunkValue = []byte("d")
	chunkRef   = []byte("r")
)

// FileRef is a chunk kept in a file: the file's SHA-256 and the chunk's
// size; the file is ChunkFileHeader followed by the chunk's bytes.
type FileRef struct {
	SHA256 string
	Size   int64
}

func (r FileRef) encode() []byte {
	b := make([]byte, sha256.Size, sha256.Size+8)
	hex.Decode(b, []byte(r.SHA256))
	return binary.BigEndian.AppendUint64(b, uint64(r.Size))
}

// refIn reads the file reference of the chunk bucket under k.
func refIn(b *bolt.Bucket, k []byte) (FileRef, bool) {
	cb := b.Bucket(k)
	if cb == nil {
		return FileRef{}, false
	}
	v := cb.Get(chunkRef)
	if len(v) != sha256.Size+8 {
		return FileRef{}, false
	}
	return FileRef{SHA256: hex.EncodeToString(v[:sha256.Size]), Size: int64(binary.BigEndian.Uint64(v[sha256.Size:]))}, true
}

// ChunkFileHeader is what a chunk's file holds before the chunk's bytes:
// its key (transaction id and stream offset). It makes every chunk's file
// its own, even for equal bytes, so a file can go with its chunk.
func ChunkFileHeader(tx string, off int64) []byte {
	return append([]byte(chunkFileMagic), keyN(tx, uint64(off))...)
}

const chunkFileMagic = "weir.s2s.chunk\x00"

// ChunkFileHeaderLen is len(ChunkFileHeader(tx, off)), whatever off.
func ChunkFileHeaderLen(tx string) int64 {
	return int64(len(chunkFileMagic) + len(key(tx)) + 8)
}

// putRef stores a chunk kept in a file, as putChunk stores its bytes.
func putRef(b *bolt.Bucket, k []byte, ref FileRef) error {
	cb, err := b.CreateBucket(k)
	if err != nil {
		return err
	}
	return cb.Put(chunkRef, ref.encode())
}

// putChunk stores a chunk of a push transaction's stream in a bucket of
// its own under k. bbolt keeps values inside their leaf node and does not
// split a leaf of four entries or fewer, so chunks stored as plain values
// shared leaves two to four at a time, and every insert or delete next to
// one rewrote them all: 19.7 bytes written per byte pushed, over the three
// nodes, in bench/s2s's 1 KiB push. A bucket's pages are its own; its
// neighbours' changes rewrite only the small bucket header in the parent.
func putChunk(b *bolt.Bucket, k, data []byte) error {
	cb, err := b.CreateBucket(k)
	if err != nil {
		return err
	}
	return cb.Put(chunkValue, data)
}

// getChunk returns the chunk stored under k, or nil.
func getChunk(b *bolt.Bucket, k []byte) []byte {
	if v := b.Get(k); v != nil {
		return v // a plain value: written by builds before putChunk
	}
	return chunkIn(b, k, nil)
}

// chunkIn returns the chunk of a cursor entry (k, v) of the chunk table.
func chunkIn(b *bolt.Bucket, k, v []byte) []byte {
	if v != nil {
		return v
	}
	if cb := b.Bucket(k); cb != nil {
		return cb.Get(chunkValue)
	}
	return nil
}

// ---- push

// enabledPort is the enabled port id of kind (command.PortInput or
// PortOutput), or the refusal a client gets for it.
func (w wtx) enabledPort(id, kind string) (Port, error) {
	p, ok, err := w.port(id)
	if err != nil {
		return p, err
	}
	if !ok || p.Kind != kind {
		return p, unknownPort(id)
	}
	if !p.Enabled {
		name := "Input"
		if kind == command.PortOutput {
			name = "Output"
		}
		return p, refuse(model.KindUnavailable, ReasonNotRunning, fmt.Sprintf("%s port '%s' is disabled.", name, p.Name))
	}
	return p, nil
}

// freeFlow is a flowfile takeFree found: its key and record as stored.
type freeFlow struct {
	Flow
	key []byte
	rec flowRec
}

// takeFree walks queue from its head and returns, in order, the
// flowfiles no replicated lease holds and skip does not exclude: the
// first one, then more up to maxCount flowfiles and maxBytes (0: no
// byte bound).
func takeFree(btx *bolt.Tx, queue string, skip func(key []byte, seq uint64) bool, maxCount, maxBytes int64) ([]freeFlow, error) {
	var out []freeFlow
	var n int64
	pre := key(queue)
	fc := btx.Bucket(tFlows).Cursor()
	for k, v := fc.Seek(pre); k != nil && bytes.HasPrefix(k, pre); k, v = fc.Next() {
		if leasedRaw(v) {
			continue // held by a replicated lease: not decoded
		}
		seq := binary.BigEndian.Uint64(k[len(pre):])
		if skip != nil && skip(k, seq) {
			continue
		}
		f, err := decodeFlow(v)
		if err != nil {
			return nil, err
		}
		if f.Lease != "" {
			continue
		}
		if len(out) > 0 && (int64(len(out)) >= maxCount || (maxBytes > 0 && n+f.Size > maxBytes)) {
			break
		}
		out = append(out, freeFlow{Flow: f.flow(seq), key: bytes.Clone(k), rec: f})
		n += f.Size
	}
	return out, nil
}

// chunkCmd is a StageChunk or a StageChunkRef: Size bytes at Off, in Data
// or in the file SHA256.
type chunkCmd struct {
	Port    string
	Tx      string
	Off     int64
	Packets []int64
	At      int64
	Size    int64
	Data    []byte
	SHA256  string
}

func (w wtx) stageChunk(c chunkCmd) (any, error) {
	s, again, err := w.checkChunk(c)
	if err != nil || again {
		return nil, err
	}
	if err := w.putChunk(c, s); err != nil {
		return nil, err
	}
	return nil, w.putRefs(c.Tx, c.Packets)
}

// checkChunk finds every reason to refuse chunk c before anything is
// written, and returns the transaction's staged record as it would be
// with the chunk (again: the chunk is staged already, a proposal retried
// after its answer was lost, and nothing is to be written).
func (w wtx) checkChunk(c chunkCmd) (s stagedRec, again bool, err error) {
	if c.Tx == "" {
		return s, false, model.Invalid("A staged chunk needs a transaction id.")
	}
	if _, err := w.enabledPort(c.Port, command.PortInput); err != nil {
		return s, false, err
	}
	ok, err := get(w.b(tStaged), []byte(c.Tx), &s)
	if err != nil {
		return s, false, err
	}
	switch {
	case !ok && w.b(tTxs).Get([]byte(c.Tx)) != nil:
		// Staging again under a committed transaction's id would let a
		// later drop delete content its queued flowfiles point to.
		return s, false, unknownTx(c.Tx)
	case !ok && c.Off != 0:
		return s, false, unknownTx(c.Tx)
	case !ok:
		s = stagedRec{Port: c.Port, At: c.At}
	case s.Port != c.Port:
		return s, false, model.Invalid(fmt.Sprintf("Transaction '%s' stages for another port.", c.Tx))
	case c.Off < s.Next:
		// Accept a retried proposal again if it is the chunk already
		// staged there, and change nothing.
		k := keyN(c.Tx, uint64(c.Off))
		if c.SHA256 != "" {
			if ref, ok := refIn(w.b(tChunks), k); ok && ref == (FileRef{SHA256: c.SHA256, Size: c.Size}) {
				return s, true, nil
			}
		} else if got := getChunk(w.b(tChunks), k); got != nil && bytes.Equal(got, c.Data) {
			return s, true, nil
		}
		return s, false, model.Invalid(fmt.Sprintf("Chunk at %d of transaction '%s' overlaps what is staged (%d bytes).", c.Off, c.Tx, s.Next))
	case c.Off > s.Next:
		return s, false, model.Invalid(fmt.Sprintf("Chunk at %d of transaction '%s' leaves a gap after %d staged bytes.", c.Off, c.Tx, s.Next))
	}
	// The packets lie back to back in the stream, and those listed here
	// end in this chunk.
	end := c.Off + c.Size
	if len(c.Packets)%3 != 0 {
		return s, false, model.Invalid("Packet references come in triples (offset, length, size).")
	}
	next := s.NextPacket
	for i := 0; i < len(c.Packets); i += 3 {
		off, n, sz := c.Packets[i], c.Packets[i+1], c.Packets[i+2]
		if off != next || n <= 0 || sz < 0 || sz > n || off > end-n || off+n <= c.Off {
			return s, false, model.Invalid(fmt.Sprintf("Packet reference (%d, %d, %d) is not the next packet (at %d) ending in the chunk at %d of %d bytes.", off, n, sz, next, c.Off, c.Size))
		}
		next = off + n
		s.Count++
		s.Bytes += sz
	}
	s.Next, s.NextPacket = end, next
	return s, false, nil
}

// putChunk writes chunk c, accepted by checkChunk, and s, the staged
// record checkChunk returned, but not the references of the packets that
// end in it (putRefs): a StageCommit hands those straight to the queue.
func (w wtx) putChunk(c chunkCmd, s stagedRec) error {
	// Now that the chunk is accepted: forget pushes whose nodes died.
	if err := w.dropStale(c.At, c.Tx); err != nil {
		return err
	}
	switch {
	case c.SHA256 != "":
		if err := putRef(w.b(tChunks), keyN(c.Tx, uint64(c.Off)), FileRef{SHA256: c.SHA256, Size: c.Size}); err != nil {
			return err
		}
	case len(c.Data) > 0:
		if err := putChunk(w.b(tChunks), keyN(c.Tx, uint64(c.Off)), c.Data); err != nil {
			return err
		}
	}
	return put(w.b(tStaged), []byte(c.Tx), s)
}

// putRefs writes the references of staged packets (offset, length, size
// triples) for commitTx to queue.
func (w wtx) putRefs(tx string, packets []int64) error {
	for i := 0; i+2 < len(packets); i += 3 {
		var v [16]byte
		binary.BigEndian.PutUint64(v[:], uint64(packets[i+1]))
		binary.BigEndian.PutUint64(v[8:], uint64(packets[i+2]))
		if err := w.b(tRefs).Put(keyN(tx, uint64(packets[i])), v[:]); err != nil {
			return err
		}
	}
	return nil
}

// dropStale drops staged transactions other than keep older than
// StaleStaging at time at.
func (w wtx) dropStale(at int64, keep string) error {
	var stale []string
	if err := w.b(tStaged).ForEach(func(k, v []byte) error {
		var s stagedRec
		if err := json.Unmarshal(v, &s); err != nil {
			return fmt.Errorf("corrupt staged record: %w", err)
		}
		if string(k) != keep && at-s.At > StaleStaging {
			stale = append(stale, string(k))
		}
		return nil
	}); err != nil {
		return err
	}
	for _, tx := range stale {
		if err := w.dropTx(tx); err != nil {
			return err
		}
	}
	return nil
}

func (w wtx) dropTx(tx string) error {
	if w.b(tStaged).Get([]byte(tx)) == nil {
		return nil
	}
	if err := w.deleteChunks(tx); err != nil {
		return err
	}
	if err := w.deletePrefixed(tRefs, tx); err != nil {
		return err
	}
	return w.b(tStaged).Delete([]byte(tx))
}

func (w wtx) commitTx(c *command.CommitTx) (any, error) { return w.commit(c, nil) }

// commit queues the flowfiles of c's staged transaction: those whose
// references were staged, then those of last, packets (offset, length,
// size triples) of the transaction's last chunk that StageCommit staged
// without references. The caller checked last against the staged record:
// its packets come after every staged one.
func (w wtx) commit(c *command.CommitTx, last []int64) (any, error) {
	var s stagedRec
	ok, err := get(w.b(tStaged), []byte(c.Tx), &s)
	if err != nil {
		return nil, err
	}
	if !ok {
		if c.Count == 0 && c.Bytes == 0 {
			return CommitResult{}, nil // nothing was pushed
		}
		if w.b(tTxs).Get([]byte(c.Tx)) != nil {
			return CommitResult{Count: c.Count}, nil // a retried commit
		}
		return nil, unknownTx(c.Tx)
	}
	if s.Port != c.Port {
		return nil, model.Invalid(fmt.Sprintf("Transaction '%s' was staged for another port.", c.Tx))
	}
	if s.Count != c.Count || s.Bytes != c.Bytes {
		return nil, model.Invalid(fmt.Sprintf("Transaction '%s' staged %d flowfiles of %d bytes, not %d of %d.", c.Tx, s.Count, s.Bytes, c.Count, c.Bytes))
	}
	p, err := w.enabledPort(c.Port, command.PortInput)
	if err != nil {
		return nil, err
	}
	// Expired flowfiles do not count against the bounds.
	if _, err := w.expireHead(p, c.At, LeaseExpireMax); err != nil {
		return nil, err
	}
	st, err := w.stats(p.ID)
	if err != nil {
		return nil, err
	}
	if (p.MaxFlowFiles > 0 && st.Count+c.Count > p.MaxFlowFiles) || (p.MaxBytes > 0 && st.Bytes+c.Bytes > p.MaxBytes) {
		return nil, refuse(model.KindUnavailable, ReasonFull, fmt.Sprintf("Input port '%s' is full (%d flowfiles, %d bytes queued).", p.Name, st.Count, st.Bytes))
	}
	res := CommitResult{First: st.NextSeq, Count: c.Count}
	pre := key(c.Tx)
	rc := w.b(tRefs).Cursor()
	for k, v := rc.Seek(pre); k != nil && bytes.HasPrefix(k, pre); k, v = rc.Seek(pre) {
		if len(v) != 16 || len(k) != len(pre)+8 {
			return nil, fmt.Errorf("corrupt staged packet reference %q", k)
		}
		f := flowRec{Tx: c.Tx, Off: int64(binary.BigEndian.Uint64(k[len(pre):])),
			Len: int64(binary.BigEndian.Uint64(v)), Size: int64(binary.BigEndian.Uint64(v[8:]))}
		if err := w.queueFlow(p.ID, &st, f); err != nil {
			return nil, err
		}
		if err := w.b(tRefs).Delete(k); err != nil {
			return nil, err
		}
	}
	for i := 0; i+2 < len(last); i += 3 {
		if err := w.queueFlow(p.ID, &st, flowRec{Tx: c.Tx, Off: last[i], Len: last[i+1], Size: last[i+2]}); err != nil {
			return nil, err
		}
	}
	st.Count += c.Count
	st.Bytes += c.Bytes
	if err := put(w.b(tQueues), []byte(p.ID), st); err != nil {
		return nil, err
	}
	if err := w.b(tStaged).Delete([]byte(c.Tx)); err != nil {
		return nil, err
	}
	if c.Count == 0 {
		return res, w.deleteChunks(c.Tx)
	}
	res.Backoff = above(st.Count, p.MaxFlowFiles) || above(st.Bytes, p.MaxBytes)
	t := txRec{Remaining: c.Count}
	if p.AgeSince != 0 {
		t.At = c.At
	}
	return res, put(w.b(tTxs), []byte(c.Tx), t)
}

// queueFlow puts f at the tail of port's queue, whose stats are st.
func (w wtx) queueFlow(port string, st *Stats, f flowRec) error {
	if err := w.b(tFlows).Put(keyN(port, st.NextSeq), f.encode()); err != nil {
		return err
	}
	st.NextSeq++
	return nil
}

// stageCommit stages a push's last chunk and commits the push. Every
// refusal but a full port is found before anything is written; a full
// port leaves the chunk staged and answers Full, so that the command is
// not a refusal that wrote.
func (w wtx) stageCommit(c *command.StageCommit) (any, error) {
	if c.Tx == "" {
		return nil, model.Invalid("A staged chunk needs a transaction id.")
	}
	if w.b(tStaged).Get([]byte(c.Tx)) == nil && w.b(tTxs).Get([]byte(c.Tx)) != nil {
		return CommitResult{Count: c.Count}, nil // a retried proposal
	}
	if c.SHA256 != "" && !blobs.ValidSHA(c.SHA256) {
		return nil, model.Invalid("A chunk file needs a SHA-256 in lower-case hex and a size.")
	}
	chunk := chunkCmd{Port: c.Port, Tx: c.Tx, Off: c.Off, Packets: c.Packets, At: c.At, Size: c.Size, SHA256: c.SHA256, Data: c.Data}
	after, again, err := w.checkChunk(chunk)
	if err != nil {
		return nil, err
	}
	// The commit's counts, checked against what staging the chunk leaves.
	if after.Count != c.Count || after.Bytes != c.Bytes {
		return nil, model.Invalid(fmt.Sprintf("Transaction '%s' would stage %d flowfiles of %d bytes, not %d of %d.", c.Tx, after.Count, after.Bytes, c.Count, c.Bytes))
	}
	// The chunk's packets go straight to the queue: writing their
	// references only for the commit to read and delete them again was
	// half of the apply of a push of 1,024 small flowfiles. A chunk staged
	// already (a retried proposal) has its references.
	var last []int64
	if !again {
		if err := w.putChunk(chunk, after); err != nil {
			return nil, err
		}
		last = c.Packets
	}
	res, err := w.commit(&command.CommitTx{Port: c.Port, Tx: c.Tx, Count: c.Count, Bytes: c.Bytes, At: c.At}, last)
	var me *model.Error
	if errors.As(err, &me) && me.Reason == ReasonFull {
		// The transaction stays staged, whole, as after a refused
		// CommitTx: its last packets' references are written now.
		return CommitResult{Full: true}, w.putRefs(c.Tx, last)
	}
	return res, err
}

// above reports v over SoftLimitPercent of bound (when bounded), without
// overflowing on bounds near the largest int64.
func above(v, bound int64) bool {
	return bound > 0 && float64(v) > float64(bound)*SoftLimitPercent/100
}

// ---- pull

// lease hands out the oldest available flowfiles of an output port's
// queue. shared (SharedLease) lets it run beside the queue's other leases
// unless the port is Ordered.
func (w wtx) lease(c *command.Lease, shared bool) (any, error) {
	if c.Tx == "" {
		return nil, model.Invalid("A lease needs a transaction id.")
	}
	p, err := w.enabledPort(c.Port, command.PortOutput)
	if err != nil {
		return nil, err
	}
	if err := w.expireLeases(c.At); err != nil {
		return nil, err
	}
	var l leaseRec
	if ok, err := get(w.b(tLeases), []byte(c.Tx), &l); err != nil {
		return nil, err
	} else if ok {
		return w.leased(l) // a retried proposal
	}
	if p.From == "" || c.MaxCount <= 0 {
		return LeaseResult{}, nil
	}
	// Ordered: one live lease per queue, so flowfiles are handed out
	// strictly in order, and those of a lease that is released or expires
	// are the next to go. A concurrent pull finds nothing (200, empty)
	// until the live one acks, releases or expires. Shared: a lease takes
	// the oldest flowfiles no other lease holds.
	if !shared || p.Ordered {
		if busy, err := w.queueLeased(p.From); err != nil || busy {
			return LeaseResult{}, err
		}
	}
	// Never hand out what retention has expired.
	if in, ok, err := w.port(p.From); err != nil {
		return nil, err
	} else if ok {
		if _, err := w.expireHead(in, c.At, LeaseExpireMax); err != nil {
			return nil, err
		}
	}
	st, err := w.stats(p.From)
	if err != nil {
		return nil, err
	}
	free, err := takeFree(w.tx, p.From, nil, c.MaxCount, c.MaxBytes)
	if err != nil || len(free) == 0 {
		return LeaseResult{}, err
	}
	l = leaseRec{Port: p.ID, Queue: p.From, Expires: c.Expires}
	var out LeaseResult
	for _, f := range free {
		f.rec.Lease = c.Tx
		if err := w.b(tFlows).Put(f.key, f.rec.encode()); err != nil {
			return nil, err
		}
		out.Flows = append(out.Flows, f.Flow)
		l.Seqs = append(l.Seqs, f.Seq)
	}
	st.Leased += int64(len(l.Seqs))
	if err := put(w.b(tQueues), []byte(p.From), st); err != nil {
		return nil, err
	}
	return out, put(w.b(tLeases), []byte(c.Tx), l)
}

// queueLeased reports whether a lease is live on a queue.
func (w wtx) queueLeased(queue string) (bool, error) {
	busy := false
	err := w.b(tLeases).ForEach(func(_, v []byte) error {
		l, err := decodeLeaseHead(v)
		if err != nil {
			return err
		}
		busy = busy || l.Queue == queue
		return nil
	})
	return busy, err
}

// leased lists what an existing lease holds.
func (w wtx) leased(l leaseRec) (LeaseResult, error) {
	flows, err := listFlows(w.tx, l.Queue, l.Seqs)
	return LeaseResult{Flows: flows}, err
}

func (w wtx) expireLeases(at int64) error {
	var expired []string
	if err := w.b(tLeases).ForEach(func(k, v []byte) error {
		l, err := decodeLeaseHead(v)
		if err != nil {
			return err
		}
		if l.Expires <= at {
			expired = append(expired, string(k))
		}
		return nil
	}); err != nil {
		return err
	}
	for _, tx := range expired {
		if err := w.release(tx); err != nil {
			return err
		}
	}
	return nil
}

// endLease ends a lease: ack removes its flowfiles, otherwise they become
// available again in their places.
func (w wtx) endLease(tx string, ack bool) error {
	var l leaseRec
	ok, err := get(w.b(tLeases), []byte(tx), &l)
	if err != nil || !ok {
		return err
	}
	return w.endLeaseRec(tx, l, ack)
}

// endLeaseRec is endLease for a lease record already read.
func (w wtx) endLeaseRec(tx string, l leaseRec, ack bool) error {
	st, err := w.stats(l.Queue)
	if err != nil {
		return err
	}
	// Acked flowfiles are counted off their push transactions once per
	// transaction, not once each: a lease of 1,024 small flowfiles usually
	// holds one or two pushes, and a record read and written per flowfile
	// was a third of an ack's apply (on every node).
	var gone []txGone
	for _, seq := range l.Seqs {
		k := keyN(l.Queue, seq)
		v := w.b(tFlows).Get(k)
		if v == nil {
			continue
		}
		f, err := decodeFlow(v)
		if err != nil {
			return err
		}
		if f.Lease != tx {
			continue
		}
		st.Leased--
		if ack {
			st.Count--
			st.Bytes -= f.Size
			if err := w.b(tFlows).Delete(k); err != nil {
				return err
			}
			gone = countGone(gone, f.Tx)
			continue
		}
		f.Lease = ""
		if err := w.b(tFlows).Put(k, f.encode()); err != nil {
			return err
		}
	}
	for _, g := range gone {
		if err := w.flowsGone(g.tx, g.n); err != nil {
			return err
		}
	}
	if w.b(tQueues).Get([]byte(l.Queue)) != nil {
		if err := put(w.b(tQueues), []byte(l.Queue), st); err != nil {
			return err
		}
	}
	return w.b(tLeases).Delete([]byte(tx))
}

// confirmed is the lease a confirm (Ack, AckSent) of transaction tx at
// time at ends. A lease that is gone, or expired by then, is refused
// before anything is written; its flowfiles go out again.
func (w wtx) confirmed(tx string, at int64) (leaseRec, error) {
	var l leaseRec
	ok, err := get(w.b(tLeases), []byte(tx), &l)
	if err != nil {
		return l, err
	}
	if !ok || l.Expires <= at {
		return l, refuse(model.KindNotFound, ReasonUnknownTx, fmt.Sprintf("The lease of transaction '%s' is gone (it expired or was released); its flowfiles will be sent again.", tx))
	}
	return l, nil
}

func (w wtx) ack(c *command.Ack) error {
	l, err := w.confirmed(c.Tx, c.At)
	if err != nil {
		return err
	}
	if err := w.expireLeases(c.At); err != nil {
		return err
	}
	// expireLeases ended only leases expired by c.At, which this one is
	// not: its record is still the one read above.
	return w.endLeaseRec(c.Tx, l, true)
}

// ackSent acks the lease's flowfiles up to c.Through and releases the
// rest, in their places.
func (w wtx) ackSent(c *command.AckSent) error {
	l, err := w.confirmed(c.Tx, c.At)
	if err != nil {
		return err
	}
	sent, rest := l, l
	sent.Seqs, rest.Seqs = nil, nil
	for _, seq := range l.Seqs {
		if seq <= c.Through {
			sent.Seqs = append(sent.Seqs, seq)
		} else {
			rest.Seqs = append(rest.Seqs, seq)
		}
	}
	if len(sent.Seqs) == 0 {
		return model.Invalid(fmt.Sprintf("The lease of transaction '%s' holds no flowfile up to %d.", c.Tx, c.Through))
	}
	if err := w.expireLeases(c.At); err != nil {
		return err
	}
	// As in ack: this lease is not expired by c.At, so its record is
	// still l. Each part ends the record; the second finds it gone.
	if err := w.endLeaseRec(c.Tx, sent, true); err != nil {
		return err
	}
	return w.endLeaseRec(c.Tx, rest, false)
}

// ackFlows removes the flowfiles an AckFlows names that are still queued
// and held by no replicated lease. Only existing records are visited (a
// cursor from each run's first key), so the work is bounded by what the
// queue holds, whatever the runs claim.
func (w wtx) ackFlows(c *command.AckFlows) error {
	if c.Queue == "" {
		return model.Invalid("An ack needs the queue of its flowfiles.")
	}
	if len(c.Runs) > command.MaxAckRuns {
		return model.Invalid(fmt.Sprintf("An ack names at most %d runs of flowfiles.", command.MaxAckRuns))
	}
	if _, ok := command.CheckRuns(c.Runs); !ok {
		return model.Invalid("An ack's runs of flowfiles must be ascending and apart.")
	}
	if w.b(tQueues).Get([]byte(c.Queue)) == nil {
		return nil // the port and its queue were deleted meanwhile
	}
	st, err := w.stats(c.Queue)
	if err != nil {
		return err
	}
	var keys [][]byte
	var gone []txGone
	err = eachInRuns(w.b(tFlows).Cursor(), c.Queue, c.Runs, func(_ uint64, k, v []byte) error {
		if leasedRaw(v) {
			return nil // a replicated lease holds it: its ack or release decides
		}
		f, err := decodeFlow(v)
		if err != nil {
			return err
		}
		if f.Lease != "" {
			return nil
		}
		keys = append(keys, bytes.Clone(k))
		st.Count--
		st.Bytes -= f.Size
		gone = countGone(gone, f.Tx)
		return nil
	})
	if err != nil {
		return err
	}
	if len(keys) == 0 {
		return nil
	}
	for _, k := range keys { // not while the cursor walks
		if err := w.b(tFlows).Delete(k); err != nil {
			return err
		}
	}
	for _, g := range gone {
		if err := w.flowsGone(g.tx, g.n); err != nil {
			return err
		}
	}
	return put(w.b(tQueues), []byte(c.Queue), st)
}

func (w wtx) release(tx string) error {
	return w.endLease(tx, false)
}

// setting returns port id for a setting of ports of kind, or the refusal
// (wrong is what the message says of the other kind).
func (w wtx) setting(id, kind, wrong string) (Port, error) {
	p, ok, err := w.port(id)
	if err != nil {
		return p, err
	}
	if !ok {
		return p, unknownPort(id)
	}
	if p.Kind != kind {
		return p, model.Invalid(fmt.Sprintf("Port '%s' is an %s port: %s.", p.Name, p.Kind, wrong))
	}
	return p, nil
}

func (w wtx) setOrder(c *command.SetPortOrder) (any, error) {
	p, err := w.setting(c.ID, command.PortOutput, "order is set on the output ports that hand its queue out")
	if err != nil {
		return nil, err
	}
	p.Ordered = c.Ordered
	p.Modified = c.At
	return p, put(w.b(tPorts), []byte(p.ID), p)
}

// ---- retention

func (w wtx) setRetention(c *command.SetPortRetention) (any, error) {
	if c.MaxAge < 0 {
		return nil, model.Invalid("A retention age cannot be negative.")
	}
	p, err := w.setting(c.ID, command.PortInput, "retention is set on the input port whose queue it hands out")
	if err != nil {
		return nil, err
	}
	p.MaxAge = c.MaxAge
	if p.AgeSince == 0 {
		p.AgeSince = c.At
	}
	p.Modified = c.At
	return p, put(w.b(tPorts), []byte(p.ID), p)
}

// ExpireResult is what ExpireFlows answers.
type ExpireResult struct {
	Expired int64 `json:"expired"`
}

func (w wtx) expireFlows(c *command.ExpireFlows) (any, error) {
	p, ok, err := w.port(c.Port)
	if err != nil {
		return nil, err
	}
	if !ok || p.Kind != command.PortInput {
		return nil, unknownPort(c.Port)
	}
	n, err := w.expireHead(p, c.At, c.Max)
	return ExpireResult{Expired: n}, err
}

// expireHead removes up to max unleased flowfiles from the head of input
// port p's queue whose commit is at least p.MaxAge before at.
func (w wtx) expireHead(p Port, at, max int64) (int64, error) {
	gone, err := expiredHead(w.tx, p, at, max)
	if err != nil || len(gone) == 0 {
		return 0, err
	}
	var size int64
	for _, g := range gone {
		if err := w.b(tFlows).Delete(g.key); err != nil {
			return 0, err
		}
		if err := w.flowGone(g.tx); err != nil {
			return 0, err
		}
		size += g.size
	}
	st, err := w.stats(p.ID)
	if err != nil {
		return 0, err
	}
	n := int64(len(gone))
	st.Count -= n
	st.Bytes -= size
	st.Expired += n
	return n, put(w.b(tQueues), []byte(p.ID), st)
}

type expiredFlow struct {
	key  []byte
	tx   string
	size int64
}

// expiredHead lists, in queue order, up to max unleased flowfiles at the
// head of input port p's queue that retention expires at time at. It
// stops at the first unleased flowfile that is younger: commit times come
// from the proposers' clocks and may step back a little across a leader
// change, and order wins. Leased flowfiles are left to their pull.
func expiredHead(btx *bolt.Tx, p Port, at, max int64) ([]expiredFlow, error) {
	if p.MaxAge <= 0 || max <= 0 {
		return nil, nil
	}
	cutoff := at - p.MaxAge
	pre := key(p.ID)
	var gone []expiredFlow
	committed := map[string]int64{}
	fc := btx.Bucket(tFlows).Cursor()
	for k, v := fc.Seek(pre); k != nil && bytes.HasPrefix(k, pre) && int64(len(gone)) < max; k, v = fc.Next() {
		f, err := decodeFlow(v)
		if err != nil {
			return nil, err
		}
		if f.Lease != "" {
			continue
		}
		t, ok := committed[f.Tx]
		if !ok {
			var r txRec
			if _, err := get(btx.Bucket(tTxs), []byte(f.Tx), &r); err != nil {
				return nil, err
			}
			t = r.At
			if t == 0 {
				t = p.AgeSince
			}
			committed[f.Tx] = t
		}
		if t > cutoff {
			break
		}
		gone = append(gone, expiredFlow{key: bytes.Clone(k), tx: f.Tx, size: f.Size})
	}
	return gone, nil
}
