package systest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"math/rand/v2"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/weir-nifi/weir/internal/bundles/nar/nartest"
	"github.com/weir-nifi/weir/internal/client"
	"github.com/weir-nifi/weir/internal/harness"
	"github.com/weir-nifi/weir/internal/model"
)

// bundleNAR is a NAR with a random (incompressible) bundled jar of size
// bytes, so its content takes several 1 MiB chunks through the log.
func bundleNAR(version string, size int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	payload := make([]byte, size)
	for i := range payload {
		payload[i] = byte(r.Uint32())
	}
	return nartest.Build(nartest.Spec{Group: "org.example", Artifact: "cluster-nar", Version: version, SystemAPI: "2.7.2",
		Extensions: []nartest.Extension{{Name: "org.example.ClusterProcessor", Type: "PROCESSOR", Tags: []string{"cluster"}}},
		Payload:    payload})
}

// uploadBody is the multipart form NiFi's client sends.
func uploadBody(content []byte) (io.Reader, string) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, _ := mw.CreateFormFile("file", "bundle.nar")
	fw.Write(content)
	sum := sha256.Sum256(content)
	mw.WriteField("sha256", hex.EncodeToString(sum[:]))
	mw.Close()
	return &buf, mw.FormDataContentType()
}

func bundleGet(t *testing.T, n *harness.Node, path string) (int, []byte) {
	t.Helper()
	resp, err := n.Client(time.Minute).Get(n.API + "/nifi-registry-api" + path)
	if err != nil {
		t.Fatalf("GET %s on %s: %v", path, n.Opts.ID, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s on %s: %v", path, n.Opts.ID, err)
	}
	return resp.StatusCode, b
}

type clusterBundle struct {
	Identifier   string `json:"identifier"`
	VersionCount int64  `json:"versionCount"`
}

// checkBundleEverywhere requires every running node to list the bundle
// with versions and serve each version's content byte for byte.
func checkBundleEverywhere(t *testing.T, c *harness.Cluster, bucket string, versions map[string][]byte) {
	t.Helper()
	for _, n := range c.Running() {
		status, body := bundleGet(t, n, "/buckets/"+bucket+"/bundles")
		var bs []clusterBundle
		if status != 200 || json.Unmarshal(body, &bs) != nil || len(bs) != 1 || bs[0].VersionCount != int64(len(versions)) {
			t.Fatalf("%s: bundles of the bucket: %d %s", n.Opts.ID, status, body)
		}
		for v, want := range versions {
			status, got := bundleGet(t, n, "/bundles/"+bs[0].Identifier+"/versions/"+v+"/content")
			if status != 200 || !bytes.Equal(got, want) {
				t.Fatalf("%s: content of %s: status %d, %d bytes, want %d identical bytes", n.Opts.ID, v, status, len(got), len(want))
			}
			status, sha := bundleGet(t, n, "/extension-repository/"+bucketNameOf(t, n, bucket)+"/org.example/cluster-nar/"+v+"/sha256")
			sum := sha256.Sum256(want)
			if status != 200 || string(sha) != hex.EncodeToString(sum[:]) {
				t.Fatalf("%s: sha256 of %s: %d %s", n.Opts.ID, v, status, sha)
			}
		}
		status, body = bundleGet(t, n, "/extensions?tag=cluster")
		var ec struct {
			NumResults int `json:"numResults"`
		}
		if status != 200 || json.Unmarshal(body, &ec) != nil || ec.NumResults != 1 {
			t.Fatalf("%s: extension search: %d %s", n.Opts.ID, status, body)
		}
	}
}

func bucketNameOf(t *testing.T, n *harness.Node, id string) string {
	t.Helper()
	status, body := bundleGet(t, n, "/buckets/"+id)
	var b struct {
		Name string `json:"name"`
	}
	if status != 200 || json.Unmarshal(body, &b) != nil {
		t.Fatalf("bucket %s: %d %s", id, status, body)
	}
	return b.Name
}

func postBundle(ctx context.Context, n *harness.Node, bucket string, content []byte) (int, string, error) {
	body, ct := uploadBody(content)
	req, err := http.NewRequestWithContext(ctx, "POST", n.API+"/nifi-registry-api/buckets/"+bucket+"/bundles/nifi-nar", body)
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", ct)
	resp, err := n.Client(2 * time.Minute).Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// TestBundlesCluster uploads NARs through a follower and the leader of a
// three-node cluster, then lists, searches and downloads them from every
// node, byte for byte.
func TestBundlesCluster(t *testing.T) {
	c := harness.StartCluster(t, harness.ClusterOptions{N: 3})
	leader := c.MustLeader()
	follower := c.Others(leader)[0]
	ctx := harness.Context(t)
	b, err := client.New(follower.API).CreateBucket(ctx, model.Bucket{Name: model.Str("cluster-bundles")}, false)
	if err != nil {
		t.Fatal(err)
	}
	bucket := *b.Identifier
	v1, v2 := bundleNAR("1.0", 5<<20+123, 1), bundleNAR("2.0", 3<<20, 2)
	if status, body, err := postBundle(ctx, follower, bucket, v1); err != nil || status != 200 {
		t.Fatalf("upload through a follower: %d %s %v", status, body, err)
	}
	if status, body, err := postBundle(ctx, leader, bucket, v2); err != nil || status != 200 {
		t.Fatalf("upload to the leader: %d %s %v", status, body, err)
	}
	c.MustConverge()
	checkBundleEverywhere(t, c, bucket, map[string][]byte{"1.0": v1, "2.0": v2})
	// Each upload published NiFi's two events, as the change was applied.
	var got []string
	for _, e := range allEvents(t, follower) {
		if strings.Contains(e.Type, "EXTENSION_BUNDLE") {
			b, _ := e.Field("BUCKET_ID")
			v, _ := e.Field("VERSION")
			id, _ := e.Field("EXTENSION_BUNDLE_ID")
			if b != bucket || id == "" {
				t.Fatalf("bundle event %+v", e)
			}
			got = append(got, e.Type+" "+v)
		}
	}
	if want := "CREATE_EXTENSION_BUNDLE ,CREATE_EXTENSION_BUNDLE_VERSION 1.0,CREATE_EXTENSION_BUNDLE ,CREATE_EXTENSION_BUNDLE_VERSION 2.0"; strings.Join(got, ",") != want {
		t.Fatalf("bundle events %q, want %q", strings.Join(got, ","), want)
	}
}

// TestBundleUploadLeaderKilled SIGKILLs the leader while an upload's
// content is being sent to the other voters, with the upload sent to the
// leader (it dies with it) and to a follower (its other voter makes the
// majority, and it proposes to whichever node leads next). An acknowledged upload is
// present everywhere; one that was not is either absent everywhere or,
// when its commit was applied before the answer was lost, complete
// everywhere: never partial. An upload not stored is retried. The
// follower's upload is larger than --max-body: uploads are streams.
func TestBundleUploadLeaderKilled(t *testing.T) {
	for _, via := range []string{"leader", "follower"} {
		t.Run("via "+via, func(t *testing.T) { bundleUploadLeaderKilled(t, via == "follower") })
	}
}

func bundleUploadLeaderKilled(t *testing.T, viaFollower bool) {
	c := harness.StartCluster(t, harness.ClusterOptions{N: 3})
	leader := c.MustLeader()
	ctx := harness.Context(t)
	b, err := client.New(leader.API).CreateBucket(ctx, model.Bucket{Name: model.Str("killed")}, false)
	if err != nil {
		t.Fatal(err)
	}
	bucket := *b.Identifier
	// The leader is killed while a node receives the content from the
	// node that took the upload (a temp file in its content store):
	// through the leader, a follower receiving it (the uploader dies and
	// nothing is proposed); through a follower, the leader receiving it
	// (the follower's other voter makes the majority, and it proposes to
	// the next leader).
	size, target, watch := 24<<20, leader, c.Others(leader)[0]
	if viaFollower {
		size, target, watch = 40<<20, c.Others(leader)[0], leader
	}
	content := bundleNAR("1.0", size, 3)

	type result struct {
		status int
		body   string
		err    error
	}
	done := make(chan result, 1)
	go func() {
		status, body, err := postBundle(ctx, target, bucket, content)
		done <- result{status, body, err}
	}()
	// Kill once the watched node is receiving the content (or the upload
	// has already finished).
	var res result
	duringUpload := false
	for killed := false; !killed; {
		select {
		case res = <-done:
			killed = true // too late to kill during the upload: check it anyway
			leader.Kill()
		default:
			if receivingContent(watch) {
				leader.Kill()
				killed, duringUpload = true, true
				res = <-done
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
	if !duringUpload {
		// The content of 24-40 MB takes far longer to send than the 2 ms
		// between looks: the scenario did not happen.
		t.Fatal("the upload finished before any node was seen receiving its content")
	}
	acked := res.err == nil && res.status == 200
	t.Logf("upload answer when the leader died: %d %.120q %v", res.status, res.body, res.err)
	newLeader := c.MustNewLeader(leader)
	c.MustConverge()

	// Whatever the answer, every node shows the same: the whole bundle
	// or nothing.
	var seen []int
	for _, n := range c.Running() {
		status, body := bundleGet(t, n, "/buckets/"+bucket+"/bundles")
		var bs []clusterBundle
		if status != 200 || json.Unmarshal(body, &bs) != nil {
			t.Fatalf("%s: %d %s", n.Opts.ID, status, body)
		}
		seen = append(seen, len(bs))
	}
	for _, s := range seen[1:] {
		if s != seen[0] {
			t.Fatalf("nodes disagree on the bundle: %v", seen)
		}
	}
	switch {
	case acked && seen[0] != 1:
		t.Fatalf("acknowledged upload missing: %v", seen)
	case seen[0] == 1:
		checkBundleEverywhere(t, c, bucket, map[string][]byte{"1.0": content})
	default:
		// Not stored: the client retries on the new leader.
		if status, body, err := postBundle(ctx, newLeader, bucket, content); err != nil || status != 200 {
			t.Fatalf("retry on the new leader: %d %s %v", status, body, err)
		}
	}
	// The old leader comes back and catches up.
	c.StartNodes(leader)
	if err := leader.WaitReady(2 * time.Minute); err != nil {
		t.Fatal(err)
	}
	c.MustConverge()
	checkBundleEverywhere(t, c, bucket, map[string][]byte{"1.0": content})
}

// receivingContent reports whether a node is writing content it receives
// into its content store (a temp file with bytes in it).
func receivingContent(n *harness.Node) bool {
	tmp, _ := filepath.Glob(filepath.Join(n.Opts.DataDir, "content", ".tmp-*"))
	for _, f := range tmp {
		if st, err := os.Stat(f); err == nil && st.Size() > 0 {
			return true
		}
	}
	return false
}

// TestBundlesBackupRestore: bundles, their content included, are in a
// backup, and a new node restored from it serves them byte for byte and
// takes new versions of the same bundle.
func TestBundlesBackupRestore(t *testing.T) {
	src := harness.StartCluster(t, harness.ClusterOptions{N: 1})
	n := src.MustLeader()
	ctx := harness.Context(t)
	b, err := client.New(n.API).CreateBucket(ctx, model.Bucket{Name: model.Str("backed-up")}, false)
	if err != nil {
		t.Fatal(err)
	}
	bucket := *b.Identifier
	v1 := bundleNAR("1.0", 3<<20, 4)
	if status, body, err := postBundle(ctx, n, bucket, v1); err != nil || status != 200 {
		t.Fatalf("upload: %d %s %v", status, body, err)
	}
	file := t.TempDir() + "/bundles.backup"
	if out, stderr, err := weirCLI(t, "backup", "--server", n.API, "-o", file); err != nil {
		t.Fatalf("weir backup: %v\n%s\n%s", err, out, stderr)
	}

	dst := harness.NewCluster(t, harness.ClusterOptions{N: 1, Join: true})
	if _, stderr, err := weirCLI(t, "restore", file, "--data-dir", dst.Nodes[0].Opts.DataDir, "-q"); err != nil {
		t.Fatalf("weir restore: %v\n%s", err, stderr)
	}
	dst.Nodes[0].Start()
	if err := dst.Nodes[0].WaitReady(60 * time.Second); err != nil {
		t.Fatal(err)
	}
	checkBundleEverywhere(t, dst, bucket, map[string][]byte{"1.0": v1})
	v2 := bundleNAR("2.0", 1<<20, 5)
	if status, body, err := postBundle(ctx, dst.Nodes[0], bucket, v2); err != nil || status != 200 {
		t.Fatalf("upload after restore: %d %s %v", status, body, err)
	}
	checkBundleEverywhere(t, dst, bucket, map[string][]byte{"1.0": v1, "2.0": v2})
}
