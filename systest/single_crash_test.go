package systest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/weir-nifi/weir/internal/harness"
)

// crashAck is a commit the node acknowledged (200).
type crashAck struct {
	flow    string
	version int
	marker  string
}

// crashBook records what the writers attempted and what was acknowledged.
type crashBook struct {
	mu       sync.Mutex
	acks     []crashAck
	attempts map[string]map[string]bool // flow -> markers sent
}

func (b *crashBook) attempt(flow, marker string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.attempts[flow] == nil {
		b.attempts[flow] = map[string]bool{}
	}
	b.attempts[flow][marker] = true
}

func (b *crashBook) ack(a crashAck) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.acks = append(b.acks, a)
	return len(b.acks)
}

// crashContents is a flow document whose root group name is the marker.
// Every other commit is padded past the size at which the store
// compresses documents, so both stored forms go through the crash.
func crashContents(marker string, pad int) string {
	return fmt.Sprintf(`{"componentType":"PROCESS_GROUP","identifier":"crash-root","name":%q,"comments":%q,"processors":[],"processGroups":[]}`,
		marker, strings.Repeat("x", pad))
}

// TestSingleCrashSafety runs the real binary (fsync on), lets 8 clients
// commit versions continuously, SIGKILLs the process mid-stream, restarts
// it on the same data directory and checks that every acknowledged commit
// is there with its content, that versions are contiguous per flow, that
// nothing was invented, and that the node came back serving. Three rounds
// kill it at different moments (after 10, 60 and 150 acknowledged commits
// of the round); a graceful restart at the end must not change the state.
//
// Writers 0-5 share flows A-C two by two and commit with version -1;
// writers 6 and 7 own flows D and E and send explicit next numbers.
func TestSingleCrashSafety(t *testing.T) {
	n := harness.StartNode(t, harness.Options{ID: "crash"})
	if err := n.WaitReady(60 * time.Second); err != nil {
		t.Fatal(err)
	}
	c := &singleHTTP{t: t, base: n.API, hc: &http.Client{Timeout: 30 * time.Second}}
	var b e2eBucket
	c.must("POST", "/buckets", []byte(`{"name":"crash"}`), nil, 200, &b)
	flows := make([]string, 5)
	for i := range flows {
		var f e2eFlow
		c.must("POST", "/buckets/"+b.Identifier+"/flows", []byte(fmt.Sprintf(`{"name":"flow-%c"}`, 'A'+i)), nil, 200, &f)
		flows[i] = f.Identifier
	}
	book := &crashBook{attempts: map[string]map[string]bool{}}

	for round, killAfter := range []int{10, 60, 150} {
		t.Logf("round %d: kill after %d acknowledged commits", round+1, killAfter)
		roundAcks := singleCrashRound(t, c, n, b.Identifier, flows, book, round, killAfter)
		t.Logf("round %d: %d commits acknowledged in the round", round+1, roundAcks)

		off := len(n.Log())
		n.Start()
		if err := n.WaitReady(60 * time.Second); err != nil {
			t.Fatalf("restart after SIGKILL: %v\n%s", err, singleTail(n.Log(), 4000))
		}
		singleWaitReads(t, c)
		singleCheckLog(t, n, off)
		singleVerify(t, c, b.Identifier, flows, book)
	}

	// A graceful restart keeps exactly the same state.
	l, err := n.Local()
	if err != nil {
		t.Fatal(err)
	}
	n.Terminate()
	off := len(n.Log())
	n.Start()
	if err := n.WaitReady(60 * time.Second); err != nil {
		t.Fatal(err)
	}
	singleWaitReads(t, c)
	singleCheckLog(t, n, off)
	l2, err := n.Local()
	if err != nil {
		t.Fatal(err)
	}
	if l.StateHash != l2.StateHash {
		t.Errorf("state hash changed across a graceful restart: %s -> %s", l.StateHash, l2.StateHash)
	}
	singleVerify(t, c, b.Identifier, flows, book)
	t.Logf("%d commits acknowledged in all, all present", len(book.acks))
}

// singleCrashRound runs the 8 writers until killAfter commits of this
// round are acknowledged, then SIGKILLs the node while they keep sending.
// It returns the number of commits acknowledged in the round.
func singleCrashRound(t *testing.T, c *singleHTTP, n *harness.Node, bucket string, flows []string, book *crashBook, round, killAfter int) int {
	var (
		killed    atomic.Bool
		roundAcks atomic.Int64
		kill      = make(chan struct{})
		killOnce  sync.Once
		wg        sync.WaitGroup
	)
	// Writers 6 and 7 continue from the flow's current count.
	next := map[string]int{}
	for _, f := range flows[3:] {
		var fl e2eFlow
		c.must("GET", "/buckets/"+bucket+"/flows/"+f, nil, nil, 200, &fl)
		next[f] = int(fl.VersionCount) + 1
	}
	for w := 0; w < 8; w++ {
		flow := flows[w/2]
		explicit := w >= 6
		if explicit {
			flow = flows[w-3]
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			hc := &http.Client{Timeout: 30 * time.Second}
			wc := &singleHTTP{t: t, base: c.base, hc: hc}
			v := next[flow]
			for i := 0; !killed.Load(); i++ {
				marker := fmt.Sprintf("r%d-w%d-c%d", round, w, i)
				sent := -1
				if explicit {
					sent = v
				}
				body := fmt.Sprintf(`{"flowContents":%s,"snapshotMetadata":{"version":%d,"comments":%q}}`,
					crashContents(marker, (i%2)*2048), sent, marker)
				book.attempt(flow, marker)
				a, err := wc.send("POST", "/buckets/"+bucket+"/flows/"+flow+"/versions", []byte(body), nil)
				if err != nil || a.status != 200 {
					if !killed.Load() {
						t.Errorf("writer %d before the kill: %v %v", w, err, a)
					}
					return
				}
				var s e2eSnapshot
				if err := json.Unmarshal(a.body, &s); err != nil {
					t.Errorf("writer %d: %v", w, err)
					return
				}
				if explicit && s.SnapshotMetadata.Version != v {
					t.Errorf("writer %d: sent version %d, got %d", w, v, s.SnapshotMetadata.Version)
				}
				book.ack(crashAck{flow: flow, version: s.SnapshotMetadata.Version, marker: marker})
				v = s.SnapshotMetadata.Version + 1
				if roundAcks.Add(1) == int64(killAfter) {
					killOnce.Do(func() { close(kill) })
				}
			}
		}()
	}
	select {
	case <-kill:
	case <-time.After(5 * time.Minute):
		t.Fatalf("writers made no progress: %d commits acknowledged", roundAcks.Load())
	}
	// SIGKILL while the writers are still sending; whatever they hear from
	// now on is not an acknowledgement we rely on unless it is a 200.
	killed.Store(true)
	n.Kill()
	wg.Wait()
	return int(roundAcks.Load())
}

// singleVerify checks the store after a restart against the book.
func singleVerify(t *testing.T, c *singleHTTP, bucket string, flows []string, book *crashBook) {
	t.Helper()
	book.mu.Lock()
	acked := map[string]map[int]string{}
	for _, a := range book.acks {
		if acked[a.flow] == nil {
			acked[a.flow] = map[int]string{}
		}
		if prev, dup := acked[a.flow][a.version]; dup {
			t.Errorf("flow %s version %d acknowledged twice: %s and %s", a.flow, a.version, prev, a.marker)
		}
		acked[a.flow][a.version] = a.marker
	}
	attempts := book.attempts
	book.mu.Unlock()

	ackedMarkers := map[string]bool{}
	for _, a := range book.acks {
		ackedMarkers[a.marker] = true
	}
	unacked := 0 // committed although the client never heard back
	for _, f := range flows {
		fp := "/buckets/" + bucket + "/flows/" + f
		var fl e2eFlow
		c.must("GET", fp, nil, nil, 200, &fl)
		var list []e2eMetadata
		c.must("GET", fp+"/versions", nil, nil, 200, &list)
		if int64(len(list)) != fl.VersionCount {
			t.Errorf("flow %s: versionCount %d but %d versions listed", f, fl.VersionCount, len(list))
		}
		for i, m := range list {
			if m.Version != len(list)-i {
				t.Errorf("flow %s: versions not contiguous newest first: position %d has %d", f, i, m.Version)
				break
			}
		}
		seen := map[string]int{}
		for v := 1; v <= len(list); v++ {
			var s e2eSnapshot
			c.must("GET", fmt.Sprintf("%s/versions/%d", fp, v), nil, nil, 200, &s)
			var pg struct {
				Name string `json:"name"`
			}
			if err := json.Unmarshal(s.FlowContents, &pg); err != nil {
				t.Errorf("flow %s version %d: flowContents: %v", f, v, err)
				continue
			}
			if s.SnapshotMetadata.Comments != pg.Name {
				t.Errorf("flow %s version %d: comments %q but content %q (torn write)", f, v, s.SnapshotMetadata.Comments, pg.Name)
			}
			if !attempts[f][pg.Name] {
				t.Errorf("flow %s version %d: content %q was never sent to this flow", f, v, pg.Name)
			}
			if prev, dup := seen[pg.Name]; dup {
				t.Errorf("flow %s: commit %q stored twice (versions %d and %d)", f, pg.Name, prev, v)
			}
			seen[pg.Name] = v
			if !ackedMarkers[pg.Name] {
				unacked++
			}
			if want, ok := acked[f][v]; ok && want != pg.Name {
				t.Errorf("flow %s version %d: acknowledged %q, found %q", f, v, want, pg.Name)
			}
		}
		for v, m := range acked[f] {
			if v > len(list) {
				t.Errorf("flow %s: acknowledged version %d (%s) lost; only %d versions", f, v, m, len(list))
			}
		}
	}
	t.Logf("verified %d acknowledged commits; %d commits in flight at a kill were applied without an acknowledgement", len(book.acks), unacked)
}

// singleCheckLog requires the restarted process to have opened its store
// without complaint: since off (the log's length before the start) it
// logged that it listens, and nothing at error level, no panic and no
// corruption.
func singleCheckLog(t *testing.T, n *harness.Node, off int) {
	t.Helper()
	run := n.Log()[off:]
	if !strings.Contains(run, "weir listening") {
		t.Fatalf("restarted node never logged that it listens:\n%s", singleTail(run, 4000))
	}
	var bad []string
	for _, line := range strings.Split(run, "\n") {
		l := strings.ToLower(line)
		if strings.Contains(l, "panic") || strings.Contains(l, "level=error") || strings.Contains(l, `"level":"error"`) || strings.Contains(l, "corrupt") || strings.Contains(l, "[error]") {
			bad = append(bad, line)
		}
	}
	if len(bad) > 0 {
		t.Errorf("restarted node logged errors:\n%s", strings.Join(bad, "\n"))
	}
}

// singleWaitReads waits until a linearizable read succeeds after a
// restart. A node that restarts without new writes answers every such read
// 503 "catching up" (its applied index stays behind the commit index of
// the new term's no-op entry, which never reaches the state machine) until
// some write arrives; that is a production bug, reported as a failure. The
// verification then goes on with stale (local) reads, which on a single
// node see every entry applied before the crash.
func singleWaitReads(t *testing.T, c *singleHTTP) {
	t.Helper()
	lin := *c
	lin.stale = false
	deadline := time.Now().Add(15 * time.Second)
	var last *singleAnswer
	for time.Now().Before(deadline) {
		a, err := lin.send("GET", "/buckets", nil, nil)
		if err == nil && a.status == 200 {
			c.stale = false
			return
		}
		last = a
		time.Sleep(200 * time.Millisecond)
	}
	t.Errorf("BUG: after a restart without new writes, linearizable reads still fail after 15s: %v "+
		"(the store's applied index never reaches raft's commit index, see the report); verifying with stale reads", last)
	c.stale = true
}

func singleTail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}

// TestSingleRestartReadable is the minimal reproduction of the restart
// problem TestSingleCrashSafety runs into: a node restarted on its data
// directory must answer a plain (linearizable) read without first needing
// a write. Today every such read waits 3 s and answers 503 "catching up",
// because the leader's new-term entries (the election's no-op and the
// barrier the node issues on gaining leadership) raise raft's commit index
// but never reach the state machine, so the store's applied index stays
// behind until the next command is applied.
func TestSingleRestartReadable(t *testing.T) {
	n := harness.StartNode(t, harness.Options{ID: "restart"})
	if err := n.WaitReady(60 * time.Second); err != nil {
		t.Fatal(err)
	}
	c := &singleHTTP{t: t, base: n.API, hc: &http.Client{Timeout: 30 * time.Second}}
	c.must("POST", "/buckets", []byte(`{"name":"before restart"}`), nil, 200, nil)
	// Let the node finish registering itself in the member table (a
	// replicated write of its own); a node stopped before that writes it
	// after the restart, which hides the problem.
	singleWaitRegistered(t, n)
	n.Terminate()
	n.Start()
	if err := n.WaitReady(60 * time.Second); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		a, err := c.send("GET", "/buckets", nil, nil)
		if err == nil && a.status == 200 {
			if !strings.Contains(string(a.body), "before restart") {
				t.Fatalf("bucket lost across a restart: %s", a)
			}
			return
		}
		if time.Now().After(deadline) {
			l, _ := n.Local()
			t.Fatalf("no successful read 15s after the restart: %v %v; commitIndex %d, appliedIndex %d (stale reads work: X-Weir-Consistency: stale)",
				a, err, l.CommitIndex, l.AppliedIndex)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// singleWaitRegistered waits until the replicated member table holds the
// node's API URL (GET /weir-api/cluster/status).
func singleWaitRegistered(t *testing.T, n *harness.Node) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(n.API + "/weir-api/cluster/status")
		if err == nil {
			var st struct {
				Members []struct {
					ID     string `json:"id"`
					APIURL string `json:"apiUrl"`
				} `json:"members"`
			}
			derr := json.NewDecoder(resp.Body).Decode(&st)
			resp.Body.Close()
			for _, m := range st.Members {
				if derr == nil && m.ID == n.Opts.ID && m.APIURL == n.API {
					return
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("node %s never registered its API URL", n.Opts.ID)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
