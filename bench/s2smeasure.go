package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The site-to-site measurements (issue 10): Weir's relay against NATS
// JetStream on the same three loopback addresses, pushing and pulling
// batches of flowfiles of a few sizes. Throughput is closed loop over a
// window after a warmup; push latency is open loop at a stated rate;
// pull throughput is the time to drain a fixed number of flowfiles.

// S2SOptions size the comparison.
type S2SOptions struct {
	Sizes   []int // flowfile content sizes in bytes
	Pushers []int // closed-loop pusher counts
	Pullers []int // puller counts (at most max(Pushers) for JetStream)
	// BatchBytes makes the batch: max(1, BatchBytes/size) flowfiles per
	// Weir transaction and per group of JetStream publishes awaited
	// together (and per pull).
	BatchBytes int
	Warmup     time.Duration
	Window     time.Duration
	// A pull run drains PullBatches × batch flowfiles. 512 (from set O
	// on; 128 before) made a single puller's window 3–10 s in sets O and
	// P, nearer the 10 s push window; with 128 it was a quarter of that,
	// so one stall weighed four times as much. (An alternating A/B moved
	// the pull/push ratio by less than its spread: docs/benchmarks.md.)
	PullBatches   int
	LatencyShare  float64 // latency rate: this share of the lowest push throughput
	LatencyWindow time.Duration
	Runs          int
	// Systems to run, of "weir" (default flags: fsync), "weir-nosync"
	// (--unsafe-no-sync) and "nats".
	Systems []string
	// CPUProfileDir, when set, gets a CPU profile of every Weir node of
	// every cluster (--cpuprofile, written when the node stops).
	CPUProfileDir string
	Seed          uint64
}

// DefaultS2SOptions are the settings of docs/benchmarks.md.
func DefaultS2SOptions() S2SOptions {
	return S2SOptions{Sizes: []int{1 << 10, 64 << 10, 1 << 20}, Pushers: []int{1, 16}, Pullers: []int{1, 16},
		BatchBytes: 1 << 20, Warmup: 2 * time.Second, Window: 10 * time.Second, PullBatches: 512,
		LatencyShare: 0.5, LatencyWindow: 10 * time.Second, Runs: 3,
		Systems: []string{"weir", "weir-nosync", "nats"}, Seed: 1}
}

// Batch is the flowfiles per batch for a content size.
func (o S2SOptions) Batch(size int) int { return max(1, o.BatchBytes/max(1, size)) }

// S2SFigure is one measured figure of one run.
type S2SFigure struct {
	Run      int     `json:"run"`
	Size     int     `json:"size"`
	Batch    int     `json:"batch"`
	System   string  `json:"system"`
	Kind     string  `json:"kind"` // push, pull, latency
	Clients  int     `json:"clients"`
	Files    int64   `json:"flowfiles"`
	Bytes    int64   `json:"bytes"`
	Seconds  float64 `json:"seconds"`
	FilesPS  float64 `json:"flowfiles_per_s"`
	MiBPS    float64 `json:"mib_per_s"`
	Rate     float64 `json:"rate_batches_per_s,omitempty"` // latency: the open-loop rate
	P50ms    float64 `json:"p50_ms"`
	P99ms    float64 `json:"p99_ms"`
	Errors   int     `json:"errors"`
	FirstErr string  `json:"first_error,omitempty"`
	Empty    int     `json:"empty_pulls,omitempty"`
	// CPUmsPerMiB is the CPU time of all the system's server processes
	// (user + system, from /proc) per MiB of content moved, over the
	// whole run including its warmup.
	CPUmsPerMiB float64 `json:"server_cpu_ms_per_mib"`
	// WritePerByte is the bytes all the system's server processes caused
	// to be written to the storage layer (/proc/<pid>/io write_bytes),
	// per byte of content moved (pushes: over the whole run).
	WritePerByte float64 `json:"server_written_per_byte,omitempty"`
	// OtherBusy is the share of the CPUs other work kept busy in the 2 s
	// before the system was started (nothing of the benchmark running).
	OtherBusy float64 `json:"other_cpu_busy"`
}

// procsCPU is the CPU time (user + system) the processes used so far.
func procsCPU(pids []int) time.Duration {
	var total time.Duration
	for _, pid := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		// The command name may hold spaces; fields count from its ')'.
		s := string(b)
		if i := strings.LastIndexByte(s, ')'); i >= 0 {
			s = s[i+1:]
		}
		f := strings.Fields(s)
		if len(f) < 13 {
			continue
		}
		var ut, st int64
		fmt.Sscan(f[11], &ut)
		fmt.Sscan(f[12], &st)
		total += time.Duration(ut+st) * time.Second / 100 // USER_HZ
	}
	return total
}

// procsWritten is what the processes caused to be written to storage so
// far (write_bytes of /proc/<pid>/io).
func procsWritten(pids []int) int64 {
	var total int64
	for _, pid := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", pid))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "write_bytes:"); ok {
				var n int64
				fmt.Sscan(strings.TrimSpace(v), &n)
				total += n
			}
		}
	}
	return total
}

// cpuPerMiB is CPU milliseconds per MiB.
func cpuPerMiB(cpu time.Duration, bytes int64) float64 {
	if bytes <= 0 {
		return 0
	}
	return msf(cpu) / (float64(bytes) / (1 << 20))
}

// systemLabel names a system key in tables.
func systemLabel(key string) string {
	switch key {
	case "weir":
		return "Weir (fsync)"
	case "weir-nosync":
		return "Weir (--unsafe-no-sync)"
	case "nats":
		return "JetStream R3 file"
	}
	return key
}

// queueState counts what was confirmed pushed and pulled, so that a pull
// run can be given enough queued flowfiles.
type queueState struct {
	sys    QueueSystem
	pushed atomic.Int64
	pulled atomic.Int64
}

func (q *queueState) queued() int64 { return q.pushed.Load() - q.pulled.Load() }

func (q *queueState) pushOp(content []byte, batch int) Op {
	return func(ctx context.Context, c, seq int) error {
		err := q.sys.Push(ctx, c, QueueFiles(content, c, seq, batch))
		if err == nil {
			q.pushed.Add(int64(batch))
		}
		return err
	}
}

// StartQueueSystem starts a fresh system by key on 3 nodes.
func (e *Env) StartQueueSystem(ctx context.Context, key string, nodes, conns int, profile string) (QueueSystem, error) {
	var args []string
	if profile != "" {
		args = append(args, "--cpuprofile", profile)
	}
	switch key {
	case "weir":
		return e.StartWeirS2S(ctx, key, nodes, args...)
	case "weir-nosync":
		return e.StartWeirS2S(ctx, key, nodes, append(args, "--unsafe-no-sync")...)
	case "nats":
		return e.StartNATSS2S(ctx, nodes, conns)
	}
	return nil, fmt.Errorf("unknown system %q (weir, weir-nosync, nats)", key)
}

// stopAndClean stops a system and removes its data directories (unless
// the run keeps its directory).
func stopAndClean(sys QueueSystem) {
	switch s := sys.(type) {
	case *WeirS2S:
		s.Cluster.Destroy()
	case *NATSS2S:
		s.Stop()
		for _, sv := range s.Cluster.Servers {
			if !sv.env.Keep {
				_ = os.RemoveAll(sv.DataDir)
			}
		}
	default:
		sys.Stop()
	}
}

// S2SRunner runs the comparison in one Env.
type S2SRunner struct {
	Env  *Env
	Opts S2SOptions
	// Figures collects every figure taken so far.
	Figures []S2SFigure
}

func (r *S2SRunner) logf(format string, args ...any) { r.Env.logf(format, args...) }

func (r *S2SRunner) conns() int { return max(slices.Max(r.Opts.Pushers), slices.Max(r.Opts.Pullers)) }

func (r *S2SRunner) profile(key string, size int, phase string, run int) string {
	if r.Opts.CPUProfileDir == "" || !strings.HasPrefix(key, "weir") {
		return ""
	}
	return filepath.Join(r.Opts.CPUProfileDir, fmt.Sprintf("%s-%dk-%s-run%d-%%n.pprof", key, size>>10, phase, run))
}

// Run takes every figure Runs times; systems start in a different order
// in each run.
func (r *S2SRunner) Run(ctx context.Context) error {
	for run := 1; run <= r.Opts.Runs; run++ {
		for _, size := range r.Opts.Sizes {
			if err := r.runSize(ctx, run, size); err != nil {
				return fmt.Errorf("run %d, %d B: %w", run, size, err)
			}
		}
	}
	return nil
}

func (r *S2SRunner) runSize(ctx context.Context, run, size int) error {
	o := r.Opts
	batch := o.Batch(size)
	content := RandomContent(o.Seed+uint64(size), size)
	systems := slices.Clone(o.Systems)
	k := (run - 1) % len(systems)
	systems = append(systems[k:], systems[:k]...)
	lowest := 0.0
	for _, key := range systems {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		busy := Busy(2 * time.Second)
		r.logf("s2s run %d: %s, %d B flowfiles, batch %d; CPUs %.0f%% busy with other work", run, key, size, batch, 100*busy)
		sys, err := r.Env.StartQueueSystem(ctx, key, 3, r.conns(), r.profile(key, size, "throughput", run))
		if err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
		q := &queueState{sys: sys}
		fig := func(kind string, clients int) S2SFigure {
			return S2SFigure{Run: run, Size: size, Batch: batch, System: key, Kind: kind, Clients: clients, OtherBusy: busy}
		}
		for _, p := range o.Pushers {
			quietDisk()
			cpu0, w0, n0 := procsCPU(sys.PIDs()), procsWritten(sys.PIDs()), q.pushed.Load()
			ws, _ := sys.(*WeirS2S)
			var steps0 map[string][2]float64
			if ws != nil {
				steps0 = ws.StageSteps(ctx)
			}
			s := RunFor(ctx, p, o.Warmup, o.Window, q.pushOp(content, batch))
			if ws != nil {
				if line := stageStepsSince(steps0, ws.StageSteps(ctx)); line != "" {
					r.logf("  push %2d: staging steps (warm-up included, for information): %s", p, line)
				}
			}
			f := fig("push", p)
			f.fromStats(s, batch, size)
			moved := (q.pushed.Load() - n0) * int64(size)
			f.CPUmsPerMiB = cpuPerMiB(procsCPU(sys.PIDs())-cpu0, moved)
			if moved > 0 {
				f.WritePerByte = float64(procsWritten(sys.PIDs())-w0) / float64(moved)
			}
			r.Figures = append(r.Figures, f)
			r.logf("  push %2d: %s", p, f)
			if p == slices.Max(o.Pushers) && f.Errors == 0 {
				if bps := s.Throughput; lowest == 0 || bps < lowest {
					lowest = bps
				}
			}
		}
		for _, p := range o.Pullers {
			want := int64(o.PullBatches * batch)
			if err := fill(ctx, q, content, batch, r.conns(), want+int64(p*batch)); err != nil {
				stopAndClean(sys)
				return fmt.Errorf("%s: filling the queue: %w", key, err)
			}
			quietDisk()
			f := fig("pull", p)
			cpu0 := procsCPU(sys.PIDs())
			if err := drain(ctx, q, p, batch, int64(batch*size), want, &f); err != nil {
				stopAndClean(sys)
				return fmt.Errorf("%s: pulling: %w", key, err)
			}
			f.CPUmsPerMiB = cpuPerMiB(procsCPU(sys.PIDs())-cpu0, f.Bytes)
			r.Figures = append(r.Figures, f)
			r.logf("  pull %2d: %s", p, f)
		}
		stopAndClean(sys)
	}
	if lowest == 0 || o.LatencyShare <= 0 {
		return nil
	}
	rate := lowest * o.LatencyShare
	for _, key := range systems {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		busy := Busy(2 * time.Second)
		sys, err := r.Env.StartQueueSystem(ctx, key, 3, r.conns(), r.profile(key, size, "latency", run))
		if err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
		q := &queueState{sys: sys}
		quietDisk()
		s := RunOpenLoop(ctx, rate, o.Warmup, o.LatencyWindow, 1024, q.pushOp(content, batch))
		f := S2SFigure{Run: run, Size: size, Batch: batch, System: key, Kind: "latency", Rate: rate, OtherBusy: busy}
		f.fromStats(s, batch, size)
		r.Figures = append(r.Figures, f)
		r.logf("  %s latency at %.1f batches/s (CPUs %.0f%% busy with other work before): %s", key, rate, 100*busy, f)
		stopAndClean(sys)
	}
	return nil
}

func (f *S2SFigure) fromStats(s Stats, batch, size int) {
	f.Files = int64(s.Ops) * int64(batch)
	f.Bytes = f.Files * int64(size)
	f.Seconds = s.Window.Seconds()
	f.FilesPS = s.Throughput * float64(batch)
	f.MiBPS = f.FilesPS * float64(size) / (1 << 20)
	f.P50ms, f.P99ms = msf(s.P50), msf(s.P99)
	f.Errors = s.Errors
	if s.FirstErr != nil {
		f.FirstErr = s.FirstErr.Error()
	}
}

func (f S2SFigure) String() string {
	s := fmt.Sprintf("%.0f flowfiles/s, %.1f MiB/s, batch p50 %.2f ms p99 %.2f ms", f.FilesPS, f.MiBPS, f.P50ms, f.P99ms)
	if f.CPUmsPerMiB > 0 {
		s += fmt.Sprintf(", servers' CPU %.1f ms/MiB", f.CPUmsPerMiB)
	}
	if f.WritePerByte > 0 {
		s += fmt.Sprintf(", servers wrote %.1f bytes to storage per byte", f.WritePerByte)
	}
	if f.Empty > 0 {
		s += fmt.Sprintf(", %d empty pulls", f.Empty)
	}
	if f.Errors > 0 {
		s += fmt.Sprintf(", %d errors (first: %s)", f.Errors, f.FirstErr)
	}
	return s
}

// fill pushes with clients closed-loop pushers until at least want
// flowfiles are queued (not measured).
func fill(ctx context.Context, q *queueState, content []byte, batch, clients int, want int64) error {
	if q.queued() >= want {
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	op := q.pushOp(content, batch)
	var wg sync.WaitGroup
	var firstErr atomic.Value
	var fails atomic.Int64
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for seq := 1 << 30; ctx.Err() == nil && q.queued() < want; seq++ {
				if err := op(ctx, c, seq); err != nil && ctx.Err() == nil {
					firstErr.CompareAndSwap(nil, errBox{err})
					if fails.Add(1) > 100 {
						cancel()
					}
				}
			}
		}()
	}
	wg.Wait()
	if q.queued() < want {
		if e, ok := firstErr.Load().(errBox); ok {
			return e.err
		}
		return ctx.Err()
	}
	return nil
}

// drain pulls with clients pullers until want flowfiles were received and
// acknowledged; the time is from the start until the pull that completed
// the count returned.
func drain(ctx context.Context, q *queueState, clients, batch int, batchBytes int64, want int64, f *S2SFigure) error {
	// Pulls in flight when the count is reached finish (and are acked):
	// cancelling them would leave JetStream messages unacked until their
	// ack wait, and the next run would find them missing.
	var stopped atomic.Bool
	cancel := func() { stopped.Store(true) }
	var got, bytes atomic.Int64
	var empty, errs atomic.Int64
	var firstErr atomic.Value
	var mu sync.Mutex
	var lats []time.Duration
	var end time.Time
	start := time.Now()
	lastProgress := atomic.Int64{}
	lastProgress.Store(start.UnixNano())
	var wg sync.WaitGroup
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil && !stopped.Load() {
				t0 := time.Now()
				n, b, err := q.sys.Pull(ctx, c, batch, batchBytes)
				t1 := time.Now()
				if err != nil {
					if ctx.Err() != nil {
						return
					}
					errs.Add(1)
					firstErr.CompareAndSwap(nil, errBox{err})
					if errs.Load() > 100 {
						cancel()
					}
					continue
				}
				if n == 0 {
					empty.Add(1)
					if time.Since(time.Unix(0, lastProgress.Load())) > 30*time.Second {
						firstErr.CompareAndSwap(nil, errBox{fmt.Errorf("no flowfile pulled for 30 s (%d of %d)", got.Load(), want)})
						cancel()
					}
					continue
				}
				q.pulled.Add(int64(n))
				bytes.Add(b)
				lastProgress.Store(t1.UnixNano())
				mu.Lock()
				lats = append(lats, t1.Sub(t0))
				if got.Add(int64(n)) >= want && end.IsZero() {
					end = t1
					cancel()
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	f.Errors = int(errs.Load())
	f.Empty = int(empty.Load())
	if e, ok := firstErr.Load().(errBox); ok {
		f.FirstErr = e.err.Error()
	}
	if end.IsZero() {
		if f.FirstErr != "" {
			return errors.New(f.FirstErr)
		}
		return fmt.Errorf("pulled %d of %d", got.Load(), want)
	}
	el := end.Sub(start)
	slices.Sort(lats)
	f.Files, f.Bytes, f.Seconds = got.Load(), bytes.Load(), el.Seconds()
	f.FilesPS = float64(f.Files) / el.Seconds()
	f.MiBPS = float64(f.Bytes) / el.Seconds() / (1 << 20)
	f.P50ms, f.P99ms = msf(Percentile(lats, 50)), msf(Percentile(lats, 99))
	return nil
}

// RunOpenLoop starts op at a fixed rate (per second), each in its own
// goroutine whatever happened to the earlier ones, for warmup+window, and
// reports the requests scheduled in the window: latency from the
// scheduled start to the answer (so a stall is charged to every request
// that should have started during it), throughput of those that
// succeeded. A request due while maxInFlight are outstanding is counted
// as an error and not sent.
func RunOpenLoop(ctx context.Context, rate float64, warmup, window time.Duration, maxInFlight int, op Op) Stats {
	start := time.Now()
	from, to := start.Add(warmup), start.Add(warmup+window)
	ctx, cancel := context.WithDeadline(ctx, to.Add(60*time.Second))
	defer cancel()
	interval := time.Duration(float64(time.Second) / rate)
	var mu sync.Mutex
	var lats []time.Duration
	errs := 0
	var firstErr error
	sem := make(chan struct{}, maxInFlight)
	var wg sync.WaitGroup
	for i := 0; ; i++ {
		due := start.Add(time.Duration(i) * interval)
		if !due.Before(to) || ctx.Err() != nil {
			break
		}
		if d := time.Until(due); d > 0 {
			time.Sleep(d)
		}
		counted := !due.Before(from)
		select {
		case sem <- struct{}{}:
		default:
			if counted {
				mu.Lock()
				errs++
				if firstErr == nil {
					firstErr = fmt.Errorf("%d requests outstanding at %.1f/s: not sent", maxInFlight, rate)
				}
				mu.Unlock()
			}
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			err := op(ctx, i, i)
			d := time.Since(due)
			if !counted {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs++
				if firstErr == nil {
					firstErr = err
				}
				return
			}
			lats = append(lats, d)
		}()
	}
	wg.Wait()
	s := summarise(1, window, [][]time.Duration{lats}, []int{errs})
	s.FirstErr = firstErr
	return s
}

// ---- report

// S2STable writes the figures as one markdown table: median [min–max]
// over runs per system, and the ratios of each Weir variant to
// JetStream, computed per run.
func S2STable(w io.Writer, o S2SOptions, figs []S2SFigure) {
	var systems []string
	for _, k := range o.Systems {
		systems = append(systems, k)
	}
	hasNATS := slices.Contains(systems, "nats")
	fmt.Fprint(w, "| flowfiles | measurement |")
	for _, k := range systems {
		fmt.Fprintf(w, " %s |", systemLabel(k))
	}
	var ratios []string
	if hasNATS {
		for _, k := range systems {
			if k != "nats" {
				ratios = append(ratios, k)
				fmt.Fprintf(w, " %s / JetStream |", systemLabel(k))
			}
		}
	}
	fmt.Fprintln(w)
	fmt.Fprint(w, "|---|---|")
	for range len(systems) + len(ratios) {
		fmt.Fprint(w, "---|")
	}
	fmt.Fprintln(w)
	type rowKey struct {
		kind    string
		clients int
	}
	var rows []rowKey
	for _, p := range o.Pushers {
		rows = append(rows, rowKey{"push", p})
	}
	for _, p := range o.Pullers {
		rows = append(rows, rowKey{"pull", p})
	}
	rows = append(rows, rowKey{"latency", 0})
	for _, size := range o.Sizes {
		batch := o.Batch(size)
		first := true
		for _, rk := range rows {
			sel := func(sys string) []S2SFigure {
				var out []S2SFigure
				for _, f := range figs {
					if f.Size == size && f.System == sys && f.Kind == rk.kind && f.Clients == rk.clients {
						out = append(out, f)
					}
				}
				return out
			}
			var label string
			switch rk.kind {
			case "push":
				label = fmt.Sprintf("push, %d pusher%s: flowfiles/s (MiB/s)", rk.clients, plural(rk.clients))
			case "pull":
				label = fmt.Sprintf("pull, %d puller%s: flowfiles/s (MiB/s)", rk.clients, plural(rk.clients))
			case "latency":
				var rates []float64
				for _, f := range figs {
					if f.Size == size && f.Kind == "latency" {
						rates = append(rates, f.Rate)
					}
				}
				if len(rates) == 0 {
					continue
				}
				label = fmt.Sprintf("push latency p50 / p99, open loop at %s batches/s", spreadF(rates, "%.1f"))
			}
			sizeCell := ""
			if first {
				sizeCell = fmt.Sprintf("%s, batch %d", fmtSize(size), batch)
				first = false
			}
			fmt.Fprintf(w, "| %s | %s |", sizeCell, label)
			for _, sys := range systems {
				fs := sel(sys)
				if len(fs) == 0 {
					fmt.Fprint(w, " — |")
					continue
				}
				var a, b []float64
				errs := 0
				for _, f := range fs {
					errs += f.Errors
					if rk.kind == "latency" {
						a, b = append(a, f.P50ms), append(b, f.P99ms)
					} else {
						a, b = append(a, f.FilesPS), append(b, f.MiBPS)
					}
				}
				cell := ""
				if rk.kind == "latency" {
					cell = spreadF(a, "%.1f") + " / " + spreadF(b, "%.1f") + " ms"
				} else {
					cell = spreadF(a, "%.0f") + " (" + spreadF(b, "%.1f") + ")"
				}
				if errs > 0 {
					cell += fmt.Sprintf(" (%d errors)", errs)
				}
				fmt.Fprintf(w, " %s |", cell)
			}
			for _, sys := range ratios {
				var rs []float64
				for _, wf := range sel(sys) {
					for _, nf := range sel("nats") {
						if nf.Run != wf.Run {
							continue
						}
						if rk.kind == "latency" {
							if nf.P50ms > 0 {
								rs = append(rs, wf.P50ms/nf.P50ms)
							}
						} else if nf.FilesPS > 0 {
							rs = append(rs, wf.FilesPS/nf.FilesPS)
						}
					}
				}
				if len(rs) == 0 {
					fmt.Fprint(w, " — |")
					continue
				}
				suffix := "×"
				if rk.kind == "latency" {
					suffix = "× (p50)"
				}
				fmt.Fprintf(w, " %s%s |", spreadF(rs, "%.2f"), suffix)
			}
			fmt.Fprintln(w)
		}
	}
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func fmtSize(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d B", n)
}

// spreadF formats the median of vs and, with more than one value, the
// range: "12.3 [11.0–13.1]".
func spreadF(vs []float64, format string) string {
	if len(vs) == 0 {
		return "—"
	}
	out := fmt.Sprintf(format, median(vs))
	if len(vs) > 1 {
		out += " [" + fmt.Sprintf(format, slices.Min(vs)) + "–" + fmt.Sprintf(format, slices.Max(vs)) + "]"
	}
	return out
}
