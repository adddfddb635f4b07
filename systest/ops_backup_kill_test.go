package systest

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/weir-nifi/weir/internal/adminauth"
	"github.com/weir-nifi/weir/internal/client"
	"github.com/weir-nifi/weir/internal/flowgen"
	"github.com/weir-nifi/weir/internal/harness"
	"github.com/weir-nifi/weir/internal/model"
)

// TestOpsBackupStalledThenKilled holds a backup download open after its
// first megabyte (a slow or stuck client), checks that commits go on
// meanwhile and that the copy the backup streams from is an unlinked file
// (nothing in the data directory), then SIGKILLs the node mid-stream. The
// node restarts with every acknowledged version, its entries add up to its
// state hash, no file is left behind, and `weir backup` then succeeds.
func TestOpsBackupStalledThenKilled(t *testing.T) {
	long(t)
	n := harness.StartNode(t, harness.Options{})
	if err := n.WaitReady(time.Minute); err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t)
	c := client.New(n.API)
	b, err := c.CreateBucket(ctx, model.Bucket{Name: model.Str("stall")}, false)
	if err != nil {
		t.Fatal(err)
	}
	f, err := c.CreateFlow(ctx, *b.Identifier, model.VersionedFlow{Name: model.Str("f")})
	if err != nil {
		t.Fatal(err)
	}
	var docs [][]byte
	for i := 0; i < 8; i++ {
		docs = append(docs, flowgen.Snapshot(flowgen.Options{Seed: int64(i), TargetBytes: 1 << 20, BucketID: *b.Identifier, FlowID: *f.Identifier, Version: -1}))
	}
	commit := func(v int) {
		t.Helper()
		if _, err := c.CommitVersion(ctx, *b.Identifier, *f.Identifier, docs[v%len(docs)], false); err != nil {
			t.Fatalf("commit %d: %v", v, err)
		}
	}
	// A store well beyond what loopback socket buffers hold, so the
	// stream cannot finish into them while the client stalls.
	acked := 0
	for ; acked < 3000 && fileSize(filepath.Join(n.Opts.DataDir, "state.db")) < 48<<20; acked++ {
		commit(acked + 1)
	}

	// A client that reads 1 MB of the backup and then stops reading.
	rctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r, _ := http.NewRequestWithContext(rctx, http.MethodGet, n.API+"/nifi-registry-api/actuator/backup", nil)
	r.Header.Set("Authorization", "Bearer "+adminauth.Token([]byte(harness.TestKey)))
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("backup: %s", resp.Status)
	}
	if _, err := io.CopyN(io.Discard, resp.Body, 1<<20); err != nil {
		t.Fatal(err)
	}

	// Writes continue while the backup is stuck.
	for i := 0; i < 20; i++ {
		commit(acked + 1)
		acked++
	}
	if stray := strayFiles(t, n.Opts.DataDir); len(stray) > 0 {
		t.Errorf("files in the data directory during the backup: %v", stray)
	}
	if !holdsDeletedCopy(n.PID()) {
		t.Error("the node does not hold an unlinked snapshot copy while the backup streams")
	}

	n.Kill()
	cancel()
	n.Start()
	if err := n.WaitReady(time.Minute); err != nil {
		t.Fatal(err)
	}
	if stray := strayFiles(t, n.Opts.DataDir); len(stray) > 0 {
		t.Errorf("files left in the data directory after the kill: %v", stray)
	}
	vs, err := client.New(n.API).Versions(ctx, *b.Identifier, *f.Identifier)
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != acked {
		t.Fatalf("%d versions after the restart, %d were acknowledged", len(vs), acked)
	}
	status, _, body := req(t, n, http.MethodGet, "/weir-api/cluster/local?recompute=1", "")
	if status != 200 {
		t.Fatalf("recomputing the state hash after the restart: %d %s", status, body)
	}
	out := filepath.Join(t.TempDir(), "after.weirbak")
	if _, stderr, err := weirCLI(t, "backup", "--server", n.API, "-o", out, "-q"); err != nil {
		t.Fatalf("weir backup after the restart: %v\n%s", err, stderr)
	}
	if _, stderr, err := weirCLI(t, "backup", "verify", out); err != nil {
		t.Fatalf("weir backup verify: %v\n%s", err, stderr)
	}
}

func fileSize(p string) int64 {
	st, err := os.Stat(p)
	if err != nil {
		return 0
	}
	return st.Size()
}

// strayFiles lists what is in a node's data directory besides the files a
// node keeps there (docs/architecture.md, "On disk").
func strayFiles(t *testing.T, dir string) []string {
	t.Helper()
	known := map[string]bool{"state.db": true, "state.db.boot": true, "raft": true, "node-id": true, "cluster.key": true, "content": true}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if !known[e.Name()] {
			out = append(out, e.Name())
		}
	}
	// The bundle content store holds files named by SHA-256 only.
	content, _ := os.ReadDir(filepath.Join(dir, "content"))
	for _, e := range content {
		if len(e.Name()) != 64 {
			out = append(out, filepath.Join("content", e.Name()))
		}
	}
	return out
}

// holdsDeletedCopy reports whether process pid has an unlinked
// .snapshot-copy-* file open.
func holdsDeletedCopy(pid int) bool {
	fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	for _, fd := range fds {
		target, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
		if err == nil && strings.Contains(target, ".snapshot-copy-") && strings.HasSuffix(target, "(deleted)") {
			return true
		}
	}
	return false
}
