package systest

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/weir-nifi/weir/internal/backup"
	"github.com/weir-nifi/weir/internal/client"
	"github.com/weir-nifi/weir/internal/flowgen"
	"github.com/weir-nifi/weir/internal/harness"
	"github.com/weir-nifi/weir/internal/model"
)

type ackedVersion struct {
	flow    string
	version int
}

// TestOpsBackupRestoreUnderLoad takes a backup with `weir backup` from a
// follower of a 3-node cluster while clients keep committing versions,
// restores it with `weir restore` into the first node of a fresh cluster
// that two more nodes join, and checks that every node of the new cluster
// has the backup's state hash (the source's at the backup's index), that
// every version acknowledged before the backup started is there and equal
// to the source's, and that altered or truncated copies are refused with
// nothing left to serve.
func TestOpsBackupRestoreUnderLoad(t *testing.T) {
	long(t)
	src := harness.StartCluster(t, harness.ClusterOptions{})
	leader := src.MustLeader()
	ctx := ctxT(t)
	lc := client.New(leader.API)
	bid, flows := bucketWithFlows(t, lc, "load", 2)

	// Writers: one per flow, through different nodes.
	var mu sync.Mutex
	var acked []ackedVersion
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i, fid := range flows {
		wg.Add(1)
		go func(i int, fid string) {
			defer wg.Done()
			c := client.New(src.Nodes[i%len(src.Nodes)].API)
			for v := 1; ; v++ {
				select {
				case <-stop:
					return
				default:
				}
				doc := flowgen.Snapshot(flowgen.Options{Seed: int64(i*1000 + v), TargetBytes: 32 << 10, BucketID: bid, FlowID: fid, Version: -1})
				if _, err := c.CommitVersion(context.Background(), bid, fid, doc, false); err != nil {
					t.Errorf("writer %d: %v", i, err)
					return
				}
				mu.Lock()
				acked = append(acked, ackedVersion{fid, v})
				mu.Unlock()
			}
		}(i, fid)
	}
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(acked) }
	eventually(t, 60*time.Second, "writers commit", func() error {
		if n := count(); n < 20 {
			return errorf("%d acknowledged", n)
		}
		return nil
	})

	var follower *harness.Node
	for _, n := range src.Nodes {
		if n != leader {
			follower = n
		}
	}
	mu.Lock()
	before := append([]ackedVersion(nil), acked...)
	mu.Unlock()
	file := filepath.Join(t.TempDir(), "registry.weirbak")
	out, stderr, err := weirCLI(t, "backup", "--server", follower.API, "-o", file)
	if err != nil {
		t.Fatalf("weir backup: %v\n%s\n%s", err, out, stderr)
	}
	t.Logf("weir backup:\n%s", out)
	afterBackup := count()
	eventually(t, 60*time.Second, "writes continue after the backup", func() error {
		if count() < afterBackup+5 {
			return errorf("%d acknowledged", count())
		}
		return nil
	})
	close(stop)
	wg.Wait()
	m, err := backup.ReadManifestFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if m.Counts.Versions < len(before) {
		t.Fatalf("backup holds %d versions, %d were acknowledged before it started", m.Counts.Versions, len(before))
	}
	t.Logf("backup at index %d: %+v; %d versions acknowledged before it, %d in total", m.Index, m.Counts, len(before), count())

	// Damaged copies are refused and leave nothing to serve.
	good, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	altered := append([]byte(nil), good...)
	altered[len(altered)/2] ^= 0x01
	for name, content := range map[string][]byte{"altered": altered, "truncated": good[:len(good)*2/3]} {
		bad := filepath.Join(t.TempDir(), name+".weirbak")
		if err := os.WriteFile(bad, content, 0o600); err != nil {
			t.Fatal(err)
		}
		dir := filepath.Join(t.TempDir(), "node")
		_, stderr, err := weirCLI(t, "restore", bad, "--data-dir", dir, "-q")
		if err == nil || !strings.Contains(stderr, "refused") || !strings.Contains(stderr, "invalid backup") {
			t.Fatalf("%s backup: want a refusal, got %v: %s", name, err, stderr)
		}
		if _, err := os.Stat(filepath.Join(dir, "state.db")); !os.IsNotExist(err) {
			t.Fatalf("%s backup left a state.db behind (%v)", name, err)
		}
		t.Logf("%s backup refused: %s", name, strings.TrimSpace(stderr))
	}

	// Restore into a fresh cluster: node 1 from the file, the others join.
	dst := harness.NewCluster(t, harness.ClusterOptions{Join: true})
	out, stderr, err = weirCLI(t, "restore", file, "--data-dir", dst.Nodes[0].Opts.DataDir, "-q")
	if err != nil {
		t.Fatalf("weir restore: %v\n%s", err, stderr)
	}
	dst.Nodes[0].Start()
	if err := dst.Nodes[0].WaitReady(60 * time.Second); err != nil {
		t.Fatal(err)
	}
	dst.StartNodes(dst.Nodes[1:]...)
	hash := dst.MustConverge()
	if hash != m.StateHash {
		t.Fatalf("restored cluster's state hash %s, the source's at index %d was %s", hash, m.Index, m.StateHash)
	}
	eventually(t, 90*time.Second, "the joined nodes become voters", func() error {
		st, err := dst.Status(dst.Nodes[0])
		if err != nil {
			return err
		}
		if st.Voters != 3 || !st.HasQuorum {
			return errorf("%d voters, quorum %v", st.Voters, st.HasQuorum)
		}
		return nil
	})
	sc, dc := client.New(leader.API), client.New(dst.Nodes[2].API)
	for _, a := range before {
		want, err := sc.Version(ctx, bid, a.flow, a.version)
		if err != nil {
			t.Fatal(err)
		}
		got, err := dc.Version(ctx, bid, a.flow, a.version)
		if err != nil {
			t.Fatalf("version %d of %s, acknowledged before the backup, is missing after restore: %v", a.version, a.flow, err)
		}
		if !sameSnapshotDoc(t, want, got) {
			t.Fatalf("version %d of %s differs after restore", a.version, a.flow)
		}
	}
	// The restored cluster takes writes.
	if _, err := dc.CreateBucket(ctx, model.Bucket{Name: model.Str("after-restore")}, false); err != nil {
		t.Fatal(err)
	}
}
