package bench

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// The web UI's heaviest pages for the largest flow of the corpus
// (../shared/testdata/flows): one version's page (the process-group
// tree) and the diff page of two versions of it. Each iteration is one
// GET from a client on loopback to an in-process server, so the figure
// is the server's whole work for the page (the in-process API reads,
// decoding, layout, template) plus loopback; bytes/page is the HTML.
//
//	go test ./bench -run '^$' -bench UIPage -benchtime 50x

// largestFlow is the biggest snapshot or flow definition of the corpus.
func largestFlow(b *testing.B) (string, map[string]any) {
	b.Helper()
	files, _ := filepath.Glob(filepath.Join("..", "..", "shared", "testdata", "flows", "*.json"))
	var best string
	var size int64
	var doc map[string]any
	for _, f := range files {
		st, err := os.Stat(f)
		if err != nil || st.Size() <= size {
			continue
		}
		raw, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		var m map[string]any
		if json.Unmarshal(raw, &m) != nil || m["flowContents"] == nil {
			continue // a storage wrapper, not a snapshot
		}
		best, size, doc = f, st.Size(), m
	}
	if doc == nil {
		if os.Getenv("CI") == "true" {
			b.Fatal("no flow corpus in ../shared/testdata/flows")
		}
		b.Skip("no flow corpus in ../shared/testdata/flows")
	}
	return filepath.Base(best), doc
}

// changeFlow makes a second version: every processor's first property
// changed in the first group that has processors, one processor removed,
// one added.
func changeFlow(doc map[string]any) {
	var walk func(g map[string]any) bool
	walk = func(g map[string]any) bool {
		if ps, _ := g["processors"].([]any); len(ps) > 1 {
			for _, p := range ps {
				if props, _ := p.(map[string]any)["properties"].(map[string]any); len(props) > 0 {
					props[slices.Sorted(maps.Keys(props))[0]] = "changed by the benchmark"
				}
			}
			added := map[string]any{}
			for k, v := range ps[0].(map[string]any) {
				added[k] = v
			}
			added["identifier"], added["name"] = "0a1b2c3d-0000-4000-8000-00000000bbbb", "Added by the benchmark"
			g["processors"] = append(ps[1:], added)
			return true
		}
		for _, sub := range asList(g["processGroups"]) {
			if walk(sub.(map[string]any)) {
				return true
			}
		}
		return false
	}
	walk(doc["flowContents"].(map[string]any))
}

func asList(v any) []any { l, _ := v.([]any); return l }

func benchUIPage(b *testing.B, page func(bucket, flow string) string) {
	name, doc := largestFlow(b)
	_, api := startInProcess(b)
	post := func(path string, v any) map[string]any {
		body, _ := json.Marshal(v)
		resp, err := http.Post(api.Base+path, "application/json", bytes.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			b.Fatalf("POST %s: %d %s", path, resp.StatusCode, raw)
		}
		var out map[string]any
		_ = json.Unmarshal(raw, &out)
		return out
	}
	bucket := post("/nifi-registry-api/buckets", map[string]any{"name": "ui-bench"})["identifier"].(string)
	flow := post("/nifi-registry-api/buckets/"+bucket+"/flows", map[string]any{"name": name})["identifier"].(string)
	for i := 1; i <= 2; i++ {
		if i == 2 {
			changeFlow(doc)
		}
		doc["snapshotMetadata"] = map[string]any{"version": -1, "comments": fmt.Sprint("v", i)}
		post("/nifi-registry-api/buckets/"+bucket+"/flows/"+flow+"/versions", doc)
	}
	url := api.Base + page(bucket, flow)
	var n int
	b.ResetTimer()
	for b.Loop() {
		resp, err := http.Get(url)
		if err != nil {
			b.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatalf("%s: %d %s", url, resp.StatusCode, body)
		}
		n = len(body)
	}
	b.ReportMetric(float64(n), "bytes/page")
	b.Logf("%s (%s)", url, name)
}

func BenchmarkUIPageVersion(b *testing.B) {
	benchUIPage(b, func(bucket, flow string) string {
		return "/nifi-registry/buckets/" + bucket + "/flows/" + flow + "/versions/2"
	})
}

func BenchmarkUIPageDiff(b *testing.B) {
	benchUIPage(b, func(bucket, flow string) string {
		return "/nifi-registry/buckets/" + bucket + "/flows/" + flow + "/diff?a=1&b=2"
	})
}
