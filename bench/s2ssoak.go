package bench

import (
	"context"
	"fmt"
	"io"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// SoakOptions size the memory soak: pushers and pullers run at once
// against a 3-node Weir cluster with default settings while each node's
// RSS is sampled.
type SoakOptions struct {
	Duration   time.Duration
	Interval   time.Duration // between RSS samples
	Size       int           // flowfile content bytes
	BatchBytes int           // batch = max(1, BatchBytes/Size)
	Pushers    int
	Pullers    int
	// Rate, when > 0, paces the pushers together to this many batches per
	// second (open loop would pile up goroutines if the relay fell
	// behind; this is a shared ticker that pushers take turns from).
	Rate float64
	Args []string // extra weir flags
	Seed uint64
}

// DefaultSoakOptions: 10 minutes, 64 KiB flowfiles in batches of 16, 4
// pushers sharing 8 batches a second (8 MiB/s, about a third of what the
// relay takes on the reference machine, so that pulls keep up and the
// disk does not fill), 4 pullers as fast as they go, samples every 5 s.
func DefaultSoakOptions() SoakOptions {
	return SoakOptions{Duration: 10 * time.Minute, Interval: 5 * time.Second, Size: 64 << 10, BatchBytes: 1 << 20,
		Pushers: 4, Pullers: 4, Rate: 8, Seed: 1}
}

// SoakSample is one sample of every node.
type SoakSample struct {
	At     time.Duration `json:"at"`
	RSS    []int64       `json:"rss"`  // per node, bytes
	Anon   []int64       `json:"anon"` // RssAnon per node
	Pushed int64         `json:"pushed"`
	Pulled int64         `json:"pulled"`
}

// SoakResult is the whole soak.
type SoakResult struct {
	Opts       SoakOptions  `json:"options"`
	Nodes      []string     `json:"nodes"`
	Samples    []SoakSample `json:"samples"`
	Pushed     int64        `json:"pushed"`
	Pulled     int64        `json:"pulled"`
	PushErrors int64        `json:"push_errors"`
	PullErrors int64        `json:"pull_errors"`
	FirstErr   string       `json:"first_error,omitempty"`
	DataBytes  []int64      `json:"data_bytes"` // per node data directory at the end
}

// S2SSoak runs the soak.
func (e *Env) S2SSoak(ctx context.Context, o SoakOptions) (SoakResult, error) {
	res := SoakResult{Opts: o}
	w, err := e.StartWeirS2S(ctx, "weir", 3, o.Args...)
	if err != nil {
		return res, err
	}
	defer stopAndClean(w)
	for _, n := range w.Cluster.Nodes {
		res.Nodes = append(res.Nodes, n.ID)
	}
	batch := max(1, o.BatchBytes/max(1, o.Size))
	content := RandomContent(o.Seed, o.Size)
	q := &queueState{sys: w}
	sample := func(at time.Duration) {
		s := SoakSample{At: at, Pushed: q.pushed.Load(), Pulled: q.pulled.Load()}
		for _, n := range w.Cluster.Nodes {
			rss, _ := RSS(n.Proc.PID())
			anon, _ := procField(n.Proc.PID(), "RssAnon:")
			s.RSS, s.Anon = append(s.RSS, rss), append(s.Anon, anon)
		}
		res.Samples = append(res.Samples, s)
		e.logf("soak %v: pushed %d, pulled %d, queued %d; RSS %s", at.Round(time.Second), s.Pushed, s.Pulled,
			s.Pushed-s.Pulled, mbList(s.RSS))
	}
	sample(0)
	start := time.Now()
	lctx, cancel := context.WithTimeout(ctx, o.Duration)
	defer cancel()
	var tick <-chan time.Time
	if o.Rate > 0 {
		t := time.NewTicker(time.Duration(float64(time.Second) / o.Rate))
		defer t.Stop()
		tick = t.C
	}
	var pushErrs, pullErrs atomic.Int64
	var firstErr atomic.Value
	fail := func(n *atomic.Int64, err error) {
		n.Add(1)
		firstErr.CompareAndSwap(nil, errBox{err})
		time.Sleep(100 * time.Millisecond)
	}
	op := q.pushOp(content, batch)
	var wg sync.WaitGroup
	for c := range o.Pushers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for seq := 0; lctx.Err() == nil; seq++ {
				if tick != nil {
					select {
					case <-tick:
					case <-lctx.Done():
						return
					}
				}
				if err := op(lctx, c, seq); err != nil && lctx.Err() == nil {
					fail(&pushErrs, err)
				}
			}
		}()
	}
	for c := range o.Pullers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for lctx.Err() == nil {
				n, _, err := w.Pull(lctx, c, batch, int64(batch*o.Size))
				if err != nil {
					if lctx.Err() == nil {
						fail(&pullErrs, err)
					}
					continue
				}
				q.pulled.Add(int64(n))
			}
		}()
	}
	t := time.NewTicker(o.Interval)
	for done := false; !done; {
		select {
		case <-t.C:
			if lctx.Err() == nil {
				sample(time.Since(start))
			}
		case <-lctx.Done():
			done = true
		}
	}
	t.Stop()
	wg.Wait()
	if el := time.Since(start); el-res.Samples[len(res.Samples)-1].At > o.Interval/2 {
		sample(el)
	}
	res.Pushed, res.Pulled = q.pushed.Load(), q.pulled.Load()
	res.PushErrors, res.PullErrors = pushErrs.Load(), pullErrs.Load()
	if e, ok := firstErr.Load().(errBox); ok {
		res.FirstErr = e.err.Error()
	}
	for _, n := range w.Cluster.Nodes {
		res.DataBytes = append(res.DataBytes, dirSize(n.DataDir))
	}
	return res, ctx.Err()
}

func mbList(bs []int64) string {
	out := ""
	for i, b := range bs {
		if i > 0 {
			out += " "
		}
		out += fmt.Sprintf("%.0f", float64(b)/(1<<20))
	}
	return out + " MiB"
}

// SoakTable writes start / median / max / end of each node's RSS (and
// anonymous RSS), and the work done.
func SoakTable(w io.Writer, r SoakResult) {
	el := time.Duration(0)
	if n := len(r.Samples); n > 0 {
		el = r.Samples[n-1].At
	}
	batch := max(1, r.Opts.BatchBytes/max(1, r.Opts.Size))
	fmt.Fprintf(w, "%v, %s flowfiles in batches of %d, %d pushers and %d pullers at once, %d samples: pushed %d (%.0f/s, %.1f MiB/s), pulled %d (%.0f/s), %d left queued; %d push and %d pull errors",
		el.Round(time.Second), fmtSize(r.Opts.Size), batch, r.Opts.Pushers, r.Opts.Pullers, len(r.Samples),
		r.Pushed, float64(r.Pushed)/el.Seconds(), float64(r.Pushed)*float64(r.Opts.Size)/el.Seconds()/(1<<20),
		r.Pulled, float64(r.Pulled)/el.Seconds(), r.Pushed-r.Pulled, r.PushErrors, r.PullErrors)
	if r.FirstErr != "" {
		fmt.Fprintf(w, " (first: %s)", r.FirstErr)
	}
	fmt.Fprintf(w, "; data directories at the end %s.\n\n", mbList(r.DataBytes))
	fmt.Fprintln(w, "| node | RSS start | median | max | end | RssAnon start | median | max | end |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|")
	for i, id := range r.Nodes {
		var rss, anon []int64
		for _, s := range r.Samples {
			if i < len(s.RSS) {
				rss, anon = append(rss, s.RSS[i]), append(anon, s.Anon[i])
			}
		}
		fmt.Fprintf(w, "| %s | %s | %s |\n", id, fourMB(rss), fourMB(anon))
	}
}

func fourMB(vs []int64) string {
	if len(vs) == 0 {
		return "— | — | — | —"
	}
	s := slices.Clone(vs)
	slices.Sort(s)
	mb := func(b int64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }
	return mb(vs[0]) + " | " + mb(s[len(s)/2]) + " | " + mb(s[len(s)-1]) + " | " + mb(vs[len(vs)-1])
}
