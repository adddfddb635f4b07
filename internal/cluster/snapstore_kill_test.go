package cluster_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/weir-nifi/weir/internal/client"
	"github.com/weir-nifi/weir/internal/flowgen"
	"github.com/weir-nifi/weir/internal/harness"
	"github.com/weir-nifi/weir/internal/model"
)

// A node SIGKILLed while it receives a snapshot from the leader starts
// again and catches up: the unfinished snapshot (and the copy of its
// database staged beside the store) is dropped and sent again. Real
// processes: the kill lands while the partial file is on disk (checked
// after the kill). Installing a received snapshot is then a rename of the
// staged copy, too short to be caught by a kill from here; a crash around
// it leaves the store behind the snapshot, which the node restores at
// start (TestCatchUpFromSnapshotRestoresBehindStore,
// TestRestoreAfterInterruptedRestore).
func TestSnapshotInstallSurvivesKill(t *testing.T) {
	if testing.Short() {
		t.Skip("runs weir processes")
	}
	args := []string{"--snapshot-threshold", "32", "--trailing-logs", "8", "--snapshot-interval", "1s"}
	c := harness.StartCluster(t, harness.ClusterOptions{N: 2, Join: true, ExtraArgs: args})
	leader, joiner := c.Nodes[0], c.Nodes[1]
	logStart := len(leader.Log())
	loadVersions(t, leader.API, 1200)
	// The leader snapshots and compacts its log, so a new node is sent
	// the snapshot rather than the log.
	waitUntil(t, "a leader snapshot", 2*time.Minute, func() bool {
		return strings.Contains(leader.Log()[logStart:], "compacting logs")
	})

	stages := []struct {
		name       string
		inProgress func(dataDir string) bool
		// afterRestart is what the restarted node logs about it.
		afterRestart string
	}{
		{"receiving the snapshot", receiving, "removing an unfinished snapshot"},
	}
	for _, s := range stages {
		hit := false
		for attempt := 1; attempt <= 5 && !hit; attempt++ {
			// A wiped node joins and is sent the snapshot.
			joiner.Kill()
			joiner.Wipe()
			joiner.Start()
			hit = killWhile(t, joiner, s.inProgress)
			if !hit {
				t.Logf("%s: attempt %d finished before it could be killed", s.name, attempt)
			}
		}
		if !hit {
			t.Fatalf("%s: never caught in progress", s.name)
		}
		before := len(joiner.Log())
		joiner.Start()
		if _, err := c.WaitConverged(2 * time.Minute); err != nil {
			t.Fatalf("after a kill while %s: %v", s.name, err)
		}
		if log := joiner.Log()[before:]; !strings.Contains(log, s.afterRestart) {
			t.Errorf("after a kill while %s the node did not log %q:\n%s", s.name, s.afterRestart, lastLines(log, 30))
		}
	}
}

// receiving: a snapshot is being written into the snapshot store.
func receiving(dir string) bool {
	m, _ := filepath.Glob(filepath.Join(dir, "raft", "snapshots", "*.tmp", "state.bin"))
	for _, p := range m {
		if st, err := os.Stat(p); err == nil && st.Size() > 0 {
			return true
		}
	}
	return false
}

// killWhile polls n's data directory and SIGKILLs n as soon as inProgress
// holds; it reports whether the partial state was still there after the
// kill (the kill cut the operation short). It gives up when n has caught
// up without being caught.
func killWhile(t *testing.T, n *harness.Node, inProgress func(string) bool) bool {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	lastProbe := time.Time{}
	for time.Now().Before(deadline) {
		if inProgress(n.Opts.DataDir) {
			n.Kill()
			return inProgress(n.Opts.DataDir)
		}
		if time.Since(lastProbe) > 200*time.Millisecond {
			lastProbe = time.Now()
			if l, err := harness.LocalOf(n); err == nil && l.AppliedIndex > 0 && l.AppliedIndex >= l.CommitIndex {
				return false
			}
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("%s neither caught up nor started a snapshot install", n.Opts.ID)
	return false
}

// loadVersions commits n versions of 64 KB documents over 8 flows.
func loadVersions(t *testing.T, api string, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cl := client.New(api)
	b, err := cl.CreateBucket(ctx, model.Bucket{Name: model.Str("catch-up")}, false)
	if err != nil {
		t.Fatal(err)
	}
	const flows = 8
	var wg sync.WaitGroup
	errs := make(chan error, flows)
	for i := 0; i < flows; i++ {
		f, err := cl.CreateFlow(ctx, *b.Identifier, model.VersionedFlow{Name: model.Str(fmt.Sprintf("flow-%d", i))})
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func(i int, fid string) {
			defer wg.Done()
			for v := 1; v <= n/flows; v++ {
				doc := flowgen.Snapshot(flowgen.Options{Seed: int64(i*100000 + v), TargetBytes: 64 << 10, BucketID: *b.Identifier, FlowID: fid, Version: -1})
				if _, err := cl.CommitVersion(ctx, *b.Identifier, fid, doc, false); err != nil {
					errs <- fmt.Errorf("flow %d version %d: %w", i, v, err)
					return
				}
			}
		}(i, *f.Identifier)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func waitUntil(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func lastLines(s string, n int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n")
}
