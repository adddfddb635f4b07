package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
)

// NATS JetStream is the reference for the site-to-site relay: three
// nats-server processes on 127.0.0.1..3 forming one cluster, a stream with
// three replicas in file storage, publishes awaited for their acks, and a
// durable pull consumer with explicit acks. The load uses the native Go
// client (nats.go).

// NATSServer is one nats-server process.
type NATSServer struct {
	env        *Env
	Name, IP   string
	ClientPort int
	RoutePort  int
	DataDir    string
	Config     string // path of the generated configuration
	URL        string // nats://ip:clientport
	Proc       *Proc
}

// NATSCluster is n servers with JetStream.
type NATSCluster struct {
	Servers []*NATSServer
}

// FindNATS locates nats-server: $NATS_SERVER_BIN (only it, when set),
// /usr/bin/nats-server or PATH.
func FindNATS() (string, error) {
	if p := os.Getenv("NATS_SERVER_BIN"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("nats-server: NATS_SERVER_BIN: %w", err)
		}
		return p, nil
	}
	if _, err := os.Stat("/usr/bin/nats-server"); err == nil {
		return "/usr/bin/nats-server", nil
	}
	if p, err := exec.LookPath("nats-server"); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("nats-server not found (apt-get install -y nats-server, or set NATS_SERVER_BIN)")
}

// NATSVersion is what `nats-server --version` prints.
func NATSVersion() string {
	p, err := FindNATS()
	if err != nil {
		return ""
	}
	out, err := exec.Command(p, "--version").Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// StartNATS starts an n-server JetStream cluster on 127.0.0.1..n with
// file storage under the run directory and waits until every server
// answers. JetStream's defaults are kept (in v2.9: messages are written to
// the store file as they arrive and fsynced every 2 minutes); the only
// setting changed is max_payload, so that 1 MiB flowfiles with a header
// fit in one message.
//
// Ports are picked free and then handed to nats-server, so another process
// (a concurrently running test package) can take one in between; a start
// that fails on a taken port is retried with fresh ports.
func (e *Env) StartNATS(n int) (*NATSCluster, error) {
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		var c *NATSCluster
		c, err = e.startNATS(n, attempt)
		if err == nil {
			return c, nil
		}
		c.Stop()
		if !strings.Contains(err.Error(), "address already in use") {
			return nil, err
		}
	}
	return nil, err
}

func (e *Env) startNATS(n, attempt int) (*NATSCluster, error) {
	bin, err := FindNATS()
	if err != nil {
		return nil, err
	}
	c := &NATSCluster{}
	for i := 1; i <= n; i++ {
		ip := fmt.Sprintf("127.0.0.%d", i)
		s := &NATSServer{env: e, Name: fmt.Sprintf("n%d", i), IP: ip}
		for _, p := range []*int{&s.ClientPort, &s.RoutePort} {
			if *p, err = FreePort(ip); err != nil {
				return c, err
			}
		}
		if s.DataDir, err = e.Dir(fmt.Sprintf("nats-%s-%d", s.Name, attempt)); err != nil {
			return c, err
		}
		s.URL = fmt.Sprintf("nats://%s:%d", ip, s.ClientPort)
		c.Servers = append(c.Servers, s)
	}
	for _, s := range c.Servers {
		var routes []string
		for _, o := range c.Servers {
			if o != s {
				routes = append(routes, fmt.Sprintf("nats-route://%s:%d", o.IP, o.RoutePort))
			}
		}
		conf := fmt.Sprintf(`server_name: %s
listen: %s:%d
max_payload: 8MB
jetstream {
  store_dir: %q
}
cluster {
  name: weirbench
  listen: %s:%d
  routes: [%s]
}
`, s.Name, s.IP, s.ClientPort, s.DataDir, s.IP, s.RoutePort, strings.Join(routes, ", "))
		s.Config = filepath.Join(s.DataDir, "nats.conf")
		if err := os.WriteFile(s.Config, []byte(conf), 0o644); err != nil {
			return c, err
		}
		if s.Proc, err = e.Start(ProcSpec{Name: fmt.Sprintf("nats-%s-%d", s.Name, attempt), Bin: bin, Args: []string{"-c", s.Config}}); err != nil {
			return c, err
		}
	}
	for _, s := range c.Servers {
		err := poll(30*time.Second, 20*time.Millisecond, func() (bool, error) {
			if s.Proc.Exited() {
				return false, fmt.Errorf("nats-server %s exited: %s", s.Name, s.Proc.Tail(2000))
			}
			nc, err := nats.Connect(s.URL, nats.Timeout(time.Second))
			if err != nil {
				return false, err
			}
			nc.Close()
			return true, nil
		})
		if err != nil {
			return c, err
		}
	}
	return c, nil
}

// Stop terminates every server.
func (c *NATSCluster) Stop() {
	if c == nil {
		return
	}
	for _, s := range c.Servers {
		if s.Proc != nil {
			s.Proc.Terminate()
		}
	}
}

// Connect opens a client connection to server i (mod the cluster size).
func (c *NATSCluster) Connect(i int) (*nats.Conn, error) {
	s := c.Servers[i%len(c.Servers)]
	return nats.Connect(s.URL, nats.Name(fmt.Sprintf("weirbench-%d", i)), nats.Timeout(10*time.Second),
		nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
}

// NATSStream names the stream and the durable consumer the benchmarks use.
const (
	NATSStream   = "S2S"
	NATSSubject  = "s2s.in"
	NATSConsumer = "pull"
)

// CreateS2SStream creates the stream (three replicas, file storage, work
// queue retention: an acked message is deleted, as an acked flowfile is)
// and its durable pull consumer with explicit acks, retrying while the
// cluster elects its JetStream meta leader, and waits until both have a
// leader with every replica current.
func (c *NATSCluster) CreateS2SStream(ctx context.Context, replicas int) error {
	nc, err := c.Connect(0)
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := nc.JetStream(nats.MaxWait(10 * time.Second))
	if err != nil {
		return err
	}
	err = poll(60*time.Second, 100*time.Millisecond, func() (bool, error) {
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		_, err := js.AddStream(&nats.StreamConfig{Name: NATSStream, Subjects: []string{NATSSubject},
			Storage: nats.FileStorage, Replicas: replicas, Retention: nats.WorkQueuePolicy})
		if errors.Is(err, nats.ErrStreamNameAlreadyInUse) {
			err = nil
		}
		return err == nil, err
	})
	if err != nil {
		return fmt.Errorf("create stream: %w", err)
	}
	err = poll(60*time.Second, 100*time.Millisecond, func() (bool, error) {
		_, err := js.AddConsumer(NATSStream, &nats.ConsumerConfig{Durable: NATSConsumer,
			AckPolicy: nats.AckExplicitPolicy, DeliverPolicy: nats.DeliverAllPolicy,
			AckWait: 30 * time.Second, MaxAckPending: 1 << 20})
		if errors.Is(err, nats.ErrConsumerNameAlreadyInUse) {
			err = nil
		}
		return err == nil, err
	})
	if err != nil {
		return fmt.Errorf("create consumer: %w", err)
	}
	current := func(ci *nats.ClusterInfo) error {
		if ci == nil || ci.Leader == "" {
			return errors.New("no leader yet")
		}
		if len(ci.Replicas) != replicas-1 {
			return fmt.Errorf("%d replicas besides the leader, want %d", len(ci.Replicas), replicas-1)
		}
		for _, r := range ci.Replicas {
			if !r.Current || r.Offline {
				return fmt.Errorf("replica %s not current", r.Name)
			}
		}
		return nil
	}
	return poll(60*time.Second, 100*time.Millisecond, func() (bool, error) {
		si, err := js.StreamInfo(NATSStream)
		if err != nil {
			return false, err
		}
		if err := current(si.Cluster); err != nil {
			return false, fmt.Errorf("stream: %w", err)
		}
		ci, err := js.ConsumerInfo(NATSStream, NATSConsumer)
		if err != nil {
			return false, err
		}
		if err := current(ci.Cluster); err != nil {
			return false, fmt.Errorf("consumer: %w", err)
		}
		return true, nil
	})
}
