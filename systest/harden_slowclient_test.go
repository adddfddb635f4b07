package systest

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/weir-nifi/weir/internal/adminauth"
	"github.com/weir-nifi/weir/internal/client"
	"github.com/weir-nifi/weir/internal/flowgen"
	"github.com/weir-nifi/weir/internal/harness"
)

// slowClientAnonBound is the anonymous memory (RssAnon) the leader stays
// under while it is attacked below. It follows from the defaults: request
// bodies held at once are bounded by --body-memory (48 MiB), each 30 MB
// commit holds about four copies of its document while it is decoded,
// compacted, compressed and replicated, the Raft log keeps recent entries
// in memory, and GOMEMLIMIT is 512 MiB (the collector works harder near
// it). Before the body budget, eight concurrent 32 MB commits took the heap
// near 1 GB, and half-sent bodies declaring 32 MB each reserved their
// declared size up front.
const slowClientAnonBound = 900 << 20

// TestHardenSlowClients: 300 half-sent bodies, 8 concurrent 30 MB commits
// and a backup download that stops reading, all at once against the
// leader, while a well-behaved client commits small versions and reads at
// a fixed rate. The well-behaved client is still served (every request
// answered, none refused), the big commits all go through (they wait for
// their share of the body budget), the leader's anonymous memory stays
// under slowClientAnonBound, the half-sent bodies are cut off after the
// body timeout, and the stalled download is cut off and releases its copy
// of the store.
//
// The well-behaved client's p99 with and without the attack is logged
// (never asserted: a test does not judge wall time); bench/slowclient
// measures it over several runs for docs/benchmarks.md.
func TestHardenSlowClients(t *testing.T) {
	long(t)
	args := []string{"--body-timeout", "5s", "--backup-stall-timeout", "5s"}
	if extra := os.Getenv("WEIR_SLOWCLIENT_ARGS"); extra != "" {
		args = append(args, strings.Fields(extra)...) // for experiments
	}
	c := harness.StartCluster(t, harness.ClusterOptions{N: 3, Zones: zones3, ExtraArgs: args})
	leader := c.MustLeader()
	lc := client.New(leader.API)
	b, flows := bucketWithFlows(t, lc, "slow-clients", 9)
	small := flows[0]
	// Some content, so the backup's copy of the store is not trivial.
	for i := 0; i < 20; i++ {
		doc := flowgen.Snapshot(flowgen.Options{Seed: int64(i), TargetBytes: 256 << 10, Version: -1})
		if _, err := lc.CommitVersion(ctxT(t), b, flows[1], doc, false); err != nil {
			t.Fatal(err)
		}
	}

	base := steadyClient(t, leader, b, small, 8*time.Second)
	t.Logf("without the attack: %s", base)
	term0 := c.Locals()[leader].Term

	pid := leader.PID()
	var peak atomic.Int64
	stopMem := make(chan struct{})
	memDone := make(chan struct{})
	go func() {
		defer close(memDone)
		for {
			if kb := rssAnonKB(pid); kb*1024 > peak.Load() {
				peak.Store(kb * 1024)
			}
			select {
			case <-stopMem:
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()

	// 300 half-sent bodies: each declares a body (some of 1 MB, some of
	// 32 MB), sends its first bytes and stops.
	var half []net.Conn
	addr := strings.TrimPrefix(leader.API, "http://")
	for i := 0; i < 300; i++ {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		half = append(half, conn)
		size := 1 << 20
		if i%10 == 0 {
			size = 32 << 20
		}
		fmt.Fprintf(conn, "POST /nifi-registry-api/buckets/%s/flows/%s/versions HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n{\"snapshotMetadata\":{\"version\":-1},\"flowContents\":{\"name\":\"", b, flows[2], addr, size)
	}
	defer func() {
		for _, conn := range half {
			conn.Close()
		}
	}()

	// A backup download that takes its first megabyte and stops reading.
	bctx, bcancel := context.WithCancel(context.Background())
	defer bcancel()
	breq, _ := http.NewRequestWithContext(bctx, http.MethodGet, leader.API+"/nifi-registry-api/actuator/backup", nil)
	breq.Header.Set("Authorization", "Bearer "+adminauth.Token([]byte(harness.TestKey)))
	// A small receive buffer, so the server's sends stall soon.
	bclient := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, a string) (net.Conn, error) {
		conn, err := (&net.Dialer{}).DialContext(ctx, network, a)
		if tc, ok := conn.(*net.TCPConn); ok {
			_ = tc.SetReadBuffer(64 << 10)
		}
		return conn, err
	}}}
	bresp, err := bclient.Do(breq)
	if err != nil {
		t.Fatal(err)
	}
	if bresp.StatusCode != 200 {
		t.Fatalf("backup: %s", bresp.Status)
	}
	if _, err := io.CopyN(io.Discard, bresp.Body, 1<<20); err != nil {
		t.Fatal(err)
	}
	copies := func() int { return deletedFilesIn(pid, leader.Opts.DataDir) }
	if copies() == 0 {
		t.Log("note: the download's private copy is not visible as an open deleted file (streamed from a read transaction?)")
	}

	// 8 concurrent commits of 30 MB documents, to three flows.
	big := flowgen.Snapshot(flowgen.Options{Seed: 99, TargetBytes: 30 << 20, Version: -1})
	var bigWG sync.WaitGroup
	var bigRetries, bigCuts atomic.Int64
	bigErrs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		bigWG.Add(1)
		go func(i int) {
			defer bigWG.Done()
			cl := client.New(leader.API)
			cl.HTTP = &http.Client{Timeout: 3 * time.Minute}
			// As a client should: a 503 says when to retry (here: while
			// the half-sent bodies hold the large bodies' pool).
			deadline := time.Now().Add(3 * time.Minute)
			for {
				_, err := cl.CommitVersion(context.Background(), b, flows[3+i%3], big, false)
				if err == nil {
					return
				}
				// A refusal sent before the body was read reaches the
				// client as the 503, not as a cut connection (the guard
				// drops the rest of the body before closing; that is
				// TestEarlyRefusalReachesAWritingClient's to prove). A
				// connection cut for another reason is retried too, and
				// counted apart: on a CPU-starved machine (three nodes
				// under the race detector and this attack) leadership
				// changes every few seconds and a 30 MB body can fall
				// below --body-min-rate; either cuts a commit whose body
				// never arrived whole.
				switch {
				case time.Now().After(deadline):
					bigErrs <- fmt.Errorf("30 MB commit %d: %w", i, err)
					return
				case client.StatusOf(err) == http.StatusServiceUnavailable:
					bigRetries.Add(1)
				case client.StatusOf(err) == 0:
					bigCuts.Add(1)
				default:
					bigErrs <- fmt.Errorf("30 MB commit %d: %w", i, err)
					return
				}
				time.Sleep(time.Second)
			}
		}(i)
	}
	under := steadyClient(t, leader, b, small, 8*time.Second)
	t.Logf("under the attack: %s", under)
	// Leadership moved if another node leads now, or if the same one was
	// elected again: a leader that steps down (it could not reach a
	// quorum in time on the starved machine) and wins the next election
	// catches writes just as a change of node does.
	moved := false
	now := c.MustLeader()
	switch term := c.Locals()[now].Term; {
	case now != leader:
		// Not asserted (timing on a shared machine), but each leader
		// change stalls every request for about half a second.
		t.Logf("leadership moved from %s to %s under the attack", leader.Opts.ID, now.Opts.ID)
		moved = true
	case term0 != 0 && term != 0 && term != term0:
		t.Logf("%s leads again, in term %d (was %d): it lost leadership under the attack and won it back", leader.Opts.ID, term, term0)
		moved = true
	default:
		t.Logf("%s led throughout (term %d)", leader.Opts.ID, term)
	}
	t.Logf("p99 ratio (under / without): commits %.2f, reads %.2f", under.commitP99.Seconds()/base.commitP99.Seconds(), under.readP99.Seconds()/base.readP99.Seconds())
	if path := os.Getenv("WEIR_SLOWCLIENT_SAMPLES"); path != "" {
		// One JSON line per run, so that several runs can be pooled
		// (a p99 of 80 requests is about the single worst one).
		line, _ := json.Marshal(map[string][]time.Duration{"commitsWithout": base.commitAll, "readsWithout": base.readAll,
			"commitsUnder": under.commitAll, "readsUnder": under.readAll})
		f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err == nil {
			f.Write(append(line, '\n'))
			f.Close()
		}
	}
	bigWG.Wait()
	close(bigErrs)
	t.Logf("the 30 MB commits were asked to retry %d times; %d were cut off and retried", bigRetries.Load(), bigCuts.Load())
	for err := range bigErrs {
		t.Error(err)
	}
	close(stopMem)
	<-memDone
	t.Logf("leader's peak anonymous memory: %d MiB (bound %d MiB)", peak.Load()>>20, slowClientAnonBound>>20)
	if peak.Load() > slowClientAnonBound {
		t.Errorf("leader's anonymous memory reached %d MiB, over the bound of %d MiB", peak.Load()>>20, slowClientAnonBound>>20)
	}
	// A leader change (not asserted, above) answers the writes it
	// catches with a 503 naming it, which a client checks and retries;
	// any other refusal, or one without a leader change, is a failure.
	allowed := 0
	if moved {
		allowed = under.notLeader
		if allowed > 0 {
			t.Logf("%d requests were refused as caught by the leader change", allowed)
		}
	}
	if under.errors > allowed || base.errors > 0 {
		t.Errorf("the well-behaved client was refused: %d errors without the attack, %d under it (%s)", base.errors, under.errors, under.lastErr)
	}

	// The half-sent bodies are cut off by the server (body timeout 5 s).
	eventually(t, 60*time.Second, "every half-sent body cut off", func() error {
		open := 0
		for _, conn := range half {
			_ = conn.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
			if _, err := bufio.NewReader(conn).ReadByte(); err != nil {
				if ne, ok := err.(net.Error); ok && ne.Timeout() {
					open++
				}
			}
		}
		if open > 0 {
			return fmt.Errorf("%d connections still open", open)
		}
		return nil
	})
	// The stalled download is cut off and its copy released.
	eventually(t, 60*time.Second, "the stalled download's copy released", func() error {
		if n := copies(); n > 0 {
			return fmt.Errorf("%d deleted files still open in the data directory", n)
		}
		return nil
	})
	bresp.Body.Close()
	c.CheckAlive()
	c.MustConverge()
}

type steadyResult struct {
	commits, reads     int
	commitP99, readP99 time.Duration
	commitP50, readP50 time.Duration
	errors             int
	lastErr            string
	// notLeader counts the errors that were a 503 naming a leader change
	// (leaderChangeAnswer): the honest answer to a write it caught.
	notLeader int
	// every latency, for pooling runs (WEIR_SLOWCLIENT_SAMPLES)
	commitAll, readAll []time.Duration
}

func (r steadyResult) String() string {
	return fmt.Sprintf("%d commits p50 %v p99 %v, %d reads p50 %v p99 %v, %d errors",
		r.commits, r.commitP50.Round(100*time.Microsecond), r.commitP99.Round(100*time.Microsecond),
		r.reads, r.readP50.Round(100*time.Microsecond), r.readP99.Round(100*time.Microsecond), r.errors)
}

// steadyClient commits 16 KB versions and reads the latest one, each at 10
// a second (open loop: a request starts on schedule whether or not the
// previous one has finished), for d.
func steadyClient(t *testing.T, n *harness.Node, bucket, flow string, d time.Duration) steadyResult {
	t.Helper()
	cl := client.New(n.API)
	cl.HTTP = &http.Client{Timeout: time.Minute}
	doc := flowgen.Snapshot(flowgen.Options{Seed: 7, TargetBytes: 16 << 10, Version: -1})
	var mu sync.Mutex
	var res steadyResult
	var commits, reads []time.Duration
	var wg sync.WaitGroup
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	end := time.After(d)
	for i := 0; ; i++ {
		select {
		case <-end:
			wg.Wait()
			res.commits, res.reads = len(commits), len(reads)
			res.commitP50, res.commitP99 = pct(commits, 50), pct(commits, 99)
			res.readP50, res.readP99 = pct(reads, 50), pct(reads, 99)
			res.commitAll, res.readAll = commits, reads
			return res
		case <-tick.C:
		}
		wg.Add(1)
		go func(commit bool) {
			defer wg.Done()
			t0 := time.Now()
			var err error
			if commit {
				_, err = cl.CommitVersion(context.Background(), bucket, flow, doc, false)
			} else {
				_, err = cl.Version(context.Background(), bucket, flow, 0)
			}
			el := time.Since(t0)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				res.errors++
				res.lastErr = err.Error()
				if client.StatusOf(err) == http.StatusServiceUnavailable && leaderChangeAnswer(err.Error()) {
					res.notLeader++
				}
				return
			}
			if commit {
				commits = append(commits, el)
			} else {
				reads = append(reads, el)
			}
		}(i%2 == 0)
	}
}

// leaderChangeAnswer reports whether a 503's message is one a leader
// change gives a write it caught: the node no longer leads, no leader is
// elected yet (a full run had elections repeat for 4 s under the attack,
// and two writes answered by a node that was a candidate then counted as
// errors), or the leader became unreachable or lost
// leadership while the write was in flight (outcome unknown, so the
// client checks and retries).
func leaderChangeAnswer(msg string) bool {
	for _, m := range []string{"not the cluster leader", "No cluster leader is available", "leader became unreachable", "Leadership changed"} {
		if strings.Contains(msg, m) {
			return true
		}
	}
	return false
}

func pct(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[min(len(s)-1, len(s)*p/100)]
}

// rssAnonKB reads a process's anonymous resident memory.
func rssAnonKB(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "RssAnon:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb
		}
	}
	return 0
}

// deletedFilesIn counts a process's open files that were deleted from dir
// (a backup's private copy of the store is one).
func deletedFilesIn(pid int, dir string) int {
	fds, _ := filepath.Glob(fmt.Sprintf("/proc/%d/fd/*", pid))
	abs, _ := filepath.Abs(dir)
	n := 0
	for _, fd := range fds {
		target, err := os.Readlink(fd)
		if err == nil && strings.HasPrefix(target, abs) && strings.HasSuffix(target, " (deleted)") {
			n++
		}
	}
	return n
}
