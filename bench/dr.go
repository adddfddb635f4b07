package bench

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/weir-nifi/weir/internal/adminauth"
	"github.com/weir-nifi/weir/internal/client"
	"github.com/weir-nifi/weir/internal/cluster"
	"github.com/weir-nifi/weir/internal/dr"
)

// DR measures a disaster-recovery standby (docs/dr.md): two 3-node
// clusters on loopback, the standby following the primary; an open-loop
// commit load at DRRate on the primary while both leaders' positions are
// sampled every 10 ms; the lag of each primary log index is the time from
// the primary applying it to the standby applying it. Then the primary is
// killed and the standby promoted: the time of the promote call and until
// the first commit on the standby succeeds.
func (r *Runner) DR(ctx context.Context) ([]Result, error) {
	b, err := r.Bodies()
	if err != nil {
		return nil, err
	}
	pc, sc, err := r.startDRPair(nil)
	if err != nil {
		return nil, err
	}
	defer pc.Stop()
	defer sc.Stop()
	pl, err := pc.Leader()
	if err != nil {
		return nil, err
	}
	sl, err := sc.Leader()
	if err != nil {
		return nil, err
	}
	api := &API{Base: pl.API, HC: NewHTTPClient(64, 60*time.Second)}
	flows, err := api.CreateFlows(ctx, 16)
	if err != nil {
		return nil, err
	}
	hc := NewHTTPClient(4, 30*time.Second)
	if err := follow(ctx, hc, sl.API, pc.APIs()); err != nil {
		return nil, err
	}
	caughtUp := func() error {
		return poll(60*time.Second, 50*time.Millisecond, func() (bool, error) {
			p, err1 := primaryApplied(ctx, hc, pl.API)
			s, err2 := standbyIndex(ctx, hc, sl.API)
			return err1 == nil && err2 == nil && s >= p, nil
		})
	}
	if err := caughtUp(); err != nil {
		return nil, fmt.Errorf("the standby did not catch up: %w", err)
	}

	type sample struct {
		t   time.Time
		idx uint64
	}
	var mu sync.Mutex
	var ps, ss []sample
	sctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	sampler := func(out *[]sample, get func() (uint64, error)) {
		defer wg.Done()
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for sctx.Err() == nil {
			if v, err := get(); err == nil {
				mu.Lock()
				*out = append(*out, sample{time.Now(), v})
				mu.Unlock()
			}
			select {
			case <-sctx.Done():
			case <-t.C:
			}
		}
	}
	wg.Add(2)
	go sampler(&ps, func() (uint64, error) { return primaryApplied(sctx, hc, pl.API) })
	go sampler(&ss, func() (uint64, error) { return standbyIndex(sctx, hc, sl.API) })
	rate := r.Opts.DRRate
	if rate <= 0 {
		rate = DefaultOptions().DRRate
	}
	load := RunOpenLoop(ctx, rate, r.Opts.Warmup, r.Opts.Window, 256, commitOp(api, flows, b))
	r.Env.logf("h. primary commits at %.0f/s: %v", rate, load)
	_ = caughtUp()
	time.Sleep(200 * time.Millisecond)
	stop()
	wg.Wait()

	// The lag of each primary index: first sample of the standby at or
	// past it minus first sample of the primary at or past it.
	var lags []time.Duration
	var behind []float64
	if len(ps) > 0 && len(ss) > 0 {
		first, last := ps[0].idx+1, ps[len(ps)-1].idx
		pi, si := 0, 0
		for i := first; i <= last; i++ {
			for pi < len(ps) && ps[pi].idx < i {
				pi++
			}
			for si < len(ss) && ss[si].idx < i {
				si++
			}
			if pi == len(ps) || si == len(ss) {
				break
			}
			lags = append(lags, max(0, ss[si].t.Sub(ps[pi].t)))
		}
		// Entries behind at each standby sample: the primary's last
		// sample before it, minus the standby's.
		pi = 0
		for _, s := range ss {
			for pi+1 < len(ps) && !ps[pi+1].t.After(s.t) {
				pi++
			}
			if ps[pi].idx > s.idx {
				behind = append(behind, float64(ps[pi].idx-s.idx))
			} else {
				behind = append(behind, 0)
			}
		}
	}
	slices.Sort(lags)
	slices.Sort(behind)
	pct := func(p int) time.Duration {
		if len(lags) == 0 {
			return 0
		}
		return lags[min(len(lags)-1, len(lags)*p/100)]
	}
	bpct := func(p int) float64 {
		if len(behind) == 0 {
			return 0
		}
		return behind[min(len(behind)-1, len(behind)*p/100)]
	}
	r.Env.logf("h. lag over %d primary indexes: p50 %v p99 %v max %v; entries behind p50 %.0f p99 %.0f", len(lags), pct(50), pct(99), pct(100), bpct(50), bpct(99))

	// The primary is lost; the standby is promoted.
	for _, n := range pc.Nodes {
		n.Kill()
	}
	t0 := time.Now()
	if err := client.Admin(ctx, hc, adminSign, sl.API, http.MethodPost, dr.PromotePath, dr.PromoteRequest{}, nil); err != nil {
		return nil, fmt.Errorf("promote: %w", err)
	}
	promote := time.Since(t0)
	sapi := &API{Base: sl.API, HC: hc}
	var firstWrite time.Duration
	err = poll(60*time.Second, 10*time.Millisecond, func() (bool, error) {
		if err := sapi.Commit(ctx, flows[0], b.Get(0, 0)); err != nil {
			return false, nil
		}
		firstWrite = time.Since(t0)
		return true, nil
	})
	if err != nil {
		return nil, fmt.Errorf("no write after promote: %w", err)
	}
	r.Env.logf("h. promote answered in %v, first commit on the promoted standby %v after the call", promote, firstWrite)
	met := pct(99) <= time.Second
	return []Result{
		{ID: "h", Name: fmt.Sprintf("DR standby lag behind the primary, open-loop commits at %.0f/s (%d B documents), 3+3 nodes", rate, b.AvgSize()),
			Weir: fmt.Sprintf("p50 %s / p99 %s (max %s); entries behind p50 %.0f / p99 %.0f; %s", fmtMs(pct(50)), fmtMs(pct(99)), fmtMs(pct(100)), bpct(50), bpct(99), fmtRate(load)),
			Goal: "p99 ≤ 1 s", Met: yesNo(met),
			Values: map[string]float64{"lag_p50_ms": msf(pct(50)), "lag_p99_ms": msf(pct(99)), "lag_max_ms": msf(pct(100)),
				"behind_p50": bpct(50), "behind_p99": bpct(99), "commits_per_s": load.Throughput, "errors": float64(load.Errors)}},
		{ID: "h", Name: "DR promote with the primary down: the promote call, and until the first commit on the promoted cluster",
			Weir: fmt.Sprintf("%s; first commit %s", fmtMs(promote), fmtMs(firstWrite)),
			Goal: "≤ 10 s", Met: yesNo(firstWrite <= 10*time.Second),
			Values: map[string]float64{"promote_ms": msf(promote), "first_write_ms": msf(firstWrite)}},
	}, nil
}

// startDRPair starts the two 3-node clusters of the DR measurements: a
// primary on 127.0.1.x (node i with primaryArgs(i), when given) and a
// standby-to-be on 127.0.2.x. Both are stopped if either fails to start.
func (r *Runner) startDRPair(primaryArgs func(i int) []string) (primary, standby *WeirCluster, err error) {
	if primaryArgs == nil {
		primaryArgs = func(int) []string { return nil }
	}
	primary, err = r.Env.StartWeirClusterWith("p", "127.0.1.", 3, primaryArgs)
	if err != nil {
		return nil, nil, err
	}
	standby, err = r.Env.StartWeirClusterAt("s", "127.0.2.", 3)
	if err != nil {
		primary.Stop()
		return nil, nil, err
	}
	return primary, standby, nil
}

// follow makes the cluster of the node at standby follow the primary at
// urls.
func follow(ctx context.Context, hc *http.Client, standby string, primary []string) error {
	if err := client.Admin(ctx, hc, adminSign, standby, http.MethodPost, dr.FollowPath, dr.FollowRequest{Primary: primary}, nil); err != nil {
		return fmt.Errorf("follow: %w", err)
	}
	return nil
}

// adminSign proves the bench clusters' key on operations requests.
func adminSign(req *http.Request, _ []byte) error {
	req.Header.Set("Authorization", "Bearer "+adminauth.Token([]byte(ClusterKey)))
	return nil
}

func primaryApplied(ctx context.Context, hc *http.Client, api string) (uint64, error) {
	var st struct {
		AppliedIndex uint64 `json:"appliedIndex"`
	}
	err := client.Admin(ctx, hc, nil, api, http.MethodGet, cluster.AdminBase+"/local", nil, &st)
	return st.AppliedIndex, err
}

func standbyIndex(ctx context.Context, hc *http.Client, api string) (uint64, error) {
	var st dr.Status
	err := client.Admin(ctx, hc, nil, api, http.MethodGet, dr.Path, nil, &st)
	return st.Index, err
}
