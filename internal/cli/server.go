package cli

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/weir-nifi/weir/internal/api"
	"github.com/weir-nifi/weir/internal/backup"
	"github.com/weir-nifi/weir/internal/daemon"
	"github.com/weir-nifi/weir/internal/disk"
	"github.com/weir-nifi/weir/internal/guard"
)

// Garbage collector defaults for the server, unless GOGC or GOMEMLIMIT set
// them. Every commit allocates a few short-lived buffers the size of the
// flow document, so with Go's default (GOGC=100, a collection each time
// the heap doubles over a live heap of a few tens of MB) the collector
// runs very often: GOGC=300 gave 5-15 % more commits per second in
// bench b (same run, same machine). But GOGC=300 also lets the heap grow
// to four times what is live and keep it: a node that held 15-50 MB live
// sat at 200 MB of anonymous memory after reads of random versions. So a
// soft memory limit follows the live heap (memoryLimitFor): the floor
// while twice the live heap fits under it, which holds a node's memory
// near the floor with GOGC=300's fewer collections below it, and twice
// the live heap above that (GOGC=100's bound), so a large live heap (many
// big commits at once) never makes the collector run without pause. The
// price is more collections under reads of random old versions: 6,289
// instead of 8,685 reads/s at 10,000 versions for 82 instead of 202 MB of
// anonymous memory (docs/benchmarks.md); set GOMEMLIMIT to trade back.
const (
	defaultGCPercent = 300
	memoryFloor      = 88 << 20
)

// tuneGC sets the defaults and reports whether the memory limit is the
// server's to govern (GOMEMLIMIT not set): then governMemory should run.
func tuneGC() bool {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(defaultGCPercent)
	}
	if os.Getenv("GOMEMLIMIT") != "" {
		return false
	}
	debug.SetMemoryLimit(memoryFloor)
	return true
}

// memoryLimitFor is the soft memory limit for a live heap of live bytes.
func memoryLimitFor(live uint64) int64 {
	return int64(max(memoryFloor, 2*live))
}

// governMemory moves the soft memory limit with the live heap (measured
// at the end of the last collection) at every tick.
func governMemory(tick <-chan time.Time) {
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	last := int64(memoryFloor)
	for range tick {
		metrics.Read(sample)
		if sample[0].Value.Kind() != metrics.KindUint64 {
			return
		}
		if l := memoryLimitFor(sample[0].Value.Uint64()); l != last {
			debug.SetMemoryLimit(l)
			last = l
		}
	}
}

// writeHeapProfile writes what the heap holds now (after a collection),
// for finding where a benchmark's memory goes in a real process.
func writeHeapProfile(path string, log *slog.Logger) {
	f, err := os.Create(path)
	if err != nil {
		log.Warn("no heap profile", "err", err)
		return
	}
	defer f.Close()
	runtime.GC()
	if err := pprof.WriteHeapProfile(f); err != nil {
		log.Warn("no heap profile", "err", err)
	}
}

// startCPUProfile writes a CPU profile of the whole run to path (a hidden
// flag for finding where a benchmark's time goes in a real process).
func startCPUProfile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

func serverCmd() *cobra.Command {
	var cfg daemon.Config
	var cpuProfile, memProfile string
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run a Weir node (a single node with no flags)",
		Long: `Run a Weir node.

With no flags it serves http://127.0.0.1:18080/nifi-registry-api and keeps its
data in ./weir-data: a one-node cluster on the embedded store.

To form a cluster, start the first node, then start the others with
--join <url of any node> and the first node's cluster key (written to
<data-dir>/cluster.key), or start every node with the same --bootstrap list.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := newLogger(os.Stderr, cfg.LogLevel, cfg.LogFormat)
			if err != nil {
				return err
			}
			if tuneGC() {
				go governMemory(time.NewTicker(250 * time.Millisecond).C)
			}
			if cpuProfile != "" {
				stopProfile, err := startCPUProfile(strings.ReplaceAll(cpuProfile, "%n", cfg.NodeID))
				if err != nil {
					return err
				}
				defer stopProfile()
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			s, err := daemon.Start(cfg, log)
			if err != nil {
				return err
			}
			<-ctx.Done()
			stop()
			if memProfile != "" {
				writeHeapProfile(strings.ReplaceAll(memProfile, "%n", cfg.NodeID), log)
			}
			sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			return s.Shutdown(sctx)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Listen, "listen", daemon.DefaultListen, "address of the HTTP API")
	f.StringVar(&cfg.DataDir, "data-dir", daemon.DefaultDataDir, "directory for the store, the Raft log and snapshots")
	f.StringVar(&cfg.NodeID, "node-id", "", "stable node id (default: generated once and kept in the data directory)")
	f.StringVar(&cfg.Advertise, "advertise", "", "base URL clients and other nodes use for this node (default http://<listen>)")
	f.StringVar(&cfg.RaftListen, "raft-listen", daemon.DefaultRaftListen, "address of the cluster port (Raft and internal RPC)")
	f.StringVar(&cfg.RaftAdvertise, "raft-advertise", "", "cluster address other nodes dial (default: the raft-listen address)")
	f.StringSliceVar(&cfg.Join, "join", nil, "URL of an existing node to join (repeatable)")
	f.StringVar(&cfg.Bootstrap, "bootstrap", "", "static initial voters, id=host:port,... (same list on every node)")
	f.StringVar(&cfg.Zone, "zone", "", "availability zone of this node, for voter placement")
	f.IntVar(&cfg.S2SMaxTransactions, "s2s-max-transactions", 0, "site-to-site transactions this node keeps open at once; beyond it clients are told to try another node (default 10000)")
	f.DurationVar(&cfg.S2STransactionTTL, "s2s-transaction-ttl", 0, "how long an idle site-to-site transaction lives before it is rolled back (default 30s, as NiFi)")
	f.DurationVar(&cfg.S2SLeaseTTL, "s2s-lease-ttl", 0, "how long pulled flowfiles stay leased to a pull whose node died before they are handed out again (default 2m; must exceed --s2s-transaction-ttl)")
	f.StringVar(&cfg.ClusterKey, "cluster-key", "", "shared secret authenticating cluster traffic (prefer --cluster-key-file)")
	f.StringVar(&cfg.ClusterKeyFile, "cluster-key-file", "", "file holding the cluster key (default <data-dir>/cluster.key, created by the first node)")
	f.StringVar(&cfg.TLSCert, "tls-cert", "", "certificate (PEM) to serve HTTPS to clients; reloaded when the file changes")
	f.StringVar(&cfg.TLSKey, "tls-key", "", "private key (PEM) for --tls-cert")
	f.StringVar(&cfg.TLSCA, "tls-ca", "", "CA certificates (PEM) that client certificates must chain to")
	f.StringVar(&cfg.ClientAuth, "client-auth", "", "client certificates over HTTPS: none (encryption only; every caller is anonymous with all permissions), want (callers without a certificate are refused except health probes) or need (default: want with --tls-ca, else none)")
	f.StringArrayVar(&cfg.IdentityMappings, "identity-mapping", nil, "NiFi identity mapping for certificate subjects and proxied users: 'pattern=REGEX;value=VALUE[;transform=UPPER|LOWER|NONE]' (repeatable, first match wins)")
	f.StringVar(&cfg.InitialAdmin, "initial-admin-identity", "", "identity (after mapping) of the initial admin: turns on users, groups and policies, seeded with NiFi's initial policies for it and the --node-identity values")
	f.StringVar(&cfg.LDAP.URL, "ldap-url", "", "LDAP directory for logins (/access/token/login), ldap://host:port or ldaps://host:port")
	f.BoolVar(&cfg.LDAP.StartTLS, "ldap-start-tls", false, "upgrade an ldap:// connection with StartTLS")
	f.StringVar(&cfg.LDAP.CA, "ldap-ca", "", "CA certificates (PEM) that verify the directory over TLS")
	f.StringVar(&cfg.LDAP.BindDN, "ldap-bind-dn", "", "manager DN that searches for users (anonymous search when empty)")
	f.StringVar(&cfg.LDAP.BindPassword, "ldap-bind-password", "", "password of --ldap-bind-dn (or WEIR_LDAP_BIND_PASSWORD)")
	f.StringVar(&cfg.LDAP.UserSearchBase, "ldap-user-search-base", "", "base DN of the user search, e.g. ou=people,dc=example,dc=com")
	f.StringVar(&cfg.LDAP.UserSearchFilter, "ldap-user-search-filter", "", "user search filter, {0} is the user name, e.g. (uid={0})")
	f.StringVar(&cfg.LDAP.IdentityStrategy, "ldap-identity-strategy", "USE_DN", "identity of a login: USE_DN (the user's DN) or USE_USERNAME (the name typed)")
	f.StringVar(&cfg.OIDC.Issuer, "oidc-issuer", "", "OpenID Connect provider for browser logins (/access/oidc/*), its issuer URL (discovery)")
	f.StringVar(&cfg.OIDC.ClientID, "oidc-client-id", "", "client id registered with the OpenID Connect provider (redirect URI <advertise>/nifi-registry-api/access/oidc/callback)")
	f.StringVar(&cfg.OIDC.ClientSecret, "oidc-client-secret", "", "client secret (or WEIR_OIDC_CLIENT_SECRET)")
	f.StringVar(&cfg.OIDC.Claim, "oidc-claim", "email", "ID token claim that names the user")
	f.StringSliceVar(&cfg.OIDC.Scopes, "oidc-scope", nil, "scopes to request besides openid and email (repeatable)")
	f.StringVar(&cfg.LDAPGroups.Base, "ldap-group-search-base", "", "base DN of the directory's groups: when set, groups and their members are synced into user groups (policies may name them)")
	f.StringVar(&cfg.LDAPGroups.Filter, "ldap-group-search-filter", "", "group filter (default groupOfNames or groupOfUniqueNames)")
	f.StringVar(&cfg.LDAPGroups.NameAttribute, "ldap-group-name-attribute", "cn", "attribute that names a group")
	f.StringVar(&cfg.LDAPGroups.MemberAttribute, "ldap-group-member-attribute", "member", "attribute holding the members' DNs")
	f.DurationVar(&cfg.LDAPSyncInterval, "ldap-sync-interval", 5*time.Minute, "how often the directory's groups are synced")
	f.StringArrayVar(&cfg.LoginMappings, "login-identity-mapping", nil, "NiFi identity mapping for login identities (as --identity-mapping; repeatable)")
	f.DurationVar(&cfg.TokenTTL, "token-expiry", 12*time.Hour, "how long an access token is valid")
	f.DurationVar(&cfg.TokenKeyRotation, "token-key-rotation", 24*time.Hour, "how often a new token signing key is added (the newest 3 are kept)")
	f.StringArrayVar(&cfg.NodeIdentities, "node-identity", nil, "identity (after mapping) of a NiFi node allowed to proxy its users with X-ProxiedEntitiesChain (repeatable)")
	f.StringVar(&cfg.ClusterTLSCert, "cluster-tls-cert", "", "certificate for mutual TLS on the cluster port")
	f.StringVar(&cfg.ClusterTLSKey, "cluster-tls-key", "", "private key for --cluster-tls-cert")
	f.StringVar(&cfg.ClusterTLSCA, "cluster-tls-ca", "", "CA that signs every node's cluster certificate")
	f.StringVar(&cfg.WriteMode, "write-mode", "forward", "what followers do with writes: forward (to the leader) or redirect (307)")
	f.IntVar(&cfg.MaxVoters, "max-voters", 5, "voters to keep; further nodes are non-voting read replicas")
	f.IntVar(&cfg.MinQuorum, "min-quorum", 3, "removals never leave fewer voters than this")
	f.DurationVar(&cfg.DeadAfter, "dead-after", 0, "remove members unreachable this long (0 = never)")
	f.DurationVar(&cfg.HeartbeatTimeout, "heartbeat-timeout", 0, "Raft heartbeat timeout, also the leader lease (default 400ms; raise across regions)")
	f.DurationVar(&cfg.ElectionTimeout, "election-timeout", 0, "Raft election timeout (default 400ms, or the heartbeat timeout when that is longer)")
	f.Uint64Var(&cfg.SnapshotThreshold, "snapshot-threshold", 0, "log entries between snapshots (default 1024)")
	f.Uint64Var(&cfg.TrailingLogs, "trailing-logs", 0, "log entries kept after a snapshot for slow followers (default 1024)")
	f.DurationVar(&cfg.SnapshotInterval, "snapshot-interval", 0, "how often to check whether --snapshot-threshold entries have accumulated (default 30s)")
	f.IntVar(&cfg.WALSegmentSize, "raft-segment-size", 0, "Raft log segment size in bytes (default 64 MiB); compaction frees whole segments")
	_ = f.MarkHidden("raft-segment-size")
	f.BoolVar(&cfg.Revisions, "revisions", false, "enable NiFi Registry revisions (optimistic locking), off by default as in NiFi")
	f.Int64Var(&cfg.MaxBody, "max-body", api.DefaultMaxBody, "largest accepted request body in bytes (413 above)")
	f.Int64Var(&cfg.MaxBundle, "max-bundle", api.DefaultMaxBundle, "largest accepted extension bundle upload in bytes (413 above; spooled to the data dir, not held in memory)")
	f.DurationVar(&cfg.BundleContentGrace, "bundle-content-grace", time.Hour, "how long a content file (bundle or site-to-site chunk) that nothing refers to is kept before it is removed (longer than an upload takes); a chunk's file goes as soon as its chunk does")
	f.StringSliceVar(&cfg.AllowedHosts, "allowed-hosts", nil, "host names (host or host:port) clients may use for this node besides its own addresses, e.g. a load balancer's; \"*\" allows any (requests with another Host get 400)")
	f.BoolVar(&cfg.AdminOpen, "admin-open", false, "let maintenance, backups, membership changes and ?recompute through without the cluster key or admin token (unsafe; the behaviour of earlier versions)")
	cfg.BodyBudget = guard.DefaultBodyBudget
	f.Var(sizeValue{&cfg.BodyBudget}, "body-memory", "request body bytes held at once across all requests; beyond it requests wait, then get 503 (e.g. 128MiB)")
	f.DurationVar(&cfg.BodyTimeout, "body-timeout", guard.DefaultBodyIdle, "cut off a request body that sends nothing for this long")
	cfg.BodyMinRate = guard.DefaultBodyMinRate
	f.Var(sizeValue{&cfg.BodyMinRate}, "body-min-rate", "slowest a large request body (over 256 KiB) may arrive, per second on average after 10 s; slower ones are cut off")
	cfg.StorageReserve = disk.DefaultReserve
	f.Var(sizeValue{&cfg.StorageReserve}, "storage-reserve", "free space kept on the data directory's file system; client writes are refused with 507 below it (e.g. 64MiB; -1 turns the check off)")
	f.Uint64Var(&cfg.ReadyMaxLag, "ready-max-lag", 1000, "readiness fails while this node's applied index trails the leader's commit by more entries")
	f.DurationVar(&cfg.ReadyMaxBehind, "ready-max-behind", 30*time.Second, "readiness fails while a follower has not heard from the leader for longer")
	f.StringVar(&cfg.BackupDir, "backup-dir", "", "directory for scheduled backups (taken by the leader; off when empty)")
	f.DurationVar(&cfg.BackupInterval, "backup-interval", time.Hour, "time between scheduled backups (skipped when nothing changed)")
	f.IntVar(&cfg.BackupKeep, "backup-keep", 7, "scheduled backups to keep in --backup-dir (older ones are deleted)")
	f.DurationVar(&cfg.BackupStallTimeout, "backup-stall-timeout", backup.DefaultStallTimeout, "cut off a backup download whose client takes nothing for this long (its copy of the store is released)")
	f.StringVar(&cfg.HooksFile, "hooks", "", "event hooks file (YAML or JSON: log, script and webhook hooks, retries, the outbox's retention); give every node the same file")
	f.StringVar(&cfg.LogLevel, "log-level", "info", "debug, info, warn or error")
	f.StringVar(&cfg.LogFormat, "log-format", "text", "text or json")
	f.BoolVar(&cfg.UnsafeNoSync, "unsafe-no-sync", false, "skip fsync (loses acknowledged writes on power loss; tests only)")
	_ = f.MarkHidden("unsafe-no-sync")
	f.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the run to this file (%n: the node id)")
	_ = f.MarkHidden("cpuprofile")
	f.StringVar(&memProfile, "memprofile", "", "write a heap profile to this file when the node is told to stop, before it stops (%n: the node id)")
	_ = f.MarkHidden("memprofile")
	f.String(configFlag, "", "YAML file of settings: flag names as keys (the command line and WEIR_* win over it)")
	cmd.Long += settingsHelp(cmd)
	return cmd
}
