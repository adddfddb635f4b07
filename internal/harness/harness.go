package harness

import (
	"context"
	"crypto/x509/pkix"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/weir-nifi/weir/internal/freeport"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", err
	}
	return filepath.Dir(strings.TrimSpace(string(out))), nil
}

// ModuleRoot is the directory of the weir module (the repository root).
func ModuleRoot(t testing.TB) string {
	t.Helper()
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// Binary builds cmd/weir once per test process and returns its path.
// WEIR_BINARY overrides it with a prebuilt binary.
func Binary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("WEIR_BINARY"); p != "" {
		return p
	}
	buildOnce.Do(func() {
		root, err := moduleRoot()
		if err != nil {
			buildErr = err
			return
		}
		dir, err := os.MkdirTemp("", "weir-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "weir")
		cmd := exec.Command("go", "build", "-o", binPath, "./cmd/weir")
		cmd.Dir = root
		if b, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, b)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// FreePort returns a TCP port free on ip at the time of the call.
func FreePort(t testing.TB, ip string) int {
	t.Helper()
	return FreePorts(t, ip, 1)[0]
}

// FreePorts returns n distinct free ports on ip (package freeport).
func FreePorts(t testing.TB, ip string, n int) []int {
	t.Helper()
	ps, err := freeport.Ports(ip, n)
	if err != nil {
		t.Fatal(err)
	}
	return ps
}

// Options describe one node.
type Options struct {
	ID       string
	IP       string // loopback address, e.g. 127.0.0.2 (default 127.0.0.1)
	HTTPPort int    // 0 = pick a free one
	RaftPort int
	DataDir  string // default: a new temp dir
	Zone     string
	Key      string   // cluster key (default: a fixed test key)
	Args     []string // extra flags (e.g. --bootstrap, --join)
	Env      []string
	// TLS makes the node serve HTTPS with a certificate for its IP.
	TLS *NodeTLS
}

// TestKey is the cluster key test nodes share by default.
const TestKey = "weir-test-cluster-key-0123456789"

// Node is a weir process under test.
type Node struct {
	t       testing.TB
	Opts    Options
	API     string // http://ip:port
	Raft    string // ip:port
	LogPath string
	mu      sync.Mutex
	cmd     *exec.Cmd
	done    chan struct{}
}

// NewNode prepares a node without starting it.
func NewNode(t testing.TB, o Options) *Node {
	t.Helper()
	if o.IP == "" {
		o.IP = "127.0.0.1"
	}
	if o.HTTPPort == 0 || o.RaftPort == 0 {
		ps := FreePorts(t, o.IP, 2)
		if o.HTTPPort == 0 {
			o.HTTPPort = ps[0]
		}
		if o.RaftPort == 0 {
			o.RaftPort = ps[1]
		}
	}
	if o.DataDir == "" {
		o.DataDir = t.TempDir()
	}
	if o.Key == "" {
		o.Key = TestKey
	}
	if o.ID == "" {
		o.ID = "n-" + strings.ReplaceAll(o.IP, ".", "-")
	}
	scheme := "http"
	if o.TLS != nil {
		scheme = "https"
	}
	n := &Node{t: t, Opts: o,
		API:     fmt.Sprintf("%s://%s:%d", scheme, o.IP, o.HTTPPort),
		Raft:    fmt.Sprintf("%s:%d", o.IP, o.RaftPort),
		LogPath: filepath.Join(o.DataDir, "..", filepath.Base(o.DataDir)+"-"+o.ID+".log"),
	}
	t.Cleanup(func() { n.Kill() })
	return n
}

// StartNode prepares, starts and waits for a node to serve HTTP.
func StartNode(t testing.TB, o Options) *Node {
	t.Helper()
	n := NewNode(t, o)
	n.Start()
	return n
}

// Start launches the process (after a Kill or Terminate too).
func (n *Node) Start() {
	n.t.Helper()
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd != nil {
		n.t.Fatalf("node %s already running", n.Opts.ID)
	}
	args := []string{"server",
		"--node-id", n.Opts.ID,
		"--data-dir", n.Opts.DataDir,
		"--listen", fmt.Sprintf("%s:%d", n.Opts.IP, n.Opts.HTTPPort),
		"--raft-listen", n.Raft,
		"--cluster-key", n.Opts.Key,
		"--log-level", "info",
	}
	if n.Opts.Zone != "" {
		args = append(args, "--zone", n.Opts.Zone)
	}
	if tl := n.Opts.TLS; tl != nil {
		mode := tl.ClientAuth
		if mode == "" {
			mode = "need"
		}
		cert, key := tl.PKI.WriteFiles(tl.PKI.Issue(pkix.Name{CommonName: n.Opts.IP, OrganizationalUnit: []string{"weir"}},
			[]string{n.Opts.IP}, time.Now().Add(-time.Hour), time.Now().Add(12*time.Hour)), "server-"+n.Opts.ID)
		args = append(args, "--tls-cert", cert, "--tls-key", key, "--tls-ca", tl.PKI.CAFile, "--client-auth", mode)
	}
	args = append(args, n.Opts.Args...)
	logf, err := os.OpenFile(n.LogPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		n.t.Fatal(err)
	}
	cmd := exec.Command(Binary(n.t), args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = append(os.Environ(), n.Opts.Env...)
	if err := cmd.Start(); err != nil {
		logf.Close()
		n.t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); logf.Close(); close(done) }()
	n.cmd, n.done = cmd, done
}

// Running reports whether the process is alive.
func (n *Node) Running() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.cmd != nil
}

// PID is the process id (0 when stopped).
func (n *Node) PID() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil {
		return 0
	}
	return n.cmd.Process.Pid
}

// Kill sends SIGKILL and waits for the process to exit.
func (n *Node) Kill() { n.signalAndWait(syscall.SIGKILL, 10*time.Second) }

// Terminate sends SIGTERM (graceful shutdown) and waits.
func (n *Node) Terminate() { n.signalAndWait(syscall.SIGTERM, 30*time.Second) }

func (n *Node) signalAndWait(sig syscall.Signal, wait time.Duration) {
	n.mu.Lock()
	cmd, done := n.cmd, n.done
	n.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGCONT) // a stopped process cannot exit
	_ = cmd.Process.Signal(sig)
	select {
	case <-done:
	case <-time.After(wait):
		_ = cmd.Process.Kill()
		<-done
	}
	n.mu.Lock()
	n.cmd, n.done = nil, nil
	n.mu.Unlock()
}

// Pause sends SIGSTOP; Resume sends SIGCONT.
func (n *Node) Pause()  { n.signal(syscall.SIGSTOP) }
func (n *Node) Resume() { n.signal(syscall.SIGCONT) }

func (n *Node) signal(sig syscall.Signal) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd != nil {
		_ = n.cmd.Process.Signal(sig)
	}
}

// Wipe deletes the node's data directory (the node must be stopped).
func (n *Node) Wipe() {
	n.t.Helper()
	if n.Running() {
		n.t.Fatal("wipe of a running node")
	}
	if err := os.RemoveAll(n.Opts.DataDir); err != nil {
		n.t.Fatal(err)
	}
}

// Local is a node's own view (GET /weir-api/cluster/local).
type Local struct {
	ID           string `json:"id"`
	State        string `json:"state"`
	Term         uint64 `json:"term"`
	CommitIndex  uint64 `json:"commitIndex"`
	AppliedIndex uint64 `json:"appliedIndex"`
	LeaderID     string `json:"leaderId"`
	StateHash    string `json:"stateHash"`
	HashIndex    uint64 `json:"stateHashIndex"`
}

// Client returns an HTTP client for the node: over TLS with the harness's
// certificate when the node serves HTTPS.
func (n *Node) Client(timeout time.Duration) *http.Client {
	if n.Opts.TLS == nil {
		return &http.Client{Timeout: timeout}
	}
	tl := n.Opts.TLS
	return &http.Client{Timeout: timeout, Transport: &http.Transport{TLSClientConfig: tl.PKI.ClientConfig(tl.Client), ForceAttemptHTTP2: true}}
}

// Local fetches the node's own view.
func (n *Node) Local() (Local, error) {
	var l Local
	resp, err := n.Client(3 * time.Second).Get(n.API + "/weir-api/cluster/local")
	if err != nil {
		return l, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return l, fmt.Errorf("local: %s", resp.Status)
	}
	return l, json.NewDecoder(resp.Body).Decode(&l)
}

// WaitReady waits until the node answers and knows a leader.
func (n *Node) WaitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		l, err := n.Local()
		if err == nil && l.LeaderID != "" {
			return nil
		}
		if err == nil {
			err = fmt.Errorf("no leader known")
		}
		last = err
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("node %s not ready after %v: %v (log %s)", n.Opts.ID, timeout, last, n.LogPath)
}

// Log returns the node's log output so far.
func (n *Node) Log() string {
	b, _ := os.ReadFile(n.LogPath)
	return string(b)
}

// Context returns a context cancelled when the test ends.
func Context(t testing.TB) context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	return ctx
}
