package bench

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/weir-nifi/weir/internal/events"
	"github.com/weir-nifi/weir/internal/harness"
	"github.com/weir-nifi/weir/internal/metrics/promtext"
)

// hooksFile writes the hooks of measurement l: two webhooks and a log
// hook, every event type, and a retention of maxEvents.
func (r *Runner) hooksFile(url, secret string, maxEvents int) (string, error) {
	p := filepath.Join(r.Env.Work, "hooks.yaml")
	text := fmt.Sprintf(`hooks:
  - {name: ci, type: webhook, url: %q, secret: %q}
  - {name: audit, type: webhook, url: %q, secret: %q}
  - {name: log, type: log}
retention: {maxEvents: %d, every: 1s}
`, url, secret, url, secret, maxEvents)
	return p, os.WriteFile(p, []byte(text), 0o600)
}

// Events is measurement l: the cost of event hooks on commit throughput
// (a 3-node cluster, Clients clients, with the hooks of hooksFile against
// none, alternating runs), and the delivery latency from a commit's
// acknowledgement to its webhook's receipt under an open-loop load at
// LatencyRate, with the outbox's size under its retention.
func (r *Runner) Events(ctx context.Context) ([]Result, error) {
	b, err := r.Bodies()
	if err != nil {
		return nil, err
	}
	const secret = "bench-secret"
	rec, err := harness.StartWebhook(secret)
	if err != nil {
		return nil, err
	}
	defer rec.Down()
	const keep = 1000
	file, err := r.hooksFile(rec.URL(), secret, keep)
	if err != nil {
		return nil, err
	}
	k := r.Opts.Clients
	throughput := func(withHooks bool) (Stats, error) {
		var args []string
		if withHooks {
			args = []string{"--hooks", file}
			rec.Reset()
		}
		// Every run starts on a quiet disk: the data of the run before is
		// removed (its unwritten pages dropped with it), and what other
		// files still hold is written out now rather than during the
		// window. Without this the runs slowed one after another
		// (934, 853, 761 commits/s without hooks in one set), and the
		// second run of each pair paid for the first.
		quietDisk()
		c, err := r.Env.StartWeirCluster(3, args...)
		if err != nil {
			return Stats{}, err
		}
		defer c.Destroy()
		l, err := c.Leader()
		if err != nil {
			return Stats{}, err
		}
		api := &API{Base: l.API, HC: NewHTTPClient(k, 60*time.Second)}
		flows, err := api.CreateFlows(ctx, k)
		if err != nil {
			return Stats{}, err
		}
		return RunFor(ctx, k, r.Opts.Warmup, r.Opts.Window, commitOp(api, flows, b)), nil
	}
	const reps = 3
	var none, with, ratios []float64
	for i := 0; i < reps; i++ {
		// The order alternates (none first, then hooks first), so a drift
		// in the machine cannot favour either side.
		got := map[bool]Stats{} // with hooks → throughput
		for _, hooks := range []bool{i%2 == 1, i%2 == 0} {
			s, err := throughput(hooks)
			if err != nil {
				return nil, err
			}
			got[hooks] = s
		}
		s0, s1 := got[false], got[true]
		r.Env.logf("l. run %d: no hooks %v; three hooks %v (%d webhook receipts)", i+1, s0, s1, len(rec.Receipts()))
		none, with = append(none, s0.Throughput), append(with, s1.Throughput)
		ratios = append(ratios, s1.Throughput/s0.Throughput)
	}
	tRatio := median(ratios)
	slices.Sort(ratios)

	// Latency: commits open loop on a cluster with the hooks; each
	// version's acknowledgement time against its event's first receipt.
	rec.Reset()
	c, err := r.Env.StartWeirCluster(3, "--hooks", file)
	if err != nil {
		return nil, err
	}
	defer c.Stop()
	l, err := c.Leader()
	if err != nil {
		return nil, err
	}
	api := &API{Base: l.API, HC: NewHTTPClient(64, 60*time.Second)}
	flows, err := api.CreateFlows(ctx, 16)
	if err != nil {
		return nil, err
	}
	var mu sync.Mutex
	acked := map[string]time.Time{}
	sent := map[string]time.Time{}
	s := RunOpenLoop(ctx, r.Opts.LatencyRate, r.Opts.Warmup, r.Opts.Window, 1024, func(ctx context.Context, _, seq int) error {
		f := flows[seq%len(flows)]
		var out struct {
			SnapshotMetadata struct {
				Version int `json:"version"`
			} `json:"snapshotMetadata"`
		}
		start := time.Now()
		if err := api.do(ctx, http.MethodPost, f.path()+"/versions", b.Get(seq%16, seq/16), &out); err != nil {
			return err
		}
		key := f.ID + "/" + strconv.Itoa(out.SnapshotMetadata.Version)
		mu.Lock()
		acked[key], sent[key] = time.Now(), start
		mu.Unlock()
		return nil
	})
	// Every acknowledged version's event, received (or the wait ends).
	deadline := time.Now().Add(60 * time.Second)
	var lats, fromSend []time.Duration
	early, missing := 0, 0
	for {
		lats, fromSend, early, missing = lats[:0], fromSend[:0], 0, 0
		first := map[string]time.Time{} // "flow/version" → first receipt
		for _, rc := range rec.Receipts() {
			if rc.Event.Type != events.CreateFlowVersion {
				continue
			}
			f, _ := rc.Event.Field("FLOW_ID")
			v, _ := rc.Event.Field("VERSION")
			if _, ok := first[f+"/"+v]; !ok {
				first[f+"/"+v] = rc.At
			}
		}
		mu.Lock()
		for key, at := range acked {
			got, ok := first[key]
			switch {
			case !ok:
				missing++
			case got.Before(at):
				early++ // delivered before the client had the answer
				lats = append(lats, 0)
				fromSend = append(fromSend, got.Sub(sent[key]))
			default:
				lats = append(lats, got.Sub(at))
				fromSend = append(fromSend, got.Sub(sent[key]))
			}
		}
		mu.Unlock()
		if missing == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	slices.Sort(lats)
	slices.Sort(fromSend)
	p50, p99 := Percentile(lats, 50), Percentile(lats, 99)
	s50, s99 := Percentile(fromSend, 50), Percentile(fromSend, 99)
	var kept float64
	if text, err := api.GetBytes(ctx, "/nifi-registry-api/actuator/prometheus"); err == nil {
		if fam, err := promtext.Parse(strings.NewReader(string(text))); err == nil {
			kept, _ = fam.Sum("weir_events_kept", nil)
		}
	}
	r.Env.logf("l. delivery: %d versions acknowledged (%v), %d received before their answer, %d never received; ack → webhook p50 %s p99 %s; request sent → webhook p50 %s p99 %s; outbox keeps %.0f events (retention %d)",
		len(acked), s, early, missing, fmtMs(p50), fmtMs(p99), fmtMs(s50), fmtMs(s99), kept, keep)
	return []Result{
		{ID: "l", Name: fmt.Sprintf("3 nodes: commit throughput, %d clients, with two webhooks and a log hook vs no hooks (median of %d alternating runs)", k, reps),
			Weir: fmt.Sprintf("%.0f vs %.0f commits/s", median(with), median(none)),
			Goal: "≥ 0.9×", Met: fmt.Sprintf("%s (%.2f× [%.2f–%.2f])", yesNo(tRatio >= 0.9), tRatio, ratios[0], ratios[len(ratios)-1]),
			Values: map[string]float64{"ratio": tRatio, "ratio_min": ratios[0], "ratio_max": ratios[len(ratios)-1], "hooks_ops_per_s": median(with), "none_ops_per_s": median(none)}},
		{ID: "l′", Name: fmt.Sprintf("3 nodes: event delivery, commit acknowledged → webhook received, open loop at %.0f commits/s", r.Opts.LatencyRate),
			Weir: fmt.Sprintf("p50 %s / p99 %s (%d of %d events arrived before the client had its answer: counted 0); from the request sent: p50 %s / p99 %s, commit p50 %s; %d never arrived; outbox kept %.0f with retention %d",
				fmtMs(p50), fmtMs(p99), early, len(lats), fmtMs(s50), fmtMs(s99), fmtMs(s.P50), missing, kept, keep),
			Goal: "p99 ≤ 100 ms", Met: yesNo(p99 <= 100*time.Millisecond && missing == 0 && len(lats) > 0),
			Values: map[string]float64{"p50_ms": msf(p50), "p99_ms": msf(p99), "sent_p50_ms": msf(s50), "sent_p99_ms": msf(s99), "events": float64(len(lats)), "missing": float64(missing), "early": float64(early), "kept": kept}},
	}, nil
}
