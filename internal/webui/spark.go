package webui

import (
	"context"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	dto "github.com/prometheus/client_model/go"
)

// Gatherer reads metric families (prometheus.Gatherer's method).
type Gatherer interface {
	Gather() ([]*dto.MetricFamily, error)
}

// keep is how many samples the sparklines show (5 minutes at 2 s).
const keep = 150

// sample is one reading of the node's counters.
type sample struct {
	at        time.Time
	requests  float64 // weir_http_requests_total, all routes
	commitSum float64 // weir_commit_duration_seconds sum and count
	commitN   float64
}

// sampler keeps the last readings in a ring: the sparklines show this
// node's own recent past, nothing is stored.
type sampler struct {
	g  Gatherer
	mu sync.Mutex
	s  []sample
}

func newSampler(g Gatherer) *sampler { return &sampler{g: g} }

func (s *sampler) run(ctx context.Context, every time.Duration) {
	if s.g == nil {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		s.take(time.Now())
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (s *sampler) take(now time.Time) {
	fams, err := s.g.Gather()
	if err != nil {
		return
	}
	x := sample{at: now}
	for _, f := range fams {
		switch f.GetName() {
		case "weir_http_requests_total":
			for _, m := range f.GetMetric() {
				x.requests += m.GetCounter().GetValue()
			}
		case "weir_commit_duration_seconds":
			for _, m := range f.GetMetric() {
				x.commitSum += m.GetHistogram().GetSampleSum()
				x.commitN += float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	s.mu.Lock()
	s.s = append(s.s, x)
	if len(s.s) > keep+1 {
		s.s = s.s[len(s.s)-keep-1:]
	}
	s.mu.Unlock()
}

// sparks turns the ring into the two series: mean commit latency (ms) and
// request rate (per second) over each interval between samples.
func (s *sampler) sparks() (latency, rate Spark) {
	s.mu.Lock()
	ss := append([]sample(nil), s.s...)
	s.mu.Unlock()
	var lat, rt []float64
	for i := 1; i < len(ss); i++ {
		a, b := ss[i-1], ss[i]
		dt := b.at.Sub(a.at).Seconds()
		if dt <= 0 {
			continue
		}
		rt = append(rt, math.Max(0, b.requests-a.requests)/dt)
		l := 0.0
		if n := b.commitN - a.commitN; n > 0 {
			l = (b.commitSum - a.commitSum) / n * 1000
		}
		lat = append(lat, l)
	}
	return NewSpark(lat, "ms"), NewSpark(rt, "/s")
}

// Spark is a small line chart drawn as an SVG polyline.
type Spark struct {
	Points     string // the polyline's points in a 120×30 box
	Last, Max  float64
	Unit       string
	N          int
	LastString string
}

// Spark box size (the SVG's viewBox).
const sparkW, sparkH = 120.0, 30.0

// NewSpark scales values into the spark box: x evenly spaced, y from 0 at
// the bottom to the largest value at the top.
func NewSpark(vs []float64, unit string) Spark {
	sp := Spark{Unit: unit, N: len(vs)}
	if len(vs) == 0 {
		return sp
	}
	for _, v := range vs {
		sp.Max = math.Max(sp.Max, v)
	}
	sp.Last = vs[len(vs)-1]
	sp.LastString = strconv.FormatFloat(sp.Last, 'f', 1, 64) + " " + unit
	var b strings.Builder
	for i, v := range vs {
		x := 0.0
		if len(vs) > 1 {
			x = float64(i) * sparkW / float64(len(vs)-1)
		}
		y := sparkH
		if sp.Max > 0 {
			y = sparkH - v/sp.Max*(sparkH-2) - 1
		}
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(strconv.FormatFloat(x, 'f', 1, 64) + "," + strconv.FormatFloat(y, 'f', 1, 64))
	}
	sp.Points = b.String()
	return sp
}
