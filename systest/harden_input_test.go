package systest

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/weir-nifi/weir/internal/harness"
)

// Regressions for the hardening issue: inputs a client can send that used
// to stop nodes or change the wrong thing. Each test fails on the code
// before the fix (checked against that build with WEIR_BINARY).

// TestHardenPoisonPillPreserveEmptyID: POST /buckets?preserveSourceProperties
// with an empty identifier was committed to the log, failed in Apply
// ("key required"), and every node exited with 70, again on every restart.
// Now the request is refused, and the ids a client picks that the state
// machine could not store never reach it.
func TestHardenPoisonPillPreserveEmptyID(t *testing.T) {
	c := harness.StartCluster(t, harness.ClusterOptions{N: 3, Zones: zones3})
	h0 := c.MustConverge()
	leader := c.MustLeader()
	var follower *harness.Node
	for _, n := range c.Nodes {
		if n != leader {
			follower = n
			break
		}
	}
	bodies := []string{
		`{"identifier":"","name":"x"}`,
		`{"identifier":"   ","name":"x"}`,
		`{"identifier":"..","name":"x"}`,
		`{"identifier":"a/b","name":"x"}`,
		`{"identifier":"` + strings.Repeat("i", 40000) + `","name":"x"}`,
		`{"identifier":"ok-id","name":"` + strings.Repeat("n", 40000) + `"}`,
	}
	for _, n := range []*harness.Node{leader, follower} {
		for _, b := range bodies {
			st, _, msg := req(t, n, "POST", "/nifi-registry-api/buckets?preserveSourceProperties=true", b)
			if st != http.StatusBadRequest {
				t.Errorf("%s: %.60s: got %d %q, want 400", n.Opts.ID, b, st, msg)
			}
		}
		for _, b := range []string{`{"identifier":"","name":"f"}`, `{"identifier":"..","name":"f"}`} {
			st, _, msg := req(t, n, "POST", "/nifi-registry-api/buckets/no-such-bucket/flows", b)
			if st != http.StatusBadRequest {
				t.Errorf("%s: flow %s: got %d %q, want 400", n.Opts.ID, b, st, msg)
			}
		}
	}
	time.Sleep(500 * time.Millisecond) // let any entry that slipped through reach every node
	c.CheckAlive()
	if h := c.MustConverge(); h != h0 {
		t.Fatalf("refused requests changed the state: %s -> %s", h0, h)
	}
	// The cluster still takes writes, and survives a restart of every node
	// (a committed poison entry would stop them again while replaying).
	if st, _, msg := req(t, follower, "POST", "/nifi-registry-api/buckets", `{"name":"after"}`); st != 200 {
		t.Fatalf("write after refusals: %d %s", st, msg)
	}
	c.RestartAll()
	if _, err := c.WaitLeader(60 * time.Second); err != nil {
		t.Fatal(err)
	}
	c.MustConverge()
	c.CheckAlive()
}

// TestHardenDotSegmentsNotRedirected: DELETE /buckets/{b}/flows/.. was
// answered 307 to /buckets/{b}; a client that follows redirects (Go's
// http.Client, curl -L) then deleted the bucket.
func TestHardenDotSegmentsNotRedirected(t *testing.T) {
	n := harness.StartNode(t, harness.Options{})
	if err := n.WaitReady(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	st, _, body := req(t, n, "POST", "/nifi-registry-api/buckets", `{"name":"keep-me"}`)
	if st != 200 {
		t.Fatalf("create bucket: %d %s", st, body)
	}
	b := jsonField(t, body, "identifier")
	for _, seg := range []string{"..", ".", "%2e%2e", "%2E%2E", "%2e"} {
		for _, p := range []string{"/nifi-registry-api/buckets/" + b + "/flows/" + seg, "/nifi-registry-api/buckets/" + b + "/flows/" + seg + "/"} {
			// req's client follows redirects, as most clients do.
			st, _, msg := req(t, n, "DELETE", p, "")
			if st != http.StatusBadRequest {
				t.Errorf("DELETE %s: %d %q, want 400", p, st, msg)
			}
		}
	}
	if st, _, body := req(t, n, "GET", "/nifi-registry-api/buckets/"+b, ""); st != 200 {
		t.Fatalf("the bucket is gone after DELETEs of its flows/..: %d %s", st, body)
	}
}

// TestHardenInvalidUTF8Refused: invalid UTF-8 inside a flow document was
// stored and served back as invalid JSON; in names it was silently
// replaced. Every such request is now refused with 400 and changes nothing.
func TestHardenInvalidUTF8Refused(t *testing.T) {
	n := harness.StartNode(t, harness.Options{})
	if err := n.WaitReady(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	st, _, body := req(t, n, "POST", "/nifi-registry-api/buckets", `{"name":"utf8"}`)
	if st != 200 {
		t.Fatalf("create bucket: %d %s", st, body)
	}
	b := jsonField(t, body, "identifier")
	st, _, body = req(t, n, "POST", "/nifi-registry-api/buckets/"+b+"/flows", `{"name":"f"}`)
	if st != 200 {
		t.Fatalf("create flow: %d %s", st, body)
	}
	f := jsonField(t, body, "identifier")
	l0, err := n.Local()
	if err != nil {
		t.Fatal(err)
	}
	bad := "caf\xe9 \xff\xfe"
	for _, c := range []struct{ method, path, body string }{
		{"POST", "/nifi-registry-api/buckets", `{"name":"` + bad + `"}`},
		{"PUT", "/nifi-registry-api/buckets/" + b, `{"name":"` + bad + `"}`},
		{"POST", "/nifi-registry-api/buckets/" + b + "/flows", `{"name":"` + bad + `"}`},
		{"POST", "/nifi-registry-api/buckets/" + b + "/flows/" + f + "/versions",
			`{"snapshotMetadata":{"version":-1,"comments":"c"},"flowContents":{"identifier":"pg","name":"` + bad + `"}}`},
		{"POST", "/nifi-registry-api/buckets/" + b + "/flows/" + f + "/versions",
			`{"snapshotMetadata":{"version":-1,"comments":"` + bad + `"},"flowContents":{"identifier":"pg","name":"ok"}}`},
		{"POST", "/nifi-registry-api/buckets?name=%FF", `{"name":"q"}`},
	} {
		st, _, msg := req(t, n, c.method, c.path, c.body)
		if st != http.StatusBadRequest {
			t.Errorf("%s %s with invalid UTF-8: %d %q, want 400", c.method, c.path, st, msg)
		}
	}
	l1, err := n.Local()
	if err != nil {
		t.Fatal(err)
	}
	if l1.StateHash != l0.StateHash {
		t.Fatal("a refused request changed the state")
	}
}

func jsonField(t *testing.T, body, field string) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Fatalf("%s: %v", body, err)
	}
	s, _ := m[field].(string)
	return s
}
