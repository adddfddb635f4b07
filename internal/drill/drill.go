// Package drill runs failure drills against a running deployment and
// measures what clients saw: a canary writer (registry commits and
// site-to-site pushes) runs while a zone's nodes are isolated from their
// cluster (zone-loss) or the whole primary is and its standby promoted
// (failover); the drill reports RTO (from the fault until writes started
// after it were acknowledged again) and RPO (acknowledged canary data
// missing afterwards), then restores the original layout. Isolation cuts
// a node's cluster traffic and turns its API away (cluster.Node.Isolate);
// nothing on disk is touched, and an isolation ends by itself at its
// deadline if the drill dies. See docs/dr.md (drills).
package drill

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/weir-nifi/weir/internal/client"
	"github.com/weir-nifi/weir/internal/cluster"
	"github.com/weir-nifi/weir/internal/model"
	"github.com/weir-nifi/weir/internal/s2s/relay"
	"github.com/weir-nifi/weir/sitetosite"
)

// Options are shared by the drills.
type Options struct {
	// HTTP sends every request (a client with no timeout of its own:
	// each request has a deadline).
	HTTP *http.Client
	// Sign proves the cluster key (isolating nodes, ports, DR).
	Sign client.Signer
	// Hold is how long the fault goes on after the canary recovered
	// (default 5 s).
	Hold time.Duration
	// Timeout bounds each wait: for recovery, for the layout to come
	// back (default 60 s).
	Timeout time.Duration
	// Interval is the pause between a canary writer's operations
	// (default 20 ms); OpTimeout bounds one operation (default 5 s).
	Interval, OpTimeout time.Duration
	// Progress is told each step (nil: silent).
	Progress func(string)
}

func (o *Options) defaults() {
	if o.HTTP == nil {
		o.HTTP = http.DefaultClient
	}
	if o.Hold <= 0 {
		o.Hold = 5 * time.Second
	}
	if o.Timeout <= 0 {
		o.Timeout = 60 * time.Second
	}
	if o.Interval <= 0 {
		o.Interval = 20 * time.Millisecond
	}
	if o.OpTimeout <= 0 {
		o.OpTimeout = 5 * time.Second
	}
	if o.Progress == nil {
		o.Progress = func(string) {}
	}
}

// Report is what a drill measured.
type Report struct {
	Scenario string `json:"scenario"` // zone-loss | failover
	Zone     string `json:"zone,omitempty"`
	// Isolated lists the nodes made unavailable (ids, or URLs for a
	// primary cluster's nodes).
	Isolated     []string `json:"isolated"`
	LeaderBefore string   `json:"leaderBefore,omitempty"`
	LeaderAfter  string   `json:"leaderAfter,omitempty"`
	// RTOMs is the longer of the canaries' recovery times.
	RTOMs float64 `json:"rtoMs"`
	// RPO counts acknowledged canary items missing afterwards (registry
	// versions plus flowfiles).
	RPO       int     `json:"rpo"`
	Registry  Canary  `json:"registry"`
	S2S       Canary  `json:"s2s"`
	PromoteMs float64 `json:"promoteMs,omitempty"`
	// Restored is true once the original layout is back (every node a
	// member as before; for failover, the old primary primary again and
	// the standby following it).
	Restored  bool    `json:"restored"`
	RestoreMs float64 `json:"restoreMs,omitempty"`
	Steps     []Step  `json:"steps"`
}

// Canary is one writer's account.
type Canary struct {
	Acknowledged int `json:"acknowledged"`
	Failed       int `json:"failed"`
	// Missing counts acknowledged items absent afterwards (the RPO).
	Missing int `json:"missing"`
	// Duplicates counts items present more than once (at-least-once
	// delivery allows them; the stable id attribute tells them apart).
	Duplicates int `json:"duplicates,omitempty"`
	// RTOMs: from the fault to the first acknowledgement of an operation
	// started after it.
	RTOMs     float64 `json:"rtoMs"`
	LastError string  `json:"lastError,omitempty"`
}

// Step is one stage of the drill, at its offset from the fault.
type Step struct {
	Name string  `json:"name"`
	AtMs float64 `json:"atMs"`
}

func ms(d time.Duration) float64 { return math.Round(float64(d.Microseconds())/10) / 100 }

// run is one drill in progress.
type run struct {
	o      Options
	rep    *Report
	fault  time.Time
	marker string

	bucket, flow string
	in, out      string // port ids
	portName     string

	reg *registryCanary
	s2s *s2sCanary
	wg  sync.WaitGroup
	// stop ends the canaries.
	stop context.CancelFunc
}

func (r *run) step(name string) {
	at := 0.0
	if !r.fault.IsZero() {
		at = ms(time.Since(r.fault))
	}
	r.rep.Steps = append(r.rep.Steps, Step{Name: name, AtMs: at})
	r.o.Progress(fmt.Sprintf("%8.0f ms  %s", at, name))
}

// admin sends an operations request to the node at base.
func (r *run) admin(ctx context.Context, base, method, path string, in, out any) error {
	ctx, cancel := context.WithTimeout(ctx, r.o.OpTimeout)
	defer cancel()
	return client.Admin(ctx, r.o.HTTP, r.o.Sign, base, method, path, in, out)
}

// anyNode tries fn on each URL in turn until one succeeds.
func anyNode(urls []string, fn func(string) error) error {
	var errs []error
	for _, u := range urls {
		err := fn(u)
		if err == nil {
			return nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", u, err))
	}
	return errors.Join(errs...)
}

// status asks the nodes at urls for the cluster status.
func (r *run) status(ctx context.Context, urls []string) (cluster.Status, error) {
	return anyNodeGet[cluster.Status](ctx, r, urls, cluster.AdminBase+"/status")
}

// anyNodeGet reads an operations path from the first node at urls that
// answers.
func anyNodeGet[T any](ctx context.Context, r *run, urls []string, path string) (T, error) {
	var v T
	err := anyNode(urls, func(u string) error {
		return r.admin(ctx, u, http.MethodGet, path, nil, &v)
	})
	return v, err
}

// setup creates the canary's bucket, flow and ports through the nodes at
// urls (writes go to any node).
func (r *run) setup(ctx context.Context, urls []string) error {
	r.marker = "weir-drill-" + uuid.NewString()[:8]
	r.portName = r.marker
	return anyNode(urls, func(u string) error {
		cl := client.New(u)
		cl.HTTP = r.o.HTTP
		octx, cancel := context.WithTimeout(ctx, r.o.OpTimeout)
		defer cancel()
		if r.bucket == "" {
			b, err := cl.CreateBucket(octx, model.Bucket{Name: model.Str(r.marker), Description: model.Str("weir drill canary; deleted when the drill ends")}, false)
			if err != nil {
				return err
			}
			r.bucket = *b.Identifier
		}
		if r.flow == "" {
			f, err := cl.CreateFlow(octx, r.bucket, model.VersionedFlow{Name: model.Str("canary")})
			if err != nil {
				return err
			}
			r.flow = *f.Identifier
		}
		if r.in == "" {
			var p relay.PortStatus
			if err := r.admin(ctx, u, http.MethodPost, relay.AdminPath, relay.CreateRequest{Name: r.portName, Kind: "input", Comments: "weir drill canary"}, &p); err != nil {
				return err
			}
			r.in = p.ID
		}
		if r.out == "" {
			var p relay.PortStatus
			if err := r.admin(ctx, u, http.MethodPost, relay.AdminPath, relay.CreateRequest{Name: r.portName + "-out", Kind: "output", From: r.in}, &p); err != nil {
				return err
			}
			r.out = p.ID
		}
		return nil
	})
}

// cleanup deletes what setup created (best effort: a drill that cannot
// clean up says so, and the names start with weir-drill-).
func (r *run) cleanup(ctx context.Context, urls []string) error {
	return anyNode(urls, func(u string) error {
		var errs []error
		for _, id := range []string{r.out, r.in} {
			if id == "" {
				continue
			}
			err := r.admin(ctx, u, http.MethodDelete, relay.AdminPath+"/"+id+"?force=true", nil, nil)
			if client.StatusOf(err) == http.StatusNotFound {
				err = nil
			}
			errs = append(errs, err)
		}
		if r.bucket != "" {
			cl := client.New(u)
			cl.HTTP = r.o.HTTP
			octx, cancel := context.WithTimeout(ctx, r.o.OpTimeout)
			err := cl.DeleteBucket(octx, r.bucket)
			cancel()
			if client.StatusOf(err) == http.StatusNotFound {
				err = nil
			}
			errs = append(errs, err)
		}
		return errors.Join(errs...)
	})
}

// startCanaries starts both writers: registry commits through regURLs,
// pushes to the clusters (primary first) with the site-to-site client.
func (r *run) startCanaries(regURLs []string, clusters [][]string) error {
	remote, err := sitetosite.New(sitetosite.Config{
		Clusters: clusters, Port: r.in, HTTP: r.o.HTTP,
		Penalty: time.Second, PeerRefresh: 5 * time.Second, FailBack: time.Hour,
	})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.stop = cancel
	r.reg = &registryCanary{canary: newCanary(), urls: regURLs, hc: r.o.HTTP, bucket: r.bucket, flow: r.flow,
		interval: r.o.Interval, opTimeout: r.o.OpTimeout, marker: r.marker}
	r.s2s = &s2sCanary{canary: newCanary(), remote: remote, interval: r.o.Interval, opTimeout: r.o.OpTimeout}
	r.wg.Add(2)
	go func() { defer r.wg.Done(); r.reg.run(ctx) }()
	go func() { defer r.wg.Done(); r.s2s.run(ctx) }()
	return nil
}

func (r *run) stopCanaries() {
	if r.stop != nil {
		r.stop()
		r.wg.Wait()
		r.stop = nil
	}
}

// warmUp waits until both canaries have been acknowledged a few times:
// the deployment works before the fault.
func (r *run) warmUp() error {
	deadline := time.Now().Add(r.o.Timeout)
	for r.reg.okCount() < 5 || r.s2s.okCount() < 5 {
		if time.Now().After(deadline) {
			return fmt.Errorf("the canary does not work before the fault: %d commits and %d pushes acknowledged (last errors: %q, %q)",
				r.reg.okCount(), r.s2s.okCount(), r.reg.lastErr, r.s2s.lastErr)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil
}

// awaitRecovery waits until both canaries were acknowledged for an
// operation started after the fault, and sets the RTOs.
func (r *run) awaitRecovery() error {
	deadline := time.Now().Add(r.o.Timeout)
	for {
		rt, rok := r.reg.recovered(r.fault)
		st, sok := r.s2s.recovered(r.fault)
		if rok && sok {
			r.rep.Registry.RTOMs = ms(rt.Sub(r.fault))
			r.rep.S2S.RTOMs = ms(st.Sub(r.fault))
			r.rep.RTOMs = max(r.rep.Registry.RTOMs, r.rep.S2S.RTOMs)
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no recovery within %v: registry recovered=%v, site-to-site recovered=%v (last errors: %q, %q)",
				r.o.Timeout, rok, sok, r.reg.lastErr, r.s2s.lastErr)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// verify compares what the canaries were told with what the nodes at
// regURLs hold (each must hold every acknowledged version) and what the
// output port yields through clusters.
func (r *run) verify(ctx context.Context, regURLs []string, clusters [][]string) error {
	var views []map[int]int
	for _, u := range regURLs {
		octx, cancel := context.WithTimeout(ctx, r.o.OpTimeout)
		v, err := r.reg.present(octx, u)
		cancel()
		if err != nil {
			return fmt.Errorf("read the canary's versions on %s: %w", u, err)
		}
		views = append(views, v)
	}
	r.rep.Registry = withRTO(r.reg.result(merge(views), r.fault), r.rep.Registry.RTOMs)
	out, err := sitetosite.New(sitetosite.Config{Clusters: clusters, Port: r.out, HTTP: r.o.HTTP, Penalty: time.Second, FailBack: time.Hour})
	if err != nil {
		return err
	}
	octx, cancel := context.WithTimeout(ctx, r.o.Timeout)
	got, err := drain(octx, out)
	cancel()
	if err != nil {
		return fmt.Errorf("pull the canary's flowfiles: %w", err)
	}
	r.rep.S2S = withRTO(r.s2s.result(got, r.fault), r.rep.S2S.RTOMs)
	r.rep.RPO = r.rep.Registry.Missing + r.rep.S2S.Missing
	return nil
}

func withRTO(c Canary, rto float64) Canary {
	c.RTOMs = rto
	return c
}

// isolate cuts the nodes at urls off their cluster for long enough for
// the drill; the isolation ends by itself after that.
func (r *run) isolate(ctx context.Context, urls []string) error {
	secs := int((2*r.o.Timeout+r.o.Hold)/time.Second) + 30
	var wg sync.WaitGroup
	errs := make([]error, len(urls))
	for i, u := range urls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = r.admin(ctx, u, http.MethodPost, cluster.IsolatePath, cluster.IsolateRequest{Seconds: secs}, nil)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// rejoin ends the isolation of the nodes at urls.
func (r *run) rejoin(ctx context.Context, urls []string) error {
	var errs []error
	for _, u := range urls {
		errs = append(errs, r.admin(ctx, u, http.MethodDelete, cluster.IsolatePath, nil, nil))
	}
	return errors.Join(errs...)
}

// maxLayoutLag is how far behind a returned node may be and count as
// back: the canary goes on writing meanwhile, so "no lag at all" may
// never be seen; the verification afterwards reads every node
// linearizably.
const maxLayoutLag = 64

// waitLayout waits until the cluster at urls has every member of before
// back with its suffrage, reachable and caught up, under a leader.
func (r *run) waitLayout(ctx context.Context, urls []string, before cluster.Status) (cluster.Status, error) {
	want := map[string]string{}
	for _, m := range before.Members {
		want[m.ID] = m.Suffrage
	}
	deadline := time.Now().Add(r.o.Timeout)
	for {
		st, err := r.status(ctx, urls)
		why := ""
		switch {
		case err != nil:
			why = err.Error()
		case !st.HasQuorum || st.LeaderID == "":
			why = "no leader"
		default:
			for _, m := range st.Members {
				if s, ok := want[m.ID]; ok && (s != m.Suffrage || !m.Reachable || m.Lag > maxLayoutLag) {
					why = fmt.Sprintf("%s: %s, reachable=%v, lag %d", m.ID, m.Suffrage, m.Reachable, m.Lag)
					break
				}
			}
			if why == "" && len(st.Members) < len(want) {
				why = fmt.Sprintf("%d of %d members", len(st.Members), len(want))
			}
		}
		if why == "" {
			return st, nil
		}
		if time.Now().After(deadline) {
			return st, fmt.Errorf("the original layout did not come back within %v: %s", r.o.Timeout, why)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func splitClean(urls []string) []string {
	var out []string
	for _, u := range urls {
		if u = strings.TrimRight(strings.TrimSpace(u), "/"); u != "" {
			out = append(out, u)
		}
	}
	return out
}
