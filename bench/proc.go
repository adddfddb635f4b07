package bench

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/weir-nifi/weir/internal/freeport"
)

// Env is one benchmark run: where its temporary files go, which binaries
// it runs, and what must be stopped at the end. Every process it starts is
// killed by Close, and also dies with the calling process (Pdeathsig), so
// an interrupted run leaves nothing behind.
type Env struct {
	// Work is the run's temporary directory; Close removes it unless Keep.
	Work string
	Keep bool
	// WeirBin is the weir binary; BuildWeir fills it in when empty.
	WeirBin string
	// SelfBin runs `serve-files` (cmd/weirbench); the file server is a
	// process of its own so that it does not share a Go runtime with the
	// load generator.
	SelfBin string
	// PGBin is PostgreSQL's bin directory (initdb, postgres).
	PGBin string
	// EtcdBin is the etcd server binary.
	EtcdBin string
	// Logf reports progress (nil: silent).
	Logf func(format string, args ...any)

	mu       sync.Mutex
	cleanups []func()
}

// NewEnv makes a run directory under the system temp dir.
func NewEnv() (*Env, error) {
	dir, err := os.MkdirTemp("", "weirbench-")
	if err != nil {
		return nil, err
	}
	// postgres runs as its own user and must be able to reach its data
	// directory below this one.
	_ = os.Chmod(dir, 0o755)
	return &Env{Work: dir}, nil
}

func (e *Env) logf(format string, args ...any) {
	if e.Logf != nil {
		e.Logf(format, args...)
	}
}

// OnClose registers fn to run at Close (last registered runs first).
func (e *Env) OnClose(fn func()) {
	e.mu.Lock()
	e.cleanups = append(e.cleanups, fn)
	e.mu.Unlock()
}

// Close stops everything the run started and removes its directory.
func (e *Env) Close() {
	e.mu.Lock()
	fns := e.cleanups
	e.cleanups = nil
	e.mu.Unlock()
	for i := len(fns) - 1; i >= 0; i-- {
		fns[i]()
	}
	if !e.Keep {
		_ = os.RemoveAll(e.Work)
	}
}

// Dir makes a new directory in the run directory.
func (e *Env) Dir(prefix string) (string, error) {
	d, err := os.MkdirTemp(e.Work, prefix+"-")
	if err != nil {
		return "", err
	}
	return d, os.Chmod(d, 0o755)
}

// ModuleRoot is the directory of the go.mod enclosing the working
// directory.
func ModuleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	p := strings.TrimSpace(string(out))
	if p == "" || p == os.DevNull {
		return "", errors.New("not inside the weir module (run from the repository)")
	}
	return filepath.Dir(p), nil
}

// BuildWeir builds cmd/weir into the run directory unless WeirBin is set
// (WEIR_BINARY is honoured by callers that want a prebuilt binary).
func (e *Env) BuildWeir() error {
	if e.WeirBin != "" {
		return nil
	}
	p, err := e.build("./cmd/weir", "weir")
	e.WeirBin = p
	return err
}

// BuildSelf builds cmd/weirbench unless SelfBin is set.
func (e *Env) BuildSelf() error {
	if e.SelfBin != "" {
		return nil
	}
	p, err := e.build("./bench/cmd/weirbench", "weirbench")
	e.SelfBin = p
	return err
}

func (e *Env) build(pkg, name string) (string, error) {
	root, err := ModuleRoot()
	if err != nil {
		return "", err
	}
	out := filepath.Join(e.Work, "bin", name)
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s: %v\n%s", pkg, err, b)
	}
	return out, nil
}

// Proc is a child process whose output goes to a log file.
type Proc struct {
	Name    string
	LogPath string
	cmd     *exec.Cmd
	done    chan struct{}
	mu      sync.Mutex
	exited  bool
	state   *os.ProcessState
}

// ProcSpec describes a process to start.
type ProcSpec struct {
	Name string
	Bin  string
	Args []string
	Env  []string
	Dir  string
	// Cred runs the process as another user (PostgreSQL refuses root).
	Cred *syscall.Credential
	// Log is the log file (appended to); default <work>/<name>.log.
	Log string
}

// Start launches a process; Close kills it.
func (e *Env) Start(s ProcSpec) (*Proc, error) {
	logPath := s.Log
	if logPath == "" {
		logPath = filepath.Join(e.Work, s.Name+".log")
	}
	lf, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(s.Bin, s.Args...)
	cmd.Stdout, cmd.Stderr = lf, lf
	cmd.Dir = s.Dir
	cmd.Env = append(os.Environ(), s.Env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Credential: s.Cred}
	if err := cmd.Start(); err != nil {
		lf.Close()
		return nil, fmt.Errorf("start %s: %w", s.Name, err)
	}
	p := &Proc{Name: s.Name, LogPath: logPath, cmd: cmd, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		lf.Close()
		p.mu.Lock()
		p.exited, p.state = true, cmd.ProcessState
		p.mu.Unlock()
		close(p.done)
	}()
	e.OnClose(p.Kill)
	return p, nil
}

// PID is the process id.
func (p *Proc) PID() int { return p.cmd.Process.Pid }

// Exited reports whether the process has ended.
func (p *Proc) Exited() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.exited
}

// Done is closed when the process has ended.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Kill sends SIGKILL and waits for the exit.
func (p *Proc) Kill() { p.stop(syscall.SIGKILL, 10*time.Second) }

// Terminate sends SIGTERM and waits up to 30 s before killing.
func (p *Proc) Terminate() { p.stop(syscall.SIGTERM, 30*time.Second) }

func (p *Proc) stop(sig syscall.Signal, wait time.Duration) {
	if p.Exited() {
		return
	}
	_ = p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
	case <-time.After(wait):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// Tail returns the last n bytes of the process log, for error messages.
func (p *Proc) Tail(n int) string {
	b, _ := os.ReadFile(p.LogPath)
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// RSS is the resident set size of a process (VmRSS) in bytes.
func RSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest)
			if len(f) < 1 {
				break
			}
			kb, err := strconv.ParseInt(f[0], 10, 64)
			if err != nil {
				return 0, err
			}
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}

// FreePort returns a TCP port that was free on ip at the time of the call.
func FreePort(ip string) (int, error) {
	ps, err := freeport.Ports(ip, 1)
	if err != nil {
		return 0, err
	}
	return ps[0], nil
}

// poll calls fn every interval until it returns true or an error, or the
// timeout passes.
func poll(timeout, interval time.Duration, fn func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	var last error
	for {
		ok, err := fn()
		if ok {
			return nil
		}
		if err != nil {
			last = err
		}
		if time.Now().After(deadline) {
			if last == nil {
				last = errors.New("condition not met")
			}
			return fmt.Errorf("after %v: %w", timeout, last)
		}
		time.Sleep(interval)
	}
}
