package systest

import (
	"context"
	"crypto/tls"
	"crypto/x509/pkix"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/weir-nifi/weir/internal/harness"
	"github.com/weir-nifi/weir/internal/identity"
	"github.com/weir-nifi/weir/internal/s2s/relay"
	"github.com/weir-nifi/weir/sitetosite"
)

// tlsDo sends one request over TLS presenting cert (none if empty) and
// returns status and body; err is a transport error (a refused handshake).
func tlsDo(pki *harness.PKI, cert tls.Certificate, method, u, body string, hdr map[string]string) (int, string, *http.Response, error) {
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: pki.ClientConfig(cert), ForceAttemptHTTP2: true}}
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		return 0, "", nil, err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, "", nil, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp, nil
}

// TestSecuredHTTPS runs a 3-node cluster over HTTPS with client
// certificates, as NiFi reaches a secured registry: identities come from
// certificate subjects through an identity mapping (also on writes a
// follower forwards), a NiFi node identity may proxy its users, nobody
// else may, anonymous callers and certificates from another CA or out of
// date are refused, site-to-site works over the same listener with HTTP/2,
// and a replaced server certificate is served without a restart.
func TestSecuredHTTPS(t *testing.T) {
	pki := harness.NewPKI(t, "Weir test CA")
	admin := pki.Client("Admin", "ops")
	c := harness.StartCluster(t, harness.ClusterOptions{N: 3,
		TLS: &harness.NodeTLS{PKI: pki, ClientAuth: "want", Client: admin},
		ExtraArgs: []string{
			"--identity-mapping", "pattern=^CN=(.*?), OU=(.*?)$;value=$1;transform=LOWER",
			"--node-identity", "nifi-1",
		}})
	leader := c.MustLeader()
	follower := c.Others(leader)[0]
	base := follower.API + "/nifi-registry-api"
	alice, nifi := pki.Client("Alice", "eng"), pki.Client("NiFi-1", "nifi")

	// Anonymous: refused, but health probes answer.
	if status, body, _, err := tlsDo(pki, tls.Certificate{}, http.MethodGet, base+"/buckets", "", nil); err != nil || status != http.StatusUnauthorized {
		t.Fatalf("anonymous GET /buckets: %d %s %v", status, body, err)
	}
	if status, _, _, err := tlsDo(pki, tls.Certificate{}, http.MethodGet, base+"/actuator/health/liveness", "", nil); err != nil || status != http.StatusOK {
		t.Fatalf("anonymous liveness: %d %v", status, err)
	}
	// Plain HTTP to the HTTPS port gets nothing useful.
	if resp, err := http.Get(strings.Replace(base, "https://", "http://", 1) + "/buckets"); err == nil && resp.StatusCode == http.StatusOK {
		t.Fatal("plain HTTP served the API")
	}

	// Alice, through a follower: the write is forwarded with her identity.
	status, body, _, err := tlsDo(pki, alice, http.MethodPost, base+"/buckets", `{"name":"team-a"}`, nil)
	if err != nil || status != http.StatusOK {
		t.Fatalf("alice creates a bucket: %d %s %v", status, body, err)
	}
	var bucket struct{ Identifier string }
	_ = json.Unmarshal([]byte(body), &bucket)
	status, body, _, _ = tlsDo(pki, alice, http.MethodPost, base+"/buckets/"+bucket.Identifier+"/flows", `{"name":"ingest"}`, nil)
	var flow struct{ Identifier string }
	if status != http.StatusOK || json.Unmarshal([]byte(body), &flow) != nil {
		t.Fatalf("create flow: %d %s", status, body)
	}
	versions := base + "/buckets/" + bucket.Identifier + "/flows/" + flow.Identifier + "/versions"
	commit := func(cert tls.Certificate, hdr map[string]string) (int, string) {
		status, body, _, err := tlsDo(pki, cert, http.MethodPost, versions,
			`{"snapshotMetadata":{"version":-1},"flowContents":{"identifier":"pg","name":"pg"}}`, hdr)
		if err != nil {
			t.Fatal(err)
		}
		return status, body
	}
	author := func(body string) string {
		var v struct{ SnapshotMetadata struct{ Author string } }
		_ = json.Unmarshal([]byte(body), &v)
		return v.SnapshotMetadata.Author
	}
	if status, body := commit(alice, nil); status != http.StatusOK || author(body) != "alice" {
		t.Fatalf("alice commits: %d author %q (%s)", status, author(body), body)
	}
	// NiFi proxies Bob: the version is Bob's. Non-ASCII users too.
	chain := identity.HeaderProxiedEntitiesChain
	if status, body := commit(nifi, map[string]string{chain: "<CN=Bob, OU=eng>"}); status != http.StatusOK || author(body) != "bob" {
		t.Fatalf("nifi proxies bob: %d author %q (%s)", status, author(body), body)
	}
	if status, body := commit(nifi, map[string]string{chain: identity.FormatChain([]string{"Zoë"})}); status != http.StatusOK || author(body) != "Zoë" {
		t.Fatalf("nifi proxies Zoë: %d author %q (%s)", status, author(body), body)
	}
	// Alice is no proxy; a malformed chain is refused; nothing is written.
	if status, body := commit(alice, map[string]string{chain: "<bob>"}); status != http.StatusForbidden || !strings.Contains(body, "Untrusted proxy [alice] for WRITE operation.") {
		t.Fatalf("alice proxies bob: %d %s", status, body)
	}
	if status, body := commit(nifi, map[string]string{chain: "bob"}); status != http.StatusBadRequest {
		t.Fatalf("malformed chain: %d %s", status, body)
	}
	if status, body, _, _ := tlsDo(pki, tls.Certificate{}, http.MethodPost, versions, `{}`, map[string]string{chain: "<bob>"}); status != http.StatusUnauthorized {
		t.Fatalf("chain without a certificate: %d %s", status, body)
	}
	status, body, _, _ = tlsDo(pki, alice, http.MethodGet, versions, "", nil)
	var list []struct{ Author string }
	if status != http.StatusOK || json.Unmarshal([]byte(body), &list) != nil || len(list) != 3 {
		t.Fatalf("versions: %d %s", status, body)
	}

	// Certificates the CA did not sign, or out of date: no handshake.
	other := harness.NewPKI(t, "Another CA")
	stranger := other.Client("Alice", "eng")
	if _, _, _, err := tlsDo(pki, stranger, http.MethodGet, base+"/buckets", "", nil); err == nil {
		t.Fatal("a certificate from another CA was accepted")
	}
	expired := pki.Issue(pkix.Name{CommonName: "Alice", OrganizationalUnit: []string{"eng"}}, nil, time.Now().Add(-48*time.Hour), time.Now().Add(-24*time.Hour))
	if _, _, _, err := tlsDo(pki, expired, http.MethodGet, base+"/buckets", "", nil); err == nil {
		t.Fatal("an expired certificate was accepted")
	}

	// Site-to-site over the same listener, HTTP/2 as NiFi 2.7+ uses it.
	in, out := s2sPorts(t, c, follower, relay.CreateRequest{})
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: pki.ClientConfig(nifi), ForceAttemptHTTP2: true}}
	s2s := &sitetosite.Client{URL: follower.API, HTTP: hc}
	if _, err := s2s.Send(context.Background(), in, []sitetosite.FlowFile{{Attributes: map[string]string{"k": "v"}, Content: []byte("secured")}}); err != nil {
		t.Fatalf("push over HTTPS: %v", err)
	}
	var got []sitetosite.FlowFile
	if k, err := (&sitetosite.Client{URL: leader.API, HTTP: hc}).Receive(context.Background(), out, func(fs []sitetosite.FlowFile) error { got = fs; return nil }); err != nil || k != 1 || string(got[0].Content) != "secured" {
		t.Fatalf("pull over HTTPS: %d %v", k, err)
	}
	_, _, resp, err := tlsDo(pki, nifi, http.MethodGet, follower.API+"/nifi-api/site-to-site/peers", "", map[string]string{"x-nifi-site-to-site-protocol-version": "1"})
	if err != nil || resp.Proto != "HTTP/2.0" {
		t.Fatalf("peers over h2: %v %v", resp, err)
	}
	peers, err := s2s.Peers(context.Background())
	if err != nil || len(peers) != 3 || !peers[0].Secure {
		t.Fatalf("peers: %+v %v", peers, err)
	}

	// A renewed server certificate is picked up without a restart.
	n := c.Nodes[0]
	renewed := pki.Issue(pkix.Name{CommonName: "renewed"}, []string{n.Opts.IP}, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	pki.WriteFiles(renewed, "server-"+n.Opts.ID)
	deadline := time.Now().Add(15 * time.Second)
	for {
		conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", strings.TrimPrefix(n.API, "https://"), pki.ClientConfig(admin))
		if err == nil {
			cn := conn.ConnectionState().PeerCertificates[0].Subject.CommonName
			conn.Close()
			if cn == "renewed" {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the renewed certificate was not served: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	c.MustConverge()
}

// TestSecuredJoin grows a secured cluster with --join: the joining nodes
// reach the first node over HTTPS with their own certificates, prove the
// cluster key, and become voters; policies are in force on them.
func TestSecuredJoin(t *testing.T) {
	pki := harness.NewPKI(t, "Weir test CA")
	admin := pki.Client("Admin", "ops")
	c := harness.StartCluster(t, harness.ClusterOptions{N: 3, Join: true,
		TLS:       &harness.NodeTLS{PKI: pki, ClientAuth: "need", Client: admin},
		ExtraArgs: []string{"--identity-mapping", "pattern=^CN=(.*?), OU=(.*?)$;value=$1;transform=LOWER", "--initial-admin-identity", "admin"}})
	// One secured node on its own: policies already decide.
	deadline := time.Now().Add(30 * time.Second)
	for {
		status, body, _, err := tlsDo(pki, admin, http.MethodPost, c.Nodes[0].API+"/nifi-registry-api/buckets", `{"name":"first"}`, nil)
		if err == nil && status == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the admin of a one-node secured cluster: %d %s %v", status, body, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if status, _, _, err := tlsDo(pki, pki.Client("Mallory", "x"), http.MethodGet, c.Nodes[0].API+"/nifi-registry-api/buckets/none", "", nil); err != nil || status != http.StatusNotFound && status != http.StatusForbidden {
		t.Fatalf("mallory on one node: %d %v", status, err)
	}
	c.Nodes[1].Start()
	c.Nodes[2].Start()
	if err := c.WaitVoters(3, 90*time.Second); err != nil {
		t.Fatal(err)
	}
	for _, n := range c.Nodes {
		status, body, _, err := tlsDo(pki, pki.Client("Mallory", "x"), http.MethodPost, n.API+"/nifi-registry-api/buckets", `{"name":"m"}`, nil)
		if err != nil || status != http.StatusForbidden {
			t.Fatalf("a user without policies writes on %s: %d %s %v", n.Opts.ID, status, body, err)
		}
	}
	c.MustConverge()
}
