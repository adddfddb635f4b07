// Package promtext reads figures out of a Prometheus text exposition (what
// /actuator/prometheus serves), for the tests that check Weir's metrics:
// one parser (Prometheus' own) instead of each test splitting lines.
package promtext

import (
	"fmt"
	"io"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Families parses an exposition.
type Families map[string]*dto.MetricFamily

// Parse reads a text exposition.
func Parse(r io.Reader) (Families, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	return p.TextToMetricFamilies(r)
}

// Sum adds up family name's series whose labels include all of labels: a
// counter's or gauge's value, a histogram's or summary's sample count. It
// is an error when there is no such family.
func (fs Families) Sum(name string, labels map[string]string) (float64, error) {
	f := fs[name]
	if f == nil {
		return 0, fmt.Errorf("no metric %s", name)
	}
	var sum float64
next:
	for _, m := range f.Metric {
		for k, v := range labels {
			if Label(m, k) != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			sum += m.Counter.GetValue()
		case m.Gauge != nil:
			sum += m.Gauge.GetValue()
		case m.Histogram != nil:
			sum += float64(m.Histogram.GetSampleCount())
		case m.Summary != nil:
			sum += float64(m.Summary.GetSampleCount())
		}
	}
	return sum, nil
}

// Label is a series' value of label name ("" without it).
func Label(m *dto.Metric, name string) string {
	for _, l := range m.Label {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}
