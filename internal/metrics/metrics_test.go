package metrics_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/weir-nifi/weir/internal/adminauth"
	"github.com/weir-nifi/weir/internal/daemon"
	"github.com/weir-nifi/weir/internal/metrics/promtext"
)

func TestScrape(t *testing.T) {
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
	base := "http://" + d.Addr() + "/nifi-registry-api"
	hc := &http.Client{Timeout: time.Minute}
	call := func(method, path, body string) int {
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+adminauth.Token([]byte("0123456789abcdef0123")))
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	deadline := time.Now().Add(60 * time.Second)
	for call("POST", "/buckets", `{"name":"m1"}`) != 200 {
		if time.Now().After(deadline) {
			t.Fatal("no write accepted")
		}
		time.Sleep(20 * time.Millisecond)
	}
	call("GET", "/buckets/no-such-bucket", "")
	call("GET", "/buckets/another-missing-one", "")
	call("POST", "/actuator/maintenance", `{"enabled":true,"reason":"m"}`)
	call("GET", "/actuator/backup", "")

	resp, err := hc.Get(base + "/actuator/prometheus")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	fams, err := promtext.Parse(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	count := func(name string, labels map[string]string) float64 {
		n, err := fams.Sum(name, labels)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	// Both misses are one series: the route pattern, not the path.
	if n := count("weir_http_requests_total", map[string]string{"route": "/nifi-registry-api/buckets/{bucketId}", "method": "GET", "code": "404"}); n != 2 {
		t.Errorf("404s on /buckets/{bucketId}: %v", n)
	}
	if n := count("weir_http_request_duration_seconds", map[string]string{"route": "/nifi-registry-api/buckets", "method": "POST", "code": "200"}); n < 1 {
		t.Errorf("latency samples of POST /buckets: %v", n)
	}
	if n := count("weir_commit_duration_seconds", map[string]string{"result": "ok"}); n < 2 {
		t.Errorf("commit samples: %v", n)
	}
	if n := count("weir_maintenance_enabled", nil); n != 1 {
		t.Errorf("maintenance gauge %v", n)
	}
	if n := count("weir_backups_total", map[string]string{"kind": "download", "result": "ok"}); n != 1 {
		t.Errorf("downloaded backups %v", n)
	}
	if n := count("weir_backup_last_size_bytes", nil); n <= 0 {
		t.Errorf("backup size %v", n)
	}
	if n := count("weir_raft_leader", nil); n != 1 {
		t.Errorf("leader gauge %v", n)
	}
	if n := count("weir_raft_leader_changes_total", nil); n < 1 {
		t.Errorf("leader changes %v", n)
	}
	if n := count("weir_registry_buckets", nil); n != 1 {
		t.Errorf("buckets gauge %v", n)
	}
	for _, name := range []string{"weir_raft_apply_lag_entries", "weir_raft_snapshot_age_seconds", "weir_store_size_bytes", "go_goroutines"} {
		if fams[name] == nil {
			t.Errorf("no metric %s", name)
		}
	}
}
