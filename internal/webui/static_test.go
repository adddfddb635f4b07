package webui

import (
	"math"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// luminance is WCAG 2's relative luminance of a #rrggbb colour.
func luminance(t *testing.T, hex string) float64 {
	t.Helper()
	if len(hex) != 7 {
		t.Fatalf("colour %q", hex)
	}
	var l [3]float64
	for i := range l {
		v, err := strconv.ParseUint(hex[1+2*i:3+2*i], 16, 8)
		if err != nil {
			t.Fatal(err)
		}
		c := float64(v) / 255
		if c <= 0.03928 {
			l[i] = c / 12.92
		} else {
			l[i] = math.Pow((c+0.055)/1.055, 2.4)
		}
	}
	return 0.2126*l[0] + 0.7152*l[1] + 0.0722*l[2]
}

func contrast(t *testing.T, a, b string) float64 {
	la, lb := luminance(t, a), luminance(t, b)
	return (math.Max(la, lb) + 0.05) / (math.Min(la, lb) + 0.05)
}

// The stylesheet's text colours are readable (WCAG AA, 4.5:1) on the
// backgrounds they are used on: white pages, the marked boxes' fills,
// white text on buttons.
func TestUIColoursContrast(t *testing.T) {
	css, err := files.ReadFile("static/weir.css")
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{}
	for _, m := range regexp.MustCompile(`--([a-z]+):(#[0-9a-f]{6})`).FindAllStringSubmatch(string(css), -1) {
		vars[m[1]] = m[2]
	}
	pairs := []struct{ fg, bg string }{
		{vars["fg"], "#ffffff"}, {vars["muted"], "#ffffff"}, {vars["accent"], "#ffffff"},
		{vars["add"], "#ffffff"}, {vars["rem"], "#ffffff"}, {vars["chg"], "#ffffff"}, {vars["ins"], "#ffffff"},
		{"#ffffff", vars["accent"]}, {"#ffffff", vars["rem"]}, {"#ffffff", "#1f2d3d"},
		{vars["fg"], "#e8f5ec"}, {vars["fg"], "#fdecee"}, {vars["fg"], "#fff4e0"}, {vars["muted"], "#f1f3f5"},
	}
	for _, p := range pairs {
		if p.fg == "" || p.bg == "" {
			t.Fatalf("a colour variable is missing: %v", vars)
		}
		if c := contrast(t, p.fg, p.bg); c < 4.5 {
			t.Errorf("%s on %s: contrast %.2f, want ≥ 4.5", p.fg, p.bg, c)
		}
	}
}

// The sampler turns counter readings into per-interval rates and mean
// commit latencies, from a real Prometheus registry.
func TestUISamplerSparks(t *testing.T) {
	reg := prometheus.NewRegistry()
	reqs := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "weir_http_requests_total"}, []string{"route"})
	commit := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "weir_commit_duration_seconds"}, []string{"result"})
	reg.MustRegister(reqs, commit)
	s := newSampler(reg)
	t0 := time.Unix(1000, 0)
	s.take(t0)
	reqs.WithLabelValues("a").Add(10)
	reqs.WithLabelValues("b").Add(10)
	commit.WithLabelValues("ok").Observe(0.002)
	commit.WithLabelValues("ok").Observe(0.004)
	s.take(t0.Add(2 * time.Second))
	s.take(t0.Add(4 * time.Second)) // nothing happened
	lat, rate := s.sparks()
	if rate.N != 2 || rate.Max != 10 || rate.Last != 0 {
		t.Errorf("rate %+v, want 10/s then 0/s", rate)
	}
	if lat.N != 2 || math.Abs(lat.Max-3) > 1e-9 || lat.Last != 0 {
		t.Errorf("latency %+v, want a mean of 3 ms then none", lat)
	}
	for range keep + 10 {
		s.take(t0)
	}
	if len(s.s) != keep+1 {
		t.Errorf("ring holds %d samples, want %d", len(s.s), keep+1)
	}
}
