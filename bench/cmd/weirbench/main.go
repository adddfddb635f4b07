// Command weirbench takes Weir's benchmark figures (docs/benchmarks.md)
// against real processes on loopback and prints them as a markdown table.
//
//	go run ./bench/cmd/weirbench all
//	go run ./bench/cmd/weirbench commit-latency commit-throughput
//	go run ./bench/cmd/weirbench -window 5s -versions 2000 catchup
//	go run ./bench/cmd/weirbench s2s          # site-to-site relay vs NATS JetStream
//	go run ./bench/cmd/weirbench s2s-soak     # memory soak of the relay
//
// Progress goes to stderr, the table to stdout.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/weir-nifi/weir/bench"
)

type measurement struct {
	name, id, what string
	run            func(*bench.Runner, context.Context) ([]bench.Result, error)
}

var measurements = []measurement{
	{"commit-latency", "a", "single node, 64 KB versions committed open loop at -latency-rate", (*bench.Runner).CommitLatency},
	{"commit-throughput", "b", "single node, 16 clients committing, vs PostgreSQL 15", (*bench.Runner).CommitThroughput},
	{"get-latest", "c", "single node, 16 clients GET latest, vs Go FileServer", (*bench.Runner).GetLatest},
	{"startup", "d", "single node with 10,000 versions: restart time and RSS", (*bench.Runner).Startup},
	{"cluster-commit", "e", "3 nodes: commit latency and throughput, vs etcd", (*bench.Runner).ClusterCommit},
	{"failover", "f", "3 nodes: write gap after SIGKILL of the leader, vs etcd", (*bench.Runner).Failover},
	{"catchup", "g", "3 nodes + 5 joining one after another: catch-up with 10,000 versions, vs cp -r + sync of what the joiner ends with", (*bench.Runner).CatchUp},
	{"dr", "h", "3-node primary + 3-node DR standby: standby lag under commits, promote time", (*bench.Runner).DR},
	{"s2s-client", "j", "the Go site-to-site client pushing to an in-memory server, vs NiFi's client figures", (*bench.Runner).S2SClient},
	{"steady", "k", "3 nodes formed with --join and with --bootstrap: leader changes and errors under 64 committing clients for 10 minutes", (*bench.Runner).Steady},
	{"events", "l", "3 nodes: commit throughput with three event hooks vs none; commit → webhook delivery latency open loop at -latency-rate", (*bench.Runner).Events},
	{"bundle-upload", "m", "single node: a 200 MB NAR upload against cp + sync of the same file; the node's RSS during the upload", (*bench.Runner).BundleUpload},
	{"drill", "i", "3-node primary in 3 zones + 3-node standby: weir drill zone-loss and failover, RTO and RPO", (*bench.Runner).Drills},
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "serve-files" {
		serveFiles(os.Args[2:])
		return
	}
	if len(os.Args) > 1 && os.Args[1] == "serve-s2s" {
		fs := flag.NewFlagSet("serve-s2s", flag.ExitOnError)
		listen := fs.String("listen", "127.0.0.1:0", "address")
		_ = fs.Parse(os.Args[2:])
		if err := bench.ServeS2S(*listen); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	if len(os.Args) > 1 && (os.Args[1] == "s2s" || os.Args[1] == "s2s-soak") {
		os.Exit(s2sMain(os.Args[1], os.Args[2:]))
	}
	o := bench.DefaultOptions()
	flag.DurationVar(&o.Window, "window", o.Window, "measured time of each latency/throughput run")
	flag.DurationVar(&o.Warmup, "warmup", o.Warmup, "unmeasured load before each window")
	flag.IntVar(&o.Clients, "clients", o.Clients, "parallel clients of the throughput runs")
	flag.IntVar(&o.Size, "size", o.Size, "flow document size in bytes")
	flag.IntVar(&o.Versions, "versions", o.Versions, "versions stored for startup and catchup")
	flag.IntVar(&o.Flows, "flows", o.Flows, "flows those versions are spread over")
	flag.IntVar(&o.Reps, "reps", o.Reps, "leader kills per system in failover")
	flag.IntVar(&o.Restarts, "restarts", o.Restarts, "restarts timed in startup")
	flag.DurationVar(&o.RandomReads, "random-reads", 0, "startup: read random versions this long after the read pass, then measure memory (e.g. 60s)")
	flag.Int64Var(&o.Seed, "seed", o.Seed, "first flowgen seed")
	flag.Float64Var(&o.DRRate, "dr-rate", o.DRRate, "commits per second on the primary while the DR standby's lag is measured")
	flag.IntVar(&o.SteadyClients, "steady-clients", o.SteadyClients, "steady: committing clients")
	flag.DurationVar(&o.SteadyFor, "steady-for", o.SteadyFor, "steady: how long they commit")
	flag.Float64Var(&o.LatencyRate, "latency-rate", o.LatencyRate, "open-loop rate (per second) of the latency rows a and e")
	flag.IntVar(&o.ColdVersions, "cold-versions", o.ColdVersions, "get-latest: versions per flow added for the random (cold) reads")
	flag.IntVar(&o.CatchUpRuns, "catchup-runs", o.CatchUpRuns, "catchup: nodes that join one after another")
	flag.IntVar(&o.BundleMB, "bundle-mb", o.BundleMB, "bundle-upload: payload size of the NAR in MB")
	flag.IntVar(&o.BundleNodes, "bundle-nodes", o.BundleNodes, "bundle-upload: nodes in the cluster uploaded to (1, or 3: to the leader, which sends the content to both followers before answering)")
	weir := flag.String("weir", os.Getenv("WEIR_BINARY"), "weir binary (default: go build ./cmd/weir)")
	runs := flag.Int("runs", 1, "run each measurement this many times, one after another; the figures' median and range over the runs follow the table")
	keep := flag.Bool("keep", false, "keep the run directory (data dirs and process logs)")
	jsonOut := flag.String("json", "", "also write the results as JSON to this file")
	waitBusy := flag.Float64("wait-busy", 0, "before each measurement, wait (up to -wait-max) until other work keeps the CPUs less than this fraction busy, e.g. 0.3 (0: do not wait)")
	waitMax := flag.Duration("wait-max", 3*time.Minute, "longest wait for -wait-busy")
	flag.Usage = func() {
		fmt.Fprintf(os.Stderr, "usage: weirbench [flags] all | <measurement>...\n\nmeasurements:\n")
		for _, m := range measurements {
			fmt.Fprintf(os.Stderr, "  %-18s %s. %s\n", m.name, m.id, m.what)
		}
		fmt.Fprintf(os.Stderr, "  %-18s site-to-site relay vs NATS JetStream (weirbench s2s -h)\n", "s2s")
		fmt.Fprintf(os.Stderr, "  %-18s push and pull for a while, sampling each node's RSS (weirbench s2s-soak -h)\n", "s2s-soak")
		fmt.Fprintf(os.Stderr, "\nflags:\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	var todo []measurement
	for _, a := range flag.Args() {
		if a == "all" {
			todo = measurements
			continue
		}
		found := false
		for _, m := range measurements {
			if a == m.name || a == m.id {
				todo, found = append(todo, m), true
			}
		}
		if !found {
			fmt.Fprintf(os.Stderr, "unknown measurement %q\n\n", a)
			flag.Usage()
			os.Exit(2)
		}
	}
	if len(todo) == 0 {
		flag.Usage()
		os.Exit(2)
	}
	var repeated []measurement
	for _, t := range todo {
		for range max(*runs, 1) {
			repeated = append(repeated, t)
		}
	}
	os.Exit(run(o, repeated, *weir, *keep, *jsonOut, *waitBusy, *waitMax))
}

func run(o bench.Options, todo []measurement, weir string, keep bool, jsonOut string, waitBusy float64, waitMax time.Duration) int {
	env, ctx, start, done, err := startEnv(weir, keep)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer done()
	if self, err := os.Executable(); err == nil {
		env.SelfBin = self
	}
	m := bench.Describe(env)
	env.Logf("machine: %s", m)
	env.Logf("run directory %s", env.Work)
	r := &bench.Runner{Env: env, Opts: o}
	var results []bench.Result
	var loads []string
	failed := 0
	for _, t := range todo {
		if ctx.Err() != nil {
			break
		}
		var busy float64
		if waitBusy > 0 {
			busy = bench.WaitQuiet(waitBusy, waitMax, env.Logf)
		} else {
			busy = bench.Busy(2 * time.Second)
		}
		env.Logf("== %s (%s); CPUs %.0f%% busy with other work, load average %.2f", t.name, t.what, 100*busy, bench.LoadAvg())
		t0 := time.Now()
		rs, err := t.run(r, ctx)
		for i := range rs {
			if rs[i].Values == nil {
				rs[i].Values = map[string]float64{}
			}
			rs[i].Values["other_cpu_busy"] = busy
		}
		loads = append(loads, fmt.Sprintf("%s %.0f%%", t.id, 100*busy))
		if err != nil {
			failed++
			env.Logf("%s failed: %v", t.name, err)
			results = append(results, bench.Result{ID: t.id, Name: t.what, Weir: "failed: " + firstLine(err.Error())})
			continue
		}
		env.Logf("== %s done in %v", t.name, time.Since(t0).Round(time.Second))
		results = append(results, rs...)
	}
	fmt.Printf("Command: `go run ./bench/cmd/weirbench %s`\n\n", strings.Join(os.Args[1:], " "))
	fmt.Printf("Machine: %s\n\n", m)
	fmt.Printf("Settings: window %v after %v warmup, %d clients, %d B documents, %d versions over %d flows, %d kills, %d restarts; total time %v\n\n",
		o.Window, o.Warmup, o.Clients, o.Size, o.Versions, o.Flows, o.Reps, o.Restarts, time.Since(start).Round(time.Second))
	fmt.Printf("CPU time taken by other work just before each measurement: %s\n\n", strings.Join(loads, ", "))
	bench.Table(os.Stdout, results)
	bench.Spread(os.Stdout, results)
	if err := writeJSON(jsonOut, struct {
		Machine bench.Machine  `json:"machine"`
		Options bench.Options  `json:"options"`
		Results []bench.Result `json:"results"`
	}{m, o, results}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		failed++
	}
	if failed > 0 {
		return 1
	}
	return 0
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

func serveFiles(args []string) {
	fs := flag.NewFlagSet("serve-files", flag.ExitOnError)
	dir := fs.String("dir", ".", "directory to serve")
	listen := fs.String("listen", "127.0.0.1:0", "address")
	_ = fs.Parse(args)
	if err := bench.ServeFiles(*dir, *listen); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
