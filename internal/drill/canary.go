package drill

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/weir-nifi/weir/internal/client"
	"github.com/weir-nifi/weir/internal/model"
	"github.com/weir-nifi/weir/sitetosite"
)

// SeqAttribute numbers the canary's site-to-site flowfiles.
const SeqAttribute = "weir.drill.seq"

// attempt is one canary operation: when it started and ended and whether
// it was acknowledged.
type attempt struct {
	start, end time.Time
	ok         bool
}

// canary records a writer's attempts and what was acknowledged.
type canary struct {
	mu       sync.Mutex
	attempts []attempt
	acked    map[int]bool
	failed   int
	lastErr  string
}

func newCanary() *canary { return &canary{acked: map[int]bool{}} }

func (c *canary) record(seq int, start time.Time, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.attempts = append(c.attempts, attempt{start: start, end: time.Now(), ok: err == nil})
	if err == nil {
		c.acked[seq] = true
	} else {
		c.failed++
		c.lastErr = err.Error()
	}
}

// recovered returns when the first attempt started at or after t was
// acknowledged (false while none was).
func (c *canary) recovered(t time.Time) (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var first time.Time
	for _, a := range c.attempts {
		if a.ok && !a.start.Before(t) && (first.IsZero() || a.end.Before(first)) {
			first = a.end
		}
	}
	return first, !first.IsZero()
}

// okCount counts acknowledged attempts.
func (c *canary) okCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.acked)
}

// result compares what was acknowledged with what is there now.
func (c *canary) result(present map[int]int, fault time.Time) Canary {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := Canary{Acknowledged: len(c.acked), Failed: c.failed, LastError: c.lastErr}
	for seq := range c.acked {
		if present[seq] == 0 {
			out.Missing++
		}
	}
	for _, n := range present {
		if n > 1 {
			out.Duplicates += n - 1
		}
	}
	return out
}

// ---- the registry canary: commits versions of one flow

type registryCanary struct {
	*canary
	urls         []string
	hc           *http.Client
	bucket, flow string
	interval     time.Duration
	opTimeout    time.Duration
	cur          int
	marker       string
}

// run commits a version every interval until ctx ends, on the node that
// last answered, moving to the next URL after a failure (as a client
// with a list of nodes does).
func (r *registryCanary) run(ctx context.Context) {
	for seq := 1; ctx.Err() == nil; seq++ {
		start := time.Now()
		cl := client.New(r.urls[r.cur])
		cl.HTTP = r.hc
		octx, cancel := context.WithTimeout(ctx, r.opTimeout)
		_, err := cl.CommitVersion(octx, r.bucket, r.flow, r.snapshot(seq), false)
		cancel()
		if ctx.Err() != nil && err != nil {
			return // stopped midway: neither acknowledged nor failed
		}
		r.record(seq, start, err)
		if err != nil {
			r.cur = (r.cur + 1) % len(r.urls)
		}
		sleep(ctx, r.interval)
	}
}

func (r *registryCanary) snapshot(seq int) []byte {
	name := fmt.Sprintf("%s %d", r.marker, seq)
	b, _ := json.Marshal(map[string]any{
		"snapshotMetadata": map[string]any{"bucketIdentifier": r.bucket, "flowIdentifier": r.flow, "version": -1, "comments": name},
		"flowContents": map[string]any{
			"identifier": "pg-" + strconv.Itoa(seq), "name": name, "componentType": "PROCESS_GROUP",
			"processors": []any{}, "processGroups": []any{}, "connections": []any{},
			"position": map[string]float64{"x": 0, "y": 0},
		},
		"flowEncodingVersion": "1.0",
	})
	return b
}

// present lists the canary versions stored, as seen from the node at url
// (a linearizable read): seq → how many versions carry it.
func (r *registryCanary) present(ctx context.Context, url string) (map[int]int, error) {
	cl := client.New(url)
	cl.HTTP = r.hc
	vs, err := cl.Versions(ctx, r.bucket, r.flow)
	if err != nil {
		return nil, err
	}
	out := map[int]int{}
	for _, v := range vs {
		if s, ok := strings.CutPrefix(model.Deref(v.Comments), r.marker+" "); ok {
			if n, err := strconv.Atoi(s); err == nil {
				out[n]++
			}
		}
	}
	return out, nil
}

// ---- the site-to-site canary: pushes one flowfile per transaction

type s2sCanary struct {
	*canary
	remote    *sitetosite.Remote
	interval  time.Duration
	opTimeout time.Duration
}

func (s *s2sCanary) run(ctx context.Context) {
	for seq := 1; ctx.Err() == nil; seq++ {
		start := time.Now()
		octx, cancel := context.WithTimeout(ctx, s.opTimeout)
		_, err := s.remote.Send(octx, []sitetosite.FlowFile{{
			Attributes: map[string]string{SeqAttribute: strconv.Itoa(seq)},
			Content:    []byte("weir drill canary " + strconv.Itoa(seq)),
		}})
		cancel()
		if ctx.Err() != nil && err != nil {
			return
		}
		s.record(seq, start, err)
		sleep(ctx, s.interval)
	}
}

// drain pulls every flowfile queued at the output port: seq → count.
func drain(ctx context.Context, out *sitetosite.Remote) (map[int]int, error) {
	got := map[int]int{}
	for empty := 0; empty < 2; {
		n, _, err := out.Receive(ctx, func(ffs []sitetosite.FlowFile) error {
			for _, f := range ffs {
				if seq, err := strconv.Atoi(f.Attributes[SeqAttribute]); err == nil {
					got[seq]++
				}
			}
			return nil
		})
		if err != nil {
			return got, err
		}
		if n == 0 {
			empty++
		}
	}
	return got, nil
}

// merge combines what several nodes report: a seq counts as present
// only where every node has it (the smallest count).
func merge(views []map[int]int) map[int]int {
	if len(views) == 0 {
		return map[int]int{}
	}
	out := map[int]int{}
	for seq, n := range views[0] {
		for _, v := range views[1:] {
			n = min(n, v[seq])
		}
		if n > 0 {
			out[seq] = n
		}
	}
	return out
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}
