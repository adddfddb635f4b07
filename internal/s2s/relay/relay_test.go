package relay

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/weir-nifi/weir/internal/blobs"
	"github.com/weir-nifi/weir/internal/command"
	"github.com/weir-nifi/weir/internal/s2s/codec"
	"github.com/weir-nifi/weir/internal/s2s/server"
	"github.com/weir-nifi/weir/internal/store"
)

// twin is the cluster as a follower's relay sees it, in memory: a
// proposal is applied at once to the leader's store and only queued for
// the follower's, which applies what is queued when it takes a read
// barrier (a follower learns of commits from the leader's next message).
type twin struct {
	t                testing.TB
	mu               sync.Mutex
	leader, follower *store.Store
	idx              uint64
	pending          []store.Entry
	barriers         int
	leading          bool
	level            int // the cluster's command level (command.Level when 0)
	// lead is the relay on the leader's store that serves CallLeader
	// (memory leases), made at the first call with the clock now.
	lead    *Relay
	now     func() time.Time
	changes uint64 // LeaderChanges
	// proposed lists the type of every command proposed.
	proposed []command.Type
	// oldLeader: the leader's build ignores fields of calls it does not
	// know (leaseReq.Runs).
	oldLeader bool
}

// leaderSide is the twin as its leader sees it.
type leaderSide struct{ *twin }

func (leaderSide) IsLeader() bool { return true }

func (tw *twin) CallLeader(ctx context.Context, name string, req, out any) error {
	tw.mu.Lock()
	if tw.lead == nil {
		now := tw.now
		if now == nil {
			now = time.Now
		}
		tw.lead = New(leaderSide{tw}, tw.leader, Options{Now: now})
	}
	lead := tw.lead
	tw.mu.Unlock()
	b, err := json.Marshal(req)
	if err != nil {
		return err
	}
	if tw.oldLeader {
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(b, &fields); err != nil {
			return err
		}
		delete(fields, "runs")
		if b, err = json.Marshal(fields); err != nil {
			return err
		}
	}
	fn, ok := lead.LeaderFuncs()[name]
	if !ok {
		tw.t.Fatalf("no leader function %q", name)
	}
	v, err := fn(ctx, b)
	if err != nil || out == nil {
		return err
	}
	if b, err = json.Marshal(v); err != nil {
		return err
	}
	return json.Unmarshal(b, out)
}

func (tw *twin) LeaderChanges() uint64 {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	return tw.changes
}

var _ Cluster = (*twin)(nil)

func newTwin(t testing.TB) *twin {
	open := func(name string) *store.Store {
		st, err := store.Open(filepath.Join(t.TempDir(), name), store.Options{NoSync: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
	return &twin{t: t, leader: open("leader.db"), follower: open("follower.db")}
}

func (tw *twin) ProposeAnywhere(_ context.Context, c command.Command, out any) error {
	data, err := command.Encode(c)
	if err != nil {
		return err
	}
	tw.mu.Lock()
	defer tw.mu.Unlock()
	tw.proposed = append(tw.proposed, c.Type())
	tw.idx++
	e := store.Entry{Index: tw.idx, Data: data}
	res, err := tw.leader.Apply([]store.Entry{e})
	if err != nil {
		tw.t.Fatalf("leader apply %s: %v", c.Type(), err)
	}
	tw.pending = append(tw.pending, e)
	if res[0].Err != nil {
		return res[0].Err
	}
	if out != nil {
		b, err := json.Marshal(res[0].Value)
		if err != nil {
			return err
		}
		return json.Unmarshal(b, out)
	}
	return nil
}

func (tw *twin) ReadBarrier(context.Context) error {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	tw.barriers++
	if len(tw.pending) > 0 {
		if _, err := tw.follower.Apply(tw.pending); err != nil {
			tw.t.Fatalf("follower apply: %v", err)
		}
		tw.pending = nil
	}
	return nil
}

func (tw *twin) LiveMembers() map[string]bool { return map[string]bool{} }

func (tw *twin) CommandLevel() int {
	if tw.level == 0 {
		return command.Level
	}
	return tw.level
}

func (tw *twin) IsLeader() bool {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	return tw.leading
}

func (tw *twin) barrierCount() int {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	return tw.barriers
}

// packets encodes n flowfiles of size bytes (distinct content) and
// returns a reader of them as the server hands a push body to Stage.
func packets(t testing.TB, first, n, size int) (server.PacketReader, [][]byte) {
	var buf bytes.Buffer
	enc := codec.NewEncoder(&buf, false)
	var contents [][]byte
	for i := first; i < first+n; i++ {
		c := bytes.Repeat([]byte{byte(i)}, size)
		copy(c, fmt.Sprintf("flowfile %d;", i))
		if err := enc.Encode(map[string]string{"filename": fmt.Sprint(i)}, int64(len(c)), bytes.NewReader(c)); err != nil {
			t.Fatal(err)
		}
		contents = append(contents, c)
	}
	return codec.NewDecoder(&buf, false, codec.Limits{}), contents
}

func push(t testing.TB, r *Relay, port, tx string, pr server.PacketReader) {
	ctx := context.Background()
	st, err := r.Stage(ctx, port, tx, pr)
	if err != nil {
		t.Fatalf("stage %s: %v", tx, err)
	}
	if _, err := r.Commit(ctx, st); err != nil {
		t.Fatalf("commit %s: %v", tx, err)
	}
}

// drain reads a lease's flowfiles and checks them against want, in order.
func drain(t testing.TB, l server.Lease, want [][]byte) {
	t.Helper()
	for i := range want {
		ff, err := l.Next(context.Background())
		if err != nil {
			t.Fatalf("flowfile %d of %d: %v", i, len(want), err)
		}
		got, err := io.ReadAll(ff.Content)
		if err != nil || !bytes.Equal(got, want[i]) {
			t.Fatalf("flowfile %d: %d bytes %q…, %v; want %q…", i, len(got), got[:min(len(got), 16)], err, want[i][:16])
		}
	}
	if _, err := l.Next(context.Background()); err != io.EOF {
		t.Fatalf("after %d flowfiles: %v, want EOF", len(want), err)
	}
}

// TestFollowerPull: a pull served by a follower whose replica is behind.
// It takes a read barrier only when it must: to confirm that there is
// nothing to lease, and when a leased flowfile's content has not been
// applied here yet; never because of a lease it acked itself.
func TestFollowerPull(t *testing.T) {
	for _, level := range []int{6, command.LevelOf(command.TypeAckFlows) - 1} {
		t.Run(fmt.Sprintf("level %d", level), func(t *testing.T) { testFollowerPull(t, level) })
	}
}

// TestFollowerPullMemoryLease: from level 11 a follower's pull asks the
// leader for a lease held in its memory, which costs no log entry and no
// barrier; the confirm is one AckFlows entry naming the flowfiles sent.
// Content this replica has not applied yet is read after a barrier.
func TestFollowerPullMemoryLease(t *testing.T) {
	tw, r := relayWithPorts(t, command.Level, true)
	ctx := context.Background()
	entries := func() uint64 { tw.mu.Lock(); defer tw.mu.Unlock(); return tw.idx }
	if err := tw.ReadBarrier(ctx); err != nil { // the ports are known here
		t.Fatal(err)
	}
	before, barriers := entries(), tw.barrierCount()
	l, err := r.Lease(ctx, "out", "p0", server.BatchLimits{})
	if err != nil {
		t.Fatal(err)
	}
	drain(t, l, nil)
	if entries() != before || tw.barrierCount() != barriers {
		t.Fatalf("an empty pull took %d entries and %d barriers", entries()-before, tw.barrierCount()-barriers)
	}

	// Push 1 reaches this replica; push 2 is committed but not applied
	// here: its content is read after one barrier.
	pr, c1 := packets(t, 0, 5, 3000)
	push(t, r, "in", "t1", pr)
	if err := tw.ReadBarrier(ctx); err != nil {
		t.Fatal(err)
	}
	pr, c2 := packets(t, 5, 5, 3000)
	push(t, r, "in", "t2", pr)
	before, barriers = entries(), tw.barrierCount()
	l, err = r.Lease(ctx, "out", "p1", server.BatchLimits{Count: 7})
	if err != nil {
		t.Fatal(err)
	}
	if entries() != before {
		t.Fatalf("a memory lease took %d log entries", entries()-before)
	}
	drain(t, l, append(append([][]byte{}, c1...), c2[:2]...))
	if n := tw.barrierCount() - barriers; n != 1 {
		t.Fatalf("%d barriers reading content missing here, want 1", n)
	}
	if err := r.Ack(ctx, l); err != nil {
		t.Fatal(err)
	}
	if n := entries() - before; n != 1 {
		t.Fatalf("lease and confirm took %d log entries, want 1", n)
	}

	// A second pull gets the rest, and then there is nothing.
	l, err = r.Lease(ctx, "out", "p2", server.BatchLimits{})
	if err != nil {
		t.Fatal(err)
	}
	drain(t, l, c2[2:])
	ackLast(t, tw, r, l)
}

// relayWithPorts is a relay at command level level on the leader's or the
// follower's store of a twin, with an input port "in" feeding an output
// port "out".
func relayWithPorts(t *testing.T, level int, onFollower bool) (*twin, *Relay) {
	tw := newTwin(t)
	tw.level = level
	now := time.UnixMilli(1_000_000)
	tw.now = func() time.Time { return now }
	st := tw.leader
	if onFollower {
		st = tw.follower
	}
	r := New(tw, st, Options{ChunkBytes: 4096, Now: func() time.Time { return now }})
	for _, c := range []command.Command{
		&command.CreatePort{ID: "in", Name: "in", Kind: command.PortInput, At: 1},
		&command.CreatePort{ID: "out", Name: "out", Kind: command.PortOutput, From: "in", At: 1},
	} {
		if err := tw.ProposeAnywhere(context.Background(), c, nil); err != nil {
			t.Fatal(err)
		}
	}
	if !onFollower {
		tw.lead = r // the relay under test serves the leader's calls
	}
	return tw, r
}

func testFollowerPull(t *testing.T, level int) {
	tw, r := relayWithPorts(t, level, true)
	ctx := context.Background()

	if err := tw.ReadBarrier(ctx); err != nil { // the ports are known here
		t.Fatal(err)
	}

	// Nothing queued: confirmed with a barrier (the replica may be behind).
	l, err := r.Lease(ctx, "out", "p0", server.BatchLimits{})
	if err != nil {
		t.Fatal(err)
	}
	drain(t, l, nil)
	if n := tw.barrierCount() - 1; n != 1 {
		t.Fatalf("%d barriers for an empty queue, want 1", n)
	}

	// Push 1 reaches this replica; push 2 is committed but not applied
	// here. The replica shows flowfiles, so the lease goes ahead without
	// a barrier; push 2's content is read after one.
	pr, c1 := packets(t, 0, 5, 3000)
	push(t, r, "in", "t1", pr)
	if err := tw.ReadBarrier(ctx); err != nil {
		t.Fatal(err)
	}
	pr, c2 := packets(t, 5, 5, 3000)
	push(t, r, "in", "t2", pr)
	before := tw.barrierCount()
	l, err = r.Lease(ctx, "out", "p1", server.BatchLimits{Count: 7})
	if err != nil {
		t.Fatal(err)
	}
	if n := tw.barrierCount() - before; n != 0 {
		t.Fatalf("%d barriers to lease from a replica showing flowfiles", n)
	}
	drain(t, l, append(append([][]byte{}, c1...), c2[:2]...))
	if n := tw.barrierCount() - before; n != 1 {
		t.Fatalf("%d barriers reading content missing here, want 1", n)
	}
	if err := r.Ack(ctx, l); err != nil {
		t.Fatal(err)
	}

	// The ack is not applied here yet: the replica shows p1's lease live,
	// but this node acked it, so the next pull needs no barrier.
	before = tw.barrierCount()
	l, err = r.Lease(ctx, "out", "p2", server.BatchLimits{})
	if err != nil {
		t.Fatal(err)
	}
	drain(t, l, c2[2:])
	if n := tw.barrierCount() - before; n != 0 {
		t.Fatalf("%d barriers after this node's own ack", n)
	}
	// Drained: nothing to lease. (The replica, still behind, shows p2's
	// flowfiles queued, so the last pull asks the leader, which has none.)
	ackLast(t, tw, r, l)
}

// ackLast acks the last lease of a drained queue, checks that a further
// pull gets nothing and that, once the replica caught up, nothing is
// queued or leased.
func ackLast(t *testing.T, tw *twin, r *Relay, l server.Lease) {
	t.Helper()
	ctx := context.Background()
	if err := r.Ack(ctx, l); err != nil {
		t.Fatal(err)
	}
	l, err := r.Lease(ctx, "out", "last", server.BatchLimits{})
	if err != nil {
		t.Fatal(err)
	}
	drain(t, l, nil)
	if err := tw.ReadBarrier(ctx); err != nil {
		t.Fatal(err)
	}
	drained(t, r)
}

// drained checks that no port of r has flowfiles queued or leased.
func drained(t *testing.T, r *Relay) {
	t.Helper()
	st, err := r.Status()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range st {
		if p.Queued != 0 || p.Leased != 0 {
			t.Fatalf("after draining: %+v", p)
		}
	}
}

// TestPartialPull: a pull that stops before its lease's end (the client's
// batch duration ran out while it read) removes only the flowfiles it
// sent when it is confirmed; the rest stay queued, in order. A cluster
// that cannot ack part of a lease yet releases the whole lease instead:
// the sent flowfiles go out again (at least once), none is lost.
func TestPartialPull(t *testing.T) {
	for _, level := range []int{command.LevelOf(command.TypeAckSent) - 1, command.Level} {
		t.Run(fmt.Sprintf("level %d", level), func(t *testing.T) {
			_, r := relayWithPorts(t, level, false)
			ctx := context.Background()
			pr, contents := packets(t, 0, 10, 3000)
			push(t, r, "in", "t1", pr)
			l, err := r.Lease(ctx, "out", "p1", server.BatchLimits{})
			if err != nil {
				t.Fatal(err)
			}
			// The server stops after 4 (its batch duration is over).
			for i := range 4 {
				ff, err := l.Next(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if got, _ := io.ReadAll(ff.Content); !bytes.Equal(got, contents[i]) {
					t.Fatalf("flowfile %d differs", i)
				}
			}
			if err := r.Ack(ctx, l); err != nil {
				t.Fatal(err)
			}
			rest := contents[4:]
			if level < command.LevelOf(command.TypeAckSent) {
				rest = contents // released whole: sent again
			}
			l, err = r.Lease(ctx, "out", "p2", server.BatchLimits{})
			if err != nil {
				t.Fatal(err)
			}
			drain(t, l, rest)
			if err := r.Ack(ctx, l); err != nil {
				t.Fatal(err)
			}
			drained(t, r)
		})
	}
}

// localContents is a one-node file store: replicating needs no other
// voter, and every file is here.
type localContents struct {
	st         *blobs.Store
	replicated int
}

func (c *localContents) Store() *blobs.Store { return c.st }
func (c *localContents) ReplicateBytes(_ context.Context, sha string, parts ...[]byte) error {
	if blobs.SumOf(parts...) != sha {
		return fmt.Errorf("replicating bytes that are not %s", sha)
	}
	c.replicated++
	return nil
}
func (c *localContents) Open(_ context.Context, sha string, size int64) (*os.File, error) {
	if !c.st.Has(sha, size) {
		return nil, fmt.Errorf("no file %s of %d bytes", sha, size)
	}
	return c.st.Open(sha)
}

// TestChunkFiles: from level 13, chunks of FileChunkMin bytes or more are
// files replicated before their StageChunkRef is proposed, pulls read
// them back byte for byte, and each file goes as soon as the last
// flowfile of its push is acked; the last, smaller chunk of a push stays
// in the log. Below level 13 every chunk stays in the log.
func TestChunkFiles(t *testing.T) {
	for _, level := range []int{command.LevelOf(command.TypeStageChunkRef) - 1, command.Level} {
		t.Run(fmt.Sprintf("level %d", level), func(t *testing.T) {
			tw := newTwin(t)
			tw.level = level
			st, err := blobs.Open(filepath.Join(t.TempDir(), "content"))
			if err != nil {
				t.Fatal(err)
			}
			ct := &localContents{st: st}
			r := New(tw, tw.leader, Options{ChunkBytes: 4096, FileChunkMin: 2048, Contents: ct})
			tw.lead = r
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			kept := make(chan struct{})
			go func() { r.KeepChunkFiles(ctx); close(kept) }()
			for _, c := range []command.Command{
				&command.CreatePort{ID: "in", Name: "in", Kind: command.PortInput, At: 1},
				&command.CreatePort{ID: "out", Name: "out", Kind: command.PortOutput, From: "in", At: 1},
			} {
				if err := tw.ProposeAnywhere(ctx, c, nil); err != nil {
					t.Fatal(err)
				}
			}
			// 10 × 3000 content bytes plus headers: 7 full chunks of 4096
			// and a last one of about 1,500.
			pr, contents := packets(t, 0, 10, 3000)
			push(t, r, "in", "t1", pr)
			files, err := st.List()
			if err != nil {
				t.Fatal(err)
			}
			want := 0
			if level >= command.LevelOf(command.TypeStageChunkRef) {
				want = 7
			}
			if len(files) != want || ct.replicated != want {
				t.Fatalf("%d files, %d replicated; want %d", len(files), ct.replicated, want)
			}
			var refs map[string]int64
			if err := tw.leader.Read(func(tx *store.Tx) (err error) { refs, err = store.FileContents(tx.Bolt()); return }); err != nil {
				t.Fatal(err)
			}
			for _, f := range files {
				if refs[f.SHA256] != f.Size {
					t.Fatalf("file %s of %d bytes: the state says %d", f.SHA256, f.Size, refs[f.SHA256])
				}
			}
			l, err := r.Lease(ctx, "out", "p1", server.BatchLimits{Count: 4})
			if err != nil {
				t.Fatal(err)
			}
			drain(t, l, contents[:4])
			if err := r.Ack(ctx, l); err != nil {
				t.Fatal(err)
			}
			if files, _ := st.List(); len(files) != want {
				t.Fatalf("%d files while flowfiles of their push are queued, want %d", len(files), want)
			}
			l, err = r.Lease(ctx, "out", "p2", server.BatchLimits{})
			if err != nil {
				t.Fatal(err)
			}
			drain(t, l, contents[4:])
			if err := r.Ack(ctx, l); err != nil {
				t.Fatal(err)
			}
			drained(t, r)
			// The files go when KeepChunkFiles hears of it.
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
				files, err := st.List()
				if err != nil {
					t.Fatal(err)
				}
				if len(files) == 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("%d chunk files left after every flowfile was acked", len(files))
				}
			}
			cancel()
			<-kept
		})
	}
}

// TestStageCommit: from level 14 a push's last chunk is not proposed when
// it is staged but with the commit, in one StageCommit: a file chunk (on
// a majority before the 202), a small chunk held in memory, and the last
// of several chunks; a push dropped before its commit loses its file here
// at once and on every node through a StageChunkRef and a DropTx proposed
// in the background; a full port answers "destination full" and the
// chunk it staged is dropped. At level 13 every chunk is proposed when
// staged and the commit is a CommitTx.
func TestStageCommit(t *testing.T) {
	for _, level := range []int{command.LevelOf(command.TypeStageCommit) - 1, command.Level} {
		t.Run(fmt.Sprintf("level %d", level), func(t *testing.T) {
			deferred := level >= command.LevelOf(command.TypeStageCommit)
			tw := newTwin(t)
			tw.level = level
			st, err := blobs.Open(filepath.Join(t.TempDir(), "content"))
			if err != nil {
				t.Fatal(err)
			}
			r := New(tw, tw.leader, Options{ChunkBytes: 4096, FileChunkMin: 2048, Contents: &localContents{st: st}})
			tw.lead = r
			ctx := context.Background()
			for _, c := range []command.Command{
				&command.CreatePort{ID: "in", Name: "in", Kind: command.PortInput, At: 1},
				&command.CreatePort{ID: "out", Name: "out", Kind: command.PortOutput, From: "in", At: 1},
				&command.CreatePort{ID: "cap", Name: "cap", Kind: command.PortInput, MaxFlowFiles: 1, At: 1},
			} {
				if err := tw.ProposeAnywhere(ctx, c, nil); err != nil {
					t.Fatal(err)
				}
			}
			proposed := func() []command.Type {
				tw.mu.Lock()
				defer tw.mu.Unlock()
				out := tw.proposed
				tw.proposed = nil
				return out
			}
			staging := func(port string) int {
				ps, err := r.Status()
				if err != nil {
					t.Fatal(err)
				}
				for _, p := range ps {
					if p.ID == port {
						return p.Staging
					}
				}
				t.Fatalf("no port %s", port)
				return 0
			}
			proposed()
			var want [][]byte
			for i, c := range []struct {
				name          string
				n, size       int
				stage, commit []command.Type // proposed at level 14
			}{
				{"one file chunk", 1, 3000, nil, []command.Type{command.TypeStageCommit}},
				{"one small chunk", 1, 100, nil, []command.Type{command.TypeStageCommit}},
				{"three chunks, the last small", 3, 3000,
					[]command.Type{command.TypeStageChunkRef, command.TypeStageChunkRef}, []command.Type{command.TypeStageCommit}},
			} {
				pr, contents := packets(t, 10*i, c.n, c.size)
				want = append(want, contents...)
				sd, err := r.Stage(ctx, "in", fmt.Sprint("t", i), pr)
				if err != nil {
					t.Fatalf("%s: stage: %v", c.name, err)
				}
				got := proposed()
				if deferred && !slices.Equal(got, c.stage) {
					t.Fatalf("%s: staging proposed %v, want %v", c.name, got, c.stage)
				}
				if deferred && c.n == 1 && staging("in") != 0 {
					t.Fatalf("%s: the state holds the push before its commit", c.name)
				}
				if deferred && c.size < 2048 && r.held.Load() == 0 {
					t.Fatalf("%s: the small last chunk is not counted as held", c.name)
				}
				if _, err := r.Commit(ctx, sd); err != nil {
					t.Fatalf("%s: commit: %v", c.name, err)
				}
				got = append(got, proposed()...)
				if deferred && !slices.Equal(got, append(slices.Clone(c.stage), c.commit...)) {
					t.Fatalf("%s: proposed %v", c.name, got)
				}
				if !deferred && got[len(got)-1] != command.TypeCommitTx {
					t.Fatalf("%s: level %d proposed %v", c.name, level, got)
				}
				if r.held.Load() != 0 || staging("in") != 0 {
					t.Fatalf("%s: %d bytes held, %d pushes staging after the commit", c.name, r.held.Load(), staging("in"))
				}
			}
			l, err := r.Lease(ctx, "out", "p1", server.BatchLimits{})
			if err != nil {
				t.Fatal(err)
			}
			drain(t, l, want)
			if err := r.Ack(ctx, l); err != nil {
				t.Fatal(err)
			}

			// Dropped before its commit.
			before, _ := st.List()
			pr, _ := packets(t, 50, 1, 3000)
			sd, err := r.Stage(ctx, "in", "dropped", pr)
			if err != nil {
				t.Fatal(err)
			}
			proposed()
			tw.ReadBarrier(ctx)
			tw.leader.TakeGone()
			tw.follower.TakeGone()
			if deferred {
				// The state never held the chunk. Discard removes this
				// node's file at once, then stages and drops the chunk in
				// the background so that every node lists the file as
				// gone and removes its copy (the other voters have one).
				sha := sd.(*staged).last.SHA256
				r.Discard(sd)
				after, _ := st.List()
				if len(after) != len(before) {
					t.Fatalf("a push dropped before its commit: %d files before, %d after", len(before), len(after))
				}
				var got []command.Type
				for deadline := time.Now().Add(10 * time.Second); len(got) < 2; time.Sleep(5 * time.Millisecond) {
					got = append(got, proposed()...)
					if time.Now().After(deadline) {
						break
					}
				}
				if !slices.Equal(got, []command.Type{command.TypeStageChunkRef, command.TypeDropTx}) {
					t.Fatalf("a push dropped before its commit proposed %v", got)
				}
				tw.ReadBarrier(ctx)
				for name, node := range map[string]*store.Store{"leader": tw.leader, "follower": tw.follower} {
					if gone := node.TakeGone(); !slices.Equal(gone, []string{sha}) {
						t.Fatalf("the %s lists %v as gone, want the dropped chunk's file %s", name, gone, sha)
					}
				}
				if staging("in") != 0 {
					t.Fatal("the dropped push is still staged")
				}
			} else {
				r.Discard(sd)
				for deadline := time.Now().Add(10 * time.Second); staging("in") != 0; time.Sleep(5 * time.Millisecond) {
					if time.Now().After(deadline) {
						t.Fatalf("level %d: a dropped push is still staged", level)
					}
				}
			}

			// A full port.
			pr, _ = packets(t, 60, 1, 100)
			push(t, r, "cap", "fill", pr)
			pr, _ = packets(t, 61, 1, 3000)
			sd, err = r.Stage(ctx, "cap", "over", pr)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := r.Commit(ctx, sd); !errors.Is(err, server.ErrDestinationFull) {
				t.Fatalf("a push to a full port: %v", err)
			}
			r.Discard(sd) // as the server does after a failed commit
			for deadline := time.Now().Add(10 * time.Second); staging("cap") != 0; time.Sleep(5 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatal("the full port's push is still staged after its drop")
				}
			}
		})
	}
}
