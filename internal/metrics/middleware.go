package metrics

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/weir-nifi/weir/internal/statuswriter"
)

// Middleware counts and times every request by the route pattern that
// served it. net/http's ServeMux records the pattern on the request it
// dispatches (r.Pattern), and nested muxes overwrite it with the innermost
// match, so it is read after the handler returns.
func (m *Metrics) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rw := statuswriter.Wrap(w)
		next.ServeHTTP(rw, r)
		code := rw.Status()
		labels := []string{route(r.Pattern), method(r.Method), strconv.Itoa(code)}
		m.requests.WithLabelValues(labels...).Inc()
		m.latency.WithLabelValues(labels...).Observe(time.Since(start).Seconds())
	})
}

// route strips the method from a pattern ("GET /a/{b}" → "/a/{b}").
func route(p string) string {
	if p == "" {
		return "unmatched"
	}
	if i := strings.IndexByte(p, ' '); i >= 0 {
		p = strings.TrimSpace(p[i+1:])
	}
	return p
}

// method bounds the label's values.
func method(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch, http.MethodOptions:
		return m
	}
	return "OTHER"
}
