package systest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/weir-nifi/weir/internal/client"
	"github.com/weir-nifi/weir/internal/flowgen"
	"github.com/weir-nifi/weir/internal/harness"
	"github.com/weir-nifi/weir/internal/model"
)

// migrationDocs are the real NiFi flows of ../shared/testdata/flows that
// are snapshots or flow definitions (the storage-wrapped ones unwrapped),
// or generated flows when the corpus is absent.
func migrationDocs(t *testing.T) [][]byte {
	t.Helper()
	var docs [][]byte
	files, _ := filepath.Glob(filepath.Join("..", "..", "shared", "testdata", "flows", "*.json"))
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(raw, &m); err != nil {
			continue
		}
		if c, ok := m["content"]; ok {
			var w struct {
				FlowSnapshot map[string]json.RawMessage `json:"flowSnapshot"`
			}
			if json.Unmarshal(c, &w) == nil && w.FlowSnapshot != nil {
				m = w.FlowSnapshot
			}
		}
		if m["flowContents"] == nil {
			continue
		}
		delete(m, "snapshotMetadata")
		delete(m, "bucket")
		delete(m, "flow")
		b, _ := json.Marshal(m)
		docs = append(docs, b)
	}
	if len(docs) == 0 {
		for i := 1; i <= 5; i++ {
			docs = append(docs, flowgen.Snapshot(flowgen.Options{Seed: int64(i), TargetBytes: 16 << 10}))
		}
	}
	return docs
}

// TestOpsMigrateFromWeir seeds a Weir with real flows (several versions
// each, some with preserved authors and past times), runs `weir migrate`
// into a 3-node cluster, compares every listing and version, and runs it a
// second time, which must change nothing.
func TestOpsMigrateFromWeir(t *testing.T) {
	long(t)
	src := harness.StartNode(t, harness.Options{ID: "source"})
	if err := src.WaitReady(60e9); err != nil {
		t.Fatal(err)
	}
	dst := harness.StartCluster(t, harness.ClusterOptions{})
	dleader := dst.MustLeader()
	ctx := ctxT(t)
	sc := client.New(src.API)
	docs := migrationDocs(t)
	var bids []string
	for i := 0; i < 3; i++ {
		b, err := sc.CreateBucket(ctx, model.Bucket{Name: model.Str(fmt.Sprintf("team %d", i)), Description: model.Str("flows of team")}, false)
		if err != nil {
			t.Fatal(err)
		}
		bids = append(bids, *b.Identifier)
	}
	versions := 0
	for i, doc := range docs {
		bid := bids[i%len(bids)]
		f, err := sc.CreateFlow(ctx, bid, model.VersionedFlow{Name: model.Str(fmt.Sprintf("flow %02d", i)), Description: model.Str("migrated")})
		if err != nil {
			t.Fatal(err)
		}
		for v := 1; v <= 1+i%3; v++ {
			var body map[string]json.RawMessage
			_ = json.Unmarshal(doc, &body)
			md := model.SnapshotMetadata{BucketIdentifier: &bid, FlowIdentifier: f.Identifier, Version: int32(v), Comments: model.Str(fmt.Sprintf("change %d", v))}
			preserve := v == 2
			if preserve {
				md.Author, md.Timestamp = model.Str("alice"), 1650000000000+int64(i)
			}
			body["snapshotMetadata"], _ = json.Marshal(md)
			raw, _ := json.Marshal(body)
			if _, err := sc.CommitVersion(ctx, bid, *f.Identifier, raw, preserve); err != nil {
				t.Fatalf("seed %d v%d: %v", i, v, err)
			}
			versions++
		}
	}
	out, stderr, err := weirCLI(t, "migrate", "--from", src.API, "--server", dst.Nodes[1].API)
	if err != nil {
		t.Fatalf("weir migrate: %v\n%s\n%s", err, out, stderr)
	}
	t.Logf("first run (%d flows, %d versions):\n%s", len(docs), versions, out)
	if !strings.Contains(out, fmt.Sprintf("versions: %d copied, 0 already there", versions)) {
		t.Fatalf("first run: %s", out)
	}
	hash := dst.MustConverge()
	compareRegistries(t, sc, client.New(dleader.API))

	out, stderr, err = weirCLI(t, "migrate", "--from", src.API, "--server", dst.Nodes[2].API, "-q")
	if err != nil {
		t.Fatalf("second weir migrate: %v\n%s\n%s", err, out, stderr)
	}
	if !strings.Contains(out, "buckets:  0 created") || !strings.Contains(out, "flows:    0 created") ||
		!strings.Contains(out, fmt.Sprintf("versions: 0 copied, %d already there", versions)) {
		t.Fatalf("second run changed something:\n%s", out)
	}
	if h := dst.MustConverge(); h != hash {
		t.Fatalf("state hash moved from %s to %s on the second run", hash, h)
	}
}

// compareRegistries requires every listing and version document of b to be
// JSON-equal to a's.
func compareRegistries(t *testing.T, a, b *client.Client) {
	t.Helper()
	ctx := ctxT(t)
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
			paths = append(paths, fp, fp+"/versions", "/flows/"+*f.Identifier)
			for v := int64(1); v <= f.VersionCount; v++ {
				paths = append(paths, fmt.Sprintf("%s/versions/%d", fp, v))
			}
		}
	}
	for _, p := range paths {
		x, _, err := a.Do(ctx, "GET", p, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		y, _, err := b.Do(ctx, "GET", p, nil, nil)
		if err != nil {
			t.Fatalf("GET %s on the destination: %v", p, err)
		}
		if !jsonEqual(t, x, y) {
			t.Errorf("GET %s differs:\nsource %.400s\n  dest %.400s", p, x, y)
		}
	}
	t.Logf("%d listings and versions JSON-equal", len(paths))
}

func jsonEqual(t *testing.T, a, b []byte) bool {
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
