package systest

import (
	"context"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/weir-nifi/weir/internal/backup"
	"github.com/weir-nifi/weir/internal/client"
	"github.com/weir-nifi/weir/internal/flowgen"
	"github.com/weir-nifi/weir/internal/harness"
	"github.com/weir-nifi/weir/internal/model"
	"github.com/weir-nifi/weir/internal/store"
)

// TestOpsBackupOnServer asks a follower of a 3-node cluster for a backup
// into the backup directory (`weir backup --on-server`): the request is
// forwarded to the leader, which writes the file in place; it verifies,
// holds every acknowledged write, and its state hash is the cluster's. A
// cluster started without --backup-dir answers 409 with the flag to set.
func TestOpsBackupOnServer(t *testing.T) {
	long(t)
	dir := filepath.Join(t.TempDir(), "backups")
	c := harness.StartCluster(t, harness.ClusterOptions{ExtraArgs: []string{"--backup-dir", dir}})
	leader := c.MustLeader()
	ctx := ctxT(t)
	lc := client.New(leader.API)
	b, err := lc.CreateBucket(ctx, model.Bucket{Name: model.Str("on-server")}, false)
	if err != nil {
		t.Fatal(err)
	}
	f, err := lc.CreateFlow(ctx, *b.Identifier, model.VersionedFlow{Name: model.Str("f")})
	if err != nil {
		t.Fatal(err)
	}
	for v := 1; v <= 5; v++ {
		doc := flowgen.Snapshot(flowgen.Options{Seed: int64(v), TargetBytes: 64 << 10, Version: -1})
		if _, err := lc.CommitVersion(context.Background(), *b.Identifier, *f.Identifier, doc, false); err != nil {
			t.Fatal(err)
		}
	}
	var follower *harness.Node
	for _, n := range c.Nodes {
		if n != leader {
			follower = n
		}
	}
	out, stderr, err := weirCLI(t, "backup", "--server", follower.API, "--on-server")
	if err != nil {
		t.Fatalf("weir backup --on-server: %v\n%s\n%s", err, out, stderr)
	}
	t.Logf("weir backup --on-server:\n%s", out)
	m := regexp.MustCompile(`backup written on the server: (\S+)`).FindStringSubmatch(out)
	if m == nil || filepath.Dir(m[1]) != dir {
		t.Fatalf("the output does not name a file in %s:\n%s", dir, out)
	}
	if !strings.Contains(out, "node "+leader.Opts.ID) {
		t.Fatalf("the backup was not taken by the leader %s:\n%s", leader.Opts.ID, out)
	}
	if vout, stderr, err := weirCLI(t, "backup", "verify", m[1], "-q"); err != nil {
		t.Fatalf("weir backup verify: %v\n%s\n%s", err, vout, stderr)
	}
	man, err := backup.ReadManifestFile(m[1])
	if err != nil {
		t.Fatal(err)
	}
	if man.Counts != (store.Counts{Buckets: 1, Flows: 1, Versions: 5}) {
		t.Fatalf("backup counts %+v", man.Counts)
	}
	if hash := c.MustConverge(); hash != man.StateHash {
		t.Fatalf("backup state hash %s, the cluster's %s", man.StateHash, hash)
	}

	bare := harness.StartNode(t, harness.Options{ID: "bare"})
	if err := bare.WaitReady(60 * time.Second); err != nil {
		t.Fatal(err)
	}
	st, _, body := req(t, bare, "POST", "/nifi-registry-api/actuator/backup", "")
	if st != 409 || !strings.Contains(body, "--backup-dir") {
		t.Fatalf("without a backup directory: %d %s", st, body)
	}
}
