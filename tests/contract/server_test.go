package contract

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/weir-nifi/weir/internal/daemon"
)

// testClusterKey is the cluster key of every in-process test server.
const testClusterKey = "0123456789abcdef0123"

// apiBase is NiFi Registry's context path.
const apiBase = "/nifi-registry-api"

// server is a real in-process Weir node and an HTTP client for it.
type server struct {
	t    testing.TB
	srv  *daemon.Server
	base string // http://127.0.0.1:port
	hc   *http.Client
	log  *syncBuffer
}

// syncBuffer collects the server's log; it is shown when a test fails.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startServer starts a single node with the contract configuration; mod
// may change the configuration first (revisions, body limit). It returns
// once the node has a leader and has applied a write.
func startServer(t testing.TB, mod func(*daemon.Config)) *server {
	t.Helper()
	return startServerTLS(t, mod, nil)
}

// startServerTLS is startServer for a node serving HTTPS (mod sets its
// TLS files): the tests call it as the client clientTLS describes.
func startServerTLS(t testing.TB, mod func(*daemon.Config), clientTLS *tls.Config) *server {
	t.Helper()
	cfg := daemon.Config{
		Listen:     "127.0.0.1:0",
		RaftListen: "127.0.0.1:0",
		DataDir:    t.TempDir(),
		ClusterKey: testClusterKey,
	}
	if mod != nil {
		mod(&cfg)
	}
	logs := &syncBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	d, err := daemon.Start(cfg, logger)
	if err != nil {
		t.Fatalf("daemon.Start: %v", err)
	}
	s := &server{t: t, srv: d, base: "http://" + d.Addr(), hc: &http.Client{Timeout: 5 * time.Minute}, log: logs}
	if clientTLS != nil {
		s.base = "https://" + d.Addr()
		s.hc.Transport = &http.Transport{TLSClientConfig: clientTLS}
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := d.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if t.Failed() {
			t.Logf("server log:\n%s", tail(logs.String(), 8000))
		}
	})
	s.waitLeader()
	s.waitRegistered()
	return s
}

// waitRegistered waits until the node has written its own entry in the
// replicated member table (it does so shortly after gaining leadership).
// That write changes the state hash, so the bad-input tests must not start
// before it.
func (s *server) waitRegistered() {
	s.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := s.hc.Get(s.base + "/weir-api/cluster/status")
		if err == nil {
			var st struct {
				Members []struct {
					APIURL string `json:"apiUrl"`
				} `json:"members"`
			}
			derr := json.NewDecoder(resp.Body).Decode(&st)
			resp.Body.Close()
			if derr == nil && len(st.Members) == 1 && st.Members[0].APIURL == s.base {
				return
			}
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("the node never registered its API URL %s", s.base)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitLeader retries a bucket creation until the single node has elected
// itself and applied it (200, or 409 when an earlier try that timed out
// on the client side was applied after all), then deletes the probe
// bucket so tests start from an empty registry.
func (s *server) waitLeader() {
	s.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		r := s.tryDo("POST", "/buckets", []byte(`{"name":"leader-probe","revision":{"version":0}}`), nil)
		if r != nil && (r.status == 200 || r.status == 409) {
			break
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("no leader after 60s: %+v\nlog:\n%s", r, s.log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	var bs []struct {
		Identifier string `json:"identifier"`
		Name       string `json:"name"`
		Revision   struct {
			Version int64 `json:"version"`
		} `json:"revision"`
	}
	s.mustJSON(s.do("GET", "/buckets", nil, nil), &bs)
	for _, b := range bs {
		if b.Name == "leader-probe" {
			s.expect(s.do("DELETE", "/buckets/"+b.Identifier+"?version="+strconv.FormatInt(b.Revision.Version, 10), nil, nil), 200)
		}
	}
}

// response is what the server answered.
type response struct {
	method, path string
	status       int
	header       http.Header
	body         []byte
}

func (r *response) String() string {
	return r.method + " " + r.path + " -> " + http.StatusText(r.status) + " " + string(truncate(r.body, 600))
}

// tryDo sends a request to an API path; nil when the transport failed.
func (s *server) tryDo(method, path string, body []byte, hdr http.Header) *response {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, s.base+apiBase+path, rd)
	if err != nil {
		s.t.Fatalf("request %s %s: %v", method, path, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, vs := range hdr {
		req.Header[k] = vs
	}
	resp, err := s.hc.Do(req)
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil
	}
	return &response{method: method, path: path, status: resp.StatusCode, header: resp.Header, body: b}
}

// do sends a request and fails the test when the transport fails.
func (s *server) do(method, path string, body []byte, hdr http.Header) *response {
	s.t.Helper()
	r := s.tryDo(method, path, body, hdr)
	if r == nil {
		s.t.Fatalf("%s %s: transport failure", method, path)
	}
	return r
}

// expect fails the test unless r has the status.
func (s *server) expect(r *response, status int) *response {
	s.t.Helper()
	if r.status != status {
		s.t.Fatalf("want %d: %s", status, r)
	}
	return r
}

func (s *server) mustJSON(r *response, v any) {
	s.t.Helper()
	if r.status/100 != 2 {
		s.t.Fatalf("unexpected answer: %s", r)
	}
	if err := json.Unmarshal(r.body, v); err != nil {
		s.t.Fatalf("%s %s: decode: %v\n%s", r.method, r.path, err, truncate(r.body, 600))
	}
}

// stateHash is the node's hash over every replicated table
// (GET /weir-api/cluster/local).
func (s *server) stateHash() string {
	s.t.Helper()
	resp, err := s.hc.Get(s.base + "/weir-api/cluster/local")
	if err != nil {
		s.t.Fatalf("local status: %v", err)
	}
	defer resp.Body.Close()
	var l struct {
		StateHash string `json:"stateHash"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&l); err != nil || l.StateHash == "" {
		s.t.Fatalf("local status: %v %+v", err, l)
	}
	return l.StateHash
}

// ---- small helpers

func truncate(b []byte, n int) []byte {
	if len(b) <= n {
		return b
	}
	return append(append([]byte(nil), b[:n]...), "…"...)
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

// obj decodes a JSON object answer into a generic map.
func obj(t testing.TB, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("not a JSON object: %v\n%s", err, truncate(b, 400))
	}
	return m
}

// str returns m[k] as a string ("" when absent or not a string).
func str(m map[string]any, k string) string {
	s, _ := m[k].(string)
	return s
}

// num returns m[k] as a number (-1 when absent or not a number).
func num(m map[string]any, k string) float64 {
	f, ok := m[k].(float64)
	if !ok {
		return -1
	}
	return f
}

// sub returns m[k] as an object (nil when absent).
func sub(m map[string]any, k string) map[string]any {
	o, _ := m[k].(map[string]any)
	return o
}

// jsonBody marshals v for a request body.
func jsonBody(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func isText(h http.Header) bool {
	return strings.HasPrefix(h.Get("Content-Type"), "text/plain")
}
