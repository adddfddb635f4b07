package migrate

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/weir-nifi/weir/internal/client"
	"github.com/weir-nifi/weir/internal/daemon"
	"github.com/weir-nifi/weir/internal/flowgen"
	"github.com/weir-nifi/weir/internal/model"
)

func startNode(t *testing.T) (*daemon.Server, *client.Client) {
	t.Helper()
	d, err := daemon.Start(daemon.Config{Listen: "127.0.0.1:0", RaftListen: "127.0.0.1:0", DataDir: t.TempDir(),
		ClusterKey: "0123456789abcdef0123", UnsafeNoSync: true}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = d.Shutdown(ctx)
	})
	c := client.New("http://" + d.Addr())
	deadline := time.Now().Add(60 * time.Second)
	for !d.Node().IsLeader() {
		if time.Now().After(deadline) {
			t.Fatal("no leader")
		}
		time.Sleep(10 * time.Millisecond)
	}
	return d, c
}

// flowDocs returns snapshot documents: the real NiFi flows in
// ../shared/testdata/flows when present, generated ones otherwise.
func flowDocs(t *testing.T) [][]byte {
	t.Helper()
	var docs [][]byte
	files, _ := filepath.Glob("../../../shared/testdata/flows/*.json")
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if doc, err := unwrapSnapshot(raw); err == nil {
			raw = doc
		}
		var probe map[string]json.RawMessage
		if json.Unmarshal(raw, &probe) == nil && probe["flowContents"] != nil {
			docs = append(docs, raw)
		}
	}
	if len(docs) == 0 {
		for i := 1; i <= 4; i++ {
			docs = append(docs, flowgen.Snapshot(flowgen.Options{Seed: int64(i), TargetBytes: 8 << 10 * i}))
		}
	}
	return docs
}

// seed fills a registry: buckets with descriptions, flows with several
// versions, some committed with preserved authors and past timestamps.
func seed(t *testing.T, c *client.Client) {
	t.Helper()
	ctx := context.Background()
	docs := flowDocs(t)
	var bids []string
	for i := 0; i < 2; i++ {
		b, err := c.CreateBucket(ctx, model.Bucket{Name: model.Str(fmt.Sprintf("bucket %d", i)), Description: model.Str("desc")}, false)
		if err != nil {
			t.Fatal(err)
		}
		bids = append(bids, *b.Identifier)
	}
	for i, doc := range docs {
		bid := bids[i%2]
		f, err := c.CreateFlow(ctx, bid, model.VersionedFlow{Name: model.Str(fmt.Sprintf("flow %02d", i)), Description: model.Str("a flow")})
		if err != nil {
			t.Fatal(err)
		}
		for v := 1; v <= 1+i%3; v++ {
			var body map[string]json.RawMessage
			if err := json.Unmarshal(doc, &body); err != nil {
				t.Fatal(err)
			}
			md := model.SnapshotMetadata{BucketIdentifier: &bid, FlowIdentifier: f.Identifier, Version: int32(v),
				Comments: model.Str(fmt.Sprintf("version %d of flow %d", v, i))}
			preserve := v%2 == 0
			if preserve {
				md.Author = model.Str("alice")
				md.Timestamp = int64(1600000000000 + i*1000 + v)
			}
			body["snapshotMetadata"], _ = json.Marshal(md)
			delete(body, "bucket")
			delete(body, "flow")
			raw, _ := json.Marshal(body)
			if _, err := c.CommitVersion(ctx, bid, *f.Identifier, raw, preserve); err != nil {
				t.Fatalf("commit %d/%d: %v", i, v, err)
			}
		}
	}
}

func get(t *testing.T, c *client.Client, path string) any {
	t.Helper()
	b, _, err := c.Do(context.Background(), http.MethodGet, path, nil, nil)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

// sameRegistry compares every listing and every version document.
func sameRegistry(t *testing.T, a, b *client.Client) int {
	t.Helper()
	ctx := context.Background()
	paths := []string{"/buckets", "/items"}
	bs, err := a.Buckets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, bk := range bs {
		bid := *bk.Identifier
		paths = append(paths, "/buckets/"+bid, "/buckets/"+bid+"/flows", "/items/"+bid)
		fs, err := a.Flows(ctx, bid)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range fs {
			fp := "/buckets/" + bid + "/flows/" + *f.Identifier
			paths = append(paths, fp, fp+"/versions", fp+"/versions/latest/metadata")
			for v := int64(1); v <= f.VersionCount; v++ {
				paths = append(paths, fmt.Sprintf("%s/versions/%d", fp, v))
			}
		}
	}
	for _, p := range paths {
		if x, y := get(t, a, p), get(t, b, p); !reflect.DeepEqual(x, y) {
			t.Errorf("GET %s differs:\n source %.600v\n   dest %.600v", p, x, y)
		}
	}
	return len(paths)
}

func TestMigrateFromWeir(t *testing.T) {
	_, src := startNode(t)
	dstSrv, dst := startNode(t)
	seed(t, src)
	ctx := context.Background()
	res, err := Migrate(ctx, src, dst, nil)
	if err != nil || len(res.Errors) > 0 {
		t.Fatalf("migrate: %v %+v", err, res)
	}
	if res.BucketsCreated != 2 || res.VersionsCopied == 0 || res.VersionsExisting != 0 {
		t.Fatalf("first run %+v", res)
	}
	n := sameRegistry(t, src, dst)
	t.Logf("%d listings and versions equal; %+v", n, res)

	before, _, _ := dstSrv.Store().StateHash()
	res2, err := Migrate(ctx, src, dst, nil)
	if err != nil || res2.Changed() || res2.VersionsExisting != res.VersionsCopied || len(res2.Errors) > 0 {
		t.Fatalf("second run changed something: %v %+v", err, res2)
	}
	if after, _, _ := dstSrv.Store().StateHash(); after != before {
		t.Fatalf("state hash moved from %s to %s on a second run", before, after)
	}
}

// TestMigrateResumes interrupts a run after its first version commits (a
// destination that starts refusing writes) and completes it with a rerun.
func TestMigrateResumes(t *testing.T) {
	_, src := startNode(t)
	_, dst := startNode(t)
	seed(t, src)
	ctx := context.Background()
	// The state an interrupted run leaves: the first bucket, and one flow
	// with only its first version (each step is one atomic write).
	bs, _ := src.Buckets(ctx)
	b := bs[0]
	if _, err := dst.CreateBucket(ctx, b, true); err != nil {
		t.Fatal(err)
	}
	fs, _ := src.Flows(ctx, *b.Identifier)
	var multi model.VersionedFlow
	for _, f := range fs {
		if f.VersionCount > 1 {
			multi = f
		}
	}
	if multi.Identifier == nil {
		t.Fatal("seed has no flow with several versions")
	}
	tg := &target{c: dst, buckets: map[string]model.Bucket{}, names: map[string]string{}, res: &Result{}, p: nopProgress{}}
	d, err := tg.ensureFlow(ctx, *b.Identifier, multi, nil)
	if err != nil {
		t.Fatal(err)
	}
	v1, _ := src.Version(ctx, *b.Identifier, *multi.Identifier, 1)
	metas, _ := src.Versions(ctx, *b.Identifier, *multi.Identifier)
	sort.Slice(metas, func(i, j int) bool { return metas[i].Version < metas[j].Version })
	if err := tg.copyVersions(ctx, *b.Identifier, *multi.Identifier, d, []version{{meta: metas[0], body: func(context.Context) ([]byte, error) { return v1, nil }}}); err != nil {
		t.Fatal(err)
	}
	res, err := Migrate(ctx, src, dst, nil)
	if err != nil || len(res.Errors) > 0 {
		t.Fatalf("resume: %v %+v", err, res)
	}
	if res.BucketsExisting != 1 || res.FlowsExisting != 1 || res.VersionsExisting != 1 {
		t.Fatalf("resume should have found the partial copy: %+v", res)
	}
	sameRegistry(t, src, dst)
}

func git(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=gitter", "GIT_AUTHOR_EMAIL=g@x", "GIT_COMMITTER_NAME=gitter",
		"GIT_COMMITTER_EMAIL=g@x", "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_SYSTEM=/dev/null")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// model3 and model2 wrap a snapshot as NiFi Registry's storage does.
func model3(doc []byte) string {
	return `{"header":{"dataModelVersion":"3"},"content":{"flowSnapshot":` + string(doc) + `}}`
}

func model2(doc []byte) string {
	var d struct {
		FlowContents json.RawMessage `json:"flowContents"`
	}
	_ = json.Unmarshal(doc, &d)
	return `{"header":{"dataModelVersion":"2"},"content":` + string(d.FlowContents) + `}`
}

// gitRepo builds a flow storage repository the way NiFi Registry commits
// to it: three commits; flow f1 reaches version 3, flow f2 is deleted in
// the last commit, and a second bucket holds a data model 2 flow.
func gitRepo(t *testing.T) (string, [][]byte) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	dir := t.TempDir()
	git(t, dir, "init", "-q")
	docs := make([][]byte, 4)
	for i := range docs {
		docs[i] = flowgen.Snapshot(flowgen.Options{Seed: int64(100 + i), TargetBytes: 6 << 10})
	}
	ya := func(flows string) string {
		return "flows:\n" + flows + "layoutVer: 1\nbucketId: 0b5c9a0e-aaaa-4bbb-8ccc-000000000001\n"
	}
	write(t, filepath.Join(dir, "Team_A", "bucket.yml"), ya(
		"  f1-id: {ver: 1, file: Flow_One.snapshot, comments: first cut, author: alice, created: 1600000000001,\n    flowName: Flow One, flowDesc: the first\n      flow}\n"))
	write(t, filepath.Join(dir, "Team_A", "Flow_One.snapshot"), model3(docs[0]))
	write(t, filepath.Join(dir, "Team_B", "bucket.yml"),
		"flows:\n  f3-id: {ver: 1, file: Old.snapshot, comments: '', author: dave, created: 1600000000100, flowName: Old}\nlayoutVer: 1\nbucketId: 0b5c9a0e-aaaa-4bbb-8ccc-000000000002\n")
	write(t, filepath.Join(dir, "Team_B", "Old.snapshot"), model2(docs[3]))
	git(t, dir, "add", "-A")
	git(t, dir, "commit", "-q", "-m", "v1")
	write(t, filepath.Join(dir, "Team_A", "bucket.yml"), ya(
		"  f1-id: {ver: 2, file: Flow_One.snapshot, comments: second, author: bob, created: 1600000000002, flowName: Flow One}\n"+
			"  f2-id: {ver: 1, file: Doomed.snapshot, comments: '', author: bob, created: 1600000000003, flowName: Doomed}\n"))
	write(t, filepath.Join(dir, "Team_A", "Flow_One.snapshot"), model3(docs[1]))
	write(t, filepath.Join(dir, "Team_A", "Doomed.snapshot"), model3(docs[3]))
	git(t, dir, "add", "-A")
	git(t, dir, "commit", "-q", "-m", "v2")
	write(t, filepath.Join(dir, "Team_A", "bucket.yml"), ya(
		"  f1-id: {ver: 3, file: Flow_One.snapshot, author: carol, created: 1600000000004, flowName: Flow One Renamed}\n"))
	write(t, filepath.Join(dir, "Team_A", "Flow_One.snapshot"), model3(docs[2]))
	git(t, dir, "rm", "-q", filepath.Join("Team_A", "Doomed.snapshot"))
	git(t, dir, "add", "-A")
	git(t, dir, "commit", "-q", "-m", "v3")
	return dir, docs
}

func TestImportGitHistory(t *testing.T) {
	dir, docs := gitRepo(t)
	srv, dst := startNode(t)
	ctx := context.Background()
	res, err := ImportGit(ctx, dir, dst, nil, GitOptions{})
	if err != nil || len(res.Errors) > 0 {
		t.Fatalf("import: %v %+v", err, res)
	}
	if res.BucketsCreated != 2 || res.FlowsCreated != 2 || res.VersionsCopied != 4 {
		t.Fatalf("import %+v", res)
	}
	const bA = "0b5c9a0e-aaaa-4bbb-8ccc-000000000001"
	f, err := dst.Flow(ctx, "f1-id")
	if err != nil || *f.Name != "Flow One Renamed" || *f.BucketIdentifier != bA || f.VersionCount != 3 ||
		f.CreatedTimestamp != 1600000000001 || f.ModifiedTimestamp != 1600000000004 {
		t.Fatalf("flow %+v %v", f, err)
	}
	if _, err := dst.Flow(ctx, "f2-id"); client.StatusOf(err) != 404 {
		t.Fatalf("a flow deleted in the history was imported: %v", err)
	}
	b, err := dst.Bucket(ctx, bA)
	if err != nil || *b.Name != "Team_A" {
		t.Fatalf("bucket %+v %v", b, err)
	}
	vs, _ := dst.Versions(ctx, bA, "f1-id")
	want := map[int32][2]string{1: {"alice", "first cut"}, 2: {"bob", "second"}, 3: {"carol", ""}}
	times := map[int32]int64{1: 1600000000001, 2: 1600000000002, 3: 1600000000004}
	for _, v := range vs {
		w := want[v.Version]
		if model.Deref(v.Author) != w[0] || model.Deref(v.Comments) != w[1] || v.Timestamp != times[v.Version] {
			t.Errorf("version %d: author %q comments %q time %d", v.Version, model.Deref(v.Author), model.Deref(v.Comments), v.Timestamp)
		}
	}
	for i, v := range []int{1, 2, 3} {
		raw, err := dst.Version(ctx, bA, "f1-id", v)
		if err != nil {
			t.Fatal(err)
		}
		if !sameJSON(t, field(t, raw, "flowContents"), field(t, docs[i], "flowContents")) {
			t.Errorf("version %d content differs from the file committed for it", v)
		}
	}
	raw, err := dst.Version(ctx, "0b5c9a0e-aaaa-4bbb-8ccc-000000000002", "f3-id", 1)
	if err != nil || !sameJSON(t, field(t, raw, "flowContents"), field(t, docs[3], "flowContents")) {
		t.Fatalf("data model 2 flow: %v", err)
	}
	before, _, _ := srv.Store().StateHash()
	res2, err := ImportGit(ctx, dir, dst, nil, GitOptions{})
	if err != nil || res2.Changed() {
		t.Fatalf("second import changed something: %v %+v", err, res2)
	}
	if after, _, _ := srv.Store().StateHash(); after != before {
		t.Fatal("state hash moved on a second import")
	}
}

func TestImportGitWorkingTree(t *testing.T) {
	dir, _ := gitRepo(t)
	_, dst := startNode(t)
	ctx := context.Background()
	res, err := ImportGit(ctx, dir, dst, nil, GitOptions{WorkingTreeOnly: true})
	if err != nil || len(res.Errors) != 1 || !strings.Contains(res.Errors[0], "contiguous") {
		t.Fatalf("want f1 (only version 3 on disk) refused: %v %+v", err, res)
	}
	res, err = ImportGit(ctx, dir, dst, nil, GitOptions{WorkingTreeOnly: true, Renumber: true})
	if err != nil || len(res.Errors) > 0 || res.VersionsCopied != 1 {
		t.Fatalf("renumbered import: %v %+v", err, res)
	}
	vs, _ := dst.Versions(ctx, "0b5c9a0e-aaaa-4bbb-8ccc-000000000001", "f1-id")
	if len(vs) != 1 || vs[0].Version != 1 || model.Deref(vs[0].Author) != "carol" {
		t.Fatalf("versions %+v", vs)
	}
}

func TestParseBucketYML(t *testing.T) {
	// The bucket.yml of a real NiFi Registry git storage (SnakeYAML's
	// flow style with folded lines).
	y, err := parseBucketYML([]byte("flows:\n  1681a7e6-fdfe-4956-9ce1-6c9302f3b32f: {ver: 2, file: FHIR_Bundle_Enrichment.snapshot,\n    comments: '', author: anonymous, created: 1607044301835, flowName: FHIR Bundle\n      Enrichment, flowDesc: Alvearie Enrichment pipeline - this flow will enrich a\n      FHIR bundle in various ways}\nlayoutVer: 1\nbucketId: c601a7b4-f047-461e-ac13-2f140f8fb9b2"))
	if err != nil {
		t.Fatal(err)
	}
	f := y.Flows["1681a7e6-fdfe-4956-9ce1-6c9302f3b32f"]
	if y.BucketID != "c601a7b4-f047-461e-ac13-2f140f8fb9b2" || f.Ver != 2 || f.File != "FHIR_Bundle_Enrichment.snapshot" ||
		f.FlowName != "FHIR Bundle Enrichment" || *f.FlowDesc != "Alvearie Enrichment pipeline - this flow will enrich a FHIR bundle in various ways" ||
		f.Created != 1607044301835 || *f.Comments != "" || f.Author != "anonymous" {
		t.Fatalf("%+v %+v", y, f)
	}
	if _, err := parseBucketYML([]byte("layoutVer: 2\nbucketId: x\nflows: {}\n")); err == nil {
		t.Fatal("a newer layout was accepted")
	}
}

func field(t *testing.T, raw []byte, name string) json.RawMessage {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m[name]
}

func sameJSON(t *testing.T, a, b []byte) bool {
	t.Helper()
	dec := func(x []byte) any {
		d := json.NewDecoder(bytes.NewReader(x))
		d.UseNumber()
		var v any
		if err := d.Decode(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	return reflect.DeepEqual(dec(a), dec(b))
}
