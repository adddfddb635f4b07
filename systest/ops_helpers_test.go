package systest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/weir-nifi/weir/internal/adminauth"
	"github.com/weir-nifi/weir/internal/client"
	"github.com/weir-nifi/weir/internal/harness"
	"github.com/weir-nifi/weir/internal/model"
)

// weirCLI runs the weir binary with args and returns stdout, stderr and
// the error (non-nil for a non-zero exit).
func weirCLI(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	if len(args) > 1 && (args[0] == "maintenance" && args[1] != "status" || args[0] == "backup" && args[1] != "verify") {
		// Operations need the cluster key (the test cluster's).
		args = append(args, "--cluster-key", harness.TestKey)
	}
	cmd := exec.Command(harness.Binary(t), args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	return out.String(), errb.String(), err
}

var opsHTTP = &http.Client{Timeout: 30 * time.Second}

// req sends one request to a node's API and returns status, headers and body.
func req(t *testing.T, n *harness.Node, method, path, body string) (int, http.Header, string) {
	t.Helper()
	r, err := http.NewRequest(method, n.API+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	// The tests act as the operator: operations (maintenance, backups,
	// ?recompute) need proof of the cluster key. The other endpoints
	// ignore it; anonReq sends none.
	r.Header.Set("Authorization", "Bearer "+adminauth.Token([]byte(harness.TestKey)))
	resp, err := opsHTTP.Do(r)
	if err != nil {
		return 0, nil, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// health fetches an actuator health path and decodes its status.
func health(t *testing.T, n *harness.Node, sub string) (int, string, string) {
	t.Helper()
	st, _, body := req(t, n, "GET", "/nifi-registry-api/actuator/health"+sub, "")
	var h struct {
		Status string `json:"status"`
	}
	_ = json.Unmarshal([]byte(body), &h)
	return st, h.Status, body
}

// eventually polls fn until it returns nil or the timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, fn func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := fn()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still not true after %v: %v", what, timeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }

func ctxT(t *testing.T) context.Context { return harness.Context(t) }

// sameSnapshotDoc compares two version documents without their "flow"
// object, whose versionCount and modified time move with later commits.
func sameSnapshotDoc(t *testing.T, a, b []byte) bool {
	t.Helper()
	dec := func(x []byte) map[string]any {
		d := json.NewDecoder(bytes.NewReader(x))
		d.UseNumber()
		var v map[string]any
		if err := d.Decode(&v); err != nil {
			t.Fatal(err)
		}
		delete(v, "flow")
		return v
	}
	return reflect.DeepEqual(dec(a), dec(b))
}

// bucketWithFlows creates a bucket named name holding n flows and returns
// their identifiers.
func bucketWithFlows(t *testing.T, c *client.Client, name string, n int) (string, []string) {
	t.Helper()
	ctx := ctxT(t)
	b, err := c.CreateBucket(ctx, model.Bucket{Name: model.Str(name)}, false)
	if err != nil {
		t.Fatal(err)
	}
	var flows []string
	for i := 0; i < n; i++ {
		f, err := c.CreateFlow(ctx, *b.Identifier, model.VersionedFlow{Name: model.Str(fmt.Sprintf("flow-%d", i))})
		if err != nil {
			t.Fatal(err)
		}
		flows = append(flows, *f.Identifier)
	}
	return *b.Identifier, flows
}

// signedHeader signs r with the test cluster's key and returns the header
// (to send the same signature more than once).
func signedHeader(t *testing.T, r *http.Request) string {
	t.Helper()
	adminauth.Sign([]byte(harness.TestKey), r, nil)
	return r.Header.Get(adminauth.Header)
}

func readAll(resp *http.Response) string {
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
