package audit

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestMiddlewareAndHistory(t *testing.T) {
	l := New("n1", nil, 3)
	clock := time.Unix(1000, 0)
	l.now = func() time.Time { clock = clock.Add(time.Second); return clock }
	h := l.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/denied":
			w.WriteHeader(http.StatusForbidden)
		case "/bad":
			w.WriteHeader(http.StatusBadRequest)
		default:
			_, _ = w.Write([]byte("ok"))
		}
	}))
	do := func(method, path string) {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(method, path, nil))
	}
	do("GET", "/read")                                  // a read that succeeds: not recorded
	do("GET", "/denied")                                // refused read: recorded
	do("POST", "/nifi-registry-api/buckets")            // a change
	do("POST", "/nifi-api/data-transfer/input-ports/p") // data: not recorded
	do("DELETE", "/bad")                                // a failed change
	do("PUT", "/x")                                     // pushes the oldest out (max 3)
	got := l.Events(Query{})
	if len(got) != 3 || got[0].Path != "/nifi-registry-api/buckets" || got[0].Outcome != "allowed" || got[0].Resource != "/buckets" ||
		got[1].Outcome != "failed" || got[2].Path != "/x" {
		t.Fatalf("history: %+v", got)
	}
	if es := l.Events(Query{Outcome: "failed"}); len(es) != 1 || es[0].Status != http.StatusBadRequest || es[0].Identity != "anonymous" {
		t.Fatalf("failed: %+v", es)
	}
	if es := l.Events(Query{Limit: 1}); len(es) != 1 || es[0].Path != "/x" {
		t.Fatalf("limit: %+v", es)
	}
	if es := l.Events(Query{Since: got[2].Time}); len(es) != 1 {
		t.Fatalf("since: %+v", es)
	}
}
