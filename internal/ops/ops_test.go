package ops_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/weir-nifi/weir/internal/adminauth"
	"github.com/weir-nifi/weir/internal/daemon"
	"github.com/weir-nifi/weir/internal/ops"
)

type node struct {
	t    *testing.T
	base string
	hc   *http.Client
}

// start runs a real single node in process and waits until it takes writes.
func start(t *testing.T) *node {
	t.Helper()
	d, err := daemon.Start(daemon.Config{Listen: "127.0.0.1:0", RaftListen: "127.0.0.1:0", DataDir: t.TempDir(),
		ClusterKey: testKey, UnsafeNoSync: true}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = d.Shutdown(ctx)
	})
	n := &node{t: t, base: "http://" + d.Addr(), hc: &http.Client{Timeout: time.Minute}}
	deadline := time.Now().Add(60 * time.Second)
	for {
		if st, _, _ := n.do("GET", "/nifi-registry-api/actuator/health/leader", ""); st == 200 {
			return n
		}
		if time.Now().After(deadline) {
			t.Fatal("node never became leader")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

const testKey = "0123456789abcdef0123"

func (n *node) do(method, path, body string) (int, http.Header, string) {
	n.t.Helper()
	req, err := http.NewRequest(method, n.base+path, strings.NewReader(body))
	if err != nil {
		n.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	// Operations need proof of the cluster key (package adminauth).
	req.Header.Set("Authorization", "Bearer "+adminauth.Token([]byte(testKey)))
	resp, err := n.hc.Do(req)
	if err != nil {
		return 0, nil, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

func TestHealthShape(t *testing.T) {
	n := start(t)
	st, hdr, body := n.do("GET", "/nifi-registry-api/actuator/health", "")
	if st != 200 || hdr.Get("Content-Type") != "application/json" {
		t.Fatalf("health: %d %s", st, body)
	}
	var h struct {
		Status     string `json:"status"`
		Components map[string]struct {
			Status  string          `json:"status"`
			Details json.RawMessage `json:"details"`
		} `json:"components"`
	}
	if err := json.Unmarshal([]byte(body), &h); err != nil {
		t.Fatal(err)
	}
	if h.Status != "UP" {
		t.Fatalf("status %q: %s", h.Status, body)
	}
	for _, c := range []string{"cluster", "storage", "maintenance", "backup"} {
		if h.Components[c].Status != "UP" {
			t.Errorf("component %s: %+v", c, h.Components[c])
		}
	}
	var cd ops.ClusterDetails
	if err := json.Unmarshal(h.Components["cluster"].Details, &cd); err != nil {
		t.Fatal(err)
	}
	if cd.Role != "leader" || cd.Leader != cd.NodeID || !cd.HasQuorum || len(cd.Members) != 1 || len(cd.Zones) != 1 {
		t.Fatalf("cluster details %+v", cd)
	}
	for path, want := range map[string]string{
		"/liveness":  `{"status":"UP"}`,
		"/readiness": `{"status":"UP","details":{"lag":`,
	} {
		if st, _, body := n.do("GET", "/nifi-registry-api/actuator/health"+path, ""); st != 200 || !strings.HasPrefix(body, want) {
			t.Errorf("%s: %d %s", path, st, body)
		}
	}
	if st, _, body := n.do("GET", "/nifi-registry-api/actuator/health/storage", ""); st != 200 || !strings.Contains(body, `"counts"`) {
		t.Errorf("storage: %d %s", st, body)
	}
	if st, _, body := n.do("GET", "/nifi-registry-api/actuator/health/nope", ""); st != 404 || !strings.Contains(body, "No health component") {
		t.Errorf("unknown component: %d %s", st, body)
	}
}

func TestMaintenanceSwitch(t *testing.T) {
	n := start(t)
	const m = "/nifi-registry-api/actuator/maintenance"
	for body, want := range map[string]string{
		"":                  "Maintenance request cannot be null",
		`{"reason":"x"}`:    `must say "enabled"`,
		`{"enabled":"yes"}`: "field 'enabled' must not be a JSON string",
		`{"enabled":true`:   "Unable to parse maintenance request",
		`{"enabled":true,"reason":"` + strings.Repeat("r", 1001) + `"}`: "at most 1000 characters",
	} {
		st, _, got := n.do("POST", m, body)
		if st != 400 || !strings.Contains(got, want) {
			t.Errorf("POST %.40q: %d %q, want 400 with %q", body, st, got, want)
		}
	}
	if st, _, body := n.do("POST", "/nifi-registry-api/buckets", `{"name":"before"}`); st != 200 {
		t.Fatalf("write before maintenance: %d %s", st, body)
	}
	st, _, body := n.do("POST", m, `{"enabled":true,"reason":"upgrading storage","by":"alice"}`)
	if st != 200 {
		t.Fatalf("on: %d %s", st, body)
	}
	var on ops.MaintenanceStatus
	if err := json.Unmarshal([]byte(body), &on); err != nil {
		t.Fatal(err)
	}
	if !on.Enabled || on.Reason != "upgrading storage" || on.By != "alice" || on.Since == 0 || len(on.AppliedOn) != 1 || len(on.Pending) != 0 {
		t.Fatalf("on answer %+v", on)
	}
	// Writes refused with NiFi's text/plain error, Retry-After and the reason.
	for _, w := range [][3]string{
		{"POST", "/nifi-registry-api/buckets", `{"name":"during"}`},
		{"PUT", "/nifi-registry-api/buckets/x", `{"name":"y"}`},
		{"DELETE", "/nifi-registry-api/buckets/x?version=0", ""},
	} {
		st, hdr, body := n.do(w[0], w[1], w[2])
		if st != 503 || hdr.Get("Retry-After") == "" || hdr.Get("Content-Type") != "text/plain" ||
			!strings.Contains(body, "maintenance mode") || !strings.Contains(body, "upgrading storage") {
			t.Errorf("%s %s in maintenance: %d %v %q", w[0], w[1], st, hdr, body)
		}
	}
	if st, _, body := n.do("GET", "/nifi-registry-api/buckets", ""); st != 200 || !strings.Contains(body, `"before"`) {
		t.Fatalf("read in maintenance: %d %s", st, body)
	}
	// Health shows it without turning unhealthy.
	st, _, body = n.do("GET", "/nifi-registry-api/actuator/health", "")
	if st != 200 || !strings.Contains(body, `"maintenance":{"status":"READ_ONLY","details":{"enabled":true,"reason":"upgrading storage"`) ||
		!strings.Contains(body, `"by":"alice"`) {
		t.Fatalf("health in maintenance: %d %s", st, body)
	}
	// "on" again keeps the original time and operator.
	st, _, body = n.do("POST", m, `{"enabled":true,"by":"bob"}`)
	var again ops.MaintenanceStatus
	_ = json.Unmarshal([]byte(body), &again)
	if st != 200 || again.Since != on.Since || again.By != "alice" {
		t.Fatalf("repeated on: %d %s", st, body)
	}
	st, _, body = n.do("POST", m, `{"enabled":false,"by":"carol"}`)
	if st != 200 || !strings.Contains(body, `"enabled":false`) || !strings.Contains(body, `"by":"carol"`) {
		t.Fatalf("off: %d %s", st, body)
	}
	if st, _, body := n.do("POST", "/nifi-registry-api/buckets", `{"name":"after"}`); st != 200 {
		t.Fatalf("write after maintenance: %d %s", st, body)
	}
	if st, _, body := n.do("GET", m, ""); st != 200 || !strings.Contains(body, `"enabled":false`) {
		t.Fatalf("status: %d %s", st, body)
	}
}
