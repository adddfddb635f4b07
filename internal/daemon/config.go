package daemon

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/weir-nifi/weir/internal/cluster"
	"github.com/weir-nifi/weir/internal/durable"
	"github.com/weir-nifi/weir/internal/ldapauth"
	"github.com/weir-nifi/weir/internal/login"
)

// Config is the whole server configuration (flags and WEIR_* variables).
type Config struct {
	Listen    string
	DataDir   string
	NodeID    string
	Advertise string // API base URL others use to reach this node

	RaftListen    string
	RaftAdvertise string
	Join          []string
	Bootstrap     string // id=addr,id=addr
	Zone          string
	// S2SMaxTransactions bounds the site-to-site transactions open at
	// once on this node (0: the server's default).
	S2SMaxTransactions int
	// S2STransactionTTL is how long an idle site-to-site transaction
	// lives (0: NiFi's 30 s); S2SLeaseTTL how long a pull's flowfiles stay
	// leased when the node serving it dies (0: 2 minutes). The lease TTL
	// must exceed the transaction TTL.
	S2STransactionTTL time.Duration
	S2SLeaseTTL       time.Duration

	ClusterKey     string
	ClusterKeyFile string
	// TLSCert and TLSKey turn on HTTPS for clients (the API, site-to-site
	// and operations); TLSCA verifies client certificates, which
	// ClientAuth ("none", "want", "need") asks for. The files are reloaded
	// when they change.
	TLSCert, TLSKey, TLSCA string
	ClientAuth             string
	// IdentityMappings rewrite certificate subjects and proxied identities
	// (NiFi's pattern/value/transform); NodeIdentities are the NiFi nodes
	// allowed to proxy their users (X-ProxiedEntitiesChain).
	IdentityMappings []string
	NodeIdentities   []string
	// InitialAdmin turns on managed users, groups and policies (NiFi's
	// initial admin identity): seeded at start with NiFi's initial
	// policies for it and for NodeIdentities.
	InitialAdmin string
	// LDAP is the login provider (managed mode); LoginMappings rewrite the
	// identities logins yield. TokenTTL is how long an access token is
	// valid, TokenKeyRotation how often a new signing key is added.
	LDAP             ldapauth.Config
	LDAPGroups       ldapauth.GroupSearch
	LDAPSyncInterval time.Duration
	OIDC             login.OIDC
	LoginMappings    []string
	TokenTTL         time.Duration
	TokenKeyRotation time.Duration
	ClusterTLSCert   string
	ClusterTLSKey    string
	ClusterTLSCA     string

	WriteMode string
	MaxVoters int
	MinQuorum int
	DeadAfter time.Duration

	HeartbeatTimeout  time.Duration
	ElectionTimeout   time.Duration
	SnapshotThreshold uint64
	TrailingLogs      uint64
	SnapshotInterval  time.Duration
	WALSegmentSize    int

	Revisions bool
	MaxBody   int64
	// MaxBundle is the largest extension bundle upload (spooled to disk).
	MaxBundle int64
	// BundleContentGrace is how long a bundle content file nothing refers
	// to is kept before it is removed (longer than an upload takes from
	// its file to its commit).
	BundleContentGrace time.Duration
	// AllowedHosts are names (host or host:port) clients may use for this
	// node besides its own addresses, e.g. a load balancer's ("*": any).
	AllowedHosts []string
	// AdminOpen lets operations requests through without the cluster key.
	AdminOpen bool
	// BodyBudget bounds the request body bytes held at once across all
	// requests; BodyTimeout cuts off a body that stops arriving.
	BodyBudget  int64
	BodyTimeout time.Duration
	BodyMinRate int64
	// StorageReserve is the free space kept on the data directory's file
	// system: client writes are refused with 507 below it (package disk).
	StorageReserve int64

	// Operations (packages ops, backup): readiness limits and scheduled
	// backups into BackupDir every BackupInterval, keeping BackupKeep.
	ReadyMaxLag    uint64
	ReadyMaxBehind time.Duration
	BackupDir      string
	BackupInterval time.Duration
	BackupKeep     int
	// BackupStallTimeout cuts off a backup download whose client stops
	// reading (its copy of the store is released).
	BackupStallTimeout time.Duration

	// HooksFile configures the event hooks and the outbox's retention
	// (package hooks); empty: no hooks, default retention.
	HooksFile string

	LogLevel  string
	LogFormat string
	// UnsafeNoSync skips fsync everywhere (tests that say so only).
	UnsafeNoSync bool
}

// Defaults for a zero-configuration single node.
const (
	DefaultListen     = "127.0.0.1:18080"
	DefaultDataDir    = "./weir-data"
	DefaultRaftListen = "127.0.0.1:18081"
)

// nodeID returns the configured id, or the one persisted in the data
// directory, or a new one it persists: a node keeps its identity across
// restarts without configuration.
func nodeID(cfg *Config) (string, error) {
	path := filepath.Join(cfg.DataDir, "node-id")
	if b, err := os.ReadFile(path); err == nil {
		saved := strings.TrimSpace(string(b))
		if cfg.NodeID != "" && cfg.NodeID != saved {
			return "", fmt.Errorf("data directory %s belongs to node %q, not %q", cfg.DataDir, saved, cfg.NodeID)
		}
		return saved, nil
	}
	id := cfg.NodeID
	if id == "" {
		b := make([]byte, 4)
		_, _ = rand.Read(b)
		id = "weir-" + hex.EncodeToString(b)
	}
	return id, durable.ReplaceFile(path, []byte(id+"\n"), 0o644)
}

// clusterKey returns the key cluster traffic is authenticated with: from
// the flag, the key file, or (for a node that starts a new cluster alone)
// a new key saved as <data-dir>/cluster.key for the operator to copy to
// the nodes that join; refuse, when set, says why none may be made.
// keyCreation says why this node may not make a cluster key ("" when it
// may): a node that starts a cluster alone may; one that joins, or starts
// with others from a --bootstrap list, must be given it (each would make
// its own, and they would refuse each other).
func keyCreation(cfg Config, peers []cluster.Peer) string {
	switch {
	case len(cfg.Join) > 0:
		return "joining a cluster needs its key: pass --cluster-key or --cluster-key-file (the first node wrote it to <data-dir>/cluster.key)"
	case len(peers) > 1:
		return "nodes started together with --bootstrap need the same cluster key: make one (head -c 32 /dev/urandom | base64 > cluster.key), copy it to every node and pass --cluster-key-file cluster.key"
	}
	return ""
}

func clusterKey(cfg *Config, refuse string) ([]byte, string, error) {
	if cfg.ClusterKey != "" {
		return []byte(cfg.ClusterKey), "flag", nil
	}
	path := cfg.ClusterKeyFile
	if path == "" {
		path = filepath.Join(cfg.DataDir, "cluster.key")
	}
	if b, err := os.ReadFile(path); err == nil {
		k := strings.TrimSpace(string(b))
		if len(k) < 16 {
			return nil, "", fmt.Errorf("cluster key in %s is shorter than 16 characters", path)
		}
		return []byte(k), path, nil
	} else if cfg.ClusterKeyFile != "" {
		return nil, "", fmt.Errorf("read cluster key: %w", err)
	}
	if refuse != "" {
		return nil, "", errors.New(refuse)
	}
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	k := hex.EncodeToString(b)
	return []byte(k), path, durable.ReplaceFile(path, []byte(k+"\n"), 0o600)
}

// parsePeers parses "id=addr,id=addr".
func parsePeers(s string) ([]cluster.Peer, error) {
	var out []cluster.Peer
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		id, addr, ok := strings.Cut(part, "=")
		if !ok || id == "" || addr == "" {
			return nil, fmt.Errorf("bad --bootstrap entry %q: want id=host:port", part)
		}
		out = append(out, cluster.Peer{ID: id, Addr: addr})
	}
	return out, nil
}
