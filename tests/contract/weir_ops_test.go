package contract

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/weir-nifi/weir/internal/adminauth"
	"github.com/weir-nifi/weir/internal/apidoc"
	"github.com/weir-nifi/weir/internal/daemon"
)

const weirTag = apidoc.WeirTag

// doAbs sends a request to an absolute path of the node (outside the API
// base too), with the admin token when key is set.
func (s *server) doAbs(method, path string, body []byte, key bool, hdr http.Header) *response {
	s.t.Helper()
	req, err := http.NewRequest(method, s.base+path, bytes.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key {
		req.Header.Set("Authorization", "Bearer "+adminauth.Token([]byte(testClusterKey)))
	}
	for k, vs := range hdr {
		req.Header[k] = vs
	}
	resp, err := s.hc.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	return &response{method: method, path: path, status: resp.StatusCode, header: resp.Header, body: b}
}

// TestContractDescriptionServed: the node serves the description the
// tests validate against, as JSON and YAML, where NiFi Registry 2.x
// serves its own.
func TestContractDescriptionServed(t *testing.T) {
	s := startServer(t, nil)
	want, err := apidoc.JSON()
	if err != nil {
		t.Fatal(err)
	}
	r := s.doAbs("GET", apidoc.Base+"/swagger.json", nil, false, nil)
	if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") || !bytes.Equal(r.body, want) {
		t.Fatalf("swagger.json: %d %q, %d bytes (want %d)", r.status, r.header.Get("Content-Type"), len(r.body), len(want))
	}
	r = s.doAbs("GET", apidoc.Base+"/swagger.yaml", nil, false, nil)
	if r.status != 200 || !bytes.HasPrefix(r.body, []byte("components:")) || !bytes.Contains(r.body, []byte("/weir-api/cluster/status:")) {
		t.Fatalf("swagger.yaml: %d %.200s", r.status, r.body)
	}
}

// TestContractWeirOperations calls every operation Weir serves besides
// NiFi's API (health, maintenance, backups, metrics, cluster, ports,
// audit, disaster recovery) on a real node and validates each answer
// against the served description; every one of them must be called. The
// site-to-site discovery answers (/nifi-api) are validated too; the
// data-transfer streams are covered by the site-to-site system tests.
func TestContractWeirOperations(t *testing.T) {
	doc := loadSpec(t)
	s := startServer(t, func(c *daemon.Config) { c.BackupDir = t.TempDir() })
	// call sends the request of operation (method, template) and
	// validates the answer; want is the status expected.
	var hdr http.Header // sent with every call
	call := func(method, template, path, body string, key bool, want int) *response {
		t.Helper()
		var b []byte
		if body != "" {
			b = []byte(body)
		}
		r := s.doAbs(method, path, b, key, hdr)
		if r.status != want {
			t.Fatalf("want %d: %s", want, r)
		}
		validate(t, method, template, r)
		return r
	}
	const act = "/actuator"
	for _, p := range []string{"/health", "/health/liveness", "/health/readiness", "/health/leader"} {
		call("GET", act+p, apiBase+act+p, "", false, 200)
	}
	call("GET", act+"/health/{component}", apiBase+act+"/health/storage", "", false, 200)
	call("GET", act+"/maintenance", apiBase+act+"/maintenance", "", false, 200)
	call("POST", act+"/maintenance", apiBase+act+"/maintenance", `{"enabled":true,"reason":"contract"}`, true, 200)
	call("POST", act+"/maintenance", apiBase+act+"/maintenance", `{"enabled":false}`, true, 200)
	call("POST", act+"/maintenance", apiBase+act+"/maintenance", `{"enabled":false}`, false, 401)
	call("GET", act+"/backup", apiBase+act+"/backup", "", true, 200)
	call("POST", act+"/backup", apiBase+act+"/backup", "", true, 200)
	call("GET", act+"/prometheus", apiBase+act+"/prometheus", "", false, 200)

	const cl = "/weir-api/cluster"
	call("GET", cl+"/status", cl+"/status", "", false, 200)
	call("GET", cl+"/local", cl+"/local?recompute=1", "", true, 200)
	call("POST", cl+"/join", cl+"/join", `{"id":"n9"}`, true, 400)
	call("POST", cl+"/remove", cl+"/remove", `{"id":"nobody"}`, true, 404)
	call("POST", cl+"/transfer-leader", cl+"/transfer-leader", `{"id":"nobody"}`, true, 404)
	call("POST", cl+"/transfer-leader", cl+"/transfer-leader", `{}`, true, 409) // the only voter
	call("POST", cl+"/isolate", cl+"/isolate", `{"seconds":1}`, true, 200)
	call("DELETE", cl+"/isolate", cl+"/isolate", "", true, 200)

	const ports = "/weir-api/ports"
	call("GET", ports, ports, "", false, 200)
	in := obj(t, call("POST", ports, ports, `{"kind":"input","name":"contract-in"}`, true, 201).body)
	id, _ := in["id"].(string)
	call("GET", ports+"/{id}", ports+"/"+id, "", false, 200)
	call("PUT", ports+"/{id}", ports+"/"+id, `{"enabled":false}`, true, 200)
	call("DELETE", ports+"/{id}", ports+"/"+id+"?force=true", "", true, 200)
	call("GET", "/weir-api/audit", "/weir-api/audit?limit=5", "", true, 200)

	const dr = "/weir-api/dr"
	call("GET", dr, dr, "", false, 200)
	call("GET", dr+"/entries", dr+"/entries?after=0", "", true, 200)
	call("GET", dr+"/content/{sha256}", dr+"/content/"+strings.Repeat("0", 64), "", true, 404)
	call("GET", dr+"/content/{sha256}", dr+"/content/"+strings.Repeat("0", 64), "", false, 401)
	call("POST", dr+"/follow", dr+"/follow", `{"primary":[]}`, true, 400)
	call("POST", dr+"/promote", dr+"/promote", `{}`, true, 409)
	call("POST", dr+"/fence", dr+"/fence", `{`, true, 400)
	call("POST", dr+"/demote", dr+"/demote", `{}`, true, 409)

	const ev = "/weir-api/events"
	call("GET", ev, ev+"?after=0&limit=5", "", false, 200)
	call("GET", ev+"/dead", ev+"/dead?hook=none", "", false, 200)
	call("POST", ev+"/dead/retry", ev+"/dead/retry", `{"hook":"none","events":[1]}`, true, 404)
	call("POST", ev+"/dead/retry", ev+"/dead/retry", `{"hook":"none"}`, true, 200)

	// NiFi's site-to-site surface, described by NiFi's own description.
	hdr = http.Header{"X-Nifi-Site-To-Site-Protocol-Version": {"1"}}
	call("GET", "/site-to-site", "/nifi-api/site-to-site", "", false, 200)
	call("GET", "/site-to-site/peers", "/nifi-api/site-to-site/peers", "", false, 200)

	var missed []string
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			if op.Tags != nil && op.Tags[0] == weirTag && !isCovered(t, method, path) {
				missed = append(missed, method+" "+path)
			}
		}
	}
	if len(missed) > 0 {
		t.Fatalf("operations of the description not called: %v", missed)
	}
}
