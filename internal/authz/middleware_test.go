package authz

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/weir-nifi/weir/internal/api"
	"github.com/weir-nifi/weir/internal/model"
	"github.com/weir-nifi/weir/internal/registry"
)

// records is Records over literal tables.
type records struct {
	public  map[string]bool   // bucket → allowPublicRead (present: exists)
	flows   map[string]string // flow → bucket
	bundles map[string]string // bundle → bucket
}

func (r records) Bucket(id string) (bool, bool) { p, ok := r.public[id]; return p, ok }
func (r records) FlowBucket(id string) (string, bool) {
	b, ok := r.flows[id]
	return b, ok
}
func (r records) BundleBucket(id string) (string, bool) {
	b, ok := r.bundles[id]
	return b, ok
}

// TestMiddlewareDecisions runs the middleware over a handler that answers
// with Weir's rendered permissions (all true) and checks what reaches the
// client for each kind of caller, and that a refusal never runs the
// handler.
func TestMiddlewareDecisions(t *testing.T) {
	pol := fake{
		users: map[string]string{"admin": "u-a", "reader": "u-r", "nobody": "u-n"},
		policies: map[[2]string][2][]string{
			{Buckets, Read}:       {{"u-a"}},
			{Buckets, Write}:      {{"u-a"}},
			{Buckets, Delete}:     {{"u-a"}},
			{"/buckets/b1", Read}: {{"u-a", "u-r"}},
		},
	}
	recs := records{public: map[string]bool{"b1": false, "b2": false}, flows: map[string]string{"f1": "b1"}}
	const item = `{"identifier":"%s","permissions":{"canDelete":true,"canRead":true,"canWrite":true}}`
	var viewErr error // the next View's error, when set
	o := Options{View: func(r *http.Request, fn func(PolicySource, Records) error) error {
		if viewErr != nil {
			return viewErr
		}
		return fn(pol, recs)
	}}
	ran := 0
	base := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ran++
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.URL.Path == "/nifi-registry-api/buckets":
			_, _ = w.Write([]byte("[" + strings.ReplaceAll(item, "%s", "b1") + "," + strings.ReplaceAll(item, "%s", "b2") + "]"))
		case strings.Contains(r.URL.Path, "/flows/f9/"):
			http.Error(w, "not found", http.StatusNotFound)
		default:
			_, _ = w.Write([]byte(strings.ReplaceAll(item, "%s", "v")))
		}
	})
	h := Middleware(o, base)
	do := func(who, method, path string) (int, string) {
		req := httptest.NewRequest(method, path, nil)
		req = req.WithContext(api.WithCaller(req.Context(), registry.Caller{Identity: who}))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code, rec.Body.String()
	}
	latest := "/nifi-registry-api/buckets/b1/flows/f1/versions/latest"
	all := `"permissions":{"canDelete":true,"canRead":true,"canWrite":true}`

	if code, body := do("admin", "GET", latest); code != 200 || !strings.Contains(body, all) {
		t.Errorf("admin: %d %s, want the answer as written", code, body)
	}
	if code, body := do("reader", "GET", latest); code != 200 || !strings.Contains(body, `"permissions":{"canDelete":false,"canRead":true,"canWrite":false}`) {
		t.Errorf("reader: %d %s, want its own permissions", code, body)
	}
	ran = 0
	if code, _ := do("reader", "POST", "/nifi-registry-api/buckets/b1/flows/f1/versions"); code != http.StatusForbidden || ran != 0 {
		t.Errorf("reader writing: %d (handler ran %d times), want 403 without running it", code, ran)
	}
	if code, _ := do("nobody", "GET", latest); code != http.StatusForbidden {
		t.Errorf("nobody: %d, want 403", code)
	}
	// A flow path with an unknown flow is the handler's 404 (NiFi looks
	// it up first), for every caller; under a bucket the caller may not
	// read, the bucket decides first.
	if code, _ := do("nobody", "GET", "/nifi-registry-api/flows/f9/versions"); code != http.StatusNotFound {
		t.Errorf("unknown flow: %d, want the handler's 404", code)
	}
	if code, _ := do("nobody", "GET", "/nifi-registry-api/buckets/b1/flows/f9/versions/latest"); code != http.StatusForbidden {
		t.Errorf("unknown flow in an unreadable bucket: %d, want 403", code)
	}
	// Lists keep what the caller may read, with its permissions.
	if code, body := do("reader", "GET", "/nifi-registry-api/buckets"); code != 200 || strings.Contains(body, `"b2"`) || !strings.Contains(body, `"b1"`) || strings.Contains(body, all) {
		t.Errorf("reader's bucket list: %d %s, want b1 alone, read-only", code, body)
	}
	// The decision's read failing refuses without running the handler; the
	// list filter's failing shows nothing (fails closed).
	viewErr, ran = model.Unavailable("not current", 0), 0
	if code, _ := do("admin", "GET", latest); code != http.StatusServiceUnavailable || ran != 0 {
		t.Errorf("view failing: %d (handler ran %d times), want 503 without running it", code, ran)
	}
	viewErr = nil
	views := 0
	failSecond := Options{View: func(r *http.Request, fn func(PolicySource, Records) error) error {
		views++
		if views%2 == 0 {
			return errors.New("gone")
		}
		return fn(pol, recs)
	}}
	h = Middleware(failSecond, base)
	if code, body := do("admin", "GET", "/nifi-registry-api/buckets"); code != 200 || body != "[]" {
		t.Errorf("list filter failing: %d %s, want an empty list", code, body)
	}
}
