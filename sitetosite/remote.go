package sitetosite

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
)

// IDAttribute is the attribute Remote.Send gives each flowfile that has
// none: a stable id, the same on every retry, so that a receiver can drop
// the duplicates that at-least-once delivery allows (NiFi's
// DetectDuplicate on ${weir.s2s.id}). NiFi replaces a received flowfile's
// uuid, so uuid cannot serve.
const IDAttribute = "weir.s2s.id"

// Config configures a Remote. Clusters and Port are required.
type Config struct {
	// Clusters lists the remote clusters in order of preference (the
	// primary, then standbys), each as the URLs of some of its nodes
	// (scheme://host:port, /nifi or /nifi-api may follow).
	Clusters [][]string
	// Port is the remote port's name or id.
	Port string
	// CacheDir keeps each cluster's last known peers and port ids, so
	// that the client works while every configured URL of a cluster is
	// down ("" keeps them in memory only).
	CacheDir string
	// HTTP is the client for every request (http.DefaultClient when nil);
	// set its Timeout or pass contexts with deadlines.
	HTTP *http.Client
	// Compress, BatchCount, BatchBytes and BatchDuration are as in
	// Client.
	Compress      bool
	BatchCount    int
	BatchBytes    int64
	BatchDuration time.Duration
	// Penalty keeps a failed peer out of picks (default 3 s, NiFi's).
	Penalty time.Duration
	// PeerRefresh is how old the peer list may get before it is fetched
	// again (default 60 s, NiFi's PEER_CACHE_MILLIS).
	PeerRefresh time.Duration
	// FailBack is how long after moving to a less preferred cluster the
	// client tries the preferred ones again (default 30 s).
	FailBack time.Duration
	// Log receives failovers and failures (nothing when nil).
	Log *slog.Logger
	// Now is the clock (tests).
	Now func() time.Time
}

// Remote sends to and receives from a port of a remote cluster, or of the
// first of several clusters that answers: it picks peers by NiFi's
// weights, penalizes the ones that fail, tries the next peer and then the
// next cluster, remembers every cluster's peers on disk, and goes back to
// a preferred cluster once FailBack has passed. Safe for concurrent use.
type Remote struct {
	cfg      Config
	clusters []*remoteCluster

	mu     sync.Mutex
	active int       // the cluster last used successfully
	since  time.Time // when active became a less preferred one
}

type remoteCluster struct {
	urls      []string
	key       string // the URL string as configured, as NiFi keys its cache
	cachePath string
	sel       *selector

	mu         sync.Mutex
	controller string
	ports      map[portKey]string
	restored   bool
}

// New checks cfg and restores the clusters' peer caches.
func New(cfg Config) (*Remote, error) {
	if len(cfg.Clusters) == 0 || cfg.Port == "" {
		return nil, errors.New("site-to-site: a remote needs at least one cluster URL and a port")
	}
	if cfg.HTTP == nil {
		cfg.HTTP = http.DefaultClient
	}
	if cfg.Penalty <= 0 {
		cfg.Penalty = 3 * time.Second
	}
	if cfg.PeerRefresh <= 0 {
		cfg.PeerRefresh = 60 * time.Second
	}
	if cfg.FailBack <= 0 {
		cfg.FailBack = 30 * time.Second
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	r := &Remote{cfg: cfg}
	for i, urls := range cfg.Clusters {
		var clean []string
		for _, u := range urls {
			if u = strings.TrimSpace(u); u != "" {
				clean = append(clean, baseURL(u))
			}
		}
		if len(clean) == 0 {
			return nil, fmt.Errorf("site-to-site: cluster %d has no URL", i+1)
		}
		c := &remoteCluster{urls: clean, key: strings.Join(clean, ","), sel: newSelector(), ports: map[portKey]string{}}
		if cfg.CacheDir != "" {
			c.cachePath = cachePath(cfg.CacheDir, c.key)
			if pc, err := loadCache(c.cachePath, c.key); err == nil {
				c.sel.set(pc.Peers, time.Time{})
				c.controller, c.ports, c.restored = pc.Controller, pc.Ports, true
			} else if !errors.Is(err, os.ErrNotExist) {
				cfg.Log.Warn("site-to-site: peer cache not used", "file", c.cachePath, "err", err)
			}
		}
		r.clusters = append(r.clusters, c)
	}
	return r, nil
}

// baseURL strips what NiFi users append to a remote URL (/nifi,
// /nifi-api, a trailing slash): this package adds /nifi-api itself.
func baseURL(u string) string {
	u = strings.TrimRight(u, "/")
	for _, suffix := range []string{"/nifi-api", "/nifi"} {
		u = strings.TrimSuffix(u, suffix)
	}
	return u
}

// Delivery tells where a Send or Receive went.
type Delivery struct {
	// Cluster is the index in Config.Clusters of the cluster used.
	Cluster int
	// Peer is the node that took the transaction.
	Peer Peer
	// Backoff is true when the remote asked senders to slow down ({14}).
	Backoff bool
	// Attempts counts the transactions tried, the successful one included.
	Attempts int
}

// Send pushes files to the port in one transaction, on the first peer and
// cluster that takes it. Each file without IDAttribute gets one (in its
// Attributes, which Send creates when nil), kept across retries. A file
// streamed from Reader is retried only if Reader is an io.Seeker (it is
// rewound). An error means no peer of any cluster confirmed the files;
// a confirmation lost on the way may still have stored them, which is what
// IDAttribute is for.
func (r *Remote) Send(ctx context.Context, files []FlowFile) (Delivery, error) {
	for i := range files {
		if files[i].Attributes == nil {
			files[i].Attributes = map[string]string{}
		}
		if files[i].Attributes[IDAttribute] == "" {
			files[i].Attributes[IDAttribute] = uuid.NewString()
		}
	}
	var d Delivery
	err := r.each(ctx, Send, &d, func(c *Client, port string) error {
		if d.Attempts > 1 {
			if err := rewind(files); err != nil {
				return errors.Join(errNoRetry, err)
			}
		}
		backoff, err := c.Send(ctx, port, files)
		d.Backoff = backoff
		return err
	})
	return d, err
}

// Receive pulls one transaction's worth of flowfiles from the port, from
// the first peer and cluster that answers (see Client.Receive for keep).
// It returns how many flowfiles keep accepted (0 when the port had none).
func (r *Remote) Receive(ctx context.Context, keep func([]FlowFile) error) (int, Delivery, error) {
	var d Delivery
	n := 0
	err := r.each(ctx, Receive, &d, func(c *Client, port string) error {
		var err error
		n, err = c.Receive(ctx, port, func(ffs []FlowFile) error {
			if err := keep(ffs); err != nil {
				// The caller refused them: the transaction is
				// cancelled and they stay queued; no other peer.
				return errors.Join(errNoRetry, err)
			}
			return nil
		})
		return err
	})
	return n, d, err
}

var errNoRetry = errors.New("not retried")

func rewind(files []FlowFile) error {
	for _, f := range files {
		if f.Reader == nil {
			continue
		}
		s, ok := f.Reader.(io.Seeker)
		if !ok {
			return errors.New("site-to-site: a flowfile streamed from a reader that cannot seek is not sent again")
		}
		if _, err := s.Seek(0, io.SeekStart); err != nil {
			return err
		}
	}
	return nil
}

// each runs tx on peers, cluster by cluster from the preferred one (or
// the one in use, until FailBack has passed), until one succeeds.
func (r *Remote) each(ctx context.Context, dir Direction, d *Delivery, tx func(*Client, string) error) error {
	now := r.cfg.Now()
	r.mu.Lock()
	start := r.active
	if start > 0 && now.Sub(r.since) >= r.cfg.FailBack {
		start = 0 // try the preferred clusters again
	}
	r.mu.Unlock()
	// From start to the last cluster, then (wrapped around from a less
	// preferred one) the preferred ones before giving up.
	var errs []error
	for k := range r.clusters {
		i := (start + k) % len(r.clusters)
		if err := ctx.Err(); err != nil {
			return err
		}
		c := r.clusters[i]
		err := r.onCluster(ctx, c, dir, d, tx)
		if err == nil {
			d.Cluster = i
			r.use(i, now)
			return nil
		}
		if errors.Is(err, errNoRetry) {
			return err
		}
		errs = append(errs, fmt.Errorf("cluster %d (%s): %w", i+1, c.key, err))
		if k+1 < len(r.clusters) {
			r.cfg.Log.Warn("site-to-site: cluster unavailable, trying the next", "cluster", c.key, "err", err)
		}
	}
	return fmt.Errorf("site-to-site: no cluster took the transaction: %w", errors.Join(errs...))
}

func (r *Remote) use(i int, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if i != r.active {
		if i > r.active {
			r.cfg.Log.Warn("site-to-site: failed over", "to", r.clusters[i].key, "from", r.clusters[r.active].key)
		} else {
			r.cfg.Log.Info("site-to-site: back on a preferred cluster", "to", r.clusters[i].key)
		}
		r.active = i
	}
	if i > 0 {
		if r.since.IsZero() || now.Sub(r.since) >= r.cfg.FailBack {
			r.since = now
		}
	} else {
		r.since = time.Time{}
	}
}

// onCluster tries tx on the cluster's peers until one succeeds or every
// peer is penalized.
func (r *Remote) onCluster(ctx context.Context, c *remoteCluster, dir Direction, d *Delivery, tx func(*Client, string) error) error {
	if err := r.refresh(ctx, c, false); err != nil && len(c.sel.known()) == 0 {
		return err
	}
	port, err := r.portID(ctx, c, dir)
	if err != nil {
		return err
	}
	var last error
	refreshed := false
	for {
		p, ok := c.sel.pick(dir, r.cfg.Now())
		if !ok {
			// Every known peer failed lately: the list may be stale.
			if !refreshed {
				refreshed = true
				if r.refresh(ctx, c, true) == nil {
					continue
				}
			}
			if last == nil {
				last = errors.New("every known peer is penalized")
			}
			return last
		}
		d.Attempts++
		d.Peer = p
		err := tx(r.client(p), port)
		if err == nil {
			if dir == Send && d.Backoff {
				c.sel.penalize(p, r.cfg.Now(), r.cfg.Penalty) // {14}: NiFi penalizes too
			}
			return nil
		}
		if errors.Is(err, errNoRetry) || ctx.Err() != nil {
			return err
		}
		r.cfg.Log.Info("site-to-site: peer failed, penalized", "peer", p.String(), "err", err)
		c.sel.penalize(p, r.cfg.Now(), r.cfg.Penalty)
		last = fmt.Errorf("%s: %w", p, err)
		var se *Error
		if errors.As(err, &se) && se.Status == http.StatusNotFound {
			// Perhaps the port's id changed (recreated): look it up again.
			c.mu.Lock()
			delete(c.ports, portKey{input: dir == Send, name: r.cfg.Port})
			c.mu.Unlock()
			if port, err = r.portID(ctx, c, dir); err != nil {
				return err
			}
		}
	}
}

func (r *Remote) client(p Peer) *Client {
	return &Client{URL: p.URL(), HTTP: r.cfg.HTTP, Compress: r.cfg.Compress, BatchCount: r.cfg.BatchCount, BatchBytes: r.cfg.BatchBytes, BatchDuration: r.cfg.BatchDuration}
}

// refresh fetches the cluster's peers when the list is empty or older than
// PeerRefresh (or when forced): /peers from every known peer and every
// configured URL, the union of the answers; an empty answer counts as a
// failure, and when all fail the list stays as it was (NiFi's rules,
// s2s-protocol.md §7.1). A node that names another controller than the one
// cached means the URLs now lead to another cluster: what was cached goes.
func (r *Remote) refresh(ctx context.Context, c *remoteCluster, force bool) error {
	now := r.cfg.Now()
	c.sel.mu.Lock()
	fresh := !c.sel.refreshed.IsZero() && now.Sub(c.sel.refreshed) < r.cfg.PeerRefresh && len(c.sel.peers) > 0
	c.sel.mu.Unlock()
	if fresh && !force {
		return nil
	}
	targets := append([]string(nil), c.urls...)
	for _, p := range c.sel.known() {
		if u := peerOf(p).URL(); !slices.Contains(targets, u) {
			targets = append(targets, u)
		}
	}
	var union []PeerStatus
	seen := map[Peer]bool{}
	var errs []error
	controller := ""
	for _, u := range targets {
		cl := &Client{URL: u, HTTP: r.cfg.HTTP}
		if controller == "" {
			site, err := cl.Site(ctx)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", u, err))
				continue
			}
			controller = site.ID
			r.learnPorts(c, site)
		}
		peers, err := cl.Peers(ctx)
		if err == nil && len(peers) == 0 {
			err = errors.New("returned zero peers")
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", u, err))
			continue
		}
		for _, p := range peers {
			if k := peerOf(p); !seen[k] {
				seen[k] = true
				union = append(union, p)
			}
		}
	}
	if len(union) == 0 {
		return fmt.Errorf("no peer list: %w", errors.Join(errs...))
	}
	c.mu.Lock()
	if c.controller != "" && controller != "" && c.controller != controller {
		r.cfg.Log.Warn("site-to-site: the URLs lead to another cluster now; cached peers and ports dropped", "cluster", c.key, "was", c.controller, "now", controller)
		c.ports = map[portKey]string{}
	}
	if controller != "" {
		c.controller = controller
	}
	c.mu.Unlock()
	c.sel.set(union, now)
	r.save(c)
	return nil
}

func (r *Remote) learnPorts(c *remoteCluster, site Controller) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range site.InputPorts {
		c.ports[portKey{input: true, name: p.Name}] = p.ID
	}
	for _, p := range site.OutputPorts {
		c.ports[portKey{input: false, name: p.Name}] = p.ID
	}
}

// portID resolves Config.Port on the cluster: a known name, else a known
// id, else /site-to-site from a peer or URL (and the cache is updated).
func (r *Remote) portID(ctx context.Context, c *remoteCluster, dir Direction) (string, error) {
	input := dir == Send
	lookup := func() (string, bool) {
		c.mu.Lock()
		defer c.mu.Unlock()
		if id, ok := c.ports[portKey{input: input, name: r.cfg.Port}]; ok {
			return id, true
		}
		for k, id := range c.ports {
			if k.input == input && id == r.cfg.Port {
				return id, true
			}
		}
		return "", false
	}
	if id, ok := lookup(); ok {
		return id, nil
	}
	targets := append([]string(nil), c.urls...)
	for _, p := range c.sel.known() {
		targets = append(targets, peerOf(p).URL())
	}
	var errs []error
	for _, u := range targets {
		site, err := (&Client{URL: u, HTTP: r.cfg.HTTP}).Site(ctx)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		r.learnPorts(c, site)
		if id, ok := lookup(); ok {
			r.save(c)
			return id, nil
		}
		kind := "output"
		if input {
			kind = "input"
		}
		return "", fmt.Errorf("%w: no %s port named %q at %s", errNoPort, kind, r.cfg.Port, u)
	}
	return "", fmt.Errorf("cannot list the ports: %w", errors.Join(errs...))
}

var errNoPort = errors.New("site-to-site: unknown port")

// save writes the cluster's known peers, controller and ports to its
// cache file (when it has one and knows a peer).
func (r *Remote) save(c *remoteCluster) {
	if c.cachePath == "" {
		return
	}
	peers := c.sel.known()
	if len(peers) == 0 {
		return
	}
	c.mu.Lock()
	pc := peerCache{URLs: c.key, Peers: peers, Controller: c.controller, Ports: maps.Clone(c.ports)}
	c.mu.Unlock()
	if err := saveCache(c.cachePath, pc); err != nil {
		r.cfg.Log.Warn("site-to-site: cannot save the peer cache", "file", c.cachePath, "err", err)
	}
}
