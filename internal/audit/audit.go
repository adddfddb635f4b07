// Package audit records who changed what, and who was refused: every
// request that changes state and every request answered 401 or 403, with
// the caller's identity chain, the resource and action, and the outcome.
// Each record is a structured log line (msg "audit") and goes into a
// bounded in-memory history that operators query (GET /weir-api/audit,
// `weir audit`). The history is per node: a write is recorded by the node
// that executed it (the leader, for forwarded writes), a refusal by the
// node that refused it.
package audit

import (
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/weir-nifi/weir/internal/api"
	"github.com/weir-nifi/weir/internal/authz"
	"github.com/weir-nifi/weir/internal/httpwire"
	"github.com/weir-nifi/weir/internal/statuswriter"
)

// Path is where a node serves its history.
const Path = "/weir-api/audit"

// Event is one audited request.
type Event struct {
	Time     time.Time `json:"time"`
	Node     string    `json:"node"`
	Identity string    `json:"identity"`
	Proxies  []string  `json:"proxies,omitempty"`
	Method   string    `json:"method"`
	Path     string    `json:"path"`
	Resource string    `json:"resource,omitempty"`
	Action   string    `json:"action"`
	Status   int       `json:"status"`
	// Outcome is "allowed" (a change that succeeded), "denied" (401 or
	// 403) or "failed" (a change refused for another reason).
	Outcome string `json:"outcome"`
}

// Log is a node's audit log.
type Log struct {
	node string
	log  *slog.Logger
	max  int

	mu     sync.Mutex
	events []Event // ring buffer
	next   int
	full   bool
	now    func() time.Time
}

// New returns a log keeping the last max events (default 10000).
func New(node string, log *slog.Logger, max int) *Log {
	if max <= 0 {
		max = 10000
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Log{node: node, log: log, max: max, events: make([]Event, 0, min(max, 1024)), now: time.Now}
}

func (l *Log) add(e Event) {
	l.log.Info("audit", "identity", e.Identity, "proxies", e.Proxies, "method", e.Method, "path", e.Path,
		"resource", e.Resource, "action", e.Action, "status", e.Status, "outcome", e.Outcome)
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.events) < l.max {
		l.events = append(l.events, e)
		return
	}
	l.events[l.next] = e
	l.next = (l.next + 1) % l.max
	l.full = true
}

// Query filters the history, oldest first.
type Query struct {
	Since    time.Time
	Identity string
	Outcome  string
	Limit    int
}

// Events returns the events matching q (the newest Limit of them).
func (l *Log) Events(q Query) []Event {
	l.mu.Lock()
	all := append(slices.Clone(l.events[l.next:]), l.events[:l.next]...)
	if !l.full {
		all = slices.Clone(l.events)
	}
	l.mu.Unlock()
	var out []Event
	for _, e := range all {
		if (!q.Since.IsZero() && e.Time.Before(q.Since)) || (q.Identity != "" && e.Identity != q.Identity) || (q.Outcome != "" && e.Outcome != q.Outcome) {
			continue
		}
		out = append(out, e)
	}
	if q.Limit > 0 && len(out) > q.Limit {
		out = out[len(out)-q.Limit:]
	}
	return out
}

// Middleware records the requests next executes that change state and
// those it refuses with 401 or 403. Site-to-site data transfers that
// succeed are not recorded (the metrics count them).
func (l *Log) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := statuswriter.Wrap(w)
		next.ServeHTTP(sw, r)
		code := sw.Status()
		action := authz.ActionOf(r.Method)
		change := action != authz.Read
		outcome := ""
		switch {
		case code == http.StatusUnauthorized || code == http.StatusForbidden:
			outcome = "denied"
		case !change:
			return
		case strings.HasPrefix(r.URL.Path, "/nifi-api/data-transfer/") && code < 400:
			return
		case code < 400:
			outcome = "allowed"
		default:
			outcome = "failed"
		}
		e := Event{Time: l.now(), Node: l.node, Method: r.Method, Path: r.URL.Path, Action: action, Status: code, Outcome: outcome,
			Identity: "anonymous", Resource: authz.TargetOf(r.Method, r.URL.Path).Resource}
		if c, ok := api.CallerFrom(r.Context()); ok {
			e.Identity, e.Proxies = c.Identity, c.Proxies
		}
		l.add(e)
	})
}

// Handler serves the history: ?since=RFC3339&identity=&outcome=&limit=.
func (l *Log) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := Query{Identity: r.URL.Query().Get("identity"), Outcome: r.URL.Query().Get("outcome")}
		if s := r.URL.Query().Get("since"); s != "" {
			t, err := time.Parse(time.RFC3339, s)
			if err != nil {
				http.Error(w, "since must be an RFC 3339 time", http.StatusBadRequest)
				return
			}
			q.Since = t
		}
		if s := r.URL.Query().Get("limit"); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 0 {
				http.Error(w, "limit must be a number", http.StatusBadRequest)
				return
			}
			q.Limit = n
		}
		events := l.Events(q)
		if events == nil {
			events = []Event{}
		}
		_ = httpwire.WriteJSON(w, http.StatusOK, events)
	})
}
