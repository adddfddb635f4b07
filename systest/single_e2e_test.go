package systest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/weir-nifi/weir/internal/harness"
)

// singleHTTP talks to a node the way NiFi's Jersey client does: JSON
// bodies sent with Transfer-Encoding: chunked, Accept: application/json.
type singleHTTP struct {
	t    testing.TB
	base string // http://host:port
	hc   *http.Client
	// stale sends X-Weir-Consistency: stale with reads (local reads).
	stale bool
}

type singleAnswer struct {
	status int
	header http.Header
	body   []byte
}

func (a *singleAnswer) String() string {
	b := a.body
	if len(b) > 400 {
		b = b[:400]
	}
	return fmt.Sprintf("%d %s", a.status, b)
}

// send makes one request. A body goes out chunked (no Content-Length),
// as NiFi sends it.
func (c *singleHTTP) send(method, path string, body []byte, hdr http.Header) (*singleAnswer, error) {
	var rd io.Reader
	if body != nil {
		rd = io.NopCloser(bytes.NewReader(body))
	}
	req, err := http.NewRequest(method, c.base+"/nifi-registry-api"+path, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.ContentLength = -1
		req.TransferEncoding = []string{"chunked"}
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if c.stale && method == "GET" {
		req.Header.Set("X-Weir-Consistency", "stale")
	}
	for k, vs := range hdr {
		req.Header[k] = vs
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	return &singleAnswer{status: resp.StatusCode, header: resp.Header, body: b}, nil
}

// must sends a request and requires the status; the answer's JSON is
// decoded into out when out is not nil.
func (c *singleHTTP) must(method, path string, body []byte, hdr http.Header, status int, out any) *singleAnswer {
	c.t.Helper()
	a, err := c.send(method, path, body, hdr)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	if a.status != status {
		c.t.Fatalf("%s %s: %s, want %d", method, path, a, status)
	}
	if out != nil {
		if err := json.Unmarshal(a.body, out); err != nil {
			c.t.Fatalf("%s %s: decode: %v", method, path, err)
		}
	}
	return a
}

// Wire shapes the test reads.
type (
	e2eBucket struct {
		Identifier string `json:"identifier"`
		Name       string `json:"name"`
	}
	e2eFlow struct {
		Identifier       string `json:"identifier"`
		BucketIdentifier string `json:"bucketIdentifier"`
		Name             string `json:"name"`
		VersionCount     int64  `json:"versionCount"`
	}
	e2eMetadata struct {
		BucketIdentifier string `json:"bucketIdentifier"`
		FlowIdentifier   string `json:"flowIdentifier"`
		Version          int    `json:"version"`
		Author           string `json:"author"`
		Comments         string `json:"comments"`
		Timestamp        int64  `json:"timestamp"`
	}
	e2eSnapshot struct {
		SnapshotMetadata e2eMetadata     `json:"snapshotMetadata"`
		Flow             *e2eFlow        `json:"flow"`
		Bucket           *e2eBucket      `json:"bucket"`
		FlowContents     json.RawMessage `json:"flowContents"`
	}
	e2eDiff struct {
		BucketID string            `json:"bucketId"`
		FlowID   string            `json:"flowId"`
		VersionA int               `json:"versionA"`
		VersionB int               `json:"versionB"`
		Groups   []json.RawMessage `json:"componentDifferenceGroups"`
	}
)

// e2eContents is the process group of version v: a processor whose
// scheduling period changes from version to version, so every pair of
// versions has a difference to report.
func e2eContents(v int) string {
	return fmt.Sprintf(`{"componentType":"PROCESS_GROUP","connections":[],"controllerServices":[],"funnels":[],`+
		`"identifier":"e2e-root","inputPorts":[],"labels":[],"name":"E2E flow","outputPorts":[],`+
		`"position":{"x":0.0,"y":0.0},"processGroups":[],"processors":[{"autoTerminatedRelationships":["success"],`+
		`"bundle":{"artifact":"nifi-standard-nar","group":"org.apache.nifi","version":"2.7.2"},"componentType":"PROCESSOR",`+
		`"groupIdentifier":"e2e-root","identifier":"e2e-proc","name":"Generate","position":{"x":10.0,"y":10.0},`+
		`"properties":{"File Size":"%d B"},"scheduledState":"ENABLED","schedulingPeriod":"%d sec","schedulingStrategy":"TIMER_DRIVEN",`+
		`"type":"org.apache.nifi.processors.standard.GenerateFlowFile"}],"remoteProcessGroups":[]}`, v*100, v)
}

// TestSingleE2ENiFiFlow plays, against the real binary, the calls NiFi
// makes when a user puts a process group under version control, commits
// several versions, changes version, compares versions, exports and
// imports, and stops version control; then the CLI's bucket delete.
func TestSingleE2ENiFiFlow(t *testing.T) {
	t0 := time.Now()
	n := harness.StartNode(t, harness.Options{ID: "e2e"})
	if err := n.WaitReady(60 * time.Second); err != nil {
		t.Fatal(err)
	}
	c := &singleHTTP{t: t, base: n.API, hc: &http.Client{Timeout: 60 * time.Second}}

	// NiFi lists buckets for the "Start version control" dialog.
	var buckets []e2eBucket
	c.must("GET", "/buckets", nil, nil, 200, &buckets)

	// An operator creates the bucket (UI or CLI).
	var b e2eBucket
	c.must("POST", "/buckets", []byte(`{"name":"E2E Bucket","description":"NiFi end to end"}`), nil, 200, &b)
	if b.Identifier == "" || b.Name != "E2E Bucket" {
		t.Fatalf("bucket %+v", b)
	}
	bp := "/buckets/" + b.Identifier

	// NiFi 2.x pre-checks the name, then registers the flow with the
	// fields its VersionedFlow carries (zero timestamps, type, count).
	var flows []e2eFlow
	c.must("GET", bp+"/flows", nil, nil, 200, &flows)
	for _, f := range flows {
		if f.Name == "E2E Flow" {
			t.Fatalf("name already taken: %+v", f)
		}
	}
	var f e2eFlow
	c.must("POST", bp+"/flows", []byte(`{"bucketIdentifier":"`+b.Identifier+`","createdTimestamp":0,"description":"Put under version control by NiFi",`+
		`"modifiedTimestamp":0,"name":"E2E Flow","type":"Flow","versionCount":0}`), nil, 200, &f)
	if f.Identifier == "" || f.BucketIdentifier != b.Identifier || f.VersionCount != 0 {
		t.Fatalf("flow %+v", f)
	}
	fp := bp + "/flows/" + f.Identifier
	// The name pre-check now sees it.
	c.must("GET", bp+"/flows", nil, nil, 200, &flows)
	if len(flows) != 1 || flows[0].Identifier != f.Identifier {
		t.Fatalf("flows after create: %+v", flows)
	}

	// Commit versions 1..N: odd ones with the explicit next number (NiFi
	// 1.x and a normal 2.x commit), even ones with -1 (2.x FORCE_COMMIT).
	// The body carries flow and bucket objects, which the registry ignores.
	const N = 6
	for v := 1; v <= N; v++ {
		sent := v
		if v%2 == 0 {
			sent = -1
		}
		body := fmt.Sprintf(`{"bucket":{"identifier":%q,"name":"E2E Bucket"},"externalControllerServices":{},`+
			`"flow":{"identifier":%q,"name":"E2E Flow","bucketIdentifier":%q,"type":"Flow","versionCount":%d},`+
			`"flowContents":%s,"flowEncodingVersion":"1.0","parameterContexts":{},"parameterProviders":{},`+
			`"snapshotMetadata":{"bucketIdentifier":%q,"flowIdentifier":%q,"version":%d,"comments":"version %d","timestamp":0}}`,
			b.Identifier, f.Identifier, b.Identifier, v-1, e2eContents(v), b.Identifier, f.Identifier, sent, v)
		var s e2eSnapshot
		c.must("POST", fp+"/versions", []byte(body), nil, 200, &s)
		// What NiFi reads from the answer to build the coordinates.
		if s.Flow == nil || s.Flow.VersionCount != int64(v) || s.Flow.Identifier != f.Identifier || s.Flow.BucketIdentifier != b.Identifier {
			t.Fatalf("commit %d: flow %+v", v, s.Flow)
		}
		if s.SnapshotMetadata.Version != v || s.SnapshotMetadata.Author != "anonymous" || len(s.FlowContents) == 0 || s.Bucket == nil {
			t.Fatalf("commit %d: %+v", v, s.SnapshotMetadata)
		}
	}

	// Latest and every version by number.
	var latest e2eSnapshot
	c.must("GET", fp+"/versions/latest", nil, nil, 200, &latest)
	if latest.SnapshotMetadata.Version != N || !sameJSON(latest.FlowContents, e2eContents(N)) {
		t.Fatalf("latest: %+v", latest.SnapshotMetadata)
	}
	for v := 1; v <= N; v++ {
		var s e2eSnapshot
		c.must("GET", fp+fmt.Sprintf("/versions/%d", v), nil, nil, 200, &s)
		if s.SnapshotMetadata.Version != v || s.SnapshotMetadata.Comments != fmt.Sprintf("version %d", v) || !sameJSON(s.FlowContents, e2eContents(v)) {
			t.Fatalf("version %d: %+v", v, s.SnapshotMetadata)
		}
	}

	// The version list, newest first.
	var list []e2eMetadata
	c.must("GET", fp+"/versions", nil, nil, 200, &list)
	if len(list) != N {
		t.Fatalf("%d versions listed, want %d", len(list), N)
	}
	for i, m := range list {
		if m.Version != N-i || m.FlowIdentifier != f.Identifier || m.BucketIdentifier != b.Identifier || m.Timestamp <= 0 {
			t.Fatalf("list[%d] = %+v", i, m)
		}
	}

	// NiFi's periodic sync reads versionCount as the latest version.
	var got e2eFlow
	c.must("GET", fp, nil, nil, 200, &got)
	if got.VersionCount != N {
		t.Fatalf("versionCount %d, want %d", got.VersionCount, N)
	}

	// Change version (and revert) is a GET by number; NiFi computes
	// "latest" from flow.versionCount in the answer.
	var older e2eSnapshot
	c.must("GET", fp+"/versions/2", nil, nil, 200, &older)
	if older.SnapshotMetadata.Version != 2 || older.Flow == nil || older.Flow.VersionCount != N {
		t.Fatalf("change version: %+v %+v", older.SnapshotMetadata, older.Flow)
	}

	// Diff (the CLI's diff-flow-versions); the order of the numbers does
	// not matter.
	var d e2eDiff
	c.must("GET", fp+fmt.Sprintf("/diff/%d/1", N), nil, nil, 200, &d)
	if d.VersionA != 1 || d.VersionB != N || d.FlowID != f.Identifier || d.BucketID != b.Identifier || len(d.Groups) == 0 {
		t.Fatalf("diff: %+v", d)
	}

	// Export, then import the file: 201 and the new version's Location.
	exp := c.must("GET", fp+fmt.Sprintf("/versions/%d/export", N), nil, nil, 200, nil)
	if fn := exp.header.Get("Filename"); fn != fmt.Sprintf("E2E-Flow-version-%d.json", N) {
		t.Errorf("export Filename %q", fn)
	}
	imp := c.must("POST", fp+"/versions/import", exp.body, http.Header{"Comments": {"re-imported"}}, 201, nil)
	var imported e2eSnapshot
	if err := json.Unmarshal(imp.body, &imported); err != nil {
		t.Fatal(err)
	}
	if imported.SnapshotMetadata.Version != N+1 || imported.SnapshotMetadata.Comments != "re-imported" || !sameJSON(imported.FlowContents, e2eContents(N)) {
		t.Fatalf("import: %+v", imported.SnapshotMetadata)
	}
	loc, err := url.Parse(imp.header.Get("Location"))
	if err != nil || !strings.HasSuffix(loc.Path, fmt.Sprintf("%s/versions/%d", fp, N+1)) || loc.Host != strings.TrimPrefix(n.API, "http://") {
		t.Fatalf("import Location %q", imp.header.Get("Location"))
	}
	var byLoc e2eSnapshot
	c.must("GET", strings.TrimPrefix(loc.Path, "/nifi-registry-api"), nil, nil, 200, &byLoc)
	if byLoc.SnapshotMetadata.Version != N+1 {
		t.Fatalf("GET Location: %+v", byLoc.SnapshotMetadata)
	}

	// Stop version control: NiFi deletes the flow without a version
	// parameter; then the CLI deletes the bucket, also without one.
	c.must("DELETE", fp, nil, nil, 200, nil)
	c.must("GET", fp, nil, nil, 404, nil)
	c.must("GET", "/flows/"+f.Identifier, nil, nil, 404, nil)
	c.must("DELETE", bp, nil, nil, 200, nil)
	c.must("GET", bp, nil, nil, 404, nil)
	c.must("GET", "/buckets", nil, nil, 200, &buckets)
	for _, x := range buckets {
		if x.Identifier == b.Identifier {
			t.Fatalf("deleted bucket still listed")
		}
	}
	t.Logf("end to end: %.2fs", time.Since(t0).Seconds())
}

// sameJSON compares a JSON answer with a JSON text by meaning.
func sameJSON(got json.RawMessage, want string) bool {
	var a, b any
	if json.Unmarshal(got, &a) != nil || json.Unmarshal([]byte(want), &b) != nil {
		return false
	}
	ab, _ := json.Marshal(a)
	bb, _ := json.Marshal(b)
	return bytes.Equal(ab, bb)
}
