package systest

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/weir-nifi/weir/internal/client"
	"github.com/weir-nifi/weir/internal/harness"
)

// Disk faults under load. Every node keeps its data directory on an ext4
// file system of its own on a loop device (harness.Disk), which the test
// fills, makes read-only or cuts the power of while a concurrent workload
// runs; Workload.Verify then checks that no acknowledged write was lost,
// that the history is linearizable and that every node holds the same
// state. They need root and loop devices (skipped elsewhere, failed in CI
// without them) and take minutes: -short skips them.

const (
	hdDiskSize = 320 << 20
	hdReserve  = 16 << 20
	// hdLow is what a disk "below the reserve" is filled to.
	hdLow = 6 << 20
)

// hdArgs: a 16 MiB reserve; small Raft log segments so that segments are
// created (and fail to be) while a disk is full; snapshots and compaction
// often enough that a node back from a disk failure may need a snapshot.
var hdArgs = []string{"--storage-reserve", "16MiB", "--raft-segment-size", "262144",
	"--snapshot-threshold", "512", "--trailing-logs", "256", "--snapshot-interval", "2s"}

func hdCluster(t *testing.T) *harness.DiskCluster { return hdClusterArgs(t, hdArgs) }

// hdClusterArgs starts 3 nodes, each on a disk of its own, with args;
// WEIR_KEEP_LOGS=1 keeps their logs even when the test passes.
func hdClusterArgs(t *testing.T, args []string) *harness.DiskCluster {
	t.Helper()
	long(t)
	harness.RequireDisks(t)
	dc := harness.StartClusterOnDisks(t, harness.ClusterOptions{N: 3, Zones: zones3, ExtraArgs: args}, hdDiskSize)
	t.Cleanup(func() {
		if os.Getenv("WEIR_KEEP_LOGS") != "" && !t.Failed() {
			dc.KeepLogs() // (kept anyway when the test fails)
		}
	})
	return dc
}

// hdLoaded starts a cluster (hdCluster) and a workload on it, and waits
// for progress acknowledged writes.
func hdLoaded(t *testing.T, progress int64) (*harness.DiskCluster, *harness.Cluster, *harness.Workload) {
	t.Helper()
	dc := hdCluster(t)
	return dc, dc.Cluster, hdLoad(dc.Cluster, progress)
}

// hdLoad starts a workload on c and waits for progress acknowledged
// writes.
func hdLoad(c *harness.Cluster, progress int64) *harness.Workload {
	w := c.StartWorkload(harness.WorkloadOptions{})
	w.MustProgress(progress)
	return w
}

// hdConverged fails the test unless n, back from its fault, catches up:
// the cluster converges. diag, if not nil, is called on failure and what
// it returns ends the message.
func hdConverged(t *testing.T, c *harness.Cluster, n *harness.Node, after string, diag func() string) {
	t.Helper()
	if _, err := c.WaitConverged(90 * time.Second); err != nil {
		more := ""
		if diag != nil {
			more = diag()
		}
		t.Fatalf("%s did not catch up after %s: %v%s", n.Opts.ID, after, err, more)
	}
}

// hdResume waits, once a node is back, for every node to vote again and
// for the workload to go on.
func hdResume(t *testing.T, c *harness.Cluster, w *harness.Workload) {
	t.Helper()
	waitVoters(t, c, len(c.Nodes))
	w.MustProgress(50)
}

// hdFinish ends a scenario: nothing acknowledged lost (Workload.Verify),
// no node panicked.
func hdFinish(t *testing.T, c *harness.Cluster, w *harness.Workload) {
	t.Helper()
	w.Verify(t)
	hdNoPanic(t, c.Nodes...)
}

// ---- observing a node

var hdHTTP = &http.Client{Timeout: 10 * time.Second}

// hdStorage is a node's storage health component.
type hdStorage struct {
	HTTP   int    // status of GET …/actuator/health
	Status string // components.storage.status
	Error  string // components.storage.details.error
	Disk   *struct {
		State        string `json:"state"`
		Reason       string `json:"reason"`
		FreeBytes    int64  `json:"freeBytes"`
		ReserveBytes int64  `json:"reserveBytes"`
	}
	Body string
}

func (s hdStorage) String() string {
	if s.Disk == nil {
		return fmt.Sprintf("http %d storage %s error %q disk <none>", s.HTTP, s.Status, s.Error)
	}
	return fmt.Sprintf("http %d storage %s error %q disk %s (%q) free %d reserve %d",
		s.HTTP, s.Status, s.Error, s.Disk.State, s.Disk.Reason, s.Disk.FreeBytes, s.Disk.ReserveBytes)
}

func hdStorageOf(n *harness.Node) (hdStorage, error) {
	var s hdStorage
	resp, err := hdHTTP.Get(n.API + "/nifi-registry-api/actuator/health")
	if err != nil {
		return s, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	s.HTTP, s.Body = resp.StatusCode, string(b)
	var h struct {
		Components map[string]struct {
			Status  string `json:"status"`
			Details struct {
				Error string          `json:"error"`
				Disk  json.RawMessage `json:"disk"`
			} `json:"details"`
		} `json:"components"`
	}
	if err := json.Unmarshal(b, &h); err != nil {
		return s, fmt.Errorf("health: %d %.200s: %v", resp.StatusCode, b, err)
	}
	st, ok := h.Components["storage"]
	if !ok {
		return s, fmt.Errorf("health has no storage component: %.300s", b)
	}
	s.Status, s.Error = st.Status, st.Details.Error
	if len(st.Details.Disk) > 0 {
		if err := json.Unmarshal(st.Details.Disk, &s.Disk); err != nil {
			return s, err
		}
	}
	return s, nil
}

// hdWaitStorage polls a node's storage health until ok accepts it.
func hdWaitStorage(t *testing.T, n *harness.Node, timeout time.Duration, what string, ok func(hdStorage) error) hdStorage {
	t.Helper()
	var last hdStorage
	eventually(t, timeout, n.Opts.ID+": "+what, func() error {
		s, err := hdStorageOf(n)
		if err != nil {
			return err
		}
		last = s
		if err := ok(s); err != nil {
			return fmt.Errorf("%v: %s", err, s)
		}
		return nil
	})
	t.Logf("%s: %s", n.Opts.ID, last)
	return last
}

// hdDown accepts a storage component that is DOWN because of the disk,
// in one of the given states, with the reason in details.error.
func hdDown(states ...string) func(hdStorage) error {
	return func(s hdStorage) error {
		switch {
		case s.Status != "DOWN":
			return fmt.Errorf("storage is %s", s.Status)
		case s.HTTP != http.StatusServiceUnavailable:
			return fmt.Errorf("health answered %d while DOWN", s.HTTP)
		case s.Disk == nil:
			return fmt.Errorf("no disk details")
		case s.Disk.Reason == "" || s.Error != s.Disk.Reason:
			return fmt.Errorf("reason %q, error %q: want the reason, also in details.error", s.Disk.Reason, s.Error)
		case s.Disk.ReserveBytes != hdReserve:
			return fmt.Errorf("reserveBytes %d, want %d", s.Disk.ReserveBytes, hdReserve)
		case s.Disk.State == "low" && s.Disk.FreeBytes >= s.Disk.ReserveBytes:
			return fmt.Errorf("low with %d bytes free", s.Disk.FreeBytes)
		}
		for _, st := range states {
			if s.Disk.State == st {
				return nil
			}
		}
		return fmt.Errorf("disk state %s, want %v", s.Disk.State, states)
	}
}

func hdUp(s hdStorage) error {
	if s.Status != "UP" || s.Disk == nil || s.Disk.State != "ok" || s.Error != "" {
		return fmt.Errorf("not UP with disk ok")
	}
	return nil
}

// hdStaleRead reads the bucket list locally (?consistency=stale).
func hdStaleRead(n *harness.Node) error { return hdRead(n, "?consistency=stale") }

// hdRead reads the bucket list with the given query.
func hdRead(n *harness.Node, query string) error {
	resp, err := hdHTTP.Get(n.API + "/nifi-registry-api/buckets" + query)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return fmt.Errorf("GET buckets%s: %d %.300s", query, resp.StatusCode, b)
	}
	return nil
}

var hdSeq int

// hdWrite creates a bucket of a fresh name through n.
func hdWrite(n *harness.Node) (int, http.Header, string, error) {
	hdSeq++
	body := fmt.Sprintf(`{"name":"disk-probe-%d-%d"}`, time.Now().UnixNano(), hdSeq)
	r, _ := http.NewRequest("POST", n.API+"/nifi-registry-api/buckets", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Timeout: 20 * time.Second}).Do(r)
	if err != nil {
		return 0, nil, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b), nil
}

// hdWaitWrite retries a write through n until it is accepted (200) or
// the timeout passes, and returns the last refusal.
func hdWaitWrite(n *harness.Node, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		st, _, body, err := hdWrite(n)
		if err == nil && st == 200 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not accepted within %v; last answer: %d %s %v", timeout, st, body, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// hdCheck507 checks a refusal for want of space: text, Retry-After, a
// message that says what is wrong.
func hdCheck507(hdr http.Header, body string) error {
	var errs []string
	if ct := hdr.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		errs = append(errs, "Content-Type "+ct)
	}
	if hdr.Get("Retry-After") == "" {
		errs = append(errs, "no Retry-After")
	}
	if !strings.Contains(strings.ToLower(body), "storage") || !strings.Contains(strings.ToLower(body), "free") {
		errs = append(errs, fmt.Sprintf("message %q does not say the disk is short of space", body))
	}
	if errs != nil {
		return fmt.Errorf("507: %s", strings.Join(errs, "; "))
	}
	return nil
}

// hdPIDs records the process of every node, to check later that none was
// restarted or stopped.
func hdPIDs(c *harness.Cluster) map[*harness.Node]int {
	m := map[*harness.Node]int{}
	for _, n := range c.Nodes {
		m[n] = n.PID()
	}
	return m
}

func hdSamePIDs(t *testing.T, c *harness.Cluster, pids map[*harness.Node]int) {
	t.Helper()
	c.CheckAlive()
	for n, pid := range pids {
		if n.PID() != pid {
			t.Errorf("%s: process %d is now %d", n.Opts.ID, pid, n.PID())
		}
	}
}

// hdMaxTerm is the highest term any running node reports.
func hdMaxTerm(c *harness.Cluster) uint64 {
	var m uint64
	for _, l := range c.Locals() {
		m = max(m, l.Term)
	}
	return m
}

// hdNoPanic fails the test for a node whose log shows a Go panic or a
// fatal runtime error.
func hdNoPanic(t *testing.T, nodes ...*harness.Node) {
	t.Helper()
	for _, n := range nodes {
		log := n.Log()
		for _, s := range []string{"panic:", "fatal error:"} {
			if i := strings.Index(log, s); i >= 0 {
				t.Errorf("%s: log shows %q:\n%s", n.Opts.ID, s, tail(log[i:], 30))
			}
		}
	}
}

func hdFollower(c *harness.Cluster, leader *harness.Node) *harness.Node {
	for _, n := range c.Nodes {
		if n != leader {
			return n
		}
	}
	return nil
}

// ---- a. the leader's disk drops below the reserve

// TestHardenDiskFullLeader fills the leader's disk below the storage
// reserve under load. Either leadership moves to a node with room and
// writes go on through every node, or the leader stays and refuses writes
// with 507 (a clear message, Retry-After) — never another 5xx than 503 or
// 507. The node says why in its health, keeps serving reads and stays up;
// once space is freed it is UP again by itself and the cluster converges
// with nothing acknowledged lost.
func TestHardenDiskFullLeader(t *testing.T) {
	dc, c, w := hdLoaded(t, 50)
	pids := hdPIDs(c)
	old := c.MustLeader()
	d := dc.DiskOf(old)
	t0 := time.Now()
	d.Fill(hdLow)

	hdWaitStorage(t, old, 30*time.Second, "storage DOWN below the reserve", hdDown("low", "failed"))

	// Writes through every node: accepted (leadership moved), or refused
	// with 507 by a leader that kept leadership.
	okVia := map[*harness.Node]bool{}
	last := map[*harness.Node]string{}
	deadline := time.Now().Add(45 * time.Second)
	for len(okVia) < len(c.Nodes) && time.Now().Before(deadline) {
		for _, n := range c.Nodes {
			if okVia[n] {
				continue
			}
			st, hdr, body, err := hdWrite(n)
			switch {
			case err != nil:
				t.Errorf("write via %s: no answer: %v", n.Opts.ID, err)
				last[n] = err.Error()
			case st == 200:
				okVia[n] = true
			case st == http.StatusInsufficientStorage:
				if err := hdCheck507(hdr, body); err != nil {
					t.Errorf("write via %s: %v", n.Opts.ID, err)
				}
				last[n] = fmt.Sprintf("507 %s", body)
			case st == http.StatusServiceUnavailable:
				last[n] = fmt.Sprintf("503 %s", body)
			default:
				t.Errorf("write via %s: %d %s; want 200, or 503/507", n.Opts.ID, st, body)
				last[n] = fmt.Sprintf("%d %s", st, body)
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	now, lerr := c.Leader()
	moved := len(okVia) == len(c.Nodes)
	switch {
	case moved && now == old:
		t.Errorf("writes accepted through every node while %s, below its reserve, still leads", old.Opts.ID)
	case moved:
		phase(t, fmt.Sprintf("leadership moved %s -> %s, writes accepted through every node", old.Opts.ID, now.Opts.ID), t0)
	case lerr != nil || now != old:
		t.Errorf("leadership moved (%v %v) but writes are still not accepted through every node: %v", now, lerr, last)
	default:
		for _, n := range c.Nodes {
			if !okVia[n] && !strings.HasPrefix(last[n], "507") {
				t.Errorf("%s still leads below its reserve; write via %s last answered %s, want 507", old.Opts.ID, n.Opts.ID, last[n])
			}
		}
		t.Logf("leadership did not move off %s: writes refused with 507 (%s)", old.Opts.ID, last[old])
	}

	// The node stays up, says why, serves reads.
	hdWaitStorage(t, old, 10*time.Second, "storage still DOWN", hdDown("low", "failed"))
	if err := hdStaleRead(old); err != nil {
		t.Errorf("stale read on %s: %v", old.Opts.ID, err)
	}
	if err := hdRead(old, ""); err != nil {
		t.Errorf("read on %s: %v", old.Opts.ID, err)
	}
	if moved {
		w.MustProgress(50)
	}
	hdSamePIDs(t, c, pids)

	// Space back: UP by itself, writes through it again.
	t1 := time.Now()
	d.Unfill()
	hdWaitStorage(t, old, 60*time.Second, "storage UP again after space was freed", hdUp)
	if err := hdWaitWrite(old, 30*time.Second); err != nil {
		t.Fatalf("write through %s after space was freed: %v", old.Opts.ID, err)
	}
	phase(t, "recovered after space was freed", t1)
	w.MustProgress(50)
	hdSamePIDs(t, c, pids)
	hdFinish(t, c, w)
}

// ---- b. a follower's disk is completely full

// TestHardenDiskFullFollowerTrulyFull fills a follower's disk to the last
// block under load: the other two keep committing; the follower stays up
// (no exit, no crash loop), says why in its health, serves stale reads
// and does not disturb the cluster (the term hardly moves: no election
// storm). Once space is freed it recovers by itself, catches up and
// converges; nothing acknowledged is lost.
func TestHardenDiskFullFollowerTrulyFull(t *testing.T) {
	dc, c, w := hdLoaded(t, 50)
	pids := hdPIDs(c)
	leader := c.MustLeader()
	f := hdFollower(c, leader)
	term0 := hdMaxTerm(c)
	t0 := time.Now()
	dc.DiskOf(f).Fill(0)

	// A truly full disk fails the follower's next write (a log segment,
	// a store page): it must notice and say so.
	s := hdWaitStorage(t, f, 60*time.Second, "storage failed for want of space", hdDown("failed"))
	if !strings.Contains(strings.ToLower(s.Disk.Reason), "no space") {
		t.Errorf("%s: reason %q does not say the disk is full", f.Opts.ID, s.Disk.Reason)
	}
	phase(t, f.Opts.ID+" noticed its full disk", t0)

	// The others keep committing.
	w.MustProgress(100)
	if err := hdStaleRead(f); err != nil {
		t.Errorf("stale read on %s: %v", f.Opts.ID, err)
	}
	// It forwards writes to the leader, whose disk is fine.
	if err := hdWaitWrite(f, 30*time.Second); err != nil {
		t.Errorf("write through %s, whose disk is full, to leader %s: %v", f.Opts.ID, leader.Opts.ID, err)
	}
	// Let it sit full a while longer under load, then count elections.
	time.Sleep(10 * time.Second)
	w.MustProgress(20)
	hdSamePIDs(t, c, pids)
	term1 := hdMaxTerm(c)
	lf, ferr := harness.LocalOf(f)
	t.Logf("term %d before the fault, %d after %v of it; %s: %+v %v", term0, term1, time.Since(t0).Round(time.Second), f.Opts.ID, lf, ferr)
	if term1 > term0+3 {
		t.Errorf("election storm: the term went from %d to %d while %s's disk was full", term0, term1, f.Opts.ID)
	}
	hdWaitStorage(t, f, 10*time.Second, "storage still failed", hdDown("failed", "low"))

	t1 := time.Now()
	dc.DiskOf(f).Unfill()
	hdWaitStorage(t, f, 60*time.Second, "storage UP again after space was freed", hdUp)
	phase(t, f.Opts.ID+" UP again", t1)
	hdConverged(t, c, f, "space was freed", nil)
	phase(t, f.Opts.ID+" caught up", t1)
	hdResume(t, c, w)
	hdSamePIDs(t, c, pids)
	if term2 := hdMaxTerm(c); term2 > term1+3 {
		t.Errorf("election storm on recovery: the term went from %d to %d", term1, term2)
	}
	hdFinish(t, c, w)
}

// TestHardenDiskFullFollowerLogRotation is b. with the follower's Raft log,
// not its store, meeting the full disk first, at a segment rotation: every
// store is first given megabytes of free pages (a bucket of large
// versions, deleted), so applying entries reuses pages that already have
// blocks; the follower's disk is filled to less than a log segment, so
// its Raft log, in small segments, soon needs a new one and cannot
// preallocate it. Once space is freed the follower must take log entries
// again, catch up and converge.
func TestHardenDiskFullFollowerLogRotation(t *testing.T) {
	dc := hdClusterArgs(t, []string{"--storage-reserve", "16MiB", "--raft-segment-size", "262144",
		// No snapshot, hence no compaction freeing log segments while
		// the disk is meant to be full.
		"--snapshot-threshold", "10000000"})
	c := dc.Cluster
	leader := c.MustLeader()
	hdBallast(t, leader, 48)
	c.MustConverge()

	w := hdLoad(c, 50)
	pids := hdPIDs(c)
	f := hdFollower(c, c.MustLeader())
	off := len(f.Log())
	t0 := time.Now()
	// Less free than a log segment (256 KiB) takes: the next segment
	// cannot be preallocated, while small writes still find room.
	dc.DiskOf(f).Fill(96 << 10)
	hdWaitStorage(t, f, 120*time.Second, "storage failed for want of space", hdDown("failed"))
	// Wait for the log to need a new segment (about 350 entries).
	eventually(t, 120*time.Second, f.Opts.ID+" meets the full disk in its Raft log", func() error {
		log := f.Log()[off:]
		switch {
		case strings.Contains(log, "cannot apply committed entries"):
			return nil // the store met it first: see below
		case strings.Contains(log, "append to the Raft log"), strings.Contains(log, "rotate error"):
			return nil
		}
		return fmt.Errorf("not yet")
	})
	log := f.Log()[off:]
	if strings.Contains(log, "cannot apply committed entries") {
		t.Logf("%s: the store met the full disk before the Raft log did; this run checks the same as TestHardenDiskFullFollowerTrulyFull", f.Opts.ID)
	}
	hdLogRotation(t, f, log, "")
	phase(t, f.Opts.ID+" met the full disk", t0)
	w.MustProgress(50)
	time.Sleep(5 * time.Second)

	t1 := time.Now()
	dc.DiskOf(f).Unfill()
	off = len(f.Log())
	hdWaitStorage(t, f, 60*time.Second, "storage UP again after space was freed", hdUp)
	hdConverged(t, c, f, "space was freed", func() string {
		hdLogRotation(t, f, f.Log()[off:], " since space was freed")
		return ""
	})
	phase(t, f.Opts.ID+" caught up", t1)
	hdResume(t, c, w)
	hdSamePIDs(t, c, pids)
	hdFinish(t, c, w)
}

// hdLogRotation logs where n's log shows a Raft log segment that could not
// be rotated to, or a sealed one; since says which part of the log it is.
func hdLogRotation(t *testing.T, n *harness.Node, log, since string) {
	t.Helper()
	for _, s := range []string{"rotate error", "segment is sealed"} {
		if i := strings.Index(log, s); i >= 0 {
			t.Logf("%s's log%s shows %q: %s", n.Opts.ID, since, s, lineAt(log, i))
		}
	}
}

// hdBallast commits n versions of about 340 KB of incompressible text to
// a new bucket through node, then deletes the bucket: every store keeps
// the pages it used, free. (Setup only: a commit answered 503 is sent
// again; one that was applied anyway just adds ballast.)
func hdBallast(t *testing.T, node *harness.Node, n int) {
	t.Helper()
	ctx := ctxT(t)
	cl := client.New(node.API)
	cl.HTTP = &http.Client{Timeout: time.Minute}
	bucket, flows := bucketWithFlows(t, cl, "ballast", 1)
	raw := make([]byte, 256<<10)
	for i := 0; i < n; i++ {
		_, _ = rand.Read(raw)
		doc, _ := json.Marshal(map[string]any{
			"snapshotMetadata": map[string]any{"bucketIdentifier": bucket, "flowIdentifier": flows[0], "version": -1, "comments": "ballast"},
			"flowContents": map[string]any{
				"identifier": "pg-ballast", "name": "ballast", "componentType": "PROCESS_GROUP",
				"comments":   base64.StdEncoding.EncodeToString(raw),
				"processors": []any{}, "processGroups": []any{}, "connections": []any{},
				"position": map[string]float64{"x": 0, "y": 0},
			},
			"flowEncodingVersion": "1.0",
		})
		for try := 1; ; try++ {
			_, err := cl.CommitVersion(ctx, bucket, flows[0], doc, false)
			if err == nil {
				break
			}
			if client.StatusOf(err) != http.StatusServiceUnavailable || try == 10 {
				t.Fatalf("ballast version %d: %v", i+1, err)
			}
			t.Logf("ballast version %d: %v (again)", i+1, err)
			time.Sleep(500 * time.Millisecond)
		}
	}
	for try := 1; ; try++ {
		err := cl.DeleteBucket(ctx, bucket)
		if err == nil || (try > 1 && client.StatusOf(err) == http.StatusNotFound) {
			break
		}
		if client.StatusOf(err) != http.StatusServiceUnavailable || try == 10 {
			t.Fatalf("delete the ballast: %v", err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// lineAt is the log line holding byte i.
func lineAt(log string, i int) string {
	start := strings.LastIndexByte(log[:i], '\n') + 1
	end := strings.IndexByte(log[i:], '\n')
	if end < 0 {
		return log[start:]
	}
	return log[start : i+end]
}

// ---- c. one node alone

// TestHardenDiskFullSingleNode: a node alone refuses writes with 507 below
// its reserve while reads (linearizable by default) keep working and
// health says why; with the disk completely full it still neither exits
// nor stops serving reads; once space is freed it takes writes again,
// without a restart.
func TestHardenDiskFullSingleNode(t *testing.T) {
	harness.RequireDisks(t)
	d := harness.NewDisk(t, 256<<20)
	n := harness.NewNodeOnDisk(t, harness.Options{ID: "solo", Args: []string{"--storage-reserve", "16MiB"}}, d)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("---- log of %s\n%s", n.Opts.ID, tail(n.Log(), 120))
		}
	})
	n.Start()
	if err := n.WaitReady(60 * time.Second); err != nil {
		t.Fatal(err)
	}
	pid := n.PID()
	alive := func(when string) {
		t.Helper()
		if gone, st := n.ExitedUnexpectedly(); gone || n.PID() != pid {
			t.Fatalf("%s: the node exited (%s; pid %d, was %d)", when, st, n.PID(), pid)
		}
	}
	if st, _, body, err := hdWrite(n); err != nil || st != 200 {
		t.Fatalf("write before the fault: %d %s %v", st, body, err)
	}

	// Below the reserve.
	d.Fill(hdLow)
	st, hdr, body, err := hdWrite(n)
	if err != nil || st != http.StatusInsufficientStorage {
		t.Errorf("write below the reserve: %d %s %v, want 507", st, body, err)
	} else if err := hdCheck507(hdr, body); err != nil {
		t.Error(err)
	} else {
		t.Logf("write below the reserve: 507 %s (Retry-After %s)", body, hdr.Get("Retry-After"))
	}
	if err := hdRead(n, ""); err != nil {
		t.Errorf("read below the reserve: %v", err)
	}
	hdWaitStorage(t, n, 10*time.Second, "storage DOWN below the reserve", hdDown("low"))

	// Completely full.
	d.Fill(0)
	for i := 0; i < 10; i++ {
		st, _, body, err := hdWrite(n)
		if err != nil || (st != http.StatusInsufficientStorage && st != http.StatusServiceUnavailable) {
			t.Errorf("write on a full disk: %d %s %v, want 507 or 503", st, body, err)
		}
		if err := hdRead(n, ""); err != nil {
			t.Errorf("read on a full disk: %v", err)
		}
		if err := hdStaleRead(n); err != nil {
			t.Errorf("stale read on a full disk: %v", err)
		}
		time.Sleep(500 * time.Millisecond)
	}
	hdWaitStorage(t, n, 10*time.Second, "storage DOWN on a full disk", hdDown("low", "failed"))
	alive("with the disk full")

	// Space back.
	d.Unfill()
	if err := hdWaitWrite(n, 30*time.Second); err != nil {
		t.Fatalf("write after space was freed: %v", err)
	}
	hdWaitStorage(t, n, 60*time.Second, "storage UP after space was freed", hdUp)
	if err := hdRead(n, ""); err != nil {
		t.Errorf("read after space was freed: %v", err)
	}
	alive("after space was freed")
	hdNoPanic(t, n)
}

// ---- d. the leader's file system turns read-only

// TestHardenDiskReadOnly makes the leader's file system meet an error
// (ext4 turns it read-only: every write fails with EROFS) under load. The
// process must not panic or exit: it keeps serving stale reads, its health
// names the read-only file system, leadership moves and writes continue
// through the other nodes (and through it, forwarded). Then the node is
// stopped, the file system checked and mounted again, and the node,
// started again, catches up and converges; nothing acknowledged is lost.
func TestHardenDiskReadOnly(t *testing.T) {
	dc, c, w := hdLoaded(t, 50)
	pids := hdPIDs(c)
	old := c.MustLeader()
	t0 := time.Now()
	dc.DiskOf(old).ReadOnly()

	// The first write to fail may be an fsync already under way (EIO);
	// the reason is brought up to date by the writes and probes after it.
	hdWaitStorage(t, old, 30*time.Second, "storage failed: read-only file system", func(s hdStorage) error {
		if err := hdDown("failed")(s); err != nil {
			return err
		}
		if !strings.Contains(strings.ToLower(s.Disk.Reason), "read-only") {
			return fmt.Errorf("reason does not name the read-only file system")
		}
		return nil
	})
	nl := c.MustNewLeader(old)
	phase(t, "leadership moved "+old.Opts.ID+" -> "+nl.Opts.ID, t0)
	w.MustProgress(50)
	if err := hdStaleRead(old); err != nil {
		t.Errorf("stale read on %s: %v", old.Opts.ID, err)
	}
	for _, n := range c.Nodes {
		if n != old {
			if err := hdWaitWrite(n, 30*time.Second); err != nil {
				t.Fatalf("write through %s: %v", n.Opts.ID, err)
			}
		}
	}
	// The node whose disk is read-only cannot record the new leader's
	// term, so it cannot follow it: it refuses writes, saying why (the
	// issue's "refuses writes with a clear message"), and never answers
	// one that a leader took as if it had failed.
	st, _, body, err := hdWrite(old)
	if err != nil || st != http.StatusServiceUnavailable || !strings.Contains(body, "read-only") {
		t.Errorf("write through %s, whose disk is read-only: %d %q %v; want 503 naming the read-only file system", old.Opts.ID, st, body, err)
	}
	time.Sleep(5 * time.Second) // a while longer read-only under load
	w.MustProgress(20)
	hdSamePIDs(t, c, pids)
	hdNoPanic(t, old)
	hdWaitStorage(t, old, 10*time.Second, "storage still failed", hdDown("failed"))

	// Stop it (SIGTERM; the harness sends SIGKILL after 30 s), repair the
	// file system, start it again.
	t1 := time.Now()
	hdTerminate(t, old)
	dc.DiskOf(old).Repair()
	c.StartNodes(old)
	phase(t, old.Opts.ID+" stopped, repaired, started", t1)
	hdConverged(t, c, old, "the repair", nil)
	hdResume(t, c, w)
	hdFinish(t, c, w)
}

// TestHardenDiskReadOnlyTornStore is d. on a follower, with the worst
// writeback the kernel may have done before the file system turned
// read-only: the first pages of state.db (bbolt's two meta pages, which
// the kernel writes back first, in file-offset order) reached the disk,
// the pages they point to did not. The store is not fsynced and the node
// restarts under the same boot id, so the boot mark alone cannot tell that
// its file lost writes. After stop, e2fsck and start the node must not
// crash (or crash-loop), and must catch up and converge.
func TestHardenDiskReadOnlyTornStore(t *testing.T) {
	dc, c, w := hdLoaded(t, 100)
	f := hdFollower(c, c.MustLeader())
	d := dc.DiskOf(f)
	d.WriteBack(filepath.Join(f.Opts.DataDir, "state.db"), 0, 8192)
	d.ReadOnly()
	hdWaitStorage(t, f, 30*time.Second, "storage failed", hdDown("failed"))
	w.MustProgress(50)
	hdNoPanic(t, f)
	c.CheckAlive()

	hdTerminate(t, f)
	d.Repair()
	off := len(f.Log())
	f.Start()
	if err := f.WaitReady(60 * time.Second); err != nil {
		t.Fatalf("%s after the repair: %v\n%s", f.Opts.ID, err, tail(f.Log()[off:], 40))
	}
	hdConverged(t, c, f, "the repair", func() string { return "\n" + tail(f.Log()[off:], 40) })
	hdResume(t, c, w)
	hdFinish(t, c, w)
}

// hdTerminate stops a node with SIGTERM and says whether it exited by
// itself (the harness falls back to SIGKILL after 30 s).
func hdTerminate(t *testing.T, n *harness.Node) {
	t.Helper()
	t0 := time.Now()
	pid := n.PID()
	p, err := os.FindProcess(pid)
	if err == nil {
		err = p.Signal(syscall.SIGTERM)
	}
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if gone, _ := n.ExitedUnexpectedly(); gone {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	gone, status := n.ExitedUnexpectedly()
	n.Kill() // reaps it, or SIGKILLs it if it is still there
	if gone {
		t.Logf("%s exited %v after SIGTERM (%s)", n.Opts.ID, time.Since(t0).Round(time.Millisecond), status)
	} else {
		t.Logf("%s did not exit within 30 s of SIGTERM: killed", n.Opts.ID)
	}
}

// ---- e. power cuts

// TestHardenPowerCutLosesUnsyncedWrites cuts the power of disks under
// load: the file systems stop at once and lose whatever was not fsynced
// (the store is not fsynced: it relies on the Raft log and the boot mark).
// The nodes are killed (the machines are off), the disks checked and
// mounted again, each boot mark changed as a reboot would, and the nodes
// started: every acknowledged write must be there, the state hashes
// (recomputed) must converge, and no node may crash on start.
func TestHardenPowerCutLosesUnsyncedWrites(t *testing.T) {
	t.Run("AllNodes", func(t *testing.T) {
		hdPowerCutRounds(t, 100, func(round int, dc *harness.DiskCluster, w *harness.Workload) {
			c := dc.Cluster
			t0 := time.Now()
			harness.PowerCutAll(t, dc.Disks...)
			c.KillAll()
			offs := map[*harness.Node]int{}
			for i, n := range c.Nodes {
				dc.Disks[i].Repair()
				harness.SimulateReboot(t, n.Opts.DataDir)
				offs[n] = len(n.Log())
			}
			c.StartNodes(c.Nodes...)
			l := c.MustLeader()
			phase(t, fmt.Sprintf("round %d: power cut everywhere, all back, leader %s", round, l.Opts.ID), t0)
			for _, n := range c.Nodes {
				hdCheckRebuilt(t, n, offs[n])
			}
			if _, err := c.WaitConverged(90 * time.Second); err != nil {
				t.Fatal(err)
			}
		})
	})
	t.Run("LeaderOnly", func(t *testing.T) {
		hdPowerCutRounds(t, 50, func(round int, dc *harness.DiskCluster, w *harness.Workload) {
			c := dc.Cluster
			t0 := time.Now()
			old := c.MustLeader()
			d := dc.DiskOf(old)
			d.PowerCut()
			old.Kill()
			nl := c.MustNewLeader(old)
			phase(t, fmt.Sprintf("round %d: power cut on leader %s, new leader %s", round, old.Opts.ID, nl.Opts.ID), t0)
			w.MustProgress(50)
			d.Repair()
			harness.SimulateReboot(t, old.Opts.DataDir)
			off := len(old.Log())
			c.StartNodes(old)
			hdCheckRebuilt(t, old, off)
			if _, err := c.WaitConverged(90 * time.Second); err != nil {
				t.Fatal(err)
			}
			phase(t, fmt.Sprintf("round %d: %s back and converged", round, old.Opts.ID), t0)
		})
	})
}

// hdPowerCutRounds starts a cluster under load (100 acknowledged writes)
// and runs two rounds of cut, which cuts the power and brings the nodes
// back until the cluster converges; after each round the workload makes
// progress more acknowledged writes, every node votes and none exited.
// Then nothing acknowledged may be lost.
func hdPowerCutRounds(t *testing.T, progress int64, cut func(round int, dc *harness.DiskCluster, w *harness.Workload)) {
	t.Helper()
	dc, c, w := hdLoaded(t, 100)
	for round := 1; round <= 2; round++ {
		cut(round, dc, w)
		w.MustProgress(progress)
		waitVoters(t, c, len(c.Nodes))
		c.CheckAlive()
	}
	hdFinish(t, c, w)
}

// hdCheckRebuilt checks that a node started after a simulated reboot
// noticed that its store was left unsynced by the previous boot (and
// rebuilt it from the Raft snapshot and log): otherwise the test did not
// exercise what it means to.
func hdCheckRebuilt(t *testing.T, n *harness.Node, off int) {
	t.Helper()
	log := n.Log()[off:]
	if !strings.Contains(log, "rebuilding the store from the Raft snapshot and log") {
		t.Errorf("%s: no sign in its log that the unsynced store was discarded after the simulated reboot:\n%s", n.Opts.ID, tail(log, 30))
	}
	aside, _ := filepath.Glob(filepath.Join(n.Opts.DataDir, "state.db.unsynced-*"))
	t.Logf("%s: store files moved aside: %v", n.Opts.ID, aside)
}
