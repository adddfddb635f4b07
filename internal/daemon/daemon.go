package daemon

import (
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/weir-nifi/weir/internal/adminauth"
	"github.com/weir-nifi/weir/internal/api"
	"github.com/weir-nifi/weir/internal/apidoc"
	"github.com/weir-nifi/weir/internal/audit"
	"github.com/weir-nifi/weir/internal/authn"
	"github.com/weir-nifi/weir/internal/authz"
	"github.com/weir-nifi/weir/internal/backup"
	"github.com/weir-nifi/weir/internal/blobs"
	"github.com/weir-nifi/weir/internal/cluster"
	"github.com/weir-nifi/weir/internal/command"
	"github.com/weir-nifi/weir/internal/disk"
	"github.com/weir-nifi/weir/internal/dr"
	"github.com/weir-nifi/weir/internal/guard"
	"github.com/weir-nifi/weir/internal/hooks"
	"github.com/weir-nifi/weir/internal/httpwire"
	"github.com/weir-nifi/weir/internal/identity"
	"github.com/weir-nifi/weir/internal/login"
	"github.com/weir-nifi/weir/internal/metrics"
	"github.com/weir-nifi/weir/internal/model"
	"github.com/weir-nifi/weir/internal/ops"
	"github.com/weir-nifi/weir/internal/registry"
	"github.com/weir-nifi/weir/internal/s2s/relay"
	"github.com/weir-nifi/weir/internal/s2s/server"
	"github.com/weir-nifi/weir/internal/statuswriter"
	"github.com/weir-nifi/weir/internal/store"
	"github.com/weir-nifi/weir/internal/tlsfiles"
	"github.com/weir-nifi/weir/internal/webui"
)

// The backup service yields to the node's writes (see backup/yield.go).
var _ backup.Writes = (*cluster.Node)(nil)

// Server is a running weir node.
type Server struct {
	cfg   Config
	log   *slog.Logger
	st    *store.Store
	node  *cluster.Node
	http  *http.Server
	ln    net.Listener
	start time.Time

	backups     *backup.Service
	stopBackups context.CancelFunc
	disk        *disk.Monitor
	stopDisk    chan struct{}
	s2s         *server.Server
}

// Start brings a node up: the HTTP port is open and the Raft node started
// when it returns (leadership may still be being settled).
func Start(cfg Config, log *slog.Logger) (*Server, error) {
	t0 := time.Now()
	if cfg.Listen == "" {
		cfg.Listen = DefaultListen
	}
	if cfg.DataDir == "" {
		cfg.DataDir = DefaultDataDir
	}
	if cfg.RaftListen == "" {
		cfg.RaftListen = DefaultRaftListen
	}
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return nil, err
	}
	hooksCfg, err := hooks.Load(cfg.HooksFile)
	if err != nil {
		return nil, err
	}
	// Before anything is written to the directory: an interrupted restore
	// is refused, and a directory restored from a backup seeds its new
	// cluster at the first start; until that is done its store is synced
	// on every commit, so a crash of the machine cannot take the restored
	// registry with it.
	seed, err := backup.PrepareStart(cfg.DataDir, len(cfg.Join) > 0 || cfg.Bootstrap != "")
	if err != nil {
		return nil, err
	}
	id, err := nodeID(&cfg)
	if err != nil {
		return nil, err
	}
	cfg.NodeID = id
	log = log.With("node", id)
	fresh := !fileExists(filepath.Join(cfg.DataDir, "raft", "wal", "wal-meta.db"))
	peers, err := parsePeers(cfg.Bootstrap)
	if err != nil {
		return nil, err
	}
	key, keySrc, err := clusterKey(&cfg, keyCreation(cfg, peers))
	if err != nil {
		return nil, err
	}
	auth := &cluster.Auth{Key: key}
	if cfg.ClusterTLSCert != "" {
		if auth.ServerTLS, auth.ClientTLS, err = clusterTLS(cfg); err != nil {
			return nil, err
		}
	}

	if ttl, lease := cmp.Or(cfg.S2STransactionTTL, 30*time.Second), cmp.Or(cfg.S2SLeaseTTL, 2*time.Minute); lease <= ttl {
		return nil, fmt.Errorf("--s2s-lease-ttl (%v) must be longer than --s2s-transaction-ttl (%v): a live pull's flowfiles would be handed out again", lease, ttl)
	}
	sec, err := secureOptions(cfg, log)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", cfg.Listen, err)
	}
	if cfg.Advertise == "" {
		cfg.Advertise = "http://" + ln.Addr().String()
		if sec != nil {
			cfg.Advertise = "https://" + ln.Addr().String()
		}
	}
	if sec != nil {
		ln = tls.NewListener(ln, sec.tls.Config())
	}
	dm := disk.New(disk.Options{Dir: cfg.DataDir, Reserve: cfg.StorageReserve, Log: log})
	st, err := store.Open(filepath.Join(cfg.DataDir, "state.db"), store.Options{NoSync: cfg.UnsafeNoSync, LogBacked: !seed})
	if err != nil {
		ln.Close()
		return nil, err
	}
	if aside, why := st.Discarded(); aside != "" {
		log.Warn("rebuilding the store from the Raft snapshot and log: "+why, "movedAside", aside)
	}
	node, err := cluster.Start(cluster.Config{
		ID: id, DataDir: cfg.DataDir, RaftListen: cfg.RaftListen, RaftAdvertise: cfg.RaftAdvertise,
		APIURL: strings.TrimRight(cfg.Advertise, "/"), Zone: cfg.Zone, Bootstrap: peers, Join: cfg.Join, JoinTLS: joinTLS(cfg),
		Auth: auth, WriteMode: cluster.WriteMode(cfg.WriteMode),
		MaxVoters: cfg.MaxVoters, MinQuorum: cfg.MinQuorum, DeadAfter: cfg.DeadAfter,
		HeartbeatTimeout: cfg.HeartbeatTimeout, ElectionTimeout: cfg.ElectionTimeout,
		SnapshotThreshold: cfg.SnapshotThreshold, TrailingLogs: cfg.TrailingLogs, SnapshotInterval: cfg.SnapshotInterval,
		WALSegmentSize: cfg.WALSegmentSize,
		NoSync:         cfg.UnsafeNoSync, Log: log, Disk: dm,
	}, st)
	if err != nil {
		st.Close()
		ln.Close()
		return nil, err
	}
	stopDisk := make(chan struct{})
	go dm.Run(stopDisk)
	// abort undoes the start so far when a later step fails.
	abort := func(err error) (*Server, error) {
		close(stopDisk)
		_ = node.Shutdown()
		st.Close()
		ln.Close()
		return nil, err
	}
	if seed {
		// First start of a restored node: make the restored state the new
		// cluster's first snapshot before serving anything, so joiners get
		// it (see backup.SeedCluster).
		err := backup.SeedCluster(node.Raft(), 30*time.Second)
		if err == nil {
			err = backup.SeedDone(cfg.DataDir)
		}
		if err == nil {
			err = st.BecomeLogBacked()
		}
		if err != nil {
			return abort(err)
		}
		log.Info("restored state seeded as the new cluster's first snapshot")
	}
	// Builds before the content store spooled bundle uploads in the data
	// dir; a crash left them behind.
	registry.RemoveUploadLeftovers(cfg.DataDir)
	// Bundle content lives in files beside the log, sent to the other
	// voters over the cluster port before its metadata is proposed
	// (docs/bundles-design.md).
	contentStore, err := blobs.Open(filepath.Join(cfg.DataDir, blobs.DataDirName))
	if err != nil {
		return abort(err)
	}
	contentStore.NoSync = cfg.UnsafeNoSync
	contents := blobs.NewReplicator(contentStore, node, "content", cluster.PeerURL, log)
	// Event hooks: the leader delivers the outbox's events.
	hk, err := hooks.New(node, st, hooksCfg, log)
	if err != nil {
		return abort(err)
	}
	svc := registry.New(eventsFirst{node, hk}, st, registry.Options{Revisions: cfg.Revisions, TempDir: cfg.DataDir, Contents: contents})
	// Disaster recovery: a standby (or fenced) cluster refuses writes.
	drs := dr.New(node, st, dr.Options{Key: key, Self: strings.TrimRight(cfg.Advertise, "/"), DataDir: cfg.DataDir, Log: log, HTTP: drHTTP(cfg), Content: svc.OpenContent})
	contents.SetSource(drs.ContentSource())
	a := api.New(svc, requestFresh{node}, gates{node, drs}, api.Options{MaxBody: cfg.MaxBody, MaxBundle: cfg.MaxBundle, Log: log, Disk: dm})
	// With an initial admin, policies decide every request (package
	// authz), on the node that executes it: forwarded writes are
	// authorized by the leader.
	managed := sec != nil && sec.certs && cfg.InitialAdmin != ""
	// The audit log records what each node executes and refuses.
	aud := audit.New(id, log, 0)
	guarded := func(h http.Handler) http.Handler {
		if managed {
			h = authz.Middleware(authzOptions(node, st), h)
		}
		return aud.Middleware(h)
	}
	if managed {
		a.ManageTenants(svc)
	}
	apiH := guarded(a)

	// Operations: health, maintenance, backups, metrics (under the API
	// base, so writes among them are forwarded to the leader).
	bk := backup.New(st, node, backup.Config{Dir: cfg.BackupDir, Interval: cfg.BackupInterval, Keep: cfg.BackupKeep,
		StallTimeout: cfg.BackupStallTimeout, Log: log, Hold: contentStore.Hold,
		Content: func(sha string, size int64) (*os.File, error) {
			// A file this node lacks (it joined since) comes from a peer.
			return contents.Open(context.Background(), sha, size)
		}})
	ops.New(node, st, ops.Options{ReadyMaxLag: cfg.ReadyMaxLag, ReadyMaxBehind: cfg.ReadyMaxBehind, Log: log, Disk: dm,
		Extra: map[string]func() ops.Component{"backup": func() ops.Component {
			return ops.Component{Status: ops.StatusUp, Details: bk.Report()}
		}, "dr": drs.Health},
	}).Register(a)
	a.Handle("GET "+backup.Path, bk.Handler())
	a.Handle("POST "+backup.Path, bk.TakeHandler())
	met := metrics.New(node, st, bk, metrics.Options{DataDir: cfg.DataDir})
	met.Registry().MustRegister(drs.Collector())
	met.Registry().MustRegister(hk.Collector())
	a.Handle("GET "+metrics.Path, met.Handler())

	root := http.NewServeMux()
	root.Handle(api.Base+"/", node.ServeAPI(cluster.HTTPLayer{Handler: apiH, Base: api.Base, MaxBody: maxBody(cfg),
		Local: api.IsBundleUpload, Caller: api.EncodeCaller, WithCaller: api.WithEncodedCaller}))

	// Site-to-site: NiFi's HTTP S2S under /nifi-api on every node, over
	// the replicated queues (package relay), and the port configuration.
	rel := relay.New(node, st, relay.Options{Self: strings.TrimRight(cfg.Advertise, "/"), Log: log, Admit: dm.Admit, LeaseTTL: cfg.S2SLeaseTTL,
		Contents: contents})
	for name, fn := range rel.LeaderFuncs() { // memory leases (level 11)
		node.HandleLeader(name, fn)
	}
	s2s, err := server.New(server.Options{
		Ports: rel, Peers: rel, Queues: rel, Log: log,
		Controller:      server.Controller{ID: rootGroupID(key), InstanceID: id, Name: "Weir"},
		MaxTransactions: cfg.S2SMaxTransactions, TTL: cfg.S2STransactionTTL,
	})
	if err != nil {
		return abort(err)
	}
	root.Handle(s2sBase+"/", guarded(s2s))
	met.RegisterPorts(rel)
	wmux := http.NewServeMux() // /weir-api: ports, cluster membership, audit
	wmux.Handle("GET "+audit.Path, aud.Handler())
	actor := func(r *http.Request) string {
		if c, ok := api.CallerFrom(r.Context()); ok {
			return c.Identity
		}
		return "anonymous"
	}
	rel.Routes(wmux, actor)
	drs.Routes(wmux, actor)
	hk.Routes(wmux, func(r *http.Request) error { return node.ReadBarrier(r.Context()) }, actor)
	root.Handle(api.Base, http.RedirectHandler(api.Base+"/", http.StatusMovedPermanently))
	// The web UI: its pages call the handler chain below (SetBackend),
	// as the browser's request, for every read and write.
	ui := webui.New(webui.Options{Gather: met.Registry(), Log: log, Login: managed && cfg.LDAP.URL != "", OIDC: managed && cfg.OIDC.Issuer != ""})
	root.Handle(webui.Base+"/", ui.Handler())
	root.Handle("GET "+webui.Base, http.RedirectHandler(webui.Base+"/", http.StatusMovedPermanently))
	root.Handle("GET /{$}", http.RedirectHandler(webui.Base+"/", http.StatusFound))
	node.Routes(wmux)
	root.Handle("/weir-api/", guarded(wmux))
	// The OpenAPI description, where NiFi Registry 2.x serves its own
	// (its docs context is outside the security filter: anyone may read it).
	root.Handle(apidoc.Base+"/", apidoc.Handler())

	// Access tokens (managed mode): issued for certificates and LDAP
	// logins, verified on every node, revoked by logout everywhere.
	var bearer func(context.Context, string) (string, error)
	if managed {
		lopts, err := loginOptions(cfg, sec, node, st, log)
		if err != nil {
			return abort(err)
		}
		lmux := http.NewServeMux()
		login.Routes(lmux, api.Base, lopts)
		paths := []string{"POST " + api.Base + "/access/token", "POST " + api.Base + "/access/token/login", "DELETE " + api.Base + "/access/logout"}
		if lopts.OIDC != nil {
			paths = append(paths, "GET "+api.Base+"/access/oidc/request", "GET "+api.Base+"/access/oidc/callback",
				"POST "+api.Base+"/access/oidc/exchange", "GET "+api.Base+"/access/oidc/logout")
		}
		for _, p := range paths {
			root.Handle(p, aud.Middleware(lmux))
		}
		bearer = func(ctx context.Context, raw string) (string, error) {
			c, err := lopts.Verify(ctx, raw)
			if err != nil {
				return "", err
			}
			return c.Subject, nil
		}
	}

	// Outermost: what every request must satisfy (Host, clean path, JSON
	// bodies, the body budget), then proof of the cluster key for the
	// operations that need it. A follower checks both before it forwards.
	own := ownHosts(cfg, ln.Addr())
	var handler http.Handler = isolationGate(node, root)
	if cfg.AdminOpen {
		log.Warn("--admin-open: maintenance, backups, membership and ?recompute accept requests without the cluster key; anyone who reaches this port can use them")
	} else {
		handler = adminauth.NewVerifier(key, own.has).Middleware(adminRequest, handler)
	}
	if sec != nil && sec.certs {
		// Who calls: a client certificate, a NiFi node proxying its user,
		// or anonymous (refused but for health probes).
		handler = authn.Middleware(authn.Options{Mappings: sec.mappings, Proxies: cfg.NodeIdentities, Open: openToAnonymous, Managed: managed, Bearer: bearer,
			ClusterToken: adminauth.Token(key), ClusterPaths: []string{"/weir-api/", ops.Base + "/"}}, handler)
	}
	// One read barrier per request: the token's keys, the policies and
	// the handler's read share it (cluster.RequestBarrier).
	handler = withRequestBarrier(handler)
	ui.SetBackend(handler)
	handler = guard.New(guard.Options{
		Hosts: append(own.names(), cfg.AllowedHosts...), MaxBody: maxBody(cfg),
		BodyBudget: cfg.BodyBudget, BodyIdle: cfg.BodyTimeout, BodyMinRate: cfg.BodyMinRate,
		Streams:       []string{s2sBase + "/data-transfer/"},
		StreamRequest: api.IsBundleUpload,
		Forms:         []string{webui.Base + "/"},
	}, handler)

	s := &Server{cfg: cfg, log: log, st: st, node: node, ln: ln, start: t0, backups: bk, disk: dm, stopDisk: stopDisk, s2s: s2s}
	bctx, stopBackups := context.WithCancel(context.Background())
	s.stopBackups = stopBackups
	go bk.Run(bctx)
	go rel.RunRetention(bctx)
	go rel.KeepChunkFiles(bctx)
	go drs.Run(bctx)
	go ui.Run(bctx)
	go hk.Run(bctx)
	grace := cfg.BundleContentGrace
	if grace <= 0 {
		grace = time.Hour
	}
	go blobs.Keeper{Store: contentStore, Fetch: contents.Fetch, Wanted: st.ContentFiles, SweepAfter: grace}.Run(bctx, contentEvery, log.Warn)
	if managed {
		go seedSecurity(bctx, node, cfg.InitialAdmin, cfg.NodeIdentities, log)
		go rotateKeys(bctx, node, st, cfg.TokenKeyRotation, log)
		if cfg.LDAP.URL != "" && cfg.LDAPGroups.Base != "" {
			mappings, _ := parseMappings(cfg.LoginMappings) // checked by loginOptions
			go syncLDAPGroups(bctx, node, svc, cfg.LDAP, cfg.LDAPGroups, mappings, cfg.LDAPSyncInterval, log)
		}
	}
	s.http = &http.Server{
		Handler:           met.Middleware(handler),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	go func() {
		if err := s.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("http server failed", "err", err)
		}
	}()
	log.Info("weir listening",
		"api", cfg.Advertise+api.Base, "listen", ln.Addr().String(), "raft", node.RaftAddr(),
		"dataDir", cfg.DataDir, "zone", cfg.Zone, "newCluster", fresh && len(cfg.Join) == 0, "clusterKey", keySrc,
		"startup", time.Since(t0).Round(time.Millisecond))
	return s, nil
}

// security is what secureOptions made of the TLS flags (nil: plain HTTP).
type security struct {
	tls      *tlsfiles.Server
	mappings []identity.Mapping
	// certs: callers identify with client certificates (want or need).
	certs bool
}

func secureOptions(cfg Config, log *slog.Logger) (*security, error) {
	if cfg.TLSCert == "" && cfg.TLSKey == "" {
		if cfg.TLSCA != "" || len(cfg.NodeIdentities) > 0 {
			return nil, errors.New("--tls-ca and --node-identity need HTTPS: give --tls-cert and --tls-key")
		}
		return nil, nil
	}
	mode := cfg.ClientAuth
	if mode == "" {
		mode = "none"
		if cfg.TLSCA != "" {
			mode = "want"
		}
	}
	auth, err := tlsfiles.ClientAuth(mode)
	if err != nil {
		return nil, err
	}
	if auth == tls.NoClientCert {
		log.Warn("HTTPS without client certificates (--client-auth none): traffic is encrypted, but every caller is anonymous with all permissions, as in an unsecured registry")
	}
	ts, err := tlsfiles.New(tlsfiles.Files{Cert: cfg.TLSCert, Key: cfg.TLSKey, CA: cfg.TLSCA, ClientAuth: auth, Log: log})
	if err != nil {
		return nil, err
	}
	sec := &security{tls: ts, certs: auth != tls.NoClientCert}
	if cfg.InitialAdmin != "" && !sec.certs {
		return nil, errors.New("--initial-admin-identity needs client certificates: give --tls-ca (and --client-auth want or need)")
	}
	for _, m := range cfg.IdentityMappings {
		im, err := identity.ParseMapping(m)
		if err != nil {
			return nil, err
		}
		sec.mappings = append(sec.mappings, im)
	}
	return sec, nil
}

// joinTLS is how a joining node reaches existing nodes that serve HTTPS.
func joinTLS(cfg Config) *tls.Config {
	if len(cfg.Join) == 0 {
		return nil
	}
	return nodeClientTLS(cfg)
}

// drHTTP is the client a standby's leader follows its primary with: over
// HTTPS it trusts --tls-ca (the system's roots without it) and presents
// this node's certificate, as the primary may require one.
func drHTTP(cfg Config) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = nodeClientTLS(cfg)
	return &http.Client{Transport: t}
}

// nodeClientTLS is how this node reaches other Weir nodes that serve
// HTTPS: it trusts --tls-ca and presents its own certificate (nil: plain
// HTTP or files that do not load, which the listener reports).
func nodeClientTLS(cfg Config) *tls.Config {
	if cfg.TLSCert == "" {
		return nil
	}
	cert, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
	if err != nil {
		return nil
	}
	c := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
	if cfg.TLSCA != "" {
		if pem, err := os.ReadFile(cfg.TLSCA); err == nil {
			pool := x509.NewCertPool()
			if pool.AppendCertsFromPEM(pem) {
				c.RootCAs = pool
			}
		}
	}
	return c
}

// openToAnonymous lets health probes through without a certificate.
func openToAnonymous(r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	switch r.URL.Path {
	case ops.Base + "/health/liveness", ops.Base + "/health/readiness",
		apidoc.Base + "/swagger.json", apidoc.Base + "/swagger.yaml":
		return true
	}
	return false
}

// s2sBase is where NiFi's site-to-site clients find it.
const s2sBase = "/nifi-api"

// rootGroupID is the id /site-to-site reports for the "root process
// group": stable for a cluster (derived one-way from its key), the same on
// every node.
func rootGroupID(key []byte) string {
	return uuid.NewSHA1(uuid.NameSpaceOID, append([]byte("weir-s2s-root:"), key...)).String()
}

func maxBody(cfg Config) int64 {
	if cfg.MaxBody > 0 {
		return cfg.MaxBody
	}
	return api.DefaultMaxBody
}

// Addr is the HTTP address the server listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Node is the cluster node.
func (s *Server) Node() *cluster.Node { return s.node }

// Backups is the backup service.
func (s *Server) Backups() *backup.Service { return s.backups }

// Store is the state store.
func (s *Server) Store() *store.Store { return s.st }

// Shutdown stops accepting requests, lets requests in flight finish (up to
// the context's deadline), leaves the cluster gracefully and closes the
// store.
func (s *Server) Shutdown(ctx context.Context) error {
	s.log.Info("shutting down")
	s.stopBackups()
	herr := s.http.Shutdown(ctx)
	_ = s.s2s.Close() // rolls back open transactions (their staged chunks are dropped)
	nerr := s.node.Shutdown()
	close(s.stopDisk)
	serr := s.st.Close()
	return errors.Join(herr, nerr, serr)
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// clusterTLS builds mutual-TLS configs for the cluster port: both sides
// present the node certificate and require one signed by the cluster CA.
func clusterTLS(cfg Config) (*tls.Config, *tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(cfg.ClusterTLSCert, cfg.ClusterTLSKey)
	if err != nil {
		return nil, nil, fmt.Errorf("cluster TLS: %w", err)
	}
	pool := x509.NewCertPool()
	if cfg.ClusterTLSCA != "" {
		pem, err := os.ReadFile(cfg.ClusterTLSCA)
		if err != nil {
			return nil, nil, fmt.Errorf("cluster TLS CA: %w", err)
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, nil, errors.New("cluster TLS CA: no certificates found")
		}
	} else {
		return nil, nil, errors.New("cluster TLS needs --cluster-tls-ca to verify peers")
	}
	server := &tls.Config{Certificates: []tls.Certificate{cert}, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12}
	client := &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: pool, MinVersion: tls.VersionTLS12,
		// Peers are addressed by raft address; verify the chain against
		// the cluster CA without requiring the address in the SAN.
		InsecureSkipVerify: true,
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			return verifyChain(raw, pool)
		},
	}
	return server, client, nil
}

func verifyChain(raw [][]byte, pool *x509.CertPool) error {
	if len(raw) == 0 {
		return errors.New("peer presented no certificate")
	}
	certs := make([]*x509.Certificate, len(raw))
	for i, r := range raw {
		c, err := x509.ParseCertificate(r)
		if err != nil {
			return err
		}
		certs[i] = c
	}
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	_, err := certs[0].Verify(x509.VerifyOptions{Roots: pool, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	return err
}

// isolationGate answers 503 to everything but health and the isolation
// API itself while a drill has cut this node off from its cluster: to
// clients (NiFi, S2S senders, load balancers) it is a node of a zone that
// is down, and they move on to the others.
// requestFresh gives the API the request's read barrier.
type requestFresh struct{ n *cluster.Node }

func (f requestFresh) ReadBarrier(ctx context.Context) error { return f.n.RequestBarrier(ctx) }

func withRequestBarrier(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		statuswriter.ServeWithContext(next, w, r, cluster.WithRequestBarrier(r.Context()))
	})
}

func isolationGate(node *cluster.Node, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if until := node.IsolatedUntil(); !until.IsZero() && r.URL.Path != cluster.IsolatePath && !strings.HasPrefix(r.URL.Path, ops.Base+"/health") {
			httpwire.WriteError(w, model.Unavailable("This node is isolated from its cluster by a drill until "+until.UTC().Format(time.RFC3339)+". Use another node.", time.Second))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// adminRequest selects the operations that need proof of the cluster key
// (package adminauth): switching maintenance, backups, recomputing the
// state hash and changing membership.
func adminRequest(r *http.Request) bool {
	p := r.URL.Path
	switch {
	case p == ops.Base+"/maintenance":
		return r.Method != http.MethodGet && r.Method != http.MethodHead
	case p == backup.Path:
		return true
	case p == cluster.AdminBase+"/local":
		return r.URL.Query().Has("recompute")
	case strings.HasPrefix(p, cluster.AdminBase+"/"):
		return r.Method != http.MethodGet && r.Method != http.MethodHead
	case p == relay.AdminPath || strings.HasPrefix(p, relay.AdminPath+"/"):
		return r.Method != http.MethodGet && r.Method != http.MethodHead
	case p == dr.EntriesPath, strings.HasPrefix(p, dr.ContentPath):
		return true // the whole log, and the content it refers to
	case strings.HasPrefix(p, dr.Path+"/"):
		return r.Method != http.MethodGet && r.Method != http.MethodHead
	case p == hooks.RetryPath:
		return true
	}
	return false
}

// contentEvery is how often a node compares its bundle content files with
// the content the state refers to (blobs.Keeper).
const contentEvery = 2 * time.Second

// eventsFirst proposes the registry's changes once the event outbox is
// on (hooks.Runner.EnsureStarted), so every change has its event.
type eventsFirst struct {
	*cluster.Node
	hk *hooks.Runner
}

func (e eventsFirst) Propose(ctx context.Context, c command.Command) (any, error) {
	e.hk.EnsureStarted(ctx)
	return e.Node.Propose(ctx, c)
}

// hostSet is the host[:port] names this node answers to.
type hostSet map[string]bool

func (h hostSet) has(host string) bool { return h[strings.ToLower(host)] }

func (h hostSet) names() []string {
	out := make([]string, 0, len(h))
	for k := range h {
		out = append(out, k)
	}
	return out
}

// ownHosts lists the names a client may use for this node: the advertised
// URL's host, the listen address (every interface address when it listens
// on all of them), localhost and the machine's host name at the listen
// port, and --allowed-hosts. Signed operations must name one of them.
func ownHosts(cfg Config, addr net.Addr) hostSet {
	h := hostSet{}
	add := func(host, port string) {
		if host == "" {
			return
		}
		host = strings.ToLower(host)
		if port == "" {
			h[host] = true
			return
		}
		h[net.JoinHostPort(host, port)] = true
	}
	_, port, _ := net.SplitHostPort(addr.String())
	if u, err := url.Parse(cfg.Advertise); err == nil && u.Host != "" {
		h[strings.ToLower(u.Host)] = true
		add(u.Hostname(), u.Port())
	}
	tcp, _ := addr.(*net.TCPAddr)
	if tcp != nil && !tcp.IP.IsUnspecified() {
		add(tcp.IP.String(), port)
		if tcp.IP.IsLoopback() {
			add("localhost", port)
		}
	} else {
		add("localhost", port)
		if addrs, err := net.InterfaceAddrs(); err == nil {
			for _, a := range addrs {
				if ipn, ok := a.(*net.IPNet); ok {
					add(ipn.IP.String(), port)
				}
			}
		}
	}
	if name, err := os.Hostname(); err == nil {
		add(name, port)
		add(name, "")
	}
	for _, a := range cfg.AllowedHosts {
		a = strings.TrimSpace(a)
		if a != "" && a != "*" {
			h[strings.ToLower(a)] = true
		}
	}
	return h
}

// gates refuses writes when any of its gates does (maintenance, a disk
// failure, a DR standby).
type gates []api.Gate

func (g gates) WritesRefused() error {
	for _, x := range g {
		if err := x.WritesRefused(); err != nil {
			return err
		}
	}
	return nil
}
