package queue_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/weir-nifi/weir/internal/command"
	"github.com/weir-nifi/weir/internal/model"
	"github.com/weir-nifi/weir/internal/s2s/codec"
	"github.com/weir-nifi/weir/internal/s2s/queue"
	"github.com/weir-nifi/weir/internal/store"
)

// FuzzApplyS2S drives the site-to-site state machine through the store
// with command sequences built from the fuzz input: ports created,
// updated and deleted over a small pool of ids and names (so they clash),
// pushes staged in chunks of real packets cut at any length (with
// mangled offsets, data and packet triples now and then), commits with
// right and wrong counts, leases, acks and releases over a pool of pull
// transactions, times that jump (stale staging, lease expiry) or take odd
// values, retried proposals, and hostile ids (empty, at bbolt's key
// limit).
//
// Store A applies every entry alone, store B the same entries in batches
// of random sizes. Checked after every entry:
//   - Apply never fails: every bad input is a refusal, a *model.Error in
//     the entry's result (any other error stalls the cluster);
//   - a refusal changes no q.* table (time-driven housekeeping runs only
//     for commands that are accepted);
//   - the registry's state hash never changes;
//   - queue stats (Count, Bytes, Leased) match a recount of q.flows, and
//     the other cross-table invariants of checkInvariants hold;
//   - A and B give the same results and end byte-identical in q.*.
//
// The corpus entries testdata/fuzz/FuzzApplyS2S/bug-* are inputs that
// found real bugs (see the TestRegression* tests); they run on every go
// test.
func FuzzApplyS2S(f *testing.F) {
	for _, s := range s2sSeeds() {
		f.Add(s)
	}
	dir := f.TempDir()
	var n atomic.Int64
	f.Fuzz(func(t *testing.T, data []byte) {
		i := n.Add(1)
		a := openFuzzQ(t, filepath.Join(dir, fmt.Sprintf("%d-a.db", i)))
		b := openFuzzQ(t, filepath.Join(dir, fmt.Sprintf("%d-b.db", i)))
		runS2S(t, a, b, data)
	})
}

var (
	s2sTrace = os.Getenv("WEIR_FUZZ_TRACE") != ""
)

const (
	s2sMaxOps   = 60
	s2sMaxBatch = 4
)

func openFuzzQ(t *testing.T, path string) *store.Store {
	t.Helper()
	st, err := store.Open(path, store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		st.Close()
		os.Remove(path)
	})
	return st
}

// ---- the generator

type s2sGen struct {
	b []byte
	i int
}

func (g *s2sGen) more() bool { return g.i < len(g.b) }

func (g *s2sGen) u8() byte {
	if g.i >= len(g.b) {
		return 0
	}
	v := g.b[g.i]
	g.i++
	return v
}

func (g *s2sGen) pick(n int) int { return int(g.u8()) % n }

func (g *s2sGen) bytes(max int) []byte {
	out := make([]byte, g.pick(max+1))
	for i := range out {
		out[i] = g.u8()
	}
	return out
}

// Ids around bbolt's key limit: a queue key is uvarint(len) + id + 8
// bytes, so MaxKeySize-11 fits every key and MaxKeySize-10 does not (but
// passes the store's argument check; see TestBugIDAtKeyLimitStallsApply).
var (
	longOK  = strings.Repeat("L", bolt.MaxKeySize-11)
	longBad = strings.Repeat("B", bolt.MaxKeySize-10)
	tooLong = strings.Repeat("T", bolt.MaxKeySize+1)

	s2sPortIDs  = []string{"in1", "in2", "out1", "out2", "in1", "out1", "", "x", longOK, longBad, tooLong}
	s2sPushTxs  = []string{"t1", "t2", "t3", "t1", "", longOK, longBad}
	s2sPullTxs  = []string{"l1", "l2", "l3", "t1", "", longOK}
	s2sNames    = []string{"a", "b", "c", "a", "", " ", "\x00", strings.Repeat("n", bolt.MaxKeySize)}
	s2sKinds    = []string{command.PortInput, command.PortOutput, command.PortInput, command.PortOutput, "", "funnel"}
	s2sBounds   = []int64{0, 0, 0, 1, 2, 3, 5, 100, 1000, -1, math.MaxInt64, math.MinInt64}
	s2sCounts   = []int64{1, 2, 3, 10, 0, -1, math.MaxInt64, math.MinInt64}
	s2sOdd      = []int64{0, 1, -1, 2, 7, 100, 1 << 20, math.MaxInt64, math.MinInt64, math.MaxInt64 - 1, math.MinInt64 + 1, 1 << 62, -(1 << 62)}
	s2sTimeJump = []int64{0, 1, 10, 100, 1000, queue.StaleStaging, queue.StaleStaging + 1, -1, -queue.StaleStaging - 1}
)

// mangle is -1 (leave it right) for bytes below 0xA0, else which of n
// ways to get it wrong.
func (g *s2sGen) mangle(n int) int {
	if v := g.u8(); v >= 0xA0 {
		return int(v-0xA0) % n
	}
	return -1
}

func (g *s2sGen) from(pool []string) string { return pool[g.pick(len(pool))] }
func (g *s2sGen) odd() int64                { return s2sOdd[g.pick(len(s2sOdd))] }

// ---- the view of store A the generator builds on

type s2sView struct {
	staged map[string]stagedView
	txs    map[string]bool
}

type stagedView struct {
	Port  string `json:"port"`
	At    int64  `json:"at"`
	Next  int64  `json:"next"`
	Count int64  `json:"count"`
	Bytes int64  `json:"bytes"`
}

type leaseView struct {
	Port    string   `json:"port"`
	Queue   string   `json:"queue"`
	Expires int64    `json:"expires"`
	Seqs    []uint64 `json:"seqs"`
}

func viewOf(t *testing.T, d tableDump) s2sView {
	v := s2sView{staged: map[string]stagedView{}, txs: map[string]bool{}}
	for k, raw := range d["q.staged"] {
		var s stagedView
		if err := json.Unmarshal([]byte(raw), &s); err != nil {
			t.Fatalf("staged %q: %v", k, err)
		}
		v.staged[k] = s
	}
	for k := range d["q.txs"] {
		v.txs[k] = true
	}
	return v
}

// plan is the packet stream a push transaction id stages: real packets,
// built once per id and iteration from the input.
type plan struct {
	stream []byte
	off, n []int64
	size   []int64
}

func (g *s2sGen) newPlan(t *testing.T) *plan {
	var buf bytes.Buffer
	enc := codec.NewEncoder(&buf, false)
	p := &plan{}
	for range g.pick(5) {
		attrs := map[string]string{}
		for range g.pick(3) {
			attrs[string(g.bytes(4))] = string(g.bytes(8))
		}
		var content []byte
		switch g.pick(4) {
		case 0:
		case 1, 2:
			content = g.bytes(40)
		case 3:
			content = bytes.Repeat([]byte{g.u8()}, 100*g.pick(20))
		}
		start := int64(buf.Len())
		if err := enc.Encode(attrs, int64(len(content)), bytes.NewReader(content)); err != nil {
			t.Fatal(err)
		}
		p.off = append(p.off, start)
		p.n = append(p.n, int64(buf.Len())-start)
		p.size = append(p.size, int64(len(content)))
	}
	p.stream = buf.Bytes()
	return p
}

// ---- the interpreter

type s2sRun struct {
	t     *testing.T
	g     *s2sGen
	a, b  *store.Store
	idx   uint64
	clock int64
	hash  string
	plans map[string]*plan
	// B's pending batch and A's results for it.
	pending []store.Entry
	want    []store.Result
	last    []byte    // the previous entry, for retries
	cur     tableDump // A's q.* tables now
}

func runS2S(t *testing.T, a, b *store.Store, data []byte) {
	h, _, err := a.StateHash()
	if err != nil {
		t.Fatal(err)
	}
	r := &s2sRun{t: t, g: &s2sGen{b: data}, a: a, b: b, clock: 1000, hash: h, plans: map[string]*plan{}}
	// The first byte sets how B's batches are cut.
	batch := uint64(r.g.u8())
	r.cur = dumpOf(t, a)
	for op := 0; op < s2sMaxOps && r.g.more(); op++ {
		r.step()
		if len(r.pending) >= 1+int((r.idx*7+batch)%s2sMaxBatch) {
			r.flushB()
		}
	}
	r.flushB()
	da, db := dumpOf(t, a), dumpOf(t, b)
	if !reflect.DeepEqual(da, db) {
		t.Fatalf("stores A and B differ:\n%s", diffDumps(da, db))
	}
	ha, _, errA := a.StateHash()
	hb, _, errB := b.StateHash()
	if errA != nil || errB != nil || ha != hb || ha != r.hash {
		t.Fatalf("state hashes %s / %s, started at %s (%v, %v)", ha, hb, r.hash, errA, errB)
	}
}

func dumpOf(t *testing.T, st *store.Store) tableDump {
	var d tableDump
	if err := st.Read(func(tx *store.Tx) (err error) { d, err = dumpQueueTables(tx.Bolt()); return }); err != nil {
		t.Fatal(err)
	}
	return d
}

func (r *s2sRun) at() int64 {
	g := r.g
	switch v := g.u8(); {
	case v < 0xE0:
		r.clock += int64(v % 4)
		return r.clock
	case v < 0xF8:
		r.clock += s2sTimeJump[int(v)%len(s2sTimeJump)]
		return r.clock
	default:
		return g.odd()
	}
}

func (r *s2sRun) step() {
	g := r.g
	d := r.cur
	v := viewOf(r.t, d)
	var c command.Command
	switch op := g.pick(19); op {
	case 0, 1:
		cp := &command.CreatePort{ID: g.from(s2sPortIDs), Name: g.from(s2sNames), Kind: g.from(s2sKinds), At: r.at()}
		if g.u8() >= 0x80 {
			cp.From = g.from(s2sPortIDs)
		}
		if g.u8() >= 0xC0 {
			cp.MaxFlowFiles = s2sBounds[g.pick(len(s2sBounds))]
			cp.MaxBytes = s2sBounds[g.pick(len(s2sBounds))]
		}
		if g.u8() >= 0xF0 {
			cp.Comments = string(g.bytes(10))
		}
		c = cp
	case 2:
		up := &command.UpdatePort{ID: g.from(s2sPortIDs), At: r.at()}
		f := g.u8()
		if f&1 != 0 {
			up.Enabled = ptr(f&2 != 0)
		}
		if f&4 != 0 {
			up.MaxFlowFiles = ptr(s2sBounds[g.pick(len(s2sBounds))])
		}
		if f&8 != 0 {
			up.MaxBytes = ptr(s2sBounds[g.pick(len(s2sBounds))])
		}
		if f&16 != 0 {
			up.Comments = ptr(string(g.bytes(5)))
		}
		c = up
	case 3:
		c = &command.DeletePort{ID: g.from(s2sPortIDs), Force: g.u8()&1 == 1}
	case 4, 5, 6, 7:
		c = r.stageChunk(v)
	case 8, 9:
		if g.pick(3) == 0 {
			c = r.stageCommit(v)
			break
		}
		tx := g.from(s2sPushTxs)
		ct := &command.CommitTx{Tx: tx, At: r.at()}
		if s, ok := v.staged[tx]; ok {
			ct.Port, ct.Count, ct.Bytes = s.Port, s.Count, s.Bytes
		} else {
			ct.Port = g.from(s2sPortIDs)
		}
		switch g.mangle(3) {
		case 0:
			ct.Count = s2sCounts[g.pick(len(s2sCounts))]
		case 1:
			ct.Bytes += g.odd()
		case 2:
			ct.Port = g.from(s2sPortIDs)
		}
		c = ct
	case 10:
		c = &command.DropTx{Tx: g.from(s2sPushTxs), At: r.at()}
	case 11, 12:
		at := r.at()
		l := &command.Lease{Port: g.from(s2sPortIDs), Tx: g.from(s2sPullTxs), At: at,
			MaxCount: s2sCounts[g.pick(len(s2sCounts))], MaxBytes: s2sBounds[g.pick(len(s2sBounds))]}
		if v := g.u8(); v >= 0xC0 {
			l.Expires = g.odd()
		} else {
			l.Expires = at + 100 + int64(v)
		}
		c = l
		if op == 12 {
			c = (*command.SharedLease)(l)
		}
	case 13:
		// An ack of the whole lease, or (AckSent) of the part up to a
		// sequence. Which one, and the sequence, come from the clock and
		// the lease, not from input bytes, so that the corpus's inputs
		// keep building the commands they built before AckSent existed.
		tx := g.from(s2sPullTxs)
		at := r.at()
		c = &command.Ack{Tx: tx, At: at}
		if at%2 != 0 {
			var l leaseView
			if raw, ok := d["q.leases"][tx]; ok {
				if err := json.Unmarshal([]byte(raw), &l); err != nil {
					r.t.Fatalf("lease %q: %v", tx, err)
				}
			}
			var through uint64 // none of the lease: refused
			switch n := len(l.Seqs); {
			case at%4 == 3:
				through = uint64(at)
			case n > 0:
				through = l.Seqs[n/2]
			}
			c = &command.AckSent{Tx: tx, At: at, Through: through}
		}
	case 14:
		// A release, or (AckFlows, level 11) an ack naming flowfiles of
		// a queue: which, and the runs, come from the clock, so that the
		// corpus's inputs read the same bytes as before AckFlows existed.
		tx, at := g.from(s2sPullTxs), r.at()
		c = &command.Release{Tx: tx, At: at}
		if m := uint64(at) % 16; m%4 == 3 {
			af := &command.AckFlows{Port: s2sPortIDs[m%uint64(len(s2sPortIDs))], Tx: tx,
				Queue: s2sPortIDs[(m/4)%uint64(len(s2sPortIDs))], At: at}
			first := uint64(at) % 7
			switch m {
			case 3: // one run
				af.Runs = [][2]uint64{{first, first + uint64(at)%5}}
			case 7: // everything a queue could hold: bounded by its records
				af.Runs = [][2]uint64{{0, math.MaxUint64}}
			case 11: // overlapping: refused
				af.Runs = [][2]uint64{{0, first + 2}, {first + 1, first + 4}}
			case 15: // backwards: refused
				af.Runs = [][2]uint64{{first + 3, first}}
			}
			c = af
		}
	case 15:
		// A retried proposal: the previous entry again.
		if r.last != nil {
			r.applyRaw(r.last, nil, d)
			return
		}
		c = &command.DropTx{Tx: "t1", At: r.clock}
	case 16:
		age := int64(g.u8() % 8)
		if g.u8() >= 0xF0 {
			age = g.odd()
		}
		c = &command.SetPortRetention{ID: g.from(s2sPortIDs), MaxAge: age, At: r.at()}
	case 17:
		c = &command.ExpireFlows{Port: g.from(s2sPortIDs), Max: s2sCounts[g.pick(len(s2sCounts))], At: r.at()}
	case 18:
		c = &command.SetPortOrder{ID: g.from(s2sPortIDs), Ordered: g.u8()&1 == 1, At: r.at()}
	}
	data, err := command.Encode(c)
	if err != nil {
		r.t.Fatalf("encode %T: %v", c, err)
	}
	r.applyRaw(data, c, d)
}

// stageChunk is the next chunk of a push (mostly right, sometimes not).
func (r *s2sRun) stageChunk(v s2sView) command.Command {
	g := r.g
	tx := g.from(s2sPushTxs)
	p := r.plans[tx]
	if p == nil {
		p = g.newPlan(r.t)
		r.plans[tx] = p
	}
	sc := &command.StageChunk{Tx: tx, At: r.at()}
	if s, ok := v.staged[tx]; ok {
		sc.Port, sc.Off = s.Port, s.Next
	} else {
		sc.Port = g.from(s2sPortIDs)
	}
	// A chunk of the plan's stream from Off, listing the packets that
	// end in it.
	lo := min(max(sc.Off, 0), int64(len(p.stream)))
	var n int64
	switch g.pick(4) {
	case 0:
		n = int64(len(p.stream)) - lo // the rest
	case 1:
		n = int64(g.pick(8)) // tiny
	default:
		n = int64(g.pick(200))
	}
	hi := min(lo+n, int64(len(p.stream)))
	sc.Data = bytes.Clone(p.stream[lo:hi])
	for i := range p.off {
		if end := p.off[i] + p.n[i]; end > lo && end <= hi {
			sc.Packets = append(sc.Packets, p.off[i], p.n[i], p.size[i])
		}
	}
	// Mangle now and then.
	switch g.mangle(10) {
	case 0:
		sc.Off += g.odd()
	case 1:
		sc.Off = int64(g.pick(5)) - 2 + sc.Off
	case 2:
		sc.Data = g.bytes(64)
	case 3:
		sc.Packets = nil
		for range g.pick(4) {
			sc.Packets = append(sc.Packets, g.odd(), g.odd(), g.odd())
		}
	case 4:
		if len(sc.Packets) > 0 {
			sc.Packets[g.pick(len(sc.Packets))] += int64(g.pick(5)) - 2
		}
	case 5:
		sc.Packets = append(sc.Packets, sc.Packets...)
	case 6:
		if len(sc.Packets) > 0 {
			sc.Packets = sc.Packets[:len(sc.Packets)-1]
		}
	case 7:
		sc.Port = g.from(s2sPortIDs)
	case 8:
		sc.Off = 0
	case 9:
		// List the stream's first packet again, as if it ended here.
		if len(p.off) > 0 && hi > lo && lo > 0 {
			sc.Packets = append([]int64{p.off[0], hi - p.off[0], p.size[0]}, sc.Packets...)
		}
	}
	// A third of the chunks are files beside the log (level 13): the
	// same chunk as a StageChunkRef, its name now and then mangled.
	if g.pick(3) != 0 || len(sc.Data) == 0 {
		return sc
	}
	file := append(queue.ChunkFileHeader(sc.Tx, sc.Off), sc.Data...)
	sum := sha256.Sum256(file)
	ref := &command.StageChunkRef{Port: sc.Port, Tx: sc.Tx, Off: sc.Off, Packets: sc.Packets, At: sc.At, SHA256: hex.EncodeToString(sum[:]), Size: int64(len(sc.Data))}
	switch g.mangle(4) {
	case 0:
		ref.SHA256 = ref.SHA256[:10]
	case 1:
		ref.Size = g.odd()
	case 2:
		ref.SHA256 = strings.ToUpper(ref.SHA256)
	}
	return ref
}

// stageCommit is a push's last chunk (stageChunk's, in the command or a
// file) with its commit (level 14), counting what the chunk would leave
// staged, now and then mangled.
func (r *s2sRun) stageCommit(v s2sView) command.Command {
	g := r.g
	sc := &command.StageCommit{}
	switch ch := r.stageChunk(v).(type) {
	case *command.StageChunk:
		sc.Port, sc.Tx, sc.Off, sc.Packets, sc.At, sc.Data, sc.Size = ch.Port, ch.Tx, ch.Off, ch.Packets, ch.At, ch.Data, int64(len(ch.Data))
	case *command.StageChunkRef:
		sc.Port, sc.Tx, sc.Off, sc.Packets, sc.At, sc.SHA256, sc.Size = ch.Port, ch.Tx, ch.Off, ch.Packets, ch.At, ch.SHA256, ch.Size
	}
	s := v.staged[sc.Tx]
	sc.Count, sc.Bytes = s.Count, s.Bytes
	for i := 0; i+2 < len(sc.Packets); i += 3 {
		sc.Count++
		sc.Bytes += sc.Packets[i+2]
	}
	switch g.mangle(4) {
	case 0:
		sc.Count = s2sCounts[g.pick(len(s2sCounts))]
	case 1:
		sc.Bytes += g.odd()
	case 2:
		sc.Size = g.odd()
	case 3:
		sc.Tx = g.from(s2sPushTxs)
	}
	return sc
}

// applyRaw applies one entry to A (checking everything) and queues it
// for B.
func (r *s2sRun) applyRaw(data []byte, c command.Command, before tableDump) {
	t := r.t
	if c == nil {
		var err error
		if c, err = command.Decode(bytes.Clone(data)); err != nil {
			t.Fatalf("decode: %v", err)
		}
	}
	r.idx++
	e := store.Entry{Index: r.idx, Data: data}
	filesBefore := fileContentsOf(t, r.a)
	res, err := r.a.Apply([]store.Entry{e})
	if err != nil {
		t.Fatalf("A: Apply(%s) failed (a replica would stall): %v", describe(c), err)
	}
	if len(res) != 1 {
		t.Fatalf("A: %d results", len(res))
	}
	if s2sTrace {
		t.Logf("#%d %s -> %s", r.idx, describe(c), describeResult(res[0]))
	}
	after := dumpOf(t, r.a)
	if err := res[0].Err; err != nil {
		var me *model.Error
		if !errors.As(err, &me) {
			t.Fatalf("%s refused with %T, not a *model.Error: %v", describe(c), err, err)
		}
		if !reflect.DeepEqual(before, after) {
			t.Fatalf("refused %s (%v) changed the queue tables:\n%s", describe(c), me, diffDumps(before, after))
		}
	}
	if h, _, err := r.a.StateHash(); err != nil || h != r.hash {
		t.Fatalf("%s changed the registry state hash (%v)", describe(c), err)
	}
	if err := r.a.Read(func(tx *store.Tx) error { return checkInvariants(tx.Bolt()) }); err != nil {
		t.Fatalf("after %s -> %s:\n%v", describe(c), describeResult(res[0]), err)
	}
	// Every chunk file the state stopped referring to is reported gone,
	// and no file it still refers to is. A command may also report a
	// file it referred to only within itself: a StageCommit that stages
	// a file chunk and then commits nothing drops the chunk it staged,
	// and that file is gone as surely as after a StageChunkRef and a
	// DropTx (what Relay.Discard proposes), which is what the node's
	// copy is removed for.
	filesAfter := fileContentsOf(t, r.a)
	gone := r.a.TakeGone()
	for sha := range filesBefore {
		if _, ok := filesAfter[sha]; !ok && !slices.Contains(gone, sha) {
			t.Fatalf("%s: file %s is no longer referred to but was not reported gone (reported %v)", describe(c), sha, gone)
		}
	}
	for _, sha := range gone {
		if _, ok := filesAfter[sha]; ok {
			t.Fatalf("%s: file %s was reported gone but is still referred to", describe(c), sha)
		}
	}
	r.pending = append(r.pending, e)
	r.want = append(r.want, res[0])
	r.last = data
	r.cur = after
}

// flushB applies the pending entries to B as one batch and compares the
// results with A's.
func (r *s2sRun) flushB() {
	if len(r.pending) == 0 {
		return
	}
	res, err := r.b.Apply(r.pending)
	if err != nil {
		r.t.Fatalf("B: Apply of a batch of %d failed: %v", len(r.pending), err)
	}
	for i := range res {
		if !sameResult(res[i], r.want[i]) {
			r.t.Fatalf("entry %d: A %s, B %s", r.pending[i].Index, describeResult(r.want[i]), describeResult(res[i]))
		}
	}
	r.pending, r.want = nil, nil
}

func sameResult(a, b store.Result) bool {
	if (a.Err == nil) != (b.Err == nil) || (a.Err != nil && a.Err.Error() != b.Err.Error()) {
		return false
	}
	ja, _ := json.Marshal(a.Value)
	jb, _ := json.Marshal(b.Value)
	return bytes.Equal(ja, jb)
}

func describe(c command.Command) string {
	j, _ := json.Marshal(c)
	s := string(j)
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	if sc, ok := c.(*command.StageChunk); ok {
		s += fmt.Sprintf(" +%d bytes", len(sc.Data))
	}
	return fmt.Sprintf("%T%s", c, s)
}

func fileContentsOf(t testing.TB, st *store.Store) map[string]int64 {
	var m map[string]int64
	if err := st.Read(func(tx *store.Tx) (err error) { m, err = queue.FileContents(tx.Bolt()); return }); err != nil {
		t.Fatal(err)
	}
	return m
}

func describeResult(r store.Result) string {
	if r.Err != nil {
		return "refused: " + r.Err.Error()
	}
	j, _ := json.Marshal(r.Value)
	return "ok " + string(j)
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func keyN(id string, n uint64) []byte {
	b := binary.AppendUvarint(nil, uint64(len(id)))
	b = append(b, id...)
	return binary.BigEndian.AppendUint64(b, n)
}

// ---- seeds

// Op bytes for seeds (see step and the generator for what each reads).
var (
	seedIn1     = []byte{0, 0, 0, 0, 0, 0, 0, 0}          // CreatePort in1 "a" input
	seedIn2Full = []byte{0, 1, 1, 0, 0, 0, 0xC0, 4, 0, 0} // CreatePort in2 "b" input, 2 flowfiles max
	seedOut1    = []byte{0, 2, 1, 1, 0, 0x80, 0, 0, 0}    // CreatePort out1 "b" output from in1
	// a plan of three packets: one attribute and "hello", no attribute
	// and no content, 1000 bytes of 'z'
	seedPlan = []byte{3, 1, 1, 'k', 1, 'v', 1, 5, 'h', 'e', 'l', 'l', 'o', 0, 0, 0, 3, 'z', 10}
)

func seedOps(ops ...[]byte) []byte { return bytes.Join(ops, nil) }

// stage tx (index into s2sPushTxs); plan only on a tx's first chunk; port
// only when the tx is not staged; mode 0 = the rest, 1 = tiny (n), 2 = n.
func seedStage(tx byte, plan []byte, port []byte, mode, n, mangle byte) []byte {
	if mode == 0 {
		return seedOps([]byte{4, tx}, plan, []byte{0}, port, []byte{mode, mangle})
	}
	return seedOps([]byte{4, tx}, plan, []byte{0}, port, []byte{mode, n, mangle})
}

func s2sSeeds() [][]byte {
	commit := func(tx byte) []byte { return []byte{8, tx, 0, 0} }
	lease := func(port, tx, maxCount, maxBytes byte) []byte { return []byte{11, 0, port, tx, maxCount, maxBytes, 0} }
	ack := func(tx byte) []byte { return []byte{13, tx, 0} }
	release := func(tx byte) []byte { return []byte{14, tx, 0} }
	return [][]byte{
		// (each starts with the byte that cuts B's batches)
		// push in one chunk, pull one, ack, pull the rest, ack
		seedOps([]byte{0}, seedIn1, seedOut1, seedStage(0, seedPlan, []byte{0}, 0, 0, 0), commit(0),
			lease(2, 0, 0, 0), ack(0), lease(2, 1, 3, 0), ack(1)),
		// push in small chunks with retries, pull with limits, release
		seedOps([]byte{1}, seedIn1, seedOut1, seedStage(0, seedPlan, []byte{0}, 2, 7, 0),
			seedStage(0, nil, nil, 1, 5, 0), []byte{15}, seedStage(0, nil, nil, 2, 40, 0), []byte{15},
			seedStage(0, nil, nil, 2, 100, 0), seedStage(0, nil, nil, 0, 0, 0), commit(0), []byte{15},
			lease(2, 0, 1, 2), []byte{15}, release(0), lease(2, 1, 3, 3), ack(1), lease(2, 2, 3, 0), ack(2)),
		// mangled chunks, a full queue, drops, deletes
		seedOps([]byte{2}, seedIn1, seedIn2Full, seedOut1, seedStage(1, seedPlan, []byte{1}, 1, 3, 0xA1), []byte{4},
			seedStage(1, nil, []byte{1}, 1, 3, 0), seedStage(1, nil, nil, 2, 30, 0xA3), []byte{2, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}, seedStage(1, nil, nil, 0, 0, 0),
			commit(1), []byte{10, 1, 0}, []byte{3, 0, 0}, []byte{3, 0, 1}, []byte{3, 1, 1}),
		// stale staging and lease expiry
		seedOps([]byte{3}, seedIn1, seedOut1, seedStage(0, seedPlan, []byte{0}, 0, 0, 0), commit(0),
			seedStage(2, seedPlan, []byte{0}, 2, 10, 0), lease(2, 0, 0, 0),
			[]byte{4, 1}, seedPlan, []byte{0xE6, 0, 0, 0, 0}, // a chunk StaleStaging+1 later
			[]byte{11, 0xE6, 2, 1, 0, 0, 0}, ack(0), ack(1)),
		// hostile ids
		seedOps([]byte{0}, []byte{0, 6, 0, 0, 0, 0, 0, 0}, []byte{0, 8, 0, 0, 0, 0, 0, 0}, []byte{0, 10, 0, 0, 0, 0, 0, 0},
			seedStage(4, seedPlan, []byte{8}, 0, 0, 0), []byte{8, 4, 0, 0}, []byte{11, 0, 8, 4, 0, 0, 0}),
	}
}
