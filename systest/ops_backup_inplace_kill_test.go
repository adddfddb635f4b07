package systest

import (
	"context"
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/weir-nifi/weir/internal/adminauth"
	"github.com/weir-nifi/weir/internal/backup"
	"github.com/weir-nifi/weir/internal/client"
	"github.com/weir-nifi/weir/internal/flowgen"
	"github.com/weir-nifi/weir/internal/harness"
)

// TestOpsBackupInPlaceKilled SIGKILLs a node while it writes a requested
// backup into its --backup-dir under commit load (the backup yields to the
// commits, so it is still being written when the kill comes). After the
// restart the half-written file is gone, no backup file is left that does
// not verify, every acknowledged version is there, the state hash
// recomputes, and a new backup is written and verifies.
func TestOpsBackupInPlaceKilled(t *testing.T) {
	long(t)
	dir := filepath.Join(t.TempDir(), "backups")
	n := harness.StartNode(t, harness.Options{Args: []string{"--backup-dir", dir}})
	if err := n.WaitReady(time.Minute); err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t)
	c := client.New(n.API)
	bid, flows := bucketWithFlows(t, c, "inplace", 3)
	big := flowgen.Snapshot(flowgen.Options{Seed: 7, TargetBytes: 1 << 20, BucketID: bid, FlowID: flows[0], Version: -1})
	for fileSize(filepath.Join(n.Opts.DataDir, "state.db")) < 48<<20 {
		if _, err := c.CommitVersion(ctx, bid, flows[0], big, false); err != nil {
			t.Fatal(err)
		}
	}

	// Committers on the other flows until the kill; count what was
	// acknowledged.
	var acked atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i, fid := range flows[1:] {
		wg.Add(1)
		go func(i int, fid string) {
			defer wg.Done()
			doc := flowgen.Snapshot(flowgen.Options{Seed: int64(100 + i), TargetBytes: 16 << 10, BucketID: bid, FlowID: fid, Version: -1})
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := c.CommitVersion(context.Background(), bid, fid, doc, false); err != nil {
					return // the kill
				}
				acked.Add(1)
			}
		}(i, fid)
	}
	// Ask for backups until one is caught being written (polled every
	// millisecond: under this load one takes a few hundred).
	partial := filepath.Join(dir, ".weir-backup-"+n.Opts.ID+"-*.partial")
	caught := false
	for attempt := 0; attempt < 20 && !caught; attempt++ {
		done := make(chan struct{})
		go func() {
			defer close(done)
			r, _ := http.NewRequest(http.MethodPost, n.API+"/nifi-registry-api/actuator/backup", nil)
			r.Header.Set("Authorization", "Bearer "+adminauth.Token([]byte(harness.TestKey)))
			if resp, err := http.DefaultClient.Do(r); err == nil {
				resp.Body.Close()
			}
		}()
	poll:
		for {
			if m, _ := filepath.Glob(partial); len(m) > 0 {
				caught = true
				break
			}
			select {
			case <-done:
				break poll
			case <-time.After(time.Millisecond):
			}
		}
	}
	if !caught {
		t.Fatal("no backup was caught while being written in 20 tries")
	}
	n.Kill()
	if m, _ := filepath.Glob(partial); len(m) == 0 {
		t.Fatal("the backup finished before the kill; the test needs it in progress")
	}
	close(stop)
	wg.Wait()
	before := acked.Load()

	n.Start()
	if err := n.WaitReady(time.Minute); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "the half-written backup is removed", func() error {
		if m, _ := filepath.Glob(partial); len(m) != 0 {
			return errorf("still there: %v", m)
		}
		return nil
	})
	files, err := backup.List(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if _, stderr, err := weirCLI(t, "backup", "verify", f, "-q"); err != nil {
			t.Fatalf("a backup file left after the kill does not verify: %v\n%s", err, stderr)
		}
	}
	var got int64
	for _, fid := range flows[1:] {
		vs, err := client.New(n.API).Versions(ctx, bid, fid)
		if err != nil {
			t.Fatal(err)
		}
		got += int64(len(vs))
	}
	// A commit in flight at the kill may have been applied without its
	// answer reaching the client: at most one per committer.
	if got < before || got > before+int64(len(flows)-1) {
		t.Fatalf("%d versions after the restart, %d were acknowledged", got, before)
	}
	if status, _, body := req(t, n, http.MethodGet, "/weir-api/cluster/local?recompute=1", ""); status != 200 {
		t.Fatalf("recomputing the state hash after the restart: %d %s", status, body)
	}
	out, stderr, err := weirCLI(t, "backup", "--server", n.API, "--on-server")
	if err != nil {
		t.Fatalf("weir backup --on-server after the restart: %v\n%s\n%s", err, out, stderr)
	}
	files, _ = backup.List(dir)
	if len(files) == 0 {
		t.Fatal("no backup after the restart")
	}
	if _, stderr, err := weirCLI(t, "backup", "verify", files[len(files)-1], "-q"); err != nil {
		t.Fatalf("weir backup verify: %v\n%s", err, stderr)
	}
}
