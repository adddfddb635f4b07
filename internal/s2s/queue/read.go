package queue

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	bolt "go.etcd.io/bbolt"

	"github.com/weir-nifi/weir/internal/command"
)

// Ports lists the configured ports, by name.
func Ports(btx *bolt.Tx) ([]Port, error) {
	var out []Port
	err := btx.Bucket(tPorts).ForEach(func(_, v []byte) error {
		var p Port
		if err := json.Unmarshal(v, &p); err != nil {
			return fmt.Errorf("corrupt port record: %w", err)
		}
		out = append(out, p)
		return nil
	})
	slices.SortFunc(out, func(a, b Port) int {
		if c := bytes.Compare([]byte(a.Name), []byte(b.Name)); c != 0 {
			return c
		}
		return bytes.Compare([]byte(a.Kind), []byte(b.Kind))
	})
	return out, err
}

// QueueStats returns the stats of an input port's queue (zero when it
// has none).
func QueueStats(btx *bolt.Tx, queue string) (Stats, error) {
	var s Stats
	_, err := get(btx.Bucket(tQueues), []byte(queue), &s)
	return s, err
}

// ErrMissing is Chunk's answer for content this replica does not hold:
// not applied here yet, or gone.
var ErrMissing = errors.New("content is missing")

// ChunkAt is the chunk of a transaction's stream that holds an offset:
// it starts at Start and holds Data, or, kept in a file, File.Size bytes
// after the file's ChunkFileHeader(tx, Start).
type ChunkAt struct {
	Start int64
	Data  []byte
	File  *FileRef
}

// Chunk returns the staged or committed chunk of transaction tx that
// holds stream offset off, its bytes copied. The copy is what lets a pull
// stream to a slow client without holding a read transaction (which
// would keep bbolt from growing its map).
func Chunk(btx *bolt.Tx, tx string, off int64) (ChunkAt, error) {
	pre := key(tx)
	b := btx.Bucket(tChunks)
	c := b.Cursor()
	k, v := c.Seek(keyN(tx, uint64(off)))
	switch {
	case k == nil:
		k, v = c.Last()
	case !bytes.Equal(k, keyN(tx, uint64(off))):
		k, v = c.Prev()
	}
	if k == nil || !bytes.HasPrefix(k, pre) || len(k) != len(pre)+8 {
		return ChunkAt{}, fmt.Errorf("content of transaction '%s' at %d: %w", tx, off, ErrMissing)
	}
	at := ChunkAt{Start: int64(binary.BigEndian.Uint64(k[len(pre):]))}
	size := int64(0)
	if ref, ok := refIn(b, k); ok && v == nil {
		at.File, size = &ref, ref.Size
	} else {
		v = chunkIn(b, k, v)
		at.Data, size = bytes.Clone(v), int64(len(v))
	}
	if off >= at.Start+size {
		return ChunkAt{}, fmt.Errorf("content of transaction '%s' at %d: %w", tx, off, ErrMissing)
	}
	return at, nil
}

// FileContents lists the chunk files the state refers to (SHA-256 → the
// file's size, header included).
func FileContents(btx *bolt.Tx) (map[string]int64, error) {
	out := map[string]int64{}
	b := btx.Bucket(tChunks)
	c := b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if v != nil {
			continue
		}
		if ref, ok := refIn(b, k); ok {
			tx, _, ok := splitKeyN(k)
			if !ok {
				return nil, fmt.Errorf("corrupt chunk key %q", k)
			}
			out[ref.SHA256] = ChunkFileHeaderLen(tx) + ref.Size
		}
	}
	return out, nil
}

// splitKeyN splits a keyN key into its id and number.
func splitKeyN(k []byte) (string, int64, bool) {
	n, w := binary.Uvarint(k)
	if w <= 0 || uint64(len(k)-w) != n+8 {
		return "", 0, false
	}
	return string(k[w : w+int(n)]), int64(binary.BigEndian.Uint64(k[w+int(n):])), true
}

// Staged reports whether tx has staged content (tests).
func Staged(btx *bolt.Tx, tx string) bool { return btx.Bucket(tStaged).Get([]byte(tx)) != nil }

// Empty reports whether no table holds anything but ports and queue
// stats: nothing staged, queued, leased or kept as content (tests).
func Empty(btx *bolt.Tx) bool {
	for _, t := range [][]byte{tFlows, tStaged, tChunks, tRefs, tTxs, tLeases} {
		if k, _ := btx.Bucket(t).Cursor().First(); k != nil {
			return false
		}
	}
	return true
}

// StagedTxs counts the transactions staging for a port (pushes in flight,
// or left by a node that died mid-push until Apply drops them).
func StagedTxs(btx *bolt.Tx, port string) (int, error) {
	n := 0
	err := btx.Bucket(tStaged).ForEach(func(_, v []byte) error {
		var s stagedRec
		if err := json.Unmarshal(v, &s); err != nil {
			return fmt.Errorf("corrupt staged record: %w", err)
		}
		if s.Port == port {
			n++
		}
		return nil
	})
	return n, err
}

// LiveLease reports the lease held on a queue: its pull transaction and
// when it expires (one lease at a time is live per queue).
func LiveLease(btx *bolt.Tx, queue string) (tx string, expires int64, ok bool, err error) {
	err = btx.Bucket(tLeases).ForEach(func(k, v []byte) error {
		l, err := decodeLeaseHead(v)
		if err != nil {
			return err
		}
		if l.Queue == queue {
			tx, expires, ok = string(k), l.Expires, true
		}
		return nil
	})
	return tx, expires, ok, err
}

// Unheld is how many of a queue's flowfiles a shared lease at time now
// could take: those no lease holds, and those of leases expired by then
// (the lease releases them first).
func Unheld(btx *bolt.Tx, queue string, now int64) (int64, error) {
	st, err := QueueStats(btx, queue)
	if err != nil {
		return 0, err
	}
	n := st.Count - st.Leased
	err = btx.Bucket(tLeases).ForEach(func(_, v []byte) error {
		h, err := decodeLeaseHead(v)
		if err != nil {
			return err
		}
		if h.Queue != queue || h.Expires > now {
			return nil
		}
		var l leaseRec // only an expired lease's flowfiles are counted
		if err := json.Unmarshal(v, &l); err != nil {
			return fmt.Errorf("corrupt lease record: %w", err)
		}
		n += int64(len(l.Seqs))
		return nil
	})
	return n, err
}

// Available lists, in queue order, what a pull of output port port at
// time at may take when the leader keeps leases in memory (level 11): the
// flowfiles of its queue that no replicated lease holds, that held (the
// leader's memory leases) does not report, and that retention has not
// expired; the first such flowfile, then more up to maxCount flowfiles and
// maxBytes. An ordered port is not served this way: ordered is true and
// nothing is listed. A missing or disabled port is refused as Lease
// refuses it.
func Available(btx *bolt.Tx, port string, at int64, held func(queue string, seq uint64) bool, maxCount, maxBytes int64) (queue string, flows []Flow, ordered bool, err error) {
	w := wtx{tx: btx}
	p, err := w.enabledPort(port, command.PortOutput)
	if err != nil {
		return "", nil, false, err
	}
	if p.Ordered {
		return p.From, nil, true, nil
	}
	if p.From == "" || maxCount <= 0 {
		return p.From, nil, false, nil
	}
	// Never hand out what retention has expired (the leader's next
	// ExpireFlows removes it).
	var expired map[string]bool
	if in, ok, err := w.port(p.From); err != nil {
		return "", nil, false, err
	} else if ok {
		gone, err := expiredHead(btx, in, at, LeaseExpireMax)
		if err != nil {
			return "", nil, false, err
		}
		for _, g := range gone {
			if expired == nil {
				expired = map[string]bool{}
			}
			expired[string(g.key)] = true
		}
	}
	free, err := takeFree(btx, p.From, func(k []byte, seq uint64) bool { return expired[string(k)] || held(p.From, seq) }, maxCount, maxBytes)
	if err != nil {
		return "", nil, false, err
	}
	for _, f := range free {
		flows = append(flows, f.Flow)
	}
	return p.From, flows, false, nil
}

// listFlows lists the flowfiles of queue with the given sequence numbers that
// are still queued, in that order (what a replicated lease holds).
func listFlows(btx *bolt.Tx, queue string, seqs []uint64) ([]Flow, error) {
	var out []Flow
	for _, seq := range seqs {
		v := btx.Bucket(tFlows).Get(keyN(queue, seq))
		if v == nil {
			continue
		}
		f, err := decodeFlow(v)
		if err != nil {
			return nil, err
		}
		out = append(out, f.flow(seq))
	}
	return out, nil
}

// FlowRuns lists the flowfiles of queue whose sequence numbers are in
// runs (ascending [first, last] pairs) and that are still queued, in
// order: the records of a memory lease (a follower's copy of a grant, or
// the leader's answer to a retried one). One cursor walk per run, not a
// lookup per flowfile.
func FlowRuns(btx *bolt.Tx, queue string, runs [][2]uint64) ([]Flow, error) {
	var out []Flow
	err := eachInRuns(btx.Bucket(tFlows).Cursor(), queue, runs, func(seq uint64, _, v []byte) error {
		f, err := decodeFlow(v)
		if err != nil {
			return err
		}
		out = append(out, f.flow(seq))
		return nil
	})
	return out, err
}

// eachInRuns calls fn, in order, with each flowfile record of queue whose
// sequence number is in runs (ascending [first, last] pairs). It walks a
// cursor from each run's first key, so only existing records are visited
// and the work is bounded by what the queue holds, whatever the runs
// claim. fn must not change the table (the cursor is still walking).
func eachInRuns(c *bolt.Cursor, queue string, runs [][2]uint64, fn func(seq uint64, k, v []byte) error) error {
	pre := key(queue)
	for _, r := range runs {
		last := keyN(queue, r[1])
		for k, v := c.Seek(keyN(queue, r[0])); k != nil && bytes.HasPrefix(k, pre) && bytes.Compare(k, last) <= 0; k, v = c.Next() {
			if len(k) != len(pre)+8 {
				return fmt.Errorf("corrupt queue key %q", k)
			}
			if err := fn(binary.BigEndian.Uint64(k[len(pre):]), k, v); err != nil {
				return err
			}
		}
	}
	return nil
}

// Expirable reports whether retention expires anything at the head of
// input port p's queue at time at (an ExpireFlows would remove something).
func Expirable(btx *bolt.Tx, p Port, at int64) (bool, error) {
	gone, err := expiredHead(btx, p, at, 1)
	return len(gone) > 0, err
}

// decodeLeaseHead reads a lease record's queue and expiry without scanning
// its flowfile list. Every Lease and Ack scans all lease records, and so
// does a pull's check for anything to lease; a record of 1,024 flowfiles
// is about 8 KB of JSON, which json.Unmarshal validates whole even into a
// struct without the list: with 16 pulls at once that was a third of the
// apply of a lease or an ack. Records are json.Marshal of leaseRec, the
// list last, so a token reader stops after the two fields; a record in
// another field order is read as far as needed. Keys match exactly (the
// writer's), and the first of a repeated key counts.
func decodeLeaseHead(v []byte) (leaseHead, error) {
	var h leaseHead
	corrupt := func(err error) (leaseHead, error) { return h, fmt.Errorf("corrupt lease record: %w", err) }
	d := json.NewDecoder(bytes.NewReader(v))
	if t, err := d.Token(); err != nil {
		return corrupt(err)
	} else if t != json.Delim('{') {
		return corrupt(fmt.Errorf("not an object: %v", t))
	}
	var haveQueue, haveExpires bool
	for !(haveQueue && haveExpires) && d.More() {
		t, err := d.Token()
		if err != nil {
			return corrupt(err)
		}
		switch t {
		case "queue":
			haveQueue, err = true, d.Decode(&h.Queue)
		case "expires":
			haveExpires, err = true, d.Decode(&h.Expires)
		default:
			var skip json.RawMessage
			err = d.Decode(&skip)
		}
		if err != nil {
			return corrupt(err)
		}
	}
	return h, nil
}
