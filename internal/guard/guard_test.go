package guard

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/weir-nifi/weir/internal/model"
)

func serve(t *testing.T, o Options, h http.Handler) *httptest.Server {
	t.Helper()
	if h == nil {
		h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, err := io.ReadAll(r.Body)
			if err != nil {
				http.Error(w, err.Error(), 400)
				return
			}
			fmt.Fprintf(w, "ok %d", len(b))
		})
	}
	s := httptest.NewServer(New(o, h))
	t.Cleanup(s.Close)
	return s
}

// raw sends a request as written and returns the status line's code.
func raw(t *testing.T, addr, req string) (int, string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestHostAllowlist(t *testing.T) {
	s := serve(t, Options{Hosts: []string{"weir.example.com", "lb:8443"}}, nil)
	addr := strings.TrimPrefix(s.URL, "http://")
	for host, want := range map[string]int{
		"127.0.0.1:1": 200, "[::1]:80": 200, "localhost:18080": 200, "weir.example.com": 200,
		"WEIR.example.com:18080": 200, "lb:8443": 200,
		"evil.example.com:18080": 400, "lb:9999": 400, "": 400, "rebind.attacker.test": 400,
	} {
		st, body := raw(t, addr, "GET /nifi-registry-api/buckets HTTP/1.1\r\nHost: "+host+"\r\nConnection: close\r\n\r\n")
		if st != want {
			t.Errorf("Host %q: %d %q, want %d", host, st, body, want)
		}
	}
	s2 := serve(t, Options{Hosts: []string{"*"}}, nil)
	if st, _ := raw(t, strings.TrimPrefix(s2.URL, "http://"), "GET / HTTP/1.1\r\nHost: any.example\r\nConnection: close\r\n\r\n"); st != 200 {
		t.Errorf("'*' allows any host: got %d", st)
	}
}

// "." and ".." are refused, never redirected: a client that follows the
// redirect would DELETE the bucket instead of the flow.
func TestDotSegmentsAreRefusedNotRedirected(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "routed "+r.URL.Path) })
	s := serve(t, Options{}, mux)
	addr := strings.TrimPrefix(s.URL, "http://")
	for _, p := range []string{
		"/nifi-registry-api/buckets/b/flows/..", "/nifi-registry-api/buckets/b/flows/.", "/nifi-registry-api/buckets/b/flows/%2e%2e",
		"/nifi-registry-api/buckets/b/flows/%2E%2e/", "/nifi-registry-api/buckets/../x", "/nifi-registry-api//buckets",
		"/nifi-registry-api/buckets/%FF", "/nifi-registry-api/buckets?name=%C3%28",
	} {
		st, body := raw(t, addr, "DELETE "+p+" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
		if st != 400 {
			t.Errorf("%s: %d %q, want 400", p, st, body)
		}
	}
	if st, body := raw(t, addr, "GET /nifi-registry-api/buckets/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"); st != 200 {
		t.Errorf("trailing slash: %d %q", st, body)
	}
}

func TestWritesNeedJSON(t *testing.T) {
	s := serve(t, Options{}, nil)
	post := func(path, ct, body string) int {
		req, _ := http.NewRequest(http.MethodPost, s.URL+path, strings.NewReader(body))
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, c := range []struct {
		path, ct string
		want     int
	}{
		{"/nifi-registry-api/buckets", "application/json", 200},
		{"/nifi-registry-api/buckets", "application/json; charset=utf-8", 200},
		{"/nifi-registry-api/buckets", "text/plain", 415}, // what a cross-site form can send
		{"/nifi-registry-api/buckets", "application/x-www-form-urlencoded", 415},
		{"/nifi-registry-api/buckets", "multipart/form-data; boundary=x", 415},
		{"/nifi-registry-api/buckets", "", 415},
		{"/nifi-registry-api/actuator/maintenance", "text/plain", 415},
		{"/nifi-registry-api/buckets/b/bundles/nifi-nar", "multipart/form-data; boundary=x", 200},
		{"/nifi-registry-api/access/token", "application/x-www-form-urlencoded", 200},
	} {
		if got := post(c.path, c.ct, `{"name":"x"}`); got != c.want {
			t.Errorf("POST %s as %q: %d, want %d", c.path, c.ct, got, c.want)
		}
	}
	// No body, no type needed (a DELETE, a POST that switches nothing).
	req, _ := http.NewRequest(http.MethodDelete, s.URL+"/nifi-registry-api/buckets/b", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("DELETE without body: %d", resp.StatusCode)
	}
}

// Bodies share a budget: while one request holds it all, the next waits,
// and gets 503 when its wait runs out; once the first is done, bodies go
// through again. Large bodies with a length take their share before the
// handler runs; small ones as they arrive, from a pool of their own.
func TestBodyBudget(t *testing.T) {
	hold := make(chan struct{})
	var once sync.Once
	release := func() { once.Do(func() { close(hold) }) }
	defer release()
	var inHandler atomic.Int32
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := io.ReadAll(r.Body)
		var me *model.Error
		if errors.As(err, &me) {
			http.Error(w, me.Msg, me.Status())
			return
		}
		if inHandler.Add(1) == 1 {
			<-hold
		}
		io.WriteString(w, "ok")
	})
	const mb = 1 << 20
	s := serve(t, Options{BodyBudget: mb, MaxBody: mb, BodyWait: 300 * time.Millisecond}, h)
	post := func(n int) int {
		req, _ := http.NewRequest(http.MethodPost, s.URL+"/x", strings.NewReader(strings.Repeat("a", n)))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Error(err)
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	first := make(chan int)
	go func() { first <- post(900 << 10) }()
	for inHandler.Load() == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	if got := post(500 << 10); got != 503 {
		t.Fatalf("large body over budget: %d, want 503", got)
	}
	// Small bodies have their own pool: they never wait behind large ones.
	if got := post(200 << 10); got != 200 {
		t.Fatalf("small body while the large pool is spent: %d, want 200", got)
	}
	release()
	if got := <-first; got != 200 {
		t.Fatalf("first: %d", got)
	}
	if got := post(500 << 10); got != 200 {
		t.Fatalf("after release: %d", got)
	}
}

// A refusal sent before the body was read reaches a client that writes
// its whole request before reading the answer (many do): the server reads
// and drops the rest of the body instead of resetting the connection,
// which would discard the answer (the client saw "broken pipe").
func TestEarlyRefusalReachesAWritingClient(t *testing.T) {
	hold := make(chan struct{})
	defer close(hold)
	var inHandler atomic.Int32
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/refuse" {
			// A handler's own refusal before reading (maintenance, 401).
			http.Error(w, "maintenance", http.StatusServiceUnavailable)
			return
		}
		if inHandler.Add(1) == 1 {
			<-hold
		}
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, "ok")
	})
	const size = 32 << 20
	s := serve(t, Options{BodyBudget: 1 << 20, MaxBody: size, BodyWait: 100 * time.Millisecond}, h)
	addr := strings.TrimPrefix(s.URL, "http://")
	// Take the large pool.
	go func() {
		req, _ := http.NewRequest(http.MethodPost, s.URL+"/x", strings.NewReader(strings.Repeat("a", 900<<10)))
		req.Header.Set("Content-Type", "application/json")
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	for inHandler.Load() == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	body := make([]byte, size)
	for _, tc := range []struct {
		name, path, ctype string
		want              int
	}{
		{"over the body budget", "/x", "application/json", 503},
		{"not JSON", "/x", "text/plain", 415},
		{"refused by the handler", "/refuse", "application/json", 503},
	} {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		_ = c.SetDeadline(time.Now().Add(30 * time.Second))
		head := fmt.Sprintf("POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n", tc.path, tc.ctype, size)
		if _, err := c.Write(append([]byte(head), body...)); err != nil {
			t.Errorf("%s: writing the request: %v (the refusal cut the connection)", tc.name, err)
			c.Close()
			continue
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Errorf("%s: reading the answer: %v", tc.name, err)
		} else if resp.StatusCode != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, resp.StatusCode, tc.want)
		}
		c.Close()
	}
}

// A client that declares a large body and sends nothing holds no budget
// while it is small enough to be reserved as it arrives... and a large one
// holds only its own share: a small request still goes through.
func TestHalfSentBodiesDoNotBlockOthers(t *testing.T) {
	s := serve(t, Options{BodyBudget: 1 << 20, MaxBody: 1 << 20, BodyWait: 300 * time.Millisecond, BodyIdle: 5 * time.Second}, nil)
	addr := strings.TrimPrefix(s.URL, "http://")
	for i := 0; i < 50; i++ {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		io.WriteString(c, "POST /x HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 200000\r\n\r\n{\"half\":")
	}
	time.Sleep(100 * time.Millisecond)
	req, _ := http.NewRequest(http.MethodPost, s.URL+"/x", strings.NewReader(`{"name":"x"}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("a small write behind 50 half-sent bodies: %d", resp.StatusCode)
	}
}

// A body that stops arriving is cut off after the idle timeout and its
// share of the budget returned.
func TestStalledBodyIsCutOff(t *testing.T) {
	done := make(chan error, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := io.ReadAll(r.Body)
		done <- err
	})
	s := serve(t, Options{BodyIdle: 200 * time.Millisecond, BodyBudget: 100, MaxBody: 100}, h)
	c, err := net.Dial("tcp", strings.TrimPrefix(s.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "POST /x HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"half\":")
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("a half-sent body read without error")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the stalled body was never cut off")
	}
	// Its budget came back: a whole body goes through.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.URL+"/x", strings.NewReader(strings.Repeat("b", 100)))
	req.Header.Set("Content-Type", "application/json")
	go func() { <-done }()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("after the cut-off: %d", resp.StatusCode)
	}
}

// The web UI's form posts: forms are accepted under Options.Forms, from
// the node's own pages only; cross-site posts (a form on another site,
// even without a body) are refused and the API keeps its JSON rule.
func TestUIFormPostsSameOriginOnly(t *testing.T) {
	s := serve(t, Options{Forms: []string{"/nifi-registry/"}}, nil)
	host := strings.TrimPrefix(s.URL, "http://")
	post := func(path, ct, origin, site, body string) int {
		req, _ := http.NewRequest(http.MethodPost, s.URL+path, strings.NewReader(body))
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		if site != "" {
			req.Header.Set("Sec-Fetch-Site", site)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	const form = "application/x-www-form-urlencoded"
	for _, c := range []struct {
		path, ct, origin, site, body string
		want                         int
	}{
		{"/nifi-registry/buckets", form, "http://" + host, "same-origin", "name=x", 200},
		{"/nifi-registry/buckets/b/flows/f/import", "multipart/form-data; boundary=x", "http://" + host, "", "--x--", 200},
		{"/nifi-registry/buckets", form, "", "same-origin", "name=x", 200},
		{"/nifi-registry/buckets", form, "http://evil.example", "cross-site", "name=x", 403},
		{"/nifi-registry/buckets/b/delete", form, "http://evil.example", "cross-site", "", 403}, // no body: still refused
		{"/nifi-registry/buckets", form, "null", "", "name=x", 403},
		{"/nifi-registry/buckets", form, "", "cross-site", "name=x", 403},
		{"/nifi-registry/buckets", "text/plain", "http://" + host, "", "name=x", 415},
		{"/nifi-registry-api/buckets", form, "http://" + host, "", "name=x", 415}, // the API keeps its rule
	} {
		if got := post(c.path, c.ct, c.origin, c.site, c.body); got != c.want {
			t.Errorf("POST %s as %q from %q/%q: %d, want %d", c.path, c.ct, c.origin, c.site, got, c.want)
		}
	}
}
