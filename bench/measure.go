package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/weir-nifi/weir/internal/client"
	"github.com/weir-nifi/weir/internal/cluster"
)

// Options size the measurements. The defaults are the figures of
// docs/benchmarks.md; tests use smaller ones.
type Options struct {
	Window   time.Duration // measured time of each latency/throughput run
	Warmup   time.Duration // load before the window, not measured
	Clients  int           // parallel clients of the throughput runs
	Size     int           // flow document size in bytes
	Versions int           // versions stored for startup and catch-up
	Flows    int           // flows those versions are spread over
	Reps     int           // leader kills per system (failover)
	Restarts int           // restarts timed (startup)
	Seed     int64         // first flowgen seed
	// RandomReads is how long startup reads random versions after its
	// read pass, closed loop, before it measures memory again (0: not).
	RandomReads time.Duration
	// ColdVersions more versions per flow are read at random in c″.
	ColdVersions int
	// LatencyRate is the open-loop rate of the latency rows (a, e).
	LatencyRate float64
	// CatchUpRuns is how many nodes join one after another in g.
	CatchUpRuns int
	// DRRate is the primary's commit rate while a DR standby's lag is
	// measured (per second, open loop).
	DRRate float64
	// SteadyClients commit for SteadyFor in measurement k (leadership
	// under a saturating load).
	SteadyClients int
	SteadyFor     time.Duration
	// BundleMB is the payload size of the NAR uploaded in measurement m.
	BundleMB int
	// BundleNodes is the size of the cluster measurement m uploads to (1
	// or 3; with 3 the upload goes to the leader, which sends the
	// content to the two followers before it answers).
	BundleNodes int
}

// DefaultOptions are the published settings.
func DefaultOptions() Options {
	return Options{Window: 10 * time.Second, Warmup: 2 * time.Second, Clients: 16, Size: 64 << 10,
		Versions: 10000, Flows: 100, Reps: 10, Restarts: 3, Seed: 1, CatchUpRuns: 5, LatencyRate: 100, ColdVersions: 64, DRRate: 200,
		SteadyClients: 64, SteadyFor: 10 * time.Minute, BundleMB: 200, BundleNodes: 1}
}

// Result is one line of the results table, with its raw figures.
type Result struct {
	ID     string             `json:"id"`
	Name   string             `json:"name"`
	Weir   string             `json:"weir"`
	Ref    string             `json:"reference"`
	Goal   string             `json:"goal"`
	Met    string             `json:"met"` // yes, no, or empty when there is no goal
	Values map[string]float64 `json:"values"`
}

// Runner runs measurements in one Env.
type Runner struct {
	Env  *Env
	Opts Options

	bodiesOnce sync.Once
	bodies     *Bodies
	bodiesErr  error
}

// Bodies returns the request bodies shared by every measurement: 16
// chains of 16 versions of generated flows of Opts.Size bytes.
func (r *Runner) Bodies() (*Bodies, error) {
	r.bodiesOnce.Do(func() {
		t0 := time.Now()
		r.bodies, r.bodiesErr = NewBodies(r.Opts.Seed, 16, 16, r.Opts.Size)
		if r.bodiesErr == nil {
			r.Env.logf("generated %d flow documents of %d bytes on average in %v", 16*16, r.bodies.AvgSize(), time.Since(t0).Round(time.Millisecond))
		}
	})
	return r.bodies, r.bodiesErr
}

func msf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func fmtMs(d time.Duration) string {
	m := msf(d)
	switch {
	case m >= 100:
		return fmt.Sprintf("%.0f ms", m)
	case m >= 10:
		return fmt.Sprintf("%.1f ms", m)
	default:
		return fmt.Sprintf("%.2f ms", m)
	}
}

func fmtRate(s Stats) string {
	out := fmt.Sprintf("%.0f/s", s.Throughput)
	if s.Errors > 0 {
		out += fmt.Sprintf(" (%d errors: %v)", s.Errors, s.FirstErr)
	}
	return out
}

func yesNo(ok bool) string {
	if ok {
		return "yes"
	}
	return "no"
}

func (r *Runner) startSingle() (*WeirNode, *API, error) {
	c, err := r.Env.StartWeirCluster(1)
	if err != nil {
		return nil, nil, err
	}
	n := c.Nodes[0]
	return n, &API{Base: n.API, HC: NewHTTPClient(r.Opts.Clients, 60*time.Second)}, nil
}

// openLoop runs op at Opts.LatencyRate requests per second whatever the
// answers (open loop), for the latency rows: a closed loop waits for each
// answer before it sends the next, so a stall delays one request instead
// of every request due meanwhile, and the tail is understated.
func (r *Runner) openLoop(ctx context.Context, op Op) Stats {
	return RunOpenLoop(ctx, r.Opts.LatencyRate, r.Opts.Warmup, r.Opts.Window, 1024, op)
}

// commitOp commits client c's next body to flows[c].
func commitOp(api *API, flows []Flow, b *Bodies) Op {
	return func(ctx context.Context, c, seq int) error {
		return api.Commit(ctx, flows[c%len(flows)], b.Get(c, seq))
	}
}

// CommitLatency is measurement a: one client committing new 64 KB
// versions of one flow to a single node.
func (r *Runner) CommitLatency(ctx context.Context) ([]Result, error) {
	b, err := r.Bodies()
	if err != nil {
		return nil, err
	}
	n, api, err := r.startSingle()
	if err != nil {
		return nil, err
	}
	defer n.Terminate()
	flows, err := api.CreateFlows(ctx, 1)
	if err != nil {
		return nil, err
	}
	s := r.openLoop(ctx, commitOp(api, flows, b))
	r.Env.logf("a. weir commit, open loop at %.0f/s: %v", r.Opts.LatencyRate, s)
	return []Result{{ID: "a", Name: fmt.Sprintf("single node: commit latency p50 / p99, open loop at %.0f commits/s", r.Opts.LatencyRate),
		Weir:   fmt.Sprintf("%s / %s (%s)", fmtMs(s.P50), fmtMs(s.P99), fmtRate(s)),
		Values: map[string]float64{"weir_p50_ms": msf(s.P50), "weir_p99_ms": msf(s.P99), "weir_ops_per_s": s.Throughput, "errors": float64(s.Errors)}}}, nil
}

// CommitThroughput is measurement b: Clients clients, each committing to
// its own flow, against PostgreSQL inserting the same bytes.
func (r *Runner) CommitThroughput(ctx context.Context) ([]Result, error) {
	b, err := r.Bodies()
	if err != nil {
		return nil, err
	}
	k := r.Opts.Clients
	n, api, err := r.startSingle()
	if err != nil {
		return nil, err
	}
	flows, err := api.CreateFlows(ctx, k)
	if err != nil {
		n.Terminate()
		return nil, err
	}
	ws := RunFor(ctx, k, r.Opts.Warmup, r.Opts.Window, commitOp(api, flows, b))
	n.Terminate()
	r.Env.logf("b. weir commit, %v", ws)

	pg, err := r.Env.StartPostgres(ctx)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	defer pg.Stop()
	ins, err := pg.Inserters(ctx, k, "flow")
	if err != nil {
		return nil, err
	}
	defer func() {
		for _, in := range ins {
			in.Close()
		}
	}()
	ps := RunFor(ctx, k, r.Opts.Warmup, r.Opts.Window, func(ctx context.Context, c, seq int) error {
		return ins[c].Insert(ctx, seq+1, b.Get(c, seq))
	})
	r.Env.logf("b. postgres insert, %v", ps)
	ratio := ws.Throughput / ps.Throughput
	return []Result{{ID: "b", Name: fmt.Sprintf("single node: commit throughput, %d clients", k),
		Weir: fmt.Sprintf("%s (p50 %s, p99 %s)", fmtRate(ws), fmtMs(ws.P50), fmtMs(ws.P99)),
		Ref:  fmt.Sprintf("PostgreSQL 15: %s (p50 %s, p99 %s)", fmtRate(ps), fmtMs(ps.P50), fmtMs(ps.P99)),
		Goal: "≥ PostgreSQL", Met: fmt.Sprintf("%s (%.2f×)", yesNo(ratio >= 1), ratio),
		Values: map[string]float64{"weir_ops_per_s": ws.Throughput, "pg_ops_per_s": ps.Throughput, "ratio": ratio,
			"weir_p50_ms": msf(ws.P50), "weir_p99_ms": msf(ws.P99), "pg_p50_ms": msf(ps.P50), "pg_p99_ms": msf(ps.P99),
			"weir_errors": float64(ws.Errors), "pg_errors": float64(ps.Errors)}}}, nil
}

// GetLatest is measurement c: Clients clients reading the latest version
// of their own flow, against net/http's FileServer serving the same bytes.
// A second Weir run uses ?consistency=stale (no read barrier).
func (r *Runner) GetLatest(ctx context.Context) ([]Result, error) {
	b, err := r.Bodies()
	if err != nil {
		return nil, err
	}
	k := r.Opts.Clients
	n, api, err := r.startSingle()
	if err != nil {
		return nil, err
	}
	defer n.Terminate()
	flows, err := api.CreateFlows(ctx, k)
	if err != nil {
		return nil, err
	}
	files := map[string][]byte{}
	for c, f := range flows {
		for v := range 3 {
			if err := api.Commit(ctx, f, b.Get(c, v)); err != nil {
				return nil, err
			}
		}
		body, err := api.GetBytes(ctx, f.LatestPath())
		if err != nil {
			return nil, err
		}
		files[fmt.Sprintf("flow-%03d.json", c)] = body
	}
	ws := RunFor(ctx, k, r.Opts.Warmup, r.Opts.Window, func(ctx context.Context, c, _ int) error {
		return api.Get(ctx, flows[c].LatestPath())
	})
	r.Env.logf("c. weir GET latest, %v", ws)
	ss := RunFor(ctx, k, r.Opts.Warmup, r.Opts.Window, func(ctx context.Context, c, _ int) error {
		return api.Get(ctx, flows[c].LatestPath()+"?consistency=stale")
	})
	r.Env.logf("c. weir GET latest stale, %v", ss)

	// Cold documents: ColdVersions more versions per flow, read at random
	// (the same sequence for the file server), a working set larger than
	// the render cache; then again right after a restart (an empty render
	// cache and heap; the kernel's page cache stays warm).
	total := 3 + r.Opts.ColdVersions
	for c, f := range flows {
		for v := 3; v < total; v++ {
			if err := api.Commit(ctx, f, b.Get(c, v)); err != nil {
				return nil, err
			}
		}
	}
	for c, f := range flows {
		for v := 1; v <= total; v++ {
			body, err := api.GetBytes(ctx, f.VersionPath(v))
			if err != nil {
				return nil, err
			}
			files[coldFile(c, v)] = body
		}
	}
	pick := func(c, seq int) int { return 1 + (seq*7919+c*104729)%total }
	coldOp := func(ctx context.Context, c, seq int) error { return api.Get(ctx, flows[c].VersionPath(pick(c, seq))) }
	cs := RunFor(ctx, k, r.Opts.Warmup, r.Opts.Window, coldOp)
	r.Env.logf("c. weir GET random of %d versions, %v", k*total, cs)
	n.Terminate()
	if err := n.Start(); err != nil {
		return nil, err
	}
	if err := poll(60*time.Second, 10*time.Millisecond, func() (bool, error) { return n.IsLeader() }); err != nil {
		return nil, err
	}
	rs := RunFor(ctx, k, 0, r.Opts.Window, coldOp)
	r.Env.logf("c. weir GET random of %d versions right after a restart, %v", k*total, rs)
	n.Terminate()

	fs, err := r.Env.StartFileServer(files)
	if err != nil {
		return nil, err
	}
	defer fs.Proc.Kill()
	fapi := &API{Base: fs.URL, HC: NewHTTPClient(k, 60*time.Second)}
	fsS := RunFor(ctx, k, r.Opts.Warmup, r.Opts.Window, func(ctx context.Context, c, _ int) error {
		return fapi.Get(ctx, fmt.Sprintf("/flow-%03d.json", c))
	})
	r.Env.logf("c. file server GET, %v", fsS)
	fcs := RunFor(ctx, k, r.Opts.Warmup, r.Opts.Window, func(ctx context.Context, c, seq int) error {
		return fapi.Get(ctx, "/"+coldFile(c, pick(c, seq)))
	})
	r.Env.logf("c. file server GET random of %d files, %v", k*total, fcs)
	coldMB := 0
	for name, body := range files {
		if strings.HasPrefix(name, "v-") {
			coldMB += len(body)
		}
	}
	coldMB >>= 20
	ratio := ws.Throughput / fsS.Throughput
	sratio := ss.Throughput / fsS.Throughput
	size := len(files["flow-000.json"])
	return []Result{
		{ID: "c", Name: fmt.Sprintf("single node: GET …/versions/latest, %d clients, %d KB answers", k, size>>10),
			Weir: fmt.Sprintf("%s (p50 %s, p99 %s)", fmtRate(ws), fmtMs(ws.P50), fmtMs(ws.P99)),
			Ref:  fmt.Sprintf("Go FileServer: %s (p50 %s, p99 %s)", fmtRate(fsS), fmtMs(fsS.P50), fmtMs(fsS.P99)),
			Goal: "≥ 0.7× file server", Met: fmt.Sprintf("%s (%.2f×)", yesNo(ratio >= 0.7), ratio),
			Values: map[string]float64{"weir_ops_per_s": ws.Throughput, "files_ops_per_s": fsS.Throughput, "ratio": ratio,
				"weir_p50_ms": msf(ws.P50), "weir_p99_ms": msf(ws.P99), "bytes": float64(size)}},
		{ID: "c′", Name: "same, with ?consistency=stale (no read barrier)",
			Weir: fmt.Sprintf("%s (p50 %s, p99 %s)", fmtRate(ss), fmtMs(ss.P50), fmtMs(ss.P99)),
			Ref:  "(same file server run)", Met: fmt.Sprintf("(%.2f×)", sratio),
			Values: map[string]float64{"weir_stale_ops_per_s": ss.Throughput, "ratio": sratio}},
		{ID: "c″", Name: fmt.Sprintf("same, GET …/versions/{random v} of %d versions (%d MB of answers; render cache 16 MiB)", k*total, coldMB),
			Weir: fmt.Sprintf("%s (p50 %s, p99 %s)", fmtRate(cs), fmtMs(cs.P50), fmtMs(cs.P99)),
			Ref:  fmt.Sprintf("Go FileServer, the same files in the same order: %s (p50 %s, p99 %s)", fmtRate(fcs), fmtMs(fcs.P50), fmtMs(fcs.P99)),
			Goal: "≥ 0.7× file server", Met: fmt.Sprintf("%s (%.2f×)", yesNo(cs.Throughput >= 0.7*fcs.Throughput), cs.Throughput/fcs.Throughput),
			Values: map[string]float64{"cold_ops_per_s": cs.Throughput, "cold_files_ops_per_s": fcs.Throughput, "cold_ratio": cs.Throughput / fcs.Throughput}},
		{ID: "c‴", Name: "same, the first window right after a restart (empty render cache; page cache warm)",
			Weir: fmt.Sprintf("%s (p50 %s, p99 %s)", fmtRate(rs), fmtMs(rs.P50), fmtMs(rs.P99)),
			Ref:  "(same file server run)", Met: fmt.Sprintf("(%.2f×)", rs.Throughput/fcs.Throughput),
			Values: map[string]float64{"restart_ops_per_s": rs.Throughput}},
	}, nil
}

// coldFile names version v of client c's flow among the file server's files.
func coldFile(c, v int) string { return fmt.Sprintf("v-%03d-%04d.json", c, v) }

// loadVersions commits total versions spread over nflows flows with
// Clients clients.
func (r *Runner) loadVersions(ctx context.Context, api *API, nflows, total int) (Stats, []Flow, error) {
	b, err := r.Bodies()
	if err != nil {
		return Stats{}, nil, err
	}
	flows, err := api.CreateFlows(ctx, nflows)
	if err != nil {
		return Stats{}, nil, err
	}
	k := r.Opts.Clients
	s, err := RunCount(ctx, k, total, func(ctx context.Context, c, seq int) error {
		i := c + seq*k
		return api.Commit(ctx, flows[i%nflows], b.Get(i%nflows, i/nflows))
	})
	return s, flows, err
}

// Startup is measurement d: a single node holding Versions versions is
// stopped and started again; the time until it answers and holds
// leadership, and its RSS after startup and after reading every version.
func (r *Runner) Startup(ctx context.Context) ([]Result, error) {
	n, api, err := r.startSingle()
	if err != nil {
		return nil, err
	}
	defer n.Kill()
	ls, flows, err := r.loadVersions(ctx, api, r.Opts.Flows, r.Opts.Versions)
	if err != nil {
		return nil, fmt.Errorf("loading versions: %w", err)
	}
	r.Env.logf("d. loaded %d versions: %v", r.Opts.Versions, ls)
	loadRSS, _ := RSS(n.Proc.PID())
	var starts, answers []time.Duration
	var rssStart, anonStart int64
	linearizable := true
	for i := range r.Opts.Restarts {
		n.Terminate()
		t0 := time.Now()
		if err := n.Start(); err != nil {
			return nil, err
		}
		// Started means: it answers HTTP and says it holds leadership.
		var answered time.Duration
		err := poll(60*time.Second, 2*time.Millisecond, func() (bool, error) {
			if n.Proc.Exited() {
				return false, fmt.Errorf("weir exited: %s", n.Proc.Tail(2000))
			}
			ok, err := n.IsLeader()
			if err == nil && answered == 0 {
				answered = time.Since(t0)
			}
			return ok, err
		})
		if err != nil {
			return nil, err
		}
		d := time.Since(t0)
		if err := api.Get(ctx, apiBase+"/buckets?consistency=stale"); err != nil {
			return nil, err
		}
		// A linearizable read needs the store to have applied the
		// leader's commit index; give it 3 s.
		lerr := poll(3*time.Second, 5*time.Millisecond, func() (bool, error) {
			err := api.Get(ctx, apiBase+"/buckets")
			return err == nil, err
		})
		lin := time.Since(t0)
		if lerr != nil {
			linearizable = false
			r.Env.logf("d. restart %d: linearizable reads still refused %v after the start: %v", i+1, lin.Round(time.Millisecond), lerr)
		}
		starts, answers = append(starts, d), append(answers, answered)
		rssStart, _ = RSS(n.Proc.PID())
		anonStart, _ = procField(n.Proc.PID(), "RssAnon:")
		r.Env.logf("d. restart %d: answered after %v, leader after %v, RSS %d MB", i+1,
			answered.Round(time.Millisecond), d.Round(time.Millisecond), rssStart>>20)
	}
	if !linearizable {
		// One write lets the store's applied index reach the commit index.
		b, err := r.Bodies()
		if err != nil {
			return nil, err
		}
		if err := api.Commit(ctx, flows[0], b.Get(0, 0)); err != nil {
			return nil, err
		}
	}
	k := r.Opts.Clients
	nv := r.Opts.Versions / len(flows)
	rs, err := RunCount(ctx, k, len(flows)*nv, func(ctx context.Context, c, seq int) error {
		i := c + seq*k
		return api.Get(ctx, flows[i%len(flows)].VersionPath(i/len(flows)+1))
	})
	if err != nil {
		return nil, fmt.Errorf("read pass: %w", err)
	}
	rssRead, _ := RSS(n.Proc.PID())
	anonRead, _ := procField(n.Proc.PID(), "RssAnon:")
	fileRead, _ := procField(n.Proc.PID(), "RssFile:")
	hwm, _ := procField(n.Proc.PID(), "VmHWM:")
	r.Env.logf("d. read pass over %d versions: %v; RSS %d MB (anonymous %d MB, file %d MB), peak %d MB", len(flows)*nv, rs, rssRead>>20, anonRead>>20, fileRead>>20, hwm>>20)
	var extra []Result
	if r.Opts.RandomReads > 0 {
		rng := make([]*rand.Rand, k)
		for c := range rng {
			rng[c] = rand.New(rand.NewPCG(uint64(r.Opts.Seed), uint64(c)))
		}
		st := RunFor(ctx, k, 0, r.Opts.RandomReads, func(ctx context.Context, c, _ int) error {
			f := flows[rng[c].IntN(len(flows))]
			return api.Get(ctx, f.VersionPath(1+rng[c].IntN(nv)))
		})
		if st.FirstErr != nil {
			return nil, fmt.Errorf("random reads: %w", st.FirstErr)
		}
		anon, _ := procField(n.Proc.PID(), "RssAnon:")
		file, _ := procField(n.Proc.PID(), "RssFile:")
		r.Env.logf("d. random reads for %v: %v; anonymous %d MB, file %d MB", r.Opts.RandomReads, st, anon>>20, file>>20)
		extra = append(extra, Result{ID: "d", Name: fmt.Sprintf("single node, %d versions: anonymous memory after %v of random-version reads (%d clients)", r.Opts.Versions, r.Opts.RandomReads, k),
			Weir: fmt.Sprintf("%.0f MB (file-backed, the mmapped store: %.0f MB; %.0f reads/s)", float64(anon)/(1<<20), float64(file)/(1<<20), st.Throughput),
			Goal: "≤ 100 MB", Met: yesNo(anon <= 100<<20),
			Values: map[string]float64{"anon_random_mb": float64(anon) / (1 << 20), "file_random_mb": float64(file) / (1 << 20), "random_reads_per_s": st.Throughput}})
	}
	du := dirSize(n.DataDir)
	slices.Sort(starts)
	worst := starts[len(starts)-1]
	med := starts[len(starts)/2]
	slices.Sort(answers)
	mb := func(b int64) string { return fmt.Sprintf("%.0f MB", float64(b)/(1<<20)) }
	return append([]Result{
		{ID: "d", Name: fmt.Sprintf("single node, %d versions (%s on disk): RSS after startup / after reading every version", r.Opts.Versions, mb(du)),
			Weir: fmt.Sprintf("%s / %s (anonymous %s / %s, the rest is the mmapped store; peak %s since restart; %s right after loading)",
				mb(rssStart), mb(rssRead), mb(anonStart), mb(anonRead), mb(hwm), mb(loadRSS)),
			Goal: "≤ 100 MB", Met: yesNo(rssStart <= 100<<20 && rssRead <= 100<<20) + anonNote(rssRead, anonRead),
			Values: map[string]float64{"rss_startup_mb": float64(rssStart) / (1 << 20), "rss_read_mb": float64(rssRead) / (1 << 20),
				"rss_peak_mb": float64(hwm) / (1 << 20), "anon_startup_mb": float64(anonStart) / (1 << 20),
				"anon_read_mb": float64(anonRead) / (1 << 20), "file_read_mb": float64(fileRead) / (1 << 20), "rss_load_mb": float64(loadRSS) / (1 << 20), "data_mb": float64(du) / (1 << 20),
				"load_ops_per_s": ls.Throughput, "read_ops_per_s": rs.Throughput}},
		{ID: "d", Name: fmt.Sprintf("single node, %d versions: restart until it answers as leader (median / worst of %d)", r.Opts.Versions, len(starts)),
			Weir: fmt.Sprintf("%s / %s (first HTTP answer after %s)%s", fmtMs(med), fmtMs(worst), fmtMs(answers[len(answers)/2]), linNote(linearizable)),
			Goal: "≤ 1 s", Met: yesNo(worst <= time.Second),
			Values: map[string]float64{"startup_median_ms": msf(med), "startup_worst_ms": msf(worst), "answer_median_ms": msf(answers[len(answers)/2])}},
	}, extra...), nil
}

func anonNote(rss, anon int64) string {
	if rss > 100<<20 && anon <= 100<<20 {
		return " (anonymous memory: yes)"
	}
	return ""
}

func linNote(ok bool) string {
	if ok {
		return ""
	}
	return "; linearizable reads refused (503 catching up) until the first write after the restart"
}

// ClusterCommit is measurement e: a 3-node Weir cluster against a 3-member
// etcd cluster, clients talking to the leader, 64 KB values.
func (r *Runner) ClusterCommit(ctx context.Context) ([]Result, error) {
	b, err := r.Bodies()
	if err != nil {
		return nil, err
	}
	k := r.Opts.Clients
	wc, err := r.Env.StartWeirCluster(3)
	if err != nil {
		return nil, err
	}
	l, err := wc.Leader()
	if err != nil {
		wc.Stop()
		return nil, err
	}
	api := &API{Base: l.API, HC: NewHTTPClient(k, 60*time.Second)}
	flows, err := api.CreateFlows(ctx, k)
	if err != nil {
		wc.Stop()
		return nil, err
	}
	w1 := r.openLoop(ctx, commitOp(api, flows, b))
	r.Env.logf("e. weir 3 nodes, %v", w1)
	wk := RunFor(ctx, k, r.Opts.Warmup, r.Opts.Window, commitOp(api, flows, b))
	r.Env.logf("e. weir 3 nodes, %v", wk)
	wc.Stop()

	ec, err := r.Env.StartEtcd(3)
	if err != nil {
		return nil, fmt.Errorf("etcd: %w", err)
	}
	defer ec.Stop()
	el, err := ec.Leader(ctx)
	if err != nil {
		return nil, err
	}
	cli, err := el.Client()
	if err != nil {
		return nil, err
	}
	defer cli.Close()
	putOp := etcdPutOp(cli, newEtcdValues(b), "flows")
	e1 := r.openLoop(ctx, putOp)
	r.Env.logf("e. etcd 3 members, %v", e1)
	ek := RunFor(ctx, k, r.Opts.Warmup, r.Opts.Window, putOp)
	r.Env.logf("e. etcd 3 members, %v", ek)
	ratio := wk.Throughput / ek.Throughput
	return []Result{
		{ID: "e", Name: fmt.Sprintf("3 nodes: commit latency p50 / p99, open loop at %.0f commits/s (to the leader)", r.Opts.LatencyRate),
			Weir: fmt.Sprintf("%s / %s (%s)", fmtMs(w1.P50), fmtMs(w1.P99), fmtRate(w1)),
			Ref:  fmt.Sprintf("etcd 3.4: %s / %s (%s)", fmtMs(e1.P50), fmtMs(e1.P99), fmtRate(e1)),
			Goal: "p50 ≤ etcd", Met: fmt.Sprintf("%s (%.2f×)", yesNo(w1.P50 <= e1.P50), msf(w1.P50)/msf(e1.P50)),
			Values: map[string]float64{"weir_p50_ms": msf(w1.P50), "weir_p99_ms": msf(w1.P99), "etcd_p50_ms": msf(e1.P50), "etcd_p99_ms": msf(e1.P99)}},
		{ID: "e", Name: fmt.Sprintf("3 nodes: commit throughput, %d clients (to the leader)", k),
			Weir: fmt.Sprintf("%s (p50 %s, p99 %s)", fmtRate(wk), fmtMs(wk.P50), fmtMs(wk.P99)),
			Ref:  fmt.Sprintf("etcd 3.4: %s (p50 %s, p99 %s)", fmtRate(ek), fmtMs(ek.P50), fmtMs(ek.P99)),
			Goal: "≥ etcd", Met: fmt.Sprintf("%s (%.2f×)", yesNo(ratio >= 1), ratio),
			Values: map[string]float64{"weir_ops_per_s": wk.Throughput, "etcd_ops_per_s": ek.Throughput, "ratio": ratio}},
	}, nil
}

// etcdValues are the documents of b as etcd values, converted once.
type etcdValues [][]string

func newEtcdValues(b *Bodies) etcdValues {
	out := make(etcdValues, len(b.Chains))
	for c, ch := range b.Chains {
		for _, d := range ch {
			out[c] = append(out[c], string(d))
		}
	}
	return out
}

func (v etcdValues) get(c, i int) string {
	ch := v[c%len(v)]
	return ch[i%len(ch)]
}

// etcdPutOp puts client c's next document under a new key below prefix,
// through etcd's own client: one put, one Raft entry, as a Weir commit.
func etcdPutOp(cli *clientv3.Client, vals etcdValues, prefix string) Op {
	return func(ctx context.Context, c, seq int) error {
		_, err := cli.Put(ctx, fmt.Sprintf("%s/%03d/%08d", prefix, c, seq), vals.get(c, seq))
		return err
	}
}

// dirSize is the apparent size of the files under dir.
func dirSize(dir string) int64 {
	var n int64
	_ = filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			n += fi.Size()
		}
		return nil
	})
	return n
}

// procField reads a kB field of /proc/<pid>/status in bytes.
func procField(pid int, field string) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field); ok {
			var kb int64
			_, err := fmt.Sscan(rest, &kb)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no %s", field)
}

// failoverSystem is what the failover measurement needs of a cluster.
type failoverSystem interface {
	name() string
	size() int
	leader(ctx context.Context) (int, error)
	kill(i int)
	restart(i int) error
	healthy(timeout time.Duration) error
	write(ctx context.Context, via, seq int) error
}

// gapResult is one leader kill.
type gapResult struct {
	Gap       time.Duration
	Errors    int // failed writes among those sent after the leader died
	Recovered bool
}

// measureGap kills the leader once while a client writes to a surviving
// node every 5 ms, and returns the time between the last success that
// completed before the kill and the first success of a write sent after
// the leader was gone; then it restarts the killed node.
func measureGap(ctx context.Context, sys failoverSystem, rng *rand.Rand, logf func(string, ...any)) (gapResult, error) {
	if err := sys.healthy(90 * time.Second); err != nil {
		return gapResult{}, err
	}
	li, err := sys.leader(ctx)
	if err != nil {
		return gapResult{}, err
	}
	via := (li + 1) % sys.size()
	type event struct {
		start, end time.Time
		ok         bool
	}
	var mu sync.Mutex
	var events []event
	wctx, stop := context.WithCancel(ctx)
	defer stop()
	// Open loop: a new write every 5 ms whatever happened to the earlier
	// ones (up to 2048 in flight), so the gap measures the cluster, not a
	// client timeout: a write stuck on the dead leader does not hold back
	// the writes behind it.
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		sem := make(chan struct{}, 2048)
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for seq := 0; ; seq++ {
			select {
			case <-wctx.Done():
				return
			case <-tick.C:
			}
			select {
			case sem <- struct{}{}:
			default:
				continue // 2048 writes outstanding: skip this tick
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				rctx, cancel := context.WithTimeout(wctx, 30*time.Second)
				t0 := time.Now()
				err := sys.write(rctx, via, seq)
				cancel()
				if wctx.Err() != nil {
					return
				}
				mu.Lock()
				events = append(events, event{t0, time.Now(), err == nil})
				mu.Unlock()
			}()
		}
	}()
	// count looks at the writes sent after a point in time.
	count := func(after time.Time) (ok, failed int, first time.Time) {
		mu.Lock()
		defer mu.Unlock()
		for _, e := range events {
			if !e.start.After(after) {
				continue
			}
			if e.ok {
				if ok == 0 || e.end.Before(first) {
					first = e.end
				}
				ok++
			} else {
				failed++
			}
		}
		return
	}
	// Steady state first: 20 successful writes, then a random offset so
	// the kill does not line up with heartbeats.
	if err := poll(30*time.Second, 5*time.Millisecond, func() (bool, error) {
		n, _, _ := count(time.Time{})
		return n >= 20, nil
	}); err != nil {
		return gapResult{}, fmt.Errorf("%s: no steady writes before the kill: %w", sys.name(), err)
	}
	if rng != nil {
		time.Sleep(time.Duration(rng.IntN(300)) * time.Millisecond)
	}
	killAt := time.Now()
	sys.kill(li) // returns once the process is gone
	deadAt := time.Now()
	// The gap ends with the first success among writes sent after the
	// leader died (those cannot have been served by it); writes in flight
	// at the kill may still land and are not counted either way.
	var res gapResult
	err = poll(30*time.Second, 2*time.Millisecond, func() (bool, error) {
		n, _, _ := count(deadAt)
		return n > 0, nil
	})
	stop()
	wg.Wait()
	mu.Lock()
	var last time.Time
	for _, e := range events {
		if e.ok && !e.end.After(killAt) && e.end.After(last) {
			last = e.end
		}
	}
	mu.Unlock()
	n, failed, first := count(deadAt)
	if last.IsZero() {
		return res, fmt.Errorf("%s: no success before the kill", sys.name())
	}
	res.Errors = failed
	if err == nil && n > 0 {
		res.Recovered = true
		res.Gap = first.Sub(last)
	} else {
		res.Gap = time.Since(last)
	}
	logf("f. %s: killed leader %d at %s, writing via %d: gap %v (%d failed writes in between)", sys.name(), li,
		killAt.UTC().Format("15:04:05.000"), via, res.Gap.Round(time.Millisecond), failed)
	if rerr := sys.restart(li); rerr != nil {
		return res, rerr
	}
	return res, nil
}

type weirFailover struct {
	c    *WeirCluster
	apis []*API
	flow Flow
	body []byte
}

func (w *weirFailover) name() string { return "weir" }
func (w *weirFailover) size() int    { return len(w.c.Nodes) }
func (w *weirFailover) leader(context.Context) (int, error) {
	l, err := w.c.Leader()
	if err != nil {
		return 0, err
	}
	return slices.Index(w.c.Nodes, l), nil
}
func (w *weirFailover) kill(i int)          { w.c.Nodes[i].Kill() }
func (w *weirFailover) restart(i int) error { return w.c.Nodes[i].Start() }
func (w *weirFailover) healthy(t time.Duration) error {
	return w.c.WaitHealthy(t)
}
func (w *weirFailover) write(ctx context.Context, via, _ int) error {
	return w.apis[via].Commit(ctx, w.flow, w.body)
}

type etcdFailover struct {
	c       *Etcd
	clients []*clientv3.Client // one per member, each to that member only
	value   string
}

func (e *etcdFailover) name() string { return "etcd" }
func (e *etcdFailover) size() int    { return len(e.c.Members) }
func (e *etcdFailover) leader(ctx context.Context) (int, error) {
	l, err := e.c.Leader(ctx)
	if err != nil {
		return 0, err
	}
	return slices.Index(e.c.Members, l), nil
}
func (e *etcdFailover) kill(i int)          { e.c.Members[i].Proc.Kill() }
func (e *etcdFailover) restart(i int) error { return e.c.Members[i].Start() }
func (e *etcdFailover) healthy(t time.Duration) error {
	return e.c.WaitHealthy(t)
}
func (e *etcdFailover) write(ctx context.Context, via, seq int) error {
	_, err := e.clients[via].Put(ctx, fmt.Sprintf("failover/%08d", seq), e.value)
	return err
}

func gapSummary(gs []gapResult) (p50, p99, worst time.Duration, lost int) {
	var ds []time.Duration
	for _, g := range gs {
		ds = append(ds, g.Gap)
		if !g.Recovered {
			lost++
		}
	}
	slices.Sort(ds)
	return Percentile(ds, 50), Percentile(ds, 99), ds[len(ds)-1], lost
}

func fmtGaps(gs []gapResult) string {
	p50, p99, worst, lost := gapSummary(gs)
	s := fmt.Sprintf("p50 %s, p99 %s, max %s", fmtMs(p50), fmtMs(p99), fmtMs(worst))
	if lost > 0 {
		s += fmt.Sprintf(", %d without recovery in 30 s", lost)
	}
	var all []string
	for _, g := range gs {
		all = append(all, fmt.Sprintf("%.0f", msf(g.Gap)))
	}
	return s + " [" + strings.Join(all, " ") + " ms]"
}

// Failover is measurement f: Reps SIGKILLs of the leader of a 3-node Weir
// cluster with default settings, and of a 3-member etcd cluster, while a
// client writes 64 KB through a surviving node.
func (r *Runner) Failover(ctx context.Context) ([]Result, error) {
	b, err := r.Bodies()
	if err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(uint64(r.Opts.Seed), 7))
	wc, err := r.Env.StartWeirCluster(3)
	if err != nil {
		return nil, err
	}
	wf := &weirFailover{c: wc, body: b.Get(0, 0)}
	for _, n := range wc.Nodes {
		wf.apis = append(wf.apis, &API{Base: n.API, HC: NewHTTPClient(256, 30*time.Second)})
	}
	l, err := wc.Leader()
	if err != nil {
		wc.Stop()
		return nil, err
	}
	flows, err := (&API{Base: l.API, HC: ctlClient}).CreateFlows(ctx, 1)
	if err != nil {
		wc.Stop()
		return nil, err
	}
	wf.flow = flows[0]
	var wg []gapResult
	for range r.Opts.Reps {
		g, err := measureGap(ctx, wf, rng, r.Env.logf)
		if err != nil {
			wc.Stop()
			return nil, err
		}
		wg = append(wg, g)
	}
	wc.Stop()

	// etcd at Weir's timing (its followers stand after 400-800 ms without
	// a heartbeat, as Weir's do; heartbeats every 40 ms, as Weir sends
	// them), then at its defaults (heartbeat 100 ms, election 1000 ms).
	equal, err := r.etcdGaps(ctx, b, rng, "--heartbeat-interval", "40", "--election-timeout", "400")
	if err != nil {
		return nil, err
	}
	def, err := r.etcdGaps(ctx, b, rng)
	if err != nil {
		return nil, err
	}
	_, p99, _, lost := gapSummary(wg)
	wp50, _, wmax, _ := gapSummary(wg)
	ep50, ep99, emax, _ := gapSummary(equal)
	dp50, dp99, dmax, _ := gapSummary(def)
	name := fmt.Sprintf("3 nodes: write gap after SIGKILL of the leader, %d kills, writes via a survivor", len(wg))
	return []Result{{ID: "f", Name: name + "; equal election timeouts (400 ms)",
		Weir: fmtGaps(wg), Ref: "etcd 3.4, --election-timeout 400 --heartbeat-interval 40: " + fmtGaps(equal),
		Goal: "p99 ≤ 1.5 s", Met: yesNo(p99 <= 1500*time.Millisecond && lost == 0),
		Values: map[string]float64{"weir_p50_ms": msf(wp50), "weir_p99_ms": msf(p99), "weir_max_ms": msf(wmax),
			"etcd_p50_ms": msf(ep50), "etcd_p99_ms": msf(ep99), "etcd_max_ms": msf(emax)}},
		{ID: "f", Name: name + "; each system's defaults (Weir 400 ms: the same kills as above)",
			Weir: fmtGaps(wg), Ref: "etcd 3.4 defaults (election 1000 ms, heartbeat 100 ms): " + fmtGaps(def),
			Values: map[string]float64{"etcd_default_p50_ms": msf(dp50), "etcd_default_p99_ms": msf(dp99), "etcd_default_max_ms": msf(dmax)}},
	}, nil
}

// etcdGaps kills the leader of a 3-member etcd cluster started with args
// Reps times while a client writes through a survivor.
func (r *Runner) etcdGaps(ctx context.Context, b *Bodies, rng *rand.Rand, args ...string) ([]gapResult, error) {
	ec, err := r.Env.StartEtcd(3, args...)
	if err != nil {
		return nil, fmt.Errorf("etcd: %w", err)
	}
	defer ec.Stop()
	ef := &etcdFailover{c: ec, value: string(b.Get(0, 0))}
	for _, m := range ec.Members {
		cli, err := m.Client()
		if err != nil {
			return nil, err
		}
		defer cli.Close()
		ef.clients = append(ef.clients, cli)
	}
	var eg []gapResult
	for range r.Opts.Reps {
		g, err := measureGap(ctx, ef, rng, r.Env.logf)
		if err != nil {
			return nil, err
		}
		eg = append(eg, g)
	}
	return eg, nil
}

// CatchUp is measurement g: three nodes hold Versions versions, then
// CatchUpRuns new nodes join one after another, each removed again after
// its run. Each run times the joiner from its start until the leader lists
// it as a member that has applied the leader's commit index, against
// copying exactly the state the joiner ends with: cp of its store file
// (state.db; not its Raft log, whose segments are preallocated, nor the
// snapshot it keeps, both of which would flatter Weir), and cp followed
// by sync (the joiner's state is durable when it counts as caught up, so
// the verdict uses the copy made durable too). The first
// joiner comes right after the load, before the leader's own snapshot; the
// row says which path each joiner took (a snapshot, or log entries), from
// its own snapshot store.
func (r *Runner) CatchUp(ctx context.Context) ([]Result, error) {
	wc, err := r.Env.StartWeirCluster(3)
	if err != nil {
		return nil, err
	}
	defer wc.Stop()
	l, err := wc.Leader()
	if err != nil {
		return nil, err
	}
	api := &API{Base: l.API, HC: NewHTTPClient(r.Opts.Clients, 60*time.Second)}
	ls, _, err := r.loadVersions(ctx, api, r.Opts.Flows, r.Opts.Versions)
	if err != nil {
		return nil, fmt.Errorf("loading versions: %w", err)
	}
	r.Env.logf("g. loaded %d versions into 3 nodes: %v", r.Opts.Versions, ls)
	if err := wc.WaitHealthy(120 * time.Second); err != nil {
		return nil, err
	}
	var joins, cps, syncs, ratios []float64
	paths := map[string]int{}
	var size int64
	for i := range max(r.Opts.CatchUpRuns, 1) {
		id := fmt.Sprintf("w%d", 4+i)
		join, applied, err := r.joinNode(wc, l, id, fmt.Sprintf("127.0.0.%d", 4+i))
		if err != nil {
			return nil, fmt.Errorf("catch-up %d: %w", i+1, err)
		}
		joiner := wc.Nodes[len(wc.Nodes)-1]
		path := "log"
		if hasSnapshot(joiner.DataDir) {
			path = "snapshot"
		}
		paths[path]++
		state := filepath.Join(joiner.DataDir, "state.db")
		size = dirSize(state)
		cp, cpSync, err := r.copyFile(state)
		if err != nil {
			return nil, err
		}
		r.Env.logf("g. %s caught up from the %s (applied index %d) in %v; cp of its %d MB state.db %v, with sync %v",
			id, path, applied, join.Round(time.Millisecond), size>>20, cp.Round(time.Millisecond), cpSync.Round(time.Millisecond))
		joins, cps, syncs = append(joins, msf(join)), append(cps, msf(cp)), append(syncs, msf(cpSync))
		ratios = append(ratios, float64(join)/float64(cpSync))
		if err := removeNode(ctx, l, joiner); err != nil {
			return nil, err
		}
		wc.Nodes = wc.Nodes[:len(wc.Nodes)-1]
	}
	within := 0
	for _, q := range ratios {
		if q <= 2 {
			within++
		}
	}
	var ps []string
	for p, k := range paths {
		ps = append(ps, fmt.Sprintf("%d from a %s", k, p))
	}
	slices.Sort(ps)
	runs := len(joins)
	return []Result{{ID: "g",
		Name: fmt.Sprintf("new node catches up with %d versions, %d joins (%s; joiner's store %d MB)", r.Opts.Versions, runs, strings.Join(ps, ", "), size>>20),
		Weir: spreadF(joins, "%.0f ms"), Ref: fmt.Sprintf("cp of the joiner's state.db: %s; + sync: %s", spreadF(cps, "%.0f ms"), spreadF(syncs, "%.0f ms")),
		Goal: "≤ 2× cp + sync in 4 of 5 runs",
		Met:  fmt.Sprintf("%s (%d of %d; %s)", yesNo(within*5 >= runs*4), within, runs, spreadF(ratios, "%.2f×")),
		Values: map[string]float64{"join_ms": median(joins), "cp_ms": median(cps), "cp_sync_ms": median(syncs),
			"ratio_median": median(ratios), "runs_within": float64(within), "data_mb": float64(size) / (1 << 20),
			"snapshot_joins": float64(paths["snapshot"]), "load_ops_per_s": ls.Throughput}}}, nil
}

// removeNode takes a node out of the cluster through leader l and stops it.
func removeNode(ctx context.Context, l, n *WeirNode) error {
	if err := client.Admin(ctx, ctlClient, adminSign, l.API, http.MethodPost, cluster.AdminBase+"/remove", cluster.RemoveRequest{ID: n.ID}, nil); err != nil {
		return fmt.Errorf("remove %s: %w", n.ID, err)
	}
	n.Terminate()
	return nil
}

// joinNode starts a node with --join and waits until the leader reports
// it as a member that has applied the leader's commit index.
func (r *Runner) joinNode(wc *WeirCluster, l *WeirNode, id, ip string) (time.Duration, uint64, error) {
	n, err := r.Env.NewWeirNode(id, ip, "--join", l.API)
	if err != nil {
		return 0, 0, err
	}
	wc.Nodes = append(wc.Nodes, n)
	t0 := time.Now()
	if err := n.Start(); err != nil {
		return 0, 0, err
	}
	var applied uint64
	err = poll(300*time.Second, 10*time.Millisecond, func() (bool, error) {
		if n.Proc.Exited() {
			return false, fmt.Errorf("joining node exited: %s", n.Proc.Tail(2000))
		}
		s, err := l.Status()
		if err != nil {
			return false, err
		}
		m, ok := s.Member(n.ID)
		applied = m.AppliedIndex
		return ok && m.Reachable && m.AppliedIndex >= s.CommitIndex && s.CommitIndex > 0, nil
	})
	return time.Since(t0), applied, err
}

// copyFile times cp of file into the run directory, and cp followed by
// sync of the copy: sync with a file argument fsyncs that file only (sync
// -f would flush the whole file system, other processes' writes too).
func (r *Runner) copyFile(file string) (cp, cpSync time.Duration, err error) {
	dst, err := r.Env.Dir("copy")
	if err != nil {
		return 0, 0, err
	}
	to := filepath.Join(dst, filepath.Base(file))
	t1 := time.Now()
	if out, err := exec.Command("cp", file, to).CombinedOutput(); err != nil {
		return 0, 0, fmt.Errorf("cp: %v: %s", err, out)
	}
	cp = time.Since(t1)
	if out, err := exec.Command("sync", to).CombinedOutput(); err != nil {
		return 0, 0, fmt.Errorf("sync: %v: %s", err, out)
	}
	cpSync = time.Since(t1)
	return cp, cpSync, os.RemoveAll(dst)
}

// hasSnapshot reports whether a node's Raft snapshot store holds a
// finished snapshot (hashicorp/raft's file store: <dir>/meta.json).
func hasSnapshot(dataDir string) bool {
	m, _ := filepath.Glob(filepath.Join(dataDir, "raft", "snapshots", "*", "meta.json"))
	return len(m) > 0
}
