package promtext

import (
	"strings"
	"testing"
)

func TestSum(t *testing.T) {
	fs, err := Parse(strings.NewReader(`# TYPE r counter
r{route="/a",code="200"} 2
r{route="/a",code="404"} 3
r{route="/b",code="200"} 5
# TYPE h histogram
h_bucket{le="+Inf"} 7
h_sum 1.5
h_count 7
`))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"r", nil, 10},
		{"r", map[string]string{"route": "/a"}, 5},
		{"r", map[string]string{"route": "/a", "code": "404"}, 3},
		{"r", map[string]string{"route": "/c"}, 0},
		{"h", nil, 7},
	} {
		if got, err := fs.Sum(c.name, c.labels); err != nil || got != c.want {
			t.Errorf("Sum(%s, %v) = %v, %v; want %v", c.name, c.labels, got, err, c.want)
		}
	}
	if _, err := fs.Sum("missing", nil); err == nil {
		t.Error("a missing family summed without an error")
	}
}
