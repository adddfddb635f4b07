package systest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/weir-nifi/weir/internal/backup"
	"github.com/weir-nifi/weir/internal/client"
	"github.com/weir-nifi/weir/internal/harness"
	"github.com/weir-nifi/weir/internal/model"
)

// contentFile is where a node keeps the bundle content of a SHA-256.
func contentFile(n *harness.Node, content []byte) string {
	sum := sha256.Sum256(content)
	return filepath.Join(n.Opts.DataDir, "content", hex.EncodeToString(sum[:]))
}

func hasContentFile(n *harness.Node, content []byte) bool {
	b, err := os.ReadFile(contentFile(n, content))
	return err == nil && bytes.Equal(b, content)
}

// waitContentFiles waits until every node in nodes holds (or, with want
// false, no longer holds) the file of content, by its own work: nothing
// asks it for the content meanwhile.
func waitContentFiles(t *testing.T, nodes []*harness.Node, content []byte, want bool, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		var wrong []string
		for _, n := range nodes {
			if hasContentFile(n, content) != want {
				wrong = append(wrong, n.Opts.ID)
			}
		}
		if len(wrong) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v, nodes %v still do not match (file wanted: %v) for %s", timeout, wrong, want, filepath.Base(contentFile(nodes[0], content)))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestBundleContentInFiles: an upload's content is kept in files beside
// the Raft log (docs/bundles-design.md, "Content in files"), not in the
// log or the store.
//   - Before the 200, a majority of the voters hold the file: the node
//     that took the upload is SIGKILLed right after its answer and the
//     others serve the content byte for byte.
//   - A voter that was down during an upload fetches the file when it is
//     back, by itself.
//   - A node that joins later (given a snapshot: the log was compacted)
//     fetches every file.
//   - The store's database does not hold the content; a backup does.
//   - Deleting a version removes its file from every node after the grace
//     period; content still referred to stays.
func TestBundleContentInFiles(t *testing.T) {
	args := append(append([]string{}, snapshotArgs...), "--bundle-content-grace", "1s")
	c := harness.StartCluster(t, harness.ClusterOptions{N: 4, Join: true, ExtraArgs: args})
	n1, n2, n3, n4 := c.Nodes[0], c.Nodes[1], c.Nodes[2], c.Nodes[3]
	c.StartNodes(n2, n3)
	if err := c.WaitVoters(3, time.Minute); err != nil {
		t.Fatal(err)
	}
	voters := []*harness.Node{n1, n2, n3}
	ctx := harness.Context(t)
	b, err := client.New(n1.API).CreateBucket(ctx, model.Bucket{Name: model.Str("in-files")}, false)
	if err != nil {
		t.Fatal(err)
	}
	bucket := *b.Identifier

	// 1. A majority before the answer; the uploader dies right after it.
	v1 := bundleNAR("1.0", 6<<20, 11)
	if status, body, err := postBundle(ctx, n2, bucket, v1); err != nil || status != 200 {
		t.Fatalf("upload: %d %s %v", status, body, err)
	}
	n2.Kill()
	held := 0
	for _, n := range voters {
		if hasContentFile(n, v1) {
			held++
		}
	}
	if held < 2 {
		t.Fatalf("%d of 3 voters held the content when the upload was answered, want a majority", held)
	}
	if _, err := c.WaitLeader(time.Minute); err != nil {
		t.Fatal(err)
	}
	for _, n := range []*harness.Node{n1, n3} {
		status, got := bundleGet(t, n, "/extension-repository/in-files/org.example/cluster-nar/1.0/content")
		if status != 200 || !bytes.Equal(got, v1) {
			t.Fatalf("%s after the uploader died: %d, %d bytes, want %d identical", n.Opts.ID, status, len(got), len(v1))
		}
	}
	c.StartNodes(n2)

	// 2. A voter down during an upload fetches the file when back.
	n3.Kill()
	v2 := bundleNAR("2.0", 4<<20, 12)
	if status, body, err := postBundle(ctx, n1, bucket, v2); err != nil || status != 200 {
		t.Fatalf("upload with a voter down: %d %s %v", status, body, err)
	}
	// Enough other writes for a snapshot and a compacted log, so the node
	// that joins next is sent a snapshot rather than the upload's entry.
	for i := range 80 {
		if _, err := client.New(n1.API).CreateBucket(ctx, model.Bucket{Name: model.Str(fmt.Sprintf("filler-%d", i))}, false); err != nil {
			t.Fatal(err)
		}
	}
	c.StartNodes(n3)
	waitContentFiles(t, []*harness.Node{n3}, v2, true, time.Minute)

	// 3. A node that joins later fetches every file.
	c.StartNodes(n4)
	waitContentFiles(t, []*harness.Node{n4}, v1, true, time.Minute)
	waitContentFiles(t, []*harness.Node{n4}, v2, true, time.Minute)
	c.MustConverge()
	checkBundleEverywhere(t, c, bucket, map[string][]byte{"1.0": v1, "2.0": v2})

	// 4. The store holds no content: its database (what a Raft snapshot
	// carries) is smaller than either bundle; a backup carries the
	// files in its content section.
	for _, n := range c.Running() {
		status, body, err := c.Signed(n, "GET", backup.Path+"?content=omit", nil)
		if err != nil || status != 200 {
			t.Fatalf("%s: backup without content: %d %v", n.Opts.ID, status, err)
		}
		m, _, err := backup.ReadHeader(strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if m.StoreBytes >= int64(len(v2)) || m.ContentFiles != 0 {
			t.Fatalf("%s: the store's database is %d bytes (%d content files in the backup), the bundles %d and %d: content went into the store",
				n.Opts.ID, m.StoreBytes, m.ContentFiles, len(v1), len(v2))
		}
	}
	status, full, err := c.Signed(n4, "GET", backup.Path, nil)
	if err != nil || status != 200 {
		t.Fatalf("backup: %d %v", status, err)
	}
	info, err := backup.Verify(strings.NewReader(full), nil)
	if err != nil {
		t.Fatalf("the backup of a node that fetched its content: %v", err)
	}
	if info.ContentFiles != 2 || info.ContentBytes != int64(len(v1)+len(v2)) {
		t.Fatalf("backup content section: %d files, %d bytes; want 2, %d", info.ContentFiles, info.ContentBytes, len(v1)+len(v2))
	}

	// 5. Deleting a version removes its file everywhere; the other stays.
	status, body := bundleGet(t, n1, "/buckets/"+bucket+"/bundles")
	var bs []clusterBundle
	if status != 200 || json.Unmarshal(body, &bs) != nil || len(bs) != 1 {
		t.Fatalf("bundles: %d %s", status, body)
	}
	if _, _, err := client.New(n2.API).Do(ctx, "DELETE", "/bundles/"+bs[0].Identifier+"/versions/1.0", nil, nil); err != nil {
		t.Fatalf("delete 1.0: %v", err)
	}
	waitContentFiles(t, c.Running(), v1, false, time.Minute)
	waitContentFiles(t, c.Running(), v2, true, time.Second)
	checkBundleEverywhere(t, c, bucket, map[string][]byte{"2.0": v2})
}
