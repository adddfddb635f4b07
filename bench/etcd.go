package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/weir-nifi/weir/internal/freeport"
)

// EtcdMember is one etcd server process. Measured requests go through
// etcd's own Go client (clientv3, gRPC), as etcd's users send them; the
// harness's status checks use the JSON gateway.
type EtcdMember struct {
	env        *Env
	Name, IP   string
	ClientPort int
	PeerPort   int
	DataDir    string
	Cluster    string   // --initial-cluster
	URL        string   // http://ip:clientport
	Args       []string // extra flags (timing)
	Proc       *Proc
}

// Etcd is a cluster of members on 127.0.0.1..n.
type Etcd struct {
	Members []*EtcdMember
}

// FindEtcd locates the etcd binary: $ETCD_BIN, /usr/bin/etcd or PATH.
func FindEtcd() (string, error) {
	for _, p := range []string{os.Getenv("ETCD_BIN"), "/usr/bin/etcd"} {
		if p == "" {
			continue
		}
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	if p, err := exec.LookPath("etcd"); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("etcd not found (apt-get install -y etcd-server, or set ETCD_BIN)")
}

// StartEtcd starts an n-member cluster, with default timing (heartbeat
// 100 ms, election 1000 ms) unless args set it, and waits until it has a
// leader.
func (e *Env) StartEtcd(n int, args ...string) (*Etcd, error) {
	if e.EtcdBin == "" {
		p, err := FindEtcd()
		if err != nil {
			return nil, err
		}
		e.EtcdBin = p
	}
	c := &Etcd{}
	var initial []string
	for i := 1; i <= n; i++ {
		ip := fmt.Sprintf("127.0.0.%d", i)
		ps, err := freeport.Ports(ip, 2)
		if err != nil {
			return nil, err
		}
		cp, pp := ps[0], ps[1]
		dir, err := e.Dir(fmt.Sprintf("etcd%d", i))
		if err != nil {
			return nil, err
		}
		// etcd refuses data directories others can read.
		if err := os.Chmod(dir, 0o700); err != nil {
			return nil, err
		}
		m := &EtcdMember{env: e, Name: fmt.Sprintf("e%d", i), IP: ip, ClientPort: cp, PeerPort: pp, DataDir: dir,
			URL: fmt.Sprintf("http://%s:%d", ip, cp), Args: args}
		c.Members = append(c.Members, m)
		initial = append(initial, fmt.Sprintf("%s=http://%s:%d", m.Name, ip, pp))
	}
	for _, m := range c.Members {
		m.Cluster = strings.Join(initial, ",")
		if err := m.Start(); err != nil {
			return nil, err
		}
	}
	return c, c.WaitHealthy(60 * time.Second)
}

// Start launches the member (again after Kill: the data directory makes
// it rejoin, the initial-cluster flags are then ignored).
func (m *EtcdMember) Start() error {
	peer := fmt.Sprintf("http://%s:%d", m.IP, m.PeerPort)
	p, err := m.env.Start(ProcSpec{Name: "etcd-" + m.Name, Bin: m.env.EtcdBin, Args: append([]string{
		"--name", m.Name,
		"--data-dir", m.DataDir,
		"--listen-client-urls", m.URL,
		"--advertise-client-urls", m.URL,
		"--listen-peer-urls", peer,
		"--initial-advertise-peer-urls", peer,
		"--initial-cluster", m.Cluster,
		"--initial-cluster-state", "new",
		"--initial-cluster-token", "weirbench",
		"--logger", "zap",
		"--log-level", "warn",
	}, m.Args...)})
	m.Proc = p
	return err
}

// EtcdStatus is the part of /v3/maintenance/status used here.
type EtcdStatus struct {
	Header struct {
		MemberID string `json:"member_id"`
	} `json:"header"`
	Leader    string `json:"leader"`
	RaftIndex string `json:"raftIndex"`
}

// Status asks the member for its status.
func (m *EtcdMember) Status(ctx context.Context) (EtcdStatus, error) {
	var s EtcdStatus
	err := etcdPost(ctx, ctlClient, m.URL+"/v3/maintenance/status", []byte("{}"), &s)
	return s, err
}

// Leader returns the member that is the leader.
func (c *Etcd) Leader(ctx context.Context) (*EtcdMember, error) {
	for _, m := range c.Members {
		if m.Proc == nil || m.Proc.Exited() {
			continue
		}
		s, err := m.Status(ctx)
		if err != nil || s.Leader == "" || s.Leader == "0" {
			continue
		}
		for _, o := range c.Members {
			if o.Proc == nil || o.Proc.Exited() {
				continue
			}
			if os, err := o.Status(ctx); err == nil && os.Header.MemberID == s.Leader {
				return o, nil
			}
		}
	}
	return nil, fmt.Errorf("no etcd leader")
}

// WaitHealthy waits until every member answers, names the same leader and
// has the leader's raft index.
func (c *Etcd) WaitHealthy(timeout time.Duration) error {
	ctx := context.Background()
	return poll(timeout, 20*time.Millisecond, func() (bool, error) {
		var leader, index string
		for i, m := range c.Members {
			s, err := m.Status(ctx)
			if err != nil {
				return false, err
			}
			if s.Leader == "" || s.Leader == "0" || (i > 0 && (s.Leader != leader || s.RaftIndex != index)) {
				return false, fmt.Errorf("member %s not in step: %+v", m.Name, s)
			}
			leader, index = s.Leader, s.RaftIndex
		}
		return true, nil
	})
}

// Stop kills every member (etcd has no state worth a graceful stop here).
func (c *Etcd) Stop() {
	for _, m := range c.Members {
		if m.Proc != nil {
			m.Proc.Terminate()
		}
	}
}

// Client is an etcd client (clientv3, gRPC) of this member alone: a
// failover writer must go to the member it chose, not be balanced away.
func (m *EtcdMember) Client() (*clientv3.Client, error) {
	return clientv3.New(clientv3.Config{
		Endpoints:   []string{strings.TrimPrefix(m.URL, "http://")},
		DialTimeout: 5 * time.Second,
		Logger:      zap.NewNop(),
		// 64 KB values and more (the default is 2 MiB, fine; set to be
		// explicit about the bound).
		MaxCallSendMsgSize: 8 << 20,
	})
}

// Count returns how many keys start with prefix.
func (m *EtcdMember) Count(ctx context.Context, prefix string) (int, error) {
	cli, err := m.Client()
	if err != nil {
		return 0, err
	}
	defer cli.Close()
	resp, err := cli.Get(ctx, prefix, clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil {
		return 0, err
	}
	return int(resp.Count), nil
}

func etcdPost(ctx context.Context, hc *http.Client, url string, body []byte, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("etcd %s: %s: %s", url, resp.Status, b)
	}
	if out == nil {
		_, err = io.Copy(io.Discard, resp.Body)
		return err
	}
	return json.NewDecoder(resp.Body).Decode(out)
}
