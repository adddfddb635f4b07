package systest

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/weir-nifi/weir/internal/harness"
	"github.com/weir-nifi/weir/internal/identity"
	"github.com/weir-nifi/weir/internal/metrics/promtext"
)

// secured is a 3-node cluster with managed policies: an initial admin and
// one NiFi node identity, as a secured NiFi Registry is set up.
type secured struct {
	t     *testing.T
	c     *harness.Cluster
	pki   *harness.PKI
	admin tls.Certificate
	nifi  tls.Certificate
}

func startSecured(t *testing.T, extra ...string) *secured {
	pki := harness.NewPKI(t, "Weir test CA")
	s := &secured{t: t, pki: pki, admin: pki.Client("Admin", "ops"), nifi: pki.Client("NiFi-1", "nifi")}
	s.c = harness.StartCluster(t, harness.ClusterOptions{N: 3,
		TLS: &harness.NodeTLS{PKI: pki, ClientAuth: "want", Client: s.admin},
		ExtraArgs: append([]string{
			"--identity-mapping", "pattern=^CN=(.*?), OU=(.*?)$;value=$1;transform=LOWER",
			"--initial-admin-identity", "admin",
			"--node-identity", "nifi-1",
		}, extra...)})
	s.c.MustLeader()
	// The seed is proposed at start: wait until the admin holds /tenants.
	deadline := time.Now().Add(30 * time.Second)
	for {
		status, body := s.do(s.c.Nodes[0], s.admin, "", http.MethodGet, "/access", "")
		if status == http.StatusOK && strings.Contains(body, `"tenants":{"canDelete":true,"canRead":true,"canWrite":true}`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("initial policies not in force: %d %s", status, body)
		}
		time.Sleep(200 * time.Millisecond)
	}
	return s
}

// do sends a request to the registry API of n as cert, proxied for user
// by NiFi when user is not empty ("<>" for anonymous).
func (s *secured) do(n *harness.Node, cert tls.Certificate, user, method, path, body string) (int, string) {
	s.t.Helper()
	hdr := map[string]string{}
	if user != "" {
		hdr[identity.HeaderProxiedEntitiesChain] = user
	}
	status, b, _, err := tlsDo(s.pki, cert, method, n.API+"/nifi-registry-api"+path, body, hdr)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	return status, b
}

func (s *secured) must(n *harness.Node, cert tls.Certificate, user, method, path, body string, want int) string {
	s.t.Helper()
	status, b := s.do(n, cert, user, method, path, body)
	if status != want {
		s.t.Fatalf("%s %s as %q: %d %s, want %d", method, path, user, status, b, want)
	}
	return b
}

func idOf(t *testing.T, body string) string {
	t.Helper()
	var v struct{ Identifier string }
	if err := json.Unmarshal([]byte(body), &v); err != nil || v.Identifier == "" {
		t.Fatalf("no identifier in %s", body)
	}
	return v.Identifier
}

func bucketNames(t *testing.T, body string) []string {
	t.Helper()
	var bs []struct{ Name string }
	if err := json.Unmarshal([]byte(body), &bs); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	var out []string
	for _, b := range bs {
		out = append(out, b.Name)
	}
	return out
}

// TestSecuredPolicies plays NiFi's part against a secured 3-node cluster:
// the admin creates users, a group and bucket policies through the API;
// NiFi proxies two users who each see only their buckets (in /buckets and
// /items), may write only where a policy (or a group's) allows, with
// NiFi's statuses and messages; a user cannot grant itself a policy; a
// revoked policy stops working on every node as soon as the revoke
// returns; anonymous callers see only public buckets.
func TestSecuredPolicies(t *testing.T) {
	s := startSecured(t)
	n0, n1, n2 := s.c.Nodes[0], s.c.Nodes[1], s.c.Nodes[2]
	admin := s.admin
	chain := func(u string) string { return identity.FormatChain([]string{u}) }

	alice := idOf(t, s.must(n0, admin, "", http.MethodPost, "/tenants/users", `{"identity":"alice"}`, http.StatusCreated))
	bob := idOf(t, s.must(n1, admin, "", http.MethodPost, "/tenants/users", `{"identity":"bob"}`, http.StatusCreated))
	ops := idOf(t, s.must(n2, admin, "", http.MethodPost, "/tenants/user-groups",
		fmt.Sprintf(`{"identity":"ops","users":[{"identifier":"%s"}]}`, bob), http.StatusCreated))
	bA := idOf(t, s.must(n0, admin, "", http.MethodPost, "/buckets", `{"name":"alice-bucket"}`, http.StatusOK))
	bB := idOf(t, s.must(n0, admin, "", http.MethodPost, "/buckets", `{"name":"bob-bucket"}`, http.StatusOK))
	bP := idOf(t, s.must(n0, admin, "", http.MethodPost, "/buckets", `{"name":"public-bucket","allowPublicRead":true}`, http.StatusOK))
	policy := func(action, resource, users, groups string) string {
		return idOf(t, s.must(n1, admin, "", http.MethodPost, "/policies",
			fmt.Sprintf(`{"action":"%s","resource":"%s","users":[%s],"userGroups":[%s]}`, action, resource, users, groups), http.StatusCreated))
	}
	ref := func(id string) string { return fmt.Sprintf(`{"identifier":"%s"}`, id) }
	readA := policy("read", "/buckets/"+bA, ref(alice), "")
	policy("write", "/buckets/"+bA, ref(alice), "")
	policy("read", "/buckets/"+bB, ref(bob), "")
	policy("write", "/buckets/"+bB, "", ref(ops)) // through the group

	// Each user sees only its buckets (and the public one), on every node.
	for _, n := range s.c.Nodes {
		if got := bucketNames(t, s.must(n, s.nifi, chain("alice"), http.MethodGet, "/buckets", "", http.StatusOK)); !slices.Equal(got, []string{"alice-bucket", "public-bucket"}) {
			t.Fatalf("alice's buckets on %s: %v", n.Opts.ID, got)
		}
		if got := bucketNames(t, s.must(n, s.nifi, chain("bob"), http.MethodGet, "/buckets", "", http.StatusOK)); !slices.Equal(got, []string{"bob-bucket", "public-bucket"}) {
			t.Fatalf("bob's buckets on %s: %v", n.Opts.ID, got)
		}
	}
	// Writes where allowed, refusals with NiFi's status and message where not.
	flow := idOf(t, s.must(n1, s.nifi, chain("alice"), http.MethodPost, "/buckets/"+bA+"/flows", `{"name":"ingest"}`, http.StatusOK))
	s.must(n2, s.nifi, chain("bob"), http.MethodPost, "/buckets/"+bB+"/flows", `{"name":"bobs"}`, http.StatusOK)
	if _, body := s.do(n2, s.nifi, chain("alice"), http.MethodPost, "/buckets/"+bB+"/flows", `{"name":"x"}`); !strings.Contains(body, "Contact the system administrator.") {
		t.Fatalf("alice writes to bob's bucket: %s", body)
	}
	s.must(n2, s.nifi, chain("alice"), http.MethodPost, "/buckets/"+bB+"/flows", `{"name":"x"}`, http.StatusForbidden)
	s.must(n0, s.nifi, chain("bob"), http.MethodGet, "/buckets/"+bA, "", http.StatusForbidden)
	s.must(n0, s.nifi, chain("bob"), http.MethodGet, "/buckets/"+bA+"/flows/"+flow+"/versions", "", http.StatusForbidden)
	s.must(n0, s.nifi, chain("bob"), http.MethodGet, "/flows/"+flow, "", http.StatusForbidden)
	var items []struct{ BucketIdentifier string }
	if err := json.Unmarshal([]byte(s.must(n1, s.nifi, chain("bob"), http.MethodGet, "/items", "", http.StatusOK)), &items); err != nil {
		t.Fatal(err)
	}
	for _, it := range items {
		if it.BucketIdentifier == bA {
			t.Fatalf("bob's /items lists alice's flow: %+v", items)
		}
	}
	// Permissions in answers are the caller's.
	if body := s.must(n0, s.nifi, chain("bob"), http.MethodGet, "/buckets/"+bP, "", http.StatusOK); !strings.Contains(body, `"permissions":{"canDelete":false,"canRead":true,"canWrite":false}`) {
		t.Fatalf("bob's permissions on the public bucket: %s", body)
	}
	// A user cannot grant itself a policy, nor proxy.
	s.must(n0, s.nifi, chain("alice"), http.MethodPost, "/policies", fmt.Sprintf(`{"action":"write","resource":"/buckets/%s","users":[%s]}`, bB, ref(alice)), http.StatusForbidden)
	aliceCert := s.pki.Client("Alice", "eng")
	if status, body := s.do(n0, aliceCert, chain("bob"), http.MethodGet, "/buckets/"+bB, ""); status != http.StatusForbidden || !strings.Contains(body, "Untrusted proxy [alice] for READ operation.") {
		t.Fatalf("alice proxies bob: %d %s", status, body)
	}
	// Anonymous: only the public bucket, through NiFi or directly.
	if got := bucketNames(t, s.must(n1, s.nifi, "<>", http.MethodGet, "/buckets", "", http.StatusOK)); !slices.Equal(got, []string{"public-bucket"}) {
		t.Fatalf("anonymous buckets: %v", got)
	}
	s.must(n1, tls.Certificate{}, "", http.MethodGet, "/buckets/"+bP, "", http.StatusOK)
	s.must(n1, tls.Certificate{}, "", http.MethodGet, "/buckets/"+bA, "", http.StatusUnauthorized)

	// Revoke alice's read through node 0: refused on every node at once.
	body := s.must(n0, admin, "", http.MethodGet, "/policies/"+readA, "", http.StatusOK)
	var pol struct {
		Revision struct{ Version int64 } `json:"revision"`
	}
	_ = json.Unmarshal([]byte(body), &pol)
	s.must(n0, admin, "", http.MethodPut, "/policies/"+readA,
		fmt.Sprintf(`{"identifier":"%s","action":"read","resource":"/buckets/%s","users":[],"userGroups":[],"revision":{"version":%d}}`, readA, bA, pol.Revision.Version), http.StatusOK)
	for _, n := range []*harness.Node{n1, n2, n0} {
		s.must(n, s.nifi, chain("alice"), http.MethodGet, "/buckets/"+bA, "", http.StatusForbidden)
	}

	// The audit trail, merged from every node by the CLI: alice's refused
	// write (through NiFi) and the admin's policy change are there.
	cert, key := s.pki.WriteFiles(admin, "admin-client")
	out, errOut, err := weirCLI(t, "audit", "--all", "--json", "--server", n0.API, "--tls-cert", cert, "--tls-key", key, "--tls-ca", s.pki.CAFile)
	if err != nil {
		t.Fatalf("weir audit: %v %s", err, errOut)
	}
	var events []struct {
		Identity, Method, Path, Outcome, Action, Resource string
		Proxies                                           []string
		Status                                            int
	}
	if err := json.Unmarshal([]byte(out), &events); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	var denied, revoked bool
	for _, e := range events {
		if e.Identity == "alice" && e.Outcome == "denied" && e.Method == http.MethodPost && e.Resource == "/buckets/"+bB &&
			slices.Equal(e.Proxies, []string{"nifi-1"}) && e.Status == http.StatusForbidden {
			denied = true
		}
		if e.Identity == "admin" && e.Outcome == "allowed" && e.Method == http.MethodPut && e.Path == "/nifi-registry-api/policies/"+readA {
			revoked = true
		}
	}
	if !denied || !revoked {
		t.Fatalf("audit lacks alice's refusal (%v) or the admin's revoke (%v): %s", denied, revoked, out)
	}
	s.c.MustConverge()
}

// metrics is node n's Prometheus metrics, fetched as the admin.
func (s *secured) metrics(n *harness.Node) promtext.Families {
	s.t.Helper()
	fs, err := promtext.Parse(strings.NewReader(s.must(n, s.admin, "", http.MethodGet, "/actuator/prometheus", "", http.StatusOK)))
	if err != nil {
		s.t.Fatal(err)
	}
	return fs
}
