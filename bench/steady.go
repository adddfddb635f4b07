package bench

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"
)

// steadyRecycle is how many versions a client of measurement k commits
// to a flow before it deletes the flow and starts a new one, so the data
// stays bounded: ten minutes of 64 KB versions at a few hundred per second
// is 30-40 GB on each node, which filled this machine's disk (the nodes
// then refused writes with 507 and the run measured the disk, not
// leadership). The deletes are writes like the commits and count alike.
const steadyRecycle = 400

// Steady is measurement k (issue 13, item 4): does leadership stay put
// under a saturating load, whichever way the cluster was formed? A 3-node
// cluster in three zones is formed with --join (the first node started
// alone, the README's way) and, separately, with one --bootstrap list;
// Opts.SteadyClients clients each commit new versions of their own flow,
// closed loop, through every node in turn (client c through node c mod 3:
// followers forward to the leader) for Opts.SteadyFor. Reported per form:
// commits, errors by kind (a 503 is an error), and the leader changes
// (the Raft term on each node before and after; any election raises it).
// The goal is none of either.
func (r *Runner) Steady(ctx context.Context) ([]Result, error) {
	b, err := r.Bodies()
	if err != nil {
		return nil, err
	}
	var out []Result
	for _, form := range []string{"join", "bootstrap"} {
		res, err := r.steadyRun(ctx, b, form)
		if err != nil {
			return out, fmt.Errorf("%s: %w", form, err)
		}
		out = append(out, res)
	}
	return out, nil
}

func (r *Runner) steadyRun(ctx context.Context, b *Bodies, form string) (Result, error) {
	zone := func(i int) []string { return []string{"--zone", fmt.Sprintf("z%d", i)} }
	var wc *WeirCluster
	var err error
	if form == "join" {
		wc, err = r.Env.StartWeirJoined("s", "127.0.2.", 3, zone)
	} else {
		wc, err = r.Env.StartWeirClusterWith("s", "127.0.2.", 3, zone)
	}
	if err != nil {
		if wc != nil {
			wc.Stop()
		}
		return Result{}, err
	}
	defer wc.Destroy()
	k := r.Opts.SteadyClients
	l, err := wc.Leader()
	if err != nil {
		return Result{}, err
	}
	flows, err := (&API{Base: l.API, HC: NewHTTPClient(k, 60*time.Second)}).CreateFlows(ctx, k)
	if err != nil {
		return Result{}, err
	}
	apis := make([]*API, len(wc.Nodes))
	for i, n := range wc.Nodes {
		apis[i] = &API{Base: n.API, HC: NewHTTPClient(k, 60*time.Second)}
	}
	before, err := wc.Terms()
	if err != nil {
		return Result{}, err
	}
	var mu sync.Mutex
	kinds := map[string]int{}
	op := func(ctx context.Context, c, seq int) error {
		a := apis[c%len(apis)]
		var err error
		if seq > 0 && seq%steadyRecycle == 0 {
			err = a.DeleteFlow(ctx, flows[c])
			if err == nil {
				var id string
				if id, err = a.CreateFlow(ctx, flows[c].Bucket, fmt.Sprintf("flow-%03d-%d", c, seq)); err == nil {
					flows[c].ID = id
				}
			}
		}
		if err == nil {
			err = a.Commit(ctx, flows[c], b.Get(c, seq))
		}
		if err != nil {
			mu.Lock()
			kinds[errorKind(err)]++
			mu.Unlock()
		}
		return err
	}
	st := RunFor(ctx, k, r.Opts.Warmup, r.Opts.SteadyFor, op)
	after, err := wc.Terms()
	if err != nil {
		return Result{}, err
	}
	changes := uint64(0)
	for id, t := range after {
		changes = max(changes, t-before[id])
	}
	r.Env.logf("k. %s: %v; terms %v → %v; errors by kind %v", form, st, before, after, kinds)
	var ks []string
	for k, n := range kinds {
		ks = append(ks, fmt.Sprintf("%d× %s", n, k))
	}
	sort.Strings(ks)
	errs := "none"
	if len(ks) > 0 {
		errs = strings.Join(ks, "; ")
	}
	return Result{ID: "k",
		Name: fmt.Sprintf("3 nodes formed with --%s, %d clients committing through every node for %v (each starts a new flow every %d versions)", form, k, r.Opts.SteadyFor, steadyRecycle),
		Weir: fmt.Sprintf("%s (p50 %s, p99 %s); leader changes %d; errors: %s", fmtRate(st), fmtMs(st.P50), fmtMs(st.P99), changes, errs),
		Goal: "no leader change, no error", Met: yesNo(changes == 0 && st.Errors == 0 && len(kinds) == 0),
		Values: map[string]float64{"ops_per_s": st.Throughput, "leader_changes": float64(changes), "errors": float64(st.Errors)},
	}, nil
}

// errorKind is an error's class for the report: the HTTP status and the
// start of the message, or the transport error.
func errorKind(err error) string {
	s := err.Error()
	if i := strings.Index(s, ": "); i >= 0 && strings.HasPrefix(s, "POST ") {
		s = s[i+2:]
	}
	return s[:min(len(s), 80)]
}

// StartWeirJoined forms a cluster the README's way: node 1 starts alone,
// then nodes 2..n start with --join node 1; it waits until all n are
// voters and caught up.
func (e *Env) StartWeirJoined(prefix, ipBase string, n int, args func(i int) []string) (*WeirCluster, error) {
	c := &WeirCluster{}
	for i := 1; i <= n; i++ {
		a := args(i)
		if i > 1 {
			a = append(a, "--join", c.Nodes[0].API)
		}
		node, err := e.NewWeirNode(fmt.Sprintf("%s%d", prefix, i), fmt.Sprintf("%s%d", ipBase, i), a...)
		if err != nil {
			return c, err
		}
		c.Nodes = append(c.Nodes, node)
		if err := node.Start(); err != nil {
			return c, err
		}
		if i == 1 {
			if err := c.WaitHealthy(60 * time.Second); err != nil {
				return c, err
			}
		}
	}
	if err := poll(120*time.Second, 50*time.Millisecond, func() (bool, error) {
		l, err := c.Leader()
		if err != nil {
			return false, err
		}
		s, err := l.Status()
		return err == nil && s.Voters == n, err
	}); err != nil {
		return c, err
	}
	return c, c.WaitHealthy(60 * time.Second)
}

// Terms is each running node's Raft term.
func (c *WeirCluster) Terms() (map[string]uint64, error) {
	out := map[string]uint64{}
	for _, n := range c.Nodes {
		s, err := n.Status()
		if err != nil {
			return nil, err
		}
		out[n.ID] = s.Term
	}
	return out, nil
}
