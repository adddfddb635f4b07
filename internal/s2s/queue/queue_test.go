package queue_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/weir-nifi/weir/internal/command"
	"github.com/weir-nifi/weir/internal/model"
	"github.com/weir-nifi/weir/internal/s2s/codec"
	"github.com/weir-nifi/weir/internal/s2s/queue"
	"github.com/weir-nifi/weir/internal/store"
)

// ---- harness

// qstore is a real store that site-to-site commands are applied to one
// entry at a time. Every apply checks the store's contract: Apply itself
// never fails, a refusal is a *model.Error that leaves the q.* tables as
// they were, and nothing touches the registry's state hash.
type qstore struct {
	t    testing.TB
	st   *store.Store
	idx  uint64
	hash string
	// files are the chunk files (StageChunkRef) the test wrote.
	files map[string][]byte
}

// asFile turns a StageChunk into the StageChunkRef of a file holding its
// bytes, as the relay does, and keeps the file in q.files.
func (q *qstore) asFile(c *command.StageChunk) *command.StageChunkRef {
	file := append(queue.ChunkFileHeader(c.Tx, c.Off), c.Data...)
	sum := sha256.Sum256(file)
	sha := hex.EncodeToString(sum[:])
	if q.files == nil {
		q.files = map[string][]byte{}
	}
	q.files[sha] = file
	return &command.StageChunkRef{Port: c.Port, Tx: c.Tx, Off: c.Off, Packets: c.Packets, At: c.At, SHA256: sha, Size: int64(len(c.Data))}
}

func openQ(t testing.TB) *qstore {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "state.db"), store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	h, _, err := st.StateHash()
	if err != nil {
		t.Fatal(err)
	}
	return &qstore{t: t, st: st, hash: h}
}

// apply applies c as the next entry and returns its result.
func (q *qstore) apply(c command.Command) (any, error) {
	q.t.Helper()
	data, err := command.Encode(c)
	if err != nil {
		q.t.Fatalf("encode %T: %v", c, err)
	}
	before := q.dump()
	q.idx++
	res, err := q.st.Apply([]store.Entry{{Index: q.idx, Data: data}})
	if err != nil {
		q.t.Fatalf("Apply(%s) failed (would stall the cluster): %v", describe(c), err)
	}
	if len(res) != 1 {
		q.t.Fatalf("Apply returned %d results", len(res))
	}
	if h, _, err := q.st.StateHash(); err != nil || h != q.hash {
		q.t.Fatalf("%T changed the registry state hash: %s -> %s (%v)", c, q.hash, h, err)
	}
	if res[0].Err != nil {
		var me *model.Error
		if !errors.As(res[0].Err, &me) {
			q.t.Fatalf("%T refused with a %T, not a *model.Error: %v", c, res[0].Err, res[0].Err)
		}
		if after := q.dump(); !reflect.DeepEqual(before, after) {
			q.t.Fatalf("refused %s (%v) changed the queue tables:\n%s", describe(c), res[0].Err, diffDumps(before, after))
		}
	}
	return res[0].Value, res[0].Err
}

func (q *qstore) ok(c command.Command) any {
	q.t.Helper()
	v, err := q.apply(c)
	if err != nil {
		q.t.Fatalf("%s refused: %v", describe(c), err)
	}
	return v
}

// refused applies c, expects a refusal of kind k (and reason, when set)
// and that nothing changed (apply checks that).
func (q *qstore) refused(c command.Command, k model.Kind, reason string) *model.Error {
	q.t.Helper()
	_, err := q.apply(c)
	var me *model.Error
	if !errors.As(err, &me) {
		q.t.Fatalf("%s: want a refusal, got %v", describe(c), err)
	}
	if me.Kind != k || (reason != "" && me.Reason != reason) {
		q.t.Fatalf("%s: refused with kind %v reason %q (%v), want kind %v reason %q", describe(c), me.Kind, me.Reason, me.Msg, k, reason)
	}
	return me
}

// unchanged applies c, expects it to be accepted and to change nothing.
func (q *qstore) unchanged(c command.Command) any {
	q.t.Helper()
	before := q.dump()
	v := q.ok(c)
	if after := q.dump(); !reflect.DeepEqual(before, after) {
		q.t.Fatalf("%s (a retry) changed the queue tables:\n%s", describe(c), diffDumps(before, after))
	}
	return v
}

func (q *qstore) read(fn func(btx *bolt.Tx) error) {
	q.t.Helper()
	if err := q.st.Read(func(tx *store.Tx) error { return fn(tx.Bolt()) }); err != nil {
		q.t.Fatal(err)
	}
}

func (q *qstore) stats(port string) queue.Stats {
	q.t.Helper()
	var s queue.Stats
	q.read(func(btx *bolt.Tx) (err error) { s, err = queue.QueueStats(btx, port); return })
	return s
}

func (q *qstore) empty() bool {
	var e bool
	q.read(func(btx *bolt.Tx) error { e = queue.Empty(btx); return nil })
	return e
}

func (q *qstore) staged(tx string) bool {
	var s bool
	q.read(func(btx *bolt.Tx) error { s = queue.Staged(btx, tx); return nil })
	return s
}

func (q *qstore) ports() []queue.Port {
	var ps []queue.Port
	q.read(func(btx *bolt.Tx) (err error) { ps, err = queue.Ports(btx); return })
	return ps
}

func (q *qstore) dump() tableDump {
	var d tableDump
	q.read(func(btx *bolt.Tx) (err error) { d, err = dumpQueueTables(btx); return })
	return d
}

// tableDump is every key and value of every q.* table.
type tableDump map[string]map[string]string

func dumpQueueTables(btx *bolt.Tx) (tableDump, error) {
	d := tableDump{}
	err := btx.ForEach(func(name []byte, b *bolt.Bucket) error {
		if !bytes.HasPrefix(name, []byte("q.")) {
			return nil
		}
		return dumpBucket(d, string(name), b)
	})
	return d, err
}

func dumpBucket(d tableDump, name string, b *bolt.Bucket) error {
	m := map[string]string{}
	d[name] = m
	return b.ForEach(func(k, v []byte) error {
		if v == nil { // a nested bucket
			m[string(k)] = "<bucket>"
			return dumpBucket(d, name+"/"+string(k), b.Bucket(k))
		}
		m[string(k)] = string(v)
		return nil
	})
}

func diffDumps(a, b tableDump) string {
	var sb strings.Builder
	for t, am := range a {
		bm := b[t]
		for k, v := range am {
			if w, ok := bm[k]; !ok {
				fmt.Fprintf(&sb, "  %s: -%q = %q\n", t, k, v)
			} else if w != v {
				fmt.Fprintf(&sb, "  %s: %q: %q -> %q\n", t, k, v, w)
			}
		}
		for k, v := range bm {
			if _, ok := am[k]; !ok {
				fmt.Fprintf(&sb, "  %s: +%q = %q\n", t, k, v)
			}
		}
	}
	for t := range b {
		if _, ok := a[t]; !ok {
			fmt.Fprintf(&sb, "  table %s appeared\n", t)
		}
	}
	return sb.String()
}

// ---- packets

type pkt struct {
	attrs   map[string]string
	content []byte
}

// encoded is a push transaction's packet stream and where each packet is.
type encoded struct {
	stream []byte
	off    []int64 // start of packet i
	n      []int64 // encoded length of packet i
	pkts   []pkt
}

func encodePackets(t testing.TB, pkts ...pkt) encoded {
	t.Helper()
	var buf bytes.Buffer
	enc := codec.NewEncoder(&buf, false)
	e := encoded{pkts: pkts}
	for _, p := range pkts {
		start := int64(buf.Len())
		if err := enc.Encode(p.attrs, int64(len(p.content)), bytes.NewReader(p.content)); err != nil {
			t.Fatal(err)
		}
		e.off = append(e.off, start)
		e.n = append(e.n, int64(buf.Len())-start)
	}
	e.stream = buf.Bytes()
	return e
}

func (e encoded) bytes() (n int64) {
	for _, p := range e.pkts {
		n += int64(len(p.content))
	}
	return n
}

// chunks cuts the stream at the given offsets into StageChunks, each
// listing the packets that end in it, as the relay does.
func (e encoded) chunks(port, tx string, at int64, cuts ...int64) []*command.StageChunk {
	bounds := append(append([]int64{0}, cuts...), int64(len(e.stream)))
	var out []*command.StageChunk
	for i := 0; i+1 < len(bounds); i++ {
		lo, hi := bounds[i], bounds[i+1]
		c := &command.StageChunk{Port: port, Tx: tx, Off: lo, At: at, Data: bytes.Clone(e.stream[lo:hi])}
		for j := range e.pkts {
			if end := e.off[j] + e.n[j]; end > lo && end <= hi {
				c.Packets = append(c.Packets, e.off[j], e.n[j], int64(len(e.pkts[j].content)))
			}
		}
		out = append(out, c)
	}
	return out
}

// push stages e in the given chunks and commits it.
func (q *qstore) push(port, tx string, e encoded, at int64, cuts ...int64) queue.CommitResult {
	q.t.Helper()
	for _, c := range e.chunks(port, tx, at, cuts...) {
		q.ok(c)
	}
	return q.ok(&command.CommitTx{Port: port, Tx: tx, Count: int64(len(e.pkts)), Bytes: e.bytes(), At: at}).(queue.CommitResult)
}

func (q *qstore) lease(port, tx string, maxCount, maxBytes, at, expires int64) []queue.Flow {
	q.t.Helper()
	return q.ok(&command.Lease{Port: port, Tx: tx, MaxCount: maxCount, MaxBytes: maxBytes, At: at, Expires: expires}).(queue.LeaseResult).Flows
}

// content reads a leased flowfile's packet back through queue.Chunk and
// decodes it.
func (q *qstore) content(f queue.Flow) pkt {
	q.t.Helper()
	raw := make([]byte, 0, f.Len)
	q.read(func(btx *bolt.Tx) error {
		for off := f.Off; off < f.Off+f.Len; {
			at, err := queue.Chunk(btx, f.Tx, off)
			if err != nil {
				return err
			}
			start, data := at.Start, at.Data
			if at.File != nil {
				file, ok := q.files[at.File.SHA256]
				if !ok {
					return fmt.Errorf("chunk at %d of %q refers to file %s, never written", at.Start, f.Tx, at.File.SHA256)
				}
				data = file[len(queue.ChunkFileHeader(f.Tx, at.Start)):]
			}
			if start > off || off-start >= int64(len(data)) {
				return fmt.Errorf("Chunk(%q, %d) returned [%d, %d)", f.Tx, off, start, start+int64(len(data)))
			}
			k := min(int64(len(data))-(off-start), f.Off+f.Len-off)
			raw = append(raw, data[off-start:off-start+k]...)
			off += k
		}
		return nil
	})
	d := codec.NewDecoder(bytes.NewReader(raw), false, codec.Limits{})
	p, err := d.Next()
	if err != nil {
		q.t.Fatalf("decode flow %+v: %v", f, err)
	}
	content, err := io.ReadAll(p.Content)
	if err != nil {
		q.t.Fatal(err)
	}
	if p.Size != f.Size || int64(len(content)) != f.Size {
		q.t.Fatalf("flow %+v decodes to %d bytes of content (size %d)", f, len(content), p.Size)
	}
	if _, err := d.Next(); err != io.EOF {
		q.t.Fatalf("flow %+v holds more than one packet: %v", f, err)
	}
	return pkt{attrs: p.Attributes, content: content}
}

func (q *qstore) checkContent(f queue.Flow, want pkt) {
	q.t.Helper()
	got := q.content(f)
	if !reflect.DeepEqual(got.attrs, want.attrs) || !bytes.Equal(got.content, want.content) {
		q.t.Fatalf("flow %+v: got %v / %q, want %v / %q", f, got.attrs, got.content, want.attrs, want.content)
	}
}

func seqs(fs []queue.Flow) []uint64 {
	out := []uint64{}
	for _, f := range fs {
		out = append(out, f.Seq)
	}
	return out
}

func mkPkts(sizes ...int) []pkt {
	var out []pkt
	for i, n := range sizes {
		c := make([]byte, n)
		for j := range c {
			c[j] = byte('a' + (i+j)%26)
		}
		out = append(out, pkt{attrs: map[string]string{"filename": fmt.Sprintf("f%d", i), "uuid": fmt.Sprintf("u-%d", i), "i": strings.Repeat("x", i)}, content: c})
	}
	return out
}

// relayPorts creates input port "in" and output port "out" fed from it.
func relayPorts(q *qstore, maxFlowFiles, maxBytes int64) {
	q.t.Helper()
	q.ok(&command.CreatePort{ID: "in", Name: "In", Kind: command.PortInput, MaxFlowFiles: maxFlowFiles, MaxBytes: maxBytes, At: 1})
	q.ok(&command.CreatePort{ID: "out", Name: "Out", Kind: command.PortOutput, From: "in", At: 1})
}

func ptr[T any](v T) *T { return &v }

// ---- ports

func TestPorts(t *testing.T) {
	q := openQ(t)
	p := q.ok(&command.CreatePort{ID: "in1", Name: "Ingest", Kind: command.PortInput, Comments: "c", MaxFlowFiles: 10, MaxBytes: 1000, At: 5}).(queue.Port)
	if want := (queue.Port{ID: "in1", Name: "Ingest", Kind: command.PortInput, Comments: "c", Enabled: true, MaxFlowFiles: 10, MaxBytes: 1000, Created: 5, Modified: 5}); p != want {
		t.Fatalf("created %+v, want %+v", p, want)
	}
	q.ok(&command.CreatePort{ID: "in2", Name: "Other", Kind: command.PortInput, At: 5})
	q.ok(&command.CreatePort{ID: "out1", Name: "Egress", Kind: command.PortOutput, From: "in1", At: 6})
	// The same name of the other kind is a different port.
	q.ok(&command.CreatePort{ID: "out2", Name: "Ingest", Kind: command.PortOutput, At: 6})

	// Conflicts.
	q.refused(&command.CreatePort{ID: "in1", Name: "New", Kind: command.PortInput, At: 7}, model.KindConflict, "")
	q.refused(&command.CreatePort{ID: "in1", Name: "New", Kind: command.PortOutput, At: 7}, model.KindConflict, "")
	q.refused(&command.CreatePort{ID: "in3", Name: "Ingest", Kind: command.PortInput, At: 7}, model.KindConflict, "")
	q.refused(&command.CreatePort{ID: "out3", Name: "Egress", Kind: command.PortOutput, At: 7}, model.KindConflict, "")
	// Feeds: only from an existing input port, one output per input.
	q.refused(&command.CreatePort{ID: "out3", Name: "E3", Kind: command.PortOutput, From: "out2", At: 7}, model.KindInvalid, "")
	q.refused(&command.CreatePort{ID: "out3", Name: "E3", Kind: command.PortOutput, From: "nope", At: 7}, model.KindInvalid, "")
	q.refused(&command.CreatePort{ID: "out3", Name: "E3", Kind: command.PortOutput, From: "in1", At: 7}, model.KindConflict, "")
	q.refused(&command.CreatePort{ID: "in3", Name: "I3", Kind: command.PortInput, From: "in1", At: 7}, model.KindInvalid, "")
	// Bad arguments.
	q.refused(&command.CreatePort{ID: "x", Name: "X", Kind: "funnel", At: 7}, model.KindInvalid, "")
	q.refused(&command.CreatePort{ID: "x", Name: "X", Kind: "", At: 7}, model.KindInvalid, "")
	q.refused(&command.CreatePort{ID: "x", Name: "X", Kind: command.PortInput, MaxFlowFiles: -1, At: 7}, model.KindInvalid, "")
	q.refused(&command.CreatePort{ID: "x", Name: "X", Kind: command.PortInput, MaxBytes: -1, At: 7}, model.KindInvalid, "")
	q.refused(&command.CreatePort{ID: "", Name: "X", Kind: command.PortInput, At: 7}, model.KindInvalid, "")
	q.refused(&command.CreatePort{ID: "x", Name: " ", Kind: command.PortInput, At: 7}, model.KindInvalid, "")
	q.refused(&command.CreatePort{ID: strings.Repeat("i", bolt.MaxKeySize), Name: "X", Kind: command.PortInput, At: 7}, model.KindInvalid, "")
	q.refused(&command.CreatePort{ID: "x", Name: strings.Repeat("n", bolt.MaxKeySize), Kind: command.PortInput, At: 7}, model.KindInvalid, "")

	ps := q.ports()
	var got []string
	for _, p := range ps {
		got = append(got, p.Kind+":"+p.ID+":"+p.Name+":"+p.From)
	}
	want := []string{"output:out1:Egress:in1", "input:in1:Ingest:", "output:out2:Ingest:", "input:in2:Other:"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("ports %q, want %q", got, want)
	}
	if s := q.stats("in1"); s != (queue.Stats{}) {
		t.Fatalf("new queue stats %+v", s)
	}

	// Updates.
	u := q.ok(&command.UpdatePort{ID: "in1", Enabled: ptr(false), Comments: ptr("d"), MaxFlowFiles: ptr(int64(3)), At: 9}).(queue.Port)
	if u.Enabled || u.Comments != "d" || u.MaxFlowFiles != 3 || u.MaxBytes != 1000 || u.Created != 5 || u.Modified != 9 {
		t.Fatalf("updated %+v", u)
	}
	q.refused(&command.UpdatePort{ID: "in1", MaxBytes: ptr(int64(-5)), At: 10}, model.KindInvalid, "")
	q.refused(&command.UpdatePort{ID: "nope", Enabled: ptr(true), At: 10}, model.KindNotFound, queue.ReasonUnknownPort)

	// An output port fed from in2, once out1 no longer takes in1... is
	// still refused for in1; in2 is free.
	q.ok(&command.CreatePort{ID: "out3", Name: "E3", Kind: command.PortOutput, From: "in2", At: 11})
	q.refused(&command.CreatePort{ID: "out4", Name: "E4", Kind: command.PortOutput, From: "in2", At: 11}, model.KindConflict, "")
	if !q.empty() {
		t.Fatal("ports alone are not empty")
	}
}

// ---- push and pull

func TestPushLeaseAckRoundTrip(t *testing.T) {
	q := openQ(t)
	relayPorts(q, 0, 0)
	pk := mkPkts(0, 300, 5000, 7)
	e := encodePackets(t, pk...)
	// Chunk 1 ends exactly where packet 1 ends; packet 2 spans chunks 2
	// to 4 (chunk 3 ends no packet); chunk 4 ends inside packet 3.
	cuts := []int64{e.off[1] + e.n[1], e.off[2] + 10, e.off[2] + 100, e.off[3] + 3}
	chunks := e.chunks("in", "t1", 100, cuts...)
	if len(chunks[0].Packets) != 6 || len(chunks[1].Packets) != 0 || len(chunks[2].Packets) != 0 || len(chunks[3].Packets) != 3 || len(chunks[4].Packets) != 3 {
		t.Fatalf("test chunking is off: %v %v %v %v %v", chunks[0].Packets, chunks[1].Packets, chunks[2].Packets, chunks[3].Packets, chunks[4].Packets)
	}
	for _, c := range chunks {
		q.ok(c)
		if !q.staged("t1") {
			t.Fatal("not staged")
		}
	}
	if s := q.stats("in"); s.Count != 0 {
		t.Fatalf("staged flowfiles are queued: %+v", s)
	}
	res := q.ok(&command.CommitTx{Port: "in", Tx: "t1", Count: 4, Bytes: e.bytes(), At: 101}).(queue.CommitResult)
	if res != (queue.CommitResult{First: 0, Count: 4}) {
		t.Fatalf("commit %+v", res)
	}
	if q.staged("t1") {
		t.Fatal("still staged after commit")
	}
	if s := q.stats("in"); s != (queue.Stats{NextSeq: 4, Count: 4, Bytes: 5307}) {
		t.Fatalf("stats %+v", s)
	}

	fs := q.lease("out", "p1", 2, 0, 102, 1000)
	if !reflect.DeepEqual(seqs(fs), []uint64{0, 1}) {
		t.Fatalf("leased %v", seqs(fs))
	}
	for i, f := range fs {
		if f.Tx != "t1" || f.Off != e.off[i] || f.Len != e.n[i] || f.Size != int64(len(pk[i].content)) {
			t.Fatalf("flow %d: %+v", i, f)
		}
		q.checkContent(f, pk[i])
	}
	if s := q.stats("in"); s.Leased != 2 || s.Count != 4 {
		t.Fatalf("stats %+v", s)
	}
	q.ok(&command.Ack{Tx: "p1", At: 103})
	if s := q.stats("in"); s != (queue.Stats{NextSeq: 4, Count: 2, Bytes: 5007}) {
		t.Fatalf("stats after ack %+v", s)
	}
	// The tx's content stays while any of its flowfiles is queued.
	fs = q.lease("out", "p2", 10, 0, 104, 1000)
	if !reflect.DeepEqual(seqs(fs), []uint64{2, 3}) {
		t.Fatalf("leased %v", seqs(fs))
	}
	q.checkContent(fs[0], pk[2])
	q.checkContent(fs[1], pk[3])
	if q.empty() {
		t.Fatal("empty while flowfiles are leased")
	}
	q.ok(&command.Ack{Tx: "p2", At: 105})
	if s := q.stats("in"); s != (queue.Stats{NextSeq: 4}) {
		t.Fatalf("stats after acks %+v", s)
	}
	if !q.empty() {
		t.Fatalf("not empty after every flowfile was acked:\n%s", diffDumps(tableDump{}, q.dump()))
	}
	// An empty queue leases nothing; sequence numbers go on.
	if fs := q.lease("out", "p3", 10, 0, 106, 1000); len(fs) != 0 {
		t.Fatalf("leased %v from an empty queue", fs)
	}
	e2 := encodePackets(t, mkPkts(1)...)
	if res := q.push("in", "t2", e2, 107); res.First != 4 || res.Count != 1 {
		t.Fatalf("second commit %+v", res)
	}
}

func TestLeaseLimitsAndRelease(t *testing.T) {
	q := openQ(t)
	relayPorts(q, 0, 0)
	pk := mkPkts(10, 500, 10, 10, 10, 10)
	e := encodePackets(t, pk...)
	q.push("in", "t1", e, 1, int64(len(e.stream))/2)

	// At least one, even bigger than MaxBytes.
	if fs := q.lease("out", "a", 10, 5, 2, 100); !reflect.DeepEqual(seqs(fs), []uint64{0}) {
		t.Fatalf("MaxBytes 5 leased %v", seqs(fs))
	}
	// One live lease per queue: a concurrent pull gets nothing.
	if fs := q.lease("out", "x", 10, 0, 2, 100); len(fs) != 0 {
		t.Fatalf("a second live lease got %v", seqs(fs))
	}
	q.ok(&command.Ack{Tx: "a", At: 2})
	if fs := q.lease("out", "b", 10, 505, 2, 100); !reflect.DeepEqual(seqs(fs), []uint64{1}) {
		t.Fatalf("MaxBytes 505 leased %v", seqs(fs))
	}
	q.ok(&command.Release{Tx: "b", At: 2})
	if fs := q.lease("out", "b2", 10, 505, 2, 100); !reflect.DeepEqual(seqs(fs), []uint64{1}) {
		t.Fatalf("after release, MaxBytes 505 leased %v", seqs(fs))
	}
	q.ok(&command.Ack{Tx: "b2", At: 2})
	if fs := q.lease("out", "c", 2, 0, 2, 100); !reflect.DeepEqual(seqs(fs), []uint64{2, 3}) {
		t.Fatalf("MaxCount 2 leased %v", seqs(fs))
	}
	if s := q.stats("in"); s != (queue.Stats{NextSeq: 6, Count: 4, Bytes: 40, Leased: 2}) {
		t.Fatalf("stats %+v", s)
	}
	q.ok(&command.Release{Tx: "c", At: 3})
	if fs := q.lease("out", "d", 0, 0, 3, 100); len(fs) != 0 {
		t.Fatalf("MaxCount 0 leased %v", seqs(fs))
	}
	if fs := q.lease("out", "d2", -1, 0, 3, 100); len(fs) != 0 {
		t.Fatalf("MaxCount -1 leased %v", seqs(fs))
	}
	if fs := q.lease("out", "e", 10, 20, 3, 100); !reflect.DeepEqual(seqs(fs), []uint64{2, 3}) {
		t.Fatalf("MaxBytes 20 leased %v", seqs(fs))
	}
	q.ok(&command.Release{Tx: "e", At: 3})
	if s := q.stats("in"); s.Leased != 0 {
		t.Fatalf("stats %+v", s)
	}
	// Released flowfiles come back in their places, oldest first.
	fs := q.lease("out", "g", 10, 0, 4, 100)
	if !reflect.DeepEqual(seqs(fs), []uint64{2, 3, 4, 5}) {
		t.Fatalf("after release leased %v", seqs(fs))
	}
	for _, f := range fs {
		q.checkContent(f, pk[f.Seq])
	}
	// Releasing an unknown or finished lease is a no-op; acking one is
	// refused.
	q.unchanged(&command.Release{Tx: "c", At: 5})
	q.unchanged(&command.Release{Tx: "never", At: 5})
	q.refused(&command.Ack{Tx: "c", At: 5}, model.KindNotFound, queue.ReasonUnknownTx)
	q.refused(&command.Ack{Tx: "never", At: 5}, model.KindNotFound, queue.ReasonUnknownTx)

	q.ok(&command.Ack{Tx: "g", At: 6})
	if s := q.stats("in"); s != (queue.Stats{NextSeq: 6}) {
		t.Fatalf("stats %+v", s)
	}
	if !q.empty() {
		t.Fatal("not empty")
	}
}

func TestReleaseKeepsOrder(t *testing.T) {
	q := openQ(t)
	relayPorts(q, 0, 0)
	pk := mkPkts(1, 2, 3, 4, 5)
	q.push("in", "t1", encodePackets(t, pk[:2]...), 1)
	q.push("in", "t2", encodePackets(t, pk[2:]...), 1)
	q.lease("out", "a", 3, 0, 2, 100)
	q.ok(&command.Release{Tx: "a", At: 3})
	fs := q.lease("out", "b", 10, 0, 4, 100)
	if !reflect.DeepEqual(seqs(fs), []uint64{0, 1, 2, 3, 4}) {
		t.Fatalf("leased %v", seqs(fs))
	}
	for i, f := range fs {
		q.checkContent(f, pk[i])
	}
}

func (q *qstore) sharedLease(port, tx string, maxCount, at, expires int64) []queue.Flow {
	q.t.Helper()
	return q.ok(&command.SharedLease{Port: port, Tx: tx, MaxCount: maxCount, At: at, Expires: expires}).(queue.LeaseResult).Flows
}

// Shared leases (level 7): concurrent pulls each take the oldest
// flowfiles no one holds; released and expired ones are the next to go;
// an ordered port keeps one live lease per queue.
func TestSharedLeases(t *testing.T) {
	q := openQ(t)
	relayPorts(q, 0, 0)
	pk := mkPkts(1, 2, 3, 4, 5, 6, 7, 8)
	q.push("in", "t1", encodePackets(t, pk...), 1)

	a := q.sharedLease("out", "a", 2, 2, 100)
	b := q.sharedLease("out", "b", 3, 2, 100)
	c := q.sharedLease("out", "c", 2, 2, 50)
	if !reflect.DeepEqual(seqs(a), []uint64{0, 1}) || !reflect.DeepEqual(seqs(b), []uint64{2, 3, 4}) || !reflect.DeepEqual(seqs(c), []uint64{5, 6}) {
		t.Fatalf("leased %v %v %v", seqs(a), seqs(b), seqs(c))
	}
	for _, f := range append(append(a, b...), c...) {
		q.checkContent(f, pk[f.Seq])
	}
	if s := q.stats("in"); s.Leased != 7 || s.Count != 8 {
		t.Fatalf("stats %+v", s)
	}
	// A retried proposal gets the same flowfiles.
	if again := q.sharedLease("out", "b", 3, 3, 100); !reflect.DeepEqual(seqs(again), seqs(b)) {
		t.Fatalf("retried lease got %v, want %v", seqs(again), seqs(b))
	}
	q.ok(&command.Release{Tx: "a", At: 3})
	q.ok(&command.Ack{Tx: "b", At: 3})
	// a's flowfiles are first again, then the one never leased.
	if d := q.sharedLease("out", "d", 10, 4, 100); !reflect.DeepEqual(seqs(d), []uint64{0, 1, 7}) {
		t.Fatalf("after a release: leased %v", seqs(d))
	}
	// c expires at 50: a later lease takes its flowfiles.
	if e := q.sharedLease("out", "e", 10, 60, 100); !reflect.DeepEqual(seqs(e), []uint64{5, 6}) {
		t.Fatalf("after c expired: leased %v", seqs(e))
	}
	q.refused(&command.Ack{Tx: "c", At: 61}, model.KindNotFound, queue.ReasonUnknownTx)
	q.invariants()

	// Ordered: a shared lease waits for the live one like a Lease.
	q.refused(&command.SetPortOrder{ID: "in", Ordered: true, At: 70}, model.KindInvalid, "")
	q.refused(&command.SetPortOrder{ID: "nope", Ordered: true, At: 70}, model.KindNotFound, queue.ReasonUnknownPort)
	if p := q.ok(&command.SetPortOrder{ID: "out", Ordered: true, At: 70}).(queue.Port); !p.Ordered || p.Modified != 70 {
		t.Fatalf("port %+v", p)
	}
	q.ok(&command.Release{Tx: "d", At: 71})
	q.ok(&command.Release{Tx: "e", At: 71})
	if f := q.sharedLease("out", "f", 1, 72, 200); !reflect.DeepEqual(seqs(f), []uint64{0}) {
		t.Fatalf("ordered: leased %v", seqs(f))
	}
	if g := q.sharedLease("out", "g", 1, 72, 200); len(g) != 0 {
		t.Fatalf("ordered: a second live lease got %v", seqs(g))
	}
	q.ok(&command.SetPortOrder{ID: "out", Ordered: false, At: 73})
	if g := q.sharedLease("out", "g2", 1, 74, 200); !reflect.DeepEqual(seqs(g), []uint64{1}) {
		t.Fatalf("shared again: leased %v", seqs(g))
	}
	q.invariants()
}

func TestLeaseExpiry(t *testing.T) {
	q := openQ(t)
	relayPorts(q, 0, 0)
	pk := mkPkts(1, 2, 3)
	q.push("in", "t1", encodePackets(t, pk...), 1)

	if fs := q.lease("out", "a", 1, 0, 10, 100); !reflect.DeepEqual(seqs(fs), []uint64{0}) {
		t.Fatalf("leased %v", seqs(fs))
	}
	// Until it expires, the queue is busy.
	if fs := q.lease("out", "b", 1, 0, 99, 1000); len(fs) != 0 {
		t.Fatalf("leased %v while a is live", seqs(fs))
	}
	// At 100, lease a has expired (by the later Lease's At): its
	// flowfile is first again.
	if fs := q.lease("out", "c", 2, 0, 100, 1000); !reflect.DeepEqual(seqs(fs), []uint64{0, 1}) {
		t.Fatalf("leased %v after expiry", seqs(fs))
	}
	if s := q.stats("in"); s.Leased != 2 {
		t.Fatalf("stats %+v", s)
	}
	q.refused(&command.Ack{Tx: "a", At: 100}, model.KindNotFound, queue.ReasonUnknownTx)
	q.ok(&command.Ack{Tx: "c", At: 999})
	if s := q.stats("in"); s != (queue.Stats{NextSeq: 3, Count: 1, Bytes: 3}) {
		t.Fatalf("stats %+v", s)
	}
	if fs := q.lease("out", "d", 2, 0, 1000, 2000); !reflect.DeepEqual(seqs(fs), []uint64{2}) {
		t.Fatalf("leased %v", seqs(fs))
	}
	// An ack at or after its lease's expiry is refused and changes
	// nothing; the next lease releases the expired one first.
	q.refused(&command.Ack{Tx: "d", At: 2000}, model.KindNotFound, queue.ReasonUnknownTx)
	if s := q.stats("in"); s != (queue.Stats{NextSeq: 3, Count: 1, Bytes: 3, Leased: 1}) {
		t.Fatalf("stats %+v", s)
	}
	if fs := q.lease("out", "e", 2, 0, 2001, 3000); !reflect.DeepEqual(seqs(fs), []uint64{2}) {
		t.Fatalf("leased %v after the refused ack", seqs(fs))
	}
	q.invariants()
}

// ---- retries

func TestRetriedCommandsAreIdempotent(t *testing.T) {
	q := openQ(t)
	relayPorts(q, 0, 0)
	pk := mkPkts(100, 200, 300)
	e := encodePackets(t, pk...)
	chunks := e.chunks("in", "t1", 1, 50, 250, 400)
	for i, c := range chunks {
		q.ok(c)
		q.unchanged(c) // the same proposal again
		if i > 0 {
			q.unchanged(chunks[i-1]) // and an older one, late
		}
	}
	q.unchanged(chunks[0])
	// An earlier offset with other bytes is an overlap, not a retry.
	q.refused(&command.StageChunk{Port: "in", Tx: "t1", Off: 0, At: 1, Data: []byte("short")}, model.KindInvalid, "")
	q.refused(&command.StageChunk{Port: "in", Tx: "t1", Off: 10, At: 1, Data: []byte("x")}, model.KindInvalid, "")

	commit := &command.CommitTx{Port: "in", Tx: "t1", Count: 3, Bytes: 600, At: 2}
	if res := q.ok(commit).(queue.CommitResult); res != (queue.CommitResult{Count: 3}) {
		t.Fatalf("commit %+v", res)
	}
	if res := q.unchanged(commit).(queue.CommitResult); res.Count != 3 {
		t.Fatalf("retried commit %+v", res)
	}
	if s := q.stats("in"); s.Count != 3 || s.NextSeq != 3 {
		t.Fatalf("retried commit queued twice: %+v", s)
	}
	// A late chunk of a committed transaction is refused (not restaged).
	q.refused(chunks[1], model.KindNotFound, queue.ReasonUnknownTx)

	lease := &command.Lease{Port: "out", Tx: "p", MaxCount: 2, At: 3, Expires: 100}
	first := q.ok(lease).(queue.LeaseResult)
	again := q.unchanged(lease).(queue.LeaseResult)
	if !reflect.DeepEqual(first, again) || !reflect.DeepEqual(seqs(first.Flows), []uint64{0, 1}) {
		t.Fatalf("retried lease %v, first %v", again, first)
	}
	// Committing nothing is a no-op.
	q.unchanged(&command.CommitTx{Port: "in", Tx: "t9", At: 4})
	q.ok(&command.Ack{Tx: "p", At: 4})
	q.refused(&command.Ack{Tx: "p", At: 4}, model.KindNotFound, queue.ReasonUnknownTx)
	q.lease("out", "p2", 5, 0, 5, 100)
	q.ok(&command.Ack{Tx: "p2", At: 5})
	if !q.empty() {
		t.Fatal("not empty")
	}
	// Once all is acked, a late retry of the commit is refused: the
	// transaction is gone.
	q.refused(commit, model.KindNotFound, queue.ReasonUnknownTx)
}

// ---- refusals

func TestStageRefusals(t *testing.T) {
	q := openQ(t)
	relayPorts(q, 0, 0)
	q.ok(&command.CreatePort{ID: "in2", Name: "In2", Kind: command.PortInput, At: 1})
	data := bytes.Repeat([]byte{7}, 100)
	stage := func(tx string, off int64, data []byte, packets ...int64) *command.StageChunk {
		return &command.StageChunk{Port: "in", Tx: tx, Off: off, Packets: packets, At: 10, Data: data}
	}
	// A new transaction starts at 0.
	q.refused(stage("t", 5, data), model.KindNotFound, queue.ReasonUnknownTx)
	q.refused(stage("t", -1, data), model.KindNotFound, queue.ReasonUnknownTx)
	q.refused(stage("", 0, data), model.KindInvalid, "")
	q.refused(&command.StageChunk{Port: "", Tx: "t", At: 10, Data: data}, model.KindInvalid, "")
	q.refused(&command.StageChunk{Port: "nope", Tx: "t", At: 10, Data: data}, model.KindNotFound, queue.ReasonUnknownPort)
	q.refused(&command.StageChunk{Port: "out", Tx: "t", At: 10, Data: data}, model.KindNotFound, queue.ReasonUnknownPort)

	// Bad packet triples, on a first chunk [0, 100).
	for _, p := range [][]int64{
		{0, 10},                // not a triple
		{0, 10, 5, 1},          // not triples
		{-1, 10, 5},            // negative offset
		{0, 0, 0},              // empty packet
		{0, -5, 0},             // negative length
		{0, 10, 11},            // more content than packet
		{0, 10, -1},            // negative size
		{0, 101, 5},            // ends after the chunk
		{math.MaxInt64, 10, 5}, // overflows
		{1, math.MaxInt64, 5},  // overflows
		{100, 1, 0},            // starts after the chunk
		{0, math.MinInt64, 0},  // negative length
		{10, 90, 91},           // size > length
	} {
		q.refused(stage("t", 0, data, p...), model.KindInvalid, "")
	}
	// (A bad triple after a good one: TestBugRefusedStageChunkLeavesPacketRefs.)
	if q.staged("t") {
		t.Fatal("a refused first chunk staged")
	}
	// An empty first chunk may list no packet.
	q.refused(stage("t", 0, nil, 0, 1, 0), model.KindInvalid, "")

	q.ok(stage("t", 0, data, 0, 60, 10))
	// Gaps and overlaps.
	q.refused(stage("t", 101, data), model.KindInvalid, "")
	q.refused(stage("t", 99, data), model.KindInvalid, "")
	q.refused(stage("t", 50, data[:50]), model.KindInvalid, "")
	q.refused(stage("t", -100, data), model.KindInvalid, "")
	q.refused(stage("t", math.MaxInt64, data), model.KindInvalid, "")
	q.refused(stage("t", math.MinInt64, data), model.KindInvalid, "")
	// Another port for the same transaction.
	q.refused(&command.StageChunk{Port: "in2", Tx: "t", Off: 100, At: 10, Data: data}, model.KindInvalid, "")
	// Second chunk: packets must end in [100, 200).
	for _, p := range [][]int64{
		{60, 40, 0},   // ends at 100: in the previous chunk
		{60, 141, 0},  // ends after 200
		{150, 50, 51}, // size > length
	} {
		q.refused(stage("t", 100, data, p...), model.KindInvalid, "")
	}
	// A packet spanning both chunks is fine.
	q.ok(stage("t", 100, data, 60, 140, 100))
	// An empty chunk at the end changes nothing but is accepted.
	q.ok(stage("t", 200, nil))

	// Commits that do not match what was staged.
	q.refused(&command.CommitTx{Port: "in", Tx: "t", Count: 1, Bytes: 110, At: 11}, model.KindInvalid, "")
	q.refused(&command.CommitTx{Port: "in", Tx: "t", Count: 3, Bytes: 110, At: 11}, model.KindInvalid, "")
	q.refused(&command.CommitTx{Port: "in", Tx: "t", Count: 2, Bytes: 109, At: 11}, model.KindInvalid, "")
	q.refused(&command.CommitTx{Port: "in", Tx: "t", Count: -2, Bytes: -110, At: 11}, model.KindInvalid, "")
	q.refused(&command.CommitTx{Port: "in2", Tx: "t", Count: 2, Bytes: 110, At: 11}, model.KindInvalid, "")
	q.refused(&command.CommitTx{Port: "in", Tx: "other", Count: 2, Bytes: 110, At: 11}, model.KindNotFound, queue.ReasonUnknownTx)
	q.refused(&command.CommitTx{Port: "", Tx: "t", Count: 2, Bytes: 110, At: 11}, model.KindInvalid, "")
	res := q.ok(&command.CommitTx{Port: "in", Tx: "t", Count: 2, Bytes: 110, At: 11}).(queue.CommitResult)
	if res.Count != 2 {
		t.Fatalf("commit %+v", res)
	}
	if s := q.stats("in"); s.Count != 2 || s.Bytes != 110 {
		t.Fatalf("stats %+v", s)
	}
}

func TestFullQueue(t *testing.T) {
	q := openQ(t)
	relayPorts(q, 10, 0)
	one := func(n int) encoded { return encodePackets(t, mkPkts(make([]int, n)...)...) }
	if res := q.push("in", "t1", one(5), 1); res.Backoff {
		t.Fatalf("5 of 10: %+v", res)
	}
	if res := q.push("in", "t2", one(3), 1); res.Backoff {
		t.Fatalf("8 of 10 is not above 80%%: %+v", res)
	}
	if res := q.push("in", "t3", one(1), 1); !res.Backoff {
		t.Fatalf("9 of 10: %+v", res)
	}
	e := one(2)
	for _, c := range e.chunks("in", "t4", 1) {
		q.ok(c)
	}
	q.refused(&command.CommitTx{Port: "in", Tx: "t4", Count: 2, Bytes: 0, At: 2}, model.KindUnavailable, queue.ReasonFull)
	if !q.staged("t4") {
		t.Fatal("a refused commit dropped the staging")
	}
	// Room made by a pull lets it in.
	q.lease("out", "p", 1, 0, 3, 100)
	q.ok(&command.Ack{Tx: "p", At: 3})
	if res := q.ok(&command.CommitTx{Port: "in", Tx: "t4", Count: 2, Bytes: 0, At: 4}).(queue.CommitResult); !res.Backoff || res.Count != 2 {
		t.Fatalf("10 of 10: %+v", res)
	}

	// Bytes bound.
	q.ok(&command.CreatePort{ID: "b", Name: "B", Kind: command.PortInput, MaxBytes: 1000, At: 1})
	if res := q.push("b", "u1", encodePackets(t, mkPkts(800)...), 5); res.Backoff {
		t.Fatalf("800 of 1000: %+v", res)
	}
	if res := q.push("b", "u2", encodePackets(t, mkPkts(1)...), 5); !res.Backoff {
		t.Fatalf("801 of 1000: %+v", res)
	}
	e = encodePackets(t, mkPkts(200)...)
	for _, c := range e.chunks("b", "u3", 5) {
		q.ok(c)
	}
	q.refused(&command.CommitTx{Port: "b", Tx: "u3", Count: 1, Bytes: 200, At: 5}, model.KindUnavailable, queue.ReasonFull)
	// Raising the bound lets it in.
	q.ok(&command.UpdatePort{ID: "b", MaxBytes: ptr(int64(10000)), At: 6})
	if res := q.ok(&command.CommitTx{Port: "b", Tx: "u3", Count: 1, Bytes: 200, At: 6}).(queue.CommitResult); res.Backoff {
		t.Fatalf("1001 of 10000: %+v", res)
	}
}

// stageCommit is the StageCommit of chunk c, the last of a push of count
// flowfiles of size bytes, as the relay proposes it.
func stageCommit(c *command.StageChunk, count, size int64) *command.StageCommit {
	return &command.StageCommit{Port: c.Port, Tx: c.Tx, Off: c.Off, Packets: c.Packets, At: c.At,
		Data: c.Data, Size: int64(len(c.Data)), Count: count, Bytes: size}
}

// TestStageCommit: a StageCommit queues the push's flowfiles, those of
// earlier chunks first, the last chunk's straight from the command, in
// stream order and readable; a retried one changes nothing; on a full
// port it answers Full and leaves the whole push staged, so a CommitTx
// once there is room queues every flowfile, and a DropTx drops it all.
func TestStageCommit(t *testing.T) {
	q := openQ(t)
	relayPorts(q, 6, 0)
	e := encodePackets(t, mkPkts(10, 20, 30, 40, 50)...)
	cs := e.chunks("in", "t1", 1, e.off[2]+5) // packets 0 and 1 end in the first chunk
	q.ok(cs[0])
	sc := stageCommit(cs[1], 5, e.bytes())
	res := q.ok(sc).(queue.CommitResult)
	if res.Count != 5 || res.Full || q.staged("t1") {
		t.Fatalf("commit: %+v, staged %v", res, q.staged("t1"))
	}
	q.invariants()
	before := q.dump()
	if again := q.ok(sc).(queue.CommitResult); again.Count != 5 || !reflect.DeepEqual(q.dump(), before) {
		t.Fatalf("a retried StageCommit: %+v, or the state changed", again)
	}
	fs := q.lease("out", "p1", 10, 0, 2, 100)
	if len(fs) != 5 {
		t.Fatalf("leased %d flowfiles, want 5", len(fs))
	}
	for i, f := range fs {
		q.checkContent(f, e.pkts[i])
	}

	// Full: 5 queued of 6, two more.
	e2 := encodePackets(t, mkPkts(60, 70)...)
	cs2 := e2.chunks("in", "t2", 3)
	res = q.ok(stageCommit(cs2[0], 2, e2.bytes())).(queue.CommitResult)
	if !res.Full || !q.staged("t2") {
		t.Fatalf("on a full port: %+v, staged %v", res, q.staged("t2"))
	}
	q.invariants()
	q.ok(&command.Ack{Tx: "p1", At: 4})
	if res := q.ok(&command.CommitTx{Port: "in", Tx: "t2", Count: 2, Bytes: e2.bytes(), At: 5}).(queue.CommitResult); res.Count != 2 {
		t.Fatalf("the commit once there is room: %+v", res)
	}
	fs = q.lease("out", "p2", 10, 0, 6, 100)
	if len(fs) != 2 {
		t.Fatalf("leased %d flowfiles after the full port's commit, want 2", len(fs))
	}
	for i, f := range fs {
		q.checkContent(f, e2.pkts[i])
	}
	q.ok(&command.Ack{Tx: "p2", At: 7})

	// Full again, then dropped: nothing of the push is left.
	q.ok(&command.UpdatePort{ID: "in", MaxFlowFiles: ptr(int64(1)), At: 8})
	e3 := encodePackets(t, mkPkts(5, 6)...)
	if res := q.ok(stageCommit(e3.chunks("in", "t3", 8)[0], 2, e3.bytes())).(queue.CommitResult); !res.Full {
		t.Fatalf("two flowfiles on a port bound to one: %+v", res)
	}
	q.ok(&command.DropTx{Tx: "t3", At: 9})
	q.invariants()
	if !q.empty() {
		t.Fatalf("after the drop: %+v", q.dump())
	}
}

func TestDisabledAndUnknownPorts(t *testing.T) {
	q := openQ(t)
	relayPorts(q, 0, 0)
	e := encodePackets(t, mkPkts(10, 20)...)
	q.push("in", "t0", e, 1)
	cs := e.chunks("in", "t1", 1)
	q.ok(cs[0])

	q.ok(&command.UpdatePort{ID: "in", Enabled: ptr(false), At: 2})
	q.refused(e.chunks("in", "t2", 2)[0], model.KindUnavailable, queue.ReasonNotRunning)
	q.refused(&command.CommitTx{Port: "in", Tx: "t1", Count: 2, Bytes: 30, At: 2}, model.KindUnavailable, queue.ReasonNotRunning)
	// A disabled input still feeds its output port.
	if fs := q.lease("out", "p0", 1, 0, 2, 100); len(fs) != 1 {
		t.Fatalf("leased %v", fs)
	}
	q.ok(&command.UpdatePort{ID: "in", Enabled: ptr(true), At: 3})
	q.ok(&command.CommitTx{Port: "in", Tx: "t1", Count: 2, Bytes: 30, At: 3})

	q.ok(&command.UpdatePort{ID: "out", Enabled: ptr(false), At: 4})
	q.refused(&command.Lease{Port: "out", Tx: "p1", MaxCount: 1, At: 4, Expires: 100}, model.KindUnavailable, queue.ReasonNotRunning)
	// Acks of leases taken before still count.
	q.ok(&command.Ack{Tx: "p0", At: 4})
	q.ok(&command.UpdatePort{ID: "out", Enabled: ptr(true), At: 5})

	q.refused(&command.StageChunk{Port: "nope", Tx: "t3", At: 5, Data: []byte{1}}, model.KindNotFound, queue.ReasonUnknownPort)
	q.refused(&command.CommitTx{Port: "nope", Tx: "t3", Count: 1, Bytes: 1, At: 5}, model.KindNotFound, queue.ReasonUnknownTx)
	q.refused(&command.Lease{Port: "nope", Tx: "p2", MaxCount: 1, At: 5, Expires: 100}, model.KindNotFound, queue.ReasonUnknownPort)
	q.refused(&command.Lease{Port: "in", Tx: "p2", MaxCount: 1, At: 5, Expires: 100}, model.KindNotFound, queue.ReasonUnknownPort)
	q.refused(&command.UpdatePort{ID: "nope", At: 5}, model.KindNotFound, queue.ReasonUnknownPort)
	q.refused(&command.DeletePort{ID: "nope"}, model.KindNotFound, queue.ReasonUnknownPort)
	// An output port fed from nothing leases nothing.
	q.ok(&command.CreatePort{ID: "lonely", Name: "L", Kind: command.PortOutput, At: 5})
	if fs := q.lease("lonely", "p3", 10, 0, 5, 100); len(fs) != 0 {
		t.Fatalf("leased %v", fs)
	}
	if s := q.stats("in"); s.Count != 3 {
		t.Fatalf("stats %+v", s)
	}
}

func TestDropTx(t *testing.T) {
	q := openQ(t)
	relayPorts(q, 0, 0)
	pk := mkPkts(100, 200)
	e := encodePackets(t, pk...)
	cs := e.chunks("in", "t1", 1, 150)
	q.ok(cs[0])
	q.ok(&command.DropTx{Tx: "t1", At: 2})
	if q.staged("t1") || !q.empty() {
		t.Fatal("drop left staging behind")
	}
	// Dropped: the next chunk has nothing to follow; a commit is refused.
	q.refused(cs[1], model.KindNotFound, queue.ReasonUnknownTx)
	q.refused(&command.CommitTx{Port: "in", Tx: "t1", Count: 2, Bytes: 300, At: 2}, model.KindNotFound, queue.ReasonUnknownTx)
	// The same transaction id may start again.
	q.push("in", "t1", e, 3, 150)
	// Dropping a committed or unknown transaction changes nothing.
	q.unchanged(&command.DropTx{Tx: "t1", At: 4})
	q.unchanged(&command.DropTx{Tx: "never", At: 4})
	fs := q.lease("out", "p", 10, 0, 5, 100)
	for i, f := range fs {
		q.checkContent(f, pk[i])
	}
	q.ok(&command.Ack{Tx: "p", At: 6})
	if !q.empty() {
		t.Fatal("not empty")
	}
}

func TestStaleStagingDropped(t *testing.T) {
	q := openQ(t)
	relayPorts(q, 0, 0)
	e := encodePackets(t, mkPkts(100, 200)...)
	const t0 = 1_000_000
	a := e.chunks("in", "a", t0, 150)
	q.ok(a[0])
	b := e.chunks("in", "b", t0+queue.StaleStaging, 150)
	q.ok(b[0]) // exactly StaleStaging later: a stays
	if !q.staged("a") {
		t.Fatal("a dropped at exactly StaleStaging")
	}
	b[1].At = t0 + queue.StaleStaging + 1
	q.ok(b[1])
	if q.staged("a") {
		t.Fatal("a kept after StaleStaging")
	}
	if !q.staged("b") {
		t.Fatal("b dropped")
	}
	q.refused(&command.CommitTx{Port: "in", Tx: "a", Count: 2, Bytes: 300, At: t0 + queue.StaleStaging + 2}, model.KindNotFound, queue.ReasonUnknownTx)
	// A committed transaction is not staging: time does not drop it.
	q.ok(&command.CommitTx{Port: "in", Tx: "b", Count: 2, Bytes: 300, At: t0 + queue.StaleStaging + 2})
	q.ok(e.chunks("in", "c", 10*t0, 150)[0])
	if s := q.stats("in"); s.Count != 2 {
		t.Fatalf("stats %+v", s)
	}
	for _, f := range q.lease("out", "p", 10, 0, 10*t0, 10*t0+1) {
		q.content(f)
	}
}

func TestDeletePort(t *testing.T) {
	q := openQ(t)
	relayPorts(q, 0, 0)
	e := encodePackets(t, mkPkts(10, 20, 30)...)
	q.push("in", "t1", e, 1)

	// Holding flowfiles and feeding an output: refused without force.
	q.refused(&command.DeletePort{ID: "in"}, model.KindConflict, "")
	// An output port goes any time (its lease stays until it ends).
	q.lease("out", "p", 1, 0, 2, 100)
	q.ok(&command.DeletePort{ID: "out"})
	q.refused(&command.Lease{Port: "out", Tx: "p2", MaxCount: 1, At: 2, Expires: 100}, model.KindNotFound, queue.ReasonUnknownPort)
	q.refused(&command.DeletePort{ID: "in"}, model.KindConflict, "") // still holds flowfiles
	q.ok(&command.Release{Tx: "p", At: 3})
	// The name is free again.
	q.ok(&command.CreatePort{ID: "out2", Name: "Out", Kind: command.PortOutput, From: "in", At: 3})
	q.lease("out2", "p3", 1, 0, 3, 100)

	// Force drops the queue, its content, and unhooks the output port.
	q.ok(&command.DeletePort{ID: "in", Force: true})
	for _, p := range q.ports() {
		if p.ID == "in" || p.From != "" {
			t.Fatalf("after delete: %+v", p)
		}
	}
	if s := q.stats("in"); s != (queue.Stats{}) {
		t.Fatalf("stats of a deleted queue %+v", s)
	}
	if fs := q.lease("out2", "p4", 10, 0, 4, 100); len(fs) != 0 {
		t.Fatalf("leased %v from a deleted queue", fs)
	}
	// The lease taken before the delete ends quietly.
	q.ok(&command.Ack{Tx: "p3", At: 4})
	if !q.empty() {
		t.Fatalf("not empty after a forced delete:\n%s", diffDumps(tableDump{}, q.dump()))
	}
	// An empty input port that feeds nothing goes without force; so does
	// one feeding an empty... no: feeding refuses.
	q.ok(&command.CreatePort{ID: "in", Name: "In", Kind: command.PortInput, At: 5})
	q.ok(&command.CreatePort{ID: "o3", Name: "O3", Kind: command.PortOutput, From: "in", At: 5})
	q.refused(&command.DeletePort{ID: "in"}, model.KindConflict, "")
	q.ok(&command.DeletePort{ID: "o3"})
	q.ok(&command.DeletePort{ID: "in"})
	q.ok(&command.DeletePort{ID: "out2"})
	if ps := q.ports(); len(ps) != 0 {
		t.Fatalf("ports left: %+v", ps)
	}
	if d := q.dump(); len(d["q.ports"])+len(d["q.portNames"])+len(d["q.queues"]) != 0 {
		t.Fatalf("left behind:\n%s", diffDumps(tableDump{}, d))
	}
}

// ---- invariants shared with the fuzz test

// checkInvariants recounts q.flows against q.queues and checks that every
// queued flowfile's transaction and content are there.
func checkInvariants(btx *bolt.Tx) error {
	type count struct{ n, bytes, leased int64 }
	counts := map[string]*count{}
	perTx := map[string]int64{}
	var errs []error
	flows := btx.Bucket([]byte("q.flows"))
	err := flows.ForEach(func(k, v []byte) error {
		q, rest, ok := splitKey(k)
		if !ok || len(rest) != 8 {
			return fmt.Errorf("bad flow key %q", k)
		}
		f, err := decodeFlowRec(v)
		if err != nil {
			return fmt.Errorf("flow %q: %w", k, err)
		}
		c := counts[q]
		if c == nil {
			c = &count{}
			counts[q] = c
		}
		c.n++
		c.bytes += f.size
		if f.lease != "" {
			c.leased++
			if btx.Bucket([]byte("q.leases")).Get([]byte(f.lease)) == nil {
				errs = append(errs, fmt.Errorf("flow %q is leased by %q, which has no lease", k, f.lease))
			}
		}
		perTx[f.tx]++
		if btx.Bucket([]byte("q.txs")).Get([]byte(f.tx)) == nil {
			errs = append(errs, fmt.Errorf("flow %q of tx %q: the tx is not in q.txs (its content may be gone)", k, f.tx))
		}
		if err := covered(btx, f.tx, f.off, f.len); err != nil {
			errs = append(errs, fmt.Errorf("flow %q (%+v): %w", k, f, err))
		}
		return nil
	})
	if err != nil {
		return err
	}
	err = btx.Bucket([]byte("q.queues")).ForEach(func(k, _ []byte) error {
		s, err := queue.QueueStats(btx, string(k))
		if err != nil {
			return err
		}
		c := counts[string(k)]
		if c == nil {
			c = &count{}
		}
		if s.Count != c.n || s.Bytes != c.bytes || s.Leased != c.leased {
			errs = append(errs, fmt.Errorf("queue %q: stats %+v, q.flows holds %d flowfiles of %d bytes, %d leased", k, s, c.n, c.bytes, c.leased))
		}
		delete(counts, string(k))
		return nil
	})
	if err != nil {
		return err
	}
	for q, c := range counts {
		errs = append(errs, fmt.Errorf("q.flows holds %d flowfiles of queue %q, which has no stats", c.n, q))
	}
	err = btx.Bucket([]byte("q.txs")).ForEach(func(k, v []byte) error {
		var rec struct {
			Remaining int64 `json:"remaining"`
		}
		if err := json.Unmarshal(v, &rec); err != nil {
			return err
		}
		if rec.Remaining != perTx[string(k)] {
			errs = append(errs, fmt.Errorf("tx %q: %d flowfiles remaining, q.flows holds %d", k, rec.Remaining, perTx[string(k)]))
		}
		return nil
	})
	if err != nil {
		return err
	}
	// Staged packet references belong to a staged transaction, which
	// counts them.
	refs := map[string]int64{}
	err = btx.Bucket([]byte("q.refs")).ForEach(func(k, v []byte) error {
		tx, _, ok := splitKey(k)
		if !ok {
			return fmt.Errorf("bad ref key %q", k)
		}
		refs[tx]++
		return nil
	})
	if err != nil {
		return err
	}
	err = btx.Bucket([]byte("q.staged")).ForEach(func(k, v []byte) error {
		var rec struct {
			Count int64 `json:"count"`
		}
		if err := json.Unmarshal(v, &rec); err != nil {
			return err
		}
		if rec.Count != refs[string(k)] {
			errs = append(errs, fmt.Errorf("staged tx %q counts %d packets, q.refs holds %d", k, rec.Count, refs[string(k)]))
		}
		delete(refs, string(k))
		return nil
	})
	if err != nil {
		return err
	}
	for tx, n := range refs {
		errs = append(errs, fmt.Errorf("q.refs holds %d packet references of tx %q, which is not staged", n, tx))
	}
	return errors.Join(errs...)
}

// covered checks that the chunks of tx hold [off, off+n).
func covered(btx *bolt.Tx, tx string, off, n int64) error {
	for end := off + n; off < end; {
		at, err := queue.Chunk(btx, tx, off)
		if err != nil {
			return err
		}
		n := int64(len(at.Data))
		if at.File != nil {
			n = at.File.Size
		}
		off = at.Start + n
	}
	return nil
}

// splitKey splits a key made of uvarint(len(id)) + id + rest.
func splitKey(k []byte) (id string, rest []byte, ok bool) {
	n, w := binary.Uvarint(k)
	if w <= 0 || uint64(len(k)-w) < n {
		return "", nil, false
	}
	return string(k[w : w+int(n)]), k[w+int(n):], true
}

type flowRec struct {
	tx             string
	off, len, size int64
	lease          string
}

func decodeFlowRec(b []byte) (flowRec, error) {
	var f flowRec
	bad := fmt.Errorf("corrupt flow record %q", b)
	if len(b) < 2 {
		return f, bad
	}
	n := int(binary.BigEndian.Uint16(b))
	if len(b) < 2+n+26 {
		return f, bad
	}
	f.tx = string(b[2 : 2+n])
	b = b[2+n:]
	f.off = int64(binary.BigEndian.Uint64(b))
	f.len = int64(binary.BigEndian.Uint64(b[8:]))
	f.size = int64(binary.BigEndian.Uint64(b[16:]))
	m := int(binary.BigEndian.Uint16(b[24:]))
	if len(b) != 26+m {
		return f, bad
	}
	f.lease = string(b[26:])
	return f, nil
}

func (q *qstore) invariants() {
	q.t.Helper()
	q.read(func(btx *bolt.Tx) error { return checkInvariants(btx) })
}

func TestInvariantsHoldInScenarios(t *testing.T) {
	q := openQ(t)
	relayPorts(q, 0, 0)
	e := encodePackets(t, mkPkts(10, 20, 30, 40)...)
	q.push("in", "t1", e, 1, 20, 40)
	q.invariants()
	q.ok(e.chunks("in", "t2", 1, 30)[0])
	q.invariants()
	q.lease("out", "p", 2, 0, 2, 100)
	q.invariants()
	q.ok(&command.Ack{Tx: "p", At: 3})
	q.invariants()
	q.ok(&command.DeletePort{ID: "in", Force: true})
	q.invariants()
}

// ---- bugs found (these fail until the production code is fixed)

// A StageChunk whose packet list has a good triple before a bad one is
// refused after the good triple was already written to q.refs: the
// refusal changes state (store contract: "nothing of it is written"),
// and the orphan reference later becomes a queued flowfile that the
// queue's stats do not count. queue.go stageChunk writes each triple
// (w.b(tRefs).Put) inside the validation loop.
func TestRegressionRefusedStageChunkLeavesPacketRefs(t *testing.T) {
	q := openQ(t)
	relayPorts(q, 0, 0)
	data := bytes.Repeat([]byte{1}, 100)
	for _, p := range [][]int64{
		{50, 10, 5, 50, 20, 5},  // same offset twice
		{50, 10, 5, 40, 5, 5},   // offsets going back
		{0, 50, 0, 60, 40, 100}, // size > length in the second
		{0, 50, 0, 50, 60, 0},   // second ends after the chunk
	} {
		t.Run(fmt.Sprint(p), func(t *testing.T) {
			q := openQ(t)
			relayPorts(q, 0, 0)
			c := &command.StageChunk{Port: "in", Tx: "t", Off: 0, Packets: p, At: 1, Data: data}
			q.refused(c, model.KindInvalid, "") // fails: q.refs gained a key
		})
	}
}

// The same, followed to its consequence: a flowfile in q.flows that the
// queue's stats and the transaction's remaining count do not know.
func TestRegressionOrphanPacketRefBecomesUncountedFlow(t *testing.T) {
	q := openQ(t)
	relayPorts(q, 0, 0)
	data := bytes.Repeat([]byte{1}, 10)
	_, err := q.applyNoCheck(&command.StageChunk{Port: "in", Tx: "t", Off: 0, Packets: []int64{3, 2, 0, 3, 2, 0}, At: 1, Data: data})
	if err == nil {
		t.Fatal("bad triples accepted")
	}
	q.ok(&command.StageChunk{Port: "in", Tx: "t", Off: 0, Packets: []int64{0, 10, 0}, At: 1, Data: data})
	q.ok(&command.CommitTx{Port: "in", Tx: "t", Count: 1, Bytes: 0, At: 2})
	q.invariants() // fails: 2 flowfiles in q.flows, stats count 1
}

// Packet triples are checked for order only within one chunk: a later
// chunk may list a packet at an offset a former chunk already listed.
// The reference is overwritten in q.refs (same key) but counted twice,
// so the commit queues one flowfile and counts two: the stats never
// return to 0 and the transaction's content is never deleted.
// queue.go stageChunk: `prev := int64(-1)` starts afresh in each chunk
// and nothing compares off with the staged transaction's last packet.
func TestRegressionPacketOffsetReusedAcrossChunks(t *testing.T) {
	q := openQ(t)
	relayPorts(q, 0, 0)
	data := bytes.Repeat([]byte{1}, 10)
	q.ok(&command.StageChunk{Port: "in", Tx: "t", Off: 0, Packets: []int64{0, 4, 0}, At: 1, Data: data})
	_, err := q.applyNoCheck(&command.StageChunk{Port: "in", Tx: "t", Off: 10, Packets: []int64{0, 15, 0}, At: 1, Data: data})
	if err == nil {
		_, err = q.applyNoCheck(&command.CommitTx{Port: "in", Tx: "t", Count: 2, Bytes: 0, At: 2})
	}
	q.invariants() // fails: stats count 2, q.flows holds 1
	if err == nil {
		t.Fatal("a packet listed twice was staged and committed")
	}
}

// A StageChunk at offset 0 for a transaction that is already committed
// (a first chunk proposed again after its commit, or a reused id) starts
// a new staging area over the committed transaction's content: it
// overwrites chunk 0 of the committed content, and dropping it (DropTx,
// or the stale-staging sweep) deletes all of the committed content while
// its flowfiles are still queued. queue.go stageChunk, `case !ok:`
// (a StageChunk at 0 of a tx in q.txs is not checked against q.txs);
// dropTx then deletePrefixed(tChunks, tx).
func TestRegressionRestagingCommittedTxDeletesItsContent(t *testing.T) {
	q := openQ(t)
	relayPorts(q, 0, 0)
	pk := mkPkts(10, 20)
	e := encodePackets(t, pk...)
	cs := e.chunks("in", "t", 1)
	q.ok(cs[0])
	q.ok(&command.CommitTx{Port: "in", Tx: "t", Count: 2, Bytes: 30, At: 1})
	_, err := q.applyNoCheck(cs[0]) // the first chunk again, late
	if err == nil {
		q.ok(&command.DropTx{Tx: "t", At: 2})
	}
	q.invariants() // fails: the flowfiles' content is gone
	for _, f := range q.lease("out", "p", 10, 0, 3, 100) {
		q.checkContent(f, pk[f.Seq])
	}
}

// Back-pressure multiplies the bound by 80 in int64: a bound above
// MaxInt64/80 overflows and every commit is told to back off (or never
// is). queue.go commitTx: `p.MaxBytes*SoftLimitPercent` and
// `p.MaxFlowFiles*SoftLimitPercent`.
func TestRegressionBackoffOverflowsOnHugeBounds(t *testing.T) {
	q := openQ(t)
	q.ok(&command.CreatePort{ID: "in", Name: "In", Kind: command.PortInput, MaxBytes: math.MaxInt64, MaxFlowFiles: math.MaxInt64, At: 1})
	if res := q.push("in", "t", encodePackets(t, mkPkts(1)...), 1); res.Backoff {
		t.Fatalf("1 byte in a queue bounded at MaxInt64 bytes: back off (%+v)", res)
	}
}

// The store's argument check lets ids through when uvarint(len) + id +
// 4 bytes fit a bbolt key (store/args.go id: prefixed(v, 0, 0, 0, 0)),
// but the queue tables key a transaction's chunks and refs, and a
// queue's flowfiles, by uvarint(len) + id + 8 bytes (queue.go keyN). An id
// of MaxKeySize-10 to MaxKeySize-7 bytes passes the check and then makes
// bbolt's Put fail with "key too large": Apply returns a non-model error
// and every replica retries the entry forever (the cluster stalls).
func TestRegressionIDAtKeyLimitStallsApply(t *testing.T) {
	long := strings.Repeat("t", bolt.MaxKeySize-10)
	t.Run("tx", func(t *testing.T) {
		q := openQ(t)
		relayPorts(q, 0, 0)
		_, err := q.applyNoCheck(&command.StageChunk{Port: "in", Tx: long, At: 1, Data: []byte{1}})
		var me *model.Error
		if err != nil && !errors.As(err, &me) {
			t.Fatal(err)
		}
	})
	t.Run("port", func(t *testing.T) {
		q := openQ(t)
		// Refused up front: the commit would write q.flows under
		// keyN(port, seq).
		q.refused(&command.CreatePort{ID: long, Name: "In", Kind: command.PortInput, At: 1}, model.KindInvalid, "")
	})
}

// applyNoCheck applies c without the refusal check (to walk a bug's
// consequences past it).
func (q *qstore) applyNoCheck(c command.Command) (any, error) {
	q.t.Helper()
	data, err := command.Encode(c)
	if err != nil {
		q.t.Fatal(err)
	}
	q.idx++
	res, err := q.st.Apply([]store.Entry{{Index: q.idx, Data: data}})
	if err != nil {
		return nil, fmt.Errorf("Apply failed (the cluster would stall): %w", err)
	}
	return res[0].Value, res[0].Err
}

// TestChunksOfEarlierBuilds: builds before putChunk stored each chunk as a
// plain value of q.chunks; a store written by one is read, leased and
// acked the same, and its chunks are deleted with their transaction.
func TestChunksOfEarlierBuilds(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	st, err := store.Open(path, store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	q := &qstore{t: t, st: st}
	if q.hash, _, err = st.StateHash(); err != nil {
		t.Fatal(err)
	}
	relayPorts(q, 0, 0)
	pk := mkPkts(10, 3000, 0, 70000)
	e := encodePackets(t, pk...)
	q.push("in", "t1", e, 100, e.off[1]+50, e.off[3]+5)
	st.Close()

	// Rewrite every chunk bucket as a plain value, as the earlier build did.
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	converted := 0
	err = db.Update(func(btx *bolt.Tx) error {
		b := btx.Bucket([]byte("q.chunks"))
		chunks := map[string][]byte{}
		if err := b.ForEach(func(k, v []byte) error {
			if v != nil {
				return fmt.Errorf("chunk %q is a plain value already", k)
			}
			chunks[string(k)] = bytes.Clone(b.Bucket(k).Get([]byte("d")))
			return nil
		}); err != nil {
			return err
		}
		for k, v := range chunks {
			if err := b.DeleteBucket([]byte(k)); err != nil {
				return err
			}
			if err := b.Put([]byte(k), v); err != nil {
				return err
			}
			converted++
		}
		return nil
	})
	if err != nil || converted != 3 {
		t.Fatalf("converted %d chunks: %v", converted, err)
	}
	db.Close()

	if q.st, err = store.Open(path, store.Options{NoSync: true}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.st.Close() })
	q.idx = 1 << 20 // past what was applied before the reopen
	fs := q.lease("out", "p1", 10, 0, 102, 1000)
	if len(fs) != len(pk) {
		t.Fatalf("leased %d of %d", len(fs), len(pk))
	}
	for i, f := range fs {
		q.checkContent(f, pk[i])
	}
	q.ok(&command.Ack{Tx: "p1", At: 103})
	if !q.empty() {
		t.Fatalf("chunks of an earlier build outlive their transaction:\n%s", diffDumps(tableDump{}, q.dump()))
	}
}

// Chunks kept in files (StageChunkRef) stage, commit and read back like
// chunks in the log, mixed with them in one transaction; the state lists
// their files (FileContents, with the header's bytes), and each file is
// reported gone exactly when its chunk goes: when the last flowfile of
// the transaction is acked, or when a staged transaction is dropped.
func TestChunkFiles(t *testing.T) {
	q := openQ(t)
	relayPorts(q, 0, 0)
	pk := mkPkts(10, 3000, 0, 70000, 5)
	e := encodePackets(t, pk...)
	chunks := e.chunks("in", "t1", 100, e.off[1]+50, e.off[3]+5)
	refs := []*command.StageChunkRef{q.asFile(chunks[0]), q.asFile(chunks[2])}
	q.ok(refs[0])
	q.ok(refs[0]) // a retried proposal: no effect
	// Another file at the same offset is refused.
	other := *refs[0]
	other.SHA256 = strings.Repeat("a", 64)
	q.refused(&other, model.KindInvalid, "")
	q.ok(chunks[1])
	q.ok(refs[1])
	want := map[string]int64{}
	for _, r := range refs {
		want[r.SHA256] = int64(len(q.files[r.SHA256]))
	}
	if got := q.fileContents(); !reflect.DeepEqual(got, want) {
		t.Fatalf("FileContents %v, want %v", got, want)
	}
	q.ok(&command.CommitTx{Port: "in", Tx: "t1", Count: int64(len(pk)), Bytes: e.bytes(), At: 101})
	if g := q.st.TakeGone(); len(g) != 0 {
		t.Fatalf("files gone after a commit: %v", g)
	}
	fs := q.lease("out", "p1", 3, 0, 102, 1000)
	for i, f := range fs {
		q.checkContent(f, pk[i])
	}
	q.ok(&command.Ack{Tx: "p1", At: 103})
	if g := q.st.TakeGone(); len(g) != 0 {
		t.Fatalf("files gone while flowfiles of their transaction are queued: %v", g)
	}
	fs = q.lease("out", "p2", 10, 0, 104, 1000)
	for i, f := range fs {
		q.checkContent(f, pk[3+i])
	}
	q.ok(&command.Ack{Tx: "p2", At: 105})
	select {
	case <-q.st.Gone():
	default:
		t.Fatal("Gone not signalled")
	}
	got := q.st.TakeGone()
	slices.Sort(got)
	wantGone := []string{refs[0].SHA256, refs[1].SHA256}
	slices.Sort(wantGone)
	if !reflect.DeepEqual(got, wantGone) {
		t.Fatalf("gone %v, want %v", got, wantGone)
	}
	if !q.empty() || len(q.fileContents()) != 0 {
		t.Fatalf("left behind:\n%s", diffDumps(tableDump{}, q.dump()))
	}

	// A dropped transaction's files go with it.
	e2 := encodePackets(t, mkPkts(2000)...)
	r2 := q.asFile(e2.chunks("in", "t2", 110)[0])
	q.ok(r2)
	q.ok(&command.DropTx{Tx: "t2"})
	if g := q.st.TakeGone(); !reflect.DeepEqual(g, []string{r2.SHA256}) {
		t.Fatalf("gone after a drop %v, want %v", g, r2.SHA256)
	}
	// A staging area only the state can see: a bad name or size is
	// refused.
	bad := *r2
	bad.Tx = "t3"
	for _, c := range []func(*command.StageChunkRef){
		func(c *command.StageChunkRef) { c.SHA256 = "" },
		func(c *command.StageChunkRef) { c.SHA256 = strings.Repeat("A", 64) },
		func(c *command.StageChunkRef) { c.SHA256 = "../" + c.SHA256[3:] },
		func(c *command.StageChunkRef) { c.Size = 0 },
		func(c *command.StageChunkRef) { c.Size = -1 },
		func(c *command.StageChunkRef) { c.Size = math.MaxInt64 },
	} {
		b := bad
		c(&b)
		q.refused(&b, model.KindInvalid, "")
	}
}

func (q *qstore) fileContents() map[string]int64 {
	var m map[string]int64
	q.read(func(btx *bolt.Tx) (err error) { m, err = queue.FileContents(btx); return })
	return m
}

// An ack counts its flowfiles off their push transactions per transaction:
// a lease spanning two pushes removes the first push's record and content
// once all of its flowfiles are acked and keeps the second's for the
// flowfile still queued.
func TestAckAcrossPushes(t *testing.T) {
	q := openQ(t)
	relayPorts(q, 0, 0)
	p1, p2 := mkPkts(10, 20, 30), mkPkts(40, 50)
	q.push("in", "t1", encodePackets(t, p1...), 1)
	q.push("in", "t2", encodePackets(t, p2...), 2)
	fs := q.sharedLease("out", "a", 4, 3, 100)
	if !reflect.DeepEqual(seqs(fs), []uint64{0, 1, 2, 3}) {
		t.Fatalf("leased %v", seqs(fs))
	}
	q.ok(&command.Ack{Tx: "a", At: 4})
	q.invariants()
	q.read(func(btx *bolt.Tx) error {
		if btx.Bucket([]byte("q.txs")).Get([]byte("t1")) != nil {
			t.Error("t1 is kept after all its flowfiles were acked")
		}
		if btx.Bucket([]byte("q.txs")).Get([]byte("t2")) == nil {
			t.Error("t2 is gone while one of its flowfiles is queued")
		}
		return nil
	})
	last := q.sharedLease("out", "b", 10, 5, 100)
	if !reflect.DeepEqual(seqs(last), []uint64{4}) {
		t.Fatalf("leased %v", seqs(last))
	}
	q.checkContent(last[0], p2[1])
	q.ok(&command.Ack{Tx: "b", At: 6})
	if !q.empty() {
		t.Fatalf("not empty after every flowfile was acked:\n%s", diffDumps(tableDump{}, q.dump()))
	}
}

// TestAckFlowsAndAvailable: the level-11 pull. Available lists what a
// memory lease may take (skipping what the leader holds, what a
// replicated lease holds and what retention expired); AckFlows removes
// the named flowfiles that are still queued and unheld, once, and frees
// a push's content with its last flowfile; bad runs are refused with
// nothing changed.
func TestAckFlowsAndAvailable(t *testing.T) {
	q := openQ(t)
	relayPorts(q, 0, 0)
	pk := mkPkts(10, 20, 30, 40, 50, 60)
	q.push("in", "t1", encodePackets(t, pk...), 100)

	avail := func(held map[uint64]bool, maxCount, maxBytes int64) (string, []uint64, bool) {
		t.Helper()
		var qn string
		var fs []queue.Flow
		var ordered bool
		q.read(func(btx *bolt.Tx) (err error) {
			qn, fs, ordered, err = queue.Available(btx, "out", 200, func(q string, seq uint64) bool { return q == "in" && held[seq] }, maxCount, maxBytes)
			return err
		})
		return qn, seqs(fs), ordered
	}
	if qn, got, ordered := avail(map[uint64]bool{1: true}, 3, 0); qn != "in" || ordered || !reflect.DeepEqual(got, []uint64{0, 2, 3}) {
		t.Fatalf("available: %q %v %v", qn, got, ordered)
	}
	if _, got, _ := avail(nil, 10, 35); !reflect.DeepEqual(got, []uint64{0, 1}) {
		t.Fatalf("available within 35 bytes: %v", got)
	}
	// A replicated lease's flowfiles are not available, and AckFlows
	// leaves them to that lease.
	if got := seqs(q.sharedLease("out", "r1", 1, 150, 10_000)); !reflect.DeepEqual(got, []uint64{0}) {
		t.Fatalf("replicated lease: %v", got)
	}
	if _, got, _ := avail(nil, 10, 0); !reflect.DeepEqual(got, []uint64{1, 2, 3, 4, 5}) {
		t.Fatalf("available beside a replicated lease: %v", got)
	}

	for _, bad := range [][][2]uint64{{{3, 2}}, {{0, 2}, {2, 4}}, {{4, 5}, {0, 1}}} {
		q.refused(&command.AckFlows{Port: "out", Tx: "m", Queue: "in", Runs: bad, At: 201}, model.KindInvalid, "")
	}
	q.refused(&command.AckFlows{Port: "out", Tx: "m", Runs: [][2]uint64{{0, 1}}, At: 201}, model.KindInvalid, "")

	q.ok(&command.AckFlows{Port: "out", Tx: "m1", Queue: "in", Runs: [][2]uint64{{0, 2}, {4, 4}}, At: 202})
	if s := q.stats("in"); s.Count != 3 || s.Bytes != 40+60+10 || s.Leased != 1 {
		t.Fatalf("after acking 1, 2 and 4 (0 held by r1): %+v", s)
	}
	// The same ack again (a retried proposal, or a duplicate delivery
	// after a leader change) removes nothing more.
	before := q.dump()
	q.ok(&command.AckFlows{Port: "out", Tx: "m1", Queue: "in", Runs: [][2]uint64{{0, 2}, {4, 4}}, At: 203})
	if d := diffDumps(before, q.dump()); d != "" {
		t.Fatalf("a repeated ack changed: %s", d)
	}
	// A run over the whole sequence space visits only what is queued.
	q.ok(&command.Release{Tx: "r1", At: 204})
	q.ok(&command.AckFlows{Port: "out", Tx: "m2", Queue: "in", Runs: [][2]uint64{{0, math.MaxUint64}}, At: 205})
	if !q.empty() {
		t.Fatal("content or records left after every flowfile was acked")
	}
	// An ordered port is not served by memory leases.
	q.ok(&command.SetPortOrder{ID: "out", Ordered: true, At: 206})
	if _, got, ordered := avail(nil, 10, 0); !ordered || len(got) != 0 {
		t.Fatalf("ordered port: %v %v", got, ordered)
	}
}
