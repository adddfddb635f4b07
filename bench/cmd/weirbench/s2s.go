package main

import (
	"flag"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/weir-nifi/weir/bench"
)

// s2sMain is `weirbench s2s`: the site-to-site relay against NATS
// JetStream (issue 10), and `weirbench s2s-soak`: the memory soak.
//
//	go run ./bench/cmd/weirbench s2s                      # 3 runs, ~30 min
//	go run ./bench/cmd/weirbench s2s -runs 1 -window 3s -sizes 64k
//	go run ./bench/cmd/weirbench s2s-soak -duration 10m
func s2sMain(cmd string, args []string) int {
	fs := flag.NewFlagSet(cmd, flag.ExitOnError)
	o := bench.DefaultS2SOptions()
	so := bench.DefaultSoakOptions()
	sizes := fs.String("sizes", "1k,64k,1m", "flowfile sizes (s2s)")
	pushers := fs.String("pushers", "1,16", "pusher counts (s2s)")
	pullers := fs.String("pullers", "1,16", "puller counts (s2s)")
	systems := fs.String("systems", strings.Join(o.Systems, ","), "systems (s2s): weir, weir-nosync, nats")
	fs.IntVar(&o.BatchBytes, "batch-bytes", o.BatchBytes, "bytes per batch: max(1, batch-bytes/size) flowfiles per transaction / publishes awaited together")
	fs.DurationVar(&o.Warmup, "warmup", o.Warmup, "unmeasured load before each window")
	fs.DurationVar(&o.Window, "window", o.Window, "measured time of each throughput run")
	fs.DurationVar(&o.LatencyWindow, "latency-window", o.LatencyWindow, "measured time of each open-loop latency run")
	fs.Float64Var(&o.LatencyShare, "latency-share", o.LatencyShare, "latency runs push at this share of the lowest push throughput of the run (0: no latency runs)")
	fs.IntVar(&o.PullBatches, "pull-batches", o.PullBatches, "a pull run drains this many batches")
	fs.IntVar(&o.Runs, "runs", o.Runs, "repetitions (the table shows median [min–max])")
	fs.StringVar(&o.CPUProfileDir, "cpuprofile-dir", "", "write a CPU profile of every weir node into this directory")
	fs.DurationVar(&so.Duration, "duration", so.Duration, "soak: how long to push and pull")
	fs.DurationVar(&so.Interval, "interval", so.Interval, "soak: time between RSS samples")
	size := fs.String("size", "64k", "soak: flowfile size")
	fs.IntVar(&so.Pushers, "soak-pushers", so.Pushers, "soak: pushers")
	fs.IntVar(&so.Pullers, "soak-pullers", so.Pullers, "soak: pullers")
	fs.Float64Var(&so.Rate, "rate", so.Rate, "soak: pushed batches per second in all (0: as fast as the pushers go)")
	weir := fs.String("weir", os.Getenv("WEIR_BINARY"), "weir binary (default: go build ./cmd/weir)")
	keep := fs.Bool("keep", false, "keep the run directory")
	jsonOut := fs.String("json", "", "also write the figures as JSON to this file")
	_ = fs.Parse(args)
	so.BatchBytes = o.BatchBytes
	soakSize, err := parseSizes(*size)
	if err == nil {
		o.Sizes, err = parseSizes(*sizes)
	}
	if err == nil {
		o.Pushers, err = parseInts(*pushers)
	}
	if err == nil {
		o.Pullers, err = parseInts(*pullers)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	so.Size = soakSize[0]
	o.Systems = strings.Split(*systems, ",")

	env, ctx, start, done, err := startEnv(*weir, *keep)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer done()
	if o.CPUProfileDir != "" {
		if err := os.MkdirAll(o.CPUProfileDir, 0o755); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	m := bench.Describe(env)
	env.Logf("machine: %s; %s", m, bench.NATSVersion())
	env.Logf("run directory %s", env.Work)
	busy := bench.Busy(2 * time.Second)
	env.Logf("CPUs %.0f%% busy with other work, load average %.2f", 100*busy, bench.LoadAvg())
	fmt.Printf("Command: `go run ./bench/cmd/weirbench %s %s`\n\n", cmd, strings.Join(args, " "))
	fmt.Printf("Machine: %s; %s\n\n", m, bench.NATSVersion())
	fmt.Printf("CPU time taken by other work just before the run: %.0f%%\n\n", 100*busy)

	var out any
	code := 0
	if cmd == "s2s-soak" {
		res, err := env.S2SSoak(ctx, so)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
		bench.SoakTable(os.Stdout, res)
		out = res
	} else {
		r := &bench.S2SRunner{Env: env, Opts: o}
		if err := r.Run(ctx); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
		fmt.Printf("Settings: %v warmup, %v windows, batches of %d bytes, pulls drain %d batches, latency at %.0f%% of the run's lowest push throughput at %d pushers, %d runs; total time %v\n\n",
			o.Warmup, o.Window, o.BatchBytes, o.PullBatches, 100*o.LatencyShare, o.Pushers[len(o.Pushers)-1], o.Runs, time.Since(start).Round(time.Second))
		var busies []float64
		for _, f := range r.Figures {
			busies = append(busies, 100*f.OtherBusy)
		}
		if len(busies) > 0 {
			slices.Sort(busies)
			fmt.Printf("CPU time taken by other work in the 2 s before each system started: median %.0f%%, max %.0f%%\n\n", busies[len(busies)/2], busies[len(busies)-1])
		}
		bench.S2STable(os.Stdout, o, r.Figures)
		out = struct {
			Machine bench.Machine     `json:"machine"`
			Options bench.S2SOptions  `json:"options"`
			Figures []bench.S2SFigure `json:"figures"`
		}{m, o, r.Figures}
	}
	if err := writeJSON(*jsonOut, out); err != nil {
		fmt.Fprintln(os.Stderr, err)
		code = 1
	}
	return code
}

func parseInts(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("bad count %q", f)
		}
		out = append(out, n)
	}
	return out, nil
}

// parseSizes reads "1k,64k,1m" (k = 1024, m = 1024²).
func parseSizes(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		f = strings.ToLower(strings.TrimSpace(f))
		mul := 1
		switch {
		case strings.HasSuffix(f, "k"):
			mul, f = 1<<10, strings.TrimSuffix(f, "k")
		case strings.HasSuffix(f, "m"):
			mul, f = 1<<20, strings.TrimSuffix(f, "m")
		}
		n, err := strconv.Atoi(f)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("bad size %q", f)
		}
		out = append(out, n*mul)
	}
	return out, nil
}
