package server_test

import (
	"crypto/tls"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/weir-nifi/weir/internal/s2s/server"
	"github.com/weir-nifi/weir/internal/s2s/server/memqueue"
)

func TestSiteToSiteDetails(t *testing.T) {
	e := newEnv(t, envOpts{})
	get := func(version string) (*httptest.ResponseRecorder, map[string]any) {
		req := httptest.NewRequest("GET", "/nifi-api/site-to-site", nil)
		req.Host = "nifi.example:8443"
		if version != "" {
			req.Header.Set(server.HeaderProtocolVersion, version)
		}
		w := httptest.NewRecorder()
		e.srv.ServeHTTP(w, req)
		var m map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &m); err != nil {
			t.Fatal(err)
		}
		return w, m["controller"].(map[string]any)
	}
	w, c := get("1")
	if w.Code != 200 || w.Header().Get("Cache-Control") == "" {
		t.Fatal(w.Code)
	}
	if w.Header().Get(server.HeaderTransactionTTL) != "" {
		t.Fatal("NiFi sets no common headers on /site-to-site")
	}
	want := map[string]any{
		"id": rootID, "instanceId": instance, "name": "weir", "comments": "",
		"runningCount": 3.0, "stoppedCount": 1.0, "invalidCount": 0.0, "disabledCount": 0.0,
		"inputPortCount": 3.0, "outputPortCount": 1.0,
		"remoteSiteHttpListeningPort": 8443.0, // the request's port: Controller.HTTPPort is 0
		"siteToSiteSecure":            false,
	}
	for k, v := range want {
		if c[k] != v {
			t.Fatalf("%s = %v, want %v", k, c[k], v)
		}
	}
	if _, ok := c["remoteSiteListeningPort"]; ok {
		t.Fatal("the RAW port is advertised")
	}
	in := c["inputPorts"].([]any)
	if len(in) != 3 || c["outputPorts"].([]any)[0].(map[string]any)["state"] != "RUNNING" {
		t.Fatalf("%v", c)
	}
	for _, p := range in {
		pm := p.(map[string]any)
		if pm["id"] == stopped && pm["state"] != "STOPPED" || pm["id"] == inPort2 && pm["comments"] != "second" {
			t.Fatalf("%v", pm)
		}
	}

	// Without the version header (pre-1.0 clients) the HTTP port is left out.
	_, c = get("")
	if _, ok := c["remoteSiteHttpListeningPort"]; ok {
		t.Fatal("remoteSiteHttpListeningPort without the version header")
	}

	// No ports at all: both arrays still present (C7).
	empty := memqueue.New()
	srv, _ := server.New(server.Options{Ports: empty, Peers: empty, Queues: empty, Controller: server.Controller{ID: "x", HTTPPort: 18443, Secure: true}})
	defer srv.Close()
	req := httptest.NewRequest("GET", "/nifi-api/site-to-site", nil)
	req.Header.Set(server.HeaderProtocolVersion, "1")
	w = httptest.NewRecorder()
	srv.ServeHTTP(w, req)
	body := w.Body.String()
	for _, s := range []string{`"inputPorts":[]`, `"outputPorts":[]`, `"siteToSiteSecure":true`, `"remoteSiteHttpListeningPort":18443`} {
		if !strings.Contains(body, s) {
			t.Fatalf("%s lacks %s", body, s)
		}
	}
}

func TestPeers(t *testing.T) {
	e := newEnv(t, envOpts{})
	get := func(version bool) *httptest.ResponseRecorder {
		req := httptest.NewRequest("GET", "/nifi-api/site-to-site/peers", nil)
		if version {
			req.Header.Set(server.HeaderProtocolVersion, "1")
		}
		w := httptest.NewRecorder()
		e.srv.ServeHTTP(w, req)
		return w
	}
	w := get(false)
	expectResult(t, w.Result(), w.Body.Bytes(), 400, 250)

	w = get(true)
	if w.Code != 200 || w.Body.String() != `{"peers":[{"hostname":"127.0.0.1","port":18080,"secure":false,"flowFileCount":3,"zone":"a"}]}` {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	if w.Header().Get(server.HeaderProtocolVersion) != "1" || w.Header().Get(server.HeaderTransactionTTL) != "30" {
		t.Fatal("no common headers on /peers")
	}
	e.store.SetPeers(nil, nil)
	if w = get(true); w.Code != 503 {
		t.Fatal("an empty peer list was served")
	}
	e.store.SetPeers(nil, errors.New("no member table"))
	if w = get(true); w.Code != 503 {
		t.Fatal(w.Code)
	}
}

// The transaction URL is absolute and built as NiFi builds it, proxies
// included (§2, C11).
func TestLocation(t *testing.T) {
	e := newEnv(t, envOpts{mutate: func(o *server.Options) { o.ContextPaths = []string{"/gateway", "/nifi-proxy/"} }})
	cases := []struct {
		name    string
		host    string
		tls     bool
		headers map[string]string
		want    string // the URL before /nifi-api; "" for a refusal
	}{
		{"plain", "nifi.example:8080", false, nil, "http://nifi.example:8080"},
		{"no port", "nifi.example", false, nil, "http://nifi.example:80"},
		{"tls, no port", "nifi.example", true, nil, "https://nifi.example:443"},
		{"ipv6", "[::1]:8080", false, nil, "http://[::1]:8080"},
		{"forwarded", "10.0.0.5:8080", false, map[string]string{"X-Forwarded-Proto": "https", "X-Forwarded-Host": "nifi.example.com:9443"}, "https://nifi.example.com:9443"},
		{"forwarded host without port", "10.0.0.5:8080", false, map[string]string{"X-Forwarded-Proto": "https", "X-Forwarded-Host": "nifi.example.com", "X-Forwarded-Port": "8443"}, "https://nifi.example.com:8443"},
		{"forwarded host alone keeps the server port", "10.0.0.5:8080", false, map[string]string{"X-Forwarded-Host": "nifi.example.com"}, "http://nifi.example.com:8080"},
		{"proxy headers first", "10.0.0.5:8080", false, map[string]string{
			"X-ProxyScheme": "https", "X-ProxyHost": "p.example", "X-ProxyPort": "10443",
			"X-Forwarded-Proto": "http", "X-Forwarded-Host": "f.example:9000",
		}, "https://p.example:10443"},
		{"allowed context path", "h:8080", false, map[string]string{"X-ProxyContextPath": "/gateway"}, "http://h:8080/gateway"},
		{"allowed prefix, trailing slash", "h:8080", false, map[string]string{"X-Forwarded-Prefix": "/nifi-proxy/"}, "http://h:8080/nifi-proxy"},
		{"root context path", "h:8080", false, map[string]string{"X-Forwarded-Context": "/"}, "http://h:8080"},
		{"context path not allowed", "h:8080", false, map[string]string{"X-ProxyContextPath": "/evil"}, ""},
		{"bad scheme ignored", "h:8080", false, map[string]string{"X-Forwarded-Proto": "javascript"}, "http://h:8080"},
		{"bad host ignored", "h:8080", false, map[string]string{"X-Forwarded-Host": "evil.example/x?y"}, "http://h:8080"},
		{"port below 100 ignored", "h:8080", false, map[string]string{"X-ProxyPort": "80"}, "http://h:8080"},
		{"port not a number ignored", "h:8080", false, map[string]string{"X-Forwarded-Port": "https"}, "http://h:8080"},
	}
	for _, c := range cases {
		req := httptest.NewRequest("POST", "/nifi-api/data-transfer/input-ports/"+inPort+"/transactions", nil)
		req.Host = c.host
		if c.tls {
			req.TLS = &tls.ConnectionState{}
		}
		req.Header.Set(server.HeaderProtocolVersion, "1")
		for k, v := range c.headers {
			req.Header.Set(k, v)
		}
		w := httptest.NewRecorder()
		e.srv.ServeHTTP(w, req)
		if c.want == "" {
			expectResult(t, w.Result(), w.Body.Bytes(), 400, 250)
			continue
		}
		loc := w.Header().Get("Location")
		prefix := c.want + "/nifi-api/data-transfer/input-ports/" + inPort + "/transactions/"
		if w.Code != 201 || !strings.HasPrefix(loc, prefix) {
			t.Fatalf("%s: %d Location %q, want %s…", c.name, w.Code, loc, prefix)
		}
	}
}
