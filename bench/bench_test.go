package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// The tests check that the benchmark tooling measures what it claims to:
// commits land as versions, rows and keys are written, the file server
// serves the same bytes, a leader kill is survived. They never assert on
// time. The Benchmark functions are the Go-benchmark form of the figures
// in docs/benchmarks.md (cmd/weirbench gives the full table):
//
//	go test ./bench -run '^$' -bench . -benchtime 5s

var (
	binsOnce sync.Once
	binsDir  string
	weirBin  string
	selfBin  string
	binsErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binsDir != "" {
		os.RemoveAll(binsDir)
	}
	os.Exit(code)
}

// testEnv is an Env whose binaries are built once per test process.
func testEnv(tb testing.TB) *Env {
	tb.Helper()
	binsOnce.Do(func() {
		e := &Env{WeirBin: os.Getenv("WEIR_BINARY")}
		if binsDir, binsErr = os.MkdirTemp("", "weirbench-bin-"); binsErr != nil {
			return
		}
		e.Work = binsDir
		if binsErr = e.BuildWeir(); binsErr != nil {
			return
		}
		binsErr = e.BuildSelf()
		weirBin, selfBin = e.WeirBin, e.SelfBin
	})
	if binsErr != nil {
		tb.Fatal(binsErr)
	}
	e, err := NewEnv()
	if err != nil {
		tb.Fatal(err)
	}
	e.WeirBin, e.SelfBin = weirBin, selfBin
	e.Logf = tb.Logf
	tb.Cleanup(e.Close)
	return e
}

func needPostgres(tb testing.TB) {
	tb.Helper()
	_, err := FindPGBin()
	if err == nil {
		_, err = pgCred()
	}
	need(tb, err)
}

func needEtcd(tb testing.TB) {
	tb.Helper()
	_, err := FindEtcd()
	need(tb, err)
}

// need skips a test whose component is missing (err), except in CI
// (CI=true), where a comparison must not silently go missing: the test
// command installs the components.
func need(tb testing.TB, err error) {
	tb.Helper()
	if err == nil {
		return
	}
	if os.Getenv("CI") == "true" {
		tb.Fatalf("CI=true and %v (scripts/test.sh and bench/scripts/install-deps.sh install it)", err)
	}
	tb.Skip(err)
}

func testCtx(tb testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	tb.Cleanup(cancel)
	return ctx
}

func TestPercentile(t *testing.T) {
	var ds []time.Duration
	for i := 1; i <= 100; i++ {
		ds = append(ds, time.Duration(i))
	}
	for _, c := range []struct {
		p    float64
		want time.Duration
	}{{50, 50}, {99, 99}, {100, 100}, {0, 1}, {1, 1}} {
		if got := Percentile(ds, c.p); got != c.want {
			t.Errorf("p%v = %v, want %v", c.p, got, c.want)
		}
	}
	if Percentile(nil, 50) != 0 {
		t.Error("empty input")
	}
	if got := Percentile([]time.Duration{7}, 99); got != 7 {
		t.Errorf("single = %v", got)
	}
}

func TestBodiesAreDistinctAndSized(t *testing.T) {
	b, err := NewBodies(1, 3, 4, 16<<10)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for c := range 3 {
		for i := range 4 {
			d := b.Get(c, i)
			if len(d) != 16<<10 {
				t.Errorf("body (%d,%d) has %d bytes", c, i, len(d))
			}
			if seen[string(d)] {
				t.Errorf("body (%d,%d) repeats another", c, i)
			}
			seen[string(d)] = true
		}
	}
	if !bytes.Equal(b.Get(1, 5), b.Get(1, 1)) {
		t.Error("Get does not cycle through a chain")
	}
}

// TestWeirCommitsLand: every commit the load generator counts as a success
// is a stored version, and failures are counted, not hidden.
func TestWeirCommitsLand(t *testing.T) {
	e := testEnv(t)
	ctx := testCtx(t)
	c, err := e.StartWeirCluster(1)
	if err != nil {
		t.Fatal(err)
	}
	n := c.Nodes[0]
	api := &API{Base: n.API, HC: NewHTTPClient(4, time.Minute)}
	flows, err := api.CreateFlows(ctx, 3)
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewBodies(1, 3, 4, 16<<10)
	if err != nil {
		t.Fatal(err)
	}
	s, err := RunCount(ctx, 3, 12, commitOp(api, flows, b))
	if err != nil {
		t.Fatal(err)
	}
	if s.Ops != 12 || s.P50 <= 0 || s.Max < s.P99 || s.P99 < s.P50 {
		t.Fatalf("stats %+v", s)
	}
	for _, f := range flows {
		if got, err := api.VersionCount(ctx, f); err != nil || got != 4 {
			t.Fatalf("flow %s: %d versions, %v", f.ID, got, err)
		}
	}
	latest, err := api.GetBytes(ctx, flows[0].LatestPath())
	if err != nil || !bytes.Contains(latest, []byte(`"version":4`)) {
		t.Fatalf("latest: %v %.200s", err, latest)
	}
	// A window run counts successes; a bad flow id makes every commit fail
	// and they must show up as errors.
	bad := []Flow{{Bucket: flows[0].Bucket, ID: "no-such-flow"}}
	fs := RunFor(ctx, 2, 0, 300*time.Millisecond, commitOp(api, bad, b))
	if fs.Ops != 0 || fs.Errors == 0 || fs.FirstErr == nil || !strings.Contains(fs.FirstErr.Error(), "404") {
		t.Fatalf("failing run: %+v", fs)
	}
	if rss, err := RSS(n.Proc.PID()); err != nil || rss <= 0 {
		t.Fatalf("RSS %d %v", rss, err)
	}
}

func TestPostgresInsertsRows(t *testing.T) {
	needPostgres(t)
	e := testEnv(t)
	ctx := testCtx(t)
	pg, err := e.StartPostgres(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Stop()
	for _, s := range []string{"fsync", "synchronous_commit"} {
		if v, err := pg.Setting(ctx, s); err != nil || v != "on" {
			t.Fatalf("%s = %q, %v", s, v, err)
		}
	}
	ins, err := pg.Inserters(ctx, 4, "t")
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewBodies(1, 4, 2, 16<<10)
	if err != nil {
		t.Fatal(err)
	}
	s, err := RunCount(ctx, 4, 20, func(ctx context.Context, c, seq int) error {
		return ins[c].Insert(ctx, seq+1, b.Get(c, seq))
	})
	if err != nil || s.Ops != 20 {
		t.Fatalf("%v %+v", err, s)
	}
	if n, err := pg.Count(ctx); err != nil || n != 20 {
		t.Fatalf("count %d %v", n, err)
	}
	// The primary key holds: a second version 1 is refused.
	if err := ins[0].Insert(ctx, 1, b.Get(0, 0)); err == nil {
		t.Fatal("duplicate version accepted")
	}
	for _, in := range ins {
		in.Close()
	}
}

func TestEtcdPutsKeys(t *testing.T) {
	needEtcd(t)
	e := testEnv(t)
	ctx := testCtx(t)
	ec, err := e.StartEtcd(3)
	if err != nil {
		t.Fatal(err)
	}
	defer ec.Stop()
	l, err := ec.Leader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewBodies(1, 2, 2, 16<<10)
	if err != nil {
		t.Fatal(err)
	}
	cli, err := l.Client()
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	s, err := RunCount(ctx, 2, 10, etcdPutOp(cli, newEtcdValues(b), "flows"))
	if err != nil || s.Ops != 10 {
		t.Fatalf("%v %+v", err, s)
	}
	// Read back through another member: the puts are replicated.
	other := ec.Members[0]
	if other == l {
		other = ec.Members[1]
	}
	if n, err := other.Count(ctx, "flows/"); err != nil || n != 10 {
		t.Fatalf("count %d %v", n, err)
	}
}

func TestFileServerServesSameBytes(t *testing.T) {
	e := testEnv(t)
	want := bytes.Repeat([]byte("weir "), 20000)
	fs, err := e.StartFileServer(map[string][]byte{"a.json": want})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(fs.URL + "/a.json")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Equal(got, want) || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("%s %s %d bytes", resp.Status, resp.Header.Get("Content-Type"), len(got))
	}
}

// TestFailoverGapWeir kills the leader of a 3-node cluster once: the
// writes through the survivor resume, the killed node comes back, and the
// gap is positive.
func TestFailoverGapWeir(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-node cluster")
	}
	e := testEnv(t)
	ctx := testCtx(t)
	b, err := NewBodies(1, 1, 1, 16<<10)
	if err != nil {
		t.Fatal(err)
	}
	wc, err := e.StartWeirCluster(3)
	if err != nil {
		t.Fatal(err)
	}
	wf := &weirFailover{c: wc, body: b.Get(0, 0)}
	for _, n := range wc.Nodes {
		wf.apis = append(wf.apis, &API{Base: n.API, HC: NewHTTPClient(64, 30*time.Second)})
	}
	old, err := wc.Leader()
	if err != nil {
		t.Fatal(err)
	}
	flows, err := (&API{Base: old.API, HC: ctlClient}).CreateFlows(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	wf.flow = flows[0]
	before, err := wf.apis[0].VersionCount(ctx, wf.flow)
	if err != nil {
		t.Fatal(err)
	}
	g, err := measureGap(ctx, wf, nil, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	if !g.Recovered || g.Gap <= 0 {
		t.Fatalf("gap %+v", g)
	}
	if err := wc.WaitHealthy(2 * time.Minute); err != nil {
		t.Fatal(err)
	}
	after, err := wf.apis[0].VersionCount(ctx, wf.flow)
	if err != nil || after <= before {
		t.Fatalf("versions %d → %d, %v", before, after, err)
	}
}

// TestMeasurementsSmall runs every measurement at toy size: each produces
// its rows with figures from real runs and no error.
func TestMeasurementsSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("runs every measurement")
	}
	e := testEnv(t)
	ctx := testCtx(t)
	// A 1 s window: under the full test suite's load on 2 cores one
	// 3-node commit took longer than a 300 ms window (0 ops measured).
	r := &Runner{Env: e, Opts: Options{Window: time.Second, Warmup: 100 * time.Millisecond, Clients: 4,
		Size: 16 << 10, Versions: 60, Flows: 6, Reps: 1, Restarts: 1, Seed: 1, DRRate: 50, CatchUpRuns: 2, LatencyRate: 20, ColdVersions: 4,
		SteadyClients: 6, SteadyFor: time.Second, BundleMB: 8}}
	type m struct {
		name  string
		run   func(context.Context) ([]Result, error)
		needs func(testing.TB)
		keys  []string
	}
	none := func(testing.TB) {}
	for _, c := range []m{
		{"a", r.CommitLatency, none, []string{"weir_p50_ms", "weir_p99_ms"}},
		{"b", r.CommitThroughput, needPostgres, []string{"weir_ops_per_s", "pg_ops_per_s"}},
		{"c", r.GetLatest, none, []string{"weir_ops_per_s", "files_ops_per_s", "cold_ops_per_s", "cold_files_ops_per_s", "restart_ops_per_s"}},
		{"d", r.Startup, none, []string{"rss_startup_mb", "rss_read_mb", "startup_worst_ms"}},
		{"e", r.ClusterCommit, needEtcd, []string{"weir_p50_ms", "etcd_p50_ms", "weir_ops_per_s", "etcd_ops_per_s"}},
		{"f", r.Failover, needEtcd, []string{"weir_p99_ms", "etcd_p99_ms"}},
		{"g", r.CatchUp, none, []string{"join_ms", "cp_ms"}},
		{"h", r.DR, none, []string{"commits_per_s", "promote_ms", "first_write_ms"}},
		{"i", r.Drills, none, []string{"rto_ms_median"}},
		{"j", r.S2SClient, none, []string{"ffps_median", "mbps_median"}},
		// Rows for both forms, figures from the run; no verdict on them.
		{"k", r.Steady, none, []string{"ops_per_s"}},
		{"l", r.Events, none, []string{"ratio", "hooks_ops_per_s", "none_ops_per_s", "events"}},
		{"m", r.BundleUpload, none, []string{"ratio", "upload_s", "copy_s", "mb_per_s"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.needs(t)
			rs, err := c.run(ctx)
			if err != nil {
				t.Fatal(err)
			}
			vals := map[string]float64{}
			for _, res := range rs {
				if res.ID == "" || res.Weir == "" {
					t.Errorf("incomplete row %+v", res)
				}
				for k, v := range res.Values {
					vals[k] = v
				}
			}
			for _, k := range c.keys {
				if vals[k] <= 0 {
					t.Errorf("%s = %v in %+v", k, vals[k], rs)
				}
			}
			var buf bytes.Buffer
			Table(&buf, rs)
			t.Logf("\n%s", buf.String())
		})
	}
}

// Go benchmarks against real processes. Each reports ops/s besides ns/op;
// with -cpu or -benchtime the clients stay 16 (SetParallelism).

// benchWeir starts nodes and returns a client of the leader; the nodes
// stop in b.Cleanup, after the timer (a graceful stop can take seconds).
func benchWeir(b *testing.B, nodes int) *API {
	e := testEnv(b)
	c, err := e.StartWeirCluster(nodes)
	if err != nil {
		b.Fatal(err)
	}
	l, err := c.Leader()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(c.Stop)
	return &API{Base: l.API, HC: NewHTTPClient(16, time.Minute)}
}

func benchBodies(b *testing.B) *Bodies {
	bs, err := NewBodies(1, 16, 16, 64<<10)
	if err != nil {
		b.Fatal(err)
	}
	return bs
}

func BenchmarkWeirCommit(b *testing.B) {
	api := benchWeir(b, 1)
	ctx := context.Background()
	bs := benchBodies(b)
	flows, err := api.CreateFlows(ctx, 1)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(64 << 10)
	b.ResetTimer()
	for i := range b.N {
		if err := api.Commit(ctx, flows[0], bs.Get(0, i)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkWeirCommit16(b *testing.B) {
	api := benchWeir(b, 1)
	ctx := context.Background()
	bs := benchBodies(b)
	flows, err := api.CreateFlows(ctx, 64)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(64 << 10)
	b.ResetTimer()
	parallel(b, func(c, seq int) error { return api.Commit(ctx, flows[c], bs.Get(c, seq)) })
}

func BenchmarkPostgresInsert16(b *testing.B) {
	needPostgres(b)
	e := testEnv(b)
	ctx := context.Background()
	pg, err := e.StartPostgres(ctx)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(pg.Stop)
	ins, err := pg.Inserters(ctx, 64, "b")
	if err != nil {
		b.Fatal(err)
	}
	bs := benchBodies(b)
	b.SetBytes(64 << 10)
	b.ResetTimer()
	parallel(b, func(c, seq int) error { return ins[c].Insert(ctx, seq+1, bs.Get(c, seq)) })
}

func BenchmarkWeirGetLatest16(b *testing.B) {
	api := benchWeir(b, 1)
	ctx := context.Background()
	bs := benchBodies(b)
	flows, err := api.CreateFlows(ctx, 64)
	if err != nil {
		b.Fatal(err)
	}
	for c, f := range flows {
		if err := api.Commit(ctx, f, bs.Get(c, 0)); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(64 << 10)
	b.ResetTimer()
	parallel(b, func(c, _ int) error { return api.Get(ctx, flows[c].LatestPath()) })
}

func BenchmarkFileServerGet16(b *testing.B) {
	e := testEnv(b)
	ctx := context.Background()
	bs := benchBodies(b)
	files := map[string][]byte{}
	for c := range 64 {
		files[fmt.Sprintf("f%d.json", c)] = bs.Get(c, 0)
	}
	fs, err := e.StartFileServer(files)
	if err != nil {
		b.Fatal(err)
	}
	api := &API{Base: fs.URL, HC: NewHTTPClient(16, time.Minute)}
	b.SetBytes(64 << 10)
	b.ResetTimer()
	parallel(b, func(c, _ int) error { return api.Get(ctx, fmt.Sprintf("/f%d.json", c)) })
}

func BenchmarkWeirCluster3Commit16(b *testing.B) {
	api := benchWeir(b, 3)
	ctx := context.Background()
	bs := benchBodies(b)
	flows, err := api.CreateFlows(ctx, 64)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(64 << 10)
	b.ResetTimer()
	parallel(b, func(c, seq int) error { return api.Commit(ctx, flows[c], bs.Get(c, seq)) })
}

func BenchmarkEtcd3Put16(b *testing.B) {
	needEtcd(b)
	e := testEnv(b)
	ctx := context.Background()
	ec, err := e.StartEtcd(3)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(ec.Stop)
	l, err := ec.Leader(ctx)
	if err != nil {
		b.Fatal(err)
	}
	cli, err := l.Client()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cli.Close() })
	put := etcdPutOp(cli, newEtcdValues(benchBodies(b)), "b")
	b.SetBytes(64 << 10)
	b.ResetTimer()
	parallel(b, func(c, seq int) error { return put(ctx, c, seq) })
}

func TestSpread(t *testing.T) {
	var buf bytes.Buffer
	Spread(&buf, []Result{
		{ID: "a", Values: map[string]float64{"p50": 3, "p99": 9}},
		{ID: "b", Values: map[string]float64{"once": 1}},
		{ID: "a", Values: map[string]float64{"p50": 1, "p99": 7}},
		{ID: "a", Values: map[string]float64{"p50": 2, "p99": 8}},
		{ID: "a", Values: map[string]float64{"p50": 4}},
	})
	want := "\n| | figure | runs | median | min | max |\n|---|---|---|---|---|---|\n| a | p50 | 4 | 2.5 | 1 | 4 |\n| a | p99 | 3 | 8 | 7 | 9 |\n"
	if buf.String() != want {
		t.Fatalf("got\n%q\nwant\n%q", buf.String(), want)
	}
	buf.Reset()
	Spread(&buf, []Result{{ID: "a", Values: map[string]float64{"p50": 3}}})
	if buf.Len() != 0 {
		t.Fatalf("one run has no spread: %q", buf.String())
	}
}
